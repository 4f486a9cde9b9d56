use serde_json::json;

use super::*;

fn mem() -> DataFusionConnection {
    DataFusionAdapter::open(":memory:", "db", "main").expect("open").connection().expect("connect")
}

fn rows(c: &mut DataFusionConnection, sql: &str) -> Vec<Vec<Value>> {
    let mut r = c.query(sql).expect(sql).rows;
    r.sort_by_key(|a| a.iter().map(Value::to_string).collect::<Vec<_>>().join(","));
    r
}

#[test]
fn create_insert_delete_update() {
    let mut c = mem();
    c.execute("create table main.t as select 1 as id, 'a' as name union all select 2, 'b' union all select 3, null").expect("ctas");
    c.execute("insert into main.t (id, name) values (4, 'd')").expect("insert");
    assert_eq!(c.query("select count(*) from \"db\".\"main\".\"t\"").expect("count").rows, vec![vec![json!(4)]]);
    // NULL predicates neither delete nor update.
    c.execute("delete from main.t where name = 'b' or name = null").expect("delete");
    c.execute("update main.t as x set name = upper(x.name) where x.id >= 3").expect("update");
    assert_eq!(rows(&mut c, "select id, name from t"), vec![vec![json!(1), json!("a")], vec![json!(3), Value::Null], vec![json!(4), json!("D")]]);
    let cols = c.get_columns(&Relation::new("db", "main", "t")).expect("columns");
    assert_eq!(cols.iter().map(|c| c.data_type.as_str()).collect::<Vec<_>>(), vec!["BIGINT", "VARCHAR"]);
}

#[test]
fn delete_using_and_in_subquery() {
    let mut c = mem();
    c.execute("create table t as select * from (values (1, 'x'), (2, 'y'), (3, 'z')) v(id, s)").expect("t");
    c.execute("create table n as select 2 as id").expect("n");
    c.execute("delete from t where (id) in (select (id) from n)").expect("in");
    assert_eq!(rows(&mut c, "select id from t"), vec![vec![json!(1)], vec![json!(3)]]);
    c.execute("delete from t as tgt using n where (n.id + 1 = tgt.id)").expect("using");
    assert_eq!(rows(&mut c, "select id from t"), vec![vec![json!(1)]]);
}

#[test]
fn merge_updates_and_inserts() {
    let mut c = mem();
    c.execute("create table t as select * from (values (1, 'a', 10), (2, 'b', 20)) v(id, name, amount)").expect("t");
    c.execute("create table s as select * from (values (2, 'B', 25), (3, 'c', 30)) v(id, name, amount)").expect("s");
    c.execute(
        "MERGE INTO t AS d USING s AS src ON (src.id = d.id) \
         WHEN MATCHED THEN UPDATE SET name = src.name, amount = src.amount \
         WHEN NOT MATCHED THEN INSERT (id, name, amount) VALUES (src.id, src.name, src.amount)",
    )
    .expect("merge");
    assert_eq!(
        rows(&mut c, "select id, name, amount from t"),
        vec![vec![json!(1), json!("a"), json!(10)], vec![json!(2), json!("B"), json!(25)], vec![json!(3), json!("c"), json!(30)]]
    );
}

#[test]
fn transactions_roll_back_and_views_follow_tables() {
    let mut c = mem();
    c.execute("create table t as select 1 as x").expect("t");
    c.execute("create view v as select x + 1 as y from t").expect("v");
    c.begin().expect("begin");
    c.execute("drop table t").expect("drop");
    c.execute("create table t as select 10 as x").expect("t2");
    assert_eq!(c.query("select y from v").expect("v").rows, vec![vec![json!(11)]]);
    c.rollback().expect("rollback");
    assert_eq!(c.query("select y from v").expect("v").rows, vec![vec![json!(2)]]);
    assert!(c.execute("select * from missing_table").is_err());
    assert_eq!(c.relation_kind(&Relation::new("db", "main", "V")).expect("kind"), Some(RelationKind::View));
}

#[test]
fn alter_and_rename() {
    let mut c = mem();
    c.execute("create table t as select 1 as a").expect("t");
    c.execute("alter table t add column b varchar").expect("add");
    c.execute("insert into t values (2, 'two')").expect("insert");
    c.execute("alter table t drop column a").expect("drop col");
    c.rename_relation(&Relation::new("db", "main", "t"), RelationKind::Table, "u").expect("rename");
    assert_eq!(rows(&mut c, "select b from u"), vec![vec![json!("two")], vec![Value::Null]]);
    assert_eq!(c.relation_kind(&Relation::new("db", "main", "t")).expect("kind"), None);
}

#[test]
fn insert_rows_casts_text() {
    let mut c = mem();
    c.execute("create table t (i integer, d double, b boolean, dt date, ts timestamp, s varchar)").expect("create");
    let cols: Vec<Column> = [("i", "INTEGER"), ("d", "DOUBLE"), ("b", "BOOLEAN"), ("dt", "DATE"), ("ts", "TIMESTAMP"), ("s", "VARCHAR")]
        .iter()
        .map(|(n, t)| Column { name: n.to_string(), data_type: t.to_string() })
        .collect();
    let n = c
        .insert_rows(&Relation::new("db", "main", "t"), &cols, &[vec![json!(1), json!(2.5), json!(true), json!("2024-01-02"), json!("2024-01-02 03:04:05"), json!("x")]])
        .expect("insert");
    assert_eq!(n, 1);
    assert_eq!(
        c.query("select * from t").expect("q").rows,
        vec![vec![json!(1), json!(2.5), json!(true), json!("2024-01-02"), json!("2024-01-02 03:04:05"), json!("x")]]
    );
}

#[test]
fn persists_across_adapters() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("db");
    let p = path.to_string_lossy().to_string();
    {
        let a = DataFusionAdapter::open(&p, "db", "main").expect("open");
        let mut c = a.connection().expect("c");
        c.execute("create schema s2").expect("schema");
        c.execute("create table s2.t as select 1 as x union all select 2").expect("t");
        c.execute("insert into s2.t values (3)").expect("insert");
        c.execute("create view main.v as select sum(x) as total from s2.t").expect("v");
        c.begin().expect("begin");
        c.execute("drop table s2.t").expect("drop in txn");
        c.rollback().expect("rollback");
    }
    let a = DataFusionAdapter::open(&p, "db", "main").expect("reopen");
    let mut c = a.connection().expect("c");
    assert_eq!(c.query("select total from v").expect("v").rows, vec![vec![json!(6)]]);
    // One Parquet file per live segment, none left over.
    let files = std::fs::read_dir(path.join("data")).expect("data").count();
    assert_eq!(files, 2);
    assert!(DataFusionAdapter::open(&p, "db", "main").is_err(), "a second open of the same path is refused");
}

#[test]
fn many_appends_stay_few_segments() {
    use crate::adapter::Datum;
    let mut c = mem();
    c.execute("create table t (id bigint, name varchar, ts timestamp with time zone)").expect("create");
    let cols: Vec<Column> = [("id", "BIGINT"), ("name", "VARCHAR"), ("ts", "TIMESTAMP WITH TIME ZONE")]
        .iter()
        .map(|(n, t)| Column { name: n.to_string(), data_type: t.to_string() })
        .collect();
    for page in 0..40i64 {
        let values: Vec<crate::adapter::ColumnValues> = vec![
            vec![Datum::Int(page * 2), Datum::Int(page * 2 + 1)],
            vec![Datum::Text("a".into()), Datum::Null],
            vec![Datum::Text("2024-01-02T03:04:05Z".into()), Datum::Null],
        ]
        .into_iter()
        .map(|c| c.into_iter().collect())
        .collect();
        assert_eq!(c.append_columns(&Relation::new("db", "main", "t"), &cols, &values).expect("append"), 2);
    }
    let table = c.table("main", "t").expect("table");
    assert!(table.segments.len() < 32, "{} segments", table.segments.len());
    assert_eq!(c.query("select count(*), count(name), min(ts) from t").expect("q").rows, vec![vec![json!(80), json!(40), json!("2024-01-02 03:04:05+00")]]);
}

#[test]
fn upper_case_aliases_resolve_as_written() {
    // dbt writes `MERGE INTO t AS DBT_INTERNAL_DEST … DBT_INTERNAL_DEST.id`:
    // unquoted on both sides, so both normalise the same way.
    let mut c = mem();
    c.execute("create table t as select 1 as id, 'a' as v union all select 2, 'b'").expect("t");
    c.execute("create table s as select 2 as id, 'B' as v").expect("s");
    c.execute("MERGE INTO t AS DBT_INTERNAL_DEST USING s AS DBT_INTERNAL_SOURCE ON (DBT_INTERNAL_SOURCE.id = DBT_INTERNAL_DEST.id) WHEN MATCHED THEN UPDATE SET v = DBT_INTERNAL_SOURCE.v").expect("merge");
    c.execute("DELETE FROM t AS DBT_INCREMENTAL_TARGET USING s WHERE (s.id = DBT_INCREMENTAL_TARGET.id)").expect("delete");
    assert_eq!(rows(&mut c, "select id, v from t"), vec![vec![json!(1), json!("a")]]);
}

#[test]
fn schema_drop_and_recreate_in_one_transaction() {
    let mut c = mem();
    c.execute("create schema s; create table s.t as select 1 as x").expect("setup");
    assert!(c.execute("drop schema s").is_err(), "a non-empty schema needs CASCADE");
    c.begin().expect("begin");
    c.execute("drop schema s cascade").expect("drop");
    c.execute("create schema s").expect("create");
    assert!(c.query("select * from s.t").is_err(), "the old table is gone");
    c.execute("create table s.t as select 2 as x").expect("recreate");
    c.commit().expect("commit");
    assert_eq!(c.query("select x from s.t").expect("q").rows, vec![vec![json!(2)]]);
    // A statement is all or nothing: `b` is missing, so `a` stays.
    c.execute("create table a as select 1 as x").expect("a");
    assert!(c.execute("drop table a, b").is_err());
    assert_eq!(c.relation_kind(&Relation::new("db", "main", "a")).expect("kind"), Some(RelationKind::Table));
    // COMMIT without a transaction is a no-op, as on DuckDB.
    c.commit().expect("commit outside a transaction");
}

#[test]
fn views_are_stored_as_planned_and_cannot_read_themselves() {
    let mut c = mem();
    c.execute("create view v as select cast('{\"a\": 1}' as json) as j, cast(cast('2024-01-02 03:04:05' as timestamp) as varchar) as t, cast(1.23456 as decimal) as d")
        .expect("view");
    assert_eq!(c.query("select * from v").expect("v").rows, vec![vec![json!("{\"a\": 1}"), json!("2024-01-02 03:04:05"), json!(1.235)]]);
    let e = c.execute("create or replace view v as select * from v").expect_err("self reference");
    assert!(e.message.contains("cannot read from itself"), "{}", e.message);
}

#[test]
fn concurrent_changes_to_one_table_conflict() {
    let a = DataFusionAdapter::open(":memory:", "db", "main").expect("open");
    let mut c1 = a.connection().expect("c1");
    let mut c2 = a.connection().expect("c2");
    c1.execute("create table t as select 1 as x").expect("t");
    c1.begin().expect("begin 1");
    c2.begin().expect("begin 2");
    c1.execute("insert into t values (2)").expect("insert 1");
    c2.execute("insert into t values (3)").expect("insert 2");
    c1.commit().expect("first commit wins");
    let e = c2.commit().expect_err("second commit conflicts");
    assert!(e.message.contains("Conflict"), "{}", e.message);
    assert_eq!(rows(&mut c1, "select x from t"), vec![vec![json!(1)], vec![json!(2)]]);
}
