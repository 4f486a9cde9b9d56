//! Properties YAML (`models:`, `seeds:`, `sources:`, `exposures:`,
//! `groups:`, `macros:`): patches for nodes, source tables, generic test
//! declarations. Unknown keys are warnings, never errors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::config::yaml;
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::loader::{FileKind, SourceFile};
use crate::manifest::{ColumnInfo, ResourceType, string_or_list};

#[derive(Debug, Clone)]
pub struct Patch {
    pub kind: ResourceType,
    pub package: String,
    pub name: String,
    pub file: PathBuf,
    pub span: Span,
    pub original_file_path: String,
    pub config: Map<String, Value>,
    pub description: String,
    pub columns: IndexMap<String, ColumnInfo>,
    pub docs_show: bool,
    /// A YAML-defined snapshot's `relation:` (`ref('m')`, `source('s', 't')`).
    pub relation: Option<String>,
    /// The YAML file relative to its resource folder.
    pub resource_path: String,
}

#[derive(Debug, Clone)]
pub struct SourceTable {
    pub package: String,
    pub source_name: String,
    pub name: String,
    pub file: PathBuf,
    pub span: Span,
    pub resource_path: String,
    pub original_file_path: String,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub identifier: Option<String>,
    pub loader: String,
    pub description: String,
    pub source_description: String,
    pub columns: IndexMap<String, ColumnInfo>,
    pub meta: Map<String, Value>,
    pub source_meta: Map<String, Value>,
    pub config: Map<String, Value>,
    pub quoting: Map<String, Value>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum TestOn {
    Node { name: String, version: Option<String> },
    Source { source: String, table: String },
}

#[derive(Debug, Clone)]
pub struct TestDecl {
    pub package: String,
    pub file: PathBuf,
    pub span: Span,
    pub resource_path: String,
    pub original_file_path: String,
    pub target: TestOn,
    /// The column as passed to the test (quoted when `quote: true`).
    pub column: Option<String>,
    pub entry: Value,
}

#[derive(Debug, Clone)]
pub struct ExposureDecl {
    pub package: String,
    pub name: String,
    pub file: PathBuf,
    pub span: Span,
    pub resource_path: String,
    pub original_file_path: String,
    pub kind: String,
    pub owner: Map<String, Value>,
    pub description: String,
    pub label: Option<String>,
    pub maturity: Option<String>,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub meta: Map<String, Value>,
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct GroupDecl {
    pub package: String,
    pub name: String,
    pub owner: Map<String, Value>,
    pub original_file_path: String,
}

/// A node declared as an entry of a YAML list (`ingest:`, `ml:`), kept as
/// written (Jinja unrendered): an ingest declaration is rendered only when
/// it runs, so secrets from `env_var()` never reach the manifest.
#[derive(Debug, Clone)]
pub struct NodeDecl {
    pub package: String,
    pub name: String,
    pub file: PathBuf,
    pub span: Span,
    pub resource_path: String,
    pub original_file_path: String,
    pub description: String,
    pub config: Map<String, Value>,
    pub entry: Value,
}

/// An `ingest:` entry: a REST API load that feeds the source it names.
#[derive(Debug, Clone)]
pub struct IngestDecl {
    pub decl: NodeDecl,
    /// The dbt source (`sources:` name) whose tables this load writes.
    pub source: String,
}

/// A `macros:` entry: documentation for a macro.
#[derive(Debug, Clone)]
pub struct MacroPatch {
    pub package: String,
    pub name: String,
    pub original_file_path: String,
    pub description: String,
    /// (name, type, description) of each documented argument.
    pub arguments: Vec<(String, Option<String>, String)>,
    pub meta: Map<String, Value>,
}

#[derive(Debug, Default)]
pub struct Properties {
    pub macro_patches: Vec<MacroPatch>,
    pub patches: BTreeMap<(ResourceType, String, String), Patch>,
    pub sources: Vec<SourceTable>,
    pub tests: Vec<TestDecl>,
    pub exposures: Vec<ExposureDecl>,
    pub groups: Vec<GroupDecl>,
    pub ingests: Vec<IngestDecl>,
    /// `ml:` entries (parsed by `crate::ml::spec`).
    pub ml: Vec<NodeDecl>,
}

impl Properties {
    pub fn patch(&self, kind: ResourceType, package: &str, name: &str) -> Option<&Patch> {
        self.patches.get(&(kind, package.to_string(), name.to_string()))
    }
    pub fn exposure_file(&self, name: &str) -> PathBuf {
        self.exposures.iter().find(|e| e.name == name).map(|e| e.file.clone()).unwrap_or_default()
    }
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "version", "models", "seeds", "snapshots", "analyses", "sources", "macros", "exposures", "groups", "metrics",
    "semantic_models", "saved_queries", "unit_tests", "data_tests", "ingest", "ml",
];

fn s(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn obj(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

fn columns(v: Option<&Value>) -> IndexMap<String, ColumnInfo> {
    let mut out = IndexMap::new();
    for c in v.and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = s(c.get("name")) else { continue };
        let cfg = obj(c.get("config"));
        let mut meta = obj(c.get("meta"));
        meta.extend(obj(cfg.get("meta")));
        let mut tags = string_or_list(c.get("tags"));
        tags.extend(string_or_list(cfg.get("tags")));
        out.insert(
            name.clone(),
            ColumnInfo {
                name,
                description: s(c.get("description")).unwrap_or_default(),
                data_type: s(c.get("data_type")),
                meta,
                tags,
                quote: c.get("quote").and_then(Value::as_bool),
            },
        );
    }
    out
}

struct FileCtx<'a> {
    f: &'a SourceFile,
}

impl FileCtx<'_> {
    fn span_of(&self, key: &str, name: &str, from: usize) -> Span {
        let tail = &self.f.text[from.min(self.f.text.len())..];
        yaml::find_entry(tail, key, name).map(|sp| Span::new(sp.start + from, sp.end + from)).unwrap_or(Span::new(from, from))
    }
    fn warn(&self, diags: &mut Diagnostics, msg: String, span: Span) {
        diags.push(Diagnostic::warning("yaml-unknown-key", msg).at(&self.f.path, span));
    }
}

/// Reads every properties file.
pub fn collect(files: &[SourceFile], diags: &mut Diagnostics) -> Properties {
    let mut props = Properties::default();
    let files: Vec<&SourceFile> = files.iter().filter(|f| f.kind == FileKind::Properties).collect();
    // Parsing the YAML is most of the work, and independent per file.
    let docs = super::parallel_map(&files, 2, |f| yaml::parse(&f.text, &f.path));
    for (f, doc) in files.into_iter().zip(docs) {
        let doc = match doc {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => continue,
            Ok(_) => {
                diags.push(Diagnostic::error("yaml-shape", "a properties file must be a YAML mapping").at(&f.path, Span::new(0, 0)));
                continue;
            }
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let fc = FileCtx { f };
        for key in doc.keys() {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                let span = Span::find(&f.text, &format!("{key}:"), 0).unwrap_or(Span::new(0, 0));
                fc.warn(diags, format!("unknown top-level key '{key}' in properties file (ignored)"), span);
            }
        }
        for (key, kind) in [("models", ResourceType::Model), ("seeds", ResourceType::Seed), ("snapshots", ResourceType::Snapshot), ("analyses", ResourceType::Analysis)] {
            let Some(list) = doc.get(key) else { continue };
            let Some(list) = list.as_array() else {
                diags.push(Diagnostic::error("yaml-shape", format!("`{key}:` must be a list")).at(&f.path, Span::find(&f.text, &format!("{key}:"), 0).unwrap_or(Span::new(0, 0))));
                continue;
            };
            let mut cursor = Span::find(&f.text, &format!("{key}:"), 0).map(|s| s.start).unwrap_or(0);
            for entry in list {
                let Some(name) = s(entry.get("name")) else {
                    diags.push(Diagnostic::error("yaml-shape", format!("an entry under `{key}:` has no `name`")).at(&f.path, Span::new(cursor, cursor)));
                    continue;
                };
                let span = fc.span_of("name", &name, cursor);
                cursor = span.end;
                add_patch(&fc, &mut props, kind, &name, entry, span, diags);
            }
        }
        if let Some(list) = doc.get("sources").and_then(Value::as_array) {
            let mut cursor = Span::find(&f.text, "sources:", 0).map(|s| s.start).unwrap_or(0);
            for src in list {
                let Some(source_name) = s(src.get("name")) else {
                    diags.push(Diagnostic::error("yaml-shape", "a source has no `name`").at(&f.path, Span::new(cursor, cursor)));
                    continue;
                };
                let sspan = fc.span_of("name", &source_name, cursor);
                cursor = sspan.end;
                let scfg = obj(src.get("config"));
                for t in src.get("tables").and_then(Value::as_array).into_iter().flatten() {
                    let Some(name) = s(t.get("name")) else { continue };
                    let span = fc.span_of("name", &name, cursor);
                    cursor = span.end;
                    let mut config = scfg.clone();
                    crate::config::tree::merge(&mut config, &obj(t.get("config")));
                    let mut quoting = obj(src.get("quoting"));
                    quoting.extend(obj(t.get("quoting")));
                    let cols = columns(t.get("columns"));
                    let table = SourceTable {
                        package: f.package.clone(),
                        source_name: source_name.clone(),
                        name: name.clone(),
                        file: f.path.clone(),
                        span,
                        resource_path: f.resource_path.clone(),
                        original_file_path: f.original_file_path.clone(),
                        database: s(t.get("database")).or_else(|| s(src.get("database"))).or_else(|| s(src.get("catalog"))),
                        schema: s(t.get("schema")).or_else(|| s(src.get("schema"))),
                        identifier: s(t.get("identifier")),
                        loader: s(src.get("loader")).unwrap_or_default(),
                        description: s(t.get("description")).unwrap_or_default(),
                        source_description: s(src.get("description")).unwrap_or_default(),
                        columns: cols,
                        meta: obj(t.get("meta")),
                        source_meta: obj(src.get("meta")),
                        config,
                        quoting,
                        loaded_at_field: s(t.get("loaded_at_field")).or_else(|| s(src.get("loaded_at_field"))),
                        freshness: merged_freshness(src.get("freshness"), t.get("freshness")),
                    };
                    let on = TestOn::Source { source: source_name.clone(), table: name.clone() };
                    add_tests(&fc, &mut props, &on, t, span.end);
                    props.sources.push(table);
                }
            }
        }
        if let Some(list) = doc.get("exposures").and_then(Value::as_array) {
            for e in list {
                let Some(name) = s(e.get("name")) else { continue };
                let span = fc.span_of("name", &name, 0);
                props.exposures.push(ExposureDecl {
                    package: f.package.clone(),
                    name,
                    file: f.path.clone(),
                    span,
                    resource_path: f.resource_path.clone(),
                    original_file_path: f.original_file_path.clone(),
                    kind: s(e.get("type")).unwrap_or_else(|| "dashboard".into()),
                    owner: obj(e.get("owner")),
                    description: s(e.get("description")).unwrap_or_default(),
                    label: s(e.get("label")),
                    maturity: s(e.get("maturity")),
                    url: s(e.get("url")),
                    tags: string_or_list(e.get("tags")),
                    meta: obj(e.get("meta")),
                    depends_on: e.get("depends_on").and_then(Value::as_array).map(|a| a.iter().filter_map(|v| s(Some(v))).collect()).unwrap_or_default(),
                });
            }
        }
        if let Some(list) = doc.get("macros").and_then(Value::as_array) {
            for m in list {
                let Some(name) = s(m.get("name")) else { continue };
                let arguments = m
                    .get("arguments")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|arg| Some((s(arg.get("name"))?, s(arg.get("type")), s(arg.get("description")).unwrap_or_default())))
                            .collect()
                    })
                    .unwrap_or_default();
                props.macro_patches.push(MacroPatch {
                    package: f.package.clone(),
                    name,
                    original_file_path: f.original_file_path.clone(),
                    description: s(m.get("description")).unwrap_or_default(),
                    arguments,
                    meta: obj(m.get("meta")),
                });
            }
        }
        for decl in node_decls(&fc, &doc, "ingest", "loads", diags) {
            match s(decl.entry.get("source")) {
                Some(source) => props.ingests.push(IngestDecl { decl, source }),
                None => diags.push(
                    Diagnostic::error("ingest-source", format!("ingest '{}' has no `source:`: name the source (under `sources:`) whose tables it loads", decl.name))
                        .at(&decl.file, decl.span),
                ),
            }
        }
        props.ml.extend(node_decls(&fc, &doc, "ml", "ML nodes", diags));
        if let Some(list) = doc.get("groups").and_then(Value::as_array) {
            for g in list {
                let Some(name) = s(g.get("name")) else { continue };
                props.groups.push(GroupDecl { package: f.package.clone(), name, owner: obj(g.get("owner")), original_file_path: f.original_file_path.clone() });
            }
        }
    }
    props
}

/// A table's `freshness:` merged over its source's, key by key (as dbt
/// does); `freshness: null` on the table turns the check off.
fn merged_freshness(source: Option<&Value>, table: Option<&Value>) -> Option<Value> {
    match (source, table) {
        (_, Some(Value::Null)) => Some(Value::Null),
        (Some(Value::Object(base)), Some(Value::Object(over))) => {
            let mut merged = base.clone();
            merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(Value::Object(merged))
        }
        (base, over) => over.or(base).cloned(),
    }
}

/// The entries of the list under `key` (each with a `name`), as declared.
fn node_decls(fc: &FileCtx<'_>, doc: &Map<String, Value>, key: &str, what: &str, diags: &mut Diagnostics) -> Vec<NodeDecl> {
    let f = fc.f;
    let Some(list) = doc.get(key) else { return vec![] };
    let key_span = Span::find(&f.text, &format!("{key}:"), 0).unwrap_or(Span::new(0, 0));
    let Some(list) = list.as_array() else {
        diags.push(Diagnostic::error("yaml-shape", format!("`{key}:` must be a list of {what}")).at(&f.path, key_span));
        return vec![];
    };
    let mut out = Vec::with_capacity(list.len());
    let mut cursor = key_span.start;
    for entry in list {
        let Some(name) = s(entry.get("name")) else {
            diags.push(Diagnostic::error("yaml-shape", format!("an entry under `{key}:` has no `name`")).at(&f.path, Span::new(cursor, cursor)));
            continue;
        };
        let span = fc.span_of("name", &name, cursor);
        cursor = span.end;
        out.push(NodeDecl {
            package: f.package.clone(),
            name,
            file: f.path.clone(),
            span,
            resource_path: f.resource_path.clone(),
            original_file_path: f.original_file_path.clone(),
            description: s(entry.get("description")).unwrap_or_default(),
            config: obj(entry.get("config")),
            entry: entry.clone(),
        });
    }
    out
}

fn add_patch(fc: &FileCtx<'_>, props: &mut Properties, kind: ResourceType, name: &str, entry: &Value, span: Span, diags: &mut Diagnostics) {
    let f = fc.f;
    let key = (kind, f.package.clone(), name.to_string());
    if let Some(existing) = props.patches.get(&key) {
        diags.push(
            Diagnostic::error("duplicate-patch", format!("{} '{name}' is described twice in properties files", kind.as_str()))
                .at(&f.path, span)
                .note(format!("also described in {}", existing.original_file_path)),
        );
        return;
    }
    let mut config = obj(entry.get("config"));
    // Older YAML allowed some configs at the top level of the entry.
    for k in ["tags", "meta", "docs", "access", "group"] {
        if let Some(v) = entry.get(k) {
            let mut m = Map::new();
            m.insert(k.to_string(), v.clone());
            crate::config::tree::merge(&mut config, &m);
        }
    }
    let docs_show = entry.get("docs").and_then(|d| d.get("show")).and_then(Value::as_bool).unwrap_or(true);
    let patch = Patch {
        kind,
        package: f.package.clone(),
        name: name.to_string(),
        file: f.path.clone(),
        span,
        original_file_path: f.original_file_path.clone(),
        config,
        description: s(entry.get("description")).unwrap_or_default(),
        columns: columns(entry.get("columns")),
        docs_show,
        relation: if kind == ResourceType::Snapshot { s(entry.get("relation")) } else { None },
        resource_path: f.resource_path.clone(),
    };
    if matches!(kind, ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot) {
        let on = TestOn::Node { name: name.to_string(), version: None };
        add_tests(fc, props, &on, entry, span.end);
    }
    props.patches.insert(key, patch);
}

/// Collects `data_tests:`/`tests:` of an entry and of its columns.
fn add_tests(fc: &FileCtx<'_>, props: &mut Properties, on: &TestOn, entry: &Value, from: usize) {
    let f = fc.f;
    let mut push = |test: &Value, column: Option<String>, cursor: &mut usize| {
        let test_name = match test {
            Value::String(s) => s.clone(),
            Value::Object(m) => m.keys().find(|k| !matches!(k.as_str(), "name" | "config" | "description")).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let span = Span::find(&f.text, &test_name, *cursor).unwrap_or(Span::new(*cursor, *cursor));
        *cursor = span.end.max(*cursor);
        props.tests.push(TestDecl {
            package: f.package.clone(),
            file: f.path.clone(),
            span,
            resource_path: f.resource_path.clone(),
            original_file_path: f.original_file_path.clone(),
            target: on.clone(),
            column,
            entry: test.clone(),
        });
    };
    let mut cursor = from;
    for key in ["data_tests", "tests"] {
        for t in entry.get(key).and_then(Value::as_array).into_iter().flatten() {
            push(t, None, &mut cursor);
        }
    }
    for c in entry.get("columns").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = s(c.get("name")) else { continue };
        let quoted = c.get("quote").and_then(Value::as_bool).unwrap_or(false);
        let col = if quoted { format!("\"{name}\"") } else { name.clone() };
        if let Some(sp) = yaml::find_entry(&f.text[cursor.min(f.text.len())..], "name", &name) {
            cursor += sp.end;
        }
        for key in ["data_tests", "tests"] {
            for t in c.get(key).and_then(Value::as_array).into_iter().flatten() {
                push(t, Some(col.clone()), &mut cursor);
            }
        }
    }
}
