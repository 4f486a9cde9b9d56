//! The engine boundary. Materializations, tests, seeds and introspective Jinja
//! (`adapter.get_columns_in_relation`, `run_query`) are written once against
//! these traits; dialect quirks live in the implementations only.

use serde_json::Value;

pub mod duckdb;
mod duckdb_scan;
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
        _ => Ok(std::sync::Arc::new(duckdb::DuckDbAdapter::open_with_config(&target.path, &target.extensions, &target.settings, &target.config_options)?)),
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

/// One typed value of a column-wise bulk append (`Connection::append_columns`
/// takes them in [`ColumnValues`]). Text borrows where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Text(std::borrow::Cow<'a, str>),
    /// A 128-bit id for a `UUID` column (text, `8-4-4-4-12` hex digits,
    /// elsewhere).
    Uuid(u128),
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
            Datum::Uuid(v) => Value::String(values::format_uuid(*v)),
        }
    }
}

/// One column of a bulk append (`Connection::append_columns`): typed cells
/// with all text in one buffer, so that buffering many rows costs no
/// allocation per string and the values outlive the pages they came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnValues {
    cells: Vec<Cell>,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    /// A byte range of `ColumnValues::text`.
    Text(usize, usize),
    /// A UUID's high and low 64 bits (two words rather than a `u128`, whose
    /// 16-byte alignment would make every cell a third larger).
    Uuid(u64, u64),
}

impl ColumnValues {
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Bytes of text held.
    pub fn text_bytes(&self) -> usize {
        self.text.len()
    }

    fn cell(&mut self, d: &Datum<'_>) -> Cell {
        match d {
            Datum::Null => Cell::Null,
            Datum::Bool(b) => Cell::Bool(*b),
            Datum::Int(i) => Cell::Int(*i),
            Datum::Double(f) => Cell::Double(*f),
            Datum::Text(t) => {
                let start = self.text.len();
                self.text.push_str(t);
                Cell::Text(start, self.text.len())
            }
            Datum::Uuid(v) => Cell::Uuid((*v >> 64) as u64, *v as u64),
        }
    }

    pub fn push(&mut self, d: &Datum<'_>) {
        let c = self.cell(d);
        self.cells.push(c);
    }

    /// Appends `n` NULLs.
    pub fn push_nulls(&mut self, n: usize) {
        self.cells.resize(self.cells.len() + n, Cell::Null);
    }

    /// Replaces the last value (no-op on an empty column). Text it replaces
    /// stays in the buffer until `clear`.
    pub fn set_last(&mut self, d: &Datum<'_>) {
        if self.cells.is_empty() {
            return;
        }
        let c = self.cell(d);
        if let Some(last) = self.cells.last_mut() {
            *last = c;
        }
    }

    /// The `i`th value (NULL past the end).
    pub fn get(&self, i: usize) -> Datum<'_> {
        match self.cells.get(i) {
            None | Some(Cell::Null) => Datum::Null,
            Some(Cell::Bool(b)) => Datum::Bool(*b),
            Some(Cell::Int(v)) => Datum::Int(*v),
            Some(Cell::Double(f)) => Datum::Double(*f),
            Some(Cell::Text(a, b)) => Datum::Text(std::borrow::Cow::Borrowed(self.text.get(*a..*b).unwrap_or(""))),
            Some(Cell::Uuid(hi, lo)) => Datum::Uuid((u128::from(*hi) << 64) | u128::from(*lo)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Datum<'_>> + '_ {
        (0..self.cells.len()).map(|i| self.get(i))
    }

    /// Empties the column, keeping its memory for reuse.
    pub fn clear(&mut self) {
        self.cells.clear();
        self.text.clear();
    }
}

impl<'a> FromIterator<Datum<'a>> for ColumnValues {
    fn from_iter<I: IntoIterator<Item = Datum<'a>>>(iter: I) -> ColumnValues {
        let mut c = ColumnValues::default();
        for d in iter {
            c.push(&d);
        }
        c
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
    /// Makes everything committed durable in the database file itself, for
    /// a process that exits without closing the engine (DuckDB: a
    /// `CHECKPOINT`, which closing would run; until then committed changes
    /// live in the `.wal` file next to the database, and a copy of the
    /// database file alone would miss them).
    fn checkpoint(&self) -> AdapterResult<()> {
        Ok(())
    }
    /// The size of the engine's own thread pool while `concurrent_nodes`
    /// nodes run at once (0: none, the size to return to), or None when rdbt
    /// leaves the pool as it is: the engine has none to size, or the profile
    /// sizes it. The scheduler applies it with `Connection::set_engine_threads`.
    fn engine_threads(&self, _concurrent_nodes: usize) -> Option<usize> {
        None
    }
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
    /// Resizes the engine's thread pool (for the whole database, not only
    /// this session); see `Adapter::engine_threads`.
    fn set_engine_threads(&mut self, _threads: usize) -> AdapterResult<()> {
        Ok(())
    }

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
    /// `VARCHAR` ← `Text`, `UUID` ← `Uuid`), so an engine can skip casting (DuckDB copies
    /// them into its vectors as they are); `Text` going to another type (`TIMESTAMP WITH TIME ZONE`,
    /// `DATE`, `JSON`) is cast from text as `CAST(text AS type)` would. The
    /// default goes through `insert_rows`.
    fn append_columns(&mut self, relation: &Relation, columns: &[Column], values: &[ColumnValues]) -> AdapterResult<u64> {
        let nrows = values.first().map_or(0, ColumnValues::len);
        if values.len() != columns.len() || values.iter().any(|c| c.len() != nrows) {
            return Err(AdapterError::new(format!("append to {relation}: columns of unequal length")));
        }
        let rows: Vec<Vec<Value>> = (0..nrows).map(|r| values.iter().map(|c| c.get(r).to_json()).collect()).collect();
        self.insert_rows(relation, columns, &rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_values_keep_text_in_one_buffer() {
        let mut c: ColumnValues = [Datum::Int(1), Datum::Text("ab".into())].into_iter().collect();
        c.push_nulls(2);
        c.set_last(&Datum::Text("cd".into()));
        c.push(&Datum::Double(0.5));
        c.set_last(&Datum::Bool(true));
        let got: Vec<Datum<'_>> = c.iter().collect();
        assert_eq!(got, vec![Datum::Int(1), Datum::Text("ab".into()), Datum::Null, Datum::Text("cd".into()), Datum::Bool(true)]);
        assert_eq!((c.len(), c.text_bytes()), (5, 4));
        assert_eq!(c.get(9), Datum::Null);
        c.clear();
        assert!(c.is_empty());
        c.set_last(&Datum::Int(3));
        assert!(c.is_empty(), "set_last on an empty column adds nothing");
    }
}
