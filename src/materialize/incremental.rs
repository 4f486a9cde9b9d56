//! `incremental` models, with dbt-duckdb's semantics:
//!
//! - no existing relation: the table is created in place;
//! - full refresh, or the existing relation is a view: built like a table;
//! - otherwise the compiled SQL goes into `<alias>__dbt_tmp`, schema changes
//!   are handled per `on_schema_change` (`ignore` by default, `fail`,
//!   `append_new_columns`, `sync_all_columns`), then `incremental_strategy`
//!   (`delete+insert` by default, `append`, `merge`) moves the rows into the
//!   target and the temporary table is dropped, all in one transaction.
//!
//! Columns: with `ignore` the target's columns are inserted (a target column
//! missing from the new rows is an error from the engine, as in dbt); with
//! any other setting the new rows' columns are.

use serde_json::Value;

use super::model::build_table;
use super::{
    MaterializeOutcome, MaterializeRequest, MaterializeResult, drop_if_exists, in_transaction, node_error, ok_outcome,
    quote, run_hooks, should_full_refresh, suffixed,
};
use crate::adapter::{Column, Connection, Relation, RelationKind};
use crate::manifest::string_or_list;

const STRATEGIES: [&str; 3] = ["append", "delete+insert", "merge"];

pub(crate) fn incremental(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<MaterializeOutcome> {
    let target = &req.relation;
    conn.create_schema(&target.database, &target.schema)?;
    let existing = conn.relation_kind(target)?;
    match existing {
        None => {
            in_transaction(conn, |conn| {
                run_hooks(conn, &req.pre_hooks)?;
                let sql = conn.create_table_as_sql(target, req.compiled_sql, false);
                conn.execute(&sql)?;
                run_hooks(conn, &req.post_hooks)
            })?;
        }
        Some(RelationKind::View) => build_table(conn, req)?,
        Some(RelationKind::Table) if should_full_refresh(req) => build_table(conn, req)?,
        Some(RelationKind::Table) => update(conn, req)?,
    }
    Ok(ok_outcome())
}

fn update(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<()> {
    let cfg = &req.node.config;
    let strategy = cfg.get_str("incremental_strategy").unwrap_or("delete+insert").to_string();
    if !STRATEGIES.contains(&strategy.as_str()) {
        return Err(node_error(
            req.node,
            "incremental-strategy",
            format!(
                "Invalid incremental strategy provided: {strategy}. Expected one of: {}",
                STRATEGIES.map(|s| format!("'{s}'")).join(", ")
            ),
        )
        .into());
    }
    // An unknown value falls back to the default (dbt logs a warning).
    let on_schema_change = cfg
        .get_str("on_schema_change")
        .filter(|v| matches!(*v, "ignore" | "fail" | "append_new_columns" | "sync_all_columns"))
        .unwrap_or("ignore");
    let target = &req.relation;
    let tmp = suffixed(target, "__dbt_tmp");
    drop_if_exists(conn, &tmp)?;
    in_transaction(conn, |conn| {
        run_hooks(conn, &req.pre_hooks)?;
        let sql = conn.create_table_as_sql(&tmp, req.compiled_sql, false);
        conn.execute(&sql)?;
        let dest_columns = process_schema_changes(conn, req, on_schema_change, &tmp, target)?;
        let tmp_columns = if strategy == "merge" { conn.get_columns(&tmp)? } else { Vec::new() };
        let statements = strategy_sql(req, &strategy, target, &tmp, &dest_columns, &tmp_columns)?;
        for s in statements {
            conn.execute(&s)?;
        }
        conn.drop_relation(&tmp, RelationKind::Table)?;
        run_hooks(conn, &req.post_hooks)
    })
}

/// Compares the new rows' columns with the target's and applies
/// `on_schema_change`. Returns the columns to insert.
fn process_schema_changes(
    conn: &mut dyn Connection,
    req: &MaterializeRequest<'_>,
    on_schema_change: &str,
    tmp: &Relation,
    target: &Relation,
) -> MaterializeResult<Vec<Column>> {
    let target_columns = conn.get_columns(target)?;
    if on_schema_change == "ignore" {
        return Ok(target_columns);
    }
    let source_columns = conn.get_columns(tmp)?;
    let added: Vec<&Column> =
        source_columns.iter().filter(|s| !target_columns.iter().any(|t| t.name == s.name)).collect();
    let removed: Vec<&Column> =
        target_columns.iter().filter(|t| !source_columns.iter().any(|s| s.name == t.name)).collect();
    let changed: Vec<(&Column, &Column)> = source_columns
        .iter()
        .filter_map(|s| target_columns.iter().find(|t| t.name == s.name).map(|t| (s, t)))
        .filter(|(s, t)| s.data_type != t.data_type)
        .collect();
    if added.is_empty() && removed.is_empty() && changed.is_empty() {
        return Ok(source_columns);
    }
    let list = |cols: &[&Column]| cols.iter().map(|c| format!("{} {}", c.name, c.data_type)).collect::<Vec<_>>().join(", ");
    match on_schema_change {
        "fail" => {
            let mut d = node_error(
                req.node,
                "on-schema-change",
                format!("The source and target schemas of incremental model {} are out of sync", req.node.name),
            );
            if !added.is_empty() {
                d = d.note(format!("columns in the new rows but not in {target}: {}", list(&added)));
            }
            if !removed.is_empty() {
                d = d.note(format!("columns in {target} but not in the new rows: {}", list(&removed)));
            }
            for (s, t) in &changed {
                d = d.note(format!("column {} changed type: {} -> {}", s.name, t.data_type, s.data_type));
            }
            d = d.note(
                "set `on_schema_change` to `append_new_columns` or `sync_all_columns`, or run with --full-refresh",
            );
            return Err(d.into());
        }
        "append_new_columns" => {
            for c in &added {
                conn.execute(&format!("ALTER TABLE {target} ADD COLUMN {} {}", quote(&c.name), c.data_type))?;
            }
        }
        _ if changed.is_empty() => {
            // sync_all_columns, names only
            for c in &added {
                conn.execute(&format!("ALTER TABLE {target} ADD COLUMN {} {}", quote(&c.name), c.data_type))?;
            }
            for c in &removed {
                conn.execute(&format!("ALTER TABLE {target} DROP COLUMN {}", quote(&c.name)))?;
            }
        }
        _ => {
            // sync_all_columns with type changes. dbt changes a type by adding a
            // column of the new type, copying the values over, dropping the old
            // column and renaming the new one, so the column ends up last. The
            // same result is built here as one new table (an UPDATE followed by
            // ALTERs in one transaction cannot commit on DuckDB 1.5): kept
            // columns in target order, then added ones, then re-typed ones.
            let mut select: Vec<String> = Vec::new();
            for t in &target_columns {
                if removed.iter().any(|r| r.name == t.name) || changed.iter().any(|(s, _)| s.name == t.name) {
                    continue;
                }
                select.push(quote(&t.name));
            }
            for c in &added {
                select.push(format!("CAST(NULL AS {}) AS {}", c.data_type, quote(&c.name)));
            }
            for (s, _) in &changed {
                select.push(format!("CAST({} AS {}) AS {}", quote(&s.name), s.data_type, quote(&s.name)));
            }
            let rebuilt = suffixed(target, "__dbt_rebuild");
            drop_if_exists(conn, &rebuilt)?;
            let sql = conn.create_table_as_sql(&rebuilt, &format!("SELECT {}\nFROM {target}", select.join(", ")), false);
            conn.execute(&sql)?;
            conn.drop_relation(target, RelationKind::Table)?;
            conn.rename_relation(&rebuilt, RelationKind::Table, &target.identifier)?;
        }
    }
    Ok(source_columns)
}

/// `incremental_predicates` (or its older name `predicates`).
fn predicates(req: &MaterializeRequest<'_>) -> Vec<String> {
    let cfg = &req.node.config;
    let p = string_or_list(cfg.get("predicates"));
    if p.is_empty() { string_or_list(cfg.get("incremental_predicates")) } else { p }
}

fn strategy_sql(
    req: &MaterializeRequest<'_>,
    strategy: &str,
    target: &Relation,
    tmp: &Relation,
    dest_columns: &[Column],
    tmp_columns: &[Column],
) -> MaterializeResult<Vec<String>> {
    let cfg = &req.node.config;
    let cols = dest_columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
    let insert = format!("INSERT INTO {target} ({cols})\n(\n    SELECT {cols}\n    FROM {tmp}\n)");
    let keys = cfg.unique_key();
    let preds = predicates(req);
    match strategy {
        "append" => Ok(vec![insert]),
        "merge" => Ok(vec![merge_sql(req, target, tmp, dest_columns, tmp_columns, &keys, &preds)?]),
        _ => {
            // delete+insert
            let mut out = Vec::new();
            let key_is_list = matches!(cfg.get("unique_key"), Some(Value::Array(_)));
            if !keys.is_empty() {
                let extra: String = preds.iter().map(|p| format!("\n    AND {p}")).collect();
                if key_is_list {
                    let on = keys
                        .iter()
                        .map(|k| format!("{tmp}.{k} = DBT_INCREMENTAL_TARGET.{k}"))
                        .collect::<Vec<_>>()
                        .join("\n    AND ");
                    out.push(format!(
                        "DELETE FROM {target} AS DBT_INCREMENTAL_TARGET\nUSING {tmp}\nWHERE (\n    {on}{extra}\n)"
                    ));
                } else {
                    let key = &keys[0];
                    out.push(format!("DELETE FROM {target}\nWHERE ({key}) IN (\n    SELECT ({key})\n    FROM {tmp}\n){extra}"));
                }
            }
            out.push(insert);
            Ok(out)
        }
    }
}

/// dbt-duckdb's MERGE: match on the unique key (or `merge_on_using_columns`),
/// update matched rows by name (or only the configured columns), insert the
/// others by name. "By name" is spelled out as column lists (the new rows'
/// columns) rather than DuckDB's `UPDATE BY NAME` /
/// `INSERT BY NAME`, and `USING (cols)` as equalities, so that the
/// statement is standard SQL every engine runs.
fn merge_sql(
    req: &MaterializeRequest<'_>,
    target: &Relation,
    tmp: &Relation,
    dest_columns: &[Column],
    tmp_columns: &[Column],
    keys: &[String],
    preds: &[String],
) -> MaterializeResult<String> {
    let cfg = &req.node.config;
    let using = string_or_list(cfg.get("merge_on_using_columns"));
    let mut conds: Vec<String> = if !using.is_empty() {
        using.iter().map(|k| format!("DBT_INTERNAL_SOURCE.{k} = DBT_INTERNAL_DEST.{k}")).collect()
    } else if keys.is_empty() {
        vec!["FALSE".to_string()]
    } else {
        keys.iter().map(|k| format!("DBT_INTERNAL_SOURCE.{k} = DBT_INTERNAL_DEST.{k}")).collect()
    };
    conds.extend(preds.iter().cloned());
    let on = format!("ON ({})", conds.join(") AND ("));
    // Every column of the new rows, by name: one the target lacks fails
    // the statement, as DuckDB's BY NAME does under on_schema_change=ignore.
    let by_name: Vec<String> = tmp_columns.iter().map(|c| quote(&c.name)).collect();
    let update_cols = string_or_list(cfg.get("merge_update_columns"));
    let exclude_cols = string_or_list(cfg.get("merge_exclude_columns"));
    let set_exprs = match cfg.get("merge_update_set_expressions") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect(),
        _ => Vec::<(String, String)>::new(),
    };
    let update = if update_cols.is_empty() && exclude_cols.is_empty() && set_exprs.is_empty() {
        let sets: Vec<String> = by_name.iter().map(|c| format!("{c} = DBT_INTERNAL_SOURCE.{c}")).collect();
        format!("UPDATE SET {}", sets.join(", "))
    } else {
        let chosen: Vec<String> = if !update_cols.is_empty() {
            update_cols
        } else {
            dest_columns
                .iter()
                .map(|c| c.name.clone())
                .filter(|n| !exclude_cols.iter().any(|e| e.eq_ignore_ascii_case(n)))
                .collect()
        };
        let mut sets: Vec<String> = set_exprs.iter().map(|(k, v)| format!("{} = {v}", quote(k))).collect();
        for c in chosen {
            let bare = c.trim_matches('"');
            if set_exprs.iter().any(|(k, _)| k == bare) {
                continue;
            }
            sets.push(format!("{} = DBT_INTERNAL_SOURCE.{}", quote(bare), quote(bare)));
        }
        format!("UPDATE SET {}", sets.join(", "))
    };
    let matched_cond = cfg.get_str("merge_update_condition").map(|c| format!(" AND {c}")).unwrap_or_default();
    let insert_cond = cfg.get_str("merge_insert_condition").map(|c| format!(" AND {c}")).unwrap_or_default();
    Ok(format!(
        "MERGE INTO {target} AS DBT_INTERNAL_DEST\nUSING {tmp} AS DBT_INTERNAL_SOURCE\n{on}\n\
         WHEN MATCHED{matched_cond} THEN {update}\nWHEN NOT MATCHED{insert_cond} THEN INSERT ({cols}) VALUES ({values})",
        cols = by_name.join(", "),
        values = by_name.iter().map(|c| format!("DBT_INTERNAL_SOURCE.{c}")).collect::<Vec<_>>().join(", "),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{MaterializeError, materialize};
    use crate::adapter::{Connection, RelationKind};
    use crate::manifest::{Node, ResourceType};
    use serde_json::{Value, json};

    const PHASE1: &str = "select 1 as id, 'a' as name, 10 as amount union all select 2, 'b', 20";
    const PHASE2: &str = "select 2 as id, 'B' as name, 'x' as extra union all select 3, 'c', 'y'";

    fn inc(name: &str, cfg: &[(&str, Value)]) -> Node {
        let mut all: Vec<(&str, Value)> = vec![("materialized", json!("incremental"))];
        all.extend(cfg.iter().cloned());
        node(ResourceType::Model, name, &all)
    }

    fn two_phases(c: &mut dyn Connection, n: &Node, p1: &str, p2: &str) -> Result<(), MaterializeError> {
        run(c, n, p1).expect("first run");
        run(c, n, p2).map(|_| ())
    }

    fn sorted(c: &mut dyn Connection, table: &str) -> Vec<Vec<Value>> {
        rows(c, &format!("select * from main.{table} order by all"))
    }

    // Expected results below were produced by dbt-core 1.11 + dbt-duckdb 1.11
    // on the same two-phase models (see the module docs).

    #[test]
    fn first_run_creates_the_table() {
        let mut c = conn();
        let n = inc("i0", &[]);
        let out = run(&mut c, &n, PHASE1).expect("run");
        assert_eq!(out.message, "OK");
        assert_eq!(c.relation_kind(&relation("i0")).expect("kind"), Some(RelationKind::Table));
        assert_eq!(relations(&mut c), vec!["i0"]);
    }

    #[test]
    fn default_strategy_without_key_appends() {
        let mut c = conn();
        let n = inc("inc_nokey", &[]);
        two_phases(&mut c, &n, "select 1 as id", "select 2 as id").expect("run");
        assert_eq!(sorted(&mut c, "inc_nokey"), vec![vec![json!(1)], vec![json!(2)]]);
        assert_eq!(relations(&mut c), vec!["inc_nokey"]);
    }

    #[test]
    fn sync_all_columns_with_each_strategy() {
        for (strategy, expected) in [
            (
                "append",
                vec![
                    vec![json!(1), json!("a"), Value::Null],
                    vec![json!(2), json!("B"), json!("x")],
                    vec![json!(2), json!("b"), Value::Null],
                    vec![json!(3), json!("c"), json!("y")],
                ],
            ),
            (
                "delete+insert",
                vec![
                    vec![json!(1), json!("a"), Value::Null],
                    vec![json!(2), json!("B"), json!("x")],
                    vec![json!(3), json!("c"), json!("y")],
                ],
            ),
            (
                "merge",
                vec![
                    vec![json!(1), json!("a"), Value::Null],
                    vec![json!(2), json!("B"), json!("x")],
                    vec![json!(3), json!("c"), json!("y")],
                ],
            ),
        ] {
            let mut c = conn();
            let n = inc(
                "inc_s",
                &[("incremental_strategy", json!(strategy)), ("unique_key", json!("id")), ("on_schema_change", json!("sync_all_columns"))],
            );
            two_phases(&mut c, &n, PHASE1, PHASE2).unwrap_or_else(|e| panic!("{strategy}: {e}"));
            assert_eq!(columns(&mut c, "inc_s"), vec!["id INTEGER", "name VARCHAR", "extra VARCHAR"], "{strategy}");
            assert_eq!(sorted(&mut c, "inc_s"), expected, "{strategy}");
            assert_eq!(relations(&mut c), vec!["inc_s"], "{strategy}");
        }
    }

    #[test]
    fn append_new_columns_inserts_new_rows_columns() {
        let mut c = conn();
        let n = inc("inc_anc", &[("unique_key", json!("id")), ("on_schema_change", json!("append_new_columns"))]);
        two_phases(&mut c, &n, PHASE1, PHASE2).expect("run");
        assert_eq!(columns(&mut c, "inc_anc"), vec!["id INTEGER", "name VARCHAR", "amount INTEGER", "extra VARCHAR"]);
        assert_eq!(
            sorted(&mut c, "inc_anc"),
            vec![
                vec![json!(1), json!("a"), json!(10), Value::Null],
                vec![json!(2), json!("B"), Value::Null, json!("x")],
                vec![json!(3), json!("c"), Value::Null, json!("y")],
            ]
        );
    }

    #[test]
    fn ignore_inserts_target_columns() {
        let mut c = conn();
        let n = inc("inc_ign", &[("unique_key", json!("id"))]);
        // The new rows lack `amount`: the engine rejects it, as with dbt-duckdb.
        let e = two_phases(&mut c, &n, PHASE1, PHASE2).expect_err("missing column");
        assert!(e.to_string().contains("amount"), "{e}");
        assert_eq!(sorted(&mut c, "inc_ign"), vec![vec![json!(1), json!("a"), json!(10)], vec![json!(2), json!("b"), json!(20)]]);
        assert_eq!(relations(&mut c), vec!["inc_ign"]);
        // Extra columns in the new rows are left out.
        let mut c = conn();
        let n = inc("inc_ign2", &[("unique_key", json!("id"))]);
        two_phases(&mut c, &n, "select 1 as id, 'a' as name", "select 1 as id, 'z' as name, 5 as extra").expect("run");
        assert_eq!(columns(&mut c, "inc_ign2"), vec!["id INTEGER", "name VARCHAR"]);
        assert_eq!(sorted(&mut c, "inc_ign2"), vec![vec![json!(1), json!("z")]]);
    }

    #[test]
    fn merge_with_ignore_fails_on_extra_columns_like_dbt_duckdb() {
        let mut c = conn();
        let n = inc("inc_mi", &[("incremental_strategy", json!("merge")), ("unique_key", json!("id"))]);
        let e = two_phases(&mut c, &n, PHASE1, PHASE2).expect_err("extra column");
        assert!(e.to_string().contains("extra"), "{e}");
        assert_eq!(sorted(&mut c, "inc_mi"), vec![vec![json!(1), json!("a"), json!(10)], vec![json!(2), json!("b"), json!(20)]]);
    }

    #[test]
    fn fail_names_the_columns() {
        let mut c = conn();
        let n = inc("inc_fail", &[("unique_key", json!("id")), ("on_schema_change", json!("fail"))]);
        match two_phases(&mut c, &n, PHASE1, PHASE2) {
            Err(MaterializeError::Diagnostic(d)) => {
                assert_eq!(d.code, "on-schema-change");
                let notes = d.notes.join("\n");
                assert!(notes.contains("extra VARCHAR"), "{notes}");
                assert!(notes.contains("amount INTEGER"), "{notes}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(columns(&mut c, "inc_fail"), vec!["id INTEGER", "name VARCHAR", "amount INTEGER"]);
        assert_eq!(relations(&mut c), vec!["inc_fail"]);
        // No change: fine.
        let n = inc("inc_fail2", &[("on_schema_change", json!("fail"))]);
        two_phases(&mut c, &n, "select 1 as id", "select 2 as id").expect("same schema");
    }

    #[test]
    fn sync_all_columns_changes_types() {
        let mut c = conn();
        let n = inc("inc_ty", &[("on_schema_change", json!("sync_all_columns"))]);
        two_phases(&mut c, &n, "select 1 as id, 1 as v", "select 2 as id, 2.5::double as v").expect("run");
        assert_eq!(columns(&mut c, "inc_ty"), vec!["id INTEGER", "v DOUBLE"]);
        assert_eq!(sorted(&mut c, "inc_ty"), vec![vec![json!(1), json!(1.0)], vec![json!(2), json!(2.5)]]);
        // A changed column moves to the end, as dbt's alter_column_type does
        // (checked against dbt-duckdb: `id INTEGER, v BIGINT` and
        // `id INTEGER, z VARCHAR, v DOUBLE` below).
        let n = inc("inc_ty2", &[("on_schema_change", json!("sync_all_columns"))]);
        two_phases(&mut c, &n, "select 1 as v, 1 as id", "select 2::bigint as v, 2 as id").expect("run");
        assert_eq!(columns(&mut c, "inc_ty2"), vec!["id INTEGER", "v BIGINT"]);
        assert_eq!(sorted(&mut c, "inc_ty2"), vec![vec![json!(1), json!(1)], vec![json!(2), json!(2)]]);
        let n = inc("inc_ty3", &[("on_schema_change", json!("sync_all_columns")), ("unique_key", json!("id"))]);
        two_phases(&mut c, &n, "select 1 as id, 1 as v, 'a' as w", "select 2 as id, 2.5::double as v, 'new' as z")
            .expect("run");
        assert_eq!(columns(&mut c, "inc_ty3"), vec!["id INTEGER", "z VARCHAR", "v DOUBLE"]);
        assert_eq!(
            sorted(&mut c, "inc_ty3"),
            vec![vec![json!(1), Value::Null, json!(1.0)], vec![json!(2), json!("new"), json!(2.5)]]
        );
        assert_eq!(relations(&mut c), vec!["inc_ty", "inc_ty2", "inc_ty3"]);
    }

    #[test]
    fn composite_unique_key() {
        for strategy in ["delete+insert", "merge"] {
            let mut c = conn();
            let n = inc("inc_ck", &[("incremental_strategy", json!(strategy)), ("unique_key", json!(["a", "b"]))]);
            two_phases(
                &mut c,
                &n,
                "select 1 as a, 1 as b, 'x' as v union all select 1, 2, 'y'",
                "select 1 as a, 2 as b, 'Y' as v union all select 2, 1, 'z'",
            )
            .unwrap_or_else(|e| panic!("{strategy}: {e}"));
            assert_eq!(
                sorted(&mut c, "inc_ck"),
                vec![
                    vec![json!(1), json!(1), json!("x")],
                    vec![json!(1), json!(2), json!("Y")],
                    vec![json!(2), json!(1), json!("z")],
                ],
                "{strategy}"
            );
        }
    }

    #[test]
    fn merge_options() {
        let mut c = conn();
        let n = inc(
            "inc_mo",
            &[
                ("incremental_strategy", json!("merge")),
                ("unique_key", json!("id")),
                ("merge_update_columns", json!(["name"])),
            ],
        );
        two_phases(&mut c, &n, "select 1 as id, 'a' as name, 10 as amount", "select 1 as id, 'A' as name, 99 as amount")
            .expect("run");
        assert_eq!(sorted(&mut c, "inc_mo"), vec![vec![json!(1), json!("A"), json!(10)]]);
        let n = inc(
            "inc_mx",
            &[
                ("incremental_strategy", json!("merge")),
                ("unique_key", json!("id")),
                ("merge_exclude_columns", json!(["amount"])),
            ],
        );
        two_phases(&mut c, &n, "select 1 as id, 'a' as name, 10 as amount", "select 1 as id, 'A' as name, 99 as amount")
            .expect("run");
        assert_eq!(sorted(&mut c, "inc_mx"), vec![vec![json!(1), json!("A"), json!(10)]]);
        // Without a key, merge inserts everything.
        let n = inc("inc_mnk", &[("incremental_strategy", json!("merge"))]);
        two_phases(&mut c, &n, "select 1 as id", "select 1 as id").expect("run");
        assert_eq!(sorted(&mut c, "inc_mnk"), vec![vec![json!(1)], vec![json!(1)]]);
    }

    #[test]
    fn incremental_predicates_limit_the_delete() {
        let mut c = conn();
        let n = inc(
            "inc_pr",
            &[("unique_key", json!("id")), ("incremental_predicates", json!(["id > 1"]))],
        );
        two_phases(&mut c, &n, "select 1 as id, 'a' as v union all select 2, 'b'", "select 1 as id, 'A' as v union all select 2, 'B'")
            .expect("run");
        assert_eq!(
            sorted(&mut c, "inc_pr"),
            vec![vec![json!(1), json!("A")], vec![json!(1), json!("a")], vec![json!(2), json!("B")]]
        );
    }

    #[test]
    fn full_refresh_and_view_rebuild() {
        let mut c = conn();
        let n = inc("inc_fr", &[("unique_key", json!("id"))]);
        run(&mut c, &n, PHASE1).expect("first");
        let mut r = request(&n, PHASE2);
        r.full_refresh = true;
        materialize(&mut c, &r).expect("full refresh");
        assert_eq!(columns(&mut c, "inc_fr"), vec!["id INTEGER", "name VARCHAR", "extra VARCHAR"]);
        assert_eq!(sorted(&mut c, "inc_fr").len(), 2);
        // `full_refresh: false` in config wins over the flag.
        let n2 = inc("inc_fr", &[("unique_key", json!("id")), ("full_refresh", json!(false))]);
        let mut r = request(&n2, "select 9 as id, 'z' as name, 'q' as extra");
        r.full_refresh = true;
        materialize(&mut c, &r).expect("incremental despite flag");
        assert_eq!(sorted(&mut c, "inc_fr").len(), 3);
        // An existing view is replaced by a table.
        c.execute("create view main.inc_v as select 1 as id").expect("view");
        run(&mut c, &inc("inc_v", &[]), "select 7 as id").expect("rebuild");
        assert_eq!(c.relation_kind(&relation("inc_v")).expect("kind"), Some(RelationKind::Table));
        assert_eq!(sorted(&mut c, "inc_v"), vec![vec![json!(7)]]);
    }

    #[test]
    fn unknown_strategy_and_failures_leave_no_tmp() {
        let mut c = conn();
        let n = inc("inc_bad", &[("incremental_strategy", json!("insert_overwrite"))]);
        run(&mut c, &n, "select 1 as id").expect("first run builds");
        match run(&mut c, &n, "select 1 as id") {
            Err(MaterializeError::Diagnostic(d)) => assert_eq!(d.code, "incremental-strategy"),
            other => panic!("unexpected {other:?}"),
        }
        let n = inc("inc_err", &[]);
        run(&mut c, &n, "select 1 as id").expect("first");
        run(&mut c, &n, "select cast('x' as integer) as id").expect_err("bad rows");
        assert_eq!(relations(&mut c), vec!["inc_bad", "inc_err"]);
        assert_eq!(sorted(&mut c, "inc_err"), vec![vec![json!(1)]]);
    }
}
