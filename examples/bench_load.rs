//! Loads synthetic Strava-like activity records (about 60 fields with the
//! nested `athlete` and `map` objects and the `start_latlng`/`end_latlng`
//! lists) through the ingest loader into a DuckDB file, and prints records/s
//! and the peak RSS.
//!
//! `cargo run --no-default-features --features datafusion --example bench_load [-- RECORDS [DB_PATH [MEMORY_LIMIT]]]`
//! (default 100000 records into a temporary file; e.g. `1000000` for the
//! 1M target). Pages of 200 records are generated one at a time, as an API
//! would deliver them, so the loader's memory is what is measured; the
//! time to generate them is excluded from records/s.

// The activity literal is one large `json!` call.
#![recursion_limit = "512"]

use std::time::{Duration, Instant};

use rdbt::adapter::duckdb::DuckDbAdapter;
use rdbt::ingest::load::Loader;
use rdbt::ingest::{Page, Records, ResourceLoad, SchemaContract, WriteDisposition};
use serde_json::{Map, Value, json};

// The allocator of the `rdbt` binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PAGE: usize = 200;

fn activity(i: u64) -> Value {
    let day = i % 28 + 1;
    let hour = i % 24;
    let lat = 52.0 + (i % 1000) as f64 / 1000.0;
    let lng = 4.0 + (i % 777) as f64 / 1000.0;
    let sport = ["Ride", "Run", "Swim", "Walk"][(i % 4) as usize];
    json!({
        "resource_state": 2,
        "athlete": {"id": 1000 + i % 50, "resource_state": 1},
        "name": format!("{sport} number {i}"),
        "distance": 1000.0 + (i % 5000) as f64 * 1.5,
        "moving_time": 600 + i % 7200,
        "elapsed_time": 700 + i % 8000,
        "total_elevation_gain": (i % 300) as f64 / 2.0,
        "type": sport,
        "sport_type": sport,
        "workout_type": if i % 3 == 0 { Value::Null } else { json!(i % 12) },
        "id": 9_000_000_000u64 + i,
        "start_date": format!("2024-02-{day:02}T{hour:02}:15:30Z"),
        "start_date_local": format!("2024-02-{day:02}T{:02}:15:30Z", (hour + 1) % 24),
        "timezone": "(GMT+01:00) Europe/Amsterdam",
        "utc_offset": 3600.0,
        "location_city": Value::Null,
        "location_state": Value::Null,
        "location_country": "Netherlands",
        "achievement_count": i % 7,
        "kudos_count": i % 40,
        "comment_count": i % 5,
        "athlete_count": 1 + i % 3,
        "photo_count": 0,
        "map": {"id": format!("a{i}"), "summary_polyline": "ki{eFvqfiVqAWQIGEEKAYJgBVqDJ{BHa@jAkNJw@Pw@V{APs@^aABQAOEQGKoJ_FuJkFqAo@{A}@sH{DiAs@Q]?WVy@`@oBt@_CB]KYMMkB{AQEI@WT{BlE{@zAQPI@ICsCqA_BcAeCmAaFmCqIoEcLeG}KcG}A}@cDaBiDsByAkAuBqBi@y@_@o@o@kB}BgIoA_EUkAMcACa@BeBBq@LaAJe@b@uA`@_AdBcD`@iAPq@RgALqAB{@EqAyAoOCy@AmCBmANqBLqAZkB\\iCPiBJwCCsASiCq@iD]eA]y@[i@w@mAa@i@k@g@kAw@i@Ya@Q]EWFMLa@~BYpAOf@GJEBWCGGGMm@iDCa@", "resource_state": 2},
        "trainer": i % 10 == 0,
        "commute": i % 7 == 0,
        "manual": false,
        "private": i % 13 == 0,
        "visibility": "everyone",
        "flagged": false,
        "gear_id": format!("b{}", i % 9),
        "start_latlng": [lat, lng],
        "end_latlng": [lat + 0.01, lng - 0.01],
        "average_speed": 3.0 + (i % 100) as f64 / 10.0,
        "max_speed": 8.0 + (i % 100) as f64 / 10.0,
        "average_cadence": 80.5,
        "average_watts": 180.2 + (i % 50) as f64,
        "max_watts": 600 + i % 200,
        "weighted_average_watts": 190 + i % 40,
        "device_watts": true,
        "kilojoules": 500.5 + (i % 300) as f64,
        "has_heartrate": true,
        "average_heartrate": 140.0 + (i % 30) as f64,
        "max_heartrate": 180.0,
        "heartrate_opt_out": false,
        "display_hide_heartrate_option": true,
        "elev_high": 20.4,
        "elev_low": -2.2,
        "upload_id": 10_000_000_000u64 + i,
        "upload_id_str": format!("{}", 10_000_000_000u64 + i),
        "external_id": format!("garmin_push_{i}"),
        "from_accepted_tag": false,
        "pr_count": i % 4,
        "total_photo_count": 0,
        "has_kudoed": false,
        "suffer_score": 40 + i % 100,
        "average_temp": 12,
        "description": Value::Null,
        "calories": 700.5,
        "device_name": "Garmin Edge 530",
        "embed_token": format!("{:x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "segment_leaderboard_opt_out": false,
        "leaderboard_opt_out": false,
    })
}

fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let tmp = tempfile::tempdir()?;
    let path = args.next().unwrap_or_else(|| tmp.path().join("bench.duckdb").to_string_lossy().into_owned());
    let mut settings = Map::new();
    if let Some(limit) = args.next() {
        settings.insert("memory_limit".into(), json!(limit));
    }
    let adapter = DuckDbAdapter::open(&path, &[], &settings)?;
    let mut conn = adapter.connection()?;
    let resource = ResourceLoad {
        resource: "activities".into(),
        table: "activities".into(),
        write_disposition: WriteDisposition::Append,
        primary_key: vec!["id".into()],
        merge_key: vec![],
        schema_contract: SchemaContract::default(),
        max_table_nesting: None,
    };
    let mut loading = Duration::ZERO;
    let mut generating = Duration::ZERO;
    let started = Instant::now();
    let mut loader = Loader::begin(&mut conn, "", "strava", "bench")?;
    let mut i = 0u64;
    let mut index = 0usize;
    while i < n {
        let t = Instant::now();
        let count = (n - i).min(PAGE as u64);
        let records: Vec<Value> = (i..i + count).map(activity).collect();
        let records = Records::from_values(&records);
        let page = Page { resource: "activities".into(), index, url: format!("synthetic://activities?page={index}"), records };
        generating += t.elapsed();
        let t = Instant::now();
        loader.write_page(&resource, &page)?;
        loading += t.elapsed();
        i += count;
        index += 1;
    }
    let t = Instant::now();
    let summary = loader.commit(&[])?;
    let commit = t.elapsed();
    loading += commit;
    let wall = started.elapsed();
    let profile = if cfg!(debug_assertions) { "dev (rdbt at opt-level 0, deps at 2)" } else { "release" };
    println!("profile: {profile}");
    println!("records: {n}  pages: {index}  tables: {}", summary.tables.len());
    for t in &summary.tables {
        println!("  {:<28} {:>9} rows", t.table, t.rows);
    }
    println!("load time: {:.2}s (commit {:.2}s), generation {:.2}s, wall {:.2}s", loading.as_secs_f64(), commit.as_secs_f64(), generating.as_secs_f64(), wall.as_secs_f64());
    println!("records/s: {:.0}", n as f64 / loading.as_secs_f64());
    println!("peak RSS (VmHWM): {} MB", vm_hwm_kb().map_or_else(|| "?".to_string(), |k| (k / 1024).to_string()));
    Ok(())
}
