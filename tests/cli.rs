//! End-to-end tests of the `rdbt` binary: the root project, exit codes, and
//! diagnostics for bad input.

mod common;

use std::path::Path;

use serde_json::Value;

use common::{rdbt_in, rdbt_in_env, read_json, repo_root};

/// A project written from `(path, contents)` pairs into a temp dir.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("rdbt-cli-").tempdir().expect("tempdir");
    let base: &[(&str, &str)] = &[
        ("dbt_project.yml", "name: p\nprofile: p\n"),
        ("profiles.yml", "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/p.duckdb\n      threads: 2\n"),
    ];
    for (path, text) in base.iter().chain(files) {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    dir
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

#[test]
fn root_project_builds_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo_root();
    for f in ["dbt_project.yml", "profiles.yml"] {
        std::fs::copy(root.join(f), tmp.path().join(f)).unwrap();
    }
    for d in ["models", "seeds", "macros", "tests/dbt", "recordings"] {
        copy_dir(&root.join(d), &tmp.path().join(d));
    }
    let out = rdbt_in(tmp.path(), &["build"]);
    out.assert_code(0);
    assert!(out.stdout.contains("Completed successfully"), "{}", out.stdout);
    assert!(out.stdout.contains("OK loaded ingest strava"), "{}", out.stdout);
    let rr = read_json(&tmp.path().join("target/dbt/run_results.json"));
    let results = rr["results"].as_array().unwrap();
    assert!(results.len() >= 15, "{} results", results.len());
    assert!(results.iter().all(|r| r["status"] == "success" || r["status"] == "pass"), "{rr:#}");
    let manifest = read_json(&tmp.path().join("target/dbt/manifest.json"));
    assert!(manifest["nodes"]["model.activities.weekly_totals"].is_object());
    assert_eq!(
        manifest["parent_map"]["model.activities.weekly_totals"],
        serde_json::json!(["model.activities.fct_activities"])
    );
    let db = duckdb::Connection::open(tmp.path().join("target/activities.duckdb")).unwrap();
    let weeks: i64 = db.query_row("select count(*) from main.weekly_totals", [], |r| r.get(0)).unwrap();
    let activities: i64 = db.query_row("select sum(activities) from main.weekly_totals", [], |r| r.get(0)).unwrap();
    assert!(weeks > 40, "{weeks} weeks");
    assert_eq!(activities, 400);
    let loaded: i64 = db.query_row("select count(*) from strava_raw.activities", [], |r| r.get(0)).unwrap();
    assert_eq!(loaded, 400);
    // The energy model trains on the rides and its plot is written.
    let r2: f64 = db.query_row("select r2 from main.energy_model__metrics where split = 'test'", [], |r| r.get(0)).unwrap();
    assert!(r2 > 0.9, "{r2}");
    assert!(tmp.path().join("target/dbt/ml/energy_model/plot.svg").is_file());
    drop(db);
    let ingest = results.iter().find(|r| r["unique_id"] == "ingest.activities.strava").expect("the ingest node ran");
    assert_eq!(ingest["adapter_response"]["tables"]["activities"], 400, "{ingest:#}");
    assert_eq!(manifest["parent_map"]["source.activities.strava.activities"], serde_json::json!(["ingest.activities.strava"]));
    // The declaration is kept unrendered: credentials are rendered only when the node runs.
    let raw_code = manifest["nodes"]["ingest.activities.strava"]["raw_code"].as_str().unwrap();
    assert!(raw_code.contains("{{ env_var(") && raw_code.contains("DBT_ENV_SECRET_STRAVA_CLIENT_SECRET"), "{raw_code}");

    // A second offline build replays the incremental request (nothing
    // newer than the last activity): the same 400 activities, merged.
    let again = rdbt_in(tmp.path(), &["build"]);
    again.assert_code(0);
    let db = duckdb::Connection::open(tmp.path().join("target/activities.duckdb")).unwrap();
    let loaded: i64 = db.query_row("select count(*) from strava_raw.activities", [], |r| r.get(0)).unwrap();
    assert_eq!(loaded, 400);
    let loads: i64 = db.query_row("select count(*) from strava_raw._rdbt_loads", [], |r| r.get(0)).unwrap();
    assert_eq!(loads, 2);
    drop(db);
    let fresh = rdbt_in(tmp.path(), &["source", "freshness"]);
    fresh.assert_code(0);
    assert!(fresh.stdout.contains("PASS freshness of strava._rdbt_loads"), "{}", fresh.stdout);
    assert!(tmp.path().join("target/dbt/compiled/activities/models/marts/weekly_totals.sql").is_file());
}

#[test]
fn malformed_yaml_is_a_located_diagnostic() {
    let p = project(&[
        ("models/a.sql", "select 1 as id"),
        ("models/schema.yml", "version: 2\nmodels:\n  - name: a\n    columns: [id\n"),
    ]);
    let out = rdbt_in(p.path(), &["build"]);
    out.assert_code(2);
    assert!(out.stderr.contains("models/schema.yml:5:1: error[yaml-syntax]"), "{}", out.stderr);
    assert!(out.stderr.contains(" | "), "snippet expected: {}", out.stderr);
    assert!(!p.path().join("target/p.duckdb").exists(), "nothing may run on a parse error");
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let p = project(&[
        ("models/a.sql", "select * from {{ ref('missing_one') }}"),
        ("models/b.sql", "select {{ 1 + }}"),
        ("models/c.sql", "select * from {{ source('nope', 'x') }}"),
    ]);
    let out = rdbt_in(p.path(), &["run"]);
    out.assert_code(2);
    let err = &out.stderr;
    assert!(err.contains("models/a.sql:1:"), "{err}");
    assert!(err.contains("error[unknown-ref]") && err.contains("missing_one"), "{err}");
    assert!(err.contains("models/b.sql:1:"), "{err}");
    assert!(err.contains("error[unknown-source]"), "{err}");
}

#[test]
fn cycle_is_reported_as_its_path() {
    let p = project(&[("models/a.sql", "select * from {{ ref('b') }}"), ("models/b.sql", "select * from {{ ref('a') }}")]);
    let out = rdbt_in(p.path(), &["run"]);
    out.assert_code(2);
    assert!(out.stderr.contains("cycle"), "{}", out.stderr);
    assert!(out.stderr.contains("model.p.a") && out.stderr.contains("model.p.b"), "{}", out.stderr);
}

#[test]
fn missing_env_var_in_profile_is_an_error() {
    let p = project(&[
        ("profiles.yml", "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: \"{{ env_var('RDBT_TEST_SURELY_UNSET') }}\"\n"),
        ("models/a.sql", "select 1 as id"),
    ]);
    let out = rdbt_in(p.path(), &["run"]);
    out.assert_code(2);
    assert!(out.stderr.contains("RDBT_TEST_SURELY_UNSET"), "{}", out.stderr);
    assert!(out.stderr.contains("profiles.yml"), "{}", out.stderr);
}

#[test]
fn failing_model_exits_1_and_skips_downstream() {
    let p = project(&[
        ("models/a.sql", "select * from no_such_table"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
        ("models/c.sql", "select 1 as id"),
    ]);
    let out = rdbt_in(p.path(), &["run"]);
    out.assert_code(1);
    // The SQL error is located in the compiled file, with a snippet.
    assert!(out.stderr.contains("target/compiled/p/models/a.sql:1:15: error[sql]"), "{}", out.stderr);
    assert!(out.stderr.contains("no_such_table"), "{}", out.stderr);
    let rr = read_json(&p.path().join("target/run_results.json"));
    let status = |id: &str| rr["results"].as_array().unwrap().iter().find(|r| r["unique_id"] == id).map(|r| r["status"].clone());
    assert_eq!(status("model.p.a"), Some("error".into()));
    assert_eq!(status("model.p.b"), Some("skipped".into()));
    assert_eq!(status("model.p.c"), Some("success".into()));
}

#[test]
fn macros_config_vars_and_ephemeral_compile() {
    let p = project(&[
        ("dbt_project.yml", "name: p\nprofile: p\nvars:\n  factor: 3\nmodels:\n  p:\n    +materialized: table\n"),
        ("macros/m.sql", "{% macro times(col, n) %}{{ col }} * {{ n }}{% endmacro %}\n{% macro pick() %}{{ return('picked') }}{% endmacro %}"),
        ("models/e.sql", "{{ config(materialized='ephemeral') }}select 2 as x"),
        ("models/a.sql", "select {{ times('x', var('factor')) }} as y, '{{ pick() }}' as p from {{ ref('e') }}"),
    ]);
    let out = rdbt_in(p.path(), &["run"]);
    out.assert_code(0);
    let compiled = std::fs::read_to_string(p.path().join("target/compiled/p/models/a.sql")).unwrap();
    assert!(compiled.contains("__dbt__cte__e as ("), "{compiled}");
    assert!(compiled.contains("x * 3 as y, 'picked' as p"), "{compiled}");
    let db = duckdb::Connection::open(p.path().join("target/p.duckdb")).unwrap();
    let y: i64 = db.query_row("select y from main.a", [], |r| r.get(0)).unwrap();
    assert_eq!(y, 6);
}

#[test]
fn ls_selects_by_graph_operators() {
    let p = project(&[
        ("models/a.sql", "select 1 as id"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
        ("models/c.sql", "select * from {{ ref('b') }}"),
        ("models/d.sql", "select 2 as id"),
    ]);
    let out = rdbt_in(p.path(), &["ls", "--select", "a+", "--exclude", "c"]);
    out.assert_code(0);
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), vec!["p.a", "p.b"]);
}

#[test]
fn json_log_format_prints_json_lines() {
    let p = project(&[("models/a.sql", "select 1 as id")]);
    let out = rdbt_in(p.path(), &["run", "--log-format", "json"]);
    out.assert_code(0);
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["info"]["msg"].is_string());
    }
}

#[test]
fn docs_blocks_and_schema_naming() {
    let p = project(&[
        ("dbt_project.yml", "name: p\nprofile: p\nmodels:\n  p:\n    marts:\n      +schema: analytics\n"),
        ("models/docs.md", "{% docs orders_doc %}\nOne row per order.\n{% enddocs %}"),
        ("models/marts/orders.sql", "select 1 as id"),
        ("models/staging/stg.sql", "{{ config(schema='raw') }}select 1 as id"),
        ("macros/naming.sql", "{% macro generate_schema_name(custom_schema_name, node) -%}{{ custom_schema_name or target.schema }}{%- endmacro %}"),
        ("models/schema.yml", "version: 2\nmodels:\n  - name: orders\n    description: '{{ doc(\"orders_doc\") }}'\n"),
    ]);
    let out = rdbt_in(p.path(), &["run"]);
    out.assert_code(0);
    let m = read_json(&p.path().join("target/manifest.json"));
    assert_eq!(m["nodes"]["model.p.orders"]["description"], "One row per order.");
    assert_eq!(m["nodes"]["model.p.orders"]["schema"], "analytics");
    assert_eq!(m["nodes"]["model.p.stg"]["schema"], "raw");
    assert!(m["docs"]["doc.p.orders_doc"].is_object());
}

#[test]
fn unknown_doc_and_duplicate_model_names_are_errors() {
    let p = project(&[
        ("models/a.sql", "select 1 as id"),
        ("models/sub/a.sql", "select 2 as id"),
        ("models/schema.yml", "version: 2\nmodels:\n  - name: a\n    description: '{{ doc(\"nope\") }}'\n"),
    ]);
    let out = rdbt_in(p.path(), &["parse"]);
    out.assert_code(2);
    assert!(out.stderr.contains("error[duplicate-name]"), "{}", out.stderr);
    assert!(out.stderr.contains("error[doc]") && out.stderr.contains("nope"), "{}", out.stderr);
}

#[test]
fn malformed_csv_is_a_parse_error() {
    let p = project(&[("seeds/people.csv", "id,name\n1,ann\n2,bob,extra\n"), ("models/a.sql", "select 1 as id")]);
    let out = rdbt_in(p.path(), &["build"]);
    out.assert_code(2);
    assert!(out.stderr.contains("seeds/people.csv:3:"), "{}", out.stderr);
    assert!(out.stderr.contains("error[csv]"), "{}", out.stderr);
    assert!(!p.path().join("target/p.duckdb").exists(), "nothing may run on a parse error");
}

#[test]
fn hooks_run_around_the_invocation_and_nodes() {
    let p = project(&[
        (
            "dbt_project.yml",
            "name: p\nprofile: p\non-run-start: [\"create table if not exists audit (event varchar)\"]\non-run-end: [\"insert into audit values ('end {{ results | length }}')\"]\nmodels:\n  p:\n    +post-hook: \"insert into audit values ('built {{ this.name }}')\"\n",
        ),
        ("models/a.sql", "select 1 as id"),
    ]);
    rdbt_in(p.path(), &["run"]).assert_code(0);
    let db = duckdb::Connection::open(p.path().join("target/p.duckdb")).unwrap();
    let mut stmt = db.prepare("select event from audit order by event").unwrap();
    let events: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(events, vec!["built a", "end 1"]);
}

#[test]
fn packages_dispatch_vars_and_selectors() {
    let p = project(&[
        (
            "dbt_project.yml",
            "name: p\nprofile: p\nvars:\n  greeting: hello\n  util:\n    pkg_var: from_root\ndispatch:\n  - macro_namespace: util\n    search_order: ['p', 'util']\n",
        ),
        ("selectors.yml", "selectors:\n  - name: only_b\n    definition:\n      method: fqn\n      value: b\n"),
        ("dbt_packages/util/dbt_project.yml", "name: util\nvars:\n  pkg_var: from_pkg\n  pkg_only: pkg_default\n"),
        (
            "dbt_packages/util/macros/m.sql",
            "{% macro shout(x) %}upper({{ x }}){% endmacro %}\n{% macro kind() %}{{ return(adapter.dispatch('kind', 'util')()) }}{% endmacro %}\n{% macro default__kind() %}'package'{% endmacro %}",
        ),
        ("dbt_packages/util/models/util_model.sql", "select '{{ var(\"pkg_var\") }}' as v, '{{ var(\"pkg_only\") }}' as w"),
        ("macros/override.sql", "{% macro duckdb__kind() %}'root override'{% endmacro %}"),
        ("models/a.sql", "select {{ util.shout(\"'x'\") }} as s, {{ util.kind() }} as k, '{{ var('greeting') }}' as g, '{{ var('extra', 'none') }}' as e"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
    ]);
    let out = rdbt_in(p.path(), &["run", "--vars", "{extra: cli}"]);
    out.assert_code(0);
    let db = duckdb::Connection::open(p.path().join("target/p.duckdb")).unwrap();
    let row: (String, String, String, String) = db.query_row("select s, k, g, e from main.a", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap();
    assert_eq!(row, ("X".into(), "root override".into(), "hello".into(), "cli".into()));
    let pkg: (String, String) = db.query_row("select v, w from main.util_model", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(pkg, ("from_root".into(), "pkg_default".into()));
    drop(db);
    let out = rdbt_in(p.path(), &["ls", "--selector", "only_b"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "p.b");
}

#[test]
fn fail_fast_skips_the_rest() {
    let p = project(&[
        ("models/a.sql", "select * from no_such_table"),
        ("models/b.sql", "select 1 as id"),
        ("models/c.sql", "select * from {{ ref('b') }}"),
    ]);
    let out = rdbt_in(p.path(), &["run", "--threads", "1", "--fail-fast"]);
    out.assert_code(1);
    let rr = read_json(&p.path().join("target/run_results.json"));
    let results = rr["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results.iter().filter(|r| r["status"] == "error").count(), 1);
    assert!(results.iter().any(|r| r["status"] == "skipped"), "{rr:#}");
}

#[test]
fn compile_show_and_clean() {
    let p = project(&[("models/a.sql", "select 41 + 1 as answer")]);
    let out = rdbt_in(p.path(), &["compile", "--inline", "select * from {{ ref('a') }}"]);
    out.assert_code(0);
    assert!(out.stdout.contains("select * from \"p\".\"main\".\"a\""), "{}", out.stdout);
    rdbt_in(p.path(), &["run"]).assert_code(0);
    let out = rdbt_in(p.path(), &["show", "--inline", "select answer from {{ ref('a') }}"]);
    out.assert_code(0);
    assert!(out.stdout.contains("| 42 "), "{}", out.stdout);
    assert!(p.path().join("target/manifest.json").exists());
    let out = rdbt_in(p.path(), &["clean"]);
    out.assert_code(0);
    assert!(!p.path().join("target").exists());
}

#[test]
fn macro_properties_document_macros() {
    let p = project(&[
        ("macros/m.sql", "{% macro cents(col) %}{{ col }} / 100{% endmacro %}"),
        ("macros/m.yml", "version: 2\nmacros:\n  - name: cents\n    description: Cents to dollars.\n    arguments:\n      - name: col\n        type: column\n        description: An amount in cents.\n"),
        ("models/a.sql", "select {{ cents(250) }} as d"),
    ]);
    rdbt_in(p.path(), &["parse"]).assert_code(0);
    let m = read_json(&p.path().join("target/manifest.json"));
    let mac = &m["macros"]["macro.p.cents"];
    assert_eq!(mac["description"], "Cents to dollars.");
    assert_eq!(mac["arguments"][0]["name"], "col");
    assert_eq!(mac["arguments"][0]["type"], "column");
    assert_eq!(mac["patch_path"], "p://macros/m.yml");
}

#[test]
fn introspective_jinja_runs_against_the_database_at_compile_time() {
    let p = project(&[
        ("models/base.sql", "select 1 as id, 'a' as kind union all select 2, 'b' union all select 3, 'b'"),
        (
            "models/pivot.sql",
            r#"{%- set q -%}select distinct kind from {{ ref('base') }} order by 1{%- endset -%}
{%- set kinds = run_query(q).columns[0].values() if execute else [] -%}
{% call statement('n', fetch_result=True) %}select count(*) from {{ ref('base') }}{% endcall %}
{%- set n = load_result('n')['data'][0][0] if execute else 0 %}
{%- set cols = adapter.get_columns_in_relation(ref('base')) %}
select {% for k in kinds %}sum(case when kind = '{{ k }}' then 1 else 0 end) as n_{{ k }}, {% endfor %}{{ n }} as total,
  '{{ cols | map(attribute="name") | join(",") }}' as columns_seen, '{{ this.schema }}.{{ this.identifier }}' as me
from {{ ref('base') }}"#,
        ),
    ]);
    rdbt_in(p.path(), &["run"]).assert_code(0);
    let db = duckdb::Connection::open(p.path().join("target/p.duckdb")).unwrap();
    let row: (i64, i64, i64, String, String) = db
        .query_row("select n_a, n_b, total, columns_seen, me from main.pivot", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap();
    assert_eq!(row, (1, 2, 3, "id,kind".into(), "main.pivot".into()));
}

#[test]
fn require_dbt_version_is_enforced() {
    let ok = project(&[("dbt_project.yml", "name: p\nprofile: p\nrequire-dbt-version: [\">=1.5.0\", \"<2.0.0\"]\n"), ("models/a.sql", "select 1 as id")]);
    rdbt_in(ok.path(), &["parse"]).assert_code(0);
    let too_new = project(&[("dbt_project.yml", "name: p\nprofile: p\nrequire-dbt-version: \">=2.0.0\"\n"), ("models/a.sql", "select 1 as id")]);
    let out = rdbt_in(too_new.path(), &["parse"]);
    out.assert_code(2);
    assert!(out.stderr.contains("dbt_project.yml:3:1: error[project]") && out.stderr.contains(">=2.0.0"), "{}", out.stderr);
}

#[test]
fn quoting_policy_applies_to_rendered_relations() {
    let p = project(&[
        ("dbt_project.yml", "name: p\nprofile: p\nquoting:\n  database: false\n  schema: false\n  identifier: false\n"),
        ("models/a.sql", "select 1 as id"),
        ("models/b.sql", "select * from {{ ref('a') }} -- {{ this }}"),
        ("models/s.yml", "version: 2\nsources:\n  - name: raw\n    schema: main\n    quoting:\n      identifier: true\n    tables:\n      - name: a\n"),
        ("models/c.sql", "-- depends_on: {{ ref('a') }}\nselect * from {{ source('raw', 'a') }}"),
    ]);
    rdbt_in(p.path(), &["run"]).assert_code(0);
    let b = std::fs::read_to_string(p.path().join("target/compiled/p/models/b.sql")).unwrap();
    assert_eq!(b, "select * from p.main.a -- p.main.b");
    let c = std::fs::read_to_string(p.path().join("target/compiled/p/models/c.sql")).unwrap();
    assert_eq!(c, "-- depends_on: p.main.a\nselect * from p.main.\"a\"");
    let m = read_json(&p.path().join("target/manifest.json"));
    assert_eq!(m["nodes"]["model.p.b"]["relation_name"], "p.main.b");
    assert_eq!(m["sources"]["source.p.raw.a"]["relation_name"], "p.main.\"a\"");
}

#[test]
fn global_flags_go_before_or_after_the_command() {
    let p = project(&[("models/a.sql", "select 1 as id")]);
    rdbt_in(p.path(), &["--threads", "1", "run", "--target", "dev"]).assert_code(0);
    let out = rdbt_in(p.path(), &["--log-format", "json", "ls"]);
    out.assert_code(0);
    let out = rdbt_in(p.path(), &["run", "--target", "nope"]);
    out.assert_code(2);
    assert!(out.stderr.contains("target 'nope' not found"), "{}", out.stderr);
}

#[test]
fn run_operation_calls_a_macro_with_args() {
    let p = project(&[(
        "macros/ops.sql",
        "{% macro make_table(name, n=1) %}{% do run_query('create table main.' ~ name ~ ' as select ' ~ n ~ ' as v') %}{% endmacro %}\n{% macro broken() %}{{ exceptions.raise_compiler_error('nope') }}{% endmacro %}",
    )]);
    rdbt_in(p.path(), &["run-operation", "make_table", "--args", "{name: t, n: 7}"]).assert_code(0);
    let db = duckdb::Connection::open(p.path().join("target/p.duckdb")).unwrap();
    let v: i64 = db.query_row("select v from main.t", [], |r| r.get(0)).unwrap();
    assert_eq!(v, 7);
    drop(db);
    let out = rdbt_in(p.path(), &["run-operation", "broken"]);
    out.assert_code(1);
    assert!(out.stderr.contains("macros/ops.sql:2:") && out.stderr.contains("nope"), "{}", out.stderr);
    rdbt_in(p.path(), &["run-operation", "no_such_macro"]).assert_code(2);
}

#[test]
fn retry_reruns_failed_and_skipped_nodes() {
    let p = project(&[
        ("models/a.sql", "select * from {{ var('src', 'no_such_table') }}"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
        ("models/c.sql", "select 1 as id"),
    ]);
    rdbt_in(p.path(), &["run"]).assert_code(1);
    // Fix the failing model, then retry: only a and b run.
    std::fs::write(p.path().join("models/a.sql"), "select 2 as id").unwrap();
    let out = rdbt_in(p.path(), &["retry"]);
    out.assert_code(0);
    let rr = read_json(&p.path().join("target/run_results.json"));
    let mut ids: Vec<&str> = rr["results"].as_array().unwrap().iter().map(|r| r["unique_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, vec!["model.p.a", "model.p.b"]);
    let out = rdbt_in(p.path(), &["retry"]);
    out.assert_code(0);
    assert!(out.stdout.contains("Nothing to retry"), "{}", out.stdout);
}

#[test]
fn model_is_in_the_context_while_parsing_and_compiling() {
    let p = project(&[("models/a.sql", "{{ config(materialized='table') }}select '{{ model.name }}' as n, '{{ model.config.materialized }}' as m")]);
    rdbt_in(p.path(), &["run"]).assert_code(0);
    let compiled = std::fs::read_to_string(p.path().join("target/compiled/p/models/a.sql")).unwrap();
    assert!(compiled.ends_with("select 'a' as n, 'table' as m"), "{compiled}");
}

#[test]
fn secret_env_vars_work_in_profiles_and_are_never_printed() {
    // The profile passes a secret to DuckDB as a setting; a model then fails
    // with an error message that echoes the setting's value back. The value
    // must not appear in any output or artifact.
    let secret = "hunter2-not-a-number";
    let p = project(&[
        (
            "profiles.yml",
            "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/p.duckdb\n      settings:\n        custom_extension_repository: \"{{ env_var('DBT_ENV_SECRET_AGENT') }}\"\n",
        ),
        ("models/a.sql", "{{ config(materialized='table') }} select cast(current_setting('custom_extension_repository') as integer) as id"),
    ]);
    let out = rdbt_in_env(p.path(), &["run"], &[("DBT_ENV_SECRET_AGENT", secret)]);
    out.assert_code(1);
    assert!(!out.all_output().contains(secret), "secret printed:\n{}", out.all_output());
    assert!(out.all_output().contains("*****"), "the masked value should show where it was: {}", out.all_output());
    let target = p.path().join("target");
    let files = common::list_files(&target);
    assert!(files.iter().any(|f| f.ends_with("run_results.json")), "{files:?}");
    for f in files {
        let bytes = std::fs::read(target.join(&f)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret), "secret written to {}", f.display());
    }
    assert!(read_json(&target.join("run_results.json")).to_string().contains("*****"));
}

#[test]
fn secret_env_vars_are_refused_in_models() {
    let p = project(&[("models/a.sql", "select '{{ env_var(\"DBT_ENV_SECRET_TOKEN\") }}' as t")]);
    let out = rdbt_in_env(p.path(), &["run"], &[("DBT_ENV_SECRET_TOKEN", "s3cr3t-value")]);
    out.assert_code(2);
    assert!(out.stderr.contains("Secret env vars are allowed only in profiles.yml"), "{}", out.stderr);
    assert!(out.stderr.contains("models/a.sql"), "{}", out.stderr);
    assert!(!out.all_output().contains("s3cr3t-value"));
}

#[test]
fn project_materializations_run_through_jinja() {
    // A custom materialization (append-only), and a project override of the
    // built-in `view` materialization that builds tables instead.
    let insert_only = r#"{% materialization insert_only, adapter='duckdb' %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing = load_cached_relation(this) -%}
  {{ run_hooks(pre_hooks) }}
  {% if existing is none or should_full_refresh() %}
    {{ drop_relation_if_exists(existing) }}
    {% call statement('main') -%}
      {{ get_create_table_as_sql(False, target_relation, sql) }}
    {%- endcall %}
  {% else %}
    {% call statement('main') -%}
      insert into {{ target_relation }} {{ sql }}
    {%- endcall %}
  {% endif %}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
{% materialization view, default %}
  {% call statement('main') -%}
    create or replace table {{ this }} as {{ sql }}
  {%- endcall %}
  {{ return({'relations': [this]}) }}
{% endmaterialization %}
"#;
    let p = project(&[
        ("macros/materializations.sql", insert_only),
        (
            "models/events.sql",
            "{{ config(materialized='insert_only', post_hook=\"insert into {{ this }} values (99, 'hook')\") }}\nselect 1 as id, 'a' as label union all select 2, 'b'",
        ),
        ("models/counted.sql", "select count(*) as n from {{ ref('events') }}"),
    ]);
    for _ in 0..2 {
        let out = rdbt_in(p.path(), &["run"]);
        out.assert_code(0);
    }
    let dump = common::dump_relations(&p.path().join("target/p.duckdb"));
    let events = common::relation(&dump, "main.events");
    assert_eq!(events["rows"].as_array().map(Vec::len), Some(6), "{events}");
    let counted = common::relation(&dump, "main.counted");
    assert_eq!(counted["type"], "table", "the project's `view` materialization builds tables: {counted}");
    assert_eq!(counted["rows"][0][0], "6", "{counted}");
    // --full-refresh goes through should_full_refresh() in the block.
    rdbt_in(p.path(), &["run", "--full-refresh", "-s", "events"]).assert_code(0);
    let dump = common::dump_relations(&p.path().join("target/p.duckdb"));
    assert_eq!(common::relation(&dump, "main.events")["rows"].as_array().map(Vec::len), Some(3));
}

#[test]
fn dbt_project_yml_can_use_target() {
    let p = project(&[
        (
            "dbt_project.yml",
            "name: p\nprofile: p\nmodels:\n  p:\n    +materialized: \"{{ 'table' if target.name == 'dev' else 'view' }}\"\n    +schema: \"{{ target.type }}_marts\"\n",
        ),
        ("models/a.sql", "select 1 as id"),
    ]);
    rdbt_in(p.path(), &["run"]).assert_code(0);
    let dump = common::dump_relations(&p.path().join("target/p.duckdb"));
    assert_eq!(common::relation(&dump, "main_duckdb_marts.a")["type"], "table", "{dump}");
}

#[test]
fn generic_test_macro_config_applies() {
    // The test macro sets its own fail_calc/warn_if, as dbt_utils' tests do.
    let p = project(&[
        ("models/a.sql", "select 1 as id union all select 2"),
        (
            "tests/generic/sum_over.sql",
            "{% test sum_over(model, column_name) %}{{ config(fail_calc='coalesce(sum(v), 0)', warn_if='> 1', error_if='> 100') }}\nselect {{ column_name }} as v from {{ model }}\n{% endtest %}",
        ),
        ("models/schema.yml", "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [sum_over]\n"),
    ]);
    let out = rdbt_in(p.path(), &["build"]);
    out.assert_code(0);
    let rr = read_json(&p.path().join("target/run_results.json"));
    let test = rr["results"].as_array().into_iter().flatten().find(|r| r["unique_id"].as_str().is_some_and(|u| u.starts_with("test."))).cloned().unwrap_or_default();
    assert_eq!(test["status"], "warn", "{test}");
    assert_eq!(test["failures"], 3, "{test}");
}

#[test]
fn jinja_in_yaml_config_values_is_rendered_at_parse() {
    // As dbt: `enabled: "{{ ... }}"` on a test and `materialized:` in a
    // model's YAML config are rendered, and "False" is a boolean.
    let p = project(&[
        ("models/a.sql", "select 1 as id"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: a\n    config:\n      materialized: \"{{ 'table' if target.name == 'dev' else 'view' }}\"\n    columns:\n      - name: id\n        data_tests:\n          - unique:\n              config:\n                enabled: \"{{ target.type in ['bigquery'] }}\"\n          - not_null:\n              config:\n                enabled: \"{{ target.type == 'duckdb' }}\"\n",
        ),
    ]);
    let out = rdbt_in(p.path(), &["build"]);
    out.assert_code(0);
    assert!(out.stdout.contains("sql table model main.a"), "{}", out.stdout);
    assert!(out.stdout.contains("not_null_a_id"), "{}", out.stdout);
    assert!(!out.stdout.contains("unique_a_id"), "the disabled test ran: {}", out.stdout);
}

#[test]
fn source_freshness_judges_each_table_and_writes_sources_json() {
    let p = project(&[
        ("models/fresh.sql", "select now() - interval 2 hour as loaded_at"),
        ("models/aging.sql", "select now() - interval 30 hour as loaded_at union all select now() - interval 5 day"),
        ("models/stale.sql", "select timestamp '2020-01-01 00:00:00' as loaded_at"),
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: s\n    schema: main\n    loaded_at_field: loaded_at\n    freshness:\n      warn_after: {count: 1, period: day}\n      error_after: {count: 3, period: day}\n    tables:\n      - name: fresh\n      - name: aging\n      - name: old\n        identifier: stale\n      - name: filtered\n        identifier: aging\n        freshness:\n          warn_after: {count: 1, period: hour}\n          filter: \"loaded_at < now() - interval 4 day\"\n      - name: unchecked\n        identifier: fresh\n        freshness: null\n",
        ),
    ]);
    rdbt_in(p.path(), &["build"]).assert_code(0);
    let out = rdbt_in(p.path(), &["source", "freshness"]);
    out.assert_code(1);
    assert!(out.stdout.contains("PASS freshness of s.fresh"), "{}", out.stdout);
    assert!(out.stdout.contains("WARN freshness of s.aging"), "{}", out.stdout);
    assert!(out.stdout.contains("ERROR STALE freshness of s.old"), "{}", out.stdout);
    assert!(!out.stdout.contains("s.unchecked"), "{}", out.stdout);
    let sj = read_json(&p.path().join("target/sources.json"));
    assert_eq!(sj["metadata"]["dbt_schema_version"], "https://schemas.getdbt.com/dbt/sources/v3.json");
    let status = |id: &str| sj["results"].as_array().unwrap().iter().find(|r| r["unique_id"] == id).map(|r| r["status"].clone());
    assert_eq!(status("source.p.s.fresh"), Some(serde_json::json!("pass")));
    assert_eq!(status("source.p.s.aging"), Some(serde_json::json!("warn")));
    assert_eq!(status("source.p.s.old"), Some(serde_json::json!("error")));
    // The filter keeps only the 5-day-old row: past warn_after (1 hour), error_after inherited (3 days).
    assert_eq!(status("source.p.s.filtered"), Some(serde_json::json!("error")));
    let fresh = sj["results"].as_array().unwrap().iter().find(|r| r["unique_id"] == "source.p.s.fresh").unwrap();
    let age = fresh["max_loaded_at_time_ago_in_s"].as_f64().unwrap();
    assert!((7100.0..7300.0).contains(&age), "{age}");
    assert_eq!(fresh["criteria"]["warn_after"], serde_json::json!({"count": 1, "period": "day"}));

    let only_fresh = rdbt_in(p.path(), &["source", "freshness", "--select", "source:s.fresh"]);
    only_fresh.assert_code(0);
    assert!(only_fresh.stdout.contains("1 of 1 PASS freshness of s.fresh"), "{}", only_fresh.stdout);
}

#[test]
fn ml_nodes_train_score_and_check_in_the_dag() {
    let ml = |r2_min: &str, features: &str| {
        format!(
            "version: 2\nml:\n  - name: lin\n    kind: train\n    data: \"ref('points')\"\n    target: y\n    features: {features}\n    estimator: {{type: linear_regression}}\n    split: {{test_size: 0.25, seed: 1}}\n    checks:\n      - {{metric: r2, min: {r2_min}, severity: error}}\n  - name: scored\n    kind: predict\n    model: lin\n    data: \"select * from {{{{ ref('points') }}}} where x1 > 5\"\n"
        )
    };
    let p = project(&[("seeds/points.csv", "x1,x2,y\n3.2383,-3.4915,17.6754\n5.3588,-1.3431,19.7312\n0.5800,0.0744,2.6949\n0.6986,-4.0929,11.3063\n4.2452,3.2685,7.2492\n6.2743,4.4771,10.9187\n5.7710,-1.0332,20.4100\n8.5847,-2.1039,30.9573\n1.4426,-3.8221,12.9057\n1.8073,0.8160,4.9615\n6.3891,-1.2760,22.6850\n0.5960,-2.9404,8.6582\n6.8040,-0.7241,22.8081\n4.5318,-2.0023,18.7223\n7.9438,1.9899,20.8563\n5.2520,3.7514,9.3838\n7.2945,-2.1206,27.1743\n4.1812,2.5714,8.3946\n1.5198,-0.1104,5.9243\n7.6457,0.7303,22.5128\n8.7548,-1.8625,30.9441\n5.7990,-0.4379,19.1463\n8.3997,4.4468,17.1596\n0.6067,2.0149,-1.1858\n6.4713,4.9310,10.5877\n3.8579,1.6865,9.1271\n0.2256,-0.3830,2.4676\n0.5895,2.6823,-2.5526\n1.2934,-2.5239,9.7711\n0.8058,-0.5081,4.5619\n5.4944,3.8338,9.8998\n2.7842,-0.8470,10.8656\n3.5877,3.8419,4.1345\n1.7622,-2.6804,11.6324\n2.3334,-0.1504,8.2347\n0.0409,-0.8105,2.7024\n3.6925,0.6634,10.8973\n5.1549,1.1759,14.0684\n6.7620,-4.4601,30.3466\n8.7451,2.9787,21.1752\n3.9238,-1.0102,14.9047\n0.6225,-4.3265,11.6064\n2.0876,-3.3770,13.9992\n0.0023,-3.4874,8.0094\n1.0146,-1.3639,6.9728\n6.1407,-3.5145,26.4836\n2.5226,-1.5261,11.5863\n8.4894,4.9310,16.6446\n4.6599,-0.1617,15.3428\n3.4264,-2.3524,16.0078\n8.2886,-3.3856,32.8799\n5.2826,-3.5340,23.9512\n5.4317,-4.7296,26.4815\n8.6333,1.9620,22.9271\n2.6112,-1.3330,11.5851\n5.3259,2.7905,11.5458\n3.2966,-2.7696,16.5383\n8.5263,3.0608,20.1890\n8.1833,2.3987,20.7701\n3.5556,-4.7102,21.2067\n0.2794,-2.2058,6.2409\n9.5652,-0.5277,30.9042\n9.3702,4.8804,19.4413\n2.2046,-2.7315,13.0504\n1.9671,-2.9563,12.6610\n8.4044,-0.2053,26.4726\n6.5298,2.9964,14.7231\n9.0978,2.8230,22.7219\n7.5014,-0.2197,24.0202\n3.3252,3.0082,5.1180\n9.7166,-1.0416,32.0358\n7.2480,-3.3000,29.4845\n1.2704,-3.4885,11.9379\n1.4617,3.2651,-1.2470\n9.8031,1.5727,27.1894\n1.3098,-4.8576,14.7465\n9.7089,1.4967,26.9035\n4.3381,3.7174,6.5407\n8.2616,-2.8896,31.5629\n2.4054,0.8644,6.5707\n2.5936,-0.8099,10.5498\n3.5378,-0.4184,12.6113\n5.8335,4.0430,10.2182\n5.0165,0.3182,15.5199\n5.2351,-4.8130,26.2719\n0.0393,2.9917,-4.8421\n1.7235,-0.2651,6.6807\n3.2598,0.1835,10.2865\n5.5544,2.8427,12.0785\n2.4849,-2.2308,12.9958\n7.7226,0.0771,23.8572\n9.1249,-0.5675,29.4458\n6.1253,0.0555,19.1116\n4.5235,0.3329,13.8929\n4.7804,4.4150,6.4469\n9.4218,-2.4041,33.8794\n5.5951,4.4327,8.9492\n1.2162,-0.5788,5.7604\n0.7255,-2.5936,8.4970\n7.8394,3.9703,16.6435\n1.5445,2.1612,1.2813\n8.8283,4.6754,18.0871\n2.1959,4.5250,-1.5552\n9.8987,3.3244,24.1162\n1.6147,-0.6848,7.1230\n1.9574,-1.8147,10.4929\n7.2215,-4.8052,32.1733\n0.1808,-1.6850,4.8766\n6.2393,0.1226,19.7392\n7.8836,4.7170,15.3310\n1.0478,-2.3444,9.0005\n2.7045,-3.7044,16.5650\n4.2225,4.1141,5.4718\n1.4937,4.1917,-2.9726\n5.7059,2.0042,14.1386\n6.8821,-0.7468,23.1582\n0.7241,4.3835,-5.7140\n0.8374,3.5623,-3.7468\n0.6662,3.6277,-4.3440\n5.5306,4.2667,9.0846\n"), ("models/ml.yml", &ml("0.99", "[x1, x2]"))]);
    let out = rdbt_in(p.path(), &["build"]);
    out.assert_code(0);
    assert!(out.stdout.contains("OK created ml node main.lin"), "{}", out.stdout);
    let db = duckdb::Connection::open(p.path().join("target/p.duckdb")).unwrap();
    let r2: f64 = db.query_row("select r2 from main.lin__metrics where split = 'test'", [], |r| r.get(0)).unwrap();
    assert!(r2 > 0.999, "{r2}");
    let (n, err): (i64, f64) = db.query_row("select count(*), max(abs(prediction - y)) from main.lin", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(n, 30);
    assert!(err < 0.5, "{err}");
    let scored: i64 = db.query_row("select count(*) from main.scored where prediction is not null", [], |r| r.get(0)).unwrap();
    let above: i64 = db.query_row("select count(*) from main.points where x1 > 5", [], |r| r.get(0)).unwrap();
    assert_eq!(scored, above);
    drop(db);
    for f in ["model.json", "metrics.json", "plot.svg"] {
        assert!(p.path().join("target/ml/lin").join(f).is_file(), "{f}");
    }
    let manifest = read_json(&p.path().join("target/manifest.json"));
    assert_eq!(manifest["parent_map"]["ml.p.scored"], serde_json::json!(["ml.p.lin", "seed.p.points"]));
    let model_before = std::fs::read_to_string(p.path().join("target/ml/lin/model.json")).unwrap();

    // An error check that fails: the node fails, its outputs stay as they were, the scorer is skipped.
    std::fs::write(p.path().join("models/ml.yml"), ml("1.01", "[x1, x2]")).unwrap();
    let out = rdbt_in(p.path(), &["build"]);
    out.assert_code(1);
    assert!(out.all_output().contains("check r2_min"), "{}", out.all_output());
    assert!(out.stdout.contains("SKIP relation main.scored"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(p.path().join("target/ml/lin/model.json")).unwrap(), model_before);

    // A feature the data does not have is bad input: named, exit 2.
    std::fs::write(p.path().join("models/ml.yml"), ml("0.9", "[x1, x3]")).unwrap();
    let out = rdbt_in(p.path(), &["build"]);
    out.assert_code(2);
    assert!(out.all_output().contains("x3"), "{}", out.all_output());
}

#[test]
fn data_tests_share_a_query_and_report_as_run_alone() {
    let p = project(&[
        ("models/a.sql", "{{ config(materialized='table') }}\nselect 1 as id, 'x' as name union all select 1, 'z' union all select 2, 'y'"),
        (
            "models/a.yml",
            "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [not_null, unique]\n      - name: name\n        data_tests:\n          - accepted_values:\n              arguments: {values: ['x', 'y']}\n              config: {severity: warn}\n",
        ),
        ("tests/broken.sql", "select no_such_column from {{ ref('a') }}"),
        ("tests/stored.sql", "{{ config(store_failures=true) }}\nselect * from {{ ref('a') }} where id = 2"),
    ]);
    let statuses = |p: &tempfile::TempDir| -> Vec<(String, String, Value)> {
        let rr = read_json(&p.path().join("target/run_results.json"));
        let mut v: Vec<_> = rr["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["unique_id"].as_str().unwrap().starts_with("test."))
            .map(|r| (r["unique_id"].as_str().unwrap().split('.').nth(2).unwrap().to_string(), r["status"].as_str().unwrap().to_string(), r["failures"].clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let counting_queries = |stderr: &str| stderr.lines().filter(|l| l.starts_with("sql") && l.contains("as failures")).count();
    let log = [("RDBT_LOG_SQL", "1")];

    // One worker: the five tests of `a` are ready together. The four that
    // only read share a query; `broken` makes it fail, so they run alone
    // and the error is broken's own.
    let out = rdbt_in_env(p.path(), &["build", "--threads", "1"], &log);
    out.assert_code(1);
    assert!(out.stderr.contains("select 0 as test_index"), "no shared query was tried:\n{}", out.stderr);
    let expected = |broken: bool| {
        let mut v = vec![
            ("accepted_values_a_name__x__y".to_string(), "warn".to_string(), Value::from(1)),
            ("not_null_a_id".into(), "pass".into(), Value::from(0)),
            ("stored".into(), "fail".into(), Value::from(1)),
            ("unique_a_id".into(), "fail".into(), Value::from(1)),
        ];
        if broken {
            v.insert(1, ("broken".into(), "error".into(), Value::Null));
        }
        v
    };
    assert_eq!(statuses(&p), expected(true));
    let rr = read_json(&p.path().join("target/run_results.json"));
    let broken = rr["results"].as_array().unwrap().iter().find(|r| r["unique_id"] == "test.p.broken").unwrap();
    assert!(broken["message"].as_str().unwrap().contains("no_such_column"), "{broken}");

    // Without it: one query counts the three tests that read, and `stored`
    // (which writes its failures) runs alone.
    std::fs::remove_file(p.path().join("tests/broken.sql")).unwrap();
    let out = rdbt_in_env(p.path(), &["test", "--threads", "1"], &log);
    out.assert_code(1);
    assert_eq!(counting_queries(&out.stderr), 2, "{}", out.stderr);
    assert_eq!(statuses(&p), expected(false));
    // The three share their `execute` timing; `stored` has its own.
    let rr = read_json(&p.path().join("target/run_results.json"));
    let execute = |name: &str| {
        let r = rr["results"].as_array().unwrap().iter().find(|r| r["unique_id"].as_str().unwrap().split('.').nth(2) == Some(name)).unwrap();
        r["timing"].as_array().unwrap().iter().find(|t| t["name"] == "execute").unwrap().clone()
    };
    assert_eq!(execute("not_null_a_id"), execute("unique_a_id"));
    assert_eq!(execute("not_null_a_id"), execute("accepted_values_a_name__x__y"));
    assert_ne!(execute("not_null_a_id"), execute("stored"));
    assert!(out.stdout.contains("WARN=1") && out.stdout.contains("ERROR=2"), "{}", out.stdout);

    // --fail-fast: every test alone, and none runs after the first failure
    // (of `unique_a_id` and `stored`, the second is skipped).
    let out = rdbt_in_env(p.path(), &["test", "--threads", "1", "--fail-fast"], &log);
    out.assert_code(1);
    assert!(!out.stderr.contains("test_index"), "{}", out.stderr);
    let skipped: Vec<_> = statuses(&p).into_iter().filter(|(_, status, _)| status == "skipped").map(|(name, ..)| name).collect();
    assert!(skipped.iter().any(|n| n == "unique_a_id" || n == "stored"), "{skipped:?}");
}
