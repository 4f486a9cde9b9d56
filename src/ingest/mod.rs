//! Ingest nodes: declarative REST API loads into the engine (DESIGN.md,
//! `ingest/`). Two halves meet at the types in this file:
//!
//! - the fetch side (`spec`, `http`, `auth`, `paginate`, `incremental`,
//!   `record`, `fetch`) turns an [`spec::IngestSpec`] into a stream of
//!   [`Page`]s of JSON records per resource (parsed into a `doc::Doc`, read
//!   in place), plus each resource's new cursor state;
//! - the load side (`normalize`, `schema`, `load`) turns pages into rows of
//!   tables in the engine: names normalized to snake_case, nested objects
//!   flattened with `__`, lists as child tables, types inferred and evolved,
//!   write dispositions applied, and the cursor state committed in the same
//!   transaction as the data.
//!
//! Only this file and `doc` (the parsed pages) are shared; each half owns
//! its own submodules.

use serde_json::Value;

pub use doc::Records;

// shared: parsed response bodies
pub mod doc;

// fetch side
mod auth;
pub mod fetch;
mod http;
mod incremental;
mod paginate;
mod record;
pub mod spec;

// load side
pub mod load;
pub mod normalize;
pub mod schema;

pub mod node;
pub mod synthetic;

/// One page of records of one resource, as fetched (records are the items
/// the resource's `data_selector` picked out of the response body).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The resource name as declared (`activities`).
    pub resource: String,
    /// 0-based page number within this run of the resource, for diagnostics.
    pub index: usize,
    /// The URL the page came from, for diagnostics (secrets scrubbed).
    pub url: String,
    pub records: Records,
}

/// How a resource's records land in the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceLoad {
    /// The resource name as declared.
    pub resource: String,
    /// The table the records go to (normalized; defaults to the resource name).
    pub table: String,
    pub write_disposition: WriteDisposition,
    /// Columns identifying a record (normalized names); required for merge.
    pub primary_key: Vec<String>,
    /// Optional merge key (delete+insert deletes by it instead of the primary key).
    pub merge_key: Vec<String>,
    pub schema_contract: SchemaContract,
    /// Nesting depth below which objects/lists are flattened into the table
    /// or child tables; deeper values are stored as JSON. `None` = unlimited.
    pub max_table_nesting: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteDisposition {
    #[default]
    Append,
    Replace,
    Merge(MergeStrategy),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeStrategy {
    #[default]
    DeleteInsert,
    /// Slowly changing dimension type 2: validity columns, old versions closed.
    Scd2,
}

/// What happens when data does not fit the existing schema (dlt's schema
/// contracts): per new table, per new column, per changed data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchemaContract {
    pub tables: ContractMode,
    pub columns: ContractMode,
    pub data_type: ContractMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContractMode {
    /// Accept the change: create the table, add the column, widen or add a variant column.
    #[default]
    Evolve,
    /// Fail the load.
    Freeze,
    /// Drop the offending record.
    DiscardRow,
    /// Drop the offending value (the rest of the record is kept).
    DiscardValue,
}

/// The incremental cursor of a resource after a run: stored in the target
/// database by the load side, read back by the fetch side on the next run.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorState {
    pub resource: String,
    /// The last (max) cursor value seen, in the record's own format.
    pub last_value: Value,
}
