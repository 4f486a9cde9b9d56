//! The fetch half of ingest nodes against a real HTTP server: a small
//! HTTP/1.1 server on 127.0.0.1:0 in this process serves paginated JSON,
//! checks credentials, injects faults, and logs every request it saw.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdbt::ingest::CursorState;
use rdbt::ingest::fetch::{self, FetchError, FetchOptions, FetchOutcome, RunError};
use rdbt::ingest::spec::{IngestSpec, RetrySpec};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The server

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HashMap<String, String>,
    body: String,
}

impl Req {
    fn q(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn qi(&self, k: &str, default: i64) -> i64 {
        self.q(k).and_then(|v| v.parse().ok()).unwrap_or(default)
    }
    fn h(&self, k: &str) -> Option<&str> {
        self.headers.get(&k.to_ascii_lowercase()).map(String::as_str)
    }
    fn form(&self) -> HashMap<String, String> {
        self.body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn ok(v: Value) -> Resp {
    Resp { status: 200, headers: vec![("Content-Type".into(), "application/json".into())], body: v.to_string() }
}
fn status(code: u16, body: &str) -> Resp {
    Resp { status: code, headers: vec![], body: body.into() }
}

struct Server {
    port: u16,
    log: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(vec![]));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if let Some(req) = read_request(&conn) {
                    log2.lock().unwrap().push(req.clone());
                    write_response(conn, handler(&req));
                }
            }
        });
        Server { port, log, stop, thread: Some(thread) }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn read_request(conn: &TcpStream) -> Option<Req> {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()),
        None => (target.clone(), vec![]),
    };
    Some(Req { method, path, query, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn write_response(mut conn: TcpStream, resp: Resp) {
    let mut head = format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", resp.status, resp.body.len());
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(resp.body.as_bytes());
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for (i, sh) in [18, 12, 6, 0].iter().enumerate() {
            out.push(if i <= c.len() { A[(n >> sh) as usize & 63] as char } else { '=' });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Helpers

/// Items 1..=n as records.
fn items(range: std::ops::Range<i64>) -> Vec<Value> {
    range.map(|i| json!({"id": i, "name": format!("item {i}")})).collect()
}

fn spec(v: Value) -> IngestSpec {
    let (s, warnings) = rdbt::ingest::spec::parse_spec(&v).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    s
}

fn fast() -> FetchOptions {
    FetchOptions {
        retry: Some(RetrySpec {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_millis(50),
        }),
        ..Default::default()
    }
}

type Pages = Vec<(String, usize, Vec<Value>)>;

fn fetch_all(s: &IngestSpec, states: &[CursorState], opts: &FetchOptions) -> Result<(Pages, FetchOutcome), FetchError> {
    let mut pages = vec![];
    let out = fetch::run::<Infallible>(s, states, opts, &mut |_, p| {
        pages.push((p.resource, p.index, p.records.to_values()));
        Ok(())
    })
    .map_err(|e| match e {
        RunError::Fetch(f) => f,
        RunError::Sink(i) => match i {},
    })?;
    Ok((pages, out))
}

fn records_of(pages: &Pages, resource: &str) -> Vec<Value> {
    pages.iter().filter(|(r, _, _)| r == resource).flat_map(|(_, _, recs)| recs.clone()).collect()
}

fn one_resource(base: &str, auth: Value, paginator: Value, endpoint: Value) -> Value {
    let mut ep = endpoint;
    ep["paginator"] = paginator;
    json!({"name": "api", "client": {"base_url": base, "auth": auth}, "resources": [{"name": "items", "endpoint": ep}]})
}

// ---------------------------------------------------------------------------
// Paginators × auth kinds

#[test]
fn page_number_with_total_and_bearer_token() {
    let server = Server::start(|r| {
        if r.h("authorization") != Some("Bearer tok-123") {
            return status(401, "{\"error\":\"bad token\"}");
        }
        let page = r.qi("page", 1);
        let all = items(1..8);
        let chunk: Vec<Value> = all.chunks(3).nth((page - 1) as usize).map(|c| c.to_vec()).unwrap_or_default();
        ok(json!({"data": chunk, "meta": {"total_pages": 3}}))
    });
    let s = spec(one_resource(
        &format!("{}/v1/", server.url()),
        json!({"type": "bearer", "token": "tok-123"}),
        json!({"type": "page_number", "base_page": 1, "total_path": "meta.total_pages"}),
        json!({"path": "/items", "data_selector": "$.data", "params": {"per_page": 3}}),
    ));
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), items(1..8));
    assert_eq!(pages.iter().map(|p| p.1).collect::<Vec<_>>(), vec![0, 1, 2]);
    let seen: Vec<(String, Option<String>, Option<String>)> =
        server.requests().iter().map(|r| (r.path.clone(), r.q("page").map(String::from), r.q("per_page").map(String::from))).collect();
    assert_eq!(seen, (1..=3).map(|p| ("/v1/items".to_string(), Some(p.to_string()), Some("3".to_string()))).collect::<Vec<_>>());
    assert_eq!(out.requests, 3);
    assert_eq!(out.resources[0].pages, 3);
    assert_eq!(out.resources[0].records, 7);

    // A wrong token is rejected, and the error does not show it.
    let mut bad = s.clone();
    bad.client.auth = rdbt::ingest::spec::AuthSpec::Bearer { token: "wrong-token".into() };
    let e = fetch_all(&bad, &[], &fast()).unwrap_err();
    match &e {
        FetchError::Request { status, resource, page, .. } => assert_eq!((*status, resource.as_str(), *page), (Some(401), "items", 0)),
        other => panic!("{other:?}"),
    }
    assert!(!e.to_string().contains("wrong-token"), "{e}");
}

#[test]
fn page_number_stops_on_empty_page_with_http_basic() {
    let server = Server::start(|r| {
        if r.h("authorization") != Some(&format!("Basic {}", b64("ann:pa:ss"))) {
            return status(401, "no");
        }
        let page = r.qi("p", 0);
        ok(json!(if page < 2 { items(page * 2..page * 2 + 2) } else { vec![] }))
    });
    let s = spec(one_resource(
        &server.url(),
        json!({"type": "http_basic", "username": "ann", "password": "pa:ss"}),
        json!({"type": "page_number", "page_param": "p"}),
        json!({"path": "things"}),
    ));
    let (pages, _) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), items(0..4));
    assert_eq!(pages.len(), 3, "the empty third page is handed over too");
    assert_eq!(server.requests().iter().map(|r| r.qi("p", -1)).collect::<Vec<_>>(), vec![0, 1, 2]);

    let mut bad = s.clone();
    bad.client.auth = rdbt::ingest::spec::AuthSpec::HttpBasic { username: "ann".into(), password: "nope".into() };
    assert!(matches!(fetch_all(&bad, &[], &fast()), Err(FetchError::Request { status: Some(401), .. })));
}

#[test]
fn page_number_maximum_page() {
    let server = Server::start(|r| ok(json!([{"page": r.qi("page", -1)}])));
    let s = spec(one_resource(&server.url(), Value::Null, json!({"type": "page_number", "base_page": 1, "maximum_page": 3}), json!({"path": "x"})));
    let (pages, _) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), vec![json!({"page": 1}), json!({"page": 2}), json!({"page": 3})]);
    // The caller's page limit (a dev sample) stops earlier.
    let (pages, out) = fetch_all(&s, &[], &FetchOptions { max_pages: Some(2), ..fast() }).unwrap();
    assert_eq!(records_of(&pages, "items"), vec![json!({"page": 1}), json!({"page": 2})]);
    assert_eq!(out.requests, 2);
}

#[test]
fn offset_with_total_and_api_key_header() {
    let server = Server::start(|r| {
        if r.h("x-api-key") != Some("k-1") {
            return status(403, "forbidden");
        }
        let (off, lim) = (r.qi("skip", 0), r.qi("take", 0));
        let all = items(0..10);
        let chunk: Vec<Value> = all.iter().skip(off as usize).take(lim as usize).cloned().collect();
        ok(json!({"results": chunk, "count": 10}))
    });
    let s = spec(one_resource(
        &server.url(),
        json!({"type": "api_key", "name": "X-API-Key", "api_key": "k-1"}),
        json!({"type": "offset", "offset_param": "skip", "limit_param": "take", "limit": 4, "total_path": "count"}),
        json!({"path": "items", "data_selector": "results"}),
    ));
    let (pages, _) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), items(0..10));
    let seen: Vec<(i64, i64)> = server.requests().iter().map(|r| (r.qi("skip", -1), r.qi("take", -1))).collect();
    assert_eq!(seen, vec![(0, 4), (4, 4), (8, 4)]);

    let mut bad = s.clone();
    bad.client.auth = rdbt::ingest::spec::AuthSpec::ApiKey {
        name: "X-API-Key".into(),
        api_key: "k-2".into(),
        location: rdbt::ingest::spec::ApiKeyLocation::Header,
    };
    assert!(matches!(fetch_all(&bad, &[], &fast()), Err(FetchError::Request { status: Some(403), .. })));
}

#[test]
fn offset_stops_on_short_page_with_api_key_in_query() {
    let server = Server::start(|r| {
        if r.q("api_key") != Some("q-secret") {
            return status(401, "bad key");
        }
        let off = r.qi("offset", 0);
        ok(json!(items(0..7).into_iter().skip(off as usize).take(r.qi("limit", 0) as usize).collect::<Vec<_>>()))
    });
    let s = spec(one_resource(
        &server.url(),
        json!({"type": "api_key", "name": "api_key", "api_key": "q-secret", "location": "query"}),
        json!({"type": "offset", "limit": 3}),
        json!({"path": "items"}),
    ));
    let mut urls = vec![];
    fetch::run::<Infallible>(&s, &[], &fast(), &mut |_, p| {
        urls.push(p.url.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(server.requests().iter().map(|r| r.qi("offset", -1)).collect::<Vec<_>>(), vec![0, 3, 6]);
    // The page URLs handed over never carry the key.
    assert_eq!(urls[1], format!("{}/items?offset=3&limit=3&api_key=*****", server.url()));
}

#[test]
fn cursor_with_oauth2_client_credentials() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let t2 = tokens.clone();
    let server = Server::start(move |r| {
        if r.path == "/oauth/token" {
            let f = r.form();
            if r.method != "POST" || f.get("grant_type").map(String::as_str) != Some("client_credentials") {
                return status(400, "bad grant");
            }
            if f.get("client_id").map(String::as_str) != Some("cid") || f.get("client_secret").map(String::as_str) != Some("c-secret") {
                return status(401, "{\"error\":\"invalid_client\"}");
            }
            assert_eq!(f.get("scope").map(String::as_str), Some("read"));
            t2.fetch_add(1, Ordering::SeqCst);
            return ok(json!({"access_token": "at-1", "token_type": "bearer", "expires_in": 3600}));
        }
        if r.h("authorization") != Some("Bearer at-1") {
            return status(401, "expired");
        }
        let after = r.q("after").map(|c| c.trim_start_matches('c').parse::<i64>().unwrap()).unwrap_or(0);
        let recs = items(after..(after + 2).min(5));
        let next = if after + 2 < 5 { json!(format!("c{}", after + 2)) } else { Value::Null };
        ok(json!({"items": recs, "paging": {"next_cursor": next}}))
    });
    let s = spec(one_resource(
        &server.url(),
        json!({"type": "oauth2_client_credentials", "token_url": format!("{}/oauth/token", server.url()), "client_id": "cid", "client_secret": "c-secret", "scope": "read"}),
        json!({"type": "cursor", "cursor_path": "paging.next_cursor", "cursor_param": "after"}),
        json!({"path": "list", "data_selector": "items"}),
    ));
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), items(0..5));
    assert_eq!(tokens.load(Ordering::SeqCst), 1, "the token is reused across pages");
    assert_eq!(out.requests, 4);
    let cursors: Vec<Option<String>> = server.requests().iter().skip(1).map(|r| r.q("after").map(String::from)).collect();
    assert_eq!(cursors, vec![None, Some("c2".into()), Some("c4".into())]);

    let mut bad = s.clone();
    if let rdbt::ingest::spec::AuthSpec::OAuth2ClientCredentials { client_secret, .. } = &mut bad.client.auth {
        *client_secret = "wrong-secret".into();
    }
    let e = fetch_all(&bad, &[], &fast()).unwrap_err();
    assert!(matches!(e, FetchError::Resource { .. }), "{e:?}");
    assert!(e.to_string().contains("HTTP 401") && !e.to_string().contains("wrong-secret"), "{e}");
}

#[test]
fn json_link_with_oauth2_refresh_token_refreshes_on_401() {
    // The first access token is refused once (expired early); the client must
    // refresh exactly once and go on with the rotated refresh token.
    let issued = Arc::new(AtomicUsize::new(0));
    let i2 = issued.clone();
    let server = Server::start(move |r| {
        if r.path == "/token" {
            let f = r.form();
            let n = i2.load(Ordering::SeqCst);
            let expected_refresh = if n == 0 { "rt-0" } else { "rt-1" };
            if f.get("grant_type").map(String::as_str) != Some("refresh_token")
                || f.get("client_id").map(String::as_str) != Some("app")
                || f.get("client_secret").map(String::as_str) != Some("app-secret")
                || f.get("refresh_token").map(String::as_str) != Some(expected_refresh)
            {
                return status(400, "{\"error\":\"invalid_grant\"}");
            }
            i2.fetch_add(1, Ordering::SeqCst);
            return ok(json!({"access_token": format!("acc-{}", n + 1), "refresh_token": "rt-1", "expires_at": 4102444800i64}));
        }
        let auth = r.h("authorization").unwrap_or("");
        if auth == "Bearer acc-1" && r.q("page") == Some("2") {
            return status(401, "token expired");
        }
        if auth != "Bearer acc-1" && auth != "Bearer acc-2" {
            return status(401, "who?");
        }
        match r.q("page") {
            None => ok(json!({"rows": items(0..2), "links": {"next": "/v2/rows?page=2"}})),
            Some("2") => ok(json!({"rows": items(2..4), "links": {"next": "rows?page=3"}})),
            _ => ok(json!({"rows": items(4..5), "links": {"next": null}})),
        }
    });
    let s = spec(one_resource(
        &format!("{}/v2", server.url()),
        json!({"type": "oauth2_refresh_token", "token_url": format!("{}/token", server.url()), "client_id": "app", "client_secret": "app-secret", "refresh_token": "rt-0"}),
        json!({"type": "json_link", "next_url_path": "links.next"}),
        json!({"path": "rows", "data_selector": "rows"}),
    ));
    let (pages, _) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), items(0..5));
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let seen: Vec<String> = server.requests().iter().map(|r| format!("{} {}", r.path, r.q("page").unwrap_or("-"))).collect();
    assert_eq!(seen, vec!["/token -", "/v2/rows -", "/v2/rows 2", "/token -", "/v2/rows 2", "/v2/rows 3"]);
}

#[test]
fn header_link_and_header_cursor() {
    let server = Server::start(move |r| {
        let page = r.qi("page", 1);
        let mut resp = ok(json!(items(page * 10..page * 10 + 1)));
        if r.path == "/linked" && page < 3 {
            let port = r.h("host").unwrap_or("").to_string();
            resp.headers.push(("Link".into(), format!("<http://{port}/linked?page={}>; rel=\"next\", <http://{port}/linked?page=3>; rel=\"last\"", page + 1)));
        }
        if r.path == "/cursored" {
            let c = r.qi("cursor", 0);
            if c < 2 {
                resp.headers.push(("X-Next-Cursor".into(), (c + 1).to_string()));
            }
            resp.body = json!([{"cursor": c}]).to_string();
        }
        resp
    });
    let s = spec(json!({
        "name": "api", "client": {"base_url": server.url(), "paginator": "header_link"},
        "resources": [
            {"name": "linked", "endpoint": {"path": "linked", "params": {"page": 1}}},
            {"name": "cursored", "endpoint": {"path": "cursored", "paginator": {"type": "header_cursor", "cursor_key": "x-next-cursor"}}}
        ]
    }));
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "linked"), [10, 20, 30].iter().map(|&i| json!({"id": i, "name": format!("item {i}")})).collect::<Vec<_>>());
    assert_eq!(records_of(&pages, "cursored"), vec![json!({"cursor": 0}), json!({"cursor": 1}), json!({"cursor": 2})]);
    assert_eq!(out.resources.iter().map(|r| (r.resource.as_str(), r.pages)).collect::<Vec<_>>(), vec![("linked", 3), ("cursored", 3)]);
    let cursors: Vec<Option<String>> = server.requests().iter().filter(|r| r.path == "/cursored").map(|r| r.q("cursor").map(String::from)).collect();
    assert_eq!(cursors, vec![None, Some("1".into()), Some("2".into())]);
}

#[test]
fn single_page_is_the_default() {
    let server = Server::start(|_| ok(json!({"id": 1, "page": 1, "next": "/x?page=2"})));
    let s = spec(one_resource(&server.url(), Value::Null, Value::Null, json!({"path": "me"})));
    let (pages, _) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), vec![json!({"id": 1, "page": 1, "next": "/x?page=2"})]);
    assert_eq!(server.requests().len(), 1);
}

// ---------------------------------------------------------------------------
// Faults

#[test]
fn retries_429_with_retry_after_and_500_then_succeeds() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let server = Server::start(move |_| match n2.fetch_add(1, Ordering::SeqCst) {
        0 => Resp { status: 429, headers: vec![("Retry-After".into(), "3600".into())], body: "slow down".into() },
        1 => status(500, "boom"),
        2 => status(503, "<html>unavailable</html>"),
        _ => ok(json!([{"ok": true}])),
    });
    let s = spec(one_resource(&server.url(), Value::Null, Value::Null, json!({"path": "flaky"})));
    let started = Instant::now();
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "items"), vec![json!({"ok": true})]);
    assert_eq!(out.requests, 4);
    // Retry-After 3600 is capped at 50ms; the backoffs are 10ms + 20ms.
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    // Attempts run out: the last status is the error.
    n.store(1, Ordering::SeqCst);
    let mut opts = fast();
    opts.retry.as_mut().unwrap().max_attempts = 2;
    let e = fetch_all(&s, &[], &opts).unwrap_err();
    assert!(matches!(&e, FetchError::Request { status: Some(503), .. }), "{e:?}");
    assert!(e.to_string().contains("unavailable"), "{e}");
}

#[test]
fn connection_errors_are_retried_then_reported() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = spec(one_resource(&format!("http://127.0.0.1:{port}"), Value::Null, Value::Null, json!({"path": "x"})));
    let e = fetch_all(&s, &[], &fast()).unwrap_err();
    match &e {
        FetchError::Request { status: None, message, .. } => assert!(message.contains("after 4 attempt"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_json_body_names_resource_page_and_scrubbed_url() {
    let server = Server::start(|r| match r.qi("page", 0) {
        0 => ok(json!([{"id": 1}])),
        _ => Resp { status: 200, headers: vec![("Content-Type".into(), "text/html".into())], body: "<html>maintenance</html>".into() },
    });
    let s = spec(one_resource(
        &server.url(),
        json!({"type": "api_key", "name": "key", "api_key": "very-secret", "location": "query"}),
        json!({"type": "page_number"}),
        json!({"path": "x"}),
    ));
    let e = fetch_all(&s, &[], &fast()).unwrap_err();
    match &e {
        FetchError::Request { resource, page, url, message, .. } => {
            assert_eq!((resource.as_str(), *page), ("items", 1));
            assert_eq!(url, &format!("{}/x?page=1&key=*****", server.url()));
            assert!(message.contains("not valid JSON") && message.contains("<html>maintenance"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.to_string().contains("very-secret"));
}

#[test]
fn data_selector_that_does_not_match_is_an_error() {
    let server = Server::start(|_| ok(json!({"result": []})));
    let s = spec(one_resource(&server.url(), Value::Null, Value::Null, json!({"path": "x", "data_selector": "data.items"})));
    let e = fetch_all(&s, &[], &fast()).unwrap_err();
    assert!(e.to_string().contains("data_selector `data.items` does not match"), "{e}");
    assert!(matches!(e, FetchError::Request { page: 0, .. }));
}

// ---------------------------------------------------------------------------
// Parent → child

#[test]
fn child_resources_resolve_from_each_parent_record() {
    let server = Server::start(|r| {
        if r.path == "/posts" {
            return match r.qi("page", 1) {
                1 => ok(json!({"posts": [{"id": 1, "title": "a", "author": {"name": "ann"}}, {"id": 2, "title": "b", "author": {"name": "bob"}}]})),
                2 => ok(json!({"posts": [{"id": 3, "title": "c", "author": {"name": "cy"}}]})),
                _ => ok(json!({"posts": []})),
            };
        }
        // /posts/{id}/comments
        let id: i64 = r.path.split('/').nth(2).unwrap().parse().unwrap();
        if id == 2 {
            return status(404, "{\"error\":\"no comments\"}");
        }
        ok(json!([{"cid": id * 10, "lang": r.q("lang")}]))
    });
    let s = spec(json!({
        "name": "blog", "client": {"base_url": server.url(), "paginator": {"type": "page_number", "base_page": 1}},
        "resources": [
            {"name": "posts", "endpoint": {"path": "posts", "data_selector": "posts"}},
            {"name": "comments", "include_from_parent": ["title", "author.name"],
             "endpoint": {"path": "posts/{post_id}/comments", "paginator": "single_page",
                "params": {"post_id": {"type": "resolve", "resource": "posts", "field": "id"}, "lang": "en"},
                "response_actions": [{"status_code": 404, "action": "ignore"}]}}
        ]
    }));
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    let order: Vec<(String, usize)> = pages.iter().map(|p| (p.0.clone(), p.1)).collect();
    assert_eq!(
        order,
        vec![("posts".into(), 0), ("comments".into(), 0), ("posts".into(), 1), ("comments".into(), 0), ("posts".into(), 2)],
        "children follow each parent page"
    );
    assert_eq!(
        records_of(&pages, "comments"),
        vec![
            json!({"cid": 10, "lang": "en", "_posts_title": "a", "_posts_author_name": "ann"}),
            json!({"cid": 30, "lang": "en", "_posts_title": "c", "_posts_author_name": "cy"}),
        ]
    );
    assert_eq!(records_of(&pages, "posts").len(), 3);
    let comment_paths: Vec<String> = server.requests().iter().filter(|r| r.path.contains("comments")).map(|r| r.path.clone()).collect();
    assert_eq!(comment_paths, vec!["/posts/1/comments", "/posts/2/comments", "/posts/3/comments"]);
    assert_eq!(out.resources[1].records, 2);

    // Unselected parents still drive their children.
    let mut s2 = s.clone();
    s2.resources[0].selected = false;
    let (pages, _) = fetch_all(&s2, &[], &fast()).unwrap();
    assert!(pages.iter().all(|p| p.0 == "comments"));
}

#[test]
fn resources_placeholder_in_path_and_params() {
    let server = Server::start(|r| {
        if r.path == "/users" {
            return ok(json!([{"id": "u/1", "org": {"slug": "acme"}}, {"id": "u2", "org": {"slug": "beta"}}]));
        }
        ok(json!([{"path": r.path, "org": r.q("org")}]))
    });
    let s = spec(json!({
        "name": "x", "client": {"base_url": server.url()},
        "resources": [
            {"name": "users"},
            {"name": "repos", "endpoint": {"path": "users/{resources.users.id}/repos", "params": {"org": "{resources.users.org.slug}"}}}
        ]
    }));
    let (pages, _) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(
        records_of(&pages, "repos"),
        vec![json!({"path": "/users/u%2F1/repos", "org": "acme"}), json!({"path": "/users/u2/repos", "org": "beta"})],
        "path values are percent-encoded"
    );
}

// ---------------------------------------------------------------------------
// Incremental

fn events_server() -> Server {
    // Events every hour from 2024-01-01T00:00Z; `since` is epoch seconds.
    Server::start(|r| {
        let since: i64 = r.q("since").and_then(|s| s.parse().ok()).unwrap_or(0);
        let base = 1704067200i64;
        let all: Vec<Value> = (0..6)
            .map(|h| {
                let t = chrono::DateTime::from_timestamp(base + h * 3600, 0).unwrap();
                json!({"id": h, "updated_at": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
            })
            .collect();
        // A sloppy API: returns everything from one hour before `since`.
        let recs: Vec<Value> = all
            .into_iter()
            .filter(|e| {
                let t = chrono::DateTime::parse_from_rfc3339(e["updated_at"].as_str().unwrap()).unwrap().timestamp();
                t >= since - 3600
            })
            .collect();
        ok(json!({"events": recs, "until": r.q("until")}))
    })
}

#[test]
fn incremental_with_convert_and_lag() {
    let server = events_server();
    let s = spec(json!({
        "name": "ev", "client": {"base_url": server.url()},
        "resources": [{"name": "events", "endpoint": {"path": "events", "data_selector": "events",
            "incremental": {"cursor_path": "updated_at", "start_param": "since", "initial_value": "2024-01-01T02:00:00Z",
                            "convert": "epoch", "lag": 1800}}}]
    }));
    // First run: no state → initial value, converted.
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    let ids: Vec<i64> = records_of(&pages, "events").iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![2, 3, 4, 5], "records before the start value are filtered");
    assert_eq!(server.requests()[0].q("since"), Some("1704074400"));
    assert_eq!(out.states, vec![CursorState { resource: "events".into(), last_value: json!("2024-01-01T05:00:00Z") }]);

    // Next run: last value 04:00 minus a 30 minute lag → since=03:30.
    let state = CursorState { resource: "events".into(), last_value: json!("2024-01-01T04:00:00Z") };
    let (pages, out) = fetch_all(&s, &[state], &fast()).unwrap();
    assert_eq!(server.requests()[1].q("since"), Some("1704079800"));
    let ids: Vec<i64> = records_of(&pages, "events").iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![4, 5], "the lag window is fetched again; 03:00 is before the start");
    assert_eq!(out.states[0].last_value, json!("2024-01-01T05:00:00Z"));
}

#[test]
fn incremental_placeholders_and_end_value() {
    let server = events_server();
    let s = spec(json!({
        "name": "ev", "client": {"base_url": server.url()},
        "resources": [{"name": "events", "endpoint": {"path": "events", "data_selector": "events",
            "params": {"since": "{incremental.start_value}", "until": "{incremental.end_value}"},
            "incremental": {"cursor_path": "updated_at", "initial_value": 1704070800, "end_value": 1704078000, "convert": "iso"}}}]
    }));
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.q("since"), Some("2024-01-01T01:00:00Z"));
    assert_eq!(r.q("until"), Some("2024-01-01T03:00:00Z"));
    // ISO cursor values against numeric bounds compare as instants; the end is open.
    let ids: Vec<i64> = records_of(&pages, "events").iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![1, 2]);
    assert!(out.states.is_empty());
}

#[test]
fn incremental_numeric_cursor_filters_range_and_backfill_keeps_state() {
    let server = Server::start(|_| ok(json!((1..=8).map(|i| json!({"seq": i})).collect::<Vec<_>>())));
    let s = spec(json!({
        "name": "n", "client": {"base_url": server.url()},
        "resources": [{"name": "seqs", "endpoint": {"path": "s", "method": "POST",
            "json": {"from": "{incremental.start_value}", "to": "{incremental.end_value}", "label": "from {incremental.start_value}"},
            "incremental": {"cursor_path": "seq", "initial_value": 3, "end_value": 6, "convert": "epoch"}}}]
    }));
    let (pages, out) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&pages, "seqs"), (3..6).map(|i| json!({"seq": i})).collect::<Vec<_>>());
    assert!(out.states.is_empty(), "a backfill with end_value stores no state");
    let r = &server.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), json!({"from": 3, "to": 6, "label": "from 3"}));
    assert_eq!(r.h("content-type"), Some("application/json"));
}

// ---------------------------------------------------------------------------
// Record / replay

#[test]
fn record_then_replay_without_network() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(|r| {
        if r.path == "/oauth/token" {
            return ok(json!({"access_token": "live-access-token", "expires_in": 600}));
        }
        if r.h("authorization") != Some("Bearer live-access-token") {
            return status(401, "no");
        }
        let page = r.qi("page", 0);
        let mut resp = ok(json!({"data": items(page * 2..page * 2 + 2)}));
        if page < 2 {
            resp.headers.push(("Link".into(), format!("</items?page={}>; rel=\"next\"", page + 1)));
        }
        resp
    });
    let mut s = spec(one_resource(
        &server.url(),
        json!({"type": "oauth2_client_credentials", "token_url": format!("{}/oauth/token", server.url()), "client_id": "id", "client_secret": "cs-secret"}),
        json!("header_link"),
        json!({"path": "items", "data_selector": "data"}),
    ));
    s.record_dir = Some(dir.path().to_path_buf());
    let (live, _) = fetch_all(&s, &[], &fast()).unwrap();
    assert_eq!(records_of(&live, "items"), items(0..6));
    server.shutdown();

    let mut files: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("GET_items_page_1-")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("POST_oauth_token-")), "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(!text.contains("live-access-token") && !text.contains("cs-secret"), "{f}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["response"]["status"], json!(200));
    }

    // Replay: the server is gone, the same pages come back.
    let replay = FetchOptions { replay_dir: Some(dir.path().to_path_buf()), ..fast() };
    let mut s2 = s.clone();
    s2.record_dir = None;
    let (replayed, out) = fetch_all(&s2, &[], &replay).unwrap();
    assert_eq!(replayed, live);
    assert_eq!(out.requests, 4);

    // A request that was never recorded is named in the error.
    s2.resources[0].endpoint.path = "other".into();
    let e = fetch_all(&s2, &[], &replay).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("no recording of GET") && msg.contains("/other"), "{msg}");
}

#[test]
fn page_callback_errors_stop_the_run() {
    let server = Server::start(|r| ok(json!([{"p": r.qi("page", 0)}])));
    let s = spec(one_resource(&server.url(), Value::Null, json!({"type": "page_number", "maximum_page": 10}), json!({"path": "x"})));
    let mut seen = 0;
    let r = fetch::run(&s, &[], &fast(), &mut |_, _| {
        seen += 1;
        if seen == 2 { Err("disk full") } else { Ok(()) }
    });
    assert!(matches!(r, Err(RunError::Sink("disk full"))));
    assert_eq!(server.requests().len(), 2);
}
