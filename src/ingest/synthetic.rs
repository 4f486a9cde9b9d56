//! A synthetic Strava-like API: deterministic activities (about 60 fields,
//! nested `athlete` and `map` objects, `start_latlng`/`end_latlng` lists),
//! an athlete, athlete stats and an OAuth2 refresh-token endpoint, served
//! over real HTTP on 127.0.0.1.
//!
//! It exists so that ingest can be tested, benchmarked and recorded without
//! the real service: the integration tests and `examples/bench_ingest.rs`
//! load from it, and `scripts/strava_recordings.sh` records the root
//! project's offline responses from it. Nothing here is used by a normal run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

/// The credentials the synthetic OAuth2 endpoint accepts.
pub const CLIENT_ID: &str = "rdbt-demo";
pub const CLIENT_SECRET: &str = "demo-client-secret";
pub const REFRESH_TOKEN: &str = "demo-refresh-token";
/// The access token it hands out (and the bearer token the API accepts).
pub const ACCESS_TOKEN: &str = "demo-access-token";
pub const ATHLETE_ID: i64 = 4242;

/// What the synthetic data looks like.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Number of activities.
    pub activities: usize,
    /// First activity's local start time.
    pub start: DateTime<Utc>,
    /// Activities are spread evenly over this many days.
    pub span_days: i64,
    /// Fault injection: activity-list requests after this many answer 503.
    pub fail_after_activity_pages: Option<usize>,
    /// Render every activity's JSON when the server starts, so that serving
    /// a page only copies bytes (benchmarks: a real API does not run on the
    /// loader's cores; about 1.4 KB of memory per activity).
    pub prerender: bool,
}

impl Default for Dataset {
    fn default() -> Dataset {
        let start = NaiveDate::from_ymd_opt(2025, 1, 6).and_then(|d| d.and_hms_opt(6, 30, 0)).map(|t| t.and_utc()).unwrap_or_default();
        Dataset { activities: 400, start, span_days: 364, fail_after_activity_pages: None, prerender: false }
    }
}

/// splitmix64: a tiny deterministic generator, so that activity `i` is the
/// same on every machine and every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// (sport_type, share of activities, speed range m/s, distance range km)
const SPORTS: &[(&str, f64, (f64, f64), (f64, f64))] = &[
    ("Ride", 0.40, (6.0, 9.5), (20.0, 110.0)),
    ("VirtualRide", 0.15, (7.0, 10.0), (15.0, 60.0)),
    ("Run", 0.25, (2.6, 3.8), (4.0, 22.0)),
    ("Walk", 0.12, (1.1, 1.6), (2.0, 14.0)),
    ("Hike", 0.08, (0.9, 1.4), (5.0, 25.0)),
];

const CITIES: &[(&str, &str, f64, f64)] = &[
    ("Utrecht", "Utrecht", 52.0907, 5.1214),
    ("Amersfoort", "Utrecht", 52.1561, 5.3878),
    ("Arnhem", "Gelderland", 51.9851, 5.8987),
];

const GEAR: &[&str] = &["b1234567", "b7654321", "g1122334"];

/// Activity `i` (0-based) of `data`, as the API's SummaryActivity JSON.
pub fn activity(data: &Dataset, i: usize) -> Value {
    let mut r = Rng::new(i as u64 + 1);
    let u = r.unit();
    let mut acc = 0.0;
    let &(sport, _, speed, dist) = SPORTS
        .iter()
        .find(|(_, share, _, _)| {
            acc += share;
            u < acc
        })
        .unwrap_or(&SPORTS[0]);
    let step = data.span_days.max(1) as f64 * 86_400.0 / data.activities.max(1) as f64;
    let start_local = data.start + Duration::seconds((i as f64 * step) as i64 + (r.unit() * 3600.0) as i64);
    let utc_offset = if start_local.format("%m").to_string().parse::<u32>().is_ok_and(|m| (4..=10).contains(&m)) { 7200 } else { 3600 };
    let start_utc = start_local - Duration::seconds(utc_offset);
    let distance_m = round(r.range(dist.0, dist.1) * 1000.0, 1);
    let average_speed = round(r.range(speed.0, speed.1), 3);
    let moving_time = (distance_m / average_speed).round() as i64;
    let elapsed_time = moving_time + (r.unit() * moving_time as f64 * 0.15) as i64;
    let is_ride = sport.ends_with("Ride");
    let is_virtual = sport.starts_with("Virtual");
    let elevation = if is_virtual { 0.0 } else { round(r.range(0.0, distance_m / 1000.0 * if is_ride { 9.0 } else { 14.0 }), 1) };
    let &(city, state, lat, lng) = r.pick(CITIES);
    let start_latlng = [round(lat + r.range(-0.02, 0.02), 6), round(lng + r.range(-0.03, 0.03), 6)];
    let end_latlng = [round(start_latlng[0] + r.range(-0.01, 0.01), 6), round(start_latlng[1] + r.range(-0.01, 0.01), 6)];
    let has_heartrate = r.unit() < 0.85;
    let average_heartrate = if has_heartrate { Some(round(r.range(105.0, 165.0), 1)) } else { None };
    let id = 9_000_000_000i64 + i as i64 * 7919;
    let mut a = json!({
        "resource_state": 2,
        "athlete": {"id": ATHLETE_ID, "resource_state": 1},
        "name": format!("{} {}", part_of_day(start_local), sport_label(sport)),
        "distance": distance_m,
        "moving_time": moving_time,
        "elapsed_time": elapsed_time,
        "total_elevation_gain": elevation,
        "type": sport,
        "sport_type": sport,
        "workout_type": if sport == "Run" { json!(r.next() % 4) } else { Value::Null },
        "id": id,
        "start_date": start_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "start_date_local": start_local.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "timezone": "(GMT+01:00) Europe/Amsterdam",
        "utc_offset": utc_offset as f64,
        "location_city": city,
        "location_state": state,
        "location_country": "Netherlands",
        "achievement_count": r.next() % 12,
        "kudos_count": r.next() % 40,
        "comment_count": r.next() % 5,
        "athlete_count": 1 + r.next() % 3,
        "photo_count": 0,
        "map": {
            "id": format!("a{id}"),
            "summary_polyline": if is_virtual { String::new() } else { polyline(&mut r) },
            "resource_state": 2,
        },
        "trainer": is_virtual,
        "commute": !is_virtual && r.unit() < 0.1,
        "manual": false,
        "private": false,
        "visibility": "everyone",
        "flagged": false,
        "gear_id": if is_virtual { Value::Null } else { json!(r.pick(GEAR)) },
        "start_latlng": if is_virtual { json!([]) } else { json!(start_latlng) },
        "end_latlng": if is_virtual { json!([]) } else { json!(end_latlng) },
        "average_speed": average_speed,
        "max_speed": round(average_speed * r.range(1.3, 2.1), 3),
        "has_heartrate": has_heartrate,
        "average_heartrate": average_heartrate,
        "max_heartrate": average_heartrate.map(|h| round(h + r.range(10.0, 30.0), 0)),
        "heartrate_opt_out": false,
        "display_hide_heartrate_option": has_heartrate,
        "elev_high": round(r.range(5.0, 110.0), 1),
        "elev_low": round(r.range(-3.0, 5.0), 1),
        "upload_id": 10_000_000_000i64 + i as i64,
        "upload_id_str": (10_000_000_000i64 + i as i64).to_string(),
        "external_id": format!("garmin_push_{}", 12_000_000 + i),
        "from_accepted_tag": false,
        "pr_count": r.next() % 6,
        "total_photo_count": r.next() % 3,
        "has_kudoed": false,
        "suffer_score": if has_heartrate { json!(r.next() % 200) } else { Value::Null },
    });
    if let Some(o) = a.as_object_mut() {
        if is_ride {
            // Energy follows power and time (what the ML node learns).
            let watts = round(r.range(120.0, 260.0) * (average_speed / 8.0).powf(0.6) + elevation / distance_m * 4000.0, 1);
            let weighted = round(watts * r.range(1.02, 1.12), 0);
            o.insert("average_watts".into(), json!(watts));
            o.insert("weighted_average_watts".into(), json!(weighted));
            o.insert("max_watts".into(), json!(round(weighted * r.range(1.8, 3.0), 0)));
            o.insert("kilojoules".into(), json!(round(watts * moving_time as f64 / 1000.0 * r.range(0.97, 1.03), 1)));
            o.insert("device_watts".into(), json!(is_virtual || r.unit() < 0.7));
            o.insert("average_cadence".into(), json!(round(r.range(78.0, 95.0), 1)));
        } else {
            o.insert("average_cadence".into(), json!(round(r.range(75.0, 90.0), 1)));
        }
        if !is_virtual {
            o.insert("average_temp".into(), json!(r.next() % 30));
        }
    }
    a
}

fn part_of_day(t: DateTime<Utc>) -> &'static str {
    match t.format("%H").to_string().parse::<u32>().unwrap_or(12) {
        0..=11 => "Morning",
        12..=16 => "Afternoon",
        17..=20 => "Evening",
        _ => "Night",
    }
}

fn sport_label(sport: &str) -> &str {
    match sport {
        "VirtualRide" => "Zwift Ride",
        other => other,
    }
}

/// A plausible-looking encoded polyline (random printable characters in
/// the polyline alphabet).
fn polyline(r: &mut Rng) -> String {
    let n = 40 + (r.next() % 80) as usize;
    (0..n).map(|_| (63 + (r.next() % 63) as u8) as char).filter(|c| *c != '\\').collect()
}

/// The authenticated athlete.
pub fn athlete() -> Value {
    json!({
        "id": ATHLETE_ID,
        "username": "demo_athlete",
        "resource_state": 3,
        "firstname": "Demo",
        "lastname": "Athlete",
        "city": "Utrecht",
        "country": "Netherlands",
        "sex": "F",
        "premium": true,
        "created_at": "2019-03-02T10:11:12Z",
        "weight": 61.5,
        "ftp": 231,
        "bikes": [{"id": "b1234567", "name": "Road", "distance": 15_000_000.0}, {"id": "b7654321", "name": "Gravel", "distance": 4_200_000.0}],
        "shoes": [{"id": "g1122334", "name": "Trail", "distance": 800_000.0}],
    })
}

/// Athlete stats: totals over every activity of `data` by kind.
pub fn athlete_stats(data: &Dataset) -> Value {
    let mut totals: std::collections::BTreeMap<&str, [f64; 5]> = Default::default();
    for i in 0..data.activities {
        let a = activity(data, i);
        let kind = match a["sport_type"].as_str().unwrap_or("") {
            "Ride" | "VirtualRide" => "ride",
            "Run" => "run",
            _ => "swim_or_other",
        };
        let t = totals.entry(kind).or_default();
        t[0] += 1.0;
        t[1] += a["distance"].as_f64().unwrap_or(0.0);
        t[2] += a["moving_time"].as_f64().unwrap_or(0.0);
        t[3] += a["elapsed_time"].as_f64().unwrap_or(0.0);
        t[4] += a["total_elevation_gain"].as_f64().unwrap_or(0.0);
    }
    let obj = |k: &str| {
        let t = totals.get(k).copied().unwrap_or_default();
        json!({"count": t[0] as i64, "distance": round(t[1], 1), "moving_time": t[2] as i64, "elapsed_time": t[3] as i64, "elevation_gain": round(t[4], 1)})
    };
    json!({
        "biggest_ride_distance": 110_000.0,
        "biggest_climb_elevation_gain": 812.4,
        "all_ride_totals": obj("ride"),
        "all_run_totals": obj("run"),
        "all_swim_totals": {"count": 0, "distance": 0.0, "moving_time": 0, "elapsed_time": 0, "elevation_gain": 0.0},
    })
}

/// A running synthetic API. Dropping it stops the server.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts serving `data` on 127.0.0.1 (`port` 0 = any free port).
    pub fn start(data: Dataset, port: u16) -> std::io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let rendered = if data.prerender { render_all(&data) } else { Vec::new() };
        let state = Arc::new(State { data, activity_pages: AtomicUsize::new(0), rendered });
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let state = state.clone();
                std::thread::spawn(move || serve_connection(conn, &state));
            }
        });
        Ok(Server { addr, stop, thread: Some(thread) })
    }
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    data: Dataset,
    /// Activity-list requests answered so far (for fault injection).
    activity_pages: AtomicUsize,
    /// `Dataset::prerender`: each activity's JSON and start epoch.
    rendered: Vec<(i64, Box<str>)>,
}

/// Every activity's JSON text and start epoch, rendered on all cores.
fn render_all(data: &Dataset) -> Vec<(i64, Box<str>)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = data.activities.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..data.activities)
            .step_by(chunk)
            .map(|lo| {
                scope.spawn(move || {
                    (lo..(lo + chunk).min(data.activities))
                        .map(|i| {
                            let a = activity(data, i);
                            (activity_epoch(&a), a.to_string().into_boxed_str())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    Some(Request { method, path: path.to_string(), query: parse_pairs(query), headers, body })
}

fn serve_connection(conn: TcpStream, state: &State) {
    let Ok(write_half) = conn.try_clone() else { return };
    let mut writer = std::io::BufWriter::new(write_half);
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_request(&mut reader) {
        let close = req.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (status, body) = route(&req, state);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            body.len(),
            if close { "close" } else { "keep-alive" }
        );
        if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(body.as_bytes())).and_then(|_| writer.flush()).is_err() || close {
            return;
        }
    }
}

fn route(req: &Request, state: &State) -> (&'static str, String) {
    match route_json(req, state) {
        (status, Ok(v)) => (status, v.to_string()),
        (status, Err(page)) => (status, page),
    }
}

/// A response: JSON to serialize, or (`Err`) a body already rendered.
fn route_json(req: &Request, state: &State) -> (&'static str, Result<Value, String>) {
    let data = &state.data;
    if req.method == "POST" && req.path == "/oauth/token" {
        let form = parse_pairs(&String::from_utf8_lossy(&req.body));
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let ok = get("client_id") == Some(CLIENT_ID)
            && get("client_secret") == Some(CLIENT_SECRET)
            && get("refresh_token") == Some(REFRESH_TOKEN)
            && get("grant_type") == Some("refresh_token");
        return if ok {
            ("200 OK", Ok(json!({"token_type": "Bearer", "access_token": ACCESS_TOKEN, "expires_at": 4_102_444_800i64, "expires_in": 21600, "refresh_token": REFRESH_TOKEN})))
        } else {
            ("400 Bad Request", Ok(json!({"message": "Bad Request", "errors": [{"resource": "RefreshToken", "field": "refresh_token", "code": "invalid"}]})))
        };
    }
    if req.header("authorization") != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return ("401 Unauthorized", Ok(json!({"message": "Authorization Error", "errors": [{"resource": "Athlete", "field": "access_token", "code": "invalid"}]})));
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v3/athlete") => ("200 OK", Ok(athlete())),
        ("GET", "/api/v3/athlete/activities") => {
            let n = state.activity_pages.fetch_add(1, Ordering::SeqCst);
            if data.fail_after_activity_pages.is_some_and(|limit| n >= limit) {
                return ("503 Service Unavailable", Ok(json!({"message": "injected fault"})));
            }
            let per_page = req.param("per_page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(30).clamp(1, 200);
            let page = req.param("page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).max(1);
            let after = req.param("after").and_then(|v| v.parse::<i64>().ok());
            // Activities are generated in start order, so `after` is a
            // binary search over the start times.
            let first = match (after, state.rendered.is_empty()) {
                (None, _) => 0,
                (Some(ts), true) => partition(data, |a| activity_epoch(a) <= ts),
                (Some(ts), false) => state.rendered.partition_point(|(epoch, _)| *epoch <= ts),
            };
            let lo = first + (page - 1) * per_page;
            let hi = (lo + per_page).min(data.activities);
            if !state.rendered.is_empty() {
                let items: Vec<&str> = state.rendered[lo.min(hi)..hi].iter().map(|(_, text)| &**text).collect();
                return ("200 OK", Err(format!("[{}]", items.join(","))));
            }
            let items: Vec<Value> = (lo..hi.max(lo)).map(|i| activity(data, i)).collect();
            ("200 OK", Ok(Value::Array(items)))
        }
        ("GET", p) if p == format!("/api/v3/athletes/{ATHLETE_ID}/stats") => ("200 OK", Ok(athlete_stats(data))),
        _ => ("404 Not Found", Ok(json!({"message": "Resource Not Found"}))),
    }
}

fn activity_epoch(a: &Value) -> i64 {
    a["start_date"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.timestamp()).unwrap_or(0)
}

/// First index whose activity does not satisfy `pred` (activities are
/// ordered by start time).
fn partition(data: &Dataset, pred: impl Fn(&Value) -> bool) -> usize {
    let (mut lo, mut hi) = (0, data.activities);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(&activity(data, mid)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activities_are_deterministic_and_ordered() {
        let d = Dataset::default();
        assert_eq!(activity(&d, 7), activity(&d, 7));
        let starts: Vec<i64> = (0..d.activities).map(|i| activity_epoch(&activity(&d, i))).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        let a = activity(&d, 3);
        assert!(a.as_object().is_some_and(|o| o.len() >= 55), "{}", a.as_object().map_or(0, |o| o.len()));
        assert_eq!(a["athlete"]["id"], json!(ATHLETE_ID));
    }

    #[test]
    fn serves_pages_after_a_cursor_with_bearer_auth() {
        let d = Dataset { activities: 25, ..Dataset::default() };
        let server = Server::start(d.clone(), 0).expect("server");
        let get = |path: &str, auth: bool| -> (u16, Value) {
            let mut s = TcpStream::connect(server.addr).expect("connect");
            let auth = if auth { format!("Authorization: Bearer {ACCESS_TOKEN}\r\n") } else { String::new() };
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").expect("write");
            let mut text = String::new();
            let mut r = BufReader::new(s);
            let mut status = String::new();
            r.read_line(&mut status).expect("status");
            r.read_to_string(&mut text).expect("read");
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("null");
            (status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), serde_json::from_str(body).unwrap_or(Value::Null))
        };
        assert_eq!(get("/api/v3/athlete/activities", false).0, 401);
        let (code, page2) = get("/api/v3/athlete/activities?per_page=10&page=2", true);
        assert_eq!(code, 200);
        assert_eq!(page2.as_array().map(Vec::len), Some(10));
        assert_eq!(page2[0]["id"], activity(&d, 10)["id"]);
        let after = activity_epoch(&activity(&d, 20));
        let (_, rest) = get(&format!("/api/v3/athlete/activities?per_page=10&after={after}"), true);
        assert_eq!(rest.as_array().map(Vec::len), Some(4));
        let (_, empty) = get("/api/v3/athlete/activities?per_page=10&page=4", true);
        assert_eq!(empty, json!([]));
    }

    #[test]
    fn prerendered_pages_equal_generated_ones() {
        let d = Dataset { activities: 25, ..Dataset::default() };
        let generated = State { data: d.clone(), activity_pages: AtomicUsize::new(0), rendered: Vec::new() };
        let rendered = State { data: d.clone(), activity_pages: AtomicUsize::new(0), rendered: render_all(&d) };
        assert_eq!(rendered.rendered.len(), 25);
        let after = activity_epoch(&activity(&d, 20));
        for query in ["per_page=10&page=2", &format!("per_page=10&after={after}"), &format!("per_page=3&page=2&after={after}"), "per_page=10&page=4"] {
            let req = Request {
                method: "GET".into(),
                path: "/api/v3/athlete/activities".into(),
                query: parse_pairs(query),
                headers: vec![("Authorization".into(), format!("Bearer {ACCESS_TOKEN}"))],
                body: Vec::new(),
            };
            let (a, b) = (route(&req, &generated), route(&req, &rendered));
            assert_eq!(a.0, "200 OK");
            let parse = |t: &str| serde_json::from_str::<Value>(t).expect("json");
            assert_eq!(parse(&a.1), parse(&b.1), "{query}");
        }
    }
}
