//! The HTTP layer of ingest: URLs, one request/response shape, retries with
//! backoff, and the switch between the network (`ureq`, rustls for https)
//! and a replay directory. Everything that can end up in an error message or
//! a recording goes through [`Scrubber`] first.

use std::path::PathBuf;
use std::time::Duration;

use super::record;
use super::spec::{Method, RetrySpec};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub method: Method,
    /// Full URL including the query string.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Content type and bytes.
    pub body: Option<(String, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Response {
    pub status: u16,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// Masks secrets: the values of auth query parameters, every secret string
/// (tokens, passwords, keys, access tokens obtained during the run), and the
/// `DBT_ENV_SECRET_*` values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
    query_names: Vec<String>,
}

pub(crate) const MASK: &str = "*****";

impl Scrubber {
    pub fn add_secret(&mut self, s: &str) {
        // Very short strings would mask innocent text everywhere.
        if s.len() >= 3 && !self.secrets.iter().any(|x| x == s) {
            self.secrets.push(s.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
    pub fn add_query_name(&mut self, name: &str) {
        self.query_names.push(name.to_string());
    }

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
            // The secret as it appears percent-encoded in a URL or form.
            let enc = encode_component(s);
            if enc != *s && out.contains(enc.as_str()) {
                out = out.replace(enc.as_str(), MASK);
            }
        }
        crate::diag::scrub_secrets(&out).into_owned()
    }

    pub fn url(&self, url: &str) -> String {
        let masked = match url.split_once('?') {
            Some((base, query)) if !self.query_names.is_empty() => {
                let parts: Vec<String> = query
                    .split('&')
                    .map(|kv| {
                        let k = kv.split('=').next().unwrap_or("");
                        if self.query_names.iter().any(|n| encode_component(n) == k || n == k) { format!("{k}={MASK}") } else { kv.to_string() }
                    })
                    .collect();
                format!("{base}?{}", parts.join("&"))
            }
            _ => url.to_string(),
        };
        self.text(&masked)
    }
}

/// Percent-encode a query component (RFC 3986 unreserved characters stay).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode a path segment value (as a component, `/` included).
pub(crate) fn encode_path_value(s: &str) -> String {
    encode_component(s)
}

#[cfg(test)]
pub(crate) fn decode_component(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `base` joined with `path`: an absolute `path` wins; otherwise exactly one
/// `/` between them (dlt joins the same way, whether or not `base_url`
/// ends with a slash).
pub(crate) fn join_url(base: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_string();
    }
    if path.is_empty() {
        return base.to_string();
    }
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// A link from a response (`next` URL) resolved against the request URL.
pub(crate) fn resolve_link(current: &str, link: &str) -> String {
    if link.starts_with("http://") || link.starts_with("https://") {
        return link.to_string();
    }
    let (scheme, rest) = current.split_once("://").unwrap_or(("http", current));
    let host_end = rest.find('/').or_else(|| rest.find('?')).unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..host_end]);
    if let Some(l) = link.strip_prefix("//") {
        return format!("{scheme}://{l}");
    }
    if link.starts_with('/') {
        return format!("{origin}{link}");
    }
    let path = rest[host_end..].split('?').next().unwrap_or("");
    if link.starts_with('?') {
        return format!("{origin}{path}{link}");
    }
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!("{origin}{dir}{link}")
}

/// `url` with `params` appended to its query string (encoded).
pub(crate) fn with_query(url: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return url.to_string();
    }
    let mut out = url.to_string();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(&encode_component(k));
        out.push('=');
        out.push_str(&encode_component(v));
        sep = '&';
    }
    out
}

/// The query parameters of a URL, decoded, in order.
#[cfg(test)]
pub(crate) fn query_pairs(url: &str) -> Vec<(String, String)> {
    let Some((_, q)) = url.split_once('?') else { return vec![] };
    let q = q.split('#').next().unwrap_or("");
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(kv), String::new()),
        })
        .collect()
}

/// Why a request failed for good.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum SendError {
    #[error("{message} (after {attempts} attempt(s))")]
    Network { message: String, attempts: u32 },
    #[error("no recording of {method} {url} in {dir} (expected file {file}); record it first with record_dir")]
    ReplayMissing { method: String, url: String, dir: String, file: String },
    #[error("{0}")]
    Recording(String),
}

/// Sends requests: over the network (with retries) or from a replay
/// directory, recording final responses when asked.
pub(crate) struct Transport {
    agent: Option<ureq::Agent>,
    replay_dir: Option<PathBuf>,
    record_dir: Option<PathBuf>,
    retry: RetrySpec,
    /// Requests attempted (each retry counts).
    pub requests: usize,
    pub scrub: Scrubber,
}

impl Transport {
    pub fn new(
        timeout: Duration,
        connect_timeout: Duration,
        retry: RetrySpec,
        record_dir: Option<PathBuf>,
        replay_dir: Option<PathBuf>,
        scrub: Scrubber,
    ) -> Transport {
        let agent = replay_dir.is_none().then(|| {
            let config = ureq::Agent::config_builder()
                // Status codes are ours to interpret (retries, response actions).
                .http_status_as_error(false)
                .timeout_connect(Some(connect_timeout))
                .timeout_recv_response(Some(timeout))
                .timeout_recv_body(Some(timeout))
                .user_agent(concat!("rdbt/", env!("CARGO_PKG_VERSION")))
                .build();
            ureq::Agent::new_with_config(config)
        });
        Transport { agent, replay_dir, record_dir, retry, requests: 0, scrub }
    }

    pub fn send(&mut self, req: &Request) -> Result<Response, SendError> {
        if let Some(dir) = &self.replay_dir {
            self.requests += 1;
            let key = record::Key::of(req, &self.scrub);
            return record::load(dir, &key).map_err(SendError::Recording)?.ok_or_else(|| SendError::ReplayMissing {
                method: key.method.clone(),
                url: key.url.clone(),
                dir: dir.display().to_string(),
                file: key.file_name(),
            });
        }
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.requests += 1;
            let last = attempt >= self.retry.max_attempts;
            match self.send_once(req) {
                Ok(resp) if retryable_status(resp.status) && !last => {
                    let wait = retry_after(&resp, self.retry.max_retry_after).unwrap_or_else(|| self.backoff(attempt));
                    std::thread::sleep(wait);
                }
                Ok(resp) => {
                    if let Some(dir) = &self.record_dir {
                        let key = record::Key::of(req, &self.scrub);
                        record::save(dir, &key, &resp, &self.scrub).map_err(SendError::Recording)?;
                    }
                    return Ok(resp);
                }
                Err((message, retryable)) if retryable && !last => {
                    let _ = message;
                    std::thread::sleep(self.backoff(attempt));
                }
                Err((message, _)) => return Err(SendError::Network { message: self.scrub.text(&message), attempts: attempt }),
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.retry.base_delay.saturating_mul(factor).min(self.retry.max_delay)
    }

    /// One attempt; an error says whether it is worth retrying.
    fn send_once(&self, req: &Request) -> Result<Response, (String, bool)> {
        let Some(agent) = &self.agent else { return Err(("no network client".into(), false)) };
        let result = match (&req.method, &req.body) {
            (Method::Get, _) => {
                let mut b = agent.get(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                b.call()
            }
            (Method::Post, body) => {
                let mut b = agent.post(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                match body {
                    Some((ct, bytes)) => b.header("Content-Type", ct.as_str()).send(&bytes[..]),
                    None => b.send_empty(),
                }
            }
        };
        let mut resp = result.map_err(|e| (e.to_string(), retryable_error(&e)))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| (format!("reading the response body: {e}"), retryable_error(&e)))?;
        Ok(Response { status, headers, body })
    }
}

fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

fn retryable_error(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::BodyStalled
    )
}

/// The wait a `Retry-After` header asks for: seconds or an HTTP date, capped.
pub(crate) fn retry_after(resp: &Response, cap: Duration) -> Option<Duration> {
    let v = resp.header("retry-after")?.trim();
    let wait = match v.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return None,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            let ms = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
            Duration::from_millis(ms.max(0) as u64)
        }
    };
    Some(wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(join_url("https://a.com/v1/", "/items"), "https://a.com/v1/items");
        assert_eq!(join_url("https://a.com/v1", "items"), "https://a.com/v1/items");
        assert_eq!(join_url("https://a.com/v1", "https://b.com/x"), "https://b.com/x");
        assert_eq!(resolve_link("http://h:1/v1/items?page=1", "/v1/items?page=2"), "http://h:1/v1/items?page=2");
        assert_eq!(resolve_link("http://h:1/v1/items?page=1", "?page=2"), "http://h:1/v1/items?page=2");
        assert_eq!(resolve_link("http://h:1/v1/items?page=1", "more?page=2"), "http://h:1/v1/more?page=2");
        assert_eq!(resolve_link("http://h:1/v1/items", "https://x.org/p"), "https://x.org/p");
        let u = with_query("http://h/x", &[("a b".into(), "c&d=é".into())]);
        assert_eq!(u, "http://h/x?a%20b=c%26d%3D%C3%A9");
        assert_eq!(query_pairs(&u), vec![("a b".to_string(), "c&d=é".to_string())]);
    }

    #[test]
    fn scrubbing() {
        let mut s = Scrubber::default();
        s.add_query_name("api_key");
        s.add_secret("tok/en+1");
        assert_eq!(s.url("http://h/x?a=1&api_key=zzz&b=2"), "http://h/x?a=1&api_key=*****&b=2");
        assert_eq!(s.text("Bearer tok/en+1 and tok%2Fen%2B1"), "Bearer ***** and *****");
    }

    #[test]
    fn retry_after_forms() {
        let r = |v: &str| Response { status: 429, headers: vec![("retry-after".into(), v.into())], body: vec![] };
        assert_eq!(retry_after(&r("2"), Duration::from_secs(60)), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&r("7200"), Duration::from_secs(60)), Some(Duration::from_secs(60)));
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after(&r(past), Duration::from_secs(60)), Some(Duration::ZERO));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let d = retry_after(&r(&future), Duration::from_secs(60)).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(retry_after(&r("soon"), Duration::from_secs(60)), None);
    }
}
