//! End-to-end tests of snapshots on the `snapshots` fixture
//! (tests/fixtures/snapshots): the same four phases as
//! scripts/golden/snapshots.py run through the real binary, and after each
//! one the database must equal dbt-core's (golden/phase<N>.json, normalised
//! for wall-clock time the same way) and the results dbt-core's.

mod common;

use common::{Project, assert_relations_eq, copy_fixture, golden_dir, read_json};
use serde_json::Value;

const DB: &str = "snaps.duckdb";

/// Keep identical to NOW_RE in scripts/golden/snapshots.py.
const NOW_RE: &str = r"^(202[5-9]|20[3-9]\d|21\d\d)-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$";

/// scripts/golden/snapshots.py's `normalise`: clock times become `<now:K>`
/// (rank among the relation's distinct clock times), the scd id of a row
/// holding one `<scd>`; rows re-sorted (null first, then by code point).
fn normalise(mut dump: Value) -> Value {
    let re = regex::Regex::new(NOW_RE).expect("regex");
    for rel in dump["relations"].as_array_mut().expect("relations") {
        let names: Vec<String> = rel["columns"].as_array().expect("columns").iter().map(|c| c[0].as_str().expect("name").to_string()).collect();
        let mut nows: Vec<String> = rel["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .flat_map(|r| r.as_array().expect("row").iter())
            .filter_map(|v| v.as_str())
            .filter(|v| re.is_match(v))
            .map(str::to_string)
            .collect();
        nows.sort();
        nows.dedup();
        let mut rows: Vec<Vec<Option<String>>> = rel["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                let row: Vec<Option<String>> = r.as_array().expect("row").iter().map(|v| v.as_str().map(str::to_string)).collect();
                let masked: Vec<Option<String>> = row
                    .iter()
                    .map(|v| v.as_ref().map(|s| nows.iter().position(|n| n == s).map_or_else(|| s.clone(), |i| format!("<now:{}>", i + 1))))
                    .collect();
                if masked != row {
                    masked.into_iter().enumerate().map(|(i, v)| if names[i].ends_with("scd_id") { Some("<scd>".to_string()) } else { v }).collect()
                } else {
                    masked
                }
            })
            .collect();
        rows.sort();
        rel["rows"] = Value::Array(rows.into_iter().map(|r| Value::Array(r.into_iter().map(|v| v.map_or(Value::Null, Value::String)).collect())).collect());
    }
    dump
}

fn check_phase(p: &Project, n: usize) {
    let golden = golden_dir("snapshots");
    let expected = read_json(&golden.join(format!("phase{n}.json")));
    assert_relations_eq(&normalise(p.dump(DB)), &expected, &format!("phase {n}"));
    let results = read_json(&golden.join(format!("run_results_phase{n}.json")));
    assert_eq!(p.run_results_summary(), results, "phase {n}: run results differ from dbt-core's");
}

#[test]
fn snapshot_phases_match_dbt_core() {
    let p = copy_fixture("snapshots");
    let staging = ["--select", "stg_customers", "stg_orders"];
    // 1. First snapshot: every table created.
    p.rdbt_expect(&["seed"], 0);
    p.rdbt_expect(&["run", staging[0], staging[1], staging[2]], 0);
    let out = p.rdbt_expect(&["snapshot"], 0);
    let text = out.all_output();
    for line in ["START snapshot snapshots.customers_ts", "OK snapshotted snapshots.customers_ts", "OK snapshotted main_snaps.orders_snapshot", "Finished running 5 snapshots"] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    check_phase(&p, 1);
    let rr = read_json(&p.path("target/run_results.json"));
    let first = &rr["results"].as_array().expect("results")[0];
    assert_eq!(first["adapter_response"]["_message"], "OK");
    assert!(first["relation_name"].as_str().is_some_and(|r| r.contains("\"snaps\"")), "{first}");
    check_manifest(&p);
    // 2. `build`: staging views, then snapshots (updates, inserts), their
    // tests, and the model downstream of a snapshot, in DAG order.
    p.rdbt_expect(&["build", "--vars", "{phase: 2}"], 0);
    check_phase(&p, 2);
    // 3. Deletes, and a change only the check strategy sees.
    p.rdbt_expect(&["run", staging[0], staging[1], staging[2], "--vars", "{phase: 3}"], 0);
    p.rdbt_expect(&["snapshot", "--vars", "{phase: 3}"], 0);
    check_phase(&p, 3);
    // 4. Deleted rows come back; a new column.
    p.rdbt_expect(&["build", "--vars", "{phase: 4}"], 0);
    check_phase(&p, 4);
    // Selection applies to snapshots; nothing changed, so nothing changes.
    let before = normalise(p.dump(DB));
    let out = p.rdbt_expect(&["snapshot", "--select", "customers_check", "--vars", "{phase: 4}"], 0);
    assert!(out.all_output().contains("1 of 1 OK snapshotted snapshots.customers_check"), "{}", out.all_output());
    assert_relations_eq(&normalise(p.dump(DB)), &before, "re-run without changes");
}

/// Snapshot nodes in manifest.json as dbt writes them.
fn check_manifest(p: &Project) {
    let m = read_json(&p.path("target/manifest.json"));
    let ts = &m["nodes"]["snapshot.snaps.customers_ts"];
    assert_eq!(ts["resource_type"], "snapshot");
    assert_eq!(ts["fqn"], serde_json::json!(["snaps", "customers", "customers_ts"]));
    assert_eq!(ts["path"], "customers.sql");
    assert_eq!(ts["schema"], "snapshots");
    assert_eq!(ts["depends_on"]["nodes"], serde_json::json!(["model.snaps.stg_customers"]));
    assert!(ts["raw_code"].as_str().is_some_and(|c| c.starts_with("\n{{\n    config(") && c.ends_with("ref('stg_customers') }}\n")), "{}", ts["raw_code"]);
    let yaml = &m["nodes"]["snapshot.snaps.customers_yaml"];
    assert_eq!(yaml["schema"], "main_snapshots");
    assert_eq!(yaml["raw_code"], "select * from {{ ref('stg_customers') }}");
    assert_eq!(yaml["config"]["hard_deletes"], "invalidate");
    let all = &m["nodes"]["snapshot.snaps.customers_check_all"];
    assert_eq!(all["schema"], "main_snaps");
    assert_eq!(all["config"]["unique_key"], "id");
    assert_eq!(m["nodes"]["model.snaps.current_customers"]["depends_on"]["nodes"], serde_json::json!(["snapshot.snaps.customers_ts"]));
}

/// A snapshot config error is a diagnostic at file:line:col; nothing runs.
fn config_error(snapshot: &str, expect_message: &str, expect_location: &str) {
    let p = copy_fixture("snapshots");
    p.write("snapshots/bad.sql", snapshot);
    let out = p.rdbt_expect(&["snapshot"], 2);
    let text = out.all_output();
    assert!(text.contains(expect_message), "missing `{expect_message}` in:\n{text}");
    assert!(text.contains(expect_location), "missing `{expect_location}` in:\n{text}");
    assert!(!p.path(DB).exists() || !text.contains("OK snapshotted"), "{text}");
}

#[test]
fn missing_unique_key_is_a_located_error() {
    config_error(
        "-- a snapshot without its key\n{% snapshot bad %}\n{{ config(strategy='timestamp', updated_at='updated_at') }}\nselect 1 as id\n{% endsnapshot %}\n",
        "Snapshots must be configured with a 'strategy' and 'unique_key'",
        "snapshots/bad.sql:2:1",
    );
}

#[test]
fn unknown_strategy_is_a_located_error() {
    config_error(
        "{% snapshot bad %}\n{{ config(unique_key='id',\n    strategy='sometimes') }}\nselect 1 as id\n{% endsnapshot %}\n",
        "strategy macro 'sometimes' was not found",
        "snapshots/bad.sql:3:5",
    );
}

#[test]
fn check_without_check_cols_and_bad_hard_deletes() {
    config_error(
        "{% snapshot bad %}\n{{ config(unique_key='id', strategy='check') }}\nselect 1 as id\n{% endsnapshot %}\n",
        "must specify a check_cols configuration",
        "snapshots/bad.sql:2:28",
    );
    config_error(
        "{% snapshot bad %}\n{{ config(unique_key='id', strategy='check', check_cols='all', hard_deletes='sometimes') }}\nselect 1 as id\n{% endsnapshot %}\n",
        "Invalid setting for property hard_deletes",
        "snapshots/bad.sql:2:64",
    );
}

/// A snapshot failing in the database is an error result (exit 1) and
/// leaves its table as it was; the model downstream is skipped in `build`.
#[test]
fn runtime_error_is_reported_and_skips_children() {
    let p = copy_fixture("snapshots");
    p.rdbt_expect(&["build"], 0);
    let before = normalise(p.dump(DB));
    // customers_ts now fails at execution (a failing cast on every row).
    let sql = std::fs::read_to_string(p.path("snapshots/customers.sql")).expect("read");
    p.write("snapshots/customers.sql", &sql.replace("select * from {{ ref('stg_customers') }}", "select *, cast(name as integer) as broken from {{ ref('stg_customers') }}"));
    let out = p.rdbt_expect(&["build", "--vars", "{phase: 2}"], 1);
    let text = out.all_output();
    assert!(text.contains("ERROR snapshotting snapshots.customers_ts"), "{text}");
    assert!(text.contains("Conversion Error"), "{text}");
    let rr = read_json(&p.path("target/run_results.json"));
    let status = |id: &str| rr["results"].as_array().expect("results").iter().find(|r| r["unique_id"] == id).map(|r| r["status"].clone());
    assert_eq!(status("snapshot.snaps.customers_ts"), Some("error".into()));
    assert_eq!(status("model.snaps.current_customers"), Some("skipped".into()));
    assert_eq!(status("snapshot.snaps.customers_check"), Some("success".into()));
    let after = normalise(p.dump(DB));
    let ts = |d: &Value| common::relation(d, "snapshots.customers_ts").clone();
    assert_eq!(ts(&after), ts(&before), "a failed snapshot must not change its table");
}
