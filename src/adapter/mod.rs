//! The engine boundary. Materializations, tests, seeds and introspective Jinja
//! (`adapter.get_columns_in_relation`, `run_query`) are written once against
//! these traits; dialect quirks live in the implementations only.

use serde_json::Value;

pub mod duckdb;
#[cfg(feature = "datafusion")]
pub mod datafusion;
pub mod relation_cache;
pub(crate) mod values;

/// Opens the engine a profile target names (`type: duckdb` or
/// `type: datafusion`).
pub fn open(target: &crate::config::Target) -> AdapterResult<std::sync::Arc<dyn Adapter>> {
    match target.adapter_type.as_str() {
        #[cfg(feature = "datafusion")]
        "datafusion" => Ok(std::sync::Arc::new(datafusion::DataFusionAdapter::open(&target.path, &target.database, &target.schema)?)),
        #[cfg(not(feature = "datafusion"))]
        "datafusion" => Err(AdapterError::new("this rdbt was built without the `datafusion` feature")),
        _ => Ok(std::sync::Arc::new(duckdb::DuckDbAdapter::open(&target.path, &target.extensions, &target.settings)?)),
    }
}

/// `database.schema.identifier` of a table or view in the engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relation {
    pub database: String,
    pub schema: String,
    pub identifier: String,
}

impl Relation {
    pub fn new(database: impl Into<String>, schema: impl Into<String>, identifier: impl Into<String>) -> Relation {
        Relation { database: database.into(), schema: schema.into(), identifier: identifier.into() }
    }
    /// Fully quoted name, as dbt-duckdb renders `{{ this }}`.
    pub fn render(&self) -> String {
        crate::manifest::quote_relation(&self.database, &self.schema, &self.identifier)
    }
    pub fn with_identifier(&self, identifier: impl Into<String>) -> Relation {
        Relation { identifier: identifier.into(), ..self.clone() }
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

impl RelationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::View => "view",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The engine's type name, e.g. `INTEGER`, `VARCHAR`, `DECIMAL(18,3)`.
    pub data_type: String,
}

/// Rows of a query, values converted to JSON (numbers, strings, booleans,
/// null; dates and timestamps as ISO strings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

/// What the engine said about a statement, for run_results.json.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdapterResponse {
    pub message: String,
    pub code: String,
    pub rows_affected: Option<i64>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AdapterError {
    pub message: String,
}

impl AdapterError {
    pub fn new(message: impl Into<String>) -> AdapterError {
        AdapterError { message: message.into() }
    }
}

pub type AdapterResult<T> = Result<T, AdapterError>;

/// One typed value of a column-wise bulk append (`Connection::append_columns`).
/// Text borrows where it can: ingest builds a page's columns from the
/// page's own JSON without copying strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Text(std::borrow::Cow<'a, str>),
}

impl Datum<'_> {
    /// The JSON form `insert_rows` takes (the default `append_columns`).
    pub fn to_json(&self) -> Value {
        match self {
            Datum::Null => Value::Null,
            Datum::Bool(b) => Value::Bool(*b),
            Datum::Int(i) => Value::from(*i),
            Datum::Double(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Datum::Text(s) => Value::String(s.to_string()),
        }
    }
}

/// One engine (a DuckDB database file, a DataFusion catalog). Shared across
/// worker threads; each worker opens its own `Connection`.
pub trait Adapter: Send + Sync {
    /// `duckdb`, `datafusion`: the prefix used by `adapter.dispatch`.
    fn type_name(&self) -> &'static str;
    /// The database name relations live in (dbt's `target.database`).
    fn database(&self) -> &str;
    fn connect(&self) -> AdapterResult<Box<dyn Connection>>;
    /// Quotes an identifier in this dialect.
    fn quote(&self, identifier: &str) -> String {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }
}

/// A session on the engine. Not shared between threads.
pub trait Connection: Send {
    fn execute(&mut self, sql: &str) -> AdapterResult<AdapterResponse>;
    fn query(&mut self, sql: &str) -> AdapterResult<QueryResult>;
    fn begin(&mut self) -> AdapterResult<()>;
    fn commit(&mut self) -> AdapterResult<()>;
    fn rollback(&mut self) -> AdapterResult<()>;

    fn create_schema(&mut self, database: &str, schema: &str) -> AdapterResult<()>;
    fn relation_kind(&mut self, relation: &Relation) -> AdapterResult<Option<RelationKind>>;
    fn get_columns(&mut self, relation: &Relation) -> AdapterResult<Vec<Column>>;
    fn list_relations(&mut self, database: &str, schema: &str) -> AdapterResult<Vec<(Relation, RelationKind)>>;
    fn drop_relation(&mut self, relation: &Relation, kind: RelationKind) -> AdapterResult<()>;
    fn rename_relation(&mut self, from: &Relation, kind: RelationKind, to_identifier: &str) -> AdapterResult<()>;

    /// Statements in this dialect, used by the materializations.
    fn create_table_as_sql(&self, relation: &Relation, select_sql: &str, temporary: bool) -> String;
    fn create_view_as_sql(&self, relation: &Relation, select_sql: &str) -> String;
    /// One row: the newest `loaded_at` value of `relation` (already
    /// rendered), the engine's current time, and the seconds between them
    /// (naive timestamps count as UTC), for `source freshness`.
    fn freshness_sql(&self, relation: &str, loaded_at: &str, filter: Option<&str>) -> String;

    /// The first `limit` rows of `sql`, in `sql`'s own order (`rdbt show`).
    fn limit_sql(&self, sql: &str, limit: u64) -> String {
        format!("select * from (\n{sql}\n) as rdbt_show limit {limit}")
    }

    /// Bulk-inserts already-typed rows (seeds, ingest). `columns` carry the
    /// engine type each value is cast to.
    fn insert_rows(&mut self, relation: &Relation, columns: &[Column], rows: &[Vec<Value>]) -> AdapterResult<u64>;

    /// Bulk-appends rows given column by column: `values[i]` holds the
    /// values of `columns[i]`, every column the same length; columns of the
    /// table not named get NULL. Values have the column's type
    /// (`BIGINT` ← `Int`, `DOUBLE` ← `Double`, `BOOLEAN` ← `Bool`,
    /// `VARCHAR` ← `Text`), so an engine can skip casting (DuckDB's
    /// Appender); `Text` going to another type (`TIMESTAMP WITH TIME ZONE`,
    /// `DATE`, `JSON`) is cast from text as `CAST(text AS type)` would. The
    /// default goes through `insert_rows`.
    fn append_columns(&mut self, relation: &Relation, columns: &[Column], values: &[Vec<Datum<'_>>]) -> AdapterResult<u64> {
        let nrows = values.first().map_or(0, Vec::len);
        if values.len() != columns.len() || values.iter().any(|c| c.len() != nrows) {
            return Err(AdapterError::new(format!("append to {relation}: columns of unequal length")));
        }
        let rows: Vec<Vec<Value>> = (0..nrows).map(|r| values.iter().map(|c| c[r].to_json()).collect()).collect();
        self.insert_rows(relation, columns, &rows)
    }
}
