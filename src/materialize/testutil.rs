//! Test helpers: a `:memory:` DuckDB connection and minimal nodes.

use serde_json::{Map, Value};
use std::path::PathBuf;

use super::{MaterializeError, MaterializeOutcome, MaterializeRequest, materialize};
use crate::adapter::duckdb::{DuckDbAdapter, DuckDbConnection};
use crate::adapter::{Connection, Relation};
use crate::manifest::{Node, NodeConfig, ResourceType};

pub(crate) fn conn() -> DuckDbConnection {
    let adapter = DuckDbAdapter::open(":memory:", &[], &Map::new()).expect("open duckdb");
    adapter.connection().expect("connect")
}

/// A minimal node named `name` in package `p`, with `config` entries.
pub(crate) fn node(resource_type: ResourceType, name: &str, config: &[(&str, Value)]) -> Node {
    let mut cfg = NodeConfig::default();
    for (k, v) in config {
        cfg.set(k, v.clone());
    }
    let folder = match resource_type {
        ResourceType::Seed => "seeds",
        ResourceType::Test => "tests",
        _ => "models",
    };
    Node {
        unique_id: format!("{}.p.{name}", resource_type.as_str()),
        resource_type,
        package_name: "p".into(),
        name: name.into(),
        path: format!("{name}.sql"),
        original_file_path: format!("{folder}/{name}.sql"),
        file: PathBuf::from(format!("/project/{folder}/{name}.sql")),
        fqn: vec!["p".into(), name.into()],
        config: cfg,
        database: "memory".into(),
        schema: "main".into(),
        alias: name.into(),
        ..Node::default()
    }
}

pub(crate) fn relation(name: &str) -> Relation {
    Relation::new("memory", "main", name)
}

pub(crate) fn request<'a>(node: &'a Node, sql: &'a str) -> MaterializeRequest<'a> {
    MaterializeRequest {
        node,
        compiled_sql: sql,
        relation: relation(&node.alias),
        full_refresh: false,
        pre_hooks: vec![],
        post_hooks: vec![],
    }
}

pub(crate) fn run(c: &mut dyn Connection, node: &Node, sql: &str) -> Result<MaterializeOutcome, MaterializeError> {
    materialize(c, &request(node, sql))
}

pub(crate) fn rows(c: &mut dyn Connection, sql: &str) -> Vec<Vec<Value>> {
    c.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).rows
}

/// `name TYPE` of each column of `main.<table>`.
pub(crate) fn columns(c: &mut dyn Connection, table: &str) -> Vec<String> {
    c.get_columns(&relation(table))
        .expect("columns")
        .into_iter()
        .map(|c| format!("{} {}", c.name, c.data_type))
        .collect()
}

/// Names of the relations in `memory.main`, sorted.
pub(crate) fn relations(c: &mut dyn Connection) -> Vec<String> {
    let mut v: Vec<String> =
        c.list_relations("memory", "main").expect("list").into_iter().map(|(r, _)| r.identifier).collect();
    v.sort();
    v
}
