//! `rdbt docs generate` / `docs serve`: the catalog (target/catalog.json)
//! and a static, self-contained documentation site (target/index.html):
//! every model, seed, snapshot, source, ingest and exposure with its
//! description, columns (engine types from the catalog) and lineage graph.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use serde_json::{Value, json};

use crate::manifest::{Manifest, ResourceType};

const PAGE: &str = include_str!("index.html");

/// The data the page shows, as one JSON document.
pub fn site_data(manifest: &Manifest, catalog: &Value) -> Value {
    let catalog_columns = |section: &str, id: &str| -> Vec<(String, String)> {
        catalog[section][id]["columns"]
            .as_object()
            .map(|cols| cols.values().map(|c| (c["name"].as_str().unwrap_or("").to_string(), c["type"].as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default()
    };
    let columns = |declared: &indexmap::IndexMap<String, crate::manifest::ColumnInfo>, section: &str, id: &str| -> Vec<Value> {
        let mut out: Vec<Value> = catalog_columns(section, id)
            .into_iter()
            .map(|(name, ty)| {
                let d = declared.iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)).map(|(_, c)| c.description.clone()).unwrap_or_default();
                json!({"name": name, "type": ty, "description": d})
            })
            .collect();
        // Declared columns the engine does not have (not built yet) still show.
        for (name, c) in declared {
            if !out.iter().any(|o| o["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name))) {
                out.push(json!({"name": name, "type": c.data_type, "description": c.description}));
            }
        }
        out
    };
    let mut nodes: Vec<Value> = Vec::new();
    for n in manifest.nodes.values().filter(|n| n.config.enabled()) {
        if matches!(n.resource_type, ResourceType::Test | ResourceType::Operation) {
            continue;
        }
        nodes.push(json!({
            "id": n.unique_id,
            "kind": n.resource_type.as_str(),
            "label": n.name,
            "path": n.original_file_path,
            "relation": n.relation_name(manifest.quoting),
            "description": n.description,
            "columns": columns(&n.columns, "nodes", &n.unique_id),
            "parents": n.depends_on.nodes,
            "code": n.raw_code,
        }));
    }
    for s in manifest.sources.values() {
        nodes.push(json!({
            "id": s.unique_id,
            "kind": "source",
            "label": format!("{}.{}", s.source_name, s.name),
            "path": s.original_file_path,
            "relation": s.relation_name,
            "description": s.description,
            "columns": columns(&s.columns, "sources", &s.unique_id),
            "parents": s.loaded_by,
            "code": "",
        }));
    }
    for e in manifest.exposures.values() {
        nodes.push(json!({
            "id": e.unique_id, "kind": "exposure", "label": e.name, "path": e.original_file_path, "relation": null,
            "description": e.description, "columns": [], "parents": e.depends_on.nodes, "code": "",
        }));
    }
    nodes.sort_by(|a, b| a["label"].as_str().cmp(&b["label"].as_str()));
    json!({"project": manifest.project_name, "nodes": nodes})
}

/// index.html with `data` embedded (`</` escaped so that no string can
/// close the script element).
pub fn site_html(data: &Value) -> String {
    PAGE.replace("__RDBT_DOCS_DATA__", &data.to_string().replace("</", "<\\/"))
}

/// Serves `dir`'s index.html, catalog.json and manifest.json on
/// 127.0.0.1:`port` until the process is stopped; `ready` gets the URL.
pub fn serve(dir: &Path, port: u16, ready: impl FnOnce(&str)) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    ready(&format!("http://{}", listener.local_addr()?));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut line = String::new();
        if BufReader::new(&conn).read_line(&mut line).is_err() {
            continue;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let name = match path.split('?').next().unwrap_or("/") {
            "/" | "/index.html" => "index.html",
            "/catalog.json" => "catalog.json",
            "/manifest.json" => "manifest.json",
            _ => "",
        };
        let body = if name.is_empty() { None } else { std::fs::read(dir.join(name)).ok() };
        let (status, ctype, body) = match body {
            Some(b) => ("200 OK", if name.ends_with(".html") { "text/html; charset=utf-8" } else { "application/json" }, b),
            None => ("404 Not Found", "text/plain", b"not found".to_vec()),
        };
        let head = format!("HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        let _ = conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&body));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_cannot_close_the_script() {
        let html = site_html(&json!({"project": "p", "nodes": [{"description": "</script><b>x"}]}));
        assert!(!html.contains("</script><b>"));
        assert!(html.contains("<\\/script><b>x"));
    }
}
