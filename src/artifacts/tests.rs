//! Artifacts against dbt's published schemas, plus snapshots of a tiny project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::*;
use crate::manifest::*;
use crate::parser::test_names::{TestTarget, generic_test_name, parse_test_entry};
use crate::run::results::{RunResult, RunResults, RunStatus, TimingInfo};

const PKG: &str = "jaffle";

fn ts(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_400_000 + secs, micros * 1000).single().unwrap_or_default()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn meta() -> ArtifactMeta {
    let mut m = ArtifactMeta::new(PKG, "duckdb", "c0a25ea5-1e77-462f-b207-4e5a7596fb89", ts(0, 800_734));
    m.env = Map::new();
    m.generated_at = ts(1, 178_546);
    m
}

fn node(rt: ResourceType, name: &str, ofp: &str) -> Node {
    let path = ofp.split_once('/').map_or(ofp, |(_, rest)| rest).to_string();
    let mut fqn = vec![PKG.to_string()];
    fqn.extend(path.split('/').map(str::to_string));
    if let Some(last) = fqn.last_mut() {
        *last = name.to_string();
    }
    Node {
        unique_id: format!("{}.{PKG}.{name}", rt.as_str()),
        resource_type: rt,
        package_name: PKG.into(),
        name: name.into(),
        path,
        original_file_path: ofp.into(),
        file: PathBuf::from(format!("/proj/{ofp}")),
        fqn,
        checksum: "bf80fa153c1a6f79a17445dc3071f6c6d292d9bf08982e10c0cd24a7993a9087".into(),
        database: "dev".into(),
        schema: "main".into(),
        alias: name.into(),
        ..Node::default()
    }
}

fn column(name: &str, description: &str) -> (String, ColumnInfo) {
    (name.to_string(), ColumnInfo { name: name.into(), description: description.into(), ..ColumnInfo::default() })
}

fn ref_call(name: &str) -> RefCall {
    RefCall { name: name.into(), package: None, version: None }
}

/// A generic test named by the real naming code, attached to `target`.
fn generic_test(entry: Value, target: &Node, column: Option<&str>) -> Node {
    let entry = parse_test_entry(&entry).unwrap_or_else(|e| panic!("{e}"));
    let named = generic_test_name(&entry, TestTarget::Node { name: &target.name, version: None }, column);
    let mut n = node(ResourceType::Test, &named.name, "models/schema.yml");
    n.unique_id = named.unique_id(PKG);
    n.path = named.path.clone();
    n.fqn = vec![PKG.into(), named.name.clone()];
    n.alias = named.alias.clone();
    n.checksum = String::new();
    n.raw_code = named.raw_code.clone();
    n.schema = "main_dbt_test__audit".into();
    n.config = NodeConfig(named.config.clone());
    n.unrendered_config = named.config.clone();
    n.column_name = column.map(str::to_string);
    n.attached_node = Some(target.unique_id.clone());
    n.group = target.group.clone();
    n.refs = vec![ref_call(&target.name)];
    n.depends_on = DependsOn {
        macros: vec![format!("macro.dbt.test_{}", entry.test_name), "macro.dbt.get_where_subquery".into()],
        nodes: vec![target.unique_id.clone()],
    };
    n.test_metadata = Some(TestMetadata {
        name: entry.test_name.clone(),
        namespace: entry.namespace.clone(),
        kwargs: named.kwargs.clone(),
    });
    n
}

/// The project of `scripts/golden`-style checks: a seed, two models (one in a
/// group, with a doc block and a source), a snapshot, a singular and three
/// generic tests, an analysis, a hook, a macro, a doc, an exposure, a group
/// and a disabled model.
fn tiny_manifest() -> Manifest {
    let mut m = Manifest { project_name: PKG.into(), ..Manifest::default() };

    let mut seed = node(ResourceType::Seed, "raw_orders", "seeds/raw_orders.csv");
    seed.schema = "main_raw".into();
    seed.config = NodeConfig(obj(json!({"schema": "raw"})));
    seed.unrendered_config = obj(json!({"schema": "raw"}));
    seed.raw_code = "id,customer_id\n1,1\n".into();

    let mut stg = node(ResourceType::Model, "stg_customers", "models/staging/stg_customers.sql");
    stg.raw_code = "select id as customer_id from {{ ref('raw_orders') }}".into();
    stg.tags = vec!["stg".into()];
    stg.config = NodeConfig(obj(json!({"materialized": "view", "tags": ["stg"]})));
    stg.unrendered_config = obj(json!({"materialized": "view", "tags": ["stg"]}));
    stg.refs = vec![ref_call("raw_orders")];
    stg.depends_on.nodes = vec![seed.unique_id.clone()];

    let mut orders = node(ResourceType::Model, "orders", "models/orders.sql");
    orders.raw_code = "{{ config(materialized='table', group='finance', access='public', post_hook='select 1') }}\nselect 1".into();
    orders.config = NodeConfig(obj(json!({
        "materialized": "table", "group": "finance", "access": "public", "post_hook": "select 1",
        "docs": {"node_color": "red"}, "unique_key": ["order_id"],
    })));
    orders.unrendered_config = obj(json!({"materialized": "table", "group": "finance", "access": "public"}));
    orders.description = "Orders table.".into();
    orders.columns = IndexMap::from([column("order_id", "the id"), column("status", "")]);
    orders.patch_path = Some("models/schema.yml".into());
    orders.group = Some("finance".into());
    orders.access = Some("public".into());
    orders.refs = vec![ref_call("stg_customers")];
    orders.sources = vec![("shop".into(), "orders".into())];
    orders.depends_on = DependsOn {
        macros: vec!["macro.jaffle.cents".into()],
        nodes: vec!["source.jaffle.shop.orders".into(), stg.unique_id.clone()],
    };

    let mut snap = node(ResourceType::Snapshot, "orders_snap", "snapshots/snap.sql");
    snap.fqn = vec![PKG.into(), "snap".into(), "orders_snap".into()];
    snap.schema = "snapshots".into();
    snap.config = NodeConfig(obj(json!({"target_schema": "snapshots", "unique_key": "id", "strategy": "check", "check_cols": "all"})));
    snap.unrendered_config = snap.config.0.clone();
    snap.refs = vec![ref_call("raw_orders")];
    snap.depends_on.nodes = vec![seed.unique_id.clone()];

    let mut singular = node(ResourceType::Test, "assert_positive", "tests/assert_positive.sql");
    singular.schema = "main_dbt_test__audit".into();
    singular.raw_code = "select * from {{ ref('orders') }} where amt < 0".into();
    singular.refs = vec![ref_call("orders")];
    singular.depends_on.nodes = vec![orders.unique_id.clone()];

    let t_unique = generic_test(json!("unique"), &orders, Some("order_id"));
    let t_not_null = generic_test(json!({"not_null": {"config": {"where": "order_id > 0"}}}), &orders, Some("order_id"));
    let t_values = generic_test(
        json!({"accepted_values": {"arguments": {"values": ["placed", "shipped"]}, "config": {"severity": "warn"}}}),
        &orders,
        Some("status"),
    );

    let mut analysis = node(ResourceType::Analysis, "an", "analyses/an.sql");
    analysis.path = "analysis/an.sql".into();
    analysis.fqn = vec![PKG.into(), "analysis".into(), "an".into()];
    analysis.raw_code = "select * from {{ ref('orders') }}".into();
    analysis.refs = vec![ref_call("orders")];
    analysis.depends_on.nodes = vec![orders.unique_id.clone()];

    let mut hook = node(ResourceType::Operation, "jaffle-on-run-start-0", "./dbt_project.yml");
    hook.path = "hooks/jaffle-on-run-start-0.sql".into();
    hook.fqn = vec![PKG.into(), "hooks".into(), "jaffle-on-run-start-0".into()];
    hook.raw_code = "select 1".into();
    hook.tags = vec!["on-run-start".into()];

    let mut off = node(ResourceType::Model, "off", "models/off.sql");
    off.config = NodeConfig(obj(json!({"enabled": false})));
    off.unrendered_config = obj(json!({"enabled": false}));

    for n in [seed, stg, orders, snap, singular, t_unique, t_not_null, t_values, analysis, hook] {
        m.nodes.insert(n.unique_id.clone(), Box::new(n));
    }
    m.disabled.insert(off.unique_id.clone(), vec![off]);

    m.sources.insert(
        "source.jaffle.shop.orders".into(),
        SourceDefinition {
            unique_id: "source.jaffle.shop.orders".into(),
            package_name: PKG.into(),
            source_name: "shop".into(),
            name: "orders".into(),
            identifier: "raw_orders".into(),
            database: "dev".into(),
            schema: "main_raw".into(),
            loader: String::new(),
            description: String::new(),
            source_description: String::new(),
            columns: IndexMap::from([column("id", "")]),
            meta: Map::new(),
            source_meta: Map::new(),
            tags: vec![],
            config: NodeConfig::default(),
            quoting: Map::new(),
            loaded_at_field: None,
            freshness: Some(json!({"warn_after": {"count": 1, "period": "day"}})),
            path: "models/schema.yml".into(),
            original_file_path: "models/schema.yml".into(),
            file: PathBuf::from("/proj/models/schema.yml"),
            span: None,
            fqn: vec![PKG.into(), "shop".into(), "orders".into()],
            relation_name: "\"dev\".\"main_raw\".\"raw_orders\"".into(),
            loaded_by: vec![],
        },
    );
    let macro_sql = "{% macro cents(x) %}({{ x }} * 100){% endmacro %}";
    m.macros.insert(
        "macro.jaffle.cents".into(),
        Macro {
            unique_id: "macro.jaffle.cents".into(),
            package_name: PKG.into(),
            name: "cents".into(),
            path: "macros/cents.sql".into(),
            original_file_path: "macros/cents.sql".into(),
            file: PathBuf::from("/proj/macros/cents.sql"),
            span: crate::diag::Span::new(0, macro_sql.len()),
            macro_sql: macro_sql.into(),
            description: "multiply".into(),
            arguments: vec![MacroArgument { name: "x".into(), r#type: Some("number".into()), description: "the value".into() }],
            depends_on_macros: vec![],
            patch_path: Some("jaffle://models/more.yml".into()),
            meta: Map::new(),
        },
    );
    let mat_sql = "{% materialization table, adapter='duckdb', supported_languages=['sql', 'python'] %}{% endmaterialization %}";
    m.macros.insert(
        "macro.jaffle.materialization_table_duckdb".into(),
        Macro {
            unique_id: "macro.jaffle.materialization_table_duckdb".into(),
            package_name: PKG.into(),
            name: "materialization_table_duckdb".into(),
            path: "macros/mat.sql".into(),
            original_file_path: "macros/mat.sql".into(),
            file: PathBuf::from("/proj/macros/mat.sql"),
            span: crate::diag::Span::new(0, mat_sql.len()),
            macro_sql: mat_sql.into(),
            description: String::new(),
            arguments: vec![],
            depends_on_macros: vec![],
            patch_path: None,
            meta: Map::new(),
        },
    );
    m.docs.insert(
        "doc.jaffle.orders_doc".into(),
        Documentation {
            unique_id: "doc.jaffle.orders_doc".into(),
            package_name: PKG.into(),
            name: "orders_doc".into(),
            path: "docs.md".into(),
            original_file_path: "models/docs.md".into(),
            block_contents: "Orders table.".into(),
        },
    );
    m.exposures.insert(
        "exposure.jaffle.dash".into(),
        Exposure {
            unique_id: "exposure.jaffle.dash".into(),
            package_name: PKG.into(),
            name: "dash".into(),
            r#type: "dashboard".into(),
            owner: obj(json!({"name": "Ann", "email": "a@x.com"})),
            description: String::new(),
            label: None,
            maturity: None,
            url: None,
            tags: vec![],
            meta: Map::new(),
            config: NodeConfig::default(),
            path: "schema.yml".into(),
            original_file_path: "models/schema.yml".into(),
            fqn: vec![PKG.into(), "dash".into()],
            refs: vec![ref_call("orders")],
            sources: vec![],
            depends_on: DependsOn { macros: vec![], nodes: vec!["model.jaffle.orders".into()] },
        },
    );
    m.groups.insert(
        "group.jaffle.finance".into(),
        Group {
            unique_id: "group.jaffle.finance".into(),
            package_name: PKG.into(),
            name: "finance".into(),
            owner: obj(json!({"name": "Fin", "email": "fin@x.com"})),
            path: "schema.yml".into(),
            original_file_path: "models/schema.yml".into(),
        },
    );
    m
}

fn run_infos(m: &Manifest) -> BTreeMap<String, NodeRunInfo> {
    m.nodes
        .values()
        .filter(|n| matches!(n.resource_type, ResourceType::Model | ResourceType::Test | ResourceType::Snapshot))
        .map(|n| {
            let compiled = n.resource_type != ResourceType::Snapshot;
            let info = NodeRunInfo {
                compiled_code: Some(format!("-- compiled {}", n.name)),
                extra_ctes: vec![],
                compiled_path: compiled.then(|| node_target_path("target", "compiled", PKG, &n.path, &n.original_file_path)),
                build_path: Some(node_target_path("target", "run", PKG, &n.path, &n.original_file_path)),
            };
            (n.unique_id.clone(), info)
        })
        .collect()
}

fn tiny_run_results() -> RunResults {
    let timing = |a: i64| {
        vec![
            TimingInfo { name: "compile".into(), started_at: ts(a, 1), completed_at: ts(a, 2) },
            TimingInfo { name: "execute".into(), started_at: ts(a, 3), completed_at: ts(a, 250_000) },
        ]
    };
    let result = |id: &str, status: RunStatus| RunResult {
        unique_id: id.into(),
        status,
        timing: timing(2),
        thread_id: "Thread-1 (worker)".into(),
        execution_time: 0.25,
        adapter_response: obj(json!({"_message": "OK"})),
        message: Some("OK".into()),
        failures: None,
        compiled_code: Some("select 1".into()),
        relation_name: Some("\"dev\".\"main\".\"x\"".into()),
    };
    let mut seed = result("seed.jaffle.raw_orders", RunStatus::Success);
    seed.adapter_response = obj(json!({"_message": "INSERT 2", "code": "INSERT", "rows_affected": 2}));
    seed.message = Some("INSERT 2".into());
    let mut error = result("model.jaffle.orders", RunStatus::Error);
    error.adapter_response = Map::new();
    error.message = Some("Runtime Error in model orders (models/orders.sql)\n  boom".into());
    let mut skipped = result("model.jaffle.downstream", RunStatus::Skipped);
    skipped.timing = vec![];
    skipped.adapter_response = Map::new();
    skipped.message = None;
    skipped.compiled_code = None;
    skipped.execution_time = 0.0;
    let mut fail = result("test.jaffle.unique_orders_order_id.fed79b3a6e", RunStatus::Fail);
    fail.failures = Some(3);
    fail.message = Some("Got 3 results, configured to fail if != 0".into());
    fail.relation_name = None;
    let mut pass = result("test.jaffle.not_null_orders_order_id.cf6c17daed", RunStatus::Pass);
    pass.failures = Some(0);
    pass.message = None;
    pass.relation_name = None;
    let mut warn = result("test.jaffle.accepted_values_orders_status__placed__shipped.7de09bf3cd", RunStatus::Warn);
    warn.failures = Some(1);
    warn.relation_name = None;
    RunResults {
        invocation_id: "c0a25ea5-1e77-462f-b207-4e5a7596fb89".into(),
        generated_at: ts(3, 753_948),
        elapsed_time: 0.6495,
        args: obj(json!({"which": "build", "invocation_command": "rdbt build", "select": [], "exclude": []})),
        results: vec![seed, error, skipped, fail, pass, warn],
    }
}

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_valid(schema_file: &str, instance: &Value) {
    let schema = schema(schema_file);
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{schema_file}: {e}"));
    let errors: Vec<String> =
        validator.iter_errors(instance).take(20).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "{schema_file} rejects the artifact:\n{}", errors.join("\n"));
}

#[test]
fn manifest_validates_against_v12_schema() {
    let m = tiny_manifest();
    assert_valid("manifest-v12.json", &manifest_json(&m, &meta()));
    let selectors = obj(json!({"nightly": {"name": "nightly", "definition": {"method": "tag", "value": "nightly"}}}));
    assert_valid("manifest-v12.json", &manifest_json_with(&m, &meta(), &run_infos(&m), &selectors));
}

#[test]
fn empty_manifest_validates() {
    let m = Manifest { project_name: PKG.into(), ..Manifest::default() };
    assert_valid("manifest-v12.json", &manifest_json(&m, &meta()));
}

#[test]
fn run_results_validate_against_v6_schema() {
    assert_valid("run-results-v6.json", &run_results_json(&tiny_run_results(), &meta()));
}

#[test]
fn manifest_shape_matches_dbt() {
    let m = tiny_manifest();
    let v = manifest_json_with(&m, &meta(), &run_infos(&m), &Map::new());
    assert_eq!(v["metadata"]["project_id"], "f9d1e024ef226b4dca0863d7d3ade287"); // md5("jaffle"), as dbt wrote it
    assert_eq!(v["metadata"]["generated_at"], "2026-11-23T02:13:21.178546Z");
    let orders = &v["nodes"]["model.jaffle.orders"];
    assert_eq!(orders["primary_key"], json!(["order_id"]));
    assert_eq!(orders["config"]["post-hook"], json!([{"sql": "select 1", "transaction": true, "index": null}]));
    assert_eq!(orders["docs"], json!({"show": true, "node_color": "red"}));
    assert_eq!(orders["patch_path"], "jaffle://models/schema.yml");
    assert_eq!(orders["compiled_path"], "target/compiled/jaffle/models/orders.sql");
    assert_eq!(v["nodes"]["snapshot.jaffle.orders_snap"]["compiled_path"], Value::Null);
    let t = &v["nodes"]["test.jaffle.not_null_orders_order_id.cf6c17daed"];
    assert_eq!(t["build_path"], "target/run/jaffle/models/schema.yml/not_null_orders_order_id.sql");
    assert_eq!(t["file_key_name"], "models.orders");
    assert_eq!(t["config"]["where"], "order_id > 0");
    assert_eq!(t["config"]["schema"], "dbt_test__audit");
    assert_eq!(t["checksum"], json!({"name": "none", "checksum": ""}));
    let seed = &v["nodes"]["seed.jaffle.raw_orders"];
    assert_eq!(seed["root_path"], "/proj");
    assert_eq!(seed["raw_code"], "");
    assert!(seed.get("language").is_none());
    assert_eq!(v["nodes"]["operation.jaffle.jaffle-on-run-start-0"]["index"], 0);
    assert_eq!(v["group_map"]["finance"].as_array().map(Vec::len), Some(4));
    assert_eq!(v["child_map"]["model.jaffle.orders"].as_array().map(Vec::len), Some(6));
    assert_eq!(v["macros"]["macro.jaffle.materialization_table_duckdb"]["supported_languages"], json!(["sql", "python"]));
    assert_eq!(v["macros"]["macro.jaffle.cents"]["supported_languages"], Value::Null);
}

#[test]
fn run_results_shape_matches_dbt() {
    let v = run_results_json(&tiny_run_results(), &meta());
    let r = &v["results"];
    // seeds are not compiled: no SQL, no relation
    assert_eq!(r[0]["compiled"], Value::Null);
    assert_eq!(r[0]["compiled_code"], Value::Null);
    assert_eq!(r[0]["relation_name"], Value::Null);
    assert_eq!(r[1]["status"], "error");
    assert_eq!(r[2]["compiled"], false);
    assert_eq!(r[2]["timing"], json!([]));
    assert_eq!(r[2]["execution_time"], 0);
    assert_eq!(r[3]["failures"], 3);
    assert_eq!(r[0]["timing"][0]["started_at"], "2026-11-23T02:13:22.000001Z");
}

#[test]
fn manifest_snapshot() {
    let m = tiny_manifest();
    insta::assert_json_snapshot!("manifest", manifest_json_with(&m, &meta(), &run_infos(&m), &Map::new()));
}

#[test]
fn run_results_snapshot() {
    insta::assert_json_snapshot!("run_results", run_results_json(&tiny_run_results(), &meta()));
}

#[test]
fn paths_under_target() {
    assert_eq!(sql_tree_rel_path("orders.sql", "models/orders.sql"), "models/orders.sql");
    assert_eq!(
        sql_tree_rel_path("not_null_orders_id.sql", "models/schema.yml"),
        "models/schema.yml/not_null_orders_id.sql"
    );
    assert_eq!(sql_tree_rel_path("raw_orders.csv", "seeds/raw_orders.csv"), "seeds/raw_orders.csv");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("target");
    let written = write_sql_tree(&target, "compiled", PKG, "models/schema.yml/t.sql", "select 1")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, target.join("compiled/jaffle/models/schema.yml/t.sql"));
    assert_eq!(std::fs::read_to_string(&written).ok().as_deref(), Some("select 1"));
    assert!(write_sql_tree(&target, "compiled", PKG, "../escape.sql", "x").is_err());
    assert!(write_sql_tree(&target, "compiled", PKG, "/abs.sql", "x").is_err());

    let path = target.join("manifest.json");
    write_json_atomic(&path, &json!({"a": 1})).unwrap_or_else(|e| panic!("{e}"));
    write_json_atomic(&path, &json!({"a": 2})).unwrap_or_else(|e| panic!("{e}"));
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or_default();
    assert_eq!(back, json!({"a": 2}));
    let leftovers: Vec<_> = std::fs::read_dir(&target).into_iter().flatten().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty());
}

#[test]
fn custom_env_strips_prefix() {
    let env = custom_env([("DBT_ENV_CUSTOM_ENV_TEAM".to_string(), "data".to_string()), ("HOME".into(), "/root".into())]);
    assert_eq!(Value::Object(env), json!({"TEAM": "data"}));
}

#[test]
fn schema_check_is_not_vacuous() {
    let m = tiny_manifest();
    let mut v = manifest_json(&m, &meta());
    if let Some(n) = v["nodes"]["model.jaffle.orders"].as_object_mut() {
        n.insert("not_a_dbt_field".into(), json!(1));
    }
    let schema = schema("manifest-v12.json");
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"));
    assert!(!validator.is_valid(&v));
}

#[test]
fn streamed_manifest_holds_every_node_once_in_order() {
    // More nodes than several batches, so that batches serialized on
    // different threads are joined (and reordered) by the writer.
    let mut m = tiny_manifest();
    for i in 0..1000 {
        let mut n = node(ResourceType::Model, &format!("m{i:04}"), &format!("models/m{i:04}.sql"));
        n.raw_code = format!("select {i} as id");
        m.nodes.insert(n.unique_id.clone(), Box::new(n));
    }
    let runs = run_infos(&m);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("manifest.json");
    write_manifest_atomic(&path, &m, &meta(), &runs, &Map::new()).unwrap_or_else(|e| panic!("{e}"));
    let written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let nodes = written["nodes"].as_object().cloned().unwrap_or_default();
    assert_eq!(nodes.keys().collect::<Vec<_>>(), m.nodes.keys().collect::<Vec<_>>());
    let created_at = super::manifest::epoch_seconds_of(&meta());
    for (id, n) in &m.nodes {
        assert_eq!(nodes[id], super::manifest::node_json(n, &m, runs.get(id), created_at), "{id}");
    }
    // The rest of the document follows the nodes.
    assert!(m.nodes.keys().all(|id| written["parent_map"].get(id).is_some()));
    assert_eq!(written["metadata"]["project_name"], PKG);
}

#[test]
fn timestamps_are_formatted_as_chrono_formats_them() {
    let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000)).expect("leap second");
    let times = [
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().expect("time"),
        Utc.timestamp_opt(1_795_000_000, 123_456_789).single().expect("time"),
        Utc.timestamp_opt(0, 999_999_999).single().expect("time"),
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().expect("time"),
        Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).single().expect("time"),
        Utc.with_ymd_and_hms(-1, 6, 1, 0, 0, 0).single().expect("time"),
        Utc.from_utc_datetime(&leap),
    ];
    for t in times {
        assert_eq!(super::timestamp(&t), t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(), "{t:?}");
        assert_eq!(super::iso_timestamp(&t), t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(), "{t:?}");
    }
}
