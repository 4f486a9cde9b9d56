//! Record/replay of HTTP exchanges: one pretty-printed JSON file per request
//! in a flat directory, named from the request so that a replay finds it:
//!
//! ```text
//! <dir>/GET_v1_items_page_2-5c1f0e9a3b7d2c41.json
//! {
//!   "request": {"method": "GET", "url": "http://host/v1/items?page=2", "body_sha256": null},
//!   "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": {...}}
//! }
//! ```
//!
//! The name is a readable slug of the path and query plus the first 16 hex
//! digits of SHA-256 over method, scrubbed path and query (not the host, so
//! a recording replays under another base URL) and body hash. Secrets never
//! reach the files: the URL is scrubbed (auth query params masked), the
//! request body is only hashed after scrubbing, auth headers are not part of
//! the key, and secret strings in response bodies, as well as the values of
//! `access_token`/`refresh_token`/`id_token`/`client_secret`/`password`
//! keys (an OAuth token response), are masked. A body that is JSON is stored as JSON (`body`), any other
//! body as text (`body_text`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::http::{Request, Response, Scrubber};

/// What identifies a request in a recording.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub method: String,
    /// Scrubbed.
    pub url: String,
    pub body_sha256: Option<String>,
}

/// Response headers not worth keeping: volatile, per-connection, or cookies.
const DROP_HEADERS: &[&str] = &[
    "date", "server", "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "set-cookie", "cookie",
    "authorization", "proxy-authenticate", "www-authenticate", "age", "expires", "via", "alt-svc", "strict-transport-security",
];

impl Key {
    pub fn of(req: &Request, scrub: &Scrubber) -> Key {
        let body_sha256 = req.body.as_ref().map(|(_, b)| hex(&Sha256::digest(scrub.text(&String::from_utf8_lossy(b)).as_bytes())));
        Key { method: req.method.as_str().to_string(), url: scrub.url(&req.url), body_sha256 }
    }

    pub fn file_name(&self) -> String {
        // Path and query after the host: a recording made against one
        // server (a local fake, staging) replays under another base URL.
        let after_scheme = self.url.split_once("://").map_or(self.url.as_str(), |(_, r)| r);
        let tail = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
        let mut h = Sha256::new();
        h.update(self.method.as_bytes());
        h.update(b"\n");
        h.update(tail.as_bytes());
        h.update(b"\n");
        h.update(self.body_sha256.as_deref().unwrap_or("").as_bytes());
        let digest = hex(&h.finalize());
        let mut slug = String::new();
        for c in tail.chars() {
            if c.is_ascii_alphanumeric() || c == '-' {
                slug.push(c);
            } else if !slug.ends_with('_') {
                slug.push('_');
            }
        }
        let slug: String = slug.trim_matches('_').chars().take(80).collect();
        let slug = slug.trim_end_matches('_');
        if slug.is_empty() { format!("{}-{}.json", self.method, &digest[..16]) } else { format!("{}_{slug}-{}.json", self.method, &digest[..16]) }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn save(dir: &Path, key: &Key, resp: &Response, scrub: &Scrubber) -> Result<PathBuf, String> {
    let path = dir.join(key.file_name());
    let mut headers = Map::new();
    for (k, v) in &resp.headers {
        if !DROP_HEADERS.contains(&k.as_str()) {
            headers.insert(k.clone(), Value::String(scrub.text(v)));
        }
    }
    let text = scrub.text(&String::from_utf8_lossy(&resp.body));
    let mut response = Map::new();
    response.insert("status".into(), json!(resp.status));
    response.insert("headers".into(), Value::Object(headers));
    match serde_json::from_str::<Value>(&text) {
        Ok(mut v) => {
            mask_credentials(&mut v);
            response.insert("body".into(), v)
        }
        Err(_) => response.insert("body_text".into(), Value::String(text)),
    };
    let doc = json!({
        "request": {"method": key.method, "url": key.url, "body_sha256": key.body_sha256},
        "response": Value::Object(response),
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    crate::artifacts::write_atomic(&path, |w| w.write_all(&bytes)).map_err(|e| format!("cannot write recording {}: {e}", path.display()))?;
    Ok(path)
}

/// Keys whose values are credentials wherever they appear in a JSON body:
/// a token response is recorded before its token is known as a secret.
const CREDENTIAL_KEYS: &[&str] = &["access_token", "refresh_token", "id_token", "client_secret", "password"];

fn mask_credentials(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if CREDENTIAL_KEYS.contains(&k.as_str()) && x.is_string() {
                    *x = Value::String(super::http::MASK.into());
                } else {
                    mask_credentials(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_credentials),
        _ => {}
    }
}

/// The recorded response of `key`, `None` when there is no recording.
pub(crate) fn load(dir: &Path, key: &Key) -> Result<Option<Response>, String> {
    let path = dir.join(key.file_name());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read recording {}: {e}", path.display())),
    };
    let bad = |why: &str| format!("recording {} is malformed: {why}", path.display());
    let doc: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    let r = doc.get("response").and_then(Value::as_object).ok_or_else(|| bad("no `response` object"))?;
    let status = r.get("status").and_then(Value::as_u64).filter(|s| (100..600).contains(s)).ok_or_else(|| bad("no valid `response.status`"))? as u16;
    let headers = match r.get("headers") {
        Some(Value::Object(h)) => h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_string())).collect(),
        _ => vec![],
    };
    let body = match (r.get("body"), r.get("body_text")) {
        (Some(v), _) => serde_json::to_vec(v).map_err(|e| bad(&e.to_string()))?,
        (None, Some(Value::String(t))) => t.as_bytes().to_vec(),
        _ => vec![],
    };
    Ok(Some(Response { status, headers, body }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::spec::Method;

    #[test]
    fn names_are_stable_readable_and_secret_free() {
        let mut s = Scrubber::default();
        s.add_query_name("key");
        let req = |key: &str| Request { method: Method::Get, url: format!("http://h:1/v1/items?page=2&key={key}"), headers: vec![], body: None };
        let a = Key::of(&req("one"), &s);
        let b = Key::of(&req("two"), &s);
        assert_eq!(a, b, "the api key is not part of the key");
        let name = a.file_name();
        assert!(name.starts_with("GET_v1_items_page_2_key-"), "{name}");
        assert!(!name.contains("one"));
        let post = Request { method: Method::Post, url: "http://h:1/q".into(), headers: vec![], body: Some(("application/json".into(), b"{\"a\":1}".to_vec())) };
        let post2 = Request { body: Some(("application/json".into(), b"{\"a\":2}".to_vec())), ..post.clone() };
        assert_ne!(Key::of(&post, &s).file_name(), Key::of(&post2, &s).file_name());
    }

    #[test]
    fn save_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scrubber::default();
        s.add_secret("sekrit-token");
        let key = Key { method: "POST".into(), url: "http://h/token".into(), body_sha256: Some("ab".into()) };
        let resp = Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into()), ("date".into(), "x".into()), ("link".into(), "<a>; rel=\"next\"".into())],
            body: br#"{"access_token":"sekrit-token","expires_in":60}"#.to_vec(),
        };
        let path = save(dir.path(), &key, &resp, &s).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("sekrit"), "{text}");
        assert!(!text.contains("\"date\""));
        let back = load(dir.path(), &key).unwrap().unwrap();
        assert_eq!(back.status, 200);
        assert_eq!(back.header("link"), Some("<a>; rel=\"next\""));
        assert_eq!(serde_json::from_slice::<Value>(&back.body).unwrap(), json!({"access_token": "*****", "expires_in": 60}));
        let text_resp = Response { status: 500, headers: vec![], body: b"<html>oops</html>".to_vec() };
        let k2 = Key { url: "http://h/other".into(), ..key.clone() };
        save(dir.path(), &k2, &text_resp, &s).unwrap();
        assert_eq!(load(dir.path(), &k2).unwrap().unwrap().body, b"<html>oops</html>".to_vec());
        assert_eq!(load(dir.path(), &Key { url: "http://h/none".into(), ..key }).unwrap(), None);
    }
}
