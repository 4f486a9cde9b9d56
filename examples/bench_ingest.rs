//! Ingest throughput end to end: the synthetic Strava-like API
//! (`rdbt::ingest::synthetic`, ~60 fields per activity with nested objects
//! and lists) serves N activities in pages of 200; the `strava` ingest
//! (OAuth2 refresh token, page-number paginator, incremental cursor, merge
//! on id) fetches, normalizes and loads them into a DuckDB file. Prints
//! activities/s, rows/s over all tables and the peak resident memory.
//!
//!   scripts/bench_ingest.sh 100000 1000000        # release build, dlt too when installed
//!   cargo run --no-default-features --features datafusion --release --example bench_ingest -- --activities 100000 [--url URL] [--disposition append] [--keep]

use std::time::Instant;

use rdbt::adapter::Connection;
use rdbt::adapter::duckdb::DuckDbAdapter;
use rdbt::ingest::node::{self, IngestRunOptions};
use rdbt::ingest::spec::parse_spec;
use rdbt::ingest::synthetic::{self, Dataset, Server};
use serde_json::{Map, json};

// The allocator of the `rdbt` binary, so that figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let mut activities = 100_000usize;
    let mut url: Option<String> = None;
    let mut disposition = "merge".to_string();
    // DuckDB's buffer cache grows to most of the RAM unless limited (a
    // profile's `settings: {memory_limit: ...}`); the loader itself streams.
    let mut memory_limit = "256MB".to_string();
    let mut keep = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--keep" {
            keep = true;
            continue;
        }
        match (a.as_str(), args.next()) {
            ("--activities", Some(v)) if v.parse::<usize>().is_ok() => activities = v.parse().unwrap_or(activities),
            ("--url", Some(v)) => url = Some(v),
            ("--disposition", Some(v)) if v == "merge" || v == "append" => disposition = v,
            ("--memory-limit", Some(v)) => memory_limit = v,
            _ => {
                eprintln!("usage: bench_ingest [--activities N] [--url URL of a running strava_api] [--disposition merge|append] [--memory-limit 256MB|default] [--keep (the database file, to inspect)]");
                std::process::exit(2);
            }
        }
    }
    // One activity every 10 minutes keeps the timestamps realistic.
    let data = Dataset { activities, span_days: (activities as i64 / 144).max(1), prerender: true, ..Dataset::default() };
    let _server;
    let base = match url {
        Some(u) => u,
        None => {
            let s = Server::start(data, 0).unwrap_or_else(|e| {
                eprintln!("bench_ingest: cannot start the server: {e}");
                std::process::exit(2)
            });
            let u = s.url();
            _server = s;
            u
        }
    };
    let decl = json!({
        "name": "strava",
        "source": "strava",
        "client": {
            "base_url": format!("{base}/api/v3/"),
            "auth": {
                "type": "oauth2_refresh_token",
                "token_url": format!("{base}/oauth/token"),
                "client_id": synthetic::CLIENT_ID,
                "client_secret": synthetic::CLIENT_SECRET,
                "refresh_token": synthetic::REFRESH_TOKEN,
            },
            "paginator": {"type": "page_number", "page_param": "page", "base_page": 1},
        },
        "resources": [{
            "name": "activities",
            "primary_key": "id",
            "write_disposition": disposition,
            "endpoint": {
                "path": "athlete/activities",
                "params": {"per_page": 200},
                "incremental": {"cursor_path": "start_date", "start_param": "after", "initial_value": "2024-01-01T00:00:00Z", "convert": "epoch"},
            },
        }],
    });
    let (spec, _) = parse_spec(&decl).unwrap_or_else(|e| {
        eprintln!("bench_ingest: {e}");
        std::process::exit(2)
    });
    let dir = std::env::temp_dir().join(format!("rdbt-bench-ingest-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("bench.duckdb");
    let mut settings = Map::new();
    if memory_limit != "default" {
        settings.insert("memory_limit".into(), json!(memory_limit));
    }
    let adapter = DuckDbAdapter::open(path.to_str().unwrap_or("bench.duckdb"), &[], &settings).unwrap_or_else(|e| {
        eprintln!("bench_ingest: {e}");
        std::process::exit(2)
    });
    let mut conn = adapter.connection().unwrap_or_else(|e| {
        eprintln!("bench_ingest: {e}");
        std::process::exit(2)
    });
    let started = Instant::now();
    let outcome = node::run(&mut conn, &spec, "bench", "strava_raw", &IngestRunOptions::default());
    let secs = started.elapsed().as_secs_f64();
    match outcome {
        Ok(o) => {
            let loaded = conn.query("select count(*) from strava_raw.activities").ok().and_then(|r| r.rows.first()?.first()?.as_i64()).unwrap_or(-1);
            let rows = o.rows();
            println!(
                "rdbt ingest ({disposition}, DuckDB memory_limit {memory_limit}): {activities} activities ({loaded} loaded, {rows} rows in {} tables, {} requests)",
                o.summary.tables.len(),
                o.requests
            );
            println!("  time        {secs:.2} s");
            println!("  activities  {:.0} /s", activities as f64 / secs);
            println!("  rows        {:.0} /s (all tables)", rows as f64 / secs);
            println!("  peak RSS    {:.0} MB", peak_rss_mb());
        }
        Err(d) => {
            eprintln!("bench_ingest: {}", d.message);
            std::process::exit(1);
        }
    }
    drop(conn);
    if keep {
        println!("  database    {}", path.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
