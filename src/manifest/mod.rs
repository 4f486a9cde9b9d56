//! The parsed project: every node, source, macro, doc, exposure and group,
//! keyed by dbt's `unique_id` scheme. Plain data; no I/O.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::diag::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Model,
    Seed,
    Test,
    Snapshot,
    Analysis,
    Operation,
    Source,
    Macro,
    Doc,
    Exposure,
    Group,
    /// A declarative REST API load that feeds a source (rdbt's own kind).
    Ingest,
    /// An ML train or predict node; its predictions table is ref-able.
    Ml,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Test => "test",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Analysis => "analysis",
            ResourceType::Operation => "operation",
            ResourceType::Source => "source",
            ResourceType::Macro => "macro",
            ResourceType::Doc => "doc",
            ResourceType::Exposure => "exposure",
            ResourceType::Group => "group",
            ResourceType::Ingest => "ingest",
            ResourceType::Ml => "ml",
        }
    }
    /// Nodes `ref()` can name: models, seeds, snapshots and ML nodes (their
    /// predictions).
    pub fn is_refable(self) -> bool {
        matches!(self, ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot | ResourceType::Ml)
    }
    pub fn parse(s: &str) -> Option<ResourceType> {
        Some(match s {
            "model" => ResourceType::Model,
            "seed" => ResourceType::Seed,
            "test" => ResourceType::Test,
            "snapshot" => ResourceType::Snapshot,
            "analysis" => ResourceType::Analysis,
            "operation" => ResourceType::Operation,
            "source" => ResourceType::Source,
            "macro" => ResourceType::Macro,
            "doc" => ResourceType::Doc,
            "exposure" => ResourceType::Exposure,
            "group" => ResourceType::Group,
            "ingest" => ResourceType::Ingest,
            "ml" => ResourceType::Ml,
            _ => return None,
        })
    }
}

/// A resolved config: project-level `+key` trees, then YAML `config:`, then the
/// file's own `config()` call, merged in that order (later wins; `tags` and
/// `meta` accumulate as in dbt). Kept as JSON so unknown keys survive into
/// manifest.json; typed accessors cover what rdbt itself reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct NodeConfig(pub Map<String, Value>);

impl NodeConfig {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(|v| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        })
    }
    pub fn set(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_string(), value);
    }
    pub fn materialized(&self) -> &str {
        self.get_str("materialized").unwrap_or("view")
    }
    pub fn enabled(&self) -> bool {
        self.get_bool("enabled").unwrap_or(true)
    }
    /// `unique_key` as a list of column expressions (string or list in YAML).
    pub fn unique_key(&self) -> Vec<String> {
        string_or_list(self.get("unique_key"))
    }
    pub fn tags(&self) -> Vec<String> {
        string_or_list(self.get("tags"))
    }
    pub fn severity(&self) -> &str {
        self.get_str("severity").unwrap_or("ERROR")
    }
    /// `pre-hook` / `post-hook` as a list of SQL templates.
    pub fn hooks(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o.get("sql").and_then(Value::as_str).map(str::to_string),
                    _ => None,
                })
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Object(o)) => o.get("sql").and_then(Value::as_str).map(|s| vec![s.to_string()]).unwrap_or_default(),
            _ => vec![],
        }
    }
}

pub fn string_or_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => vec![],
    }
}

/// One `ref(...)` call as written: `ref('pkg', 'name', version=2)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RefCall {
    pub name: String,
    pub package: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    pub meta: Map<String, Value>,
    pub tags: Vec<String>,
    pub quote: Option<bool>,
}

/// Metadata of a generic test instance (`not_null` on `orders.order_id`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestMetadata {
    /// Test name without the `test_` prefix, e.g. `not_null`.
    pub name: String,
    /// Package namespace when written as `dbt_utils.expression_is_true`.
    pub namespace: Option<String>,
    /// Arguments as written in YAML, plus `model` (a Jinja string) and
    /// `column_name` when the test is attached to a column.
    pub kwargs: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DependsOn {
    pub macros: Vec<String>,
    pub nodes: Vec<String>,
}

/// A model, seed, test, snapshot, analysis or hook operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub package_name: String,
    pub name: String,
    /// Path relative to the resource folder (e.g. `staging/stg_orders.sql`).
    pub path: String,
    /// Path relative to the project root (e.g. `models/staging/stg_orders.sql`).
    pub original_file_path: String,
    /// Absolute path of the file that defines the node (the YAML file for a
    /// generic test), for diagnostics.
    #[serde(skip)]
    pub file: PathBuf,
    /// Where in `file` the node is defined (the test entry in YAML); None for
    /// whole-file nodes.
    #[serde(skip)]
    pub span: Option<Span>,
    pub fqn: Vec<String>,
    pub raw_code: String,
    pub language: String,
    /// sha256 of the file contents, as dbt's `checksum.checksum`.
    pub checksum: String,
    pub config: NodeConfig,
    /// Config as written (before rendering), for manifest.json.
    pub unrendered_config: Map<String, Value>,
    pub database: String,
    pub schema: String,
    pub alias: String,
    pub tags: Vec<String>,
    pub description: String,
    pub columns: IndexMap<String, ColumnInfo>,
    pub meta: Map<String, Value>,
    pub docs_show: bool,
    pub patch_path: Option<String>,
    pub refs: Vec<RefCall>,
    pub sources: Vec<(String, String)>,
    pub depends_on: DependsOn,
    pub test_metadata: Option<TestMetadata>,
    /// For tests: the column the test is attached to.
    pub column_name: Option<String>,
    /// For tests: the node the test is attached to.
    pub attached_node: Option<String>,
    pub version: Option<String>,
    pub latest_version: Option<String>,
    pub group: Option<String>,
    pub access: Option<String>,
    /// For seeds: the CSV file.
    #[serde(skip)]
    pub seed_file: Option<PathBuf>,
}

impl Default for Node {
    /// An empty SQL model; constructors fill in what they know.
    fn default() -> Node {
        Node {
            unique_id: String::new(),
            resource_type: ResourceType::Model,
            package_name: String::new(),
            name: String::new(),
            path: String::new(),
            original_file_path: String::new(),
            file: PathBuf::new(),
            span: None,
            fqn: vec![],
            raw_code: String::new(),
            language: "sql".into(),
            checksum: String::new(),
            config: NodeConfig::default(),
            unrendered_config: Map::new(),
            database: String::new(),
            schema: String::new(),
            alias: String::new(),
            tags: vec![],
            description: String::new(),
            columns: IndexMap::new(),
            meta: Map::new(),
            docs_show: true,
            patch_path: None,
            refs: vec![],
            sources: vec![],
            depends_on: DependsOn::default(),
            test_metadata: None,
            column_name: None,
            attached_node: None,
            version: None,
            latest_version: None,
            group: None,
            access: None,
            seed_file: None,
        }
    }
}

impl Node {
    pub fn is_ephemeral(&self) -> bool {
        self.resource_type == ResourceType::Model && self.config.materialized() == "ephemeral"
    }
    /// `"database"."schema"."alias"` (quoted as `policy` says), for nodes
    /// that build a relation.
    pub fn relation_name(&self, policy: QuotePolicy) -> Option<String> {
        match self.resource_type {
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot | ResourceType::Ml if !self.is_ephemeral() => {
                Some(policy.render(&self.database, &self.schema, &self.alias))
            }
            _ => None,
        }
    }
}

/// Which parts of a relation name are quoted (`quoting:` in
/// dbt_project.yml or on a source); dbt-duckdb quotes all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotePolicy {
    pub database: bool,
    pub schema: bool,
    pub identifier: bool,
}

impl Default for QuotePolicy {
    fn default() -> QuotePolicy {
        QuotePolicy { database: true, schema: true, identifier: true }
    }
}

impl QuotePolicy {
    /// `base` with the booleans set in a `quoting:` mapping.
    pub fn overridden_by(self, quoting: &Map<String, Value>) -> QuotePolicy {
        let get = |k: &str, d: bool| quoting.get(k).and_then(Value::as_bool).unwrap_or(d);
        QuotePolicy { database: get("database", self.database), schema: get("schema", self.schema), identifier: get("identifier", self.identifier) }
    }
    pub fn quote_part(quote: bool, s: &str) -> String {
        if quote { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
    }
    pub fn render(&self, database: &str, schema: &str, identifier: &str) -> String {
        let mut parts = Vec::with_capacity(3);
        if !database.is_empty() {
            parts.push(Self::quote_part(self.database, database));
        }
        parts.push(Self::quote_part(self.schema, schema));
        parts.push(Self::quote_part(self.identifier, identifier));
        parts.join(".")
    }
}

pub fn quote_relation(database: &str, schema: &str, identifier: &str) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    if database.is_empty() {
        format!("{}.{}", q(schema), q(identifier))
    } else {
        format!("{}.{}.{}", q(database), q(schema), q(identifier))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceDefinition {
    pub unique_id: String,
    pub package_name: String,
    pub source_name: String,
    pub name: String,
    pub identifier: String,
    pub database: String,
    pub schema: String,
    pub loader: String,
    pub description: String,
    pub source_description: String,
    pub columns: IndexMap<String, ColumnInfo>,
    pub meta: Map<String, Value>,
    pub source_meta: Map<String, Value>,
    pub tags: Vec<String>,
    pub config: NodeConfig,
    pub quoting: Map<String, Value>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Value>,
    pub path: String,
    pub original_file_path: String,
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub span: Option<Span>,
    pub fqn: Vec<String>,
    pub relation_name: String,
    /// The ingest node that loads this table (its `source:` names this
    /// source): the source's parent in the DAG. Not part of dbt's JSON.
    #[serde(skip)]
    pub loaded_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MacroArgument {
    pub name: String,
    pub r#type: Option<String>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Macro {
    pub unique_id: String,
    pub package_name: String,
    pub name: String,
    pub path: String,
    pub original_file_path: String,
    #[serde(skip)]
    pub file: PathBuf,
    /// Byte range of the `{% macro %}...{% endmacro %}` block in `file`.
    #[serde(skip)]
    pub span: Span,
    /// The whole block, `{% macro name(...) %}...{% endmacro %}`.
    pub macro_sql: String,
    pub description: String,
    pub arguments: Vec<MacroArgument>,
    pub depends_on_macros: Vec<String>,
    pub patch_path: Option<String>,
    pub meta: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Documentation {
    pub unique_id: String,
    pub package_name: String,
    pub name: String,
    pub path: String,
    pub original_file_path: String,
    pub block_contents: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    pub unique_id: String,
    pub package_name: String,
    pub name: String,
    pub r#type: String,
    pub owner: Map<String, Value>,
    pub description: String,
    pub label: Option<String>,
    pub maturity: Option<String>,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub meta: Map<String, Value>,
    pub config: NodeConfig,
    pub path: String,
    pub original_file_path: String,
    pub fqn: Vec<String>,
    pub refs: Vec<RefCall>,
    pub sources: Vec<(String, String)>,
    pub depends_on: DependsOn,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub unique_id: String,
    pub package_name: String,
    pub name: String,
    pub owner: Map<String, Value>,
    pub path: String,
    pub original_file_path: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Manifest {
    pub project_name: String,
    /// The project's `quoting:` policy for relation names.
    pub quoting: QuotePolicy,
    pub nodes: BTreeMap<String, Box<Node>>,
    pub sources: BTreeMap<String, SourceDefinition>,
    pub macros: BTreeMap<String, Macro>,
    pub docs: BTreeMap<String, Documentation>,
    pub exposures: BTreeMap<String, Exposure>,
    pub groups: BTreeMap<String, Group>,
    /// Nodes disabled by config, kept for manifest.json's `disabled` map.
    pub disabled: BTreeMap<String, Vec<Node>>,
}

impl Manifest {
    /// Unique ids of everything that can be a DAG vertex (nodes, sources, exposures).
    /// Vertices of the DAG: enabled nodes (a test whose target is missing
    /// stays in `nodes`, disabled, as in dbt), sources and exposures.
    pub fn vertex_ids(&self) -> impl Iterator<Item = &String> {
        self.nodes.iter().filter(|(_, n)| n.config.enabled()).map(|(id, _)| id).chain(self.sources.keys()).chain(self.exposures.keys())
    }
    pub fn depends_on(&self, unique_id: &str) -> &[String] {
        if let Some(n) = self.nodes.get(unique_id) {
            &n.depends_on.nodes
        } else if let Some(e) = self.exposures.get(unique_id) {
            &e.depends_on.nodes
        } else if let Some(s) = self.sources.get(unique_id) {
            &s.loaded_by
        } else {
            &[]
        }
    }
    /// parent_map / child_map as dbt writes them (every vertex present, sorted lists).
    pub fn parent_and_child_maps(&self) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>) {
        let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in self.vertex_ids() {
            parents.entry(id.clone()).or_default();
            children.entry(id.clone()).or_default();
        }
        for id in self.vertex_ids() {
            for p in self.depends_on(id) {
                parents.entry(id.clone()).or_default().push(p.clone());
                children.entry(p.clone()).or_default().push(id.clone());
            }
        }
        for v in parents.values_mut().chain(children.values_mut()) {
            v.sort();
            v.dedup();
        }
        (parents, children)
    }
}
