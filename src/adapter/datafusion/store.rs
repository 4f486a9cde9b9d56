//! What the DataFusion engine stores: a catalog of schemas, tables and views,
//! tables as Parquet files, and the committed state shared by every
//! connection of one adapter.
//!
//! On disk (the profile's `path`, a directory):
//! - `catalog.json`: the whole catalog (schemas; tables as lists of Parquet
//!   files; views as SQL), replaced atomically (write + rename);
//! - `catalog.log`: one JSON line per commit since `catalog.json` was
//!   written. Replaying it on open gives the committed state; a torn last
//!   line (a crash mid-append) is ignored, so a commit is all or nothing.
//!   Appending a line per commit keeps a commit O(its own changes) instead
//!   of rewriting the catalog 2,400 times in a 1,000-model build;
//! - `data/*.parquet`: table data. A table is a list of segments (an INSERT
//!   adds one; DELETE, UPDATE and MERGE rewrite the table as one). A file is
//!   written when the transaction that made it commits and never changed
//!   later; files the catalog no longer names are deleted by the next
//!   compaction (when a store is opened, or dropped).
//! - `.lock`: held exclusively while an adapter is open, so two processes
//!   cannot interleave commits.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::adapter::{AdapterError, AdapterResult};

const FORMAT: &str = "rdbt-datafusion-catalog/1";

/// Part of a table's rows: batches in memory, a Parquet file on disk, or both.
#[derive(Debug)]
pub(crate) struct Segment {
    pub rows: usize,
    /// Relative to the store's root, once written.
    file: OnceLock<String>,
    batches: OnceLock<Arc<Vec<RecordBatch>>>,
}

impl Segment {
    pub fn in_memory(batches: Vec<RecordBatch>) -> Segment {
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let cell = OnceLock::new();
        let _ = cell.set(Arc::new(batches));
        Segment { rows, file: OnceLock::new(), batches: cell }
    }
    fn on_disk(file: String, rows: usize) -> Segment {
        let cell = OnceLock::new();
        let _ = cell.set(file);
        Segment { rows, file: cell, batches: OnceLock::new() }
    }
    pub fn file(&self) -> Option<&str> {
        self.file.get().map(String::as_str)
    }
}

#[derive(Debug)]
pub(crate) struct TableData {
    pub schema: SchemaRef,
    pub segments: Vec<Arc<Segment>>,
}

impl TableData {
    pub fn rows(&self) -> usize {
        self.segments.iter().map(|s| s.rows).sum()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Table(Arc<TableData>),
    View(Arc<String>),
}

impl Entry {
    pub fn kind(&self) -> crate::adapter::RelationKind {
        match self {
            Entry::Table(_) => crate::adapter::RelationKind::Table,
            Entry::View(_) => crate::adapter::RelationKind::View,
        }
    }
}

/// A relation under its name as created (lookups ignore case, as DuckDB's).
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub name: String,
    pub entry: Entry,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SchemaEntry {
    pub name: String,
    pub relations: BTreeMap<String, Named>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub schemas: BTreeMap<String, SchemaEntry>,
}

/// Which committed entry a transaction started from (its data's address):
/// equal identities mean nothing changed in between.
pub(crate) fn identity(entry: &Entry) -> usize {
    match entry {
        Entry::Table(t) => Arc::as_ptr(t) as usize,
        Entry::View(v) => Arc::as_ptr(v) as usize,
    }
}

pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

/// One change of a transaction, replayed onto the committed catalog at COMMIT.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    CreateSchema(String),
    DropSchema(String),
    Put { schema: String, name: String, entry: Entry },
    Remove { schema: String, name: String },
}

impl Catalog {
    pub fn get(&self, schema: &str, name: &str) -> Option<&Named> {
        self.schemas.get(&key(schema))?.relations.get(&key(name))
    }
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::CreateSchema(s) => {
                self.schemas.entry(key(s)).or_insert_with(|| SchemaEntry { name: s.clone(), relations: BTreeMap::new() });
            }
            Op::DropSchema(s) => {
                self.schemas.remove(&key(s));
            }
            Op::Put { schema, name, entry } => {
                let s = self.schemas.entry(key(schema)).or_insert_with(|| SchemaEntry { name: schema.clone(), relations: BTreeMap::new() });
                s.relations.insert(key(name), Named { name: name.clone(), entry: entry.clone() });
            }
            Op::Remove { schema, name } => {
                if let Some(s) = self.schemas.get_mut(&key(schema)) {
                    s.relations.remove(&key(name));
                }
            }
        }
    }
}

/// The committed state of one database and, when it has a path, its files.
#[derive(Debug)]
pub(crate) struct Store {
    root: Option<PathBuf>,
    pub committed: RwLock<Catalog>,
    /// Serialises commits (log appends and catalog updates).
    log: Mutex<Option<File>>,
    _lock: Option<File>,
}

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> AdapterError {
    AdapterError::new(format!("{what} {}: {e}", path.display()))
}

impl Store {
    pub fn in_memory() -> Store {
        Store { root: None, committed: RwLock::new(Catalog::default()), log: Mutex::new(None), _lock: None }
    }

    /// Opens (or creates) the store under `root`.
    pub fn open(root: &Path) -> AdapterResult<Store> {
        std::fs::create_dir_all(root.join("data")).map_err(|e| io_err("cannot create", root, e))?;
        let lock_path = root.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| io_err("cannot create", &lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(AdapterError::new(format!(
                "the DataFusion database at {} is in use by another rdbt process",
                root.display()
            )));
        }
        let mut catalog = Catalog::default();
        let snapshot = root.join("catalog.json");
        if snapshot.exists() {
            let text = std::fs::read_to_string(&snapshot).map_err(|e| io_err("cannot read", &snapshot, e))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| io_err("corrupt catalog", &snapshot, e))?;
            if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
                return Err(io_err("unknown catalog format in", &snapshot, v.get("format").cloned().unwrap_or(Value::Null)));
            }
            load_snapshot(root, &v, &mut catalog)?;
        }
        let log_path = root.join("catalog.log");
        if log_path.exists() {
            let f = File::open(&log_path).map_err(|e| io_err("cannot read", &log_path, e))?;
            let lines: Vec<String> = std::io::BufReader::new(f).lines().collect::<Result<_, _>>().map_err(|e| io_err("cannot read", &log_path, e))?;
            for (i, line) in lines.iter().enumerate() {
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => {
                        for op in v.get("ops").and_then(Value::as_array).into_iter().flatten() {
                            catalog.apply(&op_from_json(root, op)?);
                        }
                    }
                    // A torn last line is a commit that did not finish.
                    Err(_) if i + 1 == lines.len() => break,
                    Err(e) => return Err(io_err(&format!("corrupt line {} of", i + 1), &log_path, e)),
                }
            }
        }
        let store = Store { root: Some(root.to_path_buf()), committed: RwLock::new(catalog), log: Mutex::new(None), _lock: Some(lock) };
        store.compact()?;
        Ok(store)
    }

    /// Makes `ops` durable (Parquet files, then one log line) and visible,
    /// unless a relation in `bases` changed since the transaction read it.
    pub fn commit(&self, ops: &[Op], bases: &std::collections::HashMap<(String, String), Option<Entry>>) -> AdapterResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        if let Some(root) = &self.root {
            for op in ops {
                if let Op::Put { entry: Entry::Table(t), .. } = op {
                    for seg in &t.segments {
                        write_segment(root, &t.schema, seg)?;
                    }
                }
            }
        }
        let mut log = self.log.lock().map_err(|_| AdapterError::new("catalog log lock poisoned"))?;
        {
            let committed = self.committed.read().map_err(|_| AdapterError::new("catalog lock poisoned"))?;
            for ((schema, name), base) in bases {
                let now = committed.get(schema, name).map(|r| identity(&r.entry));
                if now != base.as_ref().map(identity) {
                    return Err(AdapterError::new(format!(
                        "TransactionContext Error: Conflict on {schema}.{name}: another connection changed it since this transaction read it"
                    )));
                }
            }
        }
        if let Some(root) = &self.root {
            if log.is_none() {
                let path = root.join("catalog.log");
                *log = Some(
                    std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_err("cannot open", &path, e))?,
                );
            }
            let line = json!({ "ops": ops.iter().map(op_to_json).collect::<Vec<_>>() });
            let mut text = line.to_string();
            text.push('\n');
            if let Some(f) = log.as_mut() {
                let before = f.metadata().map(|m| m.len()).unwrap_or(0);
                if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.sync_data()) {
                    // A partial line would hide every later commit from the
                    // replay: cut it off, and fail this commit.
                    let _ = f.set_len(before);
                    *log = None;
                    return Err(io_err("cannot write", &root.join("catalog.log"), e));
                }
            }
        }
        let mut committed = self.committed.write().map_err(|_| AdapterError::new("catalog lock poisoned"))?;
        for op in ops {
            committed.apply(op);
        }
        Ok(())
    }

    /// Writes the whole catalog to `catalog.json` (atomically), empties the
    /// log and deletes Parquet files the catalog no longer names.
    pub fn compact(&self) -> AdapterResult<()> {
        let Some(root) = &self.root else { return Ok(()) };
        let mut log = self.log.lock().map_err(|_| AdapterError::new("catalog log lock poisoned"))?;
        let catalog = self.committed.read().map_err(|_| AdapterError::new("catalog lock poisoned"))?;
        let mut referenced = HashSet::new();
        let mut schemas = serde_json::Map::new();
        for s in catalog.schemas.values() {
            let mut relations = serde_json::Map::new();
            for r in s.relations.values() {
                let v = entry_to_json(&r.name, &r.entry);
                if let Entry::Table(t) = &r.entry {
                    referenced.extend(t.segments.iter().filter_map(|seg| seg.file().map(str::to_string)));
                }
                relations.insert(key(&r.name), v);
            }
            schemas.insert(key(&s.name), json!({ "name": s.name, "relations": relations }));
        }
        let doc = json!({ "format": FORMAT, "schemas": schemas });
        let path = root.join("catalog.json");
        let tmp = root.join("catalog.json.tmp");
        let text = serde_json::to_string_pretty(&doc).map_err(|e| AdapterError::new(e.to_string()))?;
        {
            let mut f = File::create(&tmp).map_err(|e| io_err("cannot write", &tmp, e))?;
            f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| io_err("cannot write", &tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io_err("cannot write", &path, e))?;
        *log = None;
        let log_path = root.join("catalog.log");
        if log_path.exists() {
            std::fs::remove_file(&log_path).map_err(|e| io_err("cannot remove", &log_path, e))?;
        }
        if let Ok(dir) = std::fs::read_dir(root.join("data")) {
            for f in dir.flatten() {
                let rel = format!("data/{}", f.file_name().to_string_lossy());
                if rel.ends_with(".parquet") && !referenced.contains(&rel) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        Ok(())
    }

    /// The batches of a segment, read from its file the first time.
    pub fn batches(&self, seg: &Segment) -> AdapterResult<Arc<Vec<RecordBatch>>> {
        if let Some(b) = seg.batches.get() {
            return Ok(b.clone());
        }
        let (Some(root), Some(file)) = (&self.root, seg.file()) else {
            return Err(AdapterError::new("table segment has neither data nor a file"));
        };
        let (_, batches) = read_parquet(&root.join(file))?;
        let arc = Arc::new(batches);
        let _ = seg.batches.set(arc.clone());
        Ok(arc)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.compact();
    }
}

fn write_segment(root: &Path, schema: &SchemaRef, seg: &Segment) -> AdapterResult<()> {
    if seg.file().is_some() {
        return Ok(());
    }
    let Some(batches) = seg.batches.get() else { return Err(AdapterError::new("table segment has no data")) };
    let rel = format!("data/{}.parquet", uuid::Uuid::new_v4().simple());
    let path = root.join(&rel);
    let file = File::create(&path).map_err(|e| io_err("cannot create", &path, e))?;
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| io_err("cannot write", &path, e))?;
    for b in batches.iter() {
        writer.write(b).map_err(|e| io_err("cannot write", &path, e))?;
    }
    writer.finish().map_err(|e| io_err("cannot write", &path, e))?;
    writer.inner_mut().sync_data().map_err(|e| io_err("cannot write", &path, e))?;
    let _ = seg.file.set(rel);
    Ok(())
}

fn read_parquet(path: &Path) -> AdapterResult<(SchemaRef, Vec<RecordBatch>)> {
    let file = File::open(path).map_err(|e| io_err("cannot read", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| io_err("cannot read", path, e))?;
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(8192).build().map_err(|e| io_err("cannot read", path, e))?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| io_err("cannot read", path, e))?;
    Ok((schema, batches))
}

fn parquet_schema(path: &Path) -> AdapterResult<SchemaRef> {
    let file = File::open(path).map_err(|e| io_err("cannot read", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| io_err("cannot read", path, e))?;
    Ok(builder.schema().clone())
}

fn entry_to_json(name: &str, entry: &Entry) -> Value {
    match entry {
        Entry::Table(t) => json!({
            "name": name,
            "type": "table",
            "files": t.segments.iter().map(|s| json!({ "file": s.file(), "rows": s.rows })).collect::<Vec<_>>(),
        }),
        Entry::View(sql) => json!({ "name": name, "type": "view", "sql": sql.as_str() }),
    }
}

fn entry_from_json(root: &Path, v: &Value) -> AdapterResult<Entry> {
    let bad = || AdapterError::new(format!("corrupt catalog entry in {}: {v}", root.display()));
    match v.get("type").and_then(Value::as_str) {
        Some("view") => Ok(Entry::View(Arc::new(v.get("sql").and_then(Value::as_str).ok_or_else(bad)?.to_string()))),
        Some("table") => {
            let mut segments = Vec::new();
            let mut schema = None;
            for f in v.get("files").and_then(Value::as_array).ok_or_else(bad)? {
                let file = f.get("file").and_then(Value::as_str).ok_or_else(bad)?.to_string();
                let rows = f.get("rows").and_then(Value::as_u64).unwrap_or(0) as usize;
                if schema.is_none() {
                    schema = Some(parquet_schema(&root.join(&file))?);
                }
                segments.push(Arc::new(Segment::on_disk(file, rows)));
            }
            let schema = schema.ok_or_else(bad)?;
            Ok(Entry::Table(Arc::new(TableData { schema, segments })))
        }
        _ => Err(bad()),
    }
}

fn load_snapshot(root: &Path, v: &Value, catalog: &mut Catalog) -> AdapterResult<()> {
    for s in v.get("schemas").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
        let name = s.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        catalog.apply(&Op::CreateSchema(name.clone()));
        for r in s.get("relations").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
            let rname = r.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let entry = entry_from_json(root, r)?;
            catalog.apply(&Op::Put { schema: name.clone(), name: rname, entry });
        }
    }
    Ok(())
}

fn op_to_json(op: &Op) -> Value {
    match op {
        Op::CreateSchema(s) => json!({ "create_schema": s }),
        Op::DropSchema(s) => json!({ "drop_schema": s }),
        Op::Put { schema, name, entry } => json!({ "put": { "schema": schema, "relation": entry_to_json(name, entry) } }),
        Op::Remove { schema, name } => json!({ "remove": { "schema": schema, "name": name } }),
    }
}

fn op_from_json(root: &Path, v: &Value) -> AdapterResult<Op> {
    let bad = || AdapterError::new(format!("corrupt catalog log entry in {}: {v}", root.display()));
    if let Some(s) = v.get("create_schema").and_then(Value::as_str) {
        return Ok(Op::CreateSchema(s.to_string()));
    }
    if let Some(s) = v.get("drop_schema").and_then(Value::as_str) {
        return Ok(Op::DropSchema(s.to_string()));
    }
    if let Some(p) = v.get("put") {
        let schema = p.get("schema").and_then(Value::as_str).ok_or_else(bad)?.to_string();
        let rel = p.get("relation").ok_or_else(bad)?;
        let name = rel.get("name").and_then(Value::as_str).ok_or_else(bad)?.to_string();
        return Ok(Op::Put { schema, name, entry: entry_from_json(root, rel)? });
    }
    if let Some(r) = v.get("remove") {
        let schema = r.get("schema").and_then(Value::as_str).ok_or_else(bad)?.to_string();
        let name = r.get("name").and_then(Value::as_str).ok_or_else(bad)?.to_string();
        return Ok(Op::Remove { schema, name });
    }
    Err(bad())
}
