//! Helpers shared by the end-to-end tests: copy a fixture project to a
//! temporary directory, run the real `rdbt` binary in it, and dump the
//! resulting DuckDB database in the same normalised form as the golden files
//! written by `scripts/golden/*.py` (same SQL, so values and types compare
//! equal).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one `rdbt` invocation may take before the test kills it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_dir(name: &str) -> PathBuf {
    repo_root().join("tests").join("fixtures").join(name)
}

/// The committed dbt-core outputs of a fixture (`tests/fixtures/<name>/golden`).
pub fn golden_dir(name: &str) -> PathBuf {
    fixture_dir(name).join("golden")
}

/// A fixture project copied into a fresh temporary directory.
pub struct Project {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

/// Entries of a fixture that are never copied: dbt's outputs, databases and
/// the golden files.
fn skip_entry(name: &str) -> bool {
    matches!(name, "target" | "logs" | "golden" | "dbt_packages")
        || name.ends_with(".duckdb")
        || name.ends_with(".duckdb.wal")
}

fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap_or_else(|e| panic!("create {}: {e}", dst.display()));
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .unwrap_or_else(|e| panic!("read {}: {e}", src.display()))
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if skip_entry(&name.to_string_lossy()) {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&from, &to);
        } else {
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        }
    }
}

/// Copies `tests/fixtures/<name>` (without target/, logs/, golden/ or
/// database files) to `<tmp>/<name>`.
pub fn copy_fixture(name: &str) -> Project {
    let tmp = tempfile::Builder::new().prefix("rdbt-test-").tempdir().expect("tempdir");
    let dir = tmp.path().join(name);
    copy_tree(&fixture_dir(name), &dir);
    Project { _tmp: tmp, dir }
}

impl Project {
    /// A project already laid out in `dir` inside `tmp`.
    pub fn at(tmp: tempfile::TempDir, dir: PathBuf) -> Project {
        Project { _tmp: tmp, dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    pub fn remove(&self, rel: &str) {
        let p = self.path(rel);
        std::fs::remove_file(&p).unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
    }

    /// Runs `rdbt <args> --profiles-dir <project>` with the project as the
    /// working directory.
    pub fn rdbt(&self, args: &[&str]) -> RunOutput {
        self.rdbt_env(args, &[])
    }

    /// [`Project::rdbt`] with extra environment variables.
    pub fn rdbt_env(&self, args: &[&str], envs: &[(&str, &str)]) -> RunOutput {
        let mut full: Vec<&str> = args.to_vec();
        let profiles = self.dir.to_str().expect("utf-8 temp path");
        full.extend(["--profiles-dir", profiles]);
        rdbt_in_env(&self.dir, &full, envs)
    }

    /// Like [`Project::rdbt`] but panics (with the output) unless the exit
    /// code is `expected`.
    pub fn rdbt_expect(&self, args: &[&str], expected: i32) -> RunOutput {
        let out = self.rdbt(args);
        out.assert_code(expected);
        out
    }

    /// `dump_relations` of `<project>/<db_file>`.
    pub fn dump(&self, db_file: &str) -> Value {
        let db = self.path(db_file);
        assert!(db.exists(), "database {} was not created", db.display());
        dump_relations(&db)
    }

    /// `[unique_id, status, failures]` of every result in
    /// `target/run_results.json`, sorted by unique_id (the golden shape).
    pub fn run_results_summary(&self) -> Value {
        let path = self.path("target/run_results.json");
        let data = read_json(&path);
        let results = data["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no `results` array", path.display()));
        let mut rows: Vec<(String, Value)> = results
            .iter()
            .map(|r| {
                let id = r["unique_id"].as_str().expect("unique_id").to_string();
                let failures = r.get("failures").cloned().unwrap_or(Value::Null);
                (id.clone(), json!([id, r["status"], failures]))
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Array(rows.into_iter().map(|(_, v)| v).collect())
    }
}

/// Exit code and captured output of one `rdbt` run.
#[derive(Debug)]
pub struct RunOutput {
    pub args: Vec<String>,
    /// `None` when the process was killed by a signal (or the timeout).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    pub fn assert_code(&self, expected: i32) {
        assert_eq!(
            self.code,
            Some(expected),
            "`rdbt {}` exited {:?}, expected {expected}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        );
    }

    /// stdout followed by stderr, ANSI colour codes removed.
    pub fn all_output(&self) -> String {
        strip_ansi(&format!("{}\n{}", self.stdout, self.stderr))
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Runs the `rdbt` binary built by cargo in `dir` with `args`, with a clean
/// environment for dbt variables, and captures everything.
pub fn rdbt_in(dir: &Path, args: &[&str]) -> RunOutput {
    rdbt_in_env(dir, args, &[])
}

/// [`rdbt_in`] with extra environment variables (set after the dbt ones
/// are cleared).
pub fn rdbt_in_env(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> RunOutput {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rdbt"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("DBT_") || k == "JAFFLE_DB" {
            cmd.env_remove(&k);
        }
    }
    cmd.env("NO_COLOR", "1").env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false");
    cmd.envs(envs.iter().copied());
    let mut child = cmd.spawn().expect("spawn rdbt");
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out_pipe.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err_pipe.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait rdbt") {
            break s;
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            timed_out = true;
            break child.wait().expect("wait rdbt");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let mut stderr = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    if timed_out {
        stderr.push_str(&format!("\n[test harness: killed after {RUN_TIMEOUT:?}]\n"));
    }
    RunOutput { args: args.iter().map(|s| s.to_string()).collect(), code: status.code(), stdout, stderr }
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Relation dumps. Keep these queries identical to scripts/golden/jaffle.py.

pub const RELATIONS_SQL: &str = "
select table_schema, table_name,
       case when table_type = 'VIEW' then 'view' else 'table' end as relation_type
from information_schema.tables
where table_catalog = current_database()
  and table_schema not in ('information_schema', 'pg_catalog')
order by table_schema, table_name
";

pub const COLUMNS_SQL: &str = "
select column_name, data_type
from information_schema.columns
where table_catalog = current_database() and table_schema = ? and table_name = ?
order by ordinal_position
";

pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

pub fn rows_sql(schema: &str, table: &str, columns: &[(String, String)]) -> String {
    let cols: Vec<String> = columns.iter().map(|(c, _)| format!("cast({} as varchar)", quote_ident(c))).collect();
    format!("select {} from {}.{} order by all", cols.join(", "), quote_ident(schema), quote_ident(table))
}

/// Every table and view of the database file as
/// `{"format": "rdbt-relations-v1", "relations": [{"relation", "type",
/// "columns": [[name, type]], "rows": [[text|null]]}]}` — see
/// scripts/golden/jaffle.py for the normalisation.
pub fn dump_relations(db: &Path) -> Value {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).expect("duckdb config");
    let con = duckdb::Connection::open_with_flags(db, config)
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    let relations: Vec<(String, String, String)> = {
        let mut stmt = con.prepare(RELATIONS_SQL).expect("prepare relations query");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("relations query")
            .collect::<Result<_, _>>()
            .expect("relations rows")
    };
    let mut out = Vec::new();
    for (schema, table, rtype) in relations {
        let columns: Vec<(String, String)> = {
            let mut stmt = con.prepare(COLUMNS_SQL).expect("prepare columns query");
            stmt.query_map(duckdb::params![schema, table], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("columns query")
                .collect::<Result<_, _>>()
                .expect("columns rows")
        };
        let n = columns.len();
        let sql = rows_sql(&schema, &table, &columns);
        let rows: Vec<Value> = {
            let mut stmt = con.prepare(&sql).unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
            stmt.query_map([], |r| {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    let v: Option<String> = r.get(i)?;
                    row.push(v.map_or(Value::Null, Value::String));
                }
                Ok(Value::Array(row))
            })
            .unwrap_or_else(|e| panic!("query {sql}: {e}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("rows of {schema}.{table}: {e}"))
        };
        out.push(json!({
            "relation": format!("{schema}.{table}"),
            "type": rtype,
            "columns": columns.iter().map(|(c, t)| json!([c, t])).collect::<Vec<_>>(),
            "rows": rows,
        }));
    }
    json!({"format": "rdbt-relations-v1", "relations": out})
}

fn relation_map(dump: &Value) -> Vec<(String, &Value)> {
    dump["relations"]
        .as_array()
        .expect("dump has a `relations` array")
        .iter()
        .map(|r| (r["relation"].as_str().expect("relation name").to_string(), r))
        .collect()
}

/// Names of the relations in a dump, in dump order.
pub fn relation_names(dump: &Value) -> Vec<String> {
    relation_map(dump).into_iter().map(|(n, _)| n).collect()
}

/// The entry of one relation (`schema.name`) in a dump.
pub fn relation<'a>(dump: &'a Value, name: &str) -> &'a Value {
    dump["relations"]
        .as_array()
        .expect("relations")
        .iter()
        .find(|r| r["relation"] == name)
        .unwrap_or_else(|| panic!("relation {name} not in dump; have {:?}", relation_names(dump)))
}

/// Differences between two relation dumps, described for a human; empty
/// when equal.
pub fn diff_relations(actual: &Value, expected: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    if actual["format"] != expected["format"] {
        diffs.push(format!("format {} != {}", actual["format"], expected["format"]));
    }
    let a = relation_map(actual);
    let e = relation_map(expected);
    let a_names: BTreeSet<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    let e_names: BTreeSet<&str> = e.iter().map(|(n, _)| n.as_str()).collect();
    for missing in e_names.difference(&a_names) {
        diffs.push(format!("missing relation {missing}"));
    }
    for extra in a_names.difference(&e_names) {
        diffs.push(format!("unexpected relation {extra}"));
    }
    for (name, exp) in &e {
        let Some((_, act)) = a.iter().find(|(n, _)| n == name) else { continue };
        if act["type"] != exp["type"] {
            diffs.push(format!("{name}: type {} (expected {})", act["type"], exp["type"]));
        }
        if act["columns"] != exp["columns"] {
            diffs.push(format!("{name}: columns\n    got      {}\n    expected {}", act["columns"], exp["columns"]));
            continue;
        }
        let ar = act["rows"].as_array().expect("rows");
        let er = exp["rows"].as_array().expect("rows");
        if ar.len() != er.len() {
            diffs.push(format!("{name}: {} rows (expected {})", ar.len(), er.len()));
        }
        let mut shown = 0;
        for (i, (x, y)) in ar.iter().zip(er.iter()).enumerate() {
            if x != y {
                if shown < 5 {
                    diffs.push(format!("{name}: row {i}\n    got      {x}\n    expected {y}"));
                }
                shown += 1;
            }
        }
        if shown > 5 {
            diffs.push(format!("{name}: ... {} more differing rows", shown - 5));
        }
    }
    if diffs.is_empty() && actual != expected {
        diffs.push("dumps differ (relation order?)".to_string());
    }
    diffs
}

pub fn assert_relations_eq(actual: &Value, expected: &Value, what: &str) {
    let diffs = diff_relations(actual, expected);
    assert!(diffs.is_empty(), "{what}: database differs from dbt-core's golden dump:\n  {}", diffs.join("\n  "));
}

// ---------------------------------------------------------------------------
// Compiled SQL.

/// Files under `root`, as paths relative to it, sorted.
pub fn list_files(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for entry in rd {
            let entry = entry.unwrap();
            let p = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// SQL with all whitespace removed, for comparisons modulo whitespace.
pub fn strip_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Differences between two compiled/ trees: missing or extra files, and
/// files whose text differs other than in whitespace.
pub fn diff_compiled(actual_root: &Path, expected_root: &Path) -> Vec<String> {
    let mut diffs = Vec::new();
    let actual: BTreeSet<PathBuf> = list_files(actual_root).into_iter().collect();
    let expected: BTreeSet<PathBuf> = list_files(expected_root).into_iter().collect();
    for p in expected.difference(&actual) {
        diffs.push(format!("missing compiled file {}", p.display()));
    }
    for p in actual.difference(&expected) {
        diffs.push(format!("unexpected compiled file {}", p.display()));
    }
    for p in expected.intersection(&actual) {
        let a = std::fs::read_to_string(actual_root.join(p)).unwrap();
        let e = std::fs::read_to_string(expected_root.join(p)).unwrap();
        if strip_whitespace(&a) != strip_whitespace(&e) {
            diffs.push(format!(
                "{} differs (modulo whitespace)\n--- got ---\n{}\n--- expected ---\n{}",
                p.display(),
                a.trim(),
                e.trim()
            ));
        }
    }
    diffs
}
