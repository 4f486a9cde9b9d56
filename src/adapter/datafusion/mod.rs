//! DataFusion: the pure-Rust engine (`type: datafusion` in profiles.yml).
//!
//! DataFusion plans and runs queries; it has no storage, no transactions and
//! no DELETE/UPDATE/MERGE of its own, so this module supplies them:
//! - `store`: the catalog (schemas, tables as Parquet files, views as SQL)
//!   and its atomic persistence under the profile's `path`;
//! - `provider`: DataFusion catalog providers that resolve names against the
//!   committed catalog plus the connection's open transaction;
//! - `statements`: DDL and DML run on Arrow batches (DELETE, UPDATE and
//!   MERGE find the affected rows with a DataFusion query, then rewrite the
//!   table);
//! - `values`: Arrow ↔ JSON and DuckDB-style type names, so materializations,
//!   seeds, ingest and ML see the same values and types as on DuckDB.
//!
//! Transactions: a connection records its changes as `store::Op`s in an
//! overlay only it sees; COMMIT writes new tables' Parquet files, appends
//! the ops to the catalog log and publishes them; ROLLBACK drops them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    DataType as SqlType, ExactNumberInfo, Expr, LimitClause, Statement, TimezoneInfo, TypedString, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::DuckDbDialect;
use datafusion::sql::sqlparser::parser::Parser;
use serde_json::Value;

use super::{Adapter, AdapterError, AdapterResponse, AdapterResult, Column, Connection, QueryResult, Relation, RelationKind};

mod functions;
mod provider;
mod statements;
mod store;
mod values;

use store::{Entry, Named, Op, Store, key};

/// One DataFusion database: the store and the runtime its queries run on.
pub struct DataFusionAdapter {
    store: Arc<Store>,
    database: String,
    default_schema: String,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for DataFusionAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFusionAdapter").field("database", &self.database).finish()
    }
}

impl DataFusionAdapter {
    /// Opens the database stored under `path` (a directory, created if
    /// missing; `:memory:` keeps everything in memory). `database` is the
    /// name relations are qualified with.
    pub fn open(path: &str, database: &str, default_schema: &str) -> AdapterResult<DataFusionAdapter> {
        let store = if path.is_empty() || path.starts_with(":memory:") { Store::in_memory() } else { Store::open(Path::new(path))? };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name("rdbt-datafusion")
            .build()
            .map_err(|e| AdapterError::new(format!("cannot start the DataFusion runtime: {e}")))?;
        let adapter = DataFusionAdapter {
            store: Arc::new(store),
            database: database.to_string(),
            default_schema: default_schema.to_string(),
            runtime: Arc::new(runtime),
        };
        // The target schema exists from the start, as DuckDB's `main`.
        let mut conn = adapter.connection()?;
        conn.create_schema("", default_schema)?;
        Ok(adapter)
    }

    pub fn connection(&self) -> AdapterResult<DataFusionConnection> {
        let state = Arc::new(ConnState {
            store: self.store.clone(),
            txn: Mutex::new(Txn::default()),
            ctx: OnceLock::new(),
            database: self.database.clone(),
            default_schema: self.default_schema.clone(),
        });
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(self.database.clone(), self.default_schema.clone())
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false)
            // One partition per query: a build runs `--threads` nodes at
            // once, and one partition keeps row order where SQL leaves it
            // to the engine (listagg without ORDER BY, first_value), as
            // DuckDB does on the same data.
            .with_target_partitions(1);
        // VARCHAR is Arrow Utf8 (not Utf8View), the type tables store.
        config.options_mut().sql_parser.map_string_types_to_utf8view = false;
        config.options_mut().execution.time_zone = Some("+00:00".to_string());
        let session = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_catalog_list(Arc::new(provider::Catalogs::new(state.clone())))
            .build();
        let ctx = Arc::new(SessionContext::new_with_state(session));
        for f in functions::all() {
            ctx.register_udf(f);
        }
        let _ = state.ctx.set(Arc::downgrade(&ctx));
        Ok(DataFusionConnection { state, ctx, runtime: self.runtime.clone() })
    }
}

impl Adapter for DataFusionAdapter {
    fn type_name(&self) -> &'static str {
        "datafusion"
    }
    fn database(&self) -> &str {
        &self.database
    }
    fn connect(&self) -> AdapterResult<Box<dyn Connection>> {
        Ok(Box::new(self.connection()?))
    }
}

/// The changes of a connection's open transaction.
#[derive(Default)]
pub(crate) struct Txn {
    /// In an explicit BEGIN … COMMIT (else each statement commits itself).
    active: bool,
    ops: Vec<Op>,
    /// (schema, relation) keys → the relation as this transaction left it.
    relations: HashMap<(String, String), Option<Named>>,
    /// schema key → Some(name) created, None dropped.
    schemas: HashMap<String, Option<String>>,
    /// Schemas dropped in this transaction: their committed relations are
    /// gone even when the schema is created again.
    dropped: std::collections::HashSet<String>,
    /// For each relation this transaction changes, the committed entry it
    /// started from (`store::identity`), checked at COMMIT so that two
    /// connections changing one table cannot silently lose a change.
    /// (The entries are kept, so their addresses cannot be reused.)
    bases: HashMap<(String, String), Option<Entry>>,
    /// One statement run as its own transaction (no explicit BEGIN).
    implicit: bool,
    /// Tables a statement registers for its own queries (`__rdbt_target`).
    scratch: HashMap<String, Arc<dyn TableProvider>>,
}

/// What a connection sees: the committed catalog under its transaction.
pub(crate) struct ConnState {
    store: Arc<Store>,
    txn: Mutex<Txn>,
    ctx: OnceLock<Weak<SessionContext>>,
    database: String,
    default_schema: String,
}

impl ConnState {
    fn txn(&self) -> std::sync::MutexGuard<'_, Txn> {
        self.txn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lookup(&self, schema: &str, name: &str) -> Option<Named> {
        let (ks, kn) = (key(schema), key(name));
        {
            let txn = self.txn();
            if let Some(r) = txn.relations.get(&(ks.clone(), kn.clone())) {
                return r.clone();
            }
            if txn.dropped.contains(&ks) {
                return None;
            }
        }
        self.store.committed.read().ok()?.get(schema, name).cloned()
    }

    pub(crate) fn schema_exists(&self, schema: &str) -> bool {
        let ks = key(schema);
        if let Some(s) = self.txn().schemas.get(&ks) {
            return s.is_some();
        }
        self.store.committed.read().map(|c| c.schemas.contains_key(&ks)).unwrap_or(false)
    }

    pub(crate) fn schema_names(&self) -> Vec<String> {
        let mut names: std::collections::BTreeMap<String, String> = self
            .store
            .committed
            .read()
            .map(|c| c.schemas.iter().map(|(k, s)| (k.clone(), s.name.clone())).collect())
            .unwrap_or_default();
        for (k, s) in &self.txn().schemas {
            match s {
                Some(n) => names.insert(k.clone(), n.clone()),
                None => names.remove(k),
            };
        }
        names.into_values().collect()
    }

    pub(crate) fn relations(&self, schema: &str) -> Vec<Named> {
        let ks = key(schema);
        let txn = self.txn();
        let mut out: std::collections::BTreeMap<String, Named> = std::collections::BTreeMap::new();
        if !txn.dropped.contains(&ks) {
            if let Ok(c) = self.store.committed.read()
                && let Some(s) = c.schemas.get(&ks)
            {
                out.extend(s.relations.iter().map(|(k, r)| (k.clone(), r.clone())));
            }
        }
        for ((s, n), r) in &txn.relations {
            if *s == ks {
                match r {
                    Some(r) => out.insert(n.clone(), r.clone()),
                    None => out.remove(n),
                };
            }
        }
        out.into_values().collect()
    }

    pub(crate) fn scratch(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        self.txn().scratch.get(name).cloned()
    }

    pub(crate) fn session(&self) -> Option<Arc<SessionContext>> {
        self.ctx.get()?.upgrade()
    }
}

/// A session on a DataFusion database (one per worker thread).
pub struct DataFusionConnection {
    state: Arc<ConnState>,
    ctx: Arc<SessionContext>,
    runtime: Arc<tokio::runtime::Runtime>,
}

/// What a statement produced.
pub(crate) enum Outcome {
    Rows(SchemaRef, Vec<RecordBatch>),
    Done(Option<i64>),
}

pub(crate) fn parse(sql: &str) -> AdapterResult<Vec<Statement>> {
    Parser::new(&DuckDbDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| AdapterError::new(format!("Parser Error: {e}")))
}

/// DuckDB types as DataFusion spells them: JSON and UUID are text,
/// HUGEINT is DECIMAL(38,0), and a TIMESTAMP has microseconds (DataFusion's
/// default, nanoseconds, cannot hold DuckDB's range: `9999-12-31`, common
/// as a "valid to" date, overflows it).
pub(crate) fn storage_sql_type(t: &SqlType) -> Option<SqlType> {
    match t {
        SqlType::JSON | SqlType::JSONB | SqlType::Uuid => Some(SqlType::Varchar(None)),
        SqlType::HugeInt | SqlType::UHugeInt => Some(SqlType::Decimal(ExactNumberInfo::PrecisionAndScale(38, 0))),
        // DuckDB's defaults: DECIMAL is (18,3), DECIMAL(p) is (p,0).
        SqlType::Decimal(ExactNumberInfo::None) | SqlType::Numeric(ExactNumberInfo::None) => {
            Some(SqlType::Decimal(ExactNumberInfo::PrecisionAndScale(18, 3)))
        }
        SqlType::Decimal(ExactNumberInfo::Precision(p)) | SqlType::Numeric(ExactNumberInfo::Precision(p)) => {
            Some(SqlType::Decimal(ExactNumberInfo::PrecisionAndScale(*p, 0)))
        }
        SqlType::Timestamp(None, tz) => Some(SqlType::Timestamp(Some(6), *tz)),
        SqlType::Datetime(None) => Some(SqlType::Timestamp(Some(6), TimezoneInfo::None)),
        _ => None,
    }
}

/// Rewrites the statement's CASTs and typed literals to types DataFusion
/// knows (`storage_sql_type`).
pub(crate) fn prepare(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Cast { expr, data_type, format: None, .. } = e
            && matches!(data_type, SqlType::Varchar(_) | SqlType::Text | SqlType::String(_) | SqlType::CharacterVarying(_))
        {
            // DuckDB's text form of dates and times (functions::DuckText).
            // The call's AST, parsed once, with the argument swapped in.
            static TEXT_CALL: OnceLock<Option<Expr>> = OnceLock::new();
            let template = TEXT_CALL.get_or_init(|| Parser::new(&DuckDbDialect {}).try_with_sql("rdbt_text(NULL)").and_then(|mut p| p.parse_expr()).ok());
            let inner = std::mem::replace(expr.as_mut(), Expr::value(datafusion::sql::sqlparser::ast::Value::Null));
            if let Some(Expr::Function(mut f)) = template.clone()
                && let datafusion::sql::sqlparser::ast::FunctionArguments::List(list) = &mut f.args
            {
                list.args = vec![datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(inner))];
                *e = Expr::Function(f);
            } else {
                *expr = Box::new(inner);
            }
            return std::ops::ControlFlow::<()>::Continue(());
        }
        match e {
            Expr::Cast { data_type, .. } | Expr::TypedString(TypedString { data_type, .. }) => {
                if let Some(t) = storage_sql_type(data_type) {
                    *data_type = t;
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// DataFusion's error, with a missing function named plainly.
pub(crate) fn df_err(e: datafusion::error::DataFusionError) -> AdapterError {
    let text = e.to_string();
    if let Some(rest) = text.split("Invalid function '").nth(1)
        && let Some(name) = rest.split('\'').next()
    {
        return AdapterError::new(format!(
            "DataFusion has no function '{name}' (rdbt's DataFusion engine runs DataFusion's SQL functions): {text}"
        ));
    }
    AdapterError::new(text)
}

impl DataFusionConnection {
    /// Plans and runs one statement DataFusion understands (a query).
    pub(crate) fn collect(&self, mut stmt: Statement) -> AdapterResult<(SchemaRef, Vec<RecordBatch>)> {
        prepare(&mut stmt);
        let ctx = self.ctx.clone();
        self.runtime
            .block_on(async move {
                let state = ctx.state();
                let plan = state.statement_to_plan(DFStatement::Statement(Box::new(stmt))).await?;
                let df = ctx.execute_logical_plan(plan).await?;
                let schema: SchemaRef = df.schema().inner().clone();
                let batches = df.collect().await?;
                Ok::<_, datafusion::error::DataFusionError>((schema, batches))
            })
            .map_err(df_err)
    }

    /// The output schema of a query, without running it.
    pub(crate) fn plan_schema(&self, mut stmt: Statement) -> AdapterResult<SchemaRef> {
        prepare(&mut stmt);
        let ctx = self.ctx.clone();
        self.runtime
            .block_on(async move {
                let plan = ctx.state().statement_to_plan(DFStatement::Statement(Box::new(stmt))).await?;
                Ok::<_, datafusion::error::DataFusionError>(Arc::new(plan.schema().as_arrow().clone()))
            })
            .map_err(df_err)
    }

    /// Runs one SQL query text.
    pub(crate) fn collect_sql(&self, sql: &str) -> AdapterResult<(SchemaRef, Vec<RecordBatch>)> {
        let mut stmts = parse(sql)?;
        if stmts.len() != 1 {
            return Err(AdapterError::new(format!("expected one statement, got {}: {sql}", stmts.len())));
        }
        self.collect(stmts.remove(0))
    }

    /// Applies `op` to the open transaction, or commits it alone.
    pub(crate) fn record(&mut self, op: Op) -> AdapterResult<()> {
        let base = match &op {
            Op::Put { schema, name, .. } | Op::Remove { schema, name } => {
                let k = (key(schema), key(name));
                let known = self.state.txn().bases.contains_key(&k);
                (!known).then(|| {
                    let committed = self.state.store.committed.read().ok().and_then(|c| c.get(schema, name).map(|r| r.entry.clone()));
                    (k, committed)
                })
            }
            _ => None,
        };
        let mut txn = self.state.txn();
        if let Some((k, id)) = base {
            txn.bases.insert(k, id);
        }
        match &op {
            Op::CreateSchema(s) => {
                txn.schemas.insert(key(s), Some(s.clone()));
            }
            Op::DropSchema(s) => {
                let ks = key(s);
                txn.schemas.insert(ks.clone(), None);
                txn.dropped.insert(ks.clone());
                txn.relations.retain(|(sk, _), _| *sk != ks);
            }
            Op::Put { schema, name, entry } => {
                txn.relations.insert((key(schema), key(name)), Some(Named { name: name.clone(), entry: entry.clone() }));
            }
            Op::Remove { schema, name } => {
                txn.relations.insert((key(schema), key(name)), None);
            }
        }
        txn.ops.push(op);
        let autocommit = !txn.active;
        drop(txn);
        if autocommit { self.finish(true) } else { Ok(()) }
    }

    fn finish(&mut self, commit: bool) -> AdapterResult<()> {
        let (ops, bases) = {
            let mut txn = self.state.txn();
            txn.active = false;
            txn.implicit = false;
            txn.relations.clear();
            txn.schemas.clear();
            txn.dropped.clear();
            (std::mem::take(&mut txn.ops), std::mem::take(&mut txn.bases))
        };
        if commit { self.state.store.commit(&ops, &bases) } else { Ok(()) }
    }

    /// `schema.name` of an object name, checking the database part.
    pub(crate) fn resolve(&self, parts: &[String]) -> AdapterResult<(String, String)> {
        match parts {
            [name] => Ok((self.state.default_schema.clone(), name.clone())),
            [schema, name] => Ok((schema.clone(), name.clone())),
            [db, schema, name] => {
                if !db.eq_ignore_ascii_case(&self.state.database) {
                    return Err(AdapterError::new(format!(
                        "Catalog \"{db}\" does not exist (this DataFusion database is \"{}\")",
                        self.state.database
                    )));
                }
                Ok((schema.clone(), name.clone()))
            }
            _ => Err(AdapterError::new(format!("invalid relation name {}", parts.join(".")))),
        }
    }

    /// Appends the batch `build` makes for the table's schema to
    /// `relation`; returns its row count.
    fn append_batch(&mut self, relation: &Relation, build: impl FnOnce(&SchemaRef) -> AdapterResult<RecordBatch>) -> AdapterResult<u64> {
        let (s, n) = self.relation_parts(relation)?;
        let table = self.table(&s, &n)?;
        let batch = build(&table.schema)?;
        let count = batch.num_rows() as u64;
        self.append(&s, &n, &table, vec![batch])?;
        Ok(count)
    }

    /// `schema.name` of a relation of this database (another database's is
    /// an error, as in SQL through `resolve`).
    fn relation_parts(&self, relation: &Relation) -> AdapterResult<(String, String)> {
        if !relation.database.is_empty() && !relation.database.eq_ignore_ascii_case(&self.state.database) {
            return Err(AdapterError::new(format!(
                "Catalog \"{}\" does not exist (this DataFusion database is \"{}\")",
                relation.database, self.state.database
            )));
        }
        let schema = if relation.schema.is_empty() { self.state.default_schema.clone() } else { relation.schema.clone() };
        Ok((schema, relation.identifier.clone()))
    }

    /// `run_statements`; with `RDBT_LOG_SQL=1` the SQL and its duration on
    /// stderr.
    fn run_logged(&mut self, sql: &str) -> AdapterResult<Outcome> {
        let t = std::time::Instant::now();
        let out = self.run_statements(sql);
        if std::env::var_os("RDBT_LOG_SQL").is_some() {
            eprintln!("-- datafusion {:.1} ms\n{sql}", t.elapsed().as_secs_f64() * 1000.0);
        }
        out
    }

    fn run_statements(&mut self, sql: &str) -> AdapterResult<Outcome> {
        let mut last = Outcome::Done(None);
        for stmt in parse(sql)? {
            let control = matches!(stmt, Statement::StartTransaction { .. } | Statement::Commit { .. } | Statement::Rollback { .. });
            let implicit = !control && !self.state.txn().active;
            if implicit {
                // Outside BEGIN … COMMIT a statement is its own transaction:
                // all of its changes commit together, or none.
                let mut txn = self.state.txn();
                txn.active = true;
                txn.implicit = true;
            }
            let out = self.run_statement(stmt);
            if implicit {
                self.finish(out.is_ok())?;
            }
            last = out?;
        }
        Ok(last)
    }
}

impl Connection for DataFusionConnection {
    fn execute(&mut self, sql: &str) -> AdapterResult<AdapterResponse> {
        let rows = match self.run_logged(sql)? {
            Outcome::Done(n) => n,
            Outcome::Rows(_, b) => Some(b.iter().map(|b| b.num_rows() as i64).sum()),
        };
        Ok(AdapterResponse { message: "OK".into(), code: String::new(), rows_affected: rows })
    }

    fn query(&mut self, sql: &str) -> AdapterResult<QueryResult> {
        match self.run_logged(sql)? {
            Outcome::Rows(schema, batches) => values::to_query_result(&schema, &batches),
            Outcome::Done(_) => Ok(QueryResult::default()),
        }
    }

    fn begin(&mut self) -> AdapterResult<()> {
        let mut txn = self.state.txn();
        if txn.active {
            return Err(AdapterError::new("TransactionContext Error: cannot start a transaction within a transaction"));
        }
        txn.active = true;
        Ok(())
    }
    /// Without an open transaction there is nothing to commit (as the
    /// DuckDB adapter: a hook's own COMMIT may have closed it).
    fn commit(&mut self) -> AdapterResult<()> {
        if !self.state.txn().active {
            return Ok(());
        }
        self.finish(true)
    }
    fn rollback(&mut self) -> AdapterResult<()> {
        self.finish(false)
    }

    fn create_schema(&mut self, _database: &str, schema: &str) -> AdapterResult<()> {
        if self.state.schema_exists(schema) {
            return Ok(());
        }
        self.record(Op::CreateSchema(schema.to_string()))
    }

    fn relation_kind(&mut self, relation: &Relation) -> AdapterResult<Option<RelationKind>> {
        let (s, n) = self.relation_parts(relation)?;
        Ok(self.state.lookup(&s, &n).map(|r| r.entry.kind()))
    }

    fn get_columns(&mut self, relation: &Relation) -> AdapterResult<Vec<Column>> {
        let (s, n) = self.relation_parts(relation)?;
        let schema = match self.state.lookup(&s, &n).map(|r| r.entry) {
            None => return Ok(Vec::new()),
            Some(Entry::Table(t)) => t.schema.clone(),
            Some(Entry::View(sql)) => {
                let mut stmts = parse(&sql)?;
                if stmts.len() != 1 {
                    return Err(AdapterError::new(format!("view {relation} is not one query")));
                }
                self.plan_schema(stmts.remove(0))?
            }
        };
        Ok(schema.fields().iter().map(|f| Column { name: f.name().clone(), data_type: values::type_name(f.data_type()) }).collect())
    }

    fn list_relations(&mut self, database: &str, schema: &str) -> AdapterResult<Vec<(Relation, RelationKind)>> {
        let db = if database.is_empty() { self.state.database.clone() } else { database.to_string() };
        Ok(self
            .state
            .relations(schema)
            .into_iter()
            .map(|r| (Relation::new(db.clone(), schema, r.name.clone()), r.entry.kind()))
            .collect())
    }

    fn drop_relation(&mut self, relation: &Relation, _kind: RelationKind) -> AdapterResult<()> {
        let (s, n) = self.relation_parts(relation)?;
        if self.state.lookup(&s, &n).is_none() {
            return Ok(());
        }
        self.record(Op::Remove { schema: s, name: n })
    }

    fn rename_relation(&mut self, from: &Relation, _kind: RelationKind, to_identifier: &str) -> AdapterResult<()> {
        let (s, n) = self.relation_parts(from)?;
        let Some(r) = self.state.lookup(&s, &n) else {
            return Err(AdapterError::new(format!("Catalog Error: Table with name {n} does not exist!")));
        };
        if !n.eq_ignore_ascii_case(to_identifier) && self.state.lookup(&s, to_identifier).is_some() {
            return Err(AdapterError::new(format!(
                "Catalog Error: Could not rename \"{n}\" to \"{to_identifier}\": another entry with this name already exists!"
            )));
        }
        let was_active = self.state.txn().active;
        if !was_active {
            self.begin()?;
        }
        self.record(Op::Remove { schema: s.clone(), name: n })?;
        self.record(Op::Put { schema: s, name: to_identifier.to_string(), entry: r.entry })?;
        if !was_active { self.commit() } else { Ok(()) }
    }

    fn create_table_as_sql(&self, relation: &Relation, select_sql: &str, _temporary: bool) -> String {
        format!("CREATE TABLE {} AS (\n{}\n)", relation.render(), strip_sql(select_sql))
    }

    fn create_view_as_sql(&self, relation: &Relation, select_sql: &str) -> String {
        format!("CREATE VIEW {} AS (\n{}\n)", relation.render(), strip_sql(select_sql))
    }

    fn freshness_sql(&self, relation: &str, loaded_at: &str, filter: Option<&str>) -> String {
        let filter = filter.map(|f| format!("\nwhere {f}")).unwrap_or_default();
        // date_part('epoch') of a naive timestamp reads it as UTC.
        format!(
            "select max({loaded_at}) as max_loaded_at, now() as snapshotted_at, \
             date_part('epoch', now()) - date_part('epoch', max({loaded_at})) as max_loaded_at_time_ago_in_s\nfrom {relation}{filter}"
        )
    }

    /// DataFusion drops an ORDER BY inside a subquery, so the limit goes on
    /// the query itself when it has none.
    fn limit_sql(&self, sql: &str, limit: u64) -> String {
        if let Ok(mut stmts) = parse(sql)
            && stmts.len() == 1
            && let Statement::Query(q) = &mut stmts[0]
            && q.limit_clause.is_none()
        {
            q.limit_clause = Some(LimitClause::LimitOffset {
                limit: Some(Expr::value(datafusion::sql::sqlparser::ast::Value::Number(limit.to_string(), false))),
                offset: None,
                limit_by: Vec::new(),
            });
            return stmts[0].to_string();
        }
        format!("select * from (\n{sql}\n) as rdbt_show limit {limit}")
    }

    fn insert_rows(&mut self, relation: &Relation, columns: &[Column], rows: &[Vec<Value>]) -> AdapterResult<u64> {
        self.append_batch(relation, |schema| values::rows_to_batch(schema, columns, rows))
    }

    fn append_columns(&mut self, relation: &Relation, columns: &[Column], values: &[super::ColumnValues]) -> AdapterResult<u64> {
        if values.len() != columns.len() {
            return Err(AdapterError::new(format!("append to {relation}: columns of unequal length")));
        }
        self.append_batch(relation, |schema| values::datums_to_batch(schema, columns, values))
    }
}

/// A compiled query without trailing semicolons and blank space, to nest in
/// `CREATE … AS ( … )`.
fn strip_sql(sql: &str) -> &str {
    sql.trim().trim_end_matches(';').trim_end()
}

#[cfg(test)]
mod tests;
