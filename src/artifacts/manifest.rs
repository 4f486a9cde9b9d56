//! manifest.json, schema v12.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{ArtifactMeta, MANIFEST_SCHEMA_VERSION, epoch_seconds, iso_timestamp, timestamp};
use crate::manifest::{
    ColumnInfo, Documentation, Exposure, Group, Macro, Manifest, Node, NodeConfig, RefCall, ResourceType,
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
/// the selectors defined in `selectors.yml` (name → definition), as a JSON
/// tree: the bytes [`write_manifest_atomic`] writes, parsed back.
pub fn manifest_json_with(
    manifest: &Manifest,
    meta: &ArtifactMeta,
    runs: &BTreeMap<String, NodeRunInfo>,
    selectors: &Map<String, Value>,
) -> Value {
    let mut bytes = Vec::new();
    match write_manifest(&mut bytes, manifest, meta, runs, selectors).map_err(std::io::Error::other).and_then(|()| {
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }) {
        Ok(v) => v,
        // Writing to memory fails only on a bug here (a map with non-string
        // keys); say so in the value rather than abort the caller.
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// Writes manifest.json through a temporary file and a rename.
pub fn write_manifest_atomic(
    path: &std::path::Path,
    manifest: &Manifest,
    meta: &ArtifactMeta,
    runs: &BTreeMap<String, NodeRunInfo>,
    selectors: &Map<String, Value>,
) -> std::io::Result<()> {
    super::write_atomic(path, |w| write_manifest(w, manifest, meta, runs, selectors))
}

/// Nodes serialized per batch by [`write_manifest`]: about half a megabyte
/// of JSON, so a batch's buffer is recycled while still in the cache, and
/// the process never holds the whole document.
const NODES_PER_BATCH: usize = 256;

/// Streams manifest.json to `w`. The nodes, nearly all of the document, are
/// written straight to bytes (no JSON tree) in batches on every core, while
/// this thread writes the rest of the document and then the batches in
/// order as they arrive. Only a few batch buffers exist at a time, and they
/// are reused: at 10,000 models much of the cost of writing one 50 MB
/// buffer was the kernel handing out fresh memory for it.
fn write_manifest(
    w: &mut dyn std::io::Write,
    manifest: &Manifest,
    meta: &ArtifactMeta,
    runs: &BTreeMap<String, NodeRunInfo>,
    selectors: &Map<String, Value>,
) -> std::io::Result<()> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let created_at = epoch_seconds(&meta.invocation_started_at);
    let tests = tests_by_node(manifest);
    let entries: Vec<(&String, &Node)> = manifest.nodes.iter().map(|(id, n)| (id, &**n)).collect();
    let batches: Vec<&[(&String, &Node)]> = entries.chunks(NODES_PER_BATCH).collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8).min(batches.len());
    let next = AtomicUsize::new(0);
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let node = NodeWriter { manifest, tests: &tests, created_at };
    std::thread::scope(|s| {
        // Bounded, so workers far ahead of the writer wait instead of piling
        // up buffers; the writer always drains it, so no worker waits forever.
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, serde_json::Result<Vec<u8>>)>(workers * 2);
        for _ in 0..workers {
            let (tx, next, spare, batches, node) = (tx.clone(), &next, &spare, &batches, &node);
            s.spawn(move || {
                let mut configs = ConfigCache::default();
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(b) else { break };
                    let mut buf = spare.lock().ok().and_then(|mut v| v.pop()).unwrap_or_else(|| Vec::with_capacity(NODES_PER_BATCH * 2048));
                    buf.clear();
                    let mut out = ObjWriter::members(&mut buf);
                    let written = batch.iter().try_for_each(|(id, n)| out.put_with(id, |buf| node.write(buf, n, runs.get(*id), &mut configs)));
                    // The writer gone (it failed) ends the work.
                    if tx.send((b, written.map(|()| buf))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Everything after `nodes`, while the workers serialize them.
        let mut rest = Vec::new();
        write_after_nodes(&mut rest, &node, selectors)?;
        let mut head = Vec::new();
        let mut doc = ObjWriter::open(&mut head);
        doc.put("metadata", &metadata_json(meta))?;
        doc.key("nodes")?;
        w.write_all(&head)?;
        w.write_all(b"{")?;
        let mut pending: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut want = 0;
        for (b, bytes) in rx {
            pending.insert(b, bytes?);
            while let Some(bytes) = pending.remove(&want) {
                if want > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(&bytes)?;
                if let Ok(mut v) = spare.lock() {
                    v.push(bytes);
                }
                want += 1;
            }
        }
        if want != batches.len() {
            return Err(std::io::Error::other("manifest.json: a node batch was not serialized"));
        }
        w.write_all(b"}")?;
        w.write_all(&rest)
    })
}

fn metadata_json(meta: &ArtifactMeta) -> Value {
    json!({
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
    })
}

/// The members of manifest.json after `nodes` (each preceded by a comma),
/// and the document's closing brace.
fn write_after_nodes(out: &mut Vec<u8>, node: &NodeWriter<'_>, selectors: &Map<String, Value>) -> serde_json::Result<()> {
    let (manifest, created_at) = (node.manifest, node.created_at);
    let mut o = ObjWriter::continuing(out);
    o.put_object("sources", |o| o.put_all(manifest.sources.iter().map(|(id, s)| (id, source_json(s, created_at)))))?;
    o.put_object("macros", |o| o.put_all(manifest.macros.iter().map(|(id, m)| (id, macro_json(m, created_at)))))?;
    o.put_object("docs", |o| o.put_all(manifest.docs.iter().map(|(id, d)| (id, doc_json(d)))))?;
    o.put_object("exposures", |o| o.put_all(manifest.exposures.iter().map(|(id, e)| (id, exposure_json(e, created_at)))))?;
    o.put("metrics", &json!({}))?;
    o.put_object("groups", |o| o.put_all(manifest.groups.iter().map(|(id, g)| (id, group_json(g)))))?;
    o.put("selectors", selectors)?;
    o.put_object("disabled", |d| {
        let mut configs = ConfigCache::default();
        manifest.disabled.iter().try_for_each(|(id, list)| {
            d.put_with(id, |out| {
                out.push(b'[');
                for (i, n) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    node.write(out, n, None, &mut configs)?;
                }
                out.push(b']');
                Ok(())
            })
        })
    })?;
    let (parents, children) = manifest.parent_and_child_maps();
    o.put("parent_map", &parents)?;
    o.put("child_map", &children)?;
    let mut group_map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, n) in &manifest.nodes {
        if let Some(g) = n.group.as_deref() {
            group_map.entry(g).or_default().push(id);
        }
    }
    o.put("group_map", &group_map)?;
    for k in ["saved_queries", "semantic_models", "unit_tests", "functions"] {
        o.put(k, &json!({}))?;
    }
    o.close();
    Ok(())
}

/// Writes a JSON object's members straight to bytes, in the order given.
struct ObjWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjWriter<'a> {
    /// Opens a new object.
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjWriter { out, first: true }
    }

    /// Members of an object whose braces the caller writes.
    fn members(out: &'a mut Vec<u8>) -> Self {
        ObjWriter { out, first: true }
    }

    /// More members of an object opened and partly written elsewhere.
    fn continuing(out: &'a mut Vec<u8>) -> Self {
        ObjWriter { out, first: false }
    }

    /// Writes `"k":`, after a comma unless it is the first member.
    fn key(&mut self, k: &str) -> serde_json::Result<()> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        serde_json::to_writer(&mut *self.out, k)?;
        self.out.push(b':');
        Ok(())
    }

    fn put<T: serde::Serialize + ?Sized>(&mut self, k: &str, v: &T) -> serde_json::Result<()> {
        self.key(k)?;
        serde_json::to_writer(&mut *self.out, v)
    }

    /// A member per `(key, value)`.
    fn put_all<'k>(&mut self, members: impl IntoIterator<Item = (&'k String, Value)>) -> serde_json::Result<()> {
        members.into_iter().try_for_each(|(k, v)| self.put(k, &v))
    }

    /// A member whose value is an object with the members `write` puts.
    fn put_object(&mut self, k: &str, write: impl FnOnce(&mut ObjWriter<'_>) -> serde_json::Result<()>) -> serde_json::Result<()> {
        self.put_with(k, |out| {
            let mut o = ObjWriter::open(out);
            write(&mut o)?;
            o.close();
            Ok(())
        })
    }

    /// A member whose value `write` writes.
    fn put_with(&mut self, k: &str, write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>) -> serde_json::Result<()> {
        self.key(k)?;
        write(self.out)
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn or_null(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { Value::String(s.to_string()) }
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

/// Generic tests (enabled and disabled) by the node they are attached to.
pub type TestsByNode<'a> = std::collections::HashMap<&'a str, Vec<&'a Node>>;

/// Indexes `manifest`'s tests by attached node, once per manifest (each
/// model's `primary_key` is inferred from its tests).
pub fn tests_by_node(manifest: &Manifest) -> TestsByNode<'_> {
    let mut index: TestsByNode<'_> = std::collections::HashMap::new();
    for t in manifest.nodes.values().map(|n| &**n).chain(manifest.disabled.values().flatten()) {
        if t.resource_type == ResourceType::Test {
            if let Some(a) = t.attached_node.as_deref() {
                index.entry(a).or_default().push(t);
            }
        }
    }
    index
}

/// One node's entry, as written alone (for tests of the batched writer).
#[cfg(test)]
pub(super) fn node_json(node: &Node, manifest: &Manifest, run: Option<&NodeRunInfo>, created_at: f64) -> Value {
    let tests = tests_by_node(manifest);
    let mut out = Vec::new();
    let written = NodeWriter { manifest, tests: &tests, created_at }.write(&mut out, node, run, &mut ConfigCache::default());
    written.and_then(|()| serde_json::from_slice(&out)).unwrap_or_else(|e| json!({"error": e.to_string()}))
}

#[cfg(test)]
pub(super) fn epoch_seconds_of(meta: &ArtifactMeta) -> f64 {
    epoch_seconds(&meta.invocation_started_at)
}

/// A node's config as manifest.json writes it, and what the node's other
/// members read from it.
struct ConfigJson {
    bytes: Vec<u8>,
    /// `docs` with dbt's defaults under the configured keys.
    docs: Map<String, Value>,
    enforced: bool,
    alias_types: bool,
    access: Option<String>,
}

impl ConfigJson {
    fn new(rt: ResourceType, config: &NodeConfig) -> serde_json::Result<ConfigJson> {
        let config = config_json(rt, config);
        let mut docs = docs_default();
        merge_object(&mut docs, config.get("docs").unwrap_or(&Value::Null));
        let contract = |key: &str| config.get("contract").and_then(|c| c.get(key)).and_then(Value::as_bool);
        Ok(ConfigJson {
            bytes: serde_json::to_vec(&config)?,
            docs: match docs {
                Value::Object(d) => d,
                _ => Map::new(),
            },
            enforced: contract("enforced").unwrap_or(false),
            alias_types: contract("alias_types").unwrap_or(true),
            access: config.get("access").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// Configs written so far, by resource type and the node's own config.
/// Nodes mostly share a handful of distinct configs, and dbt's defaults
/// make each written config about forty members: each is built once per
/// writing thread.
#[derive(Default)]
struct ConfigCache(std::collections::HashMap<(ResourceType, Vec<u8>), ConfigJson>);

impl ConfigCache {
    fn get(&mut self, rt: ResourceType, config: &NodeConfig) -> serde_json::Result<&ConfigJson> {
        use std::collections::hash_map::Entry;
        Ok(match self.0.entry((rt, serde_json::to_vec(config)?)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(ConfigJson::new(rt, config)?),
        })
    }
}

/// `[]`.
const NO_ITEMS: [u8; 0] = [];

/// Writes the entries of `nodes` (and of `disabled` lists), each shaped for
/// its resource type.
struct NodeWriter<'a> {
    manifest: &'a Manifest,
    tests: &'a TestsByNode<'a>,
    created_at: f64,
}

impl NodeWriter<'_> {
    fn write(&self, out: &mut Vec<u8>, node: &Node, run: Option<&NodeRunInfo>, configs: &mut ConfigCache) -> serde_json::Result<()> {
        let manifest = self.manifest;
        let rt = node.resource_type;
        let cfg = configs.get(rt, &node.config)?;
        let mut o = ObjWriter::open(out);
        o.put("database", &(!node.database.is_empty()).then_some(node.database.as_str()))?;
        o.put("schema", &node.schema)?;
        o.put("name", &node.name)?;
        o.put("resource_type", rt.as_str())?;
        o.put("package_name", &node.package_name)?;
        o.put("path", &node.path)?;
        o.put("original_file_path", &node.original_file_path)?;
        o.put("unique_id", &node.unique_id)?;
        o.put("fqn", &node.fqn)?;
        o.put("alias", &node.alias)?;
        // dbt: {"name": "none", "checksum": ""} for a node without a file of its own.
        o.put_object("checksum", |c| {
            c.put("name", if node.checksum.is_empty() { "none" } else { "sha256" })?;
            c.put("checksum", &node.checksum)
        })?;
        o.put_with("config", |out| {
            out.extend_from_slice(&cfg.bytes);
            Ok(())
        })?;
        o.put("tags", &node.tags)?;
        o.put("description", &node.description)?;
        o.put("columns", &columns_json(node.columns.iter()))?;
        o.put("meta", &node.meta)?;
        o.put("group", &node.group)?;
        o.put_object("docs", |d| {
            cfg.docs.iter().try_for_each(|(k, v)| if k == "show" { d.put(k, &node.docs_show) } else { d.put(k, v) })
        })?;
        o.put("patch_path", &patch_path_json(&node.package_name, node.patch_path.as_deref()))?;
        o.put("build_path", &run.and_then(|r| r.build_path.as_deref()))?;
        o.put("unrendered_config", &node.unrendered_config)?;
        o.put("created_at", &json!(self.created_at))?;
        o.put("relation_name", &node.relation_name(manifest.quoting))?;

        if rt == ResourceType::Seed {
            o.put("raw_code", "")?;
            o.put("doc_blocks", &NO_ITEMS)?;
            let root = node
                .file
                .to_string_lossy()
                .strip_suffix(node.original_file_path.as_str())
                .map(|r| r.trim_end_matches(['/', '\\']).to_string());
            if let Some(root) = root.filter(|r| !r.is_empty()) {
                o.put("root_path", &root)?;
            }
            o.put_object("depends_on", |d| d.put("macros", &node.depends_on.macros))?;
            o.close();
            return Ok(());
        }

        o.put("raw_code", &node.raw_code)?;
        o.put("doc_blocks", &NO_ITEMS)?;
        o.put("language", if node.language.is_empty() { "sql" } else { node.language.as_str() })?;
        o.put("refs", &refs_json(&node.refs))?;
        o.put("sources", &node.sources)?;
        o.put("metrics", &NO_ITEMS)?;
        o.put("functions", &NO_ITEMS)?;
        o.put("depends_on", &node.depends_on)?;
        o.put("compiled_path", &run.and_then(|r| r.compiled_path.as_deref()))?;
        if let Some(code) = run.and_then(|r| r.compiled_code.as_deref()) {
            o.put("compiled", &true)?;
            o.put("compiled_code", code)?;
            o.put("extra_ctes_injected", &true)?;
            let ctes: Vec<Value> = run
                .map(|r| r.extra_ctes.iter().map(|(id, sql)| json!({"id": id, "sql": sql})).collect())
                .unwrap_or_default();
            o.put("extra_ctes", &ctes)?;
        }
        o.put("contract", &json!({"enforced": cfg.enforced, "alias_types": cfg.alias_types, "checksum": null}))?;

        match rt {
            ResourceType::Model => {
                let access = node.access.as_deref().or(cfg.access.as_deref()).unwrap_or("protected");
                o.put("access", access)?;
                o.put("constraints", &NO_ITEMS)?;
                o.put("version", &version_json(node.version.as_deref()))?;
                o.put("latest_version", &version_json(node.latest_version.as_deref()))?;
                o.put("deprecation_date", &())?;
                o.put("primary_key", &infer_primary_key(&node.unique_id, self.tests))?;
                o.put("time_spine", &())?;
            }
            ResourceType::Operation => o.put("index", &hook_index(&node.name))?,
            ResourceType::Test if node.test_metadata.is_some() => {
                o.put("column_name", &node.column_name)?;
                let (file_key, attached) = match node.attached_node.as_deref() {
                    Some(id) if id.starts_with("source.") => {
                        (manifest.sources.get(id).map(|s| format!("sources.{}", s.source_name)), None)
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
                        (key, Some(id))
                    }
                    None => (None, None),
                };
                o.put("file_key_name", &file_key)?;
                o.put("attached_node", &attached)?;
                if let Some(md) = &node.test_metadata {
                    o.put_object("test_metadata", |t| {
                        t.put("name", &md.name)?;
                        t.put("kwargs", &md.kwargs)?;
                        t.put("namespace", &md.namespace)
                    })?;
                }
            }
            _ => {}
        }
        o.close();
        Ok(())
    }
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
        "depends_on": e.depends_on,
        "refs": refs_json(&e.refs),
        "sources": e.sources,
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
