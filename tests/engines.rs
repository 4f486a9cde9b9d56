//! The same projects on both engines: each fixture project (and the root
//! project) is built once on DuckDB and once on DataFusion through the real
//! binary, then every relation's rows are compared, order-insensitively,
//! between the two databases.
#![cfg(feature = "datafusion")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use rdbt::adapter::datafusion::DataFusionAdapter;
use rdbt::adapter::duckdb::DuckDbAdapter;
use rdbt::adapter::{Adapter, Connection, RelationKind};
use serde_json::Value;

/// Gives the project's profile two targets: `dev` on DuckDB and
/// `datafusion` (the names the root project's profile uses).
/// Both databases are named `DB` (DuckDB's from its file name).
const DB: &str = "snaps";

fn two_engine_profiles(p: &common::Project) {
    let project = std::fs::read_to_string(p.path("dbt_project.yml")).expect("dbt_project.yml");
    let profile = project
        .lines()
        .find_map(|l| l.strip_prefix("profile:"))
        .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
        .expect("profile name");
    p.write(
        "profiles.yml",
        &format!(
            "{profile}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {DB}.duckdb\n      schema: main\n      threads: 4\n    \
             datafusion:\n      type: datafusion\n      path: df_db\n      database: {DB}\n      schema: main\n      threads: 4\n"
        ),
    );
}

/// A value in a form both engines agree on: numbers to 9 significant
/// digits (float sums differ in the last bits with the order of addition).
fn normal(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => format!("{:.9e}", n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(normal).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Columns whose values are new on every run by design: ingest's load ids,
/// row ids and load times; a snapshot's scd id (a hash of the clock time
/// for the check strategy).
fn per_run(table: &str, column: &str) -> bool {
    column.starts_with("_rdbt_")
        || column.ends_with("scd_id")
        || (table.starts_with("_rdbt_") && matches!(column, "load_id" | "inserted_at" | "updated_at"))
}

/// A clock time of this run (snapshot validity, `now()`): compared as such.
fn is_now(v: &str) -> bool {
    let this_year = chrono_year();
    v.len() >= 19 && v[..4].parse::<i32>().is_ok_and(|y| y >= this_year - 1) && v.as_bytes()[4] == b'-' && v.as_bytes()[10] == b' '
}

fn chrono_year() -> i32 {
    // Days since the epoch / 365.2425, enough to tell this year's clock
    // times from the fixtures' dates.
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    1970 + (secs as f64 / 86400.0 / 365.2425) as i32
}

/// Values the engines may order differently: listagg without ORDER BY.
const UNORDERED: &[(&str, &str)] = &[("main.aggregates", "labels_default")];

/// Column names and the rows (values normalised), sorted.
fn relation_rows(conn: &mut dyn Connection, schema: &str, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let sql = format!("select * from \"{schema}\".\"{name}\"");
    let result = conn.query(&sql).unwrap_or_else(|e| panic!("{sql}: {}", e.message));
    let relation = format!("{schema}.{name}").to_lowercase();
    let keep: Vec<usize> = (0..result.columns.len()).filter(|i| !per_run(name, &result.columns[*i].name)).collect();
    let mut rows: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| {
            keep.iter()
                .map(|i| {
                    let column = result.columns[*i].name.as_str();
                    if UNORDERED.contains(&(relation.as_str(), column)) {
                        // Compare the listed items, not their order.
                        let text = r[*i].as_str().unwrap_or_default();
                        let mut items: Vec<&str> = text.split(',').collect();
                        items.sort();
                        items.join(",")
                    } else if r[*i].as_str().is_some_and(is_now) {
                        "<now>".to_string()
                    } else {
                        normal(&r[*i])
                    }
                })
                .collect()
        })
        .collect();
    rows.sort();
    (keep.iter().map(|i| result.columns[*i].name.clone()).collect(), rows)
}

type Relations = BTreeMap<String, (RelationKind, (Vec<String>, Vec<Vec<String>>))>;

fn read_all(conn: &mut dyn Connection, database: &str, schemas: &[String]) -> Relations {
    let mut out = BTreeMap::new();
    for s in schemas {
        for (rel, kind) in conn.list_relations(database, s).expect("list relations") {
            let rows = relation_rows(conn, s, &rel.identifier);
            out.insert(format!("{s}.{}", rel.identifier).to_lowercase(), (kind, rows));
        }
    }
    out
}

/// Runs each command of `steps` on both engines (the same exit code
/// expected) and then compares every relation.
fn assert_same_on_both_engines(p: &common::Project, steps: &[&[&str]]) -> usize {
    two_engine_profiles(p);
    for step in steps {
        let mut duck_args = step.to_vec();
        duck_args.extend(["--target", "dev"]);
        let duck = p.rdbt(&duck_args);
        let mut df_args = step.to_vec();
        df_args.extend(["--target", "datafusion"]);
        let df = p.rdbt(&df_args);
        assert_eq!(duck.code, df.code, "{step:?}: exit codes differ\n--- duckdb:\n{}\n--- datafusion:\n{}", duck.all_output(), df.all_output());
        assert_eq!(duck.code, Some(0), "{step:?} failed:\n{}", duck.all_output());
    }

    let duck_db = DuckDbAdapter::open(&p.path(&format!("{DB}.duckdb")).to_string_lossy(), &[], &serde_json::Map::new()).expect("open duckdb");
    let mut dc = duck_db.connect().expect("duckdb connection");
    let schemas: Vec<String> = dc
        .query("select schema_name from information_schema.schemata where catalog_name = current_database() and schema_name not in ('information_schema', 'pg_catalog')")
        .expect("schemas")
        .rows
        .iter()
        .filter_map(|r| r[0].as_str().map(str::to_string))
        .collect();
    let duck_rel = read_all(dc.as_mut(), DB, &schemas);
    let df_db = DataFusionAdapter::open(&p.path("df_db").to_string_lossy(), DB, "main").expect("open datafusion");
    let mut fc = df_db.connect().expect("datafusion connection");
    let df_rel = read_all(fc.as_mut(), DB, &schemas);

    let names = |r: &Relations| r.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&duck_rel), names(&df_rel), "the engines built different relations");
    let mut differences = Vec::new();
    for (name, (kind, rows)) in &duck_rel {
        let (df_kind, df_rows) = &df_rel[name];
        if kind != df_kind {
            differences.push(format!("{name}: {kind:?} on DuckDB, {df_kind:?} on DataFusion"));
        } else if rows.1 != df_rows.1 {
            let (columns, rows) = rows;
            let df_rows = &df_rows.1;
            let mut d = format!("{name}: {} rows on DuckDB, {} on DataFusion", rows.len(), df_rows.len());
            // The first differing row pair, column by column.
            if let Some((a, b)) = rows.iter().zip(df_rows).find(|(a, b)| a != b) {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    if x != y {
                        d.push_str(&format!("\n    {}: DuckDB {x}, DataFusion {y}", columns.get(i).map_or("?", String::as_str)));
                    }
                }
            }
            differences.push(d);
        }
    }
    assert!(differences.is_empty(), "relations differ between the engines:\n{}", differences.join("\n"));
    duck_rel.len()
}

/// `build` twice: the second run takes the incremental paths.
fn fixture(name: &str) -> usize {
    let p = common::copy_fixture(name);
    assert_same_on_both_engines(&p, &[&["build"], &["build"]])
}

#[test]
fn jaffle_is_the_same_on_both_engines() {
    assert!(fixture("jaffle") > 5);
}

#[test]
fn activities_is_the_same_on_both_engines() {
    assert!(fixture("activities") > 5);
}

#[test]
fn cross_db_macros_are_the_same_on_both_engines() {
    assert!(fixture("cross_db") > 3);
}

#[test]
fn snapshots_are_the_same_on_both_engines() {
    // The four phases of tests/snapshots.rs: updates, deletes, revivals and
    // a new column, by the timestamp and check strategies.
    let p = common::copy_fixture("snapshots");
    let n = assert_same_on_both_engines(
        &p,
        &[&["build", "--vars", "{phase: 1}"], &["build", "--vars", "{phase: 2}"], &["build", "--vars", "{phase: 3}"], &["build", "--vars", "{phase: 4}"]],
    );
    assert!(n >= 5);
}

#[test]
fn root_project_is_the_same_on_both_engines() {
    // The root project: ingest (replayed recordings), staging, marts, tests
    // and the ML model.
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("root");
    for entry in ["dbt_project.yml", "models", "macros", "seeds", "recordings", "tests/dbt", "analyses", "snapshots"] {
        let from = common::repo_root().join(entry);
        if from.is_dir() {
            copy_dir(&from, &dir.join(entry));
        } else if from.exists() {
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::copy(&from, dir.join(entry)).expect("copy");
        }
    }
    let p = common::Project::at(tmp, dir);
    assert!(assert_same_on_both_engines(&p, &[&["build"], &["build"]]) > 5);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).expect("copy");
        }
    }
}

#[test]
fn datafusion_names_a_missing_function_and_the_model() {
    let p = common::copy_fixture("jaffle");
    two_engine_profiles(&p);
    p.write("models/uses_duckdb_only.sql", "select list_aggr([1, 2, 3], 'sum') as total\n");
    let out = p.rdbt(&["run", "--select", "uses_duckdb_only", "--target", "datafusion"]);
    out.assert_code(1);
    let text = out.all_output();
    assert!(text.contains("DataFusion has no function 'list_aggr'"), "{text}");
    assert!(text.contains("uses_duckdb_only"), "{text}");
    // The same model runs on DuckDB.
    p.rdbt_expect(&["run", "--select", "uses_duckdb_only", "--target", "dev"], 0);
}

#[test]
fn show_and_compile_run_on_datafusion() {
    let p = common::copy_fixture("jaffle");
    two_engine_profiles(&p);
    p.rdbt_expect(&["build", "--target", "datafusion", "--threads", "4"], 0);
    // A second process sees the first one's tables (Parquet + catalog).
    let out = p.rdbt_expect(&["show", "--target", "datafusion", "--inline", "select count(*) as n from {{ ref('customers') }}"], 0);
    assert!(out.all_output().contains("| 100 |"), "{}", out.all_output());
    // ORDER BY of the shown query holds with a limit.
    let out = p.rdbt_expect(&["show", "--target", "datafusion", "--limit", "2", "--inline", "select customer_id from {{ ref('customers') }} order by customer_id desc"], 0);
    assert!(out.all_output().contains("| 100 ") && out.all_output().contains("| 99 "), "{}", out.all_output());
    let out = p.rdbt_expect(&["show", "--target", "datafusion", "--select", "customers", "--limit", "3"], 0);
    assert!(out.all_output().contains("customer_id"), "{}", out.all_output());
    p.rdbt_expect(&["compile", "--target", "datafusion", "--select", "customers"], 0);
    let compiled = std::fs::read_to_string(p.path("target/compiled/jaffle/models/marts/customers.sql")).expect("compiled customers");
    assert!(compiled.contains("\"snaps\".\"main_staging\".\"stg_customers\""), "{compiled}");
    assert!(p.path("df_db/catalog.json").exists(), "catalog file written");
    p.rdbt_expect(&["docs", "generate", "--target", "datafusion"], 0);
    let catalog = common::read_json(&p.path("target/catalog.json"));
    let customers = &catalog["nodes"]["model.jaffle.customers"];
    assert_eq!(customers["metadata"]["type"], "BASE TABLE", "{customers}");
    assert!(customers["columns"].as_object().is_some_and(|c| c.len() > 3), "{customers}");
}

#[test]
fn incremental_strategies_are_the_same_on_both_engines() {
    // Each strategy over two runs: the second run's rows overlap the first
    // run's (updated) and add new ones; a later row arrives with a NULL key.
    let p = common::copy_fixture("jaffle");
    let body = |cfg: &str| {
        format!(
            "{{{{ config(materialized='incremental', {cfg}) }}}}\n\
             select order_id, customer_id, status, cast(order_id * 1.5 as double) as weight\n\
             from {{{{ ref('stg_orders') }}}}\n\
             {{% if is_incremental() %}}\n\
             where order_id >= (select max(order_id) - 5 from {{{{ this }}}})\n\
             {{% else %}}\n\
             where order_id <= 50\n\
             {{% endif %}}\n"
        )
    };
    p.write("models/inc_append.sql", &body("incremental_strategy='append'"));
    p.write("models/inc_merge.sql", &body("incremental_strategy='merge', unique_key='order_id'"));
    p.write("models/inc_merge_cols.sql", &body("incremental_strategy='merge', unique_key='order_id', merge_update_columns=['status']"));
    p.write("models/inc_delete_insert.sql", &body("incremental_strategy='delete+insert', unique_key='order_id'"));
    p.write("models/inc_delete_insert_list.sql", &body("incremental_strategy='delete+insert', unique_key=['order_id', 'customer_id']"));
    p.write("models/inc_new_column.sql", &body("unique_key='order_id', on_schema_change='append_new_columns'").replace(
        "as weight\n",
        "as weight{% if is_incremental() %}, 'second' as run{% endif %}\n",
    ));
    let steps: &[&[&str]] = &[&["build"], &["run", "--select", "inc_append", "inc_merge", "inc_merge_cols", "inc_delete_insert", "inc_delete_insert_list", "inc_new_column"]];
    assert!(assert_same_on_both_engines(&p, steps) > 10);
}
