//! Authentication of ingest requests: static credentials are added to each
//! request; OAuth2 access tokens are fetched from the token endpoint (client
//! credentials or refresh token grant), reused until they expire, and fetched
//! again once when the API answers 401.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{Request, Scrubber, Transport, encode_component};
use super::spec::{ApiKeyLocation, AuthSpec, Method};

/// Refresh this long before the token's stated expiry, so that a page
/// request does not race the expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

pub(crate) struct Auth {
    spec: AuthSpec,
    token: Option<(String, Option<Instant>)>,
    /// The current refresh token: providers that rotate it return a new one.
    refresh_token: Option<String>,
}

impl Auth {
    /// Registers the auth's secrets (and api key query parameter) with `scrub`.
    pub fn new(spec: &AuthSpec, scrub: &mut Scrubber) -> Auth {
        for s in spec.secrets() {
            scrub.add_secret(&s);
        }
        if let AuthSpec::ApiKey { name, location: ApiKeyLocation::Query, .. } = spec {
            scrub.add_query_name(name);
        }
        if let AuthSpec::HttpBasic { username, password } = spec {
            scrub.add_secret(&base64(format!("{username}:{password}").as_bytes()));
        }
        let refresh_token = match spec {
            AuthSpec::OAuth2RefreshToken { refresh_token, .. } => Some(refresh_token.clone()),
            _ => None,
        };
        Auth { spec: spec.clone(), token: None, refresh_token }
    }

    /// Whether a 401 may be answered by fetching a new token.
    pub fn can_refresh(&self) -> bool {
        matches!(self.spec, AuthSpec::OAuth2ClientCredentials { .. } | AuthSpec::OAuth2RefreshToken { .. })
    }

    /// Forget the access token (the API rejected it).
    pub fn invalidate(&mut self) {
        self.token = None;
    }

    /// Headers and query parameters carrying the credentials.
    pub fn credentials(&mut self, t: &mut Transport) -> Result<(Vec<(String, String)>, Vec<(String, String)>), String> {
        Ok(match &self.spec {
            AuthSpec::None => (vec![], vec![]),
            AuthSpec::Bearer { token } => (vec![("Authorization".into(), format!("Bearer {token}"))], vec![]),
            AuthSpec::ApiKey { name, api_key, location: ApiKeyLocation::Header } => (vec![(name.clone(), api_key.clone())], vec![]),
            AuthSpec::ApiKey { name, api_key, location: ApiKeyLocation::Query } => (vec![], vec![(name.clone(), api_key.clone())]),
            AuthSpec::HttpBasic { username, password } => {
                (vec![("Authorization".into(), format!("Basic {}", base64(format!("{username}:{password}").as_bytes())))], vec![])
            }
            AuthSpec::OAuth2ClientCredentials { .. } | AuthSpec::OAuth2RefreshToken { .. } => {
                let valid = matches!(&self.token, Some((_, exp)) if exp.is_none_or(|e| Instant::now() < e));
                if !valid {
                    self.fetch_token(t)?;
                }
                let token = self.token.as_ref().map(|(v, _)| v.clone()).unwrap_or_default();
                (vec![("Authorization".into(), format!("Bearer {token}"))], vec![])
            }
        })
    }

    fn fetch_token(&mut self, t: &mut Transport) -> Result<(), String> {
        let (token_url, mut form, basic) = match &self.spec {
            AuthSpec::OAuth2ClientCredentials { token_url, client_id, client_secret, scope, extra, basic_client_auth } => {
                let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
                if !basic_client_auth {
                    form.push(("client_id".into(), client_id.clone()));
                    form.push(("client_secret".into(), client_secret.clone()));
                }
                if let Some(s) = scope {
                    form.push(("scope".into(), s.clone()));
                }
                form.extend(extra.iter().cloned());
                let basic = basic_client_auth.then(|| format!("Basic {}", base64(format!("{client_id}:{client_secret}").as_bytes())));
                (token_url.clone(), form, basic)
            }
            AuthSpec::OAuth2RefreshToken { token_url, client_id, client_secret, .. } => {
                let form = vec![
                    ("grant_type".to_string(), "refresh_token".to_string()),
                    ("client_id".into(), client_id.clone()),
                    ("client_secret".into(), client_secret.clone()),
                    ("refresh_token".into(), self.refresh_token.clone().unwrap_or_default()),
                ];
                (token_url.clone(), form, None)
            }
            _ => return Ok(()),
        };
        if let Some(b) = &basic {
            t.scrub.add_secret(b.trim_start_matches("Basic "));
        }
        let body = form.drain(..).map(|(k, v)| format!("{}={}", encode_component(&k), encode_component(&v))).collect::<Vec<_>>().join("&");
        let req = Request {
            method: Method::Post,
            url: token_url.clone(),
            headers: basic.into_iter().map(|b| ("Authorization".to_string(), b)).chain([("Accept".into(), "application/json".into())]).collect(),
            body: Some(("application/x-www-form-urlencoded".into(), body.into_bytes())),
        };
        let url = t.scrub.url(&token_url);
        let resp = t.send(&req).map_err(|e| format!("token request to {url} failed: {e}"))?;
        let text = String::from_utf8_lossy(&resp.body);
        if !(200..300).contains(&resp.status) {
            return Err(format!("token request to {url} failed with HTTP {}: {}", resp.status, snippet(&t.scrub.text(&text))));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("token response of {url} is not JSON: {e}"))?;
        let access = match v.get("access_token") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(format!("token response of {url} has no `access_token`")),
        };
        t.scrub.add_secret(&access);
        if let Some(Value::String(r)) = v.get("refresh_token") {
            t.scrub.add_secret(r);
            if self.refresh_token.is_some() && !r.is_empty() && r != super::http::MASK {
                self.refresh_token = Some(r.clone());
            }
        }
        let now_epoch = chrono::Utc::now().timestamp();
        let expires_in = v
            .get("expires_in")
            .and_then(|x| x.as_i64().or_else(|| x.as_str().and_then(|s| s.parse().ok())))
            .or_else(|| v.get("expires_at").and_then(Value::as_i64).map(|at| at - now_epoch));
        // Renew a minute early, or halfway through a token shorter than two minutes.
        let expiry = expires_in.map(|s| {
            let life = Duration::from_secs(s.max(0) as u64);
            Instant::now() + life - EXPIRY_MARGIN.min(life / 2)
        });
        self.token = Some((access, expiry));
        Ok(())
    }
}

pub(crate) fn snippet(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() > 300 { format!("{}…", t.chars().take(300).collect::<String>()) } else { t.to_string() }
}

/// Standard base64 with padding (RFC 4648), for HTTP basic auth.
pub(crate) fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { A[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { A[n as usize & 63] as char } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
