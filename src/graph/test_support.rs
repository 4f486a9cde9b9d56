//! Small manifests for the graph and selection tests.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::manifest::*;

/// A node whose kind, package and name come from its unique_id
/// (`model.pkg.name`); file `models/<name>.sql`, fqn `[pkg, name]`.
pub(crate) fn test_node(id: &str, deps: &[&str]) -> Node {
    let parts: Vec<&str> = id.split('.').collect();
    let kind = parts.first().copied().unwrap_or("model");
    let package = parts.get(1).copied().unwrap_or("p").to_string();
    let name = parts.last().copied().unwrap_or("x").to_string();
    let resource_type = ResourceType::parse(kind).unwrap_or(ResourceType::Model);
    let folder = match resource_type {
        ResourceType::Seed => "seeds",
        ResourceType::Snapshot => "snapshots",
        ResourceType::Test => "tests",
        ResourceType::Analysis => "analyses",
        _ => "models",
    };
    let ext = if resource_type == ResourceType::Seed { "csv" } else { "sql" };
    let mut config = NodeConfig::default();
    let materialized = match resource_type {
        ResourceType::Model => "view",
        ResourceType::Seed => "seed",
        ResourceType::Snapshot => "snapshot",
        ResourceType::Test => "test",
        _ => "view",
    };
    config.set("materialized", Value::String(materialized.into()));
    Node {
        unique_id: id.to_string(),
        resource_type,
        package_name: package.clone(),
        name: name.clone(),
        path: format!("{name}.{ext}"),
        original_file_path: format!("{folder}/{name}.{ext}"),
        file: PathBuf::from(format!("/proj/{folder}/{name}.{ext}")),
        fqn: vec![package, name.clone()],
        config,
        database: "db".into(),
        schema: "main".into(),
        alias: name,
        depends_on: DependsOn { macros: vec![], nodes: deps.iter().map(|s| s.to_string()).collect() },
        ..Node::default()
    }
}

/// Places a node in a sub folder: `models/<dir>/<name>.sql`, fqn `[pkg, dir.., name]`.
pub(crate) fn in_dir(mut node: Node, dir: &str) -> Node {
    let folder = node.original_file_path.split('/').next().unwrap_or("models").to_string();
    let file_name = node.path.clone();
    node.path = format!("{dir}/{file_name}");
    node.original_file_path = format!("{folder}/{dir}/{file_name}");
    node.file = PathBuf::from(format!("/proj/{}", node.original_file_path));
    let mut fqn = vec![node.package_name.clone()];
    fqn.extend(dir.split('/').map(str::to_string));
    fqn.push(node.name.clone());
    node.fqn = fqn;
    node
}

/// A generic test (`not_null` etc.) defined in `models/schema.yml`.
pub(crate) fn generic_test(id: &str, test_name: &str, deps: &[&str]) -> Node {
    let mut n = test_node(id, deps);
    n.test_metadata = Some(TestMetadata { name: test_name.into(), namespace: None, kwargs: Map::new() });
    n.original_file_path = "models/schema.yml".into();
    n.path = format!("{}.sql", n.name);
    n.file = PathBuf::from("/proj/models/schema.yml");
    n.attached_node = deps.first().map(|s| s.to_string());
    n
}

pub(crate) fn manifest(nodes: Vec<Node>) -> Manifest {
    let mut m = Manifest { project_name: "p".into(), ..Manifest::default() };
    for n in nodes {
        m.nodes.insert(n.unique_id.clone(), Box::new(n));
    }
    m
}

pub(crate) fn add_source(m: &mut Manifest, source_name: &str, table: &str) {
    let id = format!("source.p.{source_name}.{table}");
    m.sources.insert(
        id.clone(),
        SourceDefinition {
            unique_id: id,
            package_name: "p".into(),
            source_name: source_name.into(),
            name: table.into(),
            identifier: table.into(),
            database: "db".into(),
            schema: source_name.into(),
            loader: String::new(),
            description: String::new(),
            source_description: String::new(),
            columns: Default::default(),
            meta: Map::new(),
            source_meta: Map::new(),
            tags: vec![],
            config: NodeConfig::default(),
            quoting: Map::new(),
            loaded_at_field: None,
            freshness: None,
            path: "models/sources.yml".into(),
            original_file_path: "models/sources.yml".into(),
            file: PathBuf::from("/proj/models/sources.yml"),
            span: None,
            fqn: vec!["p".into(), source_name.into(), table.into()],
            relation_name: format!("\"db\".\"{source_name}\".\"{table}\""),
            loaded_by: vec![],
        },
    );
}

pub(crate) fn add_exposure(m: &mut Manifest, name: &str, deps: &[&str]) {
    let id = format!("exposure.p.{name}");
    m.exposures.insert(
        id.clone(),
        Exposure {
            unique_id: id,
            package_name: "p".into(),
            name: name.into(),
            r#type: "dashboard".into(),
            owner: Map::new(),
            description: String::new(),
            label: None,
            maturity: None,
            url: None,
            tags: vec![],
            meta: Map::new(),
            config: NodeConfig::default(),
            path: "exposures.yml".into(),
            original_file_path: "models/exposures.yml".into(),
            fqn: vec!["p".into(), name.into()],
            refs: vec![],
            sources: vec![],
            depends_on: DependsOn { macros: vec![], nodes: deps.iter().map(|s| s.to_string()).collect() },
        },
    );
}
