//! target/catalog.json (`rdbt docs generate`): what the engine holds for
//! every model, seed, snapshot and source of the manifest — relation type
//! and columns with their engine types — in dbt's catalog v1 shape.

use serde_json::{Map, Value, json};

use crate::adapter::{Connection, Relation, RelationKind};
use crate::manifest::{Manifest, ResourceType};

fn no_stats() -> Value {
    json!({"has_stats": {"id": "has_stats", "label": "Has Stats?", "value": false, "include": false, "description": "Indicates whether there are statistics for this table"}})
}

/// The catalog entry of `relation`, None when it does not exist.
fn entry(conn: &mut dyn Connection, unique_id: &str, relation: &Relation) -> Result<Option<Value>, String> {
    let kind = match conn.relation_kind(relation).map_err(|e| e.message)? {
        Some(k) => k,
        None => return Ok(None),
    };
    let columns = conn.get_columns(relation).map_err(|e| e.message)?;
    let mut cols = Map::new();
    for (i, c) in columns.iter().enumerate() {
        cols.insert(c.name.clone(), json!({"type": c.data_type, "index": i + 1, "name": c.name, "comment": null}));
    }
    let table_type = match kind {
        RelationKind::Table => "BASE TABLE",
        RelationKind::View => "VIEW",
    };
    Ok(Some(json!({
        "metadata": {"type": table_type, "schema": relation.schema, "name": relation.identifier, "database": relation.database, "comment": null, "owner": null},
        "columns": cols,
        "stats": no_stats(),
        "unique_id": unique_id,
    })))
}

/// The catalog of everything in `manifest` that exists in the engine;
/// `metadata` is the artifact header. Failures to read one relation are
/// listed under `errors` (as dbt does) rather than stopping the rest.
pub fn catalog_json(manifest: &Manifest, conn: &mut dyn Connection, metadata: Value) -> Value {
    let mut nodes = Map::new();
    let mut sources = Map::new();
    let mut errors: Vec<String> = Vec::new();
    for n in manifest.nodes.values() {
        let builds = matches!(n.resource_type, ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot) && !n.is_ephemeral() && n.config.enabled();
        if !builds {
            continue;
        }
        let rel = Relation::new(n.database.clone(), n.schema.clone(), n.alias.clone());
        match entry(conn, &n.unique_id, &rel) {
            Ok(Some(e)) => {
                nodes.insert(n.unique_id.clone(), e);
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("{}: {e}", n.unique_id)),
        }
    }
    for s in manifest.sources.values() {
        let rel = Relation::new(s.database.clone(), s.schema.clone(), s.identifier.clone());
        match entry(conn, &s.unique_id, &rel) {
            Ok(Some(e)) => {
                sources.insert(s.unique_id.clone(), e);
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("{}: {e}", s.unique_id)),
        }
    }
    json!({
        "metadata": metadata,
        "nodes": nodes,
        "sources": sources,
        "errors": if errors.is_empty() { Value::Null } else { json!(errors) },
    })
}
