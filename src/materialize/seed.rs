//! Seeds: a CSV file loaded into a table.
//!
//! Behaviour reproduced from dbt-core + dbt-duckdb (checked with real runs,
//! see `testdata/seeds`):
//! - the file is UTF-8 (a BOM is skipped), split with Python `csv` rules;
//!   the first record is the header (empty names become `a`, `b`…, repeated
//!   names get `_2`, `_3`…);
//! - column types come from agate-style inference (`infer.rs`), overridden
//!   per column by `column_types`;
//! - values are loaded with the engine's own casts from the raw text, and an
//!   empty field (quoted or not) is NULL, as DuckDB's CSV loader does; the
//!   text `null` stays text;
//! - an empty line is skipped in a multi-column file but is a row of NULL in
//!   a one-column file (DuckDB's loader), and is counted in the `INSERT n`
//!   message either way (agate counts it);
//! - a rerun truncates and reloads the table when its columns (names and
//!   types) are unchanged, and drops and recreates it otherwise or on full
//!   refresh; the message is then `CREATE n`. A view in the way is an error;
//! - column names are quoted unless `quote_columns: false`.

use serde_json::Value;

use super::csv::{self, Record};
use super::infer::ColumnInference;
use super::{MaterializeOutcome, MaterializeRequest, MaterializeResult, in_transaction, node_error, quote, run_hooks, should_full_refresh};
use crate::adapter::{AdapterError, AdapterResponse, Column, Connection, RelationKind};
use crate::diag::{Diagnostic, Span};
use crate::manifest::Node;
use crate::run::results::RunStatus;

/// A parsed seed file, ready to load.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeedTable {
    pub columns: Vec<Column>,
    /// Values as text (`None` = NULL), one entry per loaded row.
    pub rows: Vec<Vec<Value>>,
    /// Byte span of each loaded row in the file.
    pub spans: Vec<Span>,
    /// Rows as dbt counts them (empty lines included).
    pub row_count: u64,
}

pub(crate) fn seed(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<MaterializeOutcome> {
    let node = req.node;
    let Some(path) = node.seed_file.as_ref() else {
        return Err(node_error(node, "csv", format!("seed {} has no CSV file", node.unique_id)).into());
    };
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error("csv", format!("cannot read seed file {}: {e}", path.display())).in_file(path))?;
    let table = load_table(&bytes, req).map_err(|d| d.in_file(path.clone()))?;

    let target = &req.relation;
    let full_refresh = should_full_refresh(req);
    let existing = conn.relation_kind(target)?;
    if existing == Some(RelationKind::View) {
        return Err(node_error(node, "seed", format!("Cannot seed to '{target}', it is a view")).into());
    }
    conn.create_schema(&target.database, &target.schema)?;
    let reuse = existing == Some(RelationKind::Table) && !full_refresh && same_columns(conn, req, &table.columns)?;
    let quote_columns = node.config.get_bool("quote_columns").unwrap_or(true);
    let column_sql = |c: &Column| if quote_columns { quote(&c.name) } else { c.name.clone() };

    in_transaction(conn, |conn| {
        run_hooks(conn, &req.pre_hooks)?;
        if reuse {
            conn.execute(&format!("DELETE FROM {target}"))?;
        } else {
            if let Some(kind) = existing {
                conn.drop_relation(target, kind)?;
            }
            let defs: Vec<String> = table.columns.iter().map(|c| format!("{} {}", column_sql(c), c.data_type)).collect();
            conn.execute(&format!("CREATE TABLE {target} (\n  {}\n)", defs.join(",\n  ")))?;
        }
        if !table.rows.is_empty() {
            // The adapter quotes the names it is given; unquoted ones are
            // passed as the engine would fold them.
            conn.insert_rows(target, &table.columns, &table.rows).map_err(|e| load_error(req, &table, e))?;
        }
        run_hooks(conn, &req.post_hooks)
    })?;

    let code = if full_refresh { "CREATE" } else { "INSERT" };
    let message = format!("{code} {}", table.row_count);
    Ok(MaterializeOutcome {
        status: RunStatus::Success,
        message: message.clone(),
        adapter_response: AdapterResponse {
            message,
            code: code.to_string(),
            rows_affected: Some(table.row_count as i64),
        },
        failures: None,
    })
}

/// Does the existing table have exactly these columns (names, and types as
/// the engine spells them)?
fn same_columns(conn: &mut dyn Connection, req: &MaterializeRequest<'_>, wanted: &[Column]) -> MaterializeResult<bool> {
    let existing = conn.get_columns(&req.relation)?;
    if existing.len() != wanted.len() || wanted.is_empty() {
        return Ok(false);
    }
    // Let the engine canonicalise the wanted types (`text` → `VARCHAR`).
    let probe: Vec<String> =
        wanted.iter().enumerate().map(|(i, c)| format!("CAST(NULL AS {}) AS c{i}", c.data_type)).collect();
    let canonical = match conn.query(&format!("SELECT {} LIMIT 0", probe.join(", "))) {
        Ok(r) => r.columns,
        // A type the engine does not know: the CREATE will report it.
        Err(_) => return Ok(false),
    };
    Ok(existing.iter().zip(wanted).zip(&canonical).all(|((e, w), c)| {
        e.name.eq_ignore_ascii_case(&w.name) && e.data_type.eq_ignore_ascii_case(&c.data_type)
    }))
}

/// Maps an engine load error that names a row (`(row N, column "x")`, as the
/// DuckDB adapter reports cast failures) to a diagnostic on that CSV line.
fn load_error(req: &MaterializeRequest<'_>, table: &SeedTable, e: AdapterError) -> super::MaterializeError {
    let row = e.message.rfind("(row ").and_then(|i| {
        let rest = &e.message[i + 5..];
        rest[..rest.find(',')?].trim().parse::<usize>().ok()
    });
    match (row, req.node.seed_file.as_ref()) {
        (Some(n), Some(path)) if n >= 1 && n <= table.spans.len() => {
            Diagnostic::error("seed-load", e.message).at(path.clone(), table.spans[n - 1]).into()
        }
        _ => e.into(),
    }
}

/// Parses and types the CSV bytes (errors without a file; the caller adds it).
pub(crate) fn load_table(bytes: &[u8], req: &MaterializeRequest<'_>) -> Result<SeedTable, Diagnostic> {
    let cfg = &req.node.config;
    let bom = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) { 3 } else { 0 };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            return Err(Diagnostic::error(
                "csv",
                format!("seed file is not valid UTF-8 (invalid byte 0x{:02X} at offset {at})", bytes[at]),
            )
            .with_span(Some(csv::line_span(bytes, at))));
        }
    };
    let delimiter = match cfg.get_str("delimiter") {
        None => ',',
        Some(d) => {
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => {
                    return Err(Diagnostic::error(
                        "csv",
                        format!("`delimiter` must be a single character, got {d:?}"),
                    ));
                }
            }
        }
    };
    let records = csv::parse(&text[bom..], delimiter).map_err(|e| {
        Diagnostic::error("csv", e.message).with_span(Some(Span::new(e.span.start + bom, e.span.end + bom)))
    })?;
    let shift = |s: Span| Span::new(s.start + bom, s.end + bom);
    let mut records = records.into_iter();
    let header: Record = match records.next() {
        Some(h) if !h.is_blank() => h,
        Some(h) => {
            return Err(Diagnostic::error("csv", "seed file has an empty header line").with_span(Some(shift(h.span))));
        }
        None => return Err(Diagnostic::error("csv", "seed file is empty: expected a header line").with_span(Some(Span::new(0, 0)))),
    };
    let names = csv::column_names(&header.fields);
    let ncols = names.len();

    let overrides = match cfg.get("column_types") {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let mut inference: Vec<ColumnInference> = vec![ColumnInference::default(); ncols];
    let mut rows = Vec::new();
    let mut spans = Vec::new();
    let mut row_count = 0u64;
    for (i, rec) in records.enumerate() {
        row_count += 1;
        if rec.is_blank() {
            if ncols == 1 {
                rows.push(vec![Value::Null]);
                spans.push(shift(rec.span));
            }
            continue;
        }
        if rec.fields.len() != ncols {
            return Err(Diagnostic::error(
                "csv",
                format!(
                    "row {} has {} value{}, but the header has {ncols} column{}",
                    i + 1,
                    rec.fields.len(),
                    if rec.fields.len() == 1 { "" } else { "s" },
                    if ncols == 1 { "" } else { "s" }
                ),
            )
            .with_span(Some(shift(rec.span))));
        }
        for (col, value) in inference.iter_mut().zip(&rec.fields) {
            col.observe(value);
        }
        rows.push(rec.fields.into_iter().map(|f| if f.is_empty() { Value::Null } else { Value::String(f) }).collect());
        spans.push(shift(rec.span));
    }
    let columns = names
        .into_iter()
        .zip(&inference)
        .map(|(name, inf)| {
            let data_type = match overrides.get(&name) {
                Some(Value::String(t)) => t.clone(),
                _ => inf.result().sql().to_string(),
            };
            Column { name, data_type }
        })
        .collect();
    Ok(SeedTable { columns, rows, spans, row_count })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{MaterializeError, materialize};
    use crate::adapter::Connection;
    use crate::manifest::{Node, ResourceType};
    use serde_json::{Value, json};
    use std::path::{Path, PathBuf};

    fn testdata() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/materialize/testdata/seeds")
    }

    fn seed_node(name: &str, file: PathBuf, cfg: &[(&str, Value)]) -> Node {
        let mut n = node(ResourceType::Seed, name, cfg);
        n.seed_file = Some(file);
        n
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("write csv");
        p
    }

    /// Every case in `testdata/seeds/expected.json` was produced by running
    /// `dbt seed` (dbt-core 1.11 + dbt-duckdb 1.11) on the CSV next to it
    /// (`testdata/seeds/regenerate.py`): we must produce the same column
    /// types, the same rows (compared as DuckDB renders them as text), the
    /// same message, or fail where dbt failed.
    #[test]
    fn seeds_match_dbt_duckdb() {
        let dir = testdata();
        let expected: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"))
                .expect("json");
        let props: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).expect("config.json")).expect("json");
        assert!(expected.len() > 40, "expected.json looks truncated");
        let mut failures = Vec::new();
        for (name, exp) in &expected {
            let mut c = conn();
            let cfg: Vec<(&str, Value)> = props
                .get(name)
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.clone())).collect())
                .unwrap_or_default();
            let n = seed_node(name, dir.join(format!("{name}.csv")), &cfg);
            let result = run(&mut c, &n, "");
            match (exp.get("error"), result) {
                (Some(_), Ok(out)) => failures.push(format!("{name}: dbt failed but we loaded ({})", out.message)),
                (Some(_), Err(_)) => {}
                (None, Err(e)) => failures.push(format!("{name}: {e}")),
                (None, Ok(out)) => {
                    if exp["message"] != json!(out.message) {
                        failures.push(format!("{name}: message {} vs {}", out.message, exp["message"]));
                    }
                    let cols: Vec<Value> = columns(&mut c, name).into_iter().map(Value::String).collect();
                    if exp["columns"] != Value::Array(cols.clone()) {
                        failures.push(format!("{name}: columns {cols:?} vs {}", exp["columns"]));
                    }
                    let names = c.get_columns(&relation(name)).expect("cols");
                    let select: Vec<String> =
                        names.iter().map(|c| format!("CAST(\"{}\" AS VARCHAR)", c.name.replace('"', "\"\""))).collect();
                    let got = rows(&mut c, &format!("select {} from main.\"{name}\" order by rowid", select.join(", ")));
                    if exp["rows"] != json!(got) {
                        failures.push(format!("{name}: rows {got:?} vs {}", exp["rows"]));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn rerun_truncates_or_recreates() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = write(dir.path(), "s.csv", b"id,name\n1,a\n2,b\n");
        let mut c = conn();
        let n = seed_node("s", f.clone(), &[]);
        let out = run(&mut c, &n, "").expect("seed");
        assert_eq!(out.message, "INSERT 2");
        assert_eq!(out.adapter_response.code, "INSERT");
        assert_eq!(out.adapter_response.rows_affected, Some(2));
        // Same columns: truncated and reloaded (the table itself survives).
        c.execute("create view main.dep as select count(*) as n from main.s").expect("dep view");
        c.execute("comment on table main.s is 'kept'").expect("comment");
        write(dir.path(), "s.csv", b"id,name\n3,c\n");
        run(&mut c, &n, "").expect("rerun");
        assert_eq!(rows(&mut c, "select * from main.s"), vec![vec![json!(3), json!("c")]]);
        assert_eq!(rows(&mut c, "select comment from duckdb_tables() where table_name = 's'"), vec![vec![json!("kept")]]);
        // Changed columns: recreated.
        write(dir.path(), "s.csv", b"id,name,amount\n4,d,1.5\n");
        run(&mut c, &n, "").expect("rerun with new column");
        assert_eq!(columns(&mut c, "s"), vec!["id INTEGER", "name VARCHAR", "amount DOUBLE"]);
        // Changed type: recreated.
        write(dir.path(), "s.csv", b"id,name,amount\nx,d,1.5\n");
        run(&mut c, &n, "").expect("rerun with new type");
        assert_eq!(columns(&mut c, "s"), vec!["id VARCHAR", "name VARCHAR", "amount DOUBLE"]);
        // Full refresh: CREATE message.
        let mut r = request(&n, "");
        r.full_refresh = true;
        let out = materialize(&mut c, &r).expect("full refresh");
        assert_eq!(out.message, "CREATE 1");
        assert_eq!(relations(&mut c), vec!["dep", "s"]);
    }

    #[test]
    fn column_types_quote_columns_delimiter() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = write(dir.path(), "ct.csv", b"a|b|Order Id\n1|2020-01-01|7\n");
        let mut c = conn();
        let n = seed_node(
            "ct",
            f,
            &[("delimiter", json!("|")), ("column_types", json!({"a": "varchar", "b": "varchar(10)"}))],
        );
        run(&mut c, &n, "").expect("seed");
        assert_eq!(columns(&mut c, "ct"), vec!["a VARCHAR", "b VARCHAR", "Order Id INTEGER"]);
        assert_eq!(rows(&mut c, "select * from main.ct"), vec![vec![json!("1"), json!("2020-01-01"), json!(7)]]);
        // unquoted names with a space are an engine error, as in dbt
        let f = write(dir.path(), "uq.csv", b"Order Id\n1\n");
        let n = seed_node("uq", f, &[("quote_columns", json!(false))]);
        run(&mut c, &n, "").expect_err("unquoted space");
        let f = write(dir.path(), "uq2.csv", b"MixedCase\n1\n");
        let n = seed_node("uq2", f, &[("quote_columns", json!(false))]);
        run(&mut c, &n, "").expect("unquoted");
        assert_eq!(columns(&mut c, "uq2"), vec!["MixedCase INTEGER"]);
    }

    fn csv_diag(bytes: &[u8]) -> crate::diag::Diagnostic {
        let dir = tempfile::tempdir().expect("tmp");
        let f = write(dir.path(), "bad.csv", bytes);
        let mut c = conn();
        match run(&mut c, &seed_node("bad", f.clone(), &[]), "") {
            Err(MaterializeError::Diagnostic(d)) => {
                assert_eq!(d.file.as_deref(), Some(f.as_path()));
                assert!(relations(&mut c).is_empty(), "nothing is created for a bad CSV");
                *d
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_csv_diagnostics() {
        let d = csv_diag(b"a,b\n1,2\n3,4,5\n6,7\n");
        assert_eq!(d.code, "csv");
        assert_eq!(d.message, "row 2 has 3 values, but the header has 2 columns");
        assert_eq!(d.span, Some(crate::diag::Span::new(8, 13)));
        let d = csv_diag(b"a,b,c\n1,2\n");
        assert_eq!(d.span, Some(crate::diag::Span::new(6, 9)));
        let d = csv_diag(b"a,b\n1,x\n2,\xff\xfe\n");
        assert_eq!(d.code, "csv");
        assert!(d.message.contains("UTF-8"), "{}", d.message);
        assert_eq!(d.span, Some(crate::diag::Span::new(8, 12)));
        let d = csv_diag(b"");
        assert!(d.message.contains("empty"), "{}", d.message);
        let d = csv_diag(b"\xef\xbb\xbfa,b\n1,\"unterminated\n");
        assert_eq!(d.span, Some(crate::diag::Span::new(9, 23)));
        let dir = tempfile::tempdir().expect("tmp");
        let f = write(dir.path(), "d.csv", b"a\n1\n");
        match run(&mut conn(), &seed_node("d", f, &[("delimiter", json!(";;"))]), "") {
            Err(MaterializeError::Diagnostic(d)) => assert_eq!(d.code, "csv"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn load_errors_point_at_the_row() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = write(dir.path(), "le.csv", b"a,b\n1,x\nnull,y\n");
        let mut c = conn();
        match run(&mut c, &seed_node("le", f, &[]), "") {
            Err(MaterializeError::Diagnostic(d)) => {
                assert_eq!(d.code, "seed-load");
                assert_eq!(d.span, Some(crate::diag::Span::new(8, 14)));
                assert!(d.message.contains("null"), "{}", d.message);
            }
            other => panic!("unexpected {other:?}"),
        }
        // The failed load leaves nothing behind.
        assert!(relations(&mut c).is_empty());
    }

    #[test]
    fn seed_into_a_view_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = write(dir.path(), "v.csv", b"a\n1\n");
        let mut c = conn();
        c.execute("create view main.v as select 1 as a").expect("view");
        match run(&mut c, &seed_node("v", f, &[]), "") {
            Err(MaterializeError::Diagnostic(d)) => assert_eq!(d.message, "Cannot seed to '\"memory\".\"main\".\"v\"', it is a view"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn large_seed_loads_quickly() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut text = String::from("id,name,amount,day,flag\n");
        for i in 0..100_000 {
            text.push_str(&format!("{i},name {i},{i}.5,2024-01-{:02},{}\n", i % 28 + 1, i % 2 == 0));
        }
        let f = write(dir.path(), "big.csv", text.as_bytes());
        let mut c = conn();
        let started = std::time::Instant::now();
        let out = run(&mut c, &seed_node("big", f, &[]), "").expect("seed");
        let elapsed = started.elapsed();
        eprintln!("100k-row seed loaded in {elapsed:?}");
        assert_eq!(out.message, "INSERT 100000");
        assert!(elapsed.as_secs_f64() < 5.0, "100k-row seed took {elapsed:?}");
        assert_eq!(columns(&mut c, "big"), vec!["id INTEGER", "name VARCHAR", "amount DOUBLE", "day DATE", "flag BOOLEAN"]);
    }
}

/// Checks that a seed's CSV parses and types (as loading it would), so a
/// malformed file is reported at parse time, before anything runs.
pub fn validate(node: &Node, bytes: &[u8]) -> Result<(), Diagnostic> {
    let req = MaterializeRequest {
        node,
        compiled_sql: "",
        relation: crate::adapter::Relation::new(&node.database, &node.schema, &node.alias),
        full_refresh: false,
        pre_hooks: vec![],
        post_hooks: vec![],
    };
    load_table(bytes, &req).map(|_| ()).map_err(|d| d.in_file(&node.file))
}
