//! Ingest nodes end to end through the real binary: a project whose source
//! is loaded from the synthetic Strava-like API served on 127.0.0.1 by this
//! test process (tests/fixtures/ingest_strava).

mod common;

use common::{copy_fixture, rdbt_in_env};
use rdbt::ingest::synthetic::{self, Dataset, Server};

const SECRET: &str = synthetic::CLIENT_SECRET;

fn env<'a>(server: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("STRAVA_API_URL", server), ("DBT_ENV_SECRET_CLIENT_SECRET", secret)]
}

fn db(p: &common::Project) -> duckdb::Connection {
    duckdb::Connection::open(p.path("target/strava.duckdb")).expect("open the project's database")
}

fn count(c: &duckdb::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// (id, name, sport_type, distance) of every activity the API serves.
fn served(d: &Dataset) -> Vec<(i64, String, String, f64)> {
    (0..d.activities)
        .map(|i| {
            let a = synthetic::activity(d, i);
            (
                a["id"].as_i64().unwrap(),
                a["name"].as_str().unwrap().to_string(),
                a["sport_type"].as_str().unwrap().to_string(),
                a["distance"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn loaded(c: &duckdb::Connection) -> Vec<(i64, String, String, f64)> {
    let mut st = c.prepare("select id, name, sport_type, distance from raw.activities order by id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(|r| r.unwrap()).collect()
}

#[test]
fn a_failed_load_leaves_nothing_and_the_rerun_loads_exactly_once() {
    let p = copy_fixture("ingest_strava");

    // The API fails (503, after the retry too) on the third page of 50.
    let faulty = Dataset { activities: 180, fail_after_activity_pages: Some(2), ..Dataset::default() };
    let server = Server::start(faulty, 0).unwrap();
    let out = rdbt_in_env(&p.dir, &["build"], &env(&server.url(), SECRET));
    drop(server);
    out.assert_code(1);
    assert!(out.stdout.contains("ERROR creating ingest strava_api"), "{}", out.stdout);
    assert!(out.stdout.contains("SKIP relation main.stg_activities"), "{}", out.stdout);
    assert!(out.all_output().contains("resource `activities`, page 2"), "the failing page is named: {}", out.all_output());
    let c = db(&p);
    assert_eq!(count(&c, "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'activities'"), 0);
    drop(c);

    // The API recovers: the rerun loads every activity once.
    // One activity a day, so that a longer history keeps these activities as they are.
    let data = Dataset { activities: 180, span_days: 180, ..Dataset::default() };
    let server = Server::start(data.clone(), 0).unwrap();
    let out = rdbt_in_env(&p.dir, &["build"], &env(&server.url(), SECRET));
    drop(server);
    out.assert_code(0);
    assert!(out.stdout.contains("OK loaded ingest strava_api"), "{}", out.stdout);
    let c = db(&p);
    let mut expected = served(&data);
    expected.sort_by_key(|r| r.0);
    assert_eq!(loaded(&c), expected);
    assert_eq!(count(&c, "select count(*) from main.stg_activities"), 180);
    let with_location = (0..data.activities).filter(|&i| !synthetic::activity(&data, i)["start_latlng"].as_array().unwrap().is_empty()).count();
    assert_eq!(count(&c, "select count(*) from raw.activities__start_latlng") as usize, 2 * with_location);
    drop(c);

    // More activities later: the incremental run fetches from the last
    // cursor and merges on id, so nothing is duplicated.
    let more = Dataset { activities: 230, span_days: 230, ..data.clone() };
    assert_eq!(served(&more)[..180], served(&data)[..]);
    let server = Server::start(more.clone(), 0).unwrap();
    let out = rdbt_in_env(&p.dir, &["ingest"], &env(&server.url(), SECRET));
    drop(server);
    out.assert_code(0);
    let c = db(&p);
    let mut expected = served(&more);
    expected.sort_by_key(|r| r.0);
    assert_eq!(loaded(&c), expected);
    assert_eq!(count(&c, "select count(*) from raw._rdbt_loads"), 2);

    let rr: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p.path("target/run_results.json")).unwrap()).unwrap();
    assert_eq!(rr["args"]["which"], "ingest");
    assert_eq!(rr["results"][0]["unique_id"], "ingest.ingest_strava.strava_api");
    assert_eq!(rr["results"][0]["status"], "success");
}

#[test]
fn wrong_credentials_fail_without_printing_the_secret() {
    let p = copy_fixture("ingest_strava");
    let server = Server::start(Dataset { activities: 10, ..Dataset::default() }, 0).unwrap();
    let wrong = "not-the-secret-9f2c";
    let out = rdbt_in_env(&p.dir, &["build"], &env(&server.url(), wrong));
    drop(server);
    out.assert_code(1);
    assert!(out.all_output().contains("oauth/token"), "{}", out.all_output());
    assert!(!out.all_output().contains(wrong), "the secret leaked: {}", out.all_output());
    for f in ["target/run_results.json", "target/manifest.json"] {
        let text = std::fs::read_to_string(p.path(f)).unwrap();
        assert!(!text.contains(wrong), "the secret reached {f}");
    }
}

#[test]
fn a_wrong_declaration_or_missing_env_var_stops_before_anything_runs() {
    let p = copy_fixture("ingest_strava");
    let yaml = std::fs::read_to_string(p.path("models/strava.yml")).unwrap();
    p.write("models/strava.yml", &yaml.replace("type: page_number", "type: page_numbr"));
    let out = rdbt_in_env(&p.dir, &["build"], &env("http://127.0.0.1:9", SECRET));
    out.assert_code(2);
    let err = out.all_output();
    assert!(err.contains("models/strava.yml:22:") && err.contains("page_numbr") && err.contains("page_number"), "{err}");
    assert!(!p.path("target/strava.duckdb").exists(), "nothing may run");

    p.write("models/strava.yml", &yaml);
    let out = rdbt_in_env(&p.dir, &["build"], &[("DBT_ENV_SECRET_CLIENT_SECRET", SECRET)]);
    out.assert_code(2);
    assert!(out.all_output().contains("STRAVA_API_URL"), "{}", out.all_output());
}

#[test]
fn selection_reaches_ingest_through_the_source() {
    let p = copy_fixture("ingest_strava");
    let e = env("http://127.0.0.1:9", SECRET);
    let with_parents = rdbt_in_env(&p.dir, &["ls", "--select", "+stg_activities", "--output", "name"], &e);
    with_parents.assert_code(0);
    assert!(with_parents.stdout.contains("strava_api"), "{}", with_parents.stdout);
    let alone = rdbt_in_env(&p.dir, &["ls", "--select", "stg_activities", "--output", "name"], &e);
    assert!(!alone.stdout.contains("strava_api"), "{}", alone.stdout);
    let by_type = rdbt_in_env(&p.dir, &["ls", "--select", "resource_type:ingest"], &e);
    by_type.assert_code(0);
    assert!(by_type.stdout.contains("strava_api"), "{}", by_type.stdout);
}

#[test]
fn a_response_that_does_not_match_the_declaration_is_bad_input() {
    // The API answers 200 with a list; a `data_selector` of `data` finds nothing.
    let p = copy_fixture("ingest_strava");
    let yaml = std::fs::read_to_string(p.path("models/strava.yml")).unwrap();
    p.write("models/strava.yml", &yaml.replace("          path: athlete/activities\n", "          path: athlete/activities\n          data_selector: data\n"));
    let server = Server::start(Dataset { activities: 10, ..Dataset::default() }, 0).unwrap();
    let out = rdbt_in_env(&p.dir, &["build"], &env(&server.url(), SECRET));
    drop(server);
    out.assert_code(2);
    assert!(out.all_output().contains("error[ingest-input]") && out.all_output().contains("page 0"), "{}", out.all_output());
    let c = db(&p);
    assert_eq!(count(&c, "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'activities'"), 0);
}
