//! `view` and `table` models.
//!
//! When the relation exists, both build the new one under `<alias>__dbt_tmp`,
//! then in the same transaction rename the existing relation (table or view)
//! to `<alias>__dbt_backup`, rename the new one into place and drop the
//! backup. A first build creates the relation in place.

use super::{
    MaterializeOutcome, MaterializeRequest, MaterializeResult, drop_if_exists, in_transaction, ok_outcome, run_hooks,
    suffixed, swap_into_place,
};
use crate::adapter::{Connection, RelationKind};

pub(crate) fn view(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<MaterializeOutcome> {
    build(conn, req, RelationKind::View)?;
    Ok(ok_outcome())
}

pub(crate) fn table(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<MaterializeOutcome> {
    build_table(conn, req)?;
    Ok(ok_outcome())
}

/// The table materialization (also an incremental model's first run and
/// full refresh).
pub(crate) fn build_table(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<()> {
    build(conn, req, RelationKind::Table)
}

fn build(conn: &mut dyn Connection, req: &MaterializeRequest<'_>, kind: RelationKind) -> MaterializeResult<()> {
    let target = &req.relation;
    conn.create_schema(&target.database, &target.schema)?;
    let tmp = suffixed(target, "__dbt_tmp");
    drop_if_exists(conn, &tmp)?;
    drop_if_exists(conn, &suffixed(target, "__dbt_backup"))?;
    // Nothing to swap out on a first build: create in place (atomic on its own).
    let in_place = conn.relation_kind(target)?.is_none();
    let build_as = if in_place { target } else { &tmp };
    let create = |conn: &mut dyn Connection| match kind {
        RelationKind::View => conn.create_view_as_sql(build_as, req.compiled_sql),
        RelationKind::Table => conn.create_table_as_sql(build_as, req.compiled_sql, false),
    };
    if in_place && req.pre_hooks.is_empty() && req.post_hooks.is_empty() {
        // One statement: atomic without an explicit transaction.
        let sql = create(conn);
        conn.execute(&sql)?;
        return Ok(());
    }
    in_transaction(conn, |conn| {
        run_hooks(conn, &req.pre_hooks)?;
        let sql = create(conn);
        conn.execute(&sql)?;
        if !in_place {
            swap_into_place(conn, &tmp, kind, target)?;
        }
        run_hooks(conn, &req.post_hooks)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::adapter::{Connection, RelationKind};
    use crate::manifest::ResourceType;
    use serde_json::json;

    #[test]
    fn view_is_created_and_replaced() {
        let mut c = conn();
        let node = node(ResourceType::Model, "v1", &[("materialized", json!("view"))]);
        let out = run(&mut c, &node, "select 1 as id").expect("view");
        assert_eq!(out.message, "OK");
        assert_eq!(out.adapter_response.message, "OK");
        let rel = relation("v1");
        assert_eq!(c.relation_kind(&rel).expect("kind"), Some(RelationKind::View));
        run(&mut c, &node, "select 2 as id, 'x' as name").expect("replace");
        assert_eq!(rows(&mut c, "select * from main.v1"), vec![vec![json!(2), json!("x")]]);
        assert_eq!(relations(&mut c), vec!["v1"]);
    }

    #[test]
    fn view_replaces_a_table() {
        let mut c = conn();
        c.execute("create table main.v2 as select 1 as id").expect("table");
        let node = node(ResourceType::Model, "v2", &[("materialized", json!("view"))]);
        run(&mut c, &node, "select 5 as id").expect("view");
        assert_eq!(c.relation_kind(&relation("v2")).expect("kind"), Some(RelationKind::View));
        assert_eq!(rows(&mut c, "select * from main.v2"), vec![vec![json!(5)]]);
        assert_eq!(relations(&mut c), vec!["v2"]);
    }

    #[test]
    fn failed_view_keeps_the_old_one() {
        let mut c = conn();
        let node = node(ResourceType::Model, "v3", &[("materialized", json!("view"))]);
        run(&mut c, &node, "select 1 as id").expect("view");
        let e = run(&mut c, &node, "select * from missing_table").expect_err("bad sql");
        assert!(e.to_string().contains("missing_table"), "{e}");
        assert_eq!(rows(&mut c, "select * from main.v3"), vec![vec![json!(1)]]);
        assert_eq!(relations(&mut c), vec!["v3"]);
    }

    #[test]
    fn table_build_and_rebuild() {
        let mut c = conn();
        let node = node(ResourceType::Model, "t1", &[("materialized", json!("table"))]);
        let out = run(&mut c, &node, "select 1 as id, 'a' as name").expect("table");
        assert_eq!(out.message, "OK");
        assert_eq!(c.relation_kind(&relation("t1")).expect("kind"), Some(RelationKind::Table));
        run(&mut c, &node, "select 2 as id").expect("rebuild");
        assert_eq!(rows(&mut c, "select * from main.t1"), vec![vec![json!(2)]]);
        assert_eq!(relations(&mut c), vec!["t1"]);
    }

    #[test]
    fn table_replaces_a_view_and_creates_schema() {
        let mut c = conn();
        c.execute("create schema other; create view other.t2 as select 1 as id").expect("view");
        let node = node(ResourceType::Model, "t2", &[("materialized", json!("table"))]);
        let mut r = request(&node, "select 3 as id");
        r.relation = crate::adapter::Relation::new("memory", "other", "t2");
        super::super::materialize(&mut c, &r).expect("table");
        assert_eq!(c.relation_kind(&r.relation).expect("kind"), Some(RelationKind::Table));
        // A schema that does not exist yet is created.
        r.relation = crate::adapter::Relation::new("memory", "brand_new", "t2");
        super::super::materialize(&mut c, &r).expect("table in new schema");
        assert_eq!(rows(&mut c, "select * from brand_new.t2"), vec![vec![json!(3)]]);
    }

    #[test]
    fn failed_table_build_leaves_old_table_and_no_tmp() {
        let mut c = conn();
        let node = node(ResourceType::Model, "t3", &[("materialized", json!("table"))]);
        run(&mut c, &node, "select 1 as id").expect("table");
        // Fails at execution time, after the statement started.
        let e = run(&mut c, &node, "select cast('x' as integer) as id").expect_err("cast");
        assert!(e.to_string().contains("Conversion Error"), "{e}");
        assert_eq!(rows(&mut c, "select * from main.t3"), vec![vec![json!(1)]]);
        assert_eq!(relations(&mut c), vec!["t3"]);
        // A failing post-hook rolls the whole swap back too.
        let mut r = request(&node, "select 9 as id");
        r.post_hooks = vec!["select * from no_such_table".into()];
        super::super::materialize(&mut c, &r).expect_err("post-hook");
        assert_eq!(rows(&mut c, "select * from main.t3"), vec![vec![json!(1)]]);
        assert_eq!(relations(&mut c), vec!["t3"]);
    }

    #[test]
    fn leftover_tmp_and_backup_are_cleared() {
        let mut c = conn();
        c.execute("create table main.t4__dbt_tmp as select 1 as x; create view main.t4__dbt_backup as select 1 as x")
            .expect("leftovers");
        let node = node(ResourceType::Model, "t4", &[("materialized", json!("table"))]);
        run(&mut c, &node, "select 1 as id").expect("table");
        assert_eq!(relations(&mut c), vec!["t4"]);
    }

    #[test]
    fn hooks_run_around_the_build() {
        let mut c = conn();
        c.execute("create table main.log (step varchar, n integer)").expect("log");
        let node = node(ResourceType::Model, "t5", &[("materialized", json!("table"))]);
        let mut r = request(&node, "select 1 as id");
        r.pre_hooks = vec!["insert into main.log select 'pre', (select count(*) from information_schema.tables where table_name = 't5')".into()];
        r.post_hooks = vec!["insert into main.log select 'post', (select count(*) from main.t5)".into()];
        super::super::materialize(&mut c, &r).expect("table");
        assert_eq!(
            rows(&mut c, "select * from main.log order by step desc"),
            vec![vec![json!("pre"), json!(0)], vec![json!("post"), json!(1)]]
        );
    }

    #[test]
    fn concurrent_builds_in_one_schema() {
        let adapter = crate::adapter::duckdb::DuckDbAdapter::open(":memory:", &[], &serde_json::Map::new())
            .expect("open");
        std::thread::scope(|s| {
            for t in 0..4 {
                let adapter = &adapter;
                s.spawn(move || {
                    let mut c = adapter.connection().expect("connect");
                    for i in 0..10 {
                        let kind = if i % 2 == 0 { "table" } else { "view" };
                        let name = format!("c{t}_{i}");
                        let n = node(ResourceType::Model, &name, &[("materialized", json!(kind))]);
                        let mut r = request(&n, "select 1 as id");
                        r.relation = crate::adapter::Relation::new("memory", "shared", &name);
                        super::super::materialize(&mut c, &r).unwrap_or_else(|e| panic!("{name}: {e}"));
                        super::super::materialize(&mut c, &r).unwrap_or_else(|e| panic!("{name} again: {e}"));
                    }
                });
            }
        });
        let mut c = adapter.connection().expect("connect");
        assert_eq!(c.list_relations("memory", "shared").expect("list").len(), 40);
    }

    #[test]
    fn unknown_materialization_is_a_diagnostic() {
        let mut c = conn();
        let node = node(ResourceType::Model, "m", &[("materialized", json!("materialized_view"))]);
        match run(&mut c, &node, "select 1") {
            Err(super::super::MaterializeError::Diagnostic(d)) => assert_eq!(d.code, "unknown-materialization"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
