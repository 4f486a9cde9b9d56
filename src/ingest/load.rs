//! Pages of records → tables in the engine, atomically.
//!
//! # Shape of a load
//!
//! [`Loader::begin`] starts a load of one ingest into one dataset schema
//! and opens ONE engine transaction that lasts until [`Loader::commit`].
//! Every [`Loader::write_page`] normalizes its records (names, flattening,
//! child tables — see [`super::normalize`]), checks them against the known
//! schema and the resource's schema contract and builds the rows column by
//! column. Each table gathers its rows across pages (up to 2 MB, see
//! [`Loader::set_flush_bytes`]) and appends them through
//! [`Connection::append_columns`] (a table function scanning the batch), creating or widening
//! tables (`CREATE TABLE`, `ALTER TABLE … ADD COLUMN`) as the rows need:
//!
//! - under `append`, and `merge` (delete-insert) without a merge key,
//!   straight into the destination tables (no second copy; the rows are
//!   invisible to other connections until the commit);
//! - under `replace`, `scd2` and `merge` with a merge key, into *staging
//!   tables* in `<dataset>_staging` (one per destination table, named
//!   `<ingest>__<table>`, with a `_rdbt_seq` column numbering the rows),
//!   from which the commit applies the disposition with set-based SQL.
//!
//! Nothing of a page is kept in Rust once its table's rows are appended, so
//! memory stays flat whatever the size of the resource (DuckDB spills large
//! transaction-local data to the database file; its cache is bounded by its
//! `memory_limit` setting). [`Loader::commit`] applies the dispositions, the
//! cursor states, the schema record and the row in `_rdbt_loads`, drops the
//! staging tables and commits. Any failure — a contract violation on page
//! 3, an engine error while committing, a dropped `Loader` — rolls the
//! transaction back: the destination tables and the stored state are
//! exactly as before, so the rerun of the same window neither loses nor
//! duplicates rows. Staging tables that a crashed process left behind are
//! dropped by the next `begin` of the same ingest.
//!
//! # Tables and columns
//!
//! - Root rows get `_rdbt_load_id` and `_rdbt_id`; child rows
//!   `_rdbt_parent_id`, `_rdbt_list_idx`, `_rdbt_root_id` and `_rdbt_id`;
//!   they are added after the data columns of the table's first row (as dlt
//!   orders `_dlt_load_id`/`_dlt_id`). Record fields whose normalized name
//!   starts with `_rdbt_` are ignored.
//! - `_rdbt_id` of a root row is a 128-bit id derived from a random per-load
//!   salt and the row's sequence number (random like dlt's); under `scd2` it
//!   is the content hash of the whole record (SHA-256 of its JSON, so it is
//!   stable across runs and versions). A child row's id is a hash of its
//!   parent's id, its table and its list index (deterministic, as dlt does).
//! - Id columns are `UUID`: DuckDB stores and compresses a fixed 16-byte
//!   value far more cheaply than the ids' text (`RDBT_LOG_SQL=1`: the
//!   COMMIT of a 100,000-activity load took 0.40–0.43 s with 22-character
//!   text ids, 0.25–0.27 s with UUIDs). Tables created by earlier versions
//!   have text id columns; their families keep text ids (the ids'
//!   22-character URL-safe base64), so a family's ids keep one type and
//!   scd2 content ids keep matching rows loaded before. (Child ids are
//!   derived from the parent id's 16 bytes, no longer from its text: a
//!   child row's id differs from what an earlier version gave it, which
//!   nothing compares.)
//! - Types, coercion and variant columns: [`super::schema`].
//!
//! # Write dispositions (per root table; child tables follow their root)
//!
//! - `append`: staged rows are inserted.
//! - `replace`: the root table and all its child tables are emptied and the
//!   load's rows inserted, in the commit transaction (readers see the old or
//!   the new content, never a mix). A resource that produced no records
//!   still empties its tables.
//! - `merge` (delete-insert): rows of the load are deduplicated on the
//!   primary key keeping the LAST record of the load; destination rows whose
//!   primary key — or merge key, when one is given (either matching) —
//!   appears in the load are deleted together with their child rows (by
//!   `_rdbt_root_id`), then the load is inserted. Without any key, merge
//!   appends (as dlt does). Without a merge key the load is appended
//!   directly: the loader remembers each primary key's newest record while
//!   writing, and the commit deletes the rows of the records it superseded
//!   and the earlier loads' rows (`_rdbt_load_id` not this load's) whose key
//!   the load holds — the same rows as the staging path leaves.
//! - `scd2`: root rows carry `_rdbt_valid_from` / `_rdbt_valid_to`
//!   (`NULL` = current). A current row whose content hash is not in the load
//!   is retired (`_rdbt_valid_to` = the load's start time): a changed record
//!   closes its old version, a record missing from a full load is retired
//!   (with a merge key, only rows whose merge key is in the load are
//!   retired). Records whose hash is not current are inserted with
//!   `_rdbt_valid_from` = the load's start time; their child rows are
//!   inserted unless rows of that root already exist (a record coming back
//!   to an earlier version shares that version's child rows). Resources with
//!   no records leave scd2/merge tables untouched. The primary key plays no
//!   part in scd2 (a version's identity is its content hash).
//!
//! # Schema contracts (`ResourceLoad::schema_contract`, dlt's semantics)
//!
//! `tables` applies to a table that does not exist yet (root or child);
//! `columns` to a new column of a table that existed before this load;
//! `data_type` to a value that does not coerce into its existing column
//! (i.e. that would create a variant column) of a table that existed before
//! this load. Tables created in this load evolve freely. `freeze` fails the
//! load (naming resource, page, record, table, column and value type);
//! `discard_row` drops the row and its child rows; `discard_value` drops the
//! value (for a new table, `discard_value` drops the row like `discard_row`).
//!
//! # Bookkeeping tables (in the dataset schema)
//!
//! - `_rdbt_ingest_state(ingest_name, resource, state JSON, load_id,
//!   updated_at)`: one row per resource, `state = {"last_value": …}`;
//!   [`read_states`] gives them back as [`CursorState`]s.
//! - `_rdbt_loads(load_id, ingest_name, status, inserted_at, schema_hash)`:
//!   one row per committed load (`status` 0 = loaded, as dlt).
//! - `_rdbt_ingest_schema(ingest_name, version_hash, schema JSON, load_id,
//!   inserted_at)`: the [`StoredSchema`] whenever it changed; the next load
//!   reads the newest to know logical types and which child tables belong
//!   to which root. Column existence and order always come from the engine's
//!   information schema.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::doc::Record;
use super::normalize::{ColId, DataType, FastBuild, FastMap, FlatRow, Normalizer, snake_case};
use super::schema::{Columns, StoredSchema, TableSchema, coerce, variant_name};
use super::{ContractMode, CursorState, MergeStrategy, Page, ResourceLoad, WriteDisposition};
use crate::adapter::{Column, ColumnValues, Connection, Datum, Relation};

pub const STATE_TABLE: &str = "_rdbt_ingest_state";
pub const LOADS_TABLE: &str = "_rdbt_loads";
pub const SCHEMA_TABLE: &str = "_rdbt_ingest_schema";

pub const C_ID: &str = "_rdbt_id";
pub const C_LOAD_ID: &str = "_rdbt_load_id";
pub const C_PARENT_ID: &str = "_rdbt_parent_id";
pub const C_LIST_IDX: &str = "_rdbt_list_idx";
pub const C_ROOT_ID: &str = "_rdbt_root_id";
pub const C_VALID_FROM: &str = "_rdbt_valid_from";
pub const C_VALID_TO: &str = "_rdbt_valid_to";
/// Staging tables only: the row's sequence number in the load (orders rows,
/// "last record wins" for merge).
const C_SEQ: &str = "_rdbt_seq";

/// Which part of a schema contract a violation concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractEntity {
    Tables,
    Columns,
    DataType,
}

impl ContractEntity {
    pub fn name(self) -> &'static str {
        match self {
            ContractEntity::Tables => "tables",
            ContractEntity::Columns => "columns",
            ContractEntity::DataType => "data_type",
        }
    }
}

/// A value, column or table refused by a `freeze` schema contract.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ContractViolation {
    pub message: String,
    pub resource: String,
    /// 0-based page index and URL of the page.
    pub page: usize,
    pub url: String,
    /// 0-based record index within the page.
    pub record: usize,
    pub table: String,
    pub column: Option<String>,
    /// The type of the offending value.
    pub value_type: Option<DataType>,
    /// The existing column's type (data_type violations).
    pub column_type: Option<DataType>,
    pub entity: ContractEntity,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// A `freeze` contract was violated.
    #[error(transparent)]
    Contract(Box<ContractViolation>),
    /// The engine failed; `context` says what the loader was doing.
    #[error("{context}: {message}")]
    Engine { context: String, message: String },
    /// The resource configuration cannot be applied (e.g. a merge key that is not a column).
    #[error("{0}")]
    Invalid(String),
}

fn engine(context: impl Into<String>) -> impl FnOnce(crate::adapter::AdapterError) -> LoadError {
    let context = context.into();
    move |e| LoadError::Engine { context, message: e.message }
}

/// Rows of one table in a load.
#[derive(Debug, Clone, PartialEq)]
pub struct TableLoad {
    pub table: String,
    /// The root table it belongs to.
    pub root: String,
    /// Rows staged for the table (before merge deduplication).
    pub rows: u64,
    /// The table did not exist before this load.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewColumn {
    pub table: String,
    pub column: String,
    pub data_type: DataType,
}

/// What a committed load did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSummary {
    pub load_id: String,
    pub tables: Vec<TableLoad>,
    /// Columns added to tables that existed before the load.
    pub new_columns: Vec<NewColumn>,
    /// Rows dropped by `discard_row` contracts (child rows included).
    pub discarded_rows: u64,
    /// Values dropped by `discard_value` contracts.
    pub discarded_values: u64,
    pub schema_hash: String,
}

impl LoadSummary {
    /// Rows staged for `table`, 0 when the load had none.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables.iter().find(|t| t.table == table).map_or(0, |t| t.rows)
    }
}

/// A table as this load knows it.
#[derive(Debug)]
struct TableState {
    name: Arc<str>,
    parent: Option<Arc<str>>,
    root: Arc<str>,
    resource: String,
    columns: Columns,
    /// The table existed in the destination when the load began.
    existed: bool,
    /// The first `target_columns` columns exist in the destination.
    target_columns: usize,
    /// The first `staged_columns` columns exist in the staging table (0 = no staging table yet).
    staged_columns: usize,
    staging_created: bool,
    /// Rows go straight into the destination table (append), not staging.
    direct: bool,
    staged_rows: u64,
    system_checked: bool,
    variants: FastMap<(Arc<str>, DataType), Arc<str>>,
    /// By normalized column ([`ColId`]): 1 + its index in `columns`, 0 when
    /// not looked up yet. Columns are only ever added, so an index, once
    /// found, stays right.
    column_of: Vec<u32>,
    /// Where the system columns are (found when `system_checked` is set;
    /// columns are only ever added, so they stay there).
    system: SystemColumns,
    /// Rows normalized but not yet appended.
    pending: Batch,
}

impl TableState {
    /// The index and type of normalized column `id` (named `name`), if the
    /// table has it.
    fn column(&mut self, id: ColId, name: &str) -> Option<(usize, DataType)> {
        let slot = id.index();
        if let Some(&k) = self.column_of.get(slot)
            && k > 0
        {
            let idx = k as usize - 1;
            return self.columns.list.get_index(idx).map(|(_, ty)| (idx, *ty));
        }
        let found = self.columns.get(name)?;
        if self.column_of.len() <= slot {
            self.column_of.resize(slot + 1, 0);
        }
        self.column_of[slot] = u32::try_from(found.0 + 1).unwrap_or(0);
        Some(found)
    }
}

/// Rows of one table waiting to be appended, column-wise: `cols[0]` holds
/// the rows' sequence numbers, `cols[i + 1]` the table's column `i`. Rows
/// gather across pages, so that one append carries many rows: every append
/// is a statement DuckDB plans, which costs as much as appending a few
/// hundred rows.
#[derive(Debug, Default)]
struct Batch {
    cols: Vec<ColumnValues>,
}

/// A table's pending rows are appended once their estimated size reaches
/// this (cells are 24 bytes plus their text). With up to four batches per
/// table in flight (filling, two queued, appending) and vectors growing by
/// doubling, 4 MB took the 1M-activity benchmark to 500 MB resident; at
/// 2 MB it stays near 460 MB and is as fast.
const FLUSH_BYTES: usize = 2 << 20;

impl Batch {
    fn rows(&self) -> usize {
        self.cols.first().map_or(0, ColumnValues::len)
    }
    fn bytes(&self) -> usize {
        self.rows() * self.cols.len() * 24 + self.cols.iter().map(ColumnValues::text_bytes).sum::<usize>()
    }
    /// Gives the batch `ncols` table columns (NULL in earlier rows).
    fn widen(&mut self, ncols: usize) {
        let n = self.rows();
        while self.cols.len() < ncols + 1 {
            let mut c = ColumnValues::default();
            c.push_nulls(n);
            self.cols.push(c);
        }
    }
    fn start_row(&mut self, seq: i64, ncols: usize) {
        self.widen(ncols);
        let (first, rest) = self.cols.split_at_mut(1);
        first[0].push(&Datum::Int(seq));
        for c in rest {
            c.push_nulls(1);
        }
    }
    fn set(&mut self, col: usize, d: &Datum<'_>) {
        if let Some(c) = self.cols.get_mut(col + 1) {
            c.set_last(d);
        }
    }
    /// The value of table column `col` in the newest row.
    fn last(&self, col: usize) -> Datum<'_> {
        self.cols.get(col + 1).map_or(Datum::Null, |c| c.get(c.len().wrapping_sub(1)))
    }
}

/// Whether a resource's rows go straight into the destination tables
/// instead of staging tables: `append`, and `merge` (delete-insert) without
/// a merge key, whose commit then only deletes the rows the load replaces.
fn writes_directly(load: &ResourceLoad) -> bool {
    match load.write_disposition {
        WriteDisposition::Append => true,
        WriteDisposition::Merge(MergeStrategy::DeleteInsert) => load.merge_key.is_empty(),
        _ => false,
    }
}

/// The primary keys of a direct merge load: the newest record of each key
/// and the records a later one superseded (its rows are deleted at commit:
/// the last record of a key wins). A single BIGINT key, the common case,
/// is kept without encoding.
#[derive(Debug, Default)]
struct LoadKeys {
    ints: FastMap<i64, u64>,
    encoded: FastMap<Box<[u8]>, u64>,
    superseded: Vec<u64>,
}

impl LoadKeys {
    fn see(&mut self, key: &[Datum<'_>], record_no: u64) {
        let previous = match key {
            [Datum::Int(i)] => self.ints.insert(*i, record_no),
            _ => {
                // Tagged, length-prefixed: distinct keys never encode alike.
                let mut bytes = Vec::with_capacity(16);
                for d in key {
                    match d {
                        Datum::Null => bytes.push(0),
                        Datum::Bool(b) => bytes.extend([1, u8::from(*b)]),
                        Datum::Int(i) => {
                            bytes.push(2);
                            bytes.extend(i.to_le_bytes());
                        }
                        Datum::Double(f) => {
                            // SQL equality: -0.0 = 0.0.
                            bytes.push(3);
                            bytes.extend((if *f == 0.0 { 0.0f64 } else { *f }).to_bits().to_le_bytes());
                        }
                        Datum::Text(t) => {
                            bytes.push(4);
                            bytes.extend((t.len() as u64).to_le_bytes());
                            bytes.extend(t.as_bytes());
                        }
                        Datum::Uuid(v) => {
                            bytes.push(5);
                            bytes.extend(v.to_le_bytes());
                        }
                    }
                }
                self.encoded.insert(bytes.into_boxed_slice(), record_no)
            }
        };
        self.superseded.extend(previous);
    }
}

/// Sets a system column of the row just started, if the table has it.
fn set_sys(table: &mut TableState, column: Option<(usize, DataType)>, d: &Datum<'_>) {
    if let Some((idx, _)) = column {
        table.pending.set(idx, d);
    }
}

/// Sets an id column of the row just started, if the table has it: a UUID,
/// or in a text column (tables of earlier rdbt versions) the id's 22-character
/// text, so that ids of old and new rows compare alike.
fn set_id(table: &mut TableState, column: Option<(usize, DataType)>, id: u128) {
    if let Some((idx, ty)) = column {
        let d = if ty == DataType::Uuid { Datum::Uuid(id) } else { Datum::Text(Cow::Owned(encode_id(id))) };
        table.pending.set(idx, &d);
    }
}

/// The system columns' indexes and types in a table (`None`: it has none).
#[derive(Debug, Default, Clone, Copy)]
struct SystemColumns {
    id: Option<(usize, DataType)>,
    load_id: Option<(usize, DataType)>,
    parent_id: Option<(usize, DataType)>,
    list_idx: Option<(usize, DataType)>,
    root_id: Option<(usize, DataType)>,
}

/// Where the loader's engine work goes: the connection itself, or (inside
/// `Loader::write_pages`) a queue the connection's thread drains.
enum Link<'c> {
    Conn(&'c mut dyn Connection),
    Queue(crossbeam_channel::Sender<Job>),
    Detached,
}

/// Engine work of the page phase.
enum Job {
    /// Statements (with their error contexts), then an append.
    Stage { ddl: Vec<(String, String)>, rel: Relation, columns: Vec<Column>, values: Vec<ColumnValues>, context: String },
    /// The columns of an existing table, answered on `reply`.
    Columns { rel: Relation, reply: crossbeam_channel::Sender<crate::adapter::AdapterResult<Vec<Column>>> },
}

impl Job {
    fn run(self, conn: &mut dyn Connection) -> Result<(), LoadError> {
        match self {
            Job::Stage { ddl, rel, columns, values, context } => {
                for (sql, ctx) in ddl {
                    conn.execute(&sql).map_err(engine(ctx))?;
                }
                conn.append_columns(&rel, &columns, &values).map_err(engine(context))?;
            }
            Job::Columns { rel, reply } => {
                let _ = reply.send(conn.get_columns(&rel));
            }
        }
        Ok(())
    }
}

/// What to do with one cell, decided before anything changes.
enum Placement<'a> {
    Put(usize, Datum<'a>),
    Add(Arc<str>, DataType, Datum<'a>),
}

/// A load in progress. Dropping it without `commit` discards the staged data.
pub struct Loader<'c> {
    link: Link<'c>,
    database: String,
    dataset: String,
    staging: String,
    ingest: String,
    load_id: String,
    /// The load's start (`_rdbt_valid_from`, retirement time), rendered for SQL.
    started_sql: String,
    salt: u128,
    norm: Normalizer,
    tables: IndexMap<Arc<str>, TableState, FastBuild>,
    /// Lowercased names of the tables in the dataset when the load began.
    existing: HashSet<String>,
    stored: IndexMap<String, TableSchema>,
    stored_hash: Option<String>,
    /// Resource configuration per root table, in first-seen order.
    resources: IndexMap<Arc<str>, ResourceLoad>,
    /// Merge loads written straight to their tables: the keys seen per root.
    load_keys: FastMap<Arc<str>, LoadKeys>,
    seq: i64,
    /// Records seen in this load (discarded ones included): seeds root ids.
    records: u64,
    discarded_rows: u64,
    discarded_values: u64,
    finished: bool,
    sys: SystemNames,
    /// See [`Loader::set_flush_bytes`].
    flush_bytes: usize,
}

/// Interned system column names.
#[derive(Debug)]
struct SystemNames {
    id: Arc<str>,
    load_id: Arc<str>,
    parent_id: Arc<str>,
    list_idx: Arc<str>,
    root_id: Arc<str>,
    valid_from: Arc<str>,
    valid_to: Arc<str>,
}

fn q(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl<'c> Loader<'c> {
    /// Starts a load of `ingest_name` into `database.dataset` (the database
    /// may be empty for the connection's current one). Reads what exists
    /// (tables, the newest schema record) and clears staging tables a
    /// crashed earlier load of this ingest left behind.
    pub fn begin(conn: &'c mut dyn Connection, database: &str, dataset: &str, ingest_name: &str) -> Result<Loader<'c>, LoadError> {
        let staging = format!("{dataset}_staging");
        let existing: HashSet<String> = conn
            .list_relations(database, dataset)
            .map_err(engine(format!("listing tables of {dataset}")))?
            .into_iter()
            .map(|(r, _)| r.identifier.to_lowercase())
            .collect();
        let mut stored = IndexMap::new();
        let mut stored_hash = None;
        if existing.contains(SCHEMA_TABLE) {
            let rel = Relation::new(database, dataset, SCHEMA_TABLE);
            let r = conn
                .query(&format!(
                    "SELECT CAST(schema AS VARCHAR), version_hash FROM {} WHERE ingest_name = {} ORDER BY inserted_at DESC LIMIT 1",
                    rel.render(),
                    lit(ingest_name)
                ))
                .map_err(engine(format!("reading the schema of ingest {ingest_name}")))?;
            if let Some(row) = r.rows.first() {
                let text = row.first().and_then(Value::as_str).unwrap_or("{}");
                let s: StoredSchema = serde_json::from_str(text).map_err(|e| {
                    LoadError::Invalid(format!("the stored schema of ingest {ingest_name} in {} is unreadable: {e}", rel.render()))
                })?;
                stored_hash = row.get(1).and_then(Value::as_str).map(str::to_string);
                stored = s.tables.into_iter().map(|t| (t.name.clone(), t)).collect();
            }
        }
        conn.create_schema(database, &staging).map_err(engine(format!("creating schema {staging}")))?;
        let prefix = format!("{}__", ingest_name.to_lowercase());
        for (rel, kind) in conn.list_relations(database, &staging).map_err(engine(format!("listing {staging}")))? {
            if rel.identifier.to_lowercase().starts_with(&prefix) {
                conn.drop_relation(&rel, kind).map_err(engine(format!("dropping leftover staging table {rel}")))?;
            }
        }
        conn.create_schema(database, dataset).map_err(engine(format!("creating schema {dataset}")))?;
        // Outside the load's transaction: two ingests loading into one
        // dataset at the same time would otherwise both create them and
        // conflict at commit.
        create_bookkeeping_tables(conn, database, dataset)?;
        // Everything from here to `commit` is one transaction: staging
        // tables, appends, DDL and the disposition all vanish on rollback.
        conn.begin().map_err(engine("starting the load transaction"))?;
        let now = chrono::Utc::now();
        let load_id = format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros());
        let started_sql = format!("TIMESTAMPTZ {}", lit(&now.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()));
        let sys = SystemNames {
            id: Arc::from(C_ID),
            load_id: Arc::from(C_LOAD_ID),
            parent_id: Arc::from(C_PARENT_ID),
            list_idx: Arc::from(C_LIST_IDX),
            root_id: Arc::from(C_ROOT_ID),
            valid_from: Arc::from(C_VALID_FROM),
            valid_to: Arc::from(C_VALID_TO),
        };
        Ok(Loader {
            link: Link::Conn(conn),
            database: database.to_string(),
            dataset: dataset.to_string(),
            staging,
            ingest: ingest_name.to_string(),
            load_id,
            started_sql,
            salt: uuid::Uuid::new_v4().as_u128(),
            norm: Normalizer::new(),
            tables: IndexMap::default(),
            existing,
            stored,
            stored_hash,
            resources: IndexMap::new(),
            load_keys: FastMap::default(),
            seq: 0,
            records: 0,
            discarded_rows: 0,
            discarded_values: 0,
            finished: false,
            sys,
            flush_bytes: FLUSH_BYTES,
        })
    }

    /// How many bytes of normalized rows a table gathers before they are
    /// appended (default 2 MB; 0 appends every page at once). Bounds the
    /// loader's memory; larger batches cost the engine fewer appends.
    pub fn set_flush_bytes(&mut self, bytes: usize) {
        self.flush_bytes = bytes;
    }

    /// `_rdbt_id` of the root row of this load's `record_no`th record
    /// (outside scd2): written with the row, and recomputed by a direct
    /// merge to delete the rows of superseded records.
    fn root_id(&self, record_no: u64) -> u128 {
        id128(&[&self.salt.to_le_bytes(), &record_no.to_le_bytes()])
    }

    /// This load's id (`_rdbt_load_id` of its rows).
    pub fn load_id(&self) -> &str {
        &self.load_id
    }

    /// The type of the id columns a new table of family `root` gets: UUID,
    /// unless the family already has text ids (tables an earlier rdbt made:
    /// the root, or child tables a load stored while their root was since
    /// dropped), which the new table's ids must compare with.
    fn family_id_type(&self, root: &str) -> DataType {
        let text = |ty: DataType| if ty == DataType::Uuid { DataType::Uuid } else { DataType::Text };
        if let Some((_, ty)) = self.tables.get(root).and_then(|t| t.columns.get(C_ID)) {
            return text(ty);
        }
        let family = self.stored.values().filter(|t| t.root == root);
        if family.filter_map(|t| t.columns.get(C_ID)).any(|ty| *ty != DataType::Uuid) { DataType::Text } else { DataType::Uuid }
    }

    /// An id of table family `root` as an SQL literal, in the form its id
    /// columns hold (see [`set_id`]).
    fn id_literal(&self, root: &str, id: u128) -> String {
        lit(&if self.family_id_type(root) == DataType::Uuid { crate::adapter::values::format_uuid(id) } else { encode_id(id) })
    }

    fn final_rel(&self, table: &str) -> Relation {
        Relation::new(&self.database, &self.dataset, table)
    }

    fn stage_rel(&self, table: &str) -> Relation {
        Relation::new(&self.database, &self.staging, format!("{}__{table}", self.ingest))
    }

    fn in_target(&self, table: &str) -> bool {
        self.existing.contains(&table.to_lowercase())
    }

    fn register(&mut self, load: &ResourceLoad) -> Result<Arc<str>, LoadError> {
        let root: Arc<str> = Arc::from(snake_case(&load.table));
        match self.resources.get(&root) {
            Some(prev) if prev.write_disposition != load.write_disposition => Err(LoadError::Invalid(format!(
                "resources {} and {} both load table {root} with different write dispositions",
                prev.resource, load.resource
            ))),
            Some(_) => Ok(root),
            None => {
                if let Some(t) = self.stored.get(root.as_ref())
                    && t.parent.is_some()
                {
                    return Err(LoadError::Invalid(format!(
                        "resource {} loads table {root}, which holds the nested rows of table {}",
                        load.resource, t.root
                    )));
                }
                self.resources.insert(root.clone(), load.clone());
                Ok(root)
            }
        }
    }

    /// The state of a table that exists in the destination, read on first use.
    fn open_existing(
        &mut self,
        name: &Arc<str>,
        parent: Option<&Arc<str>>,
        root: &Arc<str>,
        resource: &str,
        direct: bool,
    ) -> Result<(), LoadError> {
        let rel = self.final_rel(name);
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.submit(Job::Columns { rel: rel.clone(), reply })?;
        let cols = answer
            .recv()
            .map_err(|_| LoadError::Invalid("the load stopped".into()))?
            .map_err(engine(format!("reading the columns of {rel}")))?;
        let stored = self.stored.get(name.as_ref());
        let mut columns = Columns::default();
        for c in cols {
            let ty = stored.and_then(|t| t.columns.get(&c.name).copied()).unwrap_or_else(|| DataType::from_sql(&c.data_type));
            columns.push(Arc::from(c.name.as_str()), ty);
        }
        let n = columns.len();
        self.tables.insert(
            name.clone(),
            TableState {
                name: name.clone(),
                parent: parent.cloned(),
                root: root.clone(),
                resource: resource.to_string(),
                columns,
                existed: true,
                target_columns: n,
                // A direct table's destination columns are its "staged" ones.
                staged_columns: if direct { n } else { 0 },
                staging_created: false,
                direct,
                staged_rows: 0,
                system_checked: false,
                variants: FastMap::default(),
                column_of: Vec::new(),
                system: SystemColumns::default(),
                pending: Batch::default(),
            },
        );
        Ok(())
    }

    /// Normalizes the records of `page` and appends them to the staging
    /// tables. Returns the number of records accepted (not discarded).
    pub fn write_page(&mut self, load: &ResourceLoad, page: &Page) -> Result<usize, LoadError> {
        let root = self.register(load)?;
        let scd2 = load.write_disposition == WriteDisposition::Merge(MergeStrategy::Scd2);
        let direct = writes_directly(load);
        // Direct merge: the primary key's columns, to find records a later
        // record of the same load supersedes.
        let merge_pk: Vec<String> = if direct && load.write_disposition != WriteDisposition::Append {
            load.primary_key.iter().map(|k| snake_case(k)).collect()
        } else {
            Vec::new()
        };
        let contract = load.schema_contract;
        let mut rows: Vec<FlatRow<'_>> = Vec::new();
        let mut ids: Vec<u128> = Vec::new();
        let mut dropped: Vec<bool> = Vec::new();
        let mut plan: Vec<Placement<'_>> = Vec::new();
        let mut accepted = 0usize;
        for (ri, record) in page.records.iter().enumerate() {
            self.norm.flatten(&root, record, load.max_table_nesting, &mut rows);
            let record_no = self.records;
            self.records += 1;
            ids.clear();
            for row in &rows {
                let id = match row.parent {
                    None if scd2 => content_id(record),
                    None => self.root_id(record_no),
                    Some(p) => id128(&[&ids[p].to_le_bytes(), row.table.as_bytes(), &row.list_idx.to_le_bytes()]),
                };
                ids.push(id);
            }
            dropped.clear();
            dropped.resize(rows.len(), false);
            for i in 0..rows.len() {
                let row = &rows[i];
                if let Some(p) = row.parent
                    && dropped[p]
                {
                    dropped[i] = true;
                    continue;
                }
                let ctx = Ctx { load, page, record: ri };
                // Does the table exist (in this load or the destination)?
                let mut slot = self.tables.get_index_of(&row.table);
                if slot.is_none() {
                    let parent = row.parent.map(|p| rows[p].table.clone());
                    if self.in_target(&row.table) {
                        self.open_existing(&row.table, parent.as_ref(), &root, &load.resource, direct)?;
                    } else {
                        match contract.tables {
                            ContractMode::Evolve => {}
                            ContractMode::Freeze => {
                                return Err(ctx.violation(ContractEntity::Tables, &row.table, None, None, None));
                            }
                            ContractMode::DiscardRow | ContractMode::DiscardValue => {
                                dropped[i] = true;
                                continue;
                            }
                        }
                        self.tables.insert(
                            row.table.clone(),
                            TableState {
                                name: row.table.clone(),
                                parent,
                                root: root.clone(),
                                resource: load.resource.clone(),
                                columns: Columns::default(),
                                existed: false,
                                target_columns: 0,
                                staged_columns: 0,
                                staging_created: false,
                                direct,
                                staged_rows: 0,
                                system_checked: false,
                                variants: FastMap::default(),
                                column_of: Vec::new(),
                                system: SystemColumns::default(),
                                pending: Batch::default(),
                            },
                        );
                    }
                    slot = self.tables.get_index_of(&row.table);
                }
                let Some(slot) = slot else { continue };
                let id_type = if self.tables.get_index(slot).is_some_and(|(_, t)| !t.system_checked) {
                    self.family_id_type(&root)
                } else {
                    DataType::Uuid
                };
                let Some((_, table)) = self.tables.get_index_mut(slot) else { continue };
                // Pass 1: decide every cell without changing anything.
                plan.clear();
                let mut discard_row = false;
                let mut discarded_values = 0u64;
                for &(id, ref scalar) in &row.cells {
                    let name = self.norm.name(id);
                    if name.starts_with("_rdbt_") {
                        continue;
                    }
                    let ty = scalar.data_type();
                    let (entity, target_name, column_type) = match table.column(id, name) {
                        Some((idx, cty)) => match coerce(scalar, cty) {
                            Some(d) => {
                                plan.push(Placement::Put(idx, d));
                                continue;
                            }
                            None => {
                                let vname = table
                                    .variants
                                    .entry((name.clone(), ty))
                                    .or_insert_with(|| Arc::from(variant_name(name, ty)))
                                    .clone();
                                if let Some((vidx, vty)) = table.columns.get(&vname)
                                    && let Some(d) = coerce(scalar, vty)
                                {
                                    plan.push(Placement::Put(vidx, d));
                                    continue;
                                }
                                (ContractEntity::DataType, vname, Some(cty))
                            }
                        },
                        None => (ContractEntity::Columns, name.clone(), None),
                    };
                    let mode = if !table.existed {
                        ContractMode::Evolve
                    } else if entity == ContractEntity::DataType {
                        contract.data_type
                    } else {
                        contract.columns
                    };
                    match mode {
                        ContractMode::Evolve => {
                            if let Some(d) = coerce(scalar, ty) {
                                plan.push(Placement::Add(target_name, ty, d));
                            }
                        }
                        ContractMode::Freeze => {
                            return Err(ctx.violation(entity, &row.table, Some(name), Some(ty), column_type));
                        }
                        ContractMode::DiscardRow => {
                            discard_row = true;
                            break;
                        }
                        ContractMode::DiscardValue => discarded_values += 1,
                    }
                }
                if discard_row {
                    dropped[i] = true;
                    continue;
                }
                self.discarded_values += discarded_values;
                // Pass 2: apply.
                let seq = self.seq;
                self.seq += 1;
                table.pending.start_row(seq, table.columns.len());
                for p in plan.drain(..) {
                    match p {
                        Placement::Put(idx, d) => table.pending.set(idx, &d),
                        Placement::Add(name, ty, d) => {
                            // The same normalized name twice in one row: the later value wins.
                            let idx = match table.columns.get(&name) {
                                Some((idx, _)) => idx,
                                None => table.columns.push(name, ty),
                            };
                            table.pending.widen(table.columns.len());
                            table.pending.set(idx, &d);
                        }
                    }
                }
                if !table.system_checked {
                    let wanted: Vec<(&Arc<str>, DataType)> = if row.parent.is_none() {
                        let mut w = vec![(&self.sys.load_id, DataType::Text), (&self.sys.id, id_type)];
                        if scd2 {
                            w.push((&self.sys.valid_from, DataType::Timestamp));
                            w.push((&self.sys.valid_to, DataType::Timestamp));
                        }
                        w
                    } else {
                        vec![
                            (&self.sys.parent_id, id_type),
                            (&self.sys.list_idx, DataType::Bigint),
                            (&self.sys.root_id, id_type),
                            (&self.sys.id, id_type),
                        ]
                    };
                    for (name, ty) in wanted {
                        if table.columns.get(name).is_none() {
                            table.columns.push(name.clone(), ty);
                        }
                    }
                    table.system_checked = true;
                    table.pending.widen(table.columns.len());
                    table.system = SystemColumns {
                        id: table.columns.get(&self.sys.id),
                        load_id: table.columns.get(&self.sys.load_id),
                        parent_id: table.columns.get(&self.sys.parent_id),
                        list_idx: table.columns.get(&self.sys.list_idx),
                        root_id: table.columns.get(&self.sys.root_id),
                    };
                }
                let system = table.system;
                set_id(table, system.id, ids[i]);
                match row.parent {
                    None => {
                        set_sys(table, system.load_id, &Datum::Text(Cow::Borrowed(&self.load_id)));
                        if !merge_pk.is_empty() {
                            let key: Vec<Datum<'_>> = merge_pk.iter().map(|k| table.columns.get(k).map_or(Datum::Null, |(idx, _)| table.pending.last(idx))).collect();
                            self.load_keys.entry(root.clone()).or_default().see(&key, record_no);
                        }
                    }
                    Some(p) => {
                        set_id(table, system.parent_id, ids[p]);
                        set_sys(table, system.list_idx, &Datum::Int(row.list_idx));
                        set_id(table, system.root_id, ids[0]);
                    }
                }
            }
            self.discarded_rows += dropped.iter().filter(|d| **d).count() as u64;
            if !dropped.first().copied().unwrap_or(true) {
                accepted += 1;
            }
        }
        let full: Vec<Arc<str>> = self.tables.values().filter(|t| t.pending.rows() > 0 && t.pending.bytes() >= self.flush_bytes).map(|t| t.name.clone()).collect();
        for name in full {
            self.stage(&name, &format!(" (resource {}, up to page {} of {})", load.resource, page.index, page.url))?;
        }
        Ok(accepted)
    }

    /// Writes every page of `pages` (as [`Loader::write_page`]), with the
    /// normalizing on a thread of its own while this one does the engine's
    /// work (DDL, appends): the two overlap. Stops at the first error.
    pub fn write_pages<I>(&mut self, pages: I) -> Result<(), LoadError>
    where
        I: Iterator<Item = (ResourceLoad, Page)> + Send,
    {
        let conn = match std::mem::replace(&mut self.link, Link::Detached) {
            Link::Conn(c) => c,
            other => {
                self.link = other;
                return Err(LoadError::Invalid("the load's connection is busy".into()));
            }
        };
        // Two jobs in flight bound the memory: each holds at most one
        // table's flush of rows.
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(2);
        self.link = Link::Queue(jobs);
        let (normalized, engine_error) = std::thread::scope(|scope| {
            let normalizer = scope.spawn(|| {
                let mut result = Ok(());
                for (load, page) in pages {
                    if let Err(e) = self.write_page(&load, &page) {
                        result = Err(e);
                        break;
                    }
                }
                // Closes the queue: the loop below ends.
                self.link = Link::Detached;
                result
            });
            let mut engine_error = None;
            for job in queue.iter() {
                if let Err(e) = job.run(&mut *conn) {
                    engine_error = Some(e);
                    break;
                }
            }
            // A failed job stops the normalizer at its next send.
            drop(queue);
            (normalizer.join(), engine_error)
        });
        self.link = Link::Conn(conn);
        match (engine_error, normalized) {
            (Some(e), _) => Err(e),
            (None, Ok(r)) => r,
            (None, Err(_)) => Err(LoadError::Invalid("the normalizing thread stopped unexpectedly".into())),
        }
    }

    /// The connection, outside `write_pages`.
    fn conn(&mut self) -> Result<&mut dyn Connection, LoadError> {
        match &mut self.link {
            Link::Conn(c) => Ok(&mut **c),
            _ => Err(LoadError::Invalid("the load's connection is busy".into())),
        }
    }

    /// Hands `job` to the engine: runs it, or queues it inside `write_pages`.
    fn submit(&mut self, job: Job) -> Result<(), LoadError> {
        match &mut self.link {
            Link::Conn(c) => job.run(&mut **c),
            Link::Queue(q) => q.send(job).map_err(|_| LoadError::Invalid("the load stopped".into())),
            Link::Detached => Err(LoadError::Invalid("the load's connection is busy".into())),
        }
    }

    /// Creates or widens the table the rows of `name` go to (its staging
    /// table, or the destination table itself under `append`) and appends
    /// its pending rows. `place` ends error contexts (which pages).
    fn stage(&mut self, name: &Arc<str>, place: &str) -> Result<(), LoadError> {
        let Some(table) = self.tables.get(name) else { return Ok(()) };
        if table.pending.rows() == 0 {
            return Ok(());
        }
        let direct = table.direct;
        let rel = if direct { self.final_rel(name) } else { self.stage_rel(name) };
        let mut columns: Vec<Column> = Vec::with_capacity(table.columns.len() + 1);
        if !direct {
            columns.push(Column { name: C_SEQ.to_string(), data_type: "BIGINT".into() });
        }
        let skip = columns.len();
        columns.extend(table.columns.list.iter().map(|(n, t)| Column {
            name: n.to_string(),
            data_type: if direct { t.sql() } else { t.staging_sql() }.into(),
        }));
        let (created, staged) = (table.staging_created || (direct && table.existed), table.staged_columns);
        let mut ddl = Vec::new();
        if !created {
            let defs: Vec<String> = columns.iter().map(|c| format!("{} {}", q(&c.name), c.data_type)).collect();
            let verb = if direct { "CREATE TABLE" } else { "CREATE OR REPLACE TABLE" };
            ddl.push((format!("{verb} {} ({})", rel.render(), defs.join(", ")), format!("creating table {rel}{place}")));
        } else {
            for c in &columns[skip + staged..] {
                ddl.push((
                    format!("ALTER TABLE {} ADD COLUMN {} {}", rel.render(), q(&c.name), c.data_type),
                    format!("adding column {} to {rel}{place}", c.name),
                ));
            }
        }
        let Some(t) = self.tables.get_mut(name) else { return Ok(()) };
        t.pending.widen(columns.len() - skip);
        // Created (or widened) now, whatever the append does: a failed load rolls back anyway.
        t.staging_created = true;
        t.staged_columns = t.columns.len();
        t.staged_rows += t.pending.rows() as u64;
        let mut values = std::mem::take(&mut t.pending.cols);
        if direct {
            values.remove(0);
        }
        let context = format!("writing rows of table {name}{place}");
        self.submit(Job::Stage { ddl, rel, columns, values, context })
    }

    /// Appends every table's pending rows.
    fn stage_all(&mut self) -> Result<(), LoadError> {
        let names: Vec<Arc<str>> = self.tables.keys().cloned().collect();
        for name in &names {
            self.stage(name, "")?;
        }
        Ok(())
    }

    /// Applies the load and records `states` with it, then commits the
    /// load's transaction. On failure it is rolled back: nothing visible
    /// changes.
    pub fn commit(mut self, states: &[CursorState]) -> Result<LoadSummary, LoadError> {
        self.finished = true;
        let result = match self.stage_all().and_then(|()| self.apply(states)) {
            Ok(summary) => self.conn().and_then(|c| c.commit().map_err(engine("committing the load"))).map(|()| summary),
            Err(e) => Err(e),
        };
        if result.is_err()
            && let Ok(c) = self.conn()
        {
            let _ = c.rollback();
        }
        result
    }

    /// Discards the load (rolls its transaction back).
    pub fn abort(mut self) {
        self.finished = true;
        if let Ok(c) = self.conn() {
            let _ = c.rollback();
        }
    }

    fn exec(&mut self, sql: &str, context: impl Into<String>) -> Result<(), LoadError> {
        self.conn()?.execute(sql).map(|_| ()).map_err(engine(context))
    }

    fn apply(&mut self, states: &[CursorState]) -> Result<LoadSummary, LoadError> {
        let mut summary = LoadSummary {
            load_id: self.load_id.clone(),
            tables: Vec::new(),
            new_columns: Vec::new(),
            discarded_rows: self.discarded_rows,
            discarded_values: self.discarded_values,
            schema_hash: String::new(),
        };
        // DDL first: DuckDB does not alter a table this transaction already wrote to.
        let names: Vec<Arc<str>> = self.tables.keys().cloned().collect();
        for name in &names {
            let (sql, added): (Vec<String>, Vec<NewColumn>) = {
                let t = &self.tables[name];
                let rel = self.final_rel(name);
                if t.direct {
                    // Created and altered while its pages were written.
                    let added = t.columns.list.iter().skip(if t.existed { t.target_columns } else { t.columns.len() });
                    summary.new_columns.extend(added.map(|(n, ty)| NewColumn {
                        table: name.to_string(),
                        column: n.to_string(),
                        data_type: *ty,
                    }));
                    continue;
                }
                if !t.existed {
                    if !t.staging_created {
                        continue;
                    }
                    let defs: Vec<String> = t.columns.list.iter().map(|(n, ty)| format!("{} {}", q(n), ty.sql())).collect();
                    (vec![format!("CREATE TABLE {} ({})", rel.render(), defs.join(", "))], Vec::new())
                } else {
                    t.columns
                        .list
                        .iter()
                        .skip(t.target_columns)
                        .map(|(n, ty)| {
                            (
                                format!("ALTER TABLE {} ADD COLUMN {} {}", rel.render(), q(n), ty.sql()),
                                NewColumn { table: name.to_string(), column: n.to_string(), data_type: *ty },
                            )
                        })
                        .unzip()
                }
            };
            for s in sql {
                self.exec(&s, format!("creating or altering table {name}"))?;
            }
            summary.new_columns.extend(added);
        }
        let roots: Vec<Arc<str>> = self.resources.keys().cloned().collect();
        for root in &roots {
            self.apply_disposition(root)?;
        }
        for t in self.tables.values() {
            if t.staged_rows > 0 || !t.existed {
                summary.tables.push(TableLoad {
                    table: t.name.to_string(),
                    root: t.root.to_string(),
                    rows: t.staged_rows,
                    created: !t.existed,
                });
            }
        }
        self.write_states(states)?;
        summary.schema_hash = self.write_schema()?;
        let staging: Vec<Relation> =
            self.tables.values().filter(|t| t.staging_created && !t.direct).map(|t| self.stage_rel(&t.name)).collect();
        for rel in staging {
            self.exec(&format!("DROP TABLE {}", rel.render()), format!("dropping staging table {rel}"))?;
        }
        let loads = self.final_rel(LOADS_TABLE);
        let sql = format!(
            "INSERT INTO {} (load_id, ingest_name, status, inserted_at, schema_hash) VALUES ({}, {}, 0, now(), {})",
            loads.render(),
            lit(&self.load_id),
            lit(&self.ingest),
            lit(&summary.schema_hash)
        );
        self.exec(&sql, "recording the load")?;
        Ok(summary)
    }

    /// Every table (of this load or stored) whose rows belong to `root`, root first.
    fn family(&self, root: &str) -> Vec<String> {
        let mut out: Vec<String> = vec![root.to_string()];
        for t in self.tables.values() {
            if t.root.as_ref() == root && t.name.as_ref() != root {
                out.push(t.name.to_string());
            }
        }
        for t in self.stored.values() {
            if t.root == root && t.name != root && !out.contains(&t.name) {
                out.push(t.name.clone());
            }
        }
        out
    }

    /// The SELECT list turning staging columns into destination values.
    fn select_list(&self, table: &str, overrides: &[(&str, &str)]) -> Option<(String, String)> {
        let t = self.tables.get(table)?;
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        for (n, ty) in &t.columns.list {
            names.push(q(n));
            if let Some((_, e)) = overrides.iter().find(|(o, _)| *o == n.as_ref()) {
                exprs.push((*e).to_string());
            } else {
                exprs.push(cast_expr(n, *ty));
            }
        }
        Some((names.join(", "), exprs.join(", ")))
    }

    fn staged(&self, table: &str) -> bool {
        self.tables.get(table).is_some_and(|t| t.staging_created)
    }

    /// INSERT INTO final SELECT … FROM staging [WHERE cond].
    fn insert_from_stage(&mut self, table: &str, cond: Option<&str>, overrides: &[(&str, &str)]) -> Result<(), LoadError> {
        if !self.staged(table) || self.tables.get(table).is_some_and(|t| t.direct) {
            return Ok(());
        }
        let Some((names, exprs)) = self.select_list(table, overrides) else { return Ok(()) };
        // No ORDER BY: the staging table holds rows in arrival order and a
        // plain scan keeps it (DuckDB's preserve_insertion_order), while
        // sorting a million wide rows would hold them all in memory.
        let sql = format!(
            "INSERT INTO {} ({names}) SELECT {exprs} FROM {} s {}",
            self.final_rel(table).render(),
            self.stage_rel(table).render(),
            cond.map(|c| format!("WHERE {c}")).unwrap_or_default(),
        );
        self.exec(&sql, format!("inserting the load into {table}"))
    }

    fn key_columns(&self, root: &str, keys: &[String], what: &str) -> Result<Vec<(String, DataType)>, LoadError> {
        let t = self.tables.get(root);
        keys.iter()
            .map(|k| {
                let k = snake_case(k);
                t.and_then(|t| t.columns.get(&k)).map(|(_, ty)| (k.clone(), ty)).ok_or_else(|| {
                    LoadError::Invalid(format!("{what} column {k} is not a column of table {root} (ingest {})", self.ingest))
                })
            })
            .collect()
    }

    fn apply_disposition(&mut self, root: &Arc<str>) -> Result<(), LoadError> {
        let Some(load) = self.resources.get(root).cloned() else { return Ok(()) };
        let family = self.family(root);
        match load.write_disposition {
            WriteDisposition::Append => {
                for t in &family {
                    self.insert_from_stage(t, None, &[])?;
                }
            }
            WriteDisposition::Replace => {
                for t in &family {
                    if self.in_target(t) {
                        self.exec(&format!("DELETE FROM {}", self.final_rel(t).render()), format!("replacing {t}"))?;
                    }
                    self.insert_from_stage(t, None, &[])?;
                }
            }
            WriteDisposition::Merge(MergeStrategy::DeleteInsert) if writes_directly(&load) => self.merge_direct(root, &load, &family)?,
            WriteDisposition::Merge(MergeStrategy::DeleteInsert) => {
                if !self.staged(root) {
                    return Ok(());
                }
                let pk = self.key_columns(root, &load.primary_key, "primary key")?;
                let mk = self.key_columns(root, &load.merge_key, "merge key")?;
                let stage_root = self.stage_rel(root).render();
                if !pk.is_empty() {
                    // Last record per primary key wins within the load.
                    let part: Vec<String> = pk.iter().map(|(k, _)| q(k)).collect();
                    let sql = format!(
                        "DELETE FROM {stage_root} WHERE {seq} IN (SELECT {seq} FROM (SELECT {seq}, row_number() OVER (PARTITION BY {} ORDER BY {seq} DESC) AS rn FROM {stage_root}) WHERE rn > 1)",
                        part.join(", "),
                        seq = q(C_SEQ)
                    );
                    self.exec(&sql, format!("deduplicating the load of {root}"))?;
                    for t in family.iter().skip(1) {
                        if self.staged(t) {
                            let sql = format!(
                                "DELETE FROM {} WHERE {} NOT IN (SELECT {} FROM {stage_root})",
                                self.stage_rel(t).render(),
                                q(C_ROOT_ID),
                                q(C_ID)
                            );
                            self.exec(&sql, format!("deduplicating the load of {t}"))?;
                        }
                    }
                }
                if self.in_target(root) && (!pk.is_empty() || !mk.is_empty()) {
                    let matches = |keys: &[(String, DataType)]| {
                        let conds: Vec<String> =
                            keys.iter().map(|(k, ty)| format!("{} = d.{}", cast_expr_in("s", k, *ty), q(k))).collect();
                        format!("EXISTS (SELECT 1 FROM {stage_root} s WHERE {})", conds.join(" AND "))
                    };
                    let cond = match (pk.is_empty(), mk.is_empty()) {
                        (false, false) => format!("({} OR {})", matches(&pk), matches(&mk)),
                        (false, true) => matches(&pk),
                        _ => matches(&mk),
                    };
                    self.delete_from_target(root, &family, &cond)?;
                }
                for t in &family {
                    self.insert_from_stage(t, None, &[])?;
                }
            }
            WriteDisposition::Merge(MergeStrategy::Scd2) => {
                if !self.staged(root) {
                    return Ok(());
                }
                let mk = self.key_columns(root, &load.merge_key, "merge key")?;
                // Identical records share a content hash: keep one.
                for t in &family {
                    if self.staged(t) {
                        let stage = self.stage_rel(t).render();
                        let sql = format!(
                            "DELETE FROM {stage} WHERE {seq} IN (SELECT {seq} FROM (SELECT {seq}, row_number() OVER (PARTITION BY {id} ORDER BY {seq}) AS rn FROM {stage}) WHERE rn > 1)",
                            seq = q(C_SEQ),
                            id = q(C_ID)
                        );
                        self.exec(&sql, format!("deduplicating the load of {t}"))?;
                    }
                }
                let stage_root = self.stage_rel(root).render();
                let final_root = self.final_rel(root).render();
                let started = self.started_sql.clone();
                if self.in_target(root) {
                    let mut cond = format!(
                        "{to} IS NULL AND {id} NOT IN (SELECT {id} FROM {stage_root})",
                        to = q(C_VALID_TO),
                        id = q(C_ID)
                    );
                    if !mk.is_empty() {
                        let conds: Vec<String> =
                            mk.iter().map(|(k, ty)| format!("{} = d.{}", cast_expr_in("s", k, *ty), q(k))).collect();
                        cond.push_str(&format!(" AND EXISTS (SELECT 1 FROM {stage_root} s WHERE {})", conds.join(" AND ")));
                    }
                    self.exec(
                        &format!("UPDATE {final_root} d SET {} = {started} WHERE {cond}", q(C_VALID_TO)),
                        format!("retiring changed rows of {root}"),
                    )?;
                }
                let root_cond = self
                    .in_target(root)
                    .then(|| format!("s.{id} NOT IN (SELECT {id} FROM {final_root} WHERE {} IS NULL)", q(C_VALID_TO), id = q(C_ID)));
                self.insert_from_stage(root, root_cond.as_deref(), &[(C_VALID_FROM, &started), (C_VALID_TO, "NULL")])?;
                for t in family.iter().skip(1) {
                    let cond = self.in_target(t).then(|| {
                        format!("s.{rid} NOT IN (SELECT {rid} FROM {})", self.final_rel(t).render(), rid = q(C_ROOT_ID))
                    });
                    self.insert_from_stage(t, cond.as_deref(), &[])?;
                }
            }
        }
        Ok(())
    }

    /// Merge (delete-insert by primary key) of a load already appended to
    /// its tables: deletes the rows of records a later record of the same
    /// key superseded, then the rows of earlier loads whose key the load
    /// holds (child rows with their root rows).
    fn merge_direct(&mut self, root: &Arc<str>, load: &ResourceLoad, family: &[String]) -> Result<(), LoadError> {
        if !self.staged(root) {
            return Ok(());
        }
        let pk = self.key_columns(root, &load.primary_key, "primary key")?;
        if pk.is_empty() {
            return Ok(());
        }
        let children: Vec<&String> = family.iter().skip(1).filter(|t| self.in_target(t) || self.staged(t)).collect();
        let final_root = self.final_rel(root).render();
        let superseded = self.load_keys.get_mut(root).map(|k| std::mem::take(&mut k.superseded)).unwrap_or_default();
        for chunk in superseded.chunks(1000) {
            let ids: Vec<String> = chunk.iter().map(|n| self.id_literal(root, self.root_id(*n))).collect();
            let ids = ids.join(", ");
            for t in &children {
                let sql = format!("DELETE FROM {} WHERE {} IN ({ids})", self.final_rel(t).render(), q(C_ROOT_ID));
                self.exec(&sql, format!("deduplicating the load of {t}"))?;
            }
            self.exec(&format!("DELETE FROM {final_root} WHERE {} IN ({ids})", q(C_ID)), format!("deduplicating the load of {root}"))?;
        }
        if self.in_target(root) {
            let load_id = lit(&self.load_id);
            let conds: Vec<String> = pk.iter().map(|(k, _)| format!("s.{k} = d.{k}", k = q(k))).collect();
            let cond = format!(
                "d.{lid} IS DISTINCT FROM {load_id} AND EXISTS (SELECT 1 FROM {final_root} s WHERE s.{lid} = {load_id} AND {})",
                conds.join(" AND "),
                lid = q(C_LOAD_ID)
            );
            self.delete_from_target(root, family, &cond)?;
        }
        Ok(())
    }

    /// Deletes the destination rows of `root` that `cond` (over alias `d`)
    /// matches, their child rows first.
    fn delete_from_target(&mut self, root: &str, family: &[String], cond: &str) -> Result<(), LoadError> {
        let final_root = self.final_rel(root).render();
        let children: Vec<&String> = family.iter().skip(1).filter(|t| self.in_target(t)).collect();
        for t in children {
            let sql = format!(
                "DELETE FROM {} WHERE {} IN (SELECT d.{} FROM {final_root} d WHERE {cond})",
                self.final_rel(t).render(),
                q(C_ROOT_ID),
                q(C_ID)
            );
            self.exec(&sql, format!("merging into {t}"))?;
        }
        self.exec(&format!("DELETE FROM {final_root} d WHERE {cond}"), format!("merging into {root}"))
    }

    fn write_states(&mut self, states: &[CursorState]) -> Result<(), LoadError> {
        let rel = self.final_rel(STATE_TABLE).render();
        for st in states {
            let state = serde_json::json!({ "last_value": st.last_value }).to_string();
            let sql = format!(
                "DELETE FROM {rel} WHERE ingest_name = {ing} AND resource = {res}; \
                 INSERT INTO {rel} (ingest_name, resource, state, load_id, updated_at) VALUES ({ing}, {res}, {}, {}, now())",
                lit(&state),
                lit(&self.load_id),
                ing = lit(&self.ingest),
                res = lit(&st.resource),
            );
            self.exec(&sql, format!("saving the state of resource {}", st.resource))?;
        }
        Ok(())
    }

    /// Records the schema when it changed; returns its hash.
    fn write_schema(&mut self) -> Result<String, LoadError> {
        let mut tables = self.stored.clone();
        for t in self.tables.values() {
            if !t.existed && !t.staging_created {
                continue;
            }
            tables.insert(
                t.name.to_string(),
                TableSchema {
                    name: t.name.to_string(),
                    parent: t.parent.as_ref().map(|p| p.to_string()),
                    root: t.root.to_string(),
                    resource: t.resource.clone(),
                    columns: t.columns.list.iter().map(|(n, ty)| (n.to_string(), *ty)).collect(),
                },
            );
        }
        let schema = StoredSchema { version: StoredSchema::VERSION, tables: tables.into_values().collect() };
        let hash = schema.hash();
        if self.stored_hash.as_deref() != Some(hash.as_str()) {
            let json = serde_json::to_string(&schema).map_err(|e| LoadError::Invalid(format!("schema record: {e}")))?;
            let sql = format!(
                "INSERT INTO {} (ingest_name, version_hash, schema, load_id, inserted_at) VALUES ({}, {}, {}, {}, now())",
                self.final_rel(SCHEMA_TABLE).render(),
                lit(&self.ingest),
                lit(&hash),
                lit(&json),
                lit(&self.load_id)
            );
            self.exec(&sql, "recording the schema")?;
        }
        Ok(hash)
    }

}

impl Drop for Loader<'_> {
    fn drop(&mut self) {
        if !self.finished
            && let Ok(c) = self.conn()
        {
            let _ = c.rollback();
        }
    }
}

fn create_bookkeeping_tables(conn: &mut dyn Connection, database: &str, dataset: &str) -> Result<(), LoadError> {
    let ddl = [
        (STATE_TABLE, "ingest_name VARCHAR, resource VARCHAR, state JSON, load_id VARCHAR, updated_at TIMESTAMP WITH TIME ZONE"),
        (LOADS_TABLE, "load_id VARCHAR, ingest_name VARCHAR, status BIGINT, inserted_at TIMESTAMP WITH TIME ZONE, schema_hash VARCHAR"),
        (SCHEMA_TABLE, "ingest_name VARCHAR, version_hash VARCHAR, schema JSON, load_id VARCHAR, inserted_at TIMESTAMP WITH TIME ZONE"),
    ];
    for (name, cols) in ddl {
        let rel = Relation::new(database, dataset, name);
        conn.execute(&format!("CREATE TABLE IF NOT EXISTS {} ({cols})", rel.render()))
            .map_err(engine(format!("creating {rel}")))?;
    }
    Ok(())
}

/// Where a record came from, for contract errors.
struct Ctx<'x> {
    load: &'x ResourceLoad,
    page: &'x Page,
    record: usize,
}

impl Ctx<'_> {
    fn violation(
        &self,
        entity: ContractEntity,
        table: &str,
        column: Option<&str>,
        value_type: Option<DataType>,
        column_type: Option<DataType>,
    ) -> LoadError {
        let what = match entity {
            ContractEntity::Tables => format!("new table {table}"),
            ContractEntity::Columns => {
                format!("new column {} ({}) in table {table}", column.unwrap_or(""), value_type.map_or("", DataType::name))
            }
            ContractEntity::DataType => format!(
                "a {} value for column {} ({}) of table {table}",
                value_type.map_or("", DataType::name),
                column.unwrap_or(""),
                column_type.map_or("", DataType::name)
            ),
        };
        LoadError::Contract(Box::new(ContractViolation {
            message: format!(
                "schema contract violation: {what} is not allowed ({}: freeze); resource {}, page {} ({}), record {}",
                entity.name(),
                self.load.resource,
                self.page.index,
                self.page.url,
                self.record
            ),
            resource: self.load.resource.clone(),
            page: self.page.index,
            url: self.page.url.clone(),
            record: self.record,
            table: table.to_string(),
            column: column.map(str::to_string),
            value_type,
            column_type,
            entity,
        }))
    }
}

/// `CAST(col AS type)` where staging text becomes a typed value.
fn cast_expr(col: &str, ty: DataType) -> String {
    match ty {
        DataType::Timestamp | DataType::Date | DataType::Json => format!("CAST({} AS {})", q(col), ty.sql()),
        _ => q(col),
    }
}

fn cast_expr_in(alias: &str, col: &str, ty: DataType) -> String {
    match ty {
        DataType::Timestamp | DataType::Date | DataType::Json => format!("CAST({alias}.{} AS {})", q(col), ty.sql()),
        _ => format!("{alias}.{}", q(col)),
    }
}

/// The cursor states stored for `ingest_name` (empty when none were stored yet).
pub fn read_states(conn: &mut dyn Connection, database: &str, schema: &str, ingest_name: &str) -> Result<Vec<CursorState>, LoadError> {
    let rel = Relation::new(database, schema, STATE_TABLE);
    if conn.relation_kind(&rel).map_err(engine(format!("looking up {rel}")))?.is_none() {
        return Ok(Vec::new());
    }
    let r = conn
        .query(&format!(
            "SELECT resource, CAST(state AS VARCHAR) FROM {} WHERE ingest_name = {} ORDER BY resource",
            rel.render(),
            lit(ingest_name)
        ))
        .map_err(engine(format!("reading {rel}")))?;
    let mut out = Vec::new();
    for row in r.rows {
        let resource = row.first().and_then(Value::as_str).unwrap_or_default().to_string();
        let text = row.get(1).and_then(Value::as_str).unwrap_or("{}");
        let state: Value = serde_json::from_str(text)
            .map_err(|e| LoadError::Invalid(format!("state of resource {resource} in {rel} is not JSON: {e}")))?;
        out.push(CursorState { resource, last_value: state.get("last_value").cloned().unwrap_or(Value::Null) });
    }
    Ok(out)
}

/// A 128-bit id: two 64-bit FNV-1a hashes with different offsets, each
/// finished with a SplitMix64 mix (fast, stable across builds; uniqueness,
/// not secrecy, is what ids need).
fn id128(parts: &[&[u8]]) -> u128 {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in parts {
        for &byte in *part {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
        }
        // Separate parts so ("ab","c") and ("a","bc") differ.
        a = (a ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ 0xfe).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (u128::from(mix(a)) << 64) | u128::from(mix(b ^ a.rotate_left(17)))
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The scd2 row id: SHA-256 of the record's JSON, first 128 bits.
fn content_id(record: Record<'_>) -> u128 {
    use sha2::Digest;
    let mut json = String::new();
    record.write_json(&mut json);
    let digest = sha2::Sha256::digest(json.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes)
}

/// An id as 22 URL-safe base64 characters: the form of text id columns.
fn encode_id(mut v: u128) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::with_capacity(22);
    for _ in 0..22 {
        s.push(ALPHABET[(v & 63) as usize] as char);
        v >>= 6;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_stable() {
        let a = id128(&[b"ab", b"c"]);
        let b = id128(&[b"a", b"bc"]);
        assert_ne!(a, b);
        assert_eq!(a, id128(&[b"ab", b"c"]));
        assert_eq!(encode_id(a).len(), 22);
        let ids: HashSet<u128> = (0u64..100_000).map(|i| id128(&[&7u128.to_le_bytes(), &i.to_le_bytes()])).collect();
        assert_eq!(ids.len(), 100_000);
        let v = [serde_json::json!({"a": 1, "b": [1.5, "x\n"], "c": {"d": null}}), serde_json::json!({"a": 2})];
        let recs = crate::ingest::Records::from_values(&v);
        let id = |i: usize| recs.get(i).map(content_id).unwrap_or_default();
        assert_ne!(id(0), id(1));
        // The hash of the record's JSON text as serde_json writes it, in the
        // text form earlier versions stored, so that scd2 tables they loaded
        // (text id columns) keep matching.
        assert_eq!(v[0].to_string(), r#"{"a":1,"b":[1.5,"x\n"],"c":{"d":null}}"#);
        assert_eq!(encode_id(id(0)), "gA1hVszldd7q-RVRAsBPyC");
    }
}
