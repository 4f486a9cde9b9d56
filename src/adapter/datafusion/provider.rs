//! DataFusion catalog providers over a connection's view of the store: the
//! one database, its schemas, and per name a `MemTable` over a table's
//! batches or a `ViewTable` planned from a view's SQL.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, MemTable, SchemaProvider, TableProvider};
use datafusion::datasource::ViewTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::sql::parser::Statement as DFStatement;

use super::ConnState;
use super::store::Entry;

#[derive(Clone)]
pub(crate) struct Catalogs {
    state: Arc<ConnState>,
}

impl std::fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogs").field("database", &self.state.database).finish()
    }
}

impl Catalogs {
    pub(crate) fn new(state: Arc<ConnState>) -> Catalogs {
        Catalogs { state }
    }
}

impl CatalogProviderList for Catalogs {
    fn register_catalog(&self, _name: String, _catalog: Arc<dyn CatalogProvider>) -> Option<Arc<dyn CatalogProvider>> {
        None
    }
    fn catalog_names(&self) -> Vec<String> {
        vec![self.state.database.clone()]
    }
    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        name.eq_ignore_ascii_case(&self.state.database).then(|| Arc::new(self.clone()) as Arc<dyn CatalogProvider>)
    }
}

impl CatalogProvider for Catalogs {
    fn schema_names(&self) -> Vec<String> {
        self.state.schema_names()
    }
    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        // Statement-local tables resolve in any schema; otherwise the schema
        // must exist.
        Some(Arc::new(Schema { state: self.state.clone(), schema: name.to_string() }))
    }
}

struct Schema {
    state: Arc<ConnState>,
    schema: String,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema").field("schema", &self.schema).finish()
    }
}

#[async_trait]
impl SchemaProvider for Schema {
    fn table_names(&self) -> Vec<String> {
        self.state.relations(&self.schema).into_iter().map(|r| r.name).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.state.scratch(name) {
            return Ok(Some(t));
        }
        let Some(rel) = self.state.lookup(&self.schema, name) else { return Ok(None) };
        match rel.entry {
            Entry::Table(t) => {
                let mut batches = Vec::new();
                for seg in &t.segments {
                    let b = self.state.store.batches(seg).map_err(|e| DataFusionError::External(Box::new(e)))?;
                    batches.extend(b.iter().cloned());
                }
                Ok(Some(Arc::new(MemTable::try_new(t.schema.clone(), vec![batches])?)))
            }
            Entry::View(sql) => {
                let Some(ctx) = self.state.session() else {
                    return Err(DataFusionError::Internal("the session of this connection is gone".into()));
                };
                let mut stmts = super::parse(&sql).map_err(|e| DataFusionError::External(Box::new(e)))?;
                if stmts.len() != 1 {
                    return Err(DataFusionError::Plan(format!("view {name} is not one query")));
                }
                let stmt = stmts.remove(0);
                let plan = ctx.state().statement_to_plan(DFStatement::Statement(Box::new(stmt))).await?;
                Ok(Some(Arc::new(ViewTable::new(plan, Some(sql.to_string())))))
            }
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.state.scratch(name).is_some() || self.state.lookup(&self.schema, name).is_some()
    }
}
