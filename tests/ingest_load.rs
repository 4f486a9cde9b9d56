//! The ingest load side against an in-memory DuckDB: dispositions over
//! several loads, schema drift, contracts, atomicity and state.

use rdbt::adapter::Connection;
use rdbt::adapter::duckdb::DuckDbAdapter;
use rdbt::ingest::load::{LoadError, LoadSummary, Loader, read_states};
use rdbt::ingest::{ContractMode, CursorState, MergeStrategy, Page, Records, ResourceLoad, SchemaContract, WriteDisposition};
use serde_json::{Map, Value, json};

const DB: &str = "memory";
const DS: &str = "strava";

fn conn() -> Box<dyn Connection> {
    let a = DuckDbAdapter::open(":memory:", &[], &Map::new()).expect("open");
    let mut c: Box<dyn Connection> = Box::new(a.connection().expect("connect"));
    c.execute("SET TimeZone = 'UTC'").expect("tz");
    c
}

fn resource(name: &str, wd: WriteDisposition) -> ResourceLoad {
    ResourceLoad {
        resource: name.to_string(),
        table: name.to_string(),
        write_disposition: wd,
        primary_key: vec![],
        merge_key: vec![],
        schema_contract: SchemaContract::default(),
        max_table_nesting: None,
    }
}

fn page(resource: &str, index: usize, records: Value) -> Page {
    let Value::Array(records) = records else { panic!("records must be an array") };
    let records = Records::from_values(&records);
    Page { resource: resource.to_string(), index, url: format!("http://127.0.0.1/{resource}?page={index}"), records }
}

/// One load of `pages` (each a JSON array of records) for one resource,
/// appending each page's rows at once, so that tables widen between
/// appends (`load_buffered` leaves the appends to the commit, the default
/// for loads smaller than the flush size).
fn load(c: &mut dyn Connection, r: &ResourceLoad, pages: &[Value], states: &[CursorState]) -> Result<LoadSummary, LoadError> {
    load_with(c, r, pages, states, 0)
}

fn load_buffered(c: &mut dyn Connection, r: &ResourceLoad, pages: &[Value], states: &[CursorState]) -> Result<LoadSummary, LoadError> {
    load_with(c, r, pages, states, usize::MAX)
}

fn load_with(c: &mut dyn Connection, r: &ResourceLoad, pages: &[Value], states: &[CursorState], flush_bytes: usize) -> Result<LoadSummary, LoadError> {
    let mut l = Loader::begin(c, DB, DS, "strava_api")?;
    l.set_flush_bytes(flush_bytes);
    for (i, p) in pages.iter().enumerate() {
        l.write_page(r, &page(&r.resource, i, p.clone()))?;
    }
    l.commit(states)
}

fn rows(c: &mut dyn Connection, sql: &str) -> Vec<Vec<Value>> {
    c.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).rows
}

fn columns(c: &mut dyn Connection, table: &str) -> Vec<(String, String)> {
    rows(
        c,
        &format!(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '{DS}' AND table_name = '{table}' ORDER BY ordinal_position"
        ),
    )
    .into_iter()
    .map(|r| (r[0].as_str().unwrap_or_default().to_string(), r[1].as_str().unwrap_or_default().to_string()))
    .collect()
}

fn staging_tables(c: &mut dyn Connection) -> Value {
    rows(c, &format!("SELECT count(*) FROM information_schema.tables WHERE table_schema = '{DS}_staging'"))[0][0].clone()
}

#[test]
fn append_flattens_types_and_child_tables() {
    let mut c = conn();
    let r = resource("activities", WriteDisposition::Append);
    let recs = json!([
        {"id": 1, "Name": "Morning Ride", "distance": 1200.5, "private": false, "start_date": "2024-03-01T07:00:00Z",
         "start_date_local": "2024-03-01T08:00:00", "day": "2024-03-01",
         "athlete": {"id": 7, "resourceState": 1}, "map": {"summary_polyline": "abc"},
         "start_latlng": [52.5, 4.25], "laps": [{"lap_index": 1, "splits": [{"d": 10}]}, {"lap_index": 2}],
         "tags": null},
        {"id": 2, "Name": "Evening Run", "distance": 5000, "private": true, "start_date": "2024-03-02T18:30:00.25+02:00",
         "athlete": {"id": 8}, "start_latlng": [], "gear": {}}
    ]);
    let s = load(c.as_mut(), &r, &[recs], &[]).expect("load");
    assert_eq!(s.rows("activities"), 2);
    assert_eq!(s.rows("activities__start_latlng"), 2);
    assert_eq!(s.rows("activities__laps"), 2);
    assert_eq!(s.rows("activities__laps__splits"), 1);
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        columns(c.as_mut(), "activities"),
        vec![
            t("id", "BIGINT"),
            t("name", "VARCHAR"),
            t("distance", "DOUBLE"),
            t("private", "BOOLEAN"),
            t("start_date", "TIMESTAMP WITH TIME ZONE"),
            t("start_date_local", "TIMESTAMP WITH TIME ZONE"),
            t("day", "DATE"),
            t("athlete__id", "BIGINT"),
            t("athlete__resource_state", "BIGINT"),
            t("map__summary_polyline", "VARCHAR"),
            t("_rdbt_load_id", "VARCHAR"),
            t("_rdbt_id", "UUID"),
        ]
    );
    assert_eq!(
        columns(c.as_mut(), "activities__laps"),
        vec![
            t("lap_index", "BIGINT"),
            t("_rdbt_parent_id", "UUID"),
            t("_rdbt_list_idx", "BIGINT"),
            t("_rdbt_root_id", "UUID"),
            t("_rdbt_id", "UUID"),
        ]
    );
    assert_eq!(
        rows(
            c.as_mut(),
            "SELECT id, name, distance, private, CAST(start_date AS VARCHAR), CAST(start_date_local AS VARCHAR), CAST(day AS VARCHAR), athlete__id, map__summary_polyline, _rdbt_load_id = (SELECT load_id FROM strava._rdbt_loads) FROM strava.activities ORDER BY id"
        ),
        vec![
            vec![json!(1), json!("Morning Ride"), json!(1200.5), json!(false), json!("2024-03-01 07:00:00+00"), json!("2024-03-01 08:00:00+00"), json!("2024-03-01"), json!(7), json!("abc"), json!(true)],
            vec![json!(2), json!("Evening Run"), json!(5000.0), json!(true), json!("2024-03-02 16:30:00.25+00"), Value::Null, Value::Null, json!(8), Value::Null, json!(true)],
        ]
    );
    // Children link to their parents and roots.
    assert_eq!(
        rows(
            c.as_mut(),
            "SELECT a.id, l.value, l._rdbt_list_idx FROM strava.activities__start_latlng l JOIN strava.activities a ON l._rdbt_parent_id = a._rdbt_id AND l._rdbt_root_id = a._rdbt_id ORDER BY 1, 3"
        ),
        vec![vec![json!(1), json!(52.5), json!(0)], vec![json!(1), json!(4.25), json!(1)]]
    );
    assert_eq!(
        rows(
            c.as_mut(),
            "SELECT a.id, l.lap_index, s.d FROM strava.activities__laps__splits s JOIN strava.activities__laps l ON s._rdbt_parent_id = l._rdbt_id JOIN strava.activities a ON s._rdbt_root_id = a._rdbt_id"
        ),
        vec![vec![json!(1), json!(1), json!(10)]]
    );
    // Ids are unique across tables.
    assert_eq!(
        rows(
            c.as_mut(),
            "SELECT count(DISTINCT id), count(*) FROM (SELECT _rdbt_id id FROM strava.activities UNION ALL SELECT _rdbt_id FROM strava.activities__laps UNION ALL SELECT _rdbt_id FROM strava.activities__start_latlng)"
        ),
        vec![vec![json!(6), json!(6)]]
    );
    // A second load appends.
    load(c.as_mut(), &r, &[json!([{"id": 3, "start_latlng": [1.5]}])], &[]).expect("load 2");
    assert_eq!(rows(c.as_mut(), "SELECT list(id ORDER BY id) FROM strava.activities"), vec![vec![json!([1, 2, 3])]]);
    assert_eq!(rows(c.as_mut(), "SELECT count(*), count(DISTINCT _rdbt_load_id) FROM strava.activities"), vec![vec![json!(3), json!(2)]]);
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava._rdbt_loads WHERE status = 0"), vec![vec![json!(2)]]);
    assert_eq!(staging_tables(c.as_mut()), json!(0));
}

#[test]
fn max_table_nesting_stores_json() {
    let mut c = conn();
    let mut r = resource("events", WriteDisposition::Append);
    r.max_table_nesting = Some(1);
    load(c.as_mut(), &r, &[json!([{"id": 1, "a": {"b": {"c": 1}}, "l": [{"x": [1, 2]}]}])], &[]).expect("load");
    assert_eq!(
        rows(c.as_mut(), "SELECT id, CAST(a__b AS VARCHAR), typeof(a__b) FROM strava.events"),
        vec![vec![json!(1), json!("{\"c\":1}"), json!("JSON")]]
    );
    assert_eq!(rows(c.as_mut(), "SELECT CAST(x AS VARCHAR) FROM strava.events__l"), vec![vec![json!("[1,2]")]]);
}

#[test]
fn replace_swaps_content_and_children() {
    let mut c = conn();
    let r = resource("gear", WriteDisposition::Replace);
    load(c.as_mut(), &r, &[json!([{"id": 1, "parts": ["a", "b"]}, {"id": 2, "parts": ["c"]}])], &[]).expect("load 1");
    load(c.as_mut(), &r, &[json!([{"id": 3, "parts": ["d"]}]), json!([{"id": 4}])], &[]).expect("load 2");
    assert_eq!(rows(c.as_mut(), "SELECT id FROM strava.gear ORDER BY id"), vec![vec![json!(3)], vec![json!(4)]]);
    assert_eq!(rows(c.as_mut(), "SELECT value FROM strava.gear__parts"), vec![vec![json!("d")]]);
    // A load with no records empties the tables.
    load(c.as_mut(), &r, &[json!([])], &[]).expect("load 3");
    assert_eq!(rows(c.as_mut(), "SELECT (SELECT count(*) FROM strava.gear), (SELECT count(*) FROM strava.gear__parts)"), vec![vec![json!(0), json!(0)]]);
}

#[test]
fn merge_delete_insert_keeps_last_record_per_key() {
    let mut c = conn();
    let mut r = resource("athletes", WriteDisposition::Merge(MergeStrategy::DeleteInsert));
    r.primary_key = vec!["id".into()];
    load(c.as_mut(), &r, &[json!([{"id": 1, "v": "a", "tags": ["x", "y"]}, {"id": 2, "v": "b", "tags": ["z"]}])], &[]).expect("load 1");
    load(
        c.as_mut(),
        &r,
        &[json!([{"id": 1, "v": "c", "tags": ["q"]}]), json!([{"id": 1, "v": "d", "tags": ["w"]}, {"id": 3, "v": "e"}])],
        &[],
    )
    .expect("load 2");
    assert_eq!(
        rows(c.as_mut(), "SELECT id, v FROM strava.athletes ORDER BY id"),
        vec![vec![json!(1), json!("d")], vec![json!(2), json!("b")], vec![json!(3), json!("e")]]
    );
    assert_eq!(
        rows(
            c.as_mut(),
            "SELECT a.id, t.value FROM strava.athletes__tags t JOIN strava.athletes a ON t._rdbt_root_id = a._rdbt_id ORDER BY 1, 2"
        ),
        vec![vec![json!(1), json!("w")], vec![json!(2), json!("z")]]
    );
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava.athletes__tags"), vec![vec![json!(2)]]);
    // A merge key column that does not exist fails the load and changes nothing.
    let mut bad = r.clone();
    bad.merge_key = vec!["nope".into()];
    let e = load(c.as_mut(), &bad, &[json!([{"id": 2, "v": "zz", "new_col": 1}])], &[]).expect_err("bad key");
    assert!(e.to_string().contains("merge key column nope"), "{e}");
    assert_eq!(rows(c.as_mut(), "SELECT v FROM strava.athletes WHERE id = 2"), vec![vec![json!("b")]]);
    assert!(!columns(c.as_mut(), "athletes").iter().any(|(n, _)| n == "new_col"));
}

/// Tables loaded by rdbt versions before ids were UUIDs have text id
/// columns: later loads keep writing the ids' 22-character text there and in
/// the family's new child tables, so joins and scd2 matching go on working.
#[test]
fn text_id_columns_of_earlier_versions_are_kept() {
    let mut c = conn();
    c.execute(
        "CREATE SCHEMA strava;
         CREATE TABLE strava.athletes (id BIGINT, v VARCHAR, _rdbt_load_id VARCHAR, _rdbt_id VARCHAR);
         INSERT INTO strava.athletes VALUES (1, 'old', 'l0', 'AAAAAAAAAAAAAAAAAAAAAA'), (2, 'kept', 'l0', 'BAAAAAAAAAAAAAAAAAAAAA');
         CREATE TABLE strava.clubs (id BIGINT, name VARCHAR, _rdbt_load_id VARCHAR, _rdbt_id VARCHAR,
             _rdbt_valid_from TIMESTAMP WITH TIME ZONE, _rdbt_valid_to TIMESTAMP WITH TIME ZONE);
         INSERT INTO strava.clubs VALUES (1, 'a', 'l0', 'IOOx9l5nwgyygKkCFE8D_B', '2024-01-01 00:00:00+00', NULL);",
    )
    .expect("tables of an earlier version");
    let mut r = resource("athletes", WriteDisposition::Merge(MergeStrategy::DeleteInsert));
    r.primary_key = vec!["id".into()];
    // Key 3 twice in one load: the superseded record's rows are deleted by id.
    load(
        c.as_mut(),
        &r,
        &[json!([{"id": 1, "v": "new", "tags": ["x", "y"]}, {"id": 3, "v": "first", "tags": ["p"]}]), json!([{"id": 3, "v": "second", "tags": ["q"]}])],
        &[],
    )
    .expect("load");
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        columns(c.as_mut(), "athletes__tags"),
        vec![
            t("value", "VARCHAR"),
            t("_rdbt_parent_id", "VARCHAR"),
            t("_rdbt_list_idx", "BIGINT"),
            t("_rdbt_root_id", "VARCHAR"),
            t("_rdbt_id", "VARCHAR"),
        ]
    );
    assert_eq!(
        rows(c.as_mut(), "SELECT id, v, length(_rdbt_id) FROM strava.athletes ORDER BY id"),
        vec![vec![json!(1), json!("new"), json!(22)], vec![json!(2), json!("kept"), json!(22)], vec![json!(3), json!("second"), json!(22)]]
    );
    assert_eq!(
        rows(
            c.as_mut(),
            "SELECT a.id, t.value, length(t._rdbt_id) FROM strava.athletes__tags t JOIN strava.athletes a ON t._rdbt_parent_id = a._rdbt_id AND t._rdbt_root_id = a._rdbt_id ORDER BY 1, 2"
        ),
        vec![vec![json!(1), json!("x"), json!(22)], vec![json!(1), json!("y"), json!(22)], vec![json!(3), json!("q"), json!(22)]]
    );
    // The root table dropped, its child table left: the new root table
    // gets text ids too, so that the family's ids still compare.
    c.execute("DROP TABLE strava.athletes").expect("drop");
    load(c.as_mut(), &r, &[json!([{"id": 5, "v": "five", "tags": ["t"]}])], &[]).expect("load after drop");
    assert!(columns(c.as_mut(), "athletes").contains(&t("_rdbt_id", "VARCHAR")));
    assert_eq!(
        rows(c.as_mut(), "SELECT a.id, t.value FROM strava.athletes__tags t JOIN strava.athletes a ON t._rdbt_root_id = a._rdbt_id ORDER BY 1, 2"),
        vec![vec![json!(5), json!("t")]]
    );
    // An unchanged record matches its version written by the earlier
    // version (same content id text): no new version.
    let r = resource("clubs", WriteDisposition::Merge(MergeStrategy::Scd2));
    load(c.as_mut(), &r, &[json!([{"id": 1, "name": "a"}])], &[]).expect("scd2");
    assert_eq!(
        rows(c.as_mut(), "SELECT id, name, _rdbt_load_id, _rdbt_valid_to IS NULL FROM strava.clubs"),
        vec![vec![json!(1), json!("a"), json!("l0"), json!(true)]]
    );
}

#[test]
fn merge_by_merge_key_replaces_partitions() {
    let mut c = conn();
    let mut r = resource("laps", WriteDisposition::Merge(MergeStrategy::DeleteInsert));
    r.merge_key = vec!["activity".into()];
    load(c.as_mut(), &r, &[json!([{"activity": 1, "lap": 1}, {"activity": 1, "lap": 2}, {"activity": 2, "lap": 1}])], &[]).expect("1");
    load(c.as_mut(), &r, &[json!([{"activity": 1, "lap": 9, "at": "2024-01-01T01:00:00+01:00"}])], &[]).expect("2");
    assert_eq!(
        rows(c.as_mut(), "SELECT activity, lap, CAST(\"at\" AS VARCHAR) FROM strava.laps ORDER BY 1, 2"),
        vec![vec![json!(1), json!(9), json!("2024-01-01 00:00:00+00")], vec![json!(2), json!(1), Value::Null]]
    );
    assert!(columns(c.as_mut(), "laps").contains(&("at".to_string(), "TIMESTAMP WITH TIME ZONE".to_string())));
}

#[test]
fn scd2_versions_records() {
    let mut c = conn();
    let r = resource("clubs", WriteDisposition::Merge(MergeStrategy::Scd2));
    load(c.as_mut(), &r, &[json!([{"id": 1, "name": "a", "sports": ["run"]}, {"id": 2, "name": "b"}])], &[]).expect("1");
    load(c.as_mut(), &r, &[json!([{"id": 1, "name": "a", "sports": ["run"]}, {"id": 2, "name": "B"}, {"id": 2, "name": "B"}])], &[])
        .expect("2");
    load(c.as_mut(), &r, &[json!([{"id": 1, "name": "a", "sports": ["run"]}])], &[]).expect("3");
    let versions = rows(
        c.as_mut(),
        "SELECT id, name, _rdbt_valid_to IS NULL AS current, _rdbt_valid_from < coalesce(_rdbt_valid_to, TIMESTAMPTZ '9999-01-01') FROM strava.clubs ORDER BY id, _rdbt_valid_from",
    );
    assert_eq!(
        versions,
        vec![
            vec![json!(1), json!("a"), json!(true), json!(true)],
            vec![json!(2), json!("b"), json!(false), json!(true)],
            vec![json!(2), json!("B"), json!(false), json!(true)],
        ]
    );
    // The old version of 2 was closed when the new one began.
    assert_eq!(
        rows(
            c.as_mut(),
            "SELECT (SELECT _rdbt_valid_to FROM strava.clubs WHERE name = 'b') = (SELECT _rdbt_valid_from FROM strava.clubs WHERE name = 'B')"
        ),
        vec![vec![json!(true)]]
    );
    // The unchanged record kept one version and one child row.
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava.clubs__sports"), vec![vec![json!(1)]]);
    assert_eq!(columns(c.as_mut(), "clubs").iter().filter(|(n, _)| n.starts_with("_rdbt_valid")).count(), 2);
}

#[test]
fn schema_drift_adds_columns_and_variants() {
    let mut c = conn();
    let r = resource("drift", WriteDisposition::Append);
    let s = load(
        c.as_mut(),
        &r,
        &[json!([{"id": 1, "amount": 5}]), json!([{"id": 2, "amount": "five", "extra": true}]), json!([{"id": 3, "amount": 2.5}, {"id": 4, "amount": 7.0}])],
        &[],
    )
    .expect("load");
    assert!(s.new_columns.is_empty(), "new table: {:?}", s.new_columns);
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        columns(c.as_mut(), "drift"),
        vec![
            t("id", "BIGINT"),
            t("amount", "BIGINT"),
            t("_rdbt_load_id", "VARCHAR"),
            t("_rdbt_id", "UUID"),
            t("amount__v_text", "VARCHAR"),
            t("extra", "BOOLEAN"),
            t("amount__v_double", "DOUBLE"),
        ]
    );
    assert_eq!(
        rows(c.as_mut(), "SELECT id, amount, amount__v_text, extra, amount__v_double FROM strava.drift ORDER BY id"),
        vec![
            vec![json!(1), json!(5), Value::Null, Value::Null, Value::Null],
            vec![json!(2), Value::Null, json!("five"), json!(true), Value::Null],
            vec![json!(3), Value::Null, Value::Null, Value::Null, json!(2.5)],
            vec![json!(4), json!(7), Value::Null, Value::Null, Value::Null],
        ]
    );
    // Next load: a new column on an existing table is reported.
    // Next load: new columns on an existing table are reported, also when
    // the table already holds rows of this load.
    let s = load(c.as_mut(), &r, &[json!([{"id": 5, "amount": "x", "note": "hi"}]), json!([{"id": 6, "seen": "2024-05-01"}])], &[])
        .expect("load 2");
    let added: Vec<(&str, &str, &str)> =
        s.new_columns.iter().map(|c| (c.table.as_str(), c.column.as_str(), c.data_type.name())).collect();
    assert_eq!(added, vec![("drift", "note", "text"), ("drift", "seen", "date")]);
    assert_eq!(
        rows(c.as_mut(), "SELECT id, amount__v_text, note, CAST(seen AS VARCHAR) FROM strava.drift WHERE id >= 5 ORDER BY id"),
        vec![vec![json!(5), json!("x"), json!("hi"), Value::Null], vec![json!(6), Value::Null, Value::Null, json!("2024-05-01")]]
    );
}

#[test]
fn contracts_freeze_discard_row_discard_value() {
    let mut c = conn();
    let r = resource("c", WriteDisposition::Append);
    load(c.as_mut(), &r, &[json!([{"id": 1, "n": 1}])], &[]).expect("load 1");

    let mut frozen = r.clone();
    frozen.schema_contract = SchemaContract { tables: ContractMode::Evolve, columns: ContractMode::Freeze, data_type: ContractMode::Freeze };
    let e = load(c.as_mut(), &frozen, &[json!([{"id": 2, "n": 2}]), json!([{"id": 3, "n": 3, "new_col": 1.5}])], &[]).expect_err("freeze");
    match &e {
        LoadError::Contract(v) => {
            assert_eq!((v.table.as_str(), v.column.as_deref(), v.page, v.record), ("c", Some("new_col"), 1, 0));
            assert_eq!(v.value_type.map(|t| t.name()), Some("double"));
            assert_eq!(v.resource, "c");
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("new column new_col (double) in table c") && msg.contains("columns: freeze"), "{msg}");
    let e = load(c.as_mut(), &frozen, &[json!([{"id": 3, "n": "three"}])], &[]).expect_err("data type");
    assert!(e.to_string().contains("a text value for column n (bigint) of table c"), "{e}");
    // A frozen `tables` contract refuses a child table that does not exist yet.
    let mut no_tables = r.clone();
    no_tables.schema_contract.tables = ContractMode::Freeze;
    let e = load(c.as_mut(), &no_tables, &[json!([{"id": 3, "items": [1]}])], &[]).expect_err("tables");
    assert!(e.to_string().contains("new table c__items"), "{e}");
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava.c"), vec![vec![json!(1)]]);

    let mut discard_row = r.clone();
    discard_row.schema_contract = SchemaContract { tables: ContractMode::Evolve, columns: ContractMode::DiscardRow, data_type: ContractMode::DiscardRow };
    let s = load(c.as_mut(), &discard_row, &[json!([{"id": 2, "n": 2}, {"id": 3, "n": 3, "new_col": 1}, {"id": 4, "n": "x"}])], &[])
        .expect("discard_row");
    assert_eq!(s.discarded_rows, 2);
    let mut discard_value = r.clone();
    discard_value.schema_contract = SchemaContract { tables: ContractMode::Evolve, columns: ContractMode::DiscardValue, data_type: ContractMode::DiscardValue };
    let s = load(c.as_mut(), &discard_value, &[json!([{"id": 5, "n": 5, "new_col": 1}, {"id": 6, "n": "x"}])], &[]).expect("discard_value");
    assert_eq!(s.discarded_values, 2);
    assert_eq!(columns(c.as_mut(), "c").iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), vec!["id", "n", "_rdbt_load_id", "_rdbt_id"]);
    assert_eq!(
        rows(c.as_mut(), "SELECT id, n FROM strava.c ORDER BY id"),
        vec![vec![json!(1), json!(1)], vec![json!(2), json!(2)], vec![json!(5), json!(5)], vec![json!(6), Value::Null]]
    );
}

#[test]
fn failure_mid_load_changes_nothing_and_rerun_loads_once() {
    let mut c = conn();
    let mut r = resource("acts", WriteDisposition::Append);
    let st = |v: i64| vec![CursorState { resource: "acts".into(), last_value: json!(v) }];
    load(c.as_mut(), &r, &[json!([{"id": 1, "n": 1, "laps": [1]}])], &st(1)).expect("load 1");
    let before = rows(c.as_mut(), "SELECT * FROM strava.acts ORDER BY id");
    r.schema_contract.data_type = ContractMode::Freeze;
    let pages = [
        json!([{"id": 2, "n": 2, "laps": [2], "new": "x"}]),
        json!([{"id": 3, "n": 3}]),
        json!([{"id": 4, "n": "four"}]),
    ];
    let e = load(c.as_mut(), &r, &pages, &st(4)).expect_err("page 3 violates");
    assert!(matches!(&e, LoadError::Contract(v) if v.page == 2 && v.table == "acts"), "{e:?}");
    assert_eq!(rows(c.as_mut(), "SELECT * FROM strava.acts ORDER BY id"), before);
    assert!(!columns(c.as_mut(), "acts").iter().any(|(n, _)| n == "new"));
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava.acts__laps"), vec![vec![json!(1)]]);
    assert_eq!(read_states(c.as_mut(), DB, DS, "strava_api").expect("states"), st(1));
    assert_eq!(staging_tables(c.as_mut()), json!(0));
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava._rdbt_loads"), vec![vec![json!(1)]]);
    // The rerun with fixed data loads every row once.
    let fixed = [pages[0].clone(), pages[1].clone(), json!([{"id": 4, "n": 4}])];
    load(c.as_mut(), &r, &fixed, &st(4)).expect("rerun");
    assert_eq!(rows(c.as_mut(), "SELECT list(id ORDER BY id) FROM strava.acts"), vec![vec![json!([1, 2, 3, 4])]]);
    assert_eq!(rows(c.as_mut(), "SELECT list(value ORDER BY value) FROM strava.acts__laps"), vec![vec![json!([1, 2])]]);
    assert_eq!(read_states(c.as_mut(), DB, DS, "strava_api").expect("states"), st(4));

    // A loader dropped without commit leaves nothing behind either.
    {
        let mut l = Loader::begin(c.as_mut(), DB, DS, "strava_api").expect("begin");
        l.write_page(&r, &page("acts", 0, json!([{"id": 9, "n": 9}]))).expect("page");
    }
    assert_eq!(staging_tables(c.as_mut()), json!(0));
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava.acts"), vec![vec![json!(4)]]);
}

#[test]
fn state_round_trip() {
    let mut c = conn();
    assert_eq!(read_states(c.as_mut(), DB, DS, "strava_api").expect("none yet"), vec![]);
    let r = resource("acts", WriteDisposition::Append);
    let states = vec![
        CursorState { resource: "acts".into(), last_value: json!("2024-03-01T00:00:00Z") },
        CursorState { resource: "zones".into(), last_value: json!({"page": 3, "ids": [1, 2]}) },
    ];
    load(c.as_mut(), &r, &[json!([{"id": 1}])], &states).expect("load");
    assert_eq!(read_states(c.as_mut(), DB, DS, "strava_api").expect("read"), states);
    // Another ingest's states are separate; an update replaces the row.
    assert_eq!(read_states(c.as_mut(), DB, DS, "other").expect("read other"), vec![]);
    let newer = vec![CursorState { resource: "acts".into(), last_value: json!(42) }];
    load(c.as_mut(), &r, &[], &newer).expect("load 2");
    assert_eq!(read_states(c.as_mut(), DB, DS, "strava_api").expect("read"), vec![newer[0].clone(), states[1].clone()]);
}

#[test]
fn schema_record_keeps_logical_types() {
    let mut c = conn();
    let mut r = resource("j", WriteDisposition::Append);
    r.max_table_nesting = Some(0);
    load(c.as_mut(), &r, &[json!([{"id": 1, "meta": {"a": 1}}])], &[]).expect("1");
    // A later scalar in the JSON column coerces into it instead of creating a variant.
    load(c.as_mut(), &r, &[json!([{"id": 2, "meta": "plain"}])], &[]).expect("2");
    assert_eq!(
        rows(c.as_mut(), "SELECT id, CAST(meta AS VARCHAR) FROM strava.j ORDER BY id"),
        vec![vec![json!(1), json!("{\"a\":1}")], vec![json!(2), json!("\"plain\"")]]
    );
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava._rdbt_ingest_schema"), vec![vec![json!(1)]]);
}

#[test]
fn two_ingests_load_one_dataset_at_the_same_time() {
    let a = DuckDbAdapter::open(":memory:", &[], &Map::new()).expect("open");
    let mut c1: Box<dyn Connection> = Box::new(a.connection().expect("c1"));
    let mut c2: Box<dyn Connection> = Box::new(a.connection().expect("c2"));
    let r1 = resource("runs", WriteDisposition::Append);
    let r2 = resource("rides", WriteDisposition::Merge(MergeStrategy::DeleteInsert));
    let mut l1 = Loader::begin(c1.as_mut(), DB, DS, "one").expect("begin 1");
    let mut l2 = Loader::begin(c2.as_mut(), DB, DS, "two").expect("begin 2");
    l1.write_page(&r1, &page("runs", 0, json!([{"id": 1, "laps": [1]}]))).expect("p1");
    l2.write_page(&r2, &page("rides", 0, json!([{"id": 2, "laps": [2]}]))).expect("p2");
    l1.write_page(&r1, &page("runs", 1, json!([{"id": 3}]))).expect("p3");
    l2.commit(&[CursorState { resource: "rides".into(), last_value: json!(2) }]).expect("commit 2");
    l1.commit(&[CursorState { resource: "runs".into(), last_value: json!(3) }]).expect("commit 1");
    let mut c = a.connection().expect("c");
    assert_eq!(rows(&mut c, "SELECT list(id ORDER BY id) FROM strava.runs"), vec![vec![json!([1, 3])]]);
    assert_eq!(rows(&mut c, "SELECT list(id) FROM strava.rides"), vec![vec![json!([2])]]);
    assert_eq!(rows(&mut c, "SELECT list(ingest_name ORDER BY ingest_name) FROM strava._rdbt_loads"), vec![vec![json!(["one", "two"])]]);
    assert_eq!(read_states(&mut c, DB, DS, "one").expect("s1"), vec![CursorState { resource: "runs".into(), last_value: json!(3) }]);
}

#[test]
fn buffered_and_per_page_appends_load_the_same_rows() {
    let pages = [
        json!([{"id": 1, "amount": 5, "tags": ["a", "b"]}, {"id": 2, "amount": 6}]),
        json!([{"id": 2, "amount": "six", "extra": true, "tags": ["c"]}]),
        json!([{"id": 3, "amount": 2.5, "tags": []}, {"id": 1, "amount": 7, "tags": ["d"]}]),
    ];
    let mut r = resource("mixed", WriteDisposition::Merge(MergeStrategy::DeleteInsert));
    r.primary_key = vec!["id".into()];
    let contents = |c: &mut dyn Connection| {
        (
            columns(c, "mixed"),
            rows(c, "SELECT id, amount, amount__v_text, amount__v_double, extra FROM strava.mixed ORDER BY id"),
            rows(c, "SELECT m.id, t.value, t._rdbt_list_idx FROM strava.mixed m JOIN strava.mixed__tags t ON t._rdbt_parent_id = m._rdbt_id ORDER BY 1, 3"),
        )
    };
    let mut per_page = conn();
    load(per_page.as_mut(), &r, &pages, &[]).expect("per page");
    let mut buffered = conn();
    load_buffered(buffered.as_mut(), &r, &pages, &[]).expect("buffered");
    let expected = contents(per_page.as_mut());
    assert_eq!(contents(buffered.as_mut()), expected);
    assert_eq!(expected.1.len(), 3, "{:?}", expected.1);
    assert_eq!(expected.2, vec![vec![json!(1), json!("d"), json!(0)], vec![json!(2), json!("c"), json!(0)]]);
}

/// A merge without a merge key appends to the destination and deletes the
/// rows it replaces at commit; with a merge key equal to the primary key it
/// goes through staging tables. Both must leave the same rows: the last
/// record per key (NULL keys count as one key, as in SQL's PARTITION BY;
/// a key value that lands in a variant column leaves the key column NULL).
#[test]
fn direct_and_staged_merges_agree() {
    let loads = [
        vec![
            json!([{"sport": "run", "n": 1, "v": "a", "laps": [1, 2]}, {"sport": "ride", "n": 1, "v": "b"}, {"sport": "run", "v": "no n"}]),
            json!([{"sport": "run", "n": 1, "v": "a2", "laps": [3]}, {"sport": "run", "v": "no n again", "laps": [9]}, {"sport": "swim", "n": 2.5, "v": "clash"}]),
        ],
        vec![
            json!([{"sport": "ride", "n": 1, "v": "b2", "laps": [4, 5]}, {"sport": "run", "n": "one", "v": "text key"}]),
            json!([{"sport": "ride", "n": 1, "v": "b3"}, {"sport": "walk", "n": 7, "v": "new"}]),
        ],
    ];
    let contents = |c: &mut dyn Connection| {
        (
            rows(c, "SELECT sport, n, n__v_double, n__v_text, v FROM strava.acts ORDER BY ALL"),
            rows(c, "SELECT a.v, l.value, l._rdbt_list_idx FROM strava.acts a JOIN strava.acts__laps l ON l._rdbt_root_id = a._rdbt_id ORDER BY ALL"),
            rows(c, "SELECT count(*) FROM strava.acts__laps"),
        )
    };
    let mut direct = resource("acts", WriteDisposition::Merge(MergeStrategy::DeleteInsert));
    direct.primary_key = vec!["sport".into(), "n".into()];
    let mut staged = direct.clone();
    staged.merge_key = staged.primary_key.clone();
    let mut results = Vec::new();
    for (r, buffered) in [(&direct, false), (&direct, true), (&staged, false)] {
        let mut c = conn();
        for pages in &loads {
            if buffered { load_buffered(c.as_mut(), r, pages, &[]) } else { load(c.as_mut(), r, pages, &[]) }.expect("load");
        }
        assert_eq!(staging_tables(c.as_mut()), json!(0));
        results.push(contents(c.as_mut()));
    }
    assert_eq!(results[0], results[2], "direct vs staged");
    assert_eq!(results[1], results[2], "buffered direct vs staged");
    let vs: Vec<&Value> = results[0].0.iter().map(|r| &r[4]).collect();
    assert_eq!(vs, [&json!("b3"), &json!("a2"), &json!("text key"), &json!("no n again"), &json!("clash"), &json!("new")]);
    assert_eq!(results[0].2, vec![vec![json!(2)]]);
}

/// `write_pages` normalizes on one thread and writes on another: an error
/// on either side stops the load with that error, and the rolled-back load
/// leaves the destination as it was.
#[test]
fn write_pages_stops_at_the_first_error_of_either_thread() {
    let mut c = conn();
    c.execute("CREATE SCHEMA strava; CREATE TABLE strava.checked (id BIGINT CHECK (id > 0), v VARCHAR)").expect("create");
    let r = resource("checked", WriteDisposition::Append);
    let pages = |ids: &[i64]| -> Vec<(ResourceLoad, Page)> {
        ids.iter().enumerate().map(|(i, id)| (r.clone(), page("checked", i, json!([{"id": id, "v": format!("p{i}")}])))).collect()
    };
    let run = |c: &mut dyn Connection, pages: Vec<(ResourceLoad, Page)>, flush_bytes: usize| {
        let mut l = Loader::begin(c, DB, DS, "strava_api").expect("begin");
        l.set_flush_bytes(flush_bytes);
        match l.write_pages(pages.into_iter()) {
            Ok(()) => l.commit(&[]).map(|_| ()),
            Err(e) => {
                l.abort();
                Err(e)
            }
        }
    };
    // The engine refuses page 2's row (the CHECK constraint).
    let e = run(c.as_mut(), pages(&[1, -2, 3, 4]), 0).expect_err("engine error");
    let msg = e.to_string();
    assert!(msg.contains("writing rows of table checked (resource checked, up to page 1 of"), "{msg}");
    assert!(msg.to_lowercase().contains("constraint"), "{msg}");
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava.checked"), vec![vec![json!(0)]]);
    // A frozen contract fails on the normalizing side.
    let mut frozen = r.clone();
    frozen.schema_contract.columns = ContractMode::Freeze;
    let mut ps: Vec<(ResourceLoad, Page)> = pages(&[1, 2]).into_iter().map(|(_, p)| (frozen.clone(), p)).collect();
    ps.push((frozen.clone(), page("checked", 2, json!([{"id": 5, "extra": true}]))));
    let e = run(c.as_mut(), ps, 0).expect_err("contract");
    assert!(matches!(e, LoadError::Contract(_)), "{e}");
    assert_eq!(rows(c.as_mut(), "SELECT count(*) FROM strava.checked"), vec![vec![json!(0)]]);
    // The same pages without the bad ones load, buffered or not.
    run(c.as_mut(), pages(&[1, 2, 3]), 0).expect("per page");
    run(c.as_mut(), pages(&[4, 5]), usize::MAX).expect("buffered");
    assert_eq!(rows(c.as_mut(), "SELECT list(id ORDER BY id), count(v) FROM strava.checked"), vec![vec![json!([1, 2, 3, 4, 5]), json!(5)]]);
}
