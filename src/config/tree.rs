//! dbt's config inheritance: `+key` trees in dbt_project.yml by package and
//! folder, then properties YAML, then the file's `config()` call.

use serde_json::{Map, Value};

/// Config keys that may be written without `+` in dbt_project.yml trees.
const KNOWN_KEYS: &[&str] = &[
    "enabled", "materialized", "schema", "database", "alias", "tags", "meta", "pre-hook", "post-hook", "persist_docs",
    "full_refresh", "unique_key", "incremental_strategy", "on_schema_change", "quoting", "column_types", "delimiter",
    "quote_columns", "severity", "warn_if", "error_if", "store_failures", "store_failures_as", "where", "limit",
    "fail_calc", "docs", "grants", "contract", "access", "group", "sql_header", "on_configuration_change",
    "strategy", "target_schema", "target_database", "check_cols", "updated_at", "invalidate_hard_deletes",
    "snapshot_meta_column_names", "hard_deletes", "dbt_valid_to_current", "event_time", "loaded_at_field", "freshness",
];

/// Merges `over` into `base` with dbt's rules: `tags` union, `meta` and
/// `docs` dict-merge, hooks append, everything else replaces.
pub fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        let key = k.trim_start_matches('+');
        match key {
            "tags" => {
                let mut tags = crate::manifest::string_or_list(base.get("tags"));
                for t in crate::manifest::string_or_list(Some(v)) {
                    if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                base.insert("tags".into(), Value::from(tags));
            }
            "meta" | "docs" | "grants" => {
                let mut m = base.get(key).and_then(Value::as_object).cloned().unwrap_or_default();
                if let Value::Object(o) = v {
                    for (mk, mv) in o {
                        m.insert(mk.clone(), mv.clone());
                    }
                    base.insert(key.into(), Value::Object(m));
                } else {
                    base.insert(key.into(), v.clone());
                }
            }
            "pre-hook" | "post-hook" | "pre_hook" | "post_hook" => {
                let key = key.replace('_', "-");
                let mut hooks = match base.get(&key) {
                    Some(Value::Array(a)) => a.clone(),
                    Some(Value::Null) | None => vec![],
                    Some(other) => vec![other.clone()],
                };
                match v {
                    Value::Array(a) => hooks.extend(a.iter().cloned()),
                    Value::Null => {}
                    other => hooks.push(other.clone()),
                }
                base.insert(key, Value::Array(hooks));
            }
            _ => {
                base.insert(key.to_string(), v.clone());
            }
        }
    }
}

/// The config that `tree` (a `models:`/`seeds:`/... block) gives a resource
/// whose fqn is `fqn` (`[package, folder..., name]`).
pub fn resolve(tree: &Value, fqn: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    let Value::Object(top) = tree else { return out };
    // Top-level `+key`s apply to every resource of the kind.
    apply_level(&mut out, top, None);
    let mut level = top;
    for (i, part) in fqn.iter().enumerate() {
        let Some(Value::Object(next)) = level.get(part.as_str()) else { break };
        // The last fqn part is the resource name itself; configs keyed by a
        // resource name are allowed (dbt matches seeds and models by name).
        apply_level(&mut out, next, fqn.get(i + 1).map(String::as_str));
        level = next;
    }
    out
}

fn apply_level(out: &mut Map<String, Value>, level: &Map<String, Value>, _next: Option<&str>) {
    let mut cfg = Map::new();
    for (k, v) in level {
        if let Some(stripped) = k.strip_prefix('+') {
            cfg.insert(stripped.to_string(), v.clone());
        } else if KNOWN_KEYS.contains(&k.as_str()) && !(v.is_object() && !matches!(k.as_str(), "meta" | "docs" | "persist_docs" | "quoting" | "column_types" | "grants" | "contract" | "freshness" | "snapshot_meta_column_names")) {
            cfg.insert(k.clone(), v.clone());
        }
    }
    merge(out, &cfg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folder_configs_override_and_tags_accumulate() {
        let tree = json!({
            "+tags": ["all"],
            "jaffle": {
                "+materialized": "table",
                "staging": {"+materialized": "view", "+tags": "stg", "schema": "staging"},
                "marts": {"materialized": "incremental"}
            }
        });
        let fqn = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = resolve(&tree, &fqn(&["jaffle", "staging", "stg_orders"]));
        assert_eq!(c["materialized"], "view");
        assert_eq!(c["tags"], json!(["all", "stg"]));
        assert_eq!(c["schema"], "staging");
        let c = resolve(&tree, &fqn(&["jaffle", "marts", "orders"]));
        assert_eq!(c["materialized"], "incremental");
        let c = resolve(&tree, &fqn(&["other", "x"]));
        assert_eq!(c.get("materialized"), None);
    }

    #[test]
    fn hooks_append() {
        let mut base = Map::new();
        merge(&mut base, json!({"+post-hook": "a"}).as_object().unwrap());
        merge(&mut base, json!({"post-hook": ["b"]}).as_object().unwrap());
        assert_eq!(base["post-hook"], json!(["a", "b"]));
    }
}
