//! DuckDB through the `duckdb` crate.
//!
//! One `DuckDbAdapter` owns the database instance; every worker thread gets a
//! `DuckDbConnection` cloned from it (`Connection::try_clone`), so all workers
//! see one catalog and one transaction manager.
//!
//! Query results are converted to JSON as follows:
//! - integers → JSON numbers (HUGEINT/UHUGEINT outside the 64-bit range → decimal strings);
//! - DECIMAL → JSON number when the value has at most 15 significant digits
//!   (so the `f64` prints back exactly), otherwise an exact decimal string;
//! - FLOAT/DOUBLE → numbers, `NaN`/`inf`/`-inf` → the strings `nan`, `inf`, `-inf`;
//! - DATE, TIME, TIMESTAMP, INTERVAL, BLOB, UUID → strings formatted like DuckDB's
//!   own cast to VARCHAR (TIMESTAMPTZ is rendered in UTC with a `+00` suffix);
//! - LIST/ARRAY → arrays, STRUCT → objects, MAP → object when every key is a
//!   string, else an array of `{"key", "value"}` objects; ENUM → string.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};

use duckdb::core::{LogicalTypeHandle, LogicalTypeId};
use duckdb::types::{TimeUnit, Value as DValue};
use serde_json::{Map, Value};

use super::duckdb_scan::{ColumnScan, ScanSlot};
use super::relation_cache::{self, CacheOp, RelationCache};
use super::values::{decimal_json, float_json, map_json, format_blob, format_date, format_interval, format_time, format_timestamp, format_uuid};

use super::{
    Adapter, AdapterError, ColumnValues, AdapterResponse, AdapterResult, Column, Connection, QueryResult, Relation, RelationKind,
};

fn err(e: duckdb::Error) -> AdapterError {
    AdapterError::new(e.to_string())
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The DuckDB engine: one database instance shared by all connections.
pub struct DuckDbAdapter {
    base: Mutex<duckdb::Connection>,
    database: String,
    settings: Vec<String>,
    /// DuckDB's thread count as opened (its default: the machine's cores),
    /// or None when the profile sizes the pool itself.
    pool_threads: Option<usize>,
    /// Shared by every connection of this database.
    cache: Arc<Mutex<RelationCache>>,
    /// Schemas known to exist; creating one holds this lock, because two
    /// concurrent `CREATE SCHEMA IF NOT EXISTS` conflict in DuckDB.
    schemas: Arc<Mutex<std::collections::HashSet<(String, String)>>>,
}

impl std::fmt::Debug for DuckDbAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckDbAdapter").field("database", &self.database).finish()
    }
}

/// The storage compatibility new database files are written with, unless the
/// profile names one. DuckDB's own default (v0.10.2) serializes each column's
/// distinct-count sketch in an older layout, converting it register by
/// register at every checkpoint; from v1.1.0 the sketch is written as kept
/// (on a build of 1,000 small models that conversion was about 14% of the
/// wall time). From v1.3.0 strings are compressed by one scheme (DICT_FSST)
/// rather than analysed for dictionary and FSST compression each, which took
/// the same build's checkpoint from 0.23 to 0.17 CPU seconds
/// (`scripts/duckdb_floor.py`) and the build from 1.18 to 1.13 s. Files
/// written this way need DuckDB 1.3 (May 2025) or later; files that already
/// exist keep being written as before.
pub const NEW_FILE_STORAGE_VERSION: &str = "v1.3.0";

/// Settings of DuckDB's thread pool: when the profile sets one, rdbt leaves
/// the pool alone (see `Adapter::engine_threads`).
const THREAD_SETTINGS: [&str; 4] = ["threads", "worker_threads", "external_threads", "scheduler_process_partial"];

/// A `config_options` value as DuckDB's config takes it: text, a number or
/// a boolean; anything else is refused with the option's name.
fn config_value(key: &str, v: &Value) -> AdapterResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
        other => Err(AdapterError::new(format!("config_options.{key}: expected text, a number or a boolean, found {other}"))),
    }
}

impl DuckDbAdapter {
    /// Opens `path` (a file, created if missing, or `:memory:`), LOADs the
    /// `extensions` (INSTALLing them when they are not installed yet) and
    /// applies `settings` with `SET`.
    pub fn open(path: &str, extensions: &[String], settings: &Map<String, Value>) -> AdapterResult<DuckDbAdapter> {
        DuckDbAdapter::open_with_config(path, extensions, settings, &Map::new())
    }

    /// `open`, with `config_options` (the profile key dbt-duckdb passes to
    /// `duckdb.connect(config=...)`) given to DuckDB when the database opens:
    /// options such as `storage_compatibility_version` or `default_block_size`
    /// only take effect there.
    pub fn open_with_config(
        path: &str,
        extensions: &[String],
        settings: &Map<String, Value>,
        config_options: &Map<String, Value>,
    ) -> AdapterResult<DuckDbAdapter> {
        // Whether the profile names one of `keys`, as a setting or a config option.
        let profile_names = |keys: &[&str]| [settings, config_options].iter().any(|m| m.keys().any(|k| keys.iter().any(|t| k.eq_ignore_ascii_case(t))));
        let profile_sizes_pool = profile_names(&THREAD_SETTINGS);
        let in_memory = path.is_empty() || path == ":memory:" || path.starts_with(":memory:");
        let mut config = duckdb::Config::default();
        for (k, v) in config_options {
            config = config.with(k, config_value(k, v)?).map_err(|e| AdapterError::new(format!("config_options.{k}: {e}")))?;
        }
        // `md:` (MotherDuck) and other `scheme:` paths are not files rdbt creates.
        let remote = path.split_once(':').is_some_and(|(scheme, _)| scheme.len() > 1 && scheme.chars().all(|c| c.is_ascii_alphanumeric()));
        if !in_memory && !remote && !Path::new(path).exists() && !profile_names(&["storage_compatibility_version"]) {
            config = config.with("storage_compatibility_version", NEW_FILE_STORAGE_VERSION).map_err(err)?;
        }
        // Unknown config_options surface here, as DuckDB opens.
        let opening = |e: duckdb::Error| AdapterError::new(format!("cannot open the DuckDB database {path}: {e}"));
        let conn = if in_memory {
            duckdb::Connection::open_in_memory_with_flags(config).map_err(opening)?
        } else {
            if let Some(parent) = Path::new(path).parent()
                && !parent.as_os_str().is_empty()
                && !parent.exists()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| AdapterError::new(format!("cannot create directory {}: {e}", parent.display())))?;
            }
            duckdb::Connection::open_with_flags(path, config).map_err(opening)?
        };
        for ext in extensions {
            let name = ext.trim();
            if name.is_empty() {
                continue;
            }
            let load = format!("LOAD {}", quote_ident(name));
            if conn.execute_batch(&load).is_err() {
                conn.execute_batch(&format!("INSTALL {}", quote_ident(name)))
                    .and_then(|_| conn.execute_batch(&load))
                    .map_err(|e| AdapterError::new(format!("cannot load DuckDB extension {name}: {e}")))?;
            }
        }
        let settings: Vec<String> = settings
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => quote_literal(s),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::Null => "NULL".to_string(),
                    other => quote_literal(&other.to_string()),
                };
                format!("SET {} = {value}", quote_ident(k))
            })
            .collect();
        for s in &settings {
            conn.execute_batch(s).map_err(|e| AdapterError::new(format!("{s}: {e}")))?;
        }
        let database: String = conn.query_row("SELECT current_database()", [], |r| r.get(0)).map_err(err)?;
        let pool_threads = if profile_sizes_pool {
            None
        } else {
            let n: i64 = conn.query_row("SELECT current_setting('threads')", [], |r| r.get(0)).map_err(err)?;
            usize::try_from(n).ok().filter(|n| *n > 0)
        };
        Ok(DuckDbAdapter {
            base: Mutex::new(conn),
            database,
            settings,
            pool_threads,
            cache: Arc::new(Mutex::new(RelationCache::default())),
            schemas: Default::default(),
        })
    }

    /// A concrete connection (the trait's `connect` boxes this).
    pub fn connection(&self) -> AdapterResult<DuckDbConnection> {
        let base = self.base.lock().map_err(|_| AdapterError::new("DuckDB connection lock poisoned"))?;
        let conn = base.try_clone().map_err(err)?;
        drop(base);
        for s in &self.settings {
            // Session-scoped settings must be repeated on every connection;
            // global ones are idempotent.
            conn.execute_batch(s).map_err(|e| AdapterError::new(format!("{s}: {e}")))?;
        }
        Ok(DuckDbConnection {
            conn,
            in_transaction: false,
            cache: self.cache.clone(),
            pending: Vec::new(),
            database: self.database.clone(),
            known_schemas: self.schemas.clone(),
            scan: None,
            scan_uncommitted: false,
            pool_threads: self.pool_threads,
        })
    }
}

impl Adapter for DuckDbAdapter {
    fn type_name(&self) -> &'static str {
        "duckdb"
    }
    fn database(&self) -> &str {
        &self.database
    }
    fn connect(&self) -> AdapterResult<Box<dyn Connection>> {
        Ok(Box::new(self.connection()?))
    }
    /// DuckDB runs a query's tasks on the calling thread and on its own pool
    /// of `threads - 1` workers. While several nodes run at once, their
    /// calling threads already keep the cores busy, and the pool's workers
    /// only take small tasks away from them: handing a task over and waiting
    /// for it cost a build of 1,000 small models about a seventh of its wall
    /// time. So the pool shrinks by one thread per further node running, and
    /// gets every thread back when a node runs alone.
    fn engine_threads(&self, concurrent_nodes: usize) -> Option<usize> {
        let cores = self.pool_threads?;
        Some(cores.saturating_sub(concurrent_nodes.saturating_sub(1)).max(1))
    }
    fn checkpoint(&self) -> AdapterResult<()> {
        // On a connection of its own: the shared one stays free for
        // `connect` while the checkpoint runs beside other nodes.
        let conn = {
            let base = self.base.lock().map_err(|_| AdapterError::new("DuckDB connection lock poisoned"))?;
            base.try_clone().map_err(err)?
        };
        let started = std::time::Instant::now();
        let done = conn.execute_batch("CHECKPOINT").map_err(err);
        // A refused checkpoint (other writes active) is logged as such: the
        // build's early checkpoint may be refused and tried again.
        log_sql(if done.is_ok() { "CHECKPOINT" } else { "CHECKPOINT -- refused" }, started);
        done
    }
}

/// A session on the shared DuckDB database.
pub struct DuckDbConnection {
    conn: duckdb::Connection,
    in_transaction: bool,
    cache: Arc<Mutex<RelationCache>>,
    /// Catalog changes of the open transaction, applied to the shared cache
    /// on COMMIT and dropped on ROLLBACK.
    pending: Vec<CacheOp>,
    /// `current_database()`, for relations written without a database.
    database: String,
    /// Schemas known to exist (shared with the adapter's other connections).
    known_schemas: Arc<Mutex<std::collections::HashSet<(String, String)>>>,
    /// The table function `append_columns` reads batches through, once
    /// registered: (function name, the slot batches are lent in).
    scan: Option<(String, Arc<ScanSlot>)>,
    /// The function was registered in the open transaction: DuckDB drops it
    /// again if that transaction rolls back.
    scan_uncommitted: bool,
    /// The adapter's `pool_threads`: the pool's full size.
    pool_threads: Option<usize>,
}

static STAGE_COUNTER: AtomicU64 = AtomicU64::new(0);
static SCAN_COUNTER: AtomicU64 = AtomicU64::new(0);

impl DuckDbConnection {
    /// This connection's column-scan function, registered on first use (the
    /// name is unique per connection, so connections never share a slot).
    fn column_scan(&mut self) -> AdapterResult<(String, Arc<ScanSlot>)> {
        if let Some((name, slot)) = &self.scan {
            return Ok((name.clone(), slot.clone()));
        }
        let name = format!("rdbt_append_scan_{}", SCAN_COUNTER.fetch_add(1, Ordering::Relaxed));
        let slot = Arc::new(ScanSlot::default());
        self.conn
            .register_table_function_with_extra_info::<ColumnScan, _>(&name, &slot)
            .map_err(|e| AdapterError::new(format!("cannot register {name}: {e}")))?;
        self.scan = Some((name.clone(), slot.clone()));
        self.scan_uncommitted = self.in_transaction;
        Ok((name, slot))
    }

    fn create_schema_uncached(&mut self, database: &str, schema: &str) -> AdapterResult<()> {
        let exists = |conn: &duckdb::Connection| -> AdapterResult<bool> {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM duckdb_schemas() WHERE lower(database_name) = lower(coalesce(nullif(?, ''), current_database())) AND lower(schema_name) = lower(?)",
                    [database, schema],
                    |r| r.get(0),
                )
                .map_err(err)?;
            Ok(n > 0)
        };
        if exists(&self.conn)? {
            return Ok(());
        }
        let target = if database.is_empty() {
            quote_ident(schema)
        } else {
            format!("{}.{}", quote_ident(database), quote_ident(schema))
        };
        match self.conn.execute_batch(&format!("CREATE SCHEMA IF NOT EXISTS {target}")) {
            Ok(()) => Ok(()),
            // Another worker created it at the same time.
            Err(e) => {
                if exists(&self.conn).unwrap_or(false) {
                    Ok(())
                } else {
                    Err(err(e))
                }
            }
        }
    }

    /// Records the catalog effect of a statement that succeeded.
    fn note_ddl(&mut self, sql: &str) {
        let ops = relation_cache::ops_for_sql(sql);
        if ops.contains(&CacheOp::InvalidateAll) {
            if let Ok(mut k) = self.known_schemas.lock() {
                k.clear();
            }
        }
        let was_in_txn = self.in_transaction;
        if !ops.is_empty() {
            if was_in_txn {
                self.pending.extend(ops);
            } else if let Ok(mut c) = self.cache.lock() {
                ops.iter().for_each(|op| c.apply(op));
            }
        }
        track_transaction(sql, &mut self.in_transaction);
        if was_in_txn && !self.in_transaction {
            let rolled_back = sql.split(';').any(|st| {
                let w = st.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                w == "ROLLBACK" || w == "ABORT"
            });
            self.finish_transaction(!rolled_back);
        }
    }

    fn finish_transaction(&mut self, committed: bool) {
        if std::mem::take(&mut self.scan_uncommitted) && !committed {
            self.scan = None;
        }
        let pending = std::mem::take(&mut self.pending);
        if committed {
            if let Ok(mut c) = self.cache.lock() {
                pending.iter().for_each(|op| c.apply(op));
            }
        }
    }

    fn uncached_relation_kind(&mut self, relation: &Relation) -> AdapterResult<Option<RelationKind>> {
        let _log = LogOnDrop("-- relation_kind (catalog)", std::time::Instant::now());
        let mut stmt = self
            .conn
            .prepare(
                "SELECT table_type FROM information_schema.tables \
                 WHERE lower(table_catalog) = lower(coalesce(nullif(?, ''), current_database())) AND lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
            )
            .map_err(err)?;
        let mut rows = stmt
            .query([relation.database.as_str(), relation.schema.as_str(), relation.identifier.as_str()])
            .map_err(err)?;
        match rows.next().map_err(err)? {
            Some(row) => {
                let t: String = row.get(0).map_err(err)?;
                Ok(Some(Self::kind_of(&t)))
            }
            None => Ok(None),
        }
    }

    fn kind_of(table_type: &str) -> RelationKind {
        if table_type.eq_ignore_ascii_case("VIEW") { RelationKind::View } else { RelationKind::Table }
    }

    fn strip_sql(select_sql: &str) -> &str {
        select_sql.trim_end().trim_end_matches(';').trim_end()
    }

    /// Rows appended to a VARCHAR staging table, then cast into `relation`
    /// with DuckDB's own casts (the same rules its CSV reader applies).
    fn insert_staged(&mut self, relation: &Relation, columns: &[Column], rows: &[Vec<Value>]) -> AdapterResult<u64> {
        let n = STAGE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let stage = format!("rdbt_stage_{}_{n}", std::process::id());
        // `n` numbers the rows (rowids of transaction-local rows are not 0-based).
        let mut defs: Vec<String> = vec!["n BIGINT".to_string()];
        defs.extend((0..columns.len()).map(|i| format!("c{i} VARCHAR")));
        self.conn
            .execute_batch(&format!("CREATE TEMP TABLE {} ({})", quote_ident(&stage), defs.join(", ")))
            .map_err(err)?;
        let result = self.fill_stage(&stage, relation, columns, rows);
        let _ = self.conn.execute_batch(&format!("DROP TABLE IF EXISTS temp.main.{}", quote_ident(&stage)));
        result
    }

    fn fill_stage(&mut self, stage: &str, relation: &Relation, columns: &[Column], rows: &[Vec<Value>]) -> AdapterResult<u64> {
        {
            let mut app = self.conn.appender_to_catalog_and_db(stage, "temp", "main").map_err(err)?;
            let mut cells: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(columns.len() + 1);
            for (i, row) in rows.iter().enumerate() {
                if row.len() > columns.len() {
                    return Err(AdapterError::new(format!(
                        "row {} has {} values but {} has {} columns",
                        i + 1,
                        row.len(),
                        relation,
                        columns.len()
                    )));
                }
                cells.clear();
                cells.push(Some(Cow::Owned(i.to_string())));
                for c in 0..columns.len() {
                    cells.push(row.get(c).and_then(json_to_text));
                }
                app.append_row(duckdb::appender_params_from_iter(cells.iter().map(|c| c.as_deref())))
                    .map_err(err)?;
            }
            app.flush().map_err(err)?;
        }
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let casts: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| if c.data_type.is_empty() { format!("c{i}") } else { format!("CAST(c{i} AS {})", c.data_type) })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM temp.main.{} ORDER BY n",
            relation.render(),
            names.join(", "),
            casts.join(", "),
            quote_ident(stage)
        );
        self.check_casts(stage, columns)?;
        self.conn.execute(&sql, []).map(|n| n as u64).map_err(err)
    }

    /// Finds the first value that does not cast to its column's type before
    /// inserting anything (a failed statement would abort the caller's
    /// transaction), so the error names it: `... (row 3, column "amount")`,
    /// rows 1-based among the inserted rows.
    fn check_casts(&self, stage: &str, columns: &[Column]) -> AdapterResult<()> {
        let probes: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if c.data_type.is_empty() {
                    "NULL::BIGINT".to_string()
                } else {
                    format!("min(CASE WHEN c{i} IS NOT NULL AND TRY_CAST(c{i} AS {}) IS NULL THEN n END)", c.data_type)
                }
            })
            .collect();
        let sql = format!("SELECT {} FROM temp.main.{}", probes.join(", "), quote_ident(stage));
        let firsts: Vec<Option<i64>> = self
            .conn
            .query_row(&sql, [], |r| (0..columns.len()).map(|i| r.get::<_, Option<i64>>(i)).collect())
            .map_err(err)?;
        let Some((row, col)) =
            firsts.iter().enumerate().filter_map(|(i, r)| r.map(|r| (r, i))).min_by_key(|&(r, i)| (r, i))
        else {
            return Ok(());
        };
        let value: Option<String> = self
            .conn
            .query_row(&format!("SELECT c{col} FROM temp.main.{} WHERE n = ?", quote_ident(stage)), [row], |r| r.get(0))
            .unwrap_or(None);
        Err(AdapterError::new(format!(
            "Conversion Error: Could not convert string '{}' to {} (row {}, column \"{}\")",
            value.unwrap_or_default(),
            columns[col].data_type,
            row + 1,
            columns[col].name
        )))
    }
}

/// The text DuckDB casts from, for a JSON value handed to `insert_rows`.
fn json_to_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        other => Some(Cow::Owned(other.to_string())),
    }
}

struct LogOnDrop<'a>(&'a str, std::time::Instant);

impl Drop for LogOnDrop<'_> {
    fn drop(&mut self) {
        log_sql(self.0, self.1);
    }
}

/// `RDBT_LOG_SQL=1`: every statement and its duration on stderr.
fn log_sql(sql: &str, started: std::time::Instant) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("RDBT_LOG_SQL").is_some()) {
        let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("sql {:>9.3}ms {}", started.elapsed().as_secs_f64() * 1000.0, one_line.chars().take(160).collect::<String>());
    }
}

impl Connection for DuckDbConnection {
    fn execute(&mut self, sql: &str) -> AdapterResult<AdapterResponse> {
        if is_blank_sql(sql) {
            return Ok(AdapterResponse { message: "OK".into(), code: String::new(), rows_affected: None });
        }
        let _log = LogOnDrop(sql, std::time::Instant::now());
        // Run as plain statements, not prepared then executed: a prepared
        // statement is bound again when another connection changed the
        // catalog in between, which under `--threads` is most of the time
        // (the 1,000-model benchmark's build: 9% less CPU).
        self.conn.execute_batch(sql).map_err(err)?;
        self.note_ddl(sql);
        Ok(AdapterResponse { message: "OK".into(), code: String::new(), rows_affected: None })
    }

    fn query(&mut self, sql: &str) -> AdapterResult<QueryResult> {
        if is_blank_sql(sql) {
            return Ok(QueryResult::default());
        }
        let _log = LogOnDrop(sql, std::time::Instant::now());
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        stmt.execute([]).map_err(err)?;
        let ncols = stmt.column_count();
        let schema = stmt.schema();
        let mut columns = Vec::with_capacity(ncols);
        let mut hints = Vec::with_capacity(ncols);
        for i in 0..ncols {
            let name = stmt.column_name(i).map_err(err)?.clone();
            let lt = stmt.column_logical_type(i);
            let arrow_type = schema.fields().get(i).map(|f| f.data_type().clone());
            columns.push(Column { name, data_type: type_name(&lt, arrow_type.as_ref()) });
            hints.push(hint_of(&lt));
        }
        let mut out = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(ncols);
            for (i, hint) in hints.iter().enumerate() {
                let v = row.get_ref(i).map_err(err)?.to_owned();
                values.push(to_json(v, *hint));
            }
            out.push(values);
        }
        drop(rows);
        drop(stmt);
        self.note_ddl(sql);
        Ok(QueryResult { columns, rows: out })
    }

    fn begin(&mut self) -> AdapterResult<()> {
        let _log = LogOnDrop("BEGIN TRANSACTION", std::time::Instant::now());
        self.conn.execute_batch("BEGIN TRANSACTION").map_err(err)?;
        self.in_transaction = true;
        self.pending.clear();
        Ok(())
    }

    fn commit(&mut self) -> AdapterResult<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        let _log = LogOnDrop("COMMIT", std::time::Instant::now());
        let result = self.conn.execute_batch("COMMIT").map_err(err);
        // A failed COMMIT rolls back in DuckDB.
        self.finish_transaction(result.is_ok());
        result
    }

    fn rollback(&mut self) -> AdapterResult<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.finish_transaction(false);
        let _log = LogOnDrop("ROLLBACK", std::time::Instant::now());
        match self.conn.execute_batch("ROLLBACK") {
            Ok(()) => Ok(()),
            // DuckDB already rolled back (e.g. after a failed COMMIT).
            Err(e) if e.to_string().contains("no transaction is active") => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    fn set_engine_threads(&mut self, threads: usize) -> AdapterResult<()> {
        // Global: DuckDB has one pool per database. Shrinking it joins the
        // pool's workers, and the next query to finish on any connection
        // waits for that. A worker leaves only between tasks, and by default
        // a task is a pipeline's whole share; while the pool is shrunk its
        // workers take tasks in parts (`scheduler_process_partial`, meant for
        // fairness between concurrent queries), so a later shrink waits for
        // one part of a large model's work, not all of it.
        let partial = self.pool_threads.is_some_and(|full| threads < full);
        let sql = format!("SET GLOBAL threads = {}; SET GLOBAL scheduler_process_partial = {partial}", threads.max(1));
        let _log = LogOnDrop(&sql, std::time::Instant::now());
        self.conn.execute_batch(&sql).map_err(err)
    }

    fn create_schema(&mut self, database: &str, schema: &str) -> AdapterResult<()> {
        let key = (database.to_lowercase(), schema.to_lowercase());
        let known = self.known_schemas.clone();
        let mut known = known.lock().map_err(|_| AdapterError::new("schema lock poisoned"))?;
        if known.contains(&key) {
            return Ok(());
        }
        self.create_schema_uncached(database, schema)?;
        known.insert(key);
        Ok(())
    }

    fn relation_kind(&mut self, relation: &Relation) -> AdapterResult<Option<RelationKind>> {
        let database = if relation.database.is_empty() { self.database.clone() } else { relation.database.clone() };
        match relation_cache::pending_answer(&self.pending, &database, &relation.schema, &relation.identifier) {
            Ok(Some(kind)) => return Ok(kind),
            Err(()) => return self.uncached_relation_kind(relation),
            Ok(None) => {}
        }
        let cache = self.cache.clone();
        let mut cache = cache.lock().map_err(|_| AdapterError::new("relation cache lock poisoned"))?;
        if let Some(kind) = cache.get(&database, &relation.schema, &relation.identifier) {
            return Ok(kind);
        }
        if !self.pending.is_empty() {
            // The listing would include this transaction's uncommitted changes.
            drop(cache);
            return self.uncached_relation_kind(relation);
        }
        // Listed under the lock, so no concurrent commit is missed.
        let listed = self.list_relations(&database, &relation.schema)?;
        cache.load_schema(&database, &relation.schema, listed.into_iter().map(|(r, k)| (r.identifier, k)));
        Ok(cache.get(&database, &relation.schema, &relation.identifier).flatten())
    }

    fn get_columns(&mut self, relation: &Relation) -> AdapterResult<Vec<Column>> {
        let _log = LogOnDrop("-- get_columns", std::time::Instant::now());
        let mut stmt = self
            .conn
            .prepare(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE lower(table_catalog) = lower(coalesce(nullif(?, ''), current_database())) AND lower(table_schema) = lower(?) AND lower(table_name) = lower(?) \
                 ORDER BY ordinal_position",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([relation.database.as_str(), relation.schema.as_str(), relation.identifier.as_str()], |r| {
                Ok(Column { name: r.get(0)?, data_type: r.get(1)? })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    fn list_relations(&mut self, database: &str, schema: &str) -> AdapterResult<Vec<(Relation, RelationKind)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables \
                 WHERE lower(table_catalog) = lower(coalesce(nullif(?, ''), current_database())) AND lower(table_schema) = lower(?) ORDER BY table_name",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([database, schema], |r| {
                Ok((
                    Relation::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (rel, t) = row.map_err(err)?;
            out.push((rel, Self::kind_of(&t)));
        }
        Ok(out)
    }

    fn drop_relation(&mut self, relation: &Relation, kind: RelationKind) -> AdapterResult<()> {
        let what = match kind {
            RelationKind::Table => "TABLE",
            RelationKind::View => "VIEW",
        };
        let sql = format!("DROP {what} IF EXISTS {} CASCADE", relation.render());
        self.conn.execute_batch(&sql).map_err(err)?;
        self.note_ddl(&sql);
        Ok(())
    }

    fn rename_relation(&mut self, from: &Relation, kind: RelationKind, to_identifier: &str) -> AdapterResult<()> {
        let what = match kind {
            RelationKind::Table => "TABLE",
            RelationKind::View => "VIEW",
        };
        let sql = format!("ALTER {what} {} RENAME TO {}", from.render(), quote_ident(to_identifier));
        self.conn.execute_batch(&sql).map_err(err)?;
        self.note_ddl(&sql);
        Ok(())
    }

    fn create_table_as_sql(&self, relation: &Relation, select_sql: &str, temporary: bool) -> String {
        let sql = Self::strip_sql(select_sql);
        if temporary {
            // DuckDB temporary tables live in the `temp` catalog, never in a schema of ours.
            format!("CREATE TEMPORARY TABLE {} AS (\n{sql}\n)", quote_ident(&relation.identifier))
        } else {
            format!("CREATE TABLE {} AS (\n{sql}\n)", relation.render())
        }
    }

    fn freshness_sql(&self, relation: &str, loaded_at: &str, filter: Option<&str>) -> String {
        let filter = filter.map(|f| format!("\nwhere {f}")).unwrap_or_default();
        // epoch() of a naive timestamp reads it as UTC, of a timestamptz as the instant.
        format!(
            "select max({loaded_at}) as max_loaded_at, now() as snapshotted_at, epoch(now()) - epoch(max({loaded_at})) as max_loaded_at_time_ago_in_s\nfrom {relation}{filter}"
        )
    }

    fn create_view_as_sql(&self, relation: &Relation, select_sql: &str) -> String {
        let sql = Self::strip_sql(select_sql);
        format!("CREATE VIEW {} AS (\n{sql}\n)", relation.render())
    }

    fn append_columns(&mut self, relation: &Relation, columns: &[Column], values: &[ColumnValues]) -> AdapterResult<u64> {
        let nrows = values.first().map_or(0, ColumnValues::len);
        if values.len() != columns.len() || values.iter().any(|c| c.len() != nrows) {
            return Err(AdapterError::new(format!("append to {relation}: columns of unequal length")));
        }
        if nrows == 0 {
            return Ok(0);
        }
        let _log = LogOnDrop("-- append_columns", std::time::Instant::now());
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let (scan, slot) = self.column_scan()?;
        let sql = format!("INSERT INTO {} ({}) SELECT * FROM {scan}()", relation.render(), names.join(", "));
        let conn = &self.conn;
        let n = slot
            .lend(values, || conn.execute(&sql, []))
            .map_err(|e| AdapterError::new(format!("append to {relation}: {e}")))?;
        Ok(n as u64)
    }

    fn insert_rows(&mut self, relation: &Relation, columns: &[Column], rows: &[Vec<Value>]) -> AdapterResult<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        if columns.is_empty() {
            return Err(AdapterError::new(format!("cannot insert rows into {relation} without columns")));
        }
        self.insert_staged(relation, columns, rows)
    }
}

/// SQL that is empty once whitespace, `;` and comments are removed.
fn is_blank_sql(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            return rest.is_empty();
        }
    }
}

/// Keeps `in_transaction` right when hooks or `run_query` issue their own
/// BEGIN / COMMIT / ROLLBACK.
fn track_transaction(sql: &str, in_txn: &mut bool) {
    for stmt in sql.split(';') {
        let w = stmt.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match w.as_str() {
            "BEGIN" => *in_txn = true,
            "COMMIT" | "ROLLBACK" | "END" | "ABORT" => *in_txn = false,
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Type names

fn type_name(lt: &LogicalTypeHandle, arrow: Option<&arrow_compat::DataType>) -> String {
    if let Some(alias) = lt.get_alias() {
        return alias;
    }
    let id = lt.id();
    match id {
        LogicalTypeId::Boolean => "BOOLEAN".into(),
        LogicalTypeId::Tinyint => "TINYINT".into(),
        LogicalTypeId::Smallint => "SMALLINT".into(),
        LogicalTypeId::Integer => "INTEGER".into(),
        LogicalTypeId::Bigint => "BIGINT".into(),
        LogicalTypeId::UTinyint => "UTINYINT".into(),
        LogicalTypeId::USmallint => "USMALLINT".into(),
        LogicalTypeId::UInteger => "UINTEGER".into(),
        LogicalTypeId::UBigint => "UBIGINT".into(),
        LogicalTypeId::Hugeint => "HUGEINT".into(),
        LogicalTypeId::UHugeint => "UHUGEINT".into(),
        LogicalTypeId::Float => "FLOAT".into(),
        LogicalTypeId::Double => "DOUBLE".into(),
        LogicalTypeId::Decimal => format!("DECIMAL({},{})", lt.decimal_width(), lt.decimal_scale()),
        LogicalTypeId::Varchar => "VARCHAR".into(),
        LogicalTypeId::Blob => "BLOB".into(),
        LogicalTypeId::Date => "DATE".into(),
        LogicalTypeId::Time => "TIME".into(),
        LogicalTypeId::TimeNs => "TIME_NS".into(),
        LogicalTypeId::TimeTZ => "TIME WITH TIME ZONE".into(),
        LogicalTypeId::Timestamp => "TIMESTAMP".into(),
        LogicalTypeId::TimestampS => "TIMESTAMP_S".into(),
        LogicalTypeId::TimestampMs => "TIMESTAMP_MS".into(),
        LogicalTypeId::TimestampNs => "TIMESTAMP_NS".into(),
        LogicalTypeId::TimestampTZ => "TIMESTAMP WITH TIME ZONE".into(),
        LogicalTypeId::Interval => "INTERVAL".into(),
        LogicalTypeId::Uuid => "UUID".into(),
        LogicalTypeId::Bit => "BIT".into(),
        LogicalTypeId::Bignum => "BIGNUM".into(),
        LogicalTypeId::Enum => "ENUM".into(),
        LogicalTypeId::SqlNull => "\"NULL\"".into(),
        LogicalTypeId::Geometry => "GEOMETRY".into(),
        LogicalTypeId::Variant => "VARIANT".into(),
        LogicalTypeId::List => {
            let child_arrow = match arrow {
                Some(arrow_compat::DataType::List(f)) | Some(arrow_compat::DataType::LargeList(f)) => {
                    Some(f.data_type().clone())
                }
                _ => None,
            };
            format!("{}[]", type_name(&lt.child(0), child_arrow.as_ref()))
        }
        LogicalTypeId::Array => {
            let (size, child_arrow) = match arrow {
                Some(arrow_compat::DataType::FixedSizeList(f, n)) => (Some(*n), Some(f.data_type().clone())),
                _ => (None, None),
            };
            let child = type_name(&lt.child(0), child_arrow.as_ref());
            match size {
                Some(n) => format!("{child}[{n}]"),
                None => format!("{child}[]"),
            }
        }
        LogicalTypeId::Map => {
            format!("MAP({}, {})", type_name(&lt.child(0), None), type_name(&lt.child(1), None))
        }
        LogicalTypeId::Struct | LogicalTypeId::Union => {
            let fields: Vec<arrow_compat::DataType> = match arrow {
                Some(arrow_compat::DataType::Struct(fs)) => fs.iter().map(|f| f.data_type().clone()).collect(),
                _ => vec![],
            };
            let parts: Vec<String> = (0..lt.num_children())
                .map(|i| {
                    let name = lt.try_child_name(i).unwrap_or_default();
                    format!("{} {}", quote_ident(&name), type_name(&lt.child(i), fields.get(i)))
                })
                .collect();
            let kw = if id == LogicalTypeId::Struct { "STRUCT" } else { "UNION" };
            format!("{kw}({})", parts.join(", "))
        }
        _ => format!("UNKNOWN({})", lt.raw_id()),
    }
}

/// Re-export of the arrow types the duckdb crate exposes, under one name.
mod arrow_compat {
    pub use duckdb::arrow::datatypes::DataType;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    Plain,
    TimestampTz,
    Uuid,
}

fn hint_of(lt: &LogicalTypeHandle) -> Hint {
    match lt.id() {
        LogicalTypeId::TimestampTZ => Hint::TimestampTz,
        LogicalTypeId::Uuid => Hint::Uuid,
        _ => Hint::Plain,
    }
}

// ---------------------------------------------------------------------------
// Values

fn time_unit(unit: TimeUnit) -> super::values::TimeUnit {
    match unit {
        TimeUnit::Second => super::values::TimeUnit::Second,
        TimeUnit::Millisecond => super::values::TimeUnit::Millisecond,
        TimeUnit::Microsecond => super::values::TimeUnit::Microsecond,
        TimeUnit::Nanosecond => super::values::TimeUnit::Nanosecond,
    }
}

fn to_json(v: DValue, hint: Hint) -> Value {
    match v {
        DValue::Null => Value::Null,
        DValue::Boolean(b) => Value::Bool(b),
        DValue::TinyInt(i) => i.into(),
        DValue::SmallInt(i) => i.into(),
        DValue::Int(i) => i.into(),
        DValue::BigInt(i) => i.into(),
        DValue::UTinyInt(i) => i.into(),
        DValue::USmallInt(i) => i.into(),
        DValue::UInt(i) => i.into(),
        DValue::UBigInt(i) => i.into(),
        DValue::HugeInt(i) => match i64::try_from(i) {
            Ok(v) => v.into(),
            Err(_) => Value::String(i.to_string()),
        },
        DValue::UHugeInt(i) => match u64::try_from(i) {
            Ok(v) => v.into(),
            Err(_) => Value::String(i.to_string()),
        },
        // Widened as Python widens a FLOAT (dbt hands templates 3.299999952316284 for 3.3).
        DValue::Float(f) => float_json(f as f64),
        DValue::Double(f) => float_json(f),
        DValue::Decimal(d) => decimal_json(&d.to_string()),
        DValue::Timestamp(unit, v) => {
            let s = format_timestamp(time_unit(unit), v);
            if hint == Hint::TimestampTz && !s.ends_with("infinity") { Value::String(format!("{s}+00")) } else { Value::String(s) }
        }
        DValue::Text(s) => Value::String(s),
        DValue::Blob(b) | DValue::Geometry(b) => match <[u8; 16]>::try_from(b.as_slice()) {
            Ok(bytes) if hint == Hint::Uuid => Value::String(format_uuid(u128::from_be_bytes(bytes))),
            _ => Value::String(format_blob(&b)),
        },
        DValue::Date32(d) => Value::String(format_date(d)),
        DValue::Time64(unit, v) => Value::String(format_time(unit.to_micros(v))),
        DValue::Interval { months, days, nanos } => Value::String(format_interval(months, days, nanos)),
        DValue::List(items) | DValue::Array(items) => {
            Value::Array(items.into_iter().map(|v| to_json(v, Hint::Plain)).collect())
        }
        DValue::Enum(s) => Value::String(s),
        DValue::Struct(fields) => {
            let mut m = Map::new();
            for (k, v) in fields.iter() {
                m.insert(k.clone(), to_json(v.clone(), Hint::Plain));
            }
            Value::Object(m)
        }
        DValue::Map(entries) => {
            let pairs: Vec<(Value, Value)> =
                entries.iter().map(|(k, v)| (to_json(k.clone(), Hint::Plain), to_json(v.clone(), Hint::Plain))).collect();
            map_json(pairs)
        }
        DValue::Union(inner) => to_json(*inner, Hint::Plain),
        #[allow(unreachable_patterns)]
        other => Value::String(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use crate::adapter::Datum;

    fn mem() -> DuckDbConnection {
        let a = DuckDbAdapter::open(":memory:", &[], &Map::new()).expect("open");
        a.connection().expect("connect")
    }

    #[test]
    fn database_name_is_file_stem_or_memory() {
        let a = DuckDbAdapter::open(":memory:", &[], &Map::new()).expect("open");
        assert_eq!(a.database(), "memory");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("dev.duckdb");
        let a = DuckDbAdapter::open(path.to_str().expect("utf8"), &[], &Map::new()).expect("open file");
        assert_eq!(a.database(), "dev");
        assert_eq!(a.type_name(), "duckdb");
    }

    #[test]
    fn settings_are_applied() {
        let mut s = Map::new();
        s.insert("threads".into(), json!(1));
        s.insert("TimeZone".into(), json!("UTC"));
        let a = DuckDbAdapter::open(":memory:", &[], &s).expect("open");
        let mut c = a.connect().expect("connect");
        let r = c.query("select current_setting('threads') as t").expect("query");
        assert_eq!(r.rows[0][0], json!(1));
        let bad = {
            let mut s = Map::new();
            s.insert("no_such_setting".into(), json!("x"));
            s
        };
        assert!(DuckDbAdapter::open(":memory:", &[], &bad).is_err());
    }

    fn setting(a: &DuckDbAdapter, name: &str) -> Value {
        let mut c = a.connect().expect("connect");
        c.query(&format!("select current_setting('{name}')::varchar")).expect("query").rows[0][0].clone()
    }

    #[test]
    fn config_options_are_given_as_the_database_opens() {
        let mut config = Map::new();
        config.insert("threads".into(), json!(1));
        config.insert("default_null_order".into(), json!("nulls_first"));
        let a = DuckDbAdapter::open_with_config(":memory:", &[], &Map::new(), &config).expect("open");
        assert_eq!((setting(&a, "threads"), setting(&a, "default_null_order")), (json!("1"), json!("NULLS_FIRST")));
        assert_eq!(a.engine_threads(4), None, "the profile sizes the pool");
        let mut bad = Map::new();
        bad.insert("no_such_option".into(), json!("x"));
        let e = DuckDbAdapter::open_with_config(":memory:", &[], &Map::new(), &bad).expect_err("unknown option");
        assert!(e.message.contains("cannot open the DuckDB database :memory:") && e.message.contains("no_such_option"), "{}", e.message);
        let mut null = Map::new();
        null.insert("temp_directory".into(), Value::Null);
        let e = DuckDbAdapter::open_with_config(":memory:", &[], &Map::new(), &null).expect_err("null value");
        assert!(e.message.starts_with("config_options.temp_directory: expected text"), "{}", e.message);
    }

    #[test]
    fn new_database_files_are_written_for_duckdb_1_1_and_existing_ones_as_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = dir.path().join("new.duckdb");
        let a = DuckDbAdapter::open(new.to_str().expect("utf8"), &[], &Map::new()).expect("open new");
        assert_eq!(setting(&a, "storage_compatibility_version"), json!(NEW_FILE_STORAGE_VERSION));

        let old = dir.path().join("old.duckdb");
        drop(duckdb::Connection::open(&old).expect("create with DuckDB's defaults"));
        let a = DuckDbAdapter::open(old.to_str().expect("utf8"), &[], &Map::new()).expect("open existing");
        assert_eq!(setting(&a, "storage_compatibility_version"), json!("v0.10.2"), "DuckDB's default for a file that exists");

        let mut config = Map::new();
        config.insert("storage_compatibility_version".into(), json!("v1.2.0"));
        let named = dir.path().join("named.duckdb");
        let a = DuckDbAdapter::open_with_config(named.to_str().expect("utf8"), &[], &Map::new(), &config).expect("open named");
        assert_eq!(setting(&a, "storage_compatibility_version"), json!("v1.2.0"), "the profile's choice wins");
    }

    #[test]
    fn pool_shrinks_by_one_thread_per_further_node() {
        let a = DuckDbAdapter::open(":memory:", &[], &Map::new()).expect("open");
        let full: usize = setting(&a, "threads").as_str().and_then(|s| s.parse().ok()).expect("threads");
        assert_eq!(a.engine_threads(0), Some(full));
        assert_eq!(a.engine_threads(1), Some(full));
        assert_eq!(a.engine_threads(2), Some((full - 1).max(1)));
        assert_eq!(a.engine_threads(full + 8), Some(1));
        let mut c = a.connect().expect("connect");
        c.set_engine_threads(1).expect("shrink");
        assert_eq!(setting(&a, "threads"), json!("1"), "global: another connection sees it");
        let partial = (full > 1).to_string();
        assert_eq!(setting(&a, "scheduler_process_partial"), json!(partial), "workers take tasks in parts while shrunk");
        c.set_engine_threads(full).expect("restore");
        assert_eq!(setting(&a, "threads"), json!(full.to_string()));
        assert_eq!(setting(&a, "scheduler_process_partial"), json!("false"));
        let mut s = Map::new();
        s.insert("threads".into(), json!(1));
        assert_eq!(DuckDbAdapter::open(":memory:", &[], &s).expect("open").engine_threads(3), None, "`settings: threads` sizes the pool");
    }

    #[test]
    fn connections_share_one_database() {
        let a = DuckDbAdapter::open(":memory:", &[], &Map::new()).expect("open");
        let mut c1 = a.connect().expect("c1");
        c1.execute("create table t as select 42 as x").expect("create");
        let handle = std::thread::scope(|s| {
            s.spawn(|| {
                let mut c2 = a.connect().expect("c2");
                c2.query("select x from t").expect("query").rows
            })
            .join()
            .expect("thread")
        });
        assert_eq!(handle, vec![vec![json!(42)]]);
    }

    #[test]
    fn query_converts_scalar_types() {
        let mut c = mem();
        let r = c
            .query(
                "select 1::tinyint a, 2::smallint b, 3 c, 4::bigint d, 170141183460469231731687303715884105727::hugeint e,
                        5::hugeint f, 1.5::float g, 2.25::double h, 12.340::decimal(18,3) i, 12345678901234567890.12::decimal(38,2) j,
                        true k, 'hi' l, date '2020-01-02' m, time '10:11:12.5' n, timestamp '2020-01-02 03:04:05' o,
                        timestamp '2020-01-02 03:04:05.123456' p, 'nan'::double q, null::integer r, 255::utinyint s,
                        18446744073709551615::ubigint t",
            )
            .expect("query");
        let types: Vec<&str> = r.columns.iter().map(|c| c.data_type.as_str()).collect();
        assert_eq!(
            types,
            vec![
                "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL(18,3)",
                "DECIMAL(38,2)", "BOOLEAN", "VARCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP", "DOUBLE", "INTEGER",
                "UTINYINT", "UBIGINT"
            ]
        );
        assert_eq!(
            r.rows[0],
            vec![
                json!(1),
                json!(2),
                json!(3),
                json!(4),
                json!("170141183460469231731687303715884105727"),
                json!(5),
                json!(1.5),
                json!(2.25),
                json!(12.34),
                json!("12345678901234567890.12"),
                json!(true),
                json!("hi"),
                json!("2020-01-02"),
                json!("10:11:12.5"),
                json!("2020-01-02 03:04:05"),
                json!("2020-01-02 03:04:05.123456"),
                json!("nan"),
                Value::Null,
                json!(255),
                json!(18446744073709551615u64),
            ]
        );
        assert_eq!(r.columns[0].name, "a");
    }

    #[test]
    fn query_converts_temporal_and_nested_types() {
        let mut c = mem();
        c.execute("set TimeZone = 'UTC'").expect("tz");
        let r = c
            .query(
                "select timestamptz '2020-01-02 03:04:05+00' a, interval '1 year 2 months 3 days 04:05:06' b,
                        interval '0 seconds' c, '\\xAA\\x41'::blob d, [1, 2, 3] e, {'x': 1, 'y': 'z'} f,
                        map {'k': 1} g, [[1], []] h, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid i,
                        timestamp_ns '2020-01-02 03:04:05.123456789' j, date 'infinity' k, [1,2]::integer[2] l,
                        0.1::float m, '{\"a\": 1}'::json n",
            )
            .expect("query");
        let types: Vec<&str> = r.columns.iter().map(|c| c.data_type.as_str()).collect();
        assert_eq!(
            types,
            vec![
                "TIMESTAMP WITH TIME ZONE",
                "INTERVAL",
                "INTERVAL",
                "BLOB",
                "INTEGER[]",
                "STRUCT(\"x\" INTEGER, \"y\" VARCHAR)",
                "MAP(VARCHAR, INTEGER)",
                "INTEGER[][]",
                "UUID",
                "TIMESTAMP_NS",
                "DATE",
                "INTEGER[2]",
                "FLOAT",
                "JSON",
            ]
        );
        assert_eq!(
            r.rows[0],
            vec![
                json!("2020-01-02 03:04:05+00"),
                json!("1 year 2 months 3 days 04:05:06"),
                json!("00:00:00"),
                json!("\\xAAA"),
                json!([1, 2, 3]),
                json!({"x": 1, "y": "z"}),
                json!({"k": 1}),
                json!([[1], []]),
                json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                json!("2020-01-02 03:04:05.123456789"),
                json!("infinity"),
                json!([1, 2]),
                json!(0.10000000149011612), // FLOAT 0.1 widened, as Python sees it
                json!("{\"a\": 1}"),
            ]
        );
    }

    #[test]
    fn exotic_types_do_not_panic() {
        let mut c = mem();
        c.execute("create type mood as enum ('happy', 'sad')").expect("enum");
        let r = c
            .query(
                "select 'sad'::mood a, union_value(num := 2) b, '101'::bit c, time '01:02:03' d,
                        interval '-1 day 2 hours' e, [{'k': [1]}] f, map {1: 'x'} g, null h,
                        -1.5::decimal(4,1) i, 1e20::double j, date '0044-03-15' k",
            )
            .expect("query");
        assert_eq!(r.columns[0].data_type, "ENUM");
        assert_eq!(r.columns[7].data_type, "INTEGER");
        assert_eq!(r.rows[0][0], json!("sad"));
        assert_eq!(r.rows[0][1], json!(2));
        assert_eq!(r.rows[0][3], json!("01:02:03"));
        assert_eq!(r.rows[0][5], json!([{"k": [1]}]));
        assert_eq!(r.rows[0][6], json!([{"key": 1, "value": "x"}]));
        assert_eq!(r.rows[0][7], Value::Null);
        assert_eq!(r.rows[0][8], json!(-1.5));
        assert_eq!(r.rows[0][9], json!(1e20));
        // Whatever TIMETZ / BIT decode to, a query never panics.
        let _ = c.query("select '1:02:03+01'::timetz, 'a'::varchar::blob");
    }

    #[test]
    fn errors_carry_duckdb_message() {
        let mut c = mem();
        let e = c.query("select * from nope").expect_err("missing table");
        assert!(e.message.contains("nope"), "{}", e.message);
        let e = c.execute("selec 1").expect_err("syntax");
        assert!(e.message.contains("syntax error"), "{}", e.message);
        assert!(c.execute("  -- nothing\n ; ").is_ok());
        assert_eq!(c.query("/* x */").expect("blank").rows.len(), 0);
    }

    #[test]
    fn execute_runs_multiple_statements() {
        let mut c = mem();
        let r = c.execute("create table t (x int); insert into t values (1), (2), (3)").expect("exec");
        // As dbt-duckdb's adapter response: a message, no row count.
        assert_eq!((r.message.as_str(), r.rows_affected), ("OK", None));
        assert_eq!(c.query("select sum(x) from t").expect("q").rows, vec![vec![json!(6)]]);
    }

    #[test]
    fn transactions() {
        let mut c = mem();
        c.execute("create table t (x int)").expect("create");
        c.begin().expect("begin");
        c.execute("insert into t values (1)").expect("insert");
        c.rollback().expect("rollback");
        assert_eq!(c.query("select count(*) from t").expect("q").rows[0][0], json!(0));
        c.begin().expect("begin");
        c.execute("insert into t values (1)").expect("insert");
        c.commit().expect("commit");
        assert_eq!(c.query("select count(*) from t").expect("q").rows[0][0], json!(1));
        // Rolling back with no transaction is harmless.
        c.rollback().expect("noop rollback");
    }

    #[test]
    fn catalog_introspection() {
        let mut c = mem();
        c.create_schema("memory", "s1").expect("schema");
        c.create_schema("memory", "s1").expect("schema again");
        c.execute("create table s1.t (id integer, amount decimal(18,3), name varchar)").expect("t");
        c.execute("create view s1.v as select 1 as x").expect("v");
        let t = Relation::new("memory", "s1", "t");
        let v = Relation::new("memory", "s1", "v");
        assert_eq!(c.relation_kind(&t).expect("kind"), Some(RelationKind::Table));
        assert_eq!(c.relation_kind(&v).expect("kind"), Some(RelationKind::View));
        assert_eq!(c.relation_kind(&Relation::new("memory", "S1", "T")).expect("kind"), Some(RelationKind::Table));
        assert_eq!(c.relation_kind(&t.with_identifier("nope")).expect("kind"), None);
        // An empty database means the current one.
        assert_eq!(c.relation_kind(&Relation::new("", "s1", "t")).expect("kind"), Some(RelationKind::Table));
        let cols = c.get_columns(&t).expect("cols");
        assert_eq!(
            cols,
            vec![
                Column { name: "id".into(), data_type: "INTEGER".into() },
                Column { name: "amount".into(), data_type: "DECIMAL(18,3)".into() },
                Column { name: "name".into(), data_type: "VARCHAR".into() },
            ]
        );
        let rels = c.list_relations("memory", "s1").expect("list");
        assert_eq!(rels, vec![(t.clone(), RelationKind::Table), (v.clone(), RelationKind::View)]);
        c.rename_relation(&t, RelationKind::Table, "t2").expect("rename");
        assert_eq!(c.relation_kind(&t.with_identifier("t2")).expect("kind"), Some(RelationKind::Table));
        c.drop_relation(&t.with_identifier("t2"), RelationKind::Table).expect("drop");
        c.drop_relation(&v, RelationKind::View).expect("drop view");
        assert!(c.list_relations("memory", "s1").expect("list").is_empty());
    }

    #[test]
    fn create_sql_helpers() {
        let mut c = mem();
        let r = Relation::new("memory", "main", "x");
        let sql = c.create_table_as_sql(&r, "select 1 as a -- trailing comment\n;", false);
        c.execute(&sql).expect("ctas");
        let sql = c.create_view_as_sql(&r.with_identifier("xv"), "select * from x -- c");
        c.execute(&sql).expect("view");
        assert_eq!(c.query("select a from main.xv").expect("q").rows, vec![vec![json!(1)]]);
        let sql = c.create_table_as_sql(&r.with_identifier("tmp1"), "select 2 as b", true);
        c.execute(&sql).expect("temp");
        assert_eq!(c.query("select b from tmp1").expect("q").rows, vec![vec![json!(2)]]);
    }

    #[test]
    fn insert_rows_casts_values() {
        let mut c = mem();
        c.execute("create table t (i integer, d double, b boolean, dt date, ts timestamp, s varchar, j json)")
            .expect("create");
        let cols: Vec<Column> = [
            ("i", "INTEGER"),
            ("d", "DOUBLE"),
            ("b", "BOOLEAN"),
            ("dt", "DATE"),
            ("ts", "TIMESTAMP"),
            ("s", "VARCHAR"),
            ("j", "JSON"),
        ]
        .iter()
        .map(|(n, t)| Column { name: n.to_string(), data_type: t.to_string() })
        .collect();
        let rows = vec![
            vec![json!("1"), json!("2.5"), json!("true"), json!("2020-1-5"), json!("2020-01-01T10:00:00"), json!(" x"), json!({"a": [1]})],
            vec![json!(2), json!(1e300), json!(false), Value::Null, json!("2020-01-01 10:00:00.5"), json!("null"), json!([1])],
            vec![json!(" 7 ")],
        ];
        let t = Relation::new("memory", "main", "t");
        assert_eq!(c.insert_rows(&t, &cols, &rows).expect("insert"), 3);
        let r = c.query("select * from t").expect("q");
        assert_eq!(
            r.rows,
            vec![
                vec![json!(1), json!(2.5), json!(true), json!("2020-01-05"), json!("2020-01-01 10:00:00"), json!(" x"), json!("{\"a\":[1]}")],
                vec![json!(2), json!(1e300), json!(false), Value::Null, json!("2020-01-01 10:00:00.5"), json!("null"), json!("[1]")],
                vec![json!(7), Value::Null, Value::Null, Value::Null, Value::Null, Value::Null, Value::Null],
            ]
        );
        // A value that does not cast names its row and column; nothing is inserted.
        let e = c.insert_rows(&t, &cols[..1], &[vec![json!("3")], vec![json!("null")]]).expect_err("cast");
        assert!(e.message.contains("(row 2, column \"i\")"), "{}", e.message);
        assert_eq!(c.query("select count(*) from t").expect("q").rows[0][0], json!(3));
        // No staging tables are left behind.
        let r = c.query("select count(*) from duckdb_tables() where temporary").expect("q");
        assert_eq!(r.rows[0][0], json!(0));
    }

    #[test]
    fn insert_rows_bulk() {
        let mut c = mem();
        c.execute("create table big (id integer, name varchar, amount double, day date, flag boolean)").expect("create");
        let cols: Vec<Column> = [("id", "INTEGER"), ("name", "VARCHAR"), ("amount", "DOUBLE"), ("day", "DATE"), ("flag", "BOOLEAN")]
            .iter()
            .map(|(n, t)| Column { name: n.to_string(), data_type: t.to_string() })
            .collect();
        let rows: Vec<Vec<Value>> = (0..100_000)
            .map(|i| {
                vec![
                    json!(i.to_string()),
                    json!(format!("name {i}")),
                    json!(format!("{}.25", i)),
                    json!("2024-01-31"),
                    json!(if i % 2 == 0 { "true" } else { "false" }),
                ]
            })
            .collect();
        let n = c.insert_rows(&Relation::new("memory", "main", "big"), &cols, &rows).expect("insert");
        assert_eq!(n, 100_000);
        let r = c.query("select sum(id), count(*) from big").expect("q");
        assert_eq!(r.rows[0], vec![json!(4999950000i64), json!(100000)]);
    }

    #[test]
    fn append_columns_scans_the_batch_and_casts_text() {
        let mut c = mem();
        c.execute("set TimeZone = 'UTC'").expect("tz");
        c.execute("create schema s; create table s.t (i bigint, d double, b boolean, ts timestamptz, j json, extra varchar)")
            .expect("create");
        let cols: Vec<Column> = [("ts", "TIMESTAMPTZ"), ("i", "BIGINT"), ("d", "DOUBLE"), ("b", "BOOLEAN"), ("j", "JSON")]
            .iter()
            .map(|(n, t)| Column { name: n.to_string(), data_type: t.to_string() })
            .collect();
        let text = |s: &str| Datum::Text(Cow::Owned(s.to_string()));
        let values: Vec<ColumnValues> = vec![
            vec![text("2024-01-02 03:04:05.5+00"), Datum::Null],
            vec![Datum::Int(7), Datum::Int(-1)],
            vec![Datum::Double(1.5), Datum::Null],
            vec![Datum::Bool(true), Datum::Bool(false)],
            vec![text("{\"a\":1}"), Datum::Null],
        ]
        .into_iter()
        .map(|c| c.into_iter().collect())
        .collect();
        let t = Relation::new("", "s", "t");
        assert_eq!(c.append_columns(&t, &cols, &values).expect("append"), 2);
        let r = c.query("select ts, i, d, b, j, extra from s.t order by i").expect("q");
        assert_eq!(
            r.rows,
            vec![
                vec![Value::Null, json!(-1), Value::Null, json!(false), Value::Null, Value::Null],
                vec![json!("2024-01-02 03:04:05.5+00"), json!(7), json!(1.5), json!(true), json!("{\"a\":1}"), Value::Null],
            ]
        );
        let e = c.append_columns(&t, &cols[..2], &values[..1]).expect_err("mismatch");
        assert!(e.message.contains("unequal"), "{}", e.message);
        // The scan function reads nothing outside an append.
        let scan = c.scan.as_ref().map(|(name, _)| name.clone()).expect("registered");
        let e = c.query(&format!("select * from {scan}()")).expect_err("not lent");
        assert!(e.message.contains("no batch"), "{}", e.message);
    }

    #[test]
    fn append_columns_writes_uuids_as_duckdb_prints_and_sorts_them() {
        let mut c = mem();
        c.execute("create schema s; create table s.u (n bigint, u uuid, t varchar)").expect("create");
        let cols: Vec<Column> = [("n", "BIGINT"), ("u", "UUID"), ("t", "VARCHAR")]
            .iter()
            .map(|(n, t)| Column { name: n.to_string(), data_type: t.to_string() })
            .collect();
        // Top bit clear and set, the extremes, and a NULL.
        let ids: [u128; 5] = [0x0123_4567_89ab_cdef_0011_2233_4455_6677, 0xfedc_ba98_7654_3210_8899_aabb_ccdd_eeff, 0, u128::MAX, 1 << 127];
        let mut uuids: Vec<Datum<'_>> = ids.iter().map(|v| Datum::Uuid(*v)).collect();
        uuids.push(Datum::Null);
        // A column mixing UUIDs with text is written as text.
        let mut mixed: Vec<Datum<'_>> = ids.iter().map(|v| Datum::Uuid(*v)).collect();
        mixed.push(Datum::Text(Cow::Borrowed("x")));
        let values: Vec<ColumnValues> = vec![(0..6).map(Datum::Int).collect(), uuids.into_iter().collect(), mixed.into_iter().collect()];
        let t = Relation::new("", "s", "u");
        assert_eq!(c.append_columns(&t, &cols, &values).expect("append"), 6);
        let r = c.query("select u::varchar, t from s.u order by n").expect("q");
        let mut want: Vec<Vec<Value>> = ids.iter().map(|v| vec![json!(format_uuid(*v)), json!(format_uuid(*v))]).collect();
        want.push(vec![Value::Null, json!("x")]);
        assert_eq!(r.rows, want);
        assert_eq!(format_uuid(ids[0]), "01234567-89ab-cdef-0011-223344556677");
        // DuckDB orders UUIDs as their text.
        let r = c.query("select n from s.u where u is not null order by u").expect("q");
        let mut by_text: Vec<(String, i64)> = ids.iter().enumerate().map(|(i, v)| (format_uuid(*v), i as i64)).collect();
        by_text.sort();
        assert_eq!(r.rows, by_text.into_iter().map(|(_, n)| vec![json!(n)]).collect::<Vec<_>>());
    }

    #[test]
    fn append_columns_first_used_in_a_rolled_back_transaction() {
        // DuckDB drops a function registered in a transaction that rolls
        // back: the next append registers it anew.
        let mut c = mem();
        c.execute("create table u (i bigint)").expect("create");
        let cols = vec![Column { name: "i".into(), data_type: "BIGINT".into() }];
        let values: Vec<ColumnValues> = vec![[Datum::Int(1), Datum::Int(2)].into_iter().collect()];
        let u = Relation::new("", "main", "u");
        c.begin().expect("begin");
        assert_eq!(c.append_columns(&u, &cols, &values).expect("append"), 2);
        c.rollback().expect("rollback");
        assert_eq!(c.append_columns(&u, &cols, &values).expect("append again"), 2);
        assert_eq!(c.query("select count(*) from u").expect("q").rows[0][0], json!(2));
    }

    #[test]
    fn append_columns_spans_vectors_mixes_kinds_and_fails_whole() {
        let mut c = mem();
        c.execute("create table t (i bigint, d double, s varchar, b boolean)").expect("create");
        let cols: Vec<Column> = [("i", "BIGINT"), ("d", "DOUBLE"), ("s", "VARCHAR"), ("b", "BOOLEAN")]
            .iter()
            .map(|(n, t)| Column { name: n.to_string(), data_type: t.to_string() })
            .collect();
        let n = 5000;
        let values: Vec<ColumnValues> = vec![
            (0..n).map(|i| if i % 7 == 0 { Datum::Null } else { Datum::Int(i) }).collect(),
            // Ints and doubles in one column: written as doubles.
            (0..n).map(|i| if i % 2 == 0 { Datum::Int(i) } else { Datum::Double(i as f64 + 0.5) }).collect(),
            // Mixed kinds in a text column: written as text.
            (0..n).map(|i| match i % 4 { 0 => Datum::Int(i), 1 => Datum::Bool(true), 2 => Datum::Null, _ => Datum::Text(Cow::Owned(format!("long text value number {i}"))) }).collect(),
            (0..n).map(|i| if i % 3 == 0 { Datum::Null } else { Datum::Bool(i % 2 == 0) }).collect(),
        ];
        let t = Relation::new("", "main", "t");
        assert_eq!(c.append_columns(&t, &cols, &values).expect("append"), n as u64);
        let r = c
            .query("select count(i), sum(i), sum(d), count(s), count(*) filter (where s = 'true'), max(s), count(b), count(*) filter (where b) from t")
            .expect("q");
        let sum_i: i64 = (0..n).filter(|i| i % 7 != 0).sum();
        let sum_d: f64 = (0..n).map(|i| if i % 2 == 0 { i as f64 } else { i as f64 + 0.5 }).sum();
        let trues = (0..n).filter(|i| i % 3 != 0 && i % 2 == 0).count();
        assert_eq!(
            r.rows[0],
            vec![
                json!(n - (n + 6) / 7),
                json!(sum_i),
                json!(sum_d),
                json!(n - n / 4),
                json!(n / 4),
                json!("true"),
                json!(n - (n + 2) / 3),
                json!(trues)
            ]
        );
        // A value the column cannot hold fails the whole batch.
        let bad: Vec<ColumnValues> = vec![(0..3).map(|i| Datum::Text(Cow::Owned(if i == 2 { "x".into() } else { i.to_string() }))).collect()];
        let e = c.append_columns(&t, &cols[..1], &bad).expect_err("cast");
        assert!(e.message.contains("append to") && e.message.contains("'x'"), "{}", e.message);
        assert_eq!(c.query("select count(*) from t").expect("q").rows[0][0], json!(n));
    }

    #[test]
    fn blank_sql_detection() {
        assert!(is_blank_sql(""));
        assert!(is_blank_sql(" ; -- x\n/* y */ "));
        assert!(!is_blank_sql("-- x\nselect 1"));
    }
}
