//! manifest.json, schema v12.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{ArtifactMeta, MANIFEST_SCHEMA_VERSION, epoch_seconds, iso_timestamp, timestamp};
use crate::manifest::{
    ColumnInfo, DependsOn, Documentation, Exposure, Group, Macro, Manifest, Node, NodeConfig, RefCall, ResourceType,
    SourceDefinition,
};

/// What compiling and running a node added to it, for the manifest written
/// after `run`/`build`/`compile` (a parse-only manifest has none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeRunInfo {
    /// The rendered SQL; `Some` marks the node compiled.
    pub compiled_code: Option<String>,
    /// Injected ephemeral CTEs as `(unique_id, sql)`.
    pub extra_ctes: Vec<(String, String)>,
    /// `target/compiled/<package>/...` when the compiled SQL was written.
    pub compiled_path: Option<String>,
    /// `target/run/<package>/...` when the executed SQL was written.
    pub build_path: Option<String>,
}

/// manifest.json as written after parsing (no compiled fields).
pub fn manifest_json(manifest: &Manifest, meta: &ArtifactMeta) -> Value {
    manifest_json_with(manifest, meta, &BTreeMap::new(), &Map::new())
}

/// manifest.json with per-node compile/run results (keyed by unique_id) and
/// the selectors defined in `selectors.yml` (name → definition).
pub fn manifest_json_with(
    manifest: &Manifest,
    meta: &ArtifactMeta,
    runs: &BTreeMap<String, NodeRunInfo>,
    selectors: &Map<String, Value>,
) -> Value {
    let created_at = epoch_seconds(&meta.invocation_started_at);
    let tests = tests_by_node(manifest);
    let built = per_node_chunks(manifest, |chunk| {
        chunk
            .iter()
            .map(|(id, n)| ((*id).clone(), node_json_indexed(n, manifest, &tests, runs.get(*id), created_at)))
            .collect::<Vec<_>>()
    });
    let nodes: Map<String, Value> = built.into_iter().flatten().collect();
    manifest_with_nodes(manifest, meta, selectors, &tests, created_at, Value::Object(nodes))
}

/// Writes manifest.json (the same bytes `manifest_json_with` serializes to)
/// through a temporary file and a rename. The nodes, nearly all of the
/// document, are serialized on every core straight to bytes, so no JSON tree
/// of the whole manifest is ever held: at 10,000 models this takes the write
/// from 0.4 s to about a third of that.
pub fn write_manifest_atomic(
    path: &std::path::Path,
    manifest: &Manifest,
    meta: &ArtifactMeta,
    runs: &BTreeMap<String, NodeRunInfo>,
    selectors: &Map<String, Value>,
) -> std::io::Result<()> {
    const MARKER: &str = "\u{0}rdbt-manifest-nodes\u{0}";
    let created_at = epoch_seconds(&meta.invocation_started_at);
    let tests = tests_by_node(manifest);
    let chunks = per_node_chunks(manifest, |chunk| -> serde_json::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(chunk.len() * 2048);
        for (i, (id, n)) in chunk.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            serde_json::to_writer(&mut buf, id)?;
            buf.push(b':');
            serde_json::to_writer(&mut buf, &node_json_indexed(n, manifest, &tests, runs.get(*id), created_at))?;
        }
        Ok(buf)
    });
    let head = manifest_with_nodes(manifest, meta, selectors, &tests, created_at, Value::String(MARKER.into()));
    let head = serde_json::to_vec(&head)?;
    let marker = serde_json::to_vec(MARKER)?;
    let at = head
        .windows(marker.len())
        .position(|w| w == marker.as_slice())
        .ok_or_else(|| std::io::Error::other("manifest.json: node placeholder not found"))?;
    super::write_atomic(path, |w| {
        w.write_all(&head[..at])?;
        w.write_all(b"{")?;
        let mut first = true;
        for chunk in chunks {
            let chunk = chunk?;
            if chunk.is_empty() {
                continue;
            }
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            w.write_all(&chunk)?;
        }
        w.write_all(b"}")?;
        w.write_all(&head[at + marker.len()..])
    })
}

/// Runs `f` over the manifest's nodes (in unique_id order) split into one
/// chunk per core; results come back in node order.
fn per_node_chunks<T: Send>(manifest: &Manifest, f: impl Fn(&[(&String, &Node)]) -> T + Sync) -> Vec<T> {
    let entries: Vec<(&String, &Node)> = manifest.nodes.iter().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = entries.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = entries.chunks(chunk).map(|c| s.spawn(move || f(c))).collect();
        // A panicking worker is a bug in this module; re-raise it here.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// Everything of manifest.json but the nodes, which the caller passes in.
fn manifest_with_nodes(
    manifest: &Manifest,
    meta: &ArtifactMeta,
    selectors: &Map<String, Value>,
    tests: &TestsByNode,
    created_at: f64,
    nodes: Value,
) -> Value {
    let sources: Map<String, Value> =
        manifest.sources.iter().map(|(id, s)| (id.clone(), source_json(s, created_at))).collect();
    let macros: Map<String, Value> =
        manifest.macros.iter().map(|(id, m)| (id.clone(), macro_json(m, created_at))).collect();
    let docs: Map<String, Value> = manifest.docs.iter().map(|(id, d)| (id.clone(), doc_json(d))).collect();
    let exposures: Map<String, Value> =
        manifest.exposures.iter().map(|(id, e)| (id.clone(), exposure_json(e, created_at))).collect();
    let groups: Map<String, Value> = manifest.groups.iter().map(|(id, g)| (id.clone(), group_json(g))).collect();
    let disabled: Map<String, Value> = manifest
        .disabled
        .iter()
        .map(|(id, list)| {
            (id.clone(), Value::Array(list.iter().map(|n| node_json_indexed(n, manifest, tests, None, created_at)).collect()))
        })
        .collect();
    let (parents, children) = manifest.parent_and_child_maps();
    let mut group_map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, n) in &manifest.nodes {
        if let Some(g) = n.group.as_deref() {
            group_map.entry(g).or_default().push(id);
        }
    }

    let mut out = json!({
        "metadata": {
            "dbt_schema_version": MANIFEST_SCHEMA_VERSION,
            "dbt_version": meta.dbt_version,
            "generated_at": timestamp(&meta.generated_at),
            "invocation_id": meta.invocation_id,
            "invocation_started_at": timestamp(&meta.invocation_started_at),
            "env": meta.env,
            "project_name": meta.project_name,
            "project_id": meta.project_id,
            "user_id": meta.user_id,
            "send_anonymous_usage_stats": meta.send_anonymous_usage_stats,
            "adapter_type": meta.adapter_type,
            "quoting": meta.quoting,
            "run_started_at": iso_timestamp(&meta.invocation_started_at),
        },
    });
    // The large maps are moved in, not re-serialized through `json!`.
    if let Value::Object(out) = &mut out {
        out.insert("nodes".into(), nodes);
        out.insert("sources".into(), Value::Object(sources));
        out.insert("macros".into(), Value::Object(macros));
        out.insert("docs".into(), Value::Object(docs));
        out.insert("exposures".into(), Value::Object(exposures));
        out.insert("metrics".into(), json!({}));
        out.insert("groups".into(), Value::Object(groups));
        out.insert("selectors".into(), Value::Object(selectors.clone()));
        out.insert("disabled".into(), Value::Object(disabled));
        out.insert("parent_map".into(), json!(parents));
        out.insert("child_map".into(), json!(children));
        out.insert("group_map".into(), json!(group_map));
        for k in ["saved_queries", "semantic_models", "unit_tests", "functions"] {
            out.insert(k.into(), json!({}));
        }
    }
    out
}

fn or_null(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { Value::String(s.to_string()) }
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_string()))
}

/// A version as dbt writes it: a number when it is one (`v: 2`), else a string.
fn version_json(v: Option<&str>) -> Value {
    match v {
        None => Value::Null,
        Some(s) => match s.parse::<i64>() {
            Ok(i) => json!(i),
            Err(_) => match s.parse::<f64>() {
                Ok(f) if f.is_finite() && s.contains('.') => json!(f),
                _ => Value::String(s.to_string()),
            },
        },
    }
}

fn refs_json(refs: &[RefCall]) -> Value {
    Value::Array(
        refs.iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "package": r.package,
                    "version": version_json(r.version.as_deref()),
                })
            })
            .collect(),
    )
}

fn sources_json(sources: &[(String, String)]) -> Value {
    Value::Array(sources.iter().map(|(s, t)| json!([s, t])).collect())
}

fn depends_on_json(d: &DependsOn) -> Value {
    json!({"macros": d.macros, "nodes": d.nodes})
}

fn column_json(c: &ColumnInfo) -> Value {
    json!({
        "name": c.name,
        "description": c.description,
        "meta": c.meta,
        "data_type": c.data_type,
        "constraints": [],
        "quote": c.quote,
        "config": {"meta": c.meta, "tags": c.tags},
        "tags": c.tags,
        "granularity": null,
        "doc_blocks": [],
    })
}

fn columns_json<'a>(cols: impl Iterator<Item = (&'a String, &'a ColumnInfo)>) -> Value {
    Value::Object(cols.map(|(k, c)| (k.clone(), column_json(c))).collect())
}

fn docs_default() -> Value {
    json!({"show": true, "node_color": null})
}

fn contract_default() -> Value {
    json!({"enforced": false, "alias_types": true})
}

/// The config keys dbt writes for every model, seed, snapshot, analysis and
/// hook, with their defaults, in dbt's order.
fn base_node_config(materialized: &str) -> Map<String, Value> {
    let v = json!({
        "enabled": true,
        "alias": null,
        "schema": null,
        "database": null,
        "tags": [],
        "meta": {},
        "group": null,
        "static_analysis": null,
        "materialized": materialized,
        "incremental_strategy": null,
        "batch_size": null,
        "lookback": 1,
        "begin": null,
        "persist_docs": {},
        "post-hook": [],
        "pre-hook": [],
        "quoting": {},
        "column_types": {},
        "full_refresh": null,
        "unique_key": null,
        "on_schema_change": "ignore",
        "on_configuration_change": "apply",
        "grants": {},
        "packages": [],
        "docs": docs_default(),
        "contract": contract_default(),
        "event_time": null,
        "concurrent_batches": null,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn default_config(rt: ResourceType) -> Map<String, Value> {
    let mut cfg = match rt {
        ResourceType::Test => match json!({
            "enabled": true,
            "alias": null,
            "schema": "dbt_test__audit",
            "database": null,
            "tags": [],
            "meta": {},
            "group": null,
            "static_analysis": null,
            "materialized": "test",
            "severity": "ERROR",
            "store_failures": null,
            "store_failures_as": null,
            "where": null,
            "limit": null,
            "fail_calc": "count(*)",
            "warn_if": "!= 0",
            "error_if": "!= 0",
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        ResourceType::Seed => base_node_config("seed"),
        ResourceType::Snapshot => base_node_config("snapshot"),
        _ => base_node_config("view"),
    };
    match rt {
        ResourceType::Model => {
            cfg.insert("access".into(), json!("protected"));
            cfg.insert("freshness".into(), Value::Null);
        }
        ResourceType::Seed => {
            cfg.insert("delimiter".into(), json!(","));
            cfg.insert("quote_columns".into(), Value::Null);
        }
        ResourceType::Snapshot => {
            for k in ["strategy", "target_schema", "target_database", "updated_at", "check_cols"] {
                cfg.insert(k.into(), Value::Null);
            }
            cfg.insert(
                "snapshot_meta_column_names".into(),
                json!({
                    "dbt_valid_to": null,
                    "dbt_valid_from": null,
                    "dbt_scd_id": null,
                    "dbt_updated_at": null,
                    "dbt_is_deleted": null,
                }),
            );
            cfg.insert("dbt_valid_to_current".into(), Value::Null);
        }
        _ => {}
    }
    cfg
}

/// A hook as dbt stores it: `{sql, transaction, index}`.
fn hook_json(h: &Value) -> Option<Value> {
    match h {
        Value::String(s) => Some(json!({"sql": s, "transaction": true, "index": null})),
        Value::Object(o) => {
            let sql = o.get("sql").and_then(Value::as_str)?;
            Some(json!({
                "sql": sql,
                "transaction": o.get("transaction").and_then(Value::as_bool).unwrap_or(true),
                "index": o.get("index").filter(|i| i.is_i64() || i.is_u64()).cloned().unwrap_or(Value::Null),
            }))
        }
        _ => None,
    }
}

fn hooks_json(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().filter_map(hook_json).collect()),
        Value::Null => json!([]),
        other => Value::Array(hook_json(other).into_iter().collect()),
    }
}

/// Overlays `src` on `dst` key by key (for `docs`, `contract`, `quoting`).
fn merge_object(dst: &mut Value, src: &Value) {
    if let (Value::Object(d), Value::Object(s)) = (dst, src) {
        for (k, v) in s {
            d.insert(k.clone(), v.clone());
        }
    }
}

/// The resolved config with dbt's defaults filled in and values normalized
/// (hook lists, `tags` as a list, `docs`/`contract` objects).
pub(crate) fn config_json(rt: ResourceType, config: &NodeConfig) -> Map<String, Value> {
    let mut cfg = default_config(rt);
    for (key, value) in &config.0 {
        let key = match key.as_str() {
            "pre_hook" => "pre-hook",
            "post_hook" => "post-hook",
            k => k,
        };
        let value = match key {
            "pre-hook" | "post-hook" => hooks_json(value),
            "tags" => match value {
                Value::String(s) => json!([s]),
                Value::Null => json!([]),
                v => v.clone(),
            },
            "meta" | "persist_docs" | "grants" | "quoting" | "column_types" if value.is_null() => json!({}),
            "docs" | "contract" => {
                let mut merged = cfg.get(key).cloned().unwrap_or_else(|| json!({}));
                merge_object(&mut merged, value);
                merged
            }
            _ => value.clone(),
        };
        cfg.insert(key.to_string(), value);
    }
    if rt == ResourceType::Model && cfg.get("access").is_none_or(Value::is_null) {
        cfg.insert("access".into(), json!("protected"));
    }
    cfg
}

/// Columns that identify a model's rows, as dbt infers `primary_key`: columns
/// with both `unique` and `not_null` tests, else columns with a `unique` (or
/// `unique_combination_of_columns`) test, enabled ones first.
fn infer_primary_key(model_id: &str, tests: &TestsByNode<'_>) -> Vec<String> {
    let mut unique_on = BTreeSet::new();
    let mut unique_off = BTreeSet::new();
    let mut not_null = BTreeSet::new();
    for t in tests.get(model_id).into_iter().flatten() {
        let Some(md) = &t.test_metadata else { continue };
        let columns: Vec<String> = match (md.kwargs.get("column_name"), md.kwargs.get("combination_of_columns")) {
            (Some(Value::String(c)), _) => vec![c.clone()],
            (_, Some(Value::Array(cols))) => cols.iter().filter_map(|c| c.as_str().map(str::to_string)).collect(),
            _ => vec![],
        };
        for c in columns {
            match md.name.as_str() {
                "unique" | "unique_combination_of_columns" => {
                    if t.config.enabled() {
                        unique_on.insert(c);
                    } else {
                        unique_off.insert(c);
                    }
                }
                "not_null" => {
                    not_null.insert(c);
                }
                _ => {}
            }
        }
    }
    let both: Vec<String> =
        not_null.iter().filter(|c| unique_on.contains(*c) || unique_off.contains(*c)).cloned().collect();
    if !both.is_empty() {
        return both;
    }
    if !unique_on.is_empty() {
        return unique_on.into_iter().collect();
    }
    unique_off.into_iter().collect()
}

/// `patch_path` as dbt writes it: `<package>://<path>`.
fn patch_path_json(package: &str, p: Option<&str>) -> Value {
    match p {
        None => Value::Null,
        Some(p) if p.contains("://") => json!(p),
        Some(p) => json!(format!("{package}://{p}")),
    }
}

/// The `index` of an `on-run-start`/`on-run-end` hook node (`<project>-on-run-start-<index>`).
fn hook_index(name: &str) -> Value {
    name.rsplit('-').next().and_then(|i| i.parse::<u64>().ok()).map_or(Value::Null, |i| json!(i))
}

/// One entry of `nodes` (or of a `disabled` list), shaped for its resource type.
/// Generic tests (enabled and disabled) by the node they are attached to.
pub type TestsByNode<'a> = std::collections::HashMap<&'a str, Vec<&'a Node>>;

/// Indexes `manifest`'s tests by attached node, once per manifest (each
/// model's `primary_key` is inferred from its tests).
pub fn tests_by_node(manifest: &Manifest) -> TestsByNode<'_> {
    let mut index: TestsByNode<'_> = std::collections::HashMap::new();
    for t in manifest.nodes.values().chain(manifest.disabled.values().flatten()) {
        if t.resource_type == ResourceType::Test {
            if let Some(a) = t.attached_node.as_deref() {
                index.entry(a).or_default().push(t);
            }
        }
    }
    index
}

pub fn node_json(node: &Node, manifest: &Manifest, run: Option<&NodeRunInfo>, created_at: f64) -> Value {
    node_json_indexed(node, manifest, &tests_by_node(manifest), run, created_at)
}

fn node_json_indexed(node: &Node, manifest: &Manifest, tests: &TestsByNode<'_>, run: Option<&NodeRunInfo>, created_at: f64) -> Value {
    let rt = node.resource_type;
    let config = config_json(rt, &node.config);
    let mut docs = docs_default();
    merge_object(&mut docs, config.get("docs").unwrap_or(&Value::Null));
    if let Value::Object(d) = &mut docs {
        d.insert("show".into(), json!(node.docs_show));
    }
    let checksum = if node.checksum.is_empty() {
        json!({"name": "none", "checksum": ""})
    } else {
        json!({"name": "sha256", "checksum": node.checksum})
    };
    let is_generic_test = rt == ResourceType::Test && node.test_metadata.is_some();

    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_string(), v);
    };
    put("database", or_null(&node.database));
    put("schema", json!(node.schema));
    put("name", json!(node.name));
    put("resource_type", json!(rt.as_str()));
    put("package_name", json!(node.package_name));
    put("path", json!(node.path));
    put("original_file_path", json!(node.original_file_path));
    put("unique_id", json!(node.unique_id));
    put("fqn", json!(node.fqn));
    put("alias", json!(node.alias));
    put("checksum", checksum);
    put("config", Value::Object(config.clone()));
    put("tags", json!(node.tags));
    put("description", json!(node.description));
    put("columns", columns_json(node.columns.iter()));
    put("meta", json!(node.meta));
    put("group", opt_str(node.group.as_deref()));
    put("docs", docs);
    put("patch_path", patch_path_json(&node.package_name, node.patch_path.as_deref()));
    put("build_path", opt_str(run.and_then(|r| r.build_path.as_deref())));
    put("unrendered_config", json!(node.unrendered_config));
    put("created_at", json!(created_at));
    put("relation_name", opt_str(node.relation_name(manifest.quoting).as_deref()));

    if rt == ResourceType::Seed {
        put("raw_code", json!(""));
        put("doc_blocks", json!([]));
        let root = node
            .file
            .to_string_lossy()
            .strip_suffix(node.original_file_path.as_str())
            .map(|r| r.trim_end_matches(['/', '\\']).to_string());
        if let Some(root) = root.filter(|r| !r.is_empty()) {
            put("root_path", json!(root));
        }
        put("depends_on", json!({"macros": node.depends_on.macros}));
        return Value::Object(o);
    }

    put("raw_code", json!(node.raw_code));
    put("doc_blocks", json!([]));
    put("language", json!(if node.language.is_empty() { "sql" } else { node.language.as_str() }));
    put("refs", refs_json(&node.refs));
    put("sources", sources_json(&node.sources));
    put("metrics", json!([]));
    put("functions", json!([]));
    put("depends_on", depends_on_json(&node.depends_on));
    put("compiled_path", opt_str(run.and_then(|r| r.compiled_path.as_deref())));
    if let Some(code) = run.and_then(|r| r.compiled_code.as_deref()) {
        put("compiled", json!(true));
        put("compiled_code", json!(code));
        put("extra_ctes_injected", json!(true));
        let ctes: Vec<Value> = run
            .map(|r| r.extra_ctes.iter().map(|(id, sql)| json!({"id": id, "sql": sql})).collect())
            .unwrap_or_default();
        put("extra_ctes", Value::Array(ctes));
    }
    let enforced = config.get("contract").and_then(|c| c.get("enforced")).and_then(Value::as_bool).unwrap_or(false);
    let alias_types = config.get("contract").and_then(|c| c.get("alias_types")).and_then(Value::as_bool).unwrap_or(true);
    put("contract", json!({"enforced": enforced, "alias_types": alias_types, "checksum": null}));

    match rt {
        ResourceType::Model => {
            let access = node
                .access
                .clone()
                .or_else(|| config.get("access").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "protected".into());
            put("access", json!(access));
            put("constraints", json!([]));
            put("version", version_json(node.version.as_deref()));
            put("latest_version", version_json(node.latest_version.as_deref()));
            put("deprecation_date", Value::Null);
            put("primary_key", json!(infer_primary_key(&node.unique_id, tests)));
            put("time_spine", Value::Null);
        }
        ResourceType::Operation => put("index", hook_index(&node.name)),
        ResourceType::Test if is_generic_test => {
            put("column_name", opt_str(node.column_name.as_deref()));
            let attached = node.attached_node.as_deref();
            let (file_key, attached_json) = match attached {
                Some(id) if id.starts_with("source.") => {
                    let key = manifest.sources.get(id).map(|s| format!("sources.{}", s.source_name));
                    (key, Value::Null)
                }
                Some(id) => {
                    let key = manifest.nodes.get(id).map(|n| {
                        let yaml_key = match n.resource_type {
                            ResourceType::Seed => "seeds",
                            ResourceType::Snapshot => "snapshots",
                            ResourceType::Analysis => "analyses",
                            _ => "models",
                        };
                        format!("{yaml_key}.{}", n.name)
                    });
                    (key, json!(id))
                }
                None => (None, Value::Null),
            };
            put("file_key_name", opt_str(file_key.as_deref()));
            put("attached_node", attached_json);
            if let Some(md) = &node.test_metadata {
                put(
                    "test_metadata",
                    json!({"name": md.name, "kwargs": md.kwargs, "namespace": md.namespace}),
                );
            }
        }
        _ => {}
    }
    Value::Object(o)
}

/// dbt's freshness shape: `{warn_after: {count, period}, error_after: {...}, filter}`.
fn freshness_json(f: Option<&Value>) -> Value {
    let threshold = |v: Option<&Value>| {
        let mut t = json!({"count": null, "period": null});
        if let Some(v) = v {
            merge_object(&mut t, v);
        }
        t
    };
    let f = f.and_then(Value::as_object);
    json!({
        "warn_after": threshold(f.and_then(|f| f.get("warn_after"))),
        "error_after": threshold(f.and_then(|f| f.get("error_after"))),
        "filter": f.and_then(|f| f.get("filter")).cloned().unwrap_or(Value::Null),
    })
}

fn source_json(s: &SourceDefinition, created_at: f64) -> Value {
    let mut quoting = json!({"database": null, "schema": null, "identifier": null, "column": null});
    merge_object(&mut quoting, &Value::Object(s.quoting.clone()));
    let freshness = freshness_json(s.freshness.as_ref());
    let enabled = s.config.enabled();
    let event_time = s.config.get("event_time").cloned().unwrap_or(Value::Null);
    let loaded_at_query = s.config.get("loaded_at_query").cloned().unwrap_or(Value::Null);
    let mut config = json!({
        "enabled": enabled,
        "event_time": event_time,
        "freshness": freshness,
        "loaded_at_field": s.loaded_at_field,
        "loaded_at_query": loaded_at_query,
        "meta": s.meta,
        "tags": s.tags,
        "static_analysis": null,
    });
    if let Value::Object(cfg) = &mut config {
        for (k, v) in &s.config.0 {
            cfg.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    json!({
        "database": or_null(&s.database),
        "schema": s.schema,
        "name": s.name,
        "resource_type": "source",
        "package_name": s.package_name,
        "path": s.path,
        "original_file_path": s.original_file_path,
        "unique_id": s.unique_id,
        "fqn": s.fqn,
        "source_name": s.source_name,
        "source_description": s.source_description,
        "loader": s.loader,
        "identifier": s.identifier,
        "quoting": quoting,
        "loaded_at_field": s.loaded_at_field,
        "loaded_at_query": loaded_at_query,
        "freshness": freshness,
        "external": null,
        "description": s.description,
        "columns": columns_json(s.columns.iter()),
        "meta": s.meta,
        "source_meta": s.source_meta,
        "tags": s.tags,
        "config": config,
        "patch_path": null,
        "unrendered_config": source_unrendered_config(s),
        "relation_name": s.relation_name,
        "created_at": created_at,
        "unrendered_database": null,
        // The schema as written in YAML, null when it defaults to the source
        // name. (Approximation: an explicit `schema:` equal to the source name
        // is written as null; Jinja in it is shown rendered.)
        "unrendered_schema": if s.schema != s.source_name { json!(s.schema) } else { Value::Null },
        "doc_blocks": [],
    })
}

/// dbt's `unrendered_config` for a source table: the freshness when set, the
/// loaded-at settings, meta and tags, then any other config written.
fn source_unrendered_config(s: &SourceDefinition) -> Value {
    let mut out = Map::new();
    if let Some(f) = &s.freshness {
        out.insert("freshness".into(), freshness_json(Some(f)));
    }
    out.insert("loaded_at_field".into(), json!(s.loaded_at_field));
    out.insert("loaded_at_query".into(), s.config.get("loaded_at_query").cloned().unwrap_or(Value::Null));
    out.insert("meta".into(), json!(s.meta));
    out.insert("tags".into(), json!(s.tags));
    for (k, v) in &s.config.0 {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(out)
}

/// `supported_languages` of a materialization macro (from its
/// `{% materialization ..., supported_languages=[...] %}` tag, default sql);
/// null for other macros.
fn supported_languages(m: &Macro) -> Value {
    if !m.name.starts_with("materialization_") {
        return Value::Null;
    }
    let header = m.macro_sql.split("%}").next().unwrap_or("");
    let Some(pos) = header.find("supported_languages") else {
        return json!(["sql"]);
    };
    let list = &header[pos..];
    let list = list.split(']').next().unwrap_or("");
    let langs: Vec<&str> = ["sql", "python"].into_iter().filter(|l| list.contains(&format!("'{l}'")) || list.contains(&format!("\"{l}\""))).collect();
    if langs.is_empty() { json!(["sql"]) } else { json!(langs) }
}

fn macro_json(m: &Macro, created_at: f64) -> Value {
    let arguments: Vec<Value> =
        m.arguments.iter().map(|a| json!({"name": a.name, "type": a.r#type, "description": a.description})).collect();
    json!({
        "name": m.name,
        "resource_type": "macro",
        "package_name": m.package_name,
        "path": m.path,
        "original_file_path": m.original_file_path,
        "unique_id": m.unique_id,
        "macro_sql": m.macro_sql,
        "depends_on": {"macros": m.depends_on_macros},
        "description": m.description,
        "meta": m.meta,
        "docs": docs_default(),
        "patch_path": patch_path_json(&m.package_name, m.patch_path.as_deref()),
        "arguments": arguments,
        "created_at": created_at,
        "supported_languages": supported_languages(m),
    })
}

fn doc_json(d: &Documentation) -> Value {
    json!({
        "name": d.name,
        "resource_type": "doc",
        "package_name": d.package_name,
        "path": d.path,
        "original_file_path": d.original_file_path,
        "unique_id": d.unique_id,
        "block_contents": d.block_contents,
    })
}

fn exposure_json(e: &Exposure, created_at: f64) -> Value {
    let mut owner = json!({"email": null, "name": null});
    merge_object(&mut owner, &Value::Object(e.owner.clone()));
    let mut config = json!({"enabled": e.config.enabled(), "tags": e.tags, "meta": e.meta});
    if let Value::Object(cfg) = &mut config {
        for (k, v) in &e.config.0 {
            cfg.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    json!({
        "name": e.name,
        "resource_type": "exposure",
        "package_name": e.package_name,
        "path": e.path,
        "original_file_path": e.original_file_path,
        "unique_id": e.unique_id,
        "fqn": e.fqn,
        "type": e.r#type,
        "owner": owner,
        "description": e.description,
        "label": e.label,
        "maturity": e.maturity,
        "meta": e.meta,
        "tags": e.tags,
        "config": config,
        "unrendered_config": {},
        "url": e.url,
        "depends_on": depends_on_json(&e.depends_on),
        "refs": refs_json(&e.refs),
        "sources": sources_json(&e.sources),
        "metrics": [],
        "created_at": created_at,
    })
}

fn group_json(g: &Group) -> Value {
    let mut owner = json!({"email": null, "name": null});
    merge_object(&mut owner, &Value::Object(g.owner.clone()));
    json!({
        "name": g.name,
        "resource_type": "group",
        "package_name": g.package_name,
        "path": g.path,
        "original_file_path": g.original_file_path,
        "unique_id": g.unique_id,
        "owner": owner,
        "description": null,
        "config": {"meta": {}},
    })
}
