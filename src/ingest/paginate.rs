//! Paginators: each turns one response into the next request (or the end).
//! A request is a URL plus query parameters the paginator may set; link
//! paginators replace the URL (and drop the parameters: the link is complete).

use super::doc::{JsonRef, Kind};

use super::http::{Response, resolve_link};
use super::spec::{JsonPath, PaginatorSpec};

/// The part of a request that pagination changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageRequest {
    /// URL without the parameters below (may carry its own query).
    pub url: String,
    pub query: Vec<(String, String)>,
}

impl PageRequest {
    pub fn set(&mut self, k: &str, v: String) {
        match self.query.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v,
            None => self.query.push((k.to_string(), v)),
        }
    }
}

pub(crate) struct Paginator {
    spec: PaginatorSpec,
    /// Current page number or offset.
    position: i64,
}

impl Paginator {
    pub fn new(spec: &PaginatorSpec) -> Paginator {
        let position = match spec {
            PaginatorSpec::PageNumber { base_page, page, .. } => page.unwrap_or(*base_page),
            PaginatorSpec::Offset { offset, .. } => *offset,
            _ => 0,
        };
        Paginator { spec: spec.clone(), position }
    }

    /// Set up the first request.
    pub fn init(&self, r: &mut PageRequest) {
        match &self.spec {
            PaginatorSpec::PageNumber { page_param, .. } => r.set(page_param, self.position.to_string()),
            PaginatorSpec::Offset { offset_param, limit_param, limit, .. } => {
                r.set(offset_param, self.position.to_string());
                r.set(limit_param, limit.to_string());
            }
            _ => {}
        }
    }

    /// Move `r` to the next page. `sent_url` is the full URL of the request
    /// that produced `resp`; `n_records` the records it held (before any
    /// incremental filtering). Returns whether there is a next page.
    pub fn advance(&mut self, r: &mut PageRequest, sent_url: &str, resp: &Response, body: JsonRef<'_>, n_records: usize) -> Result<bool, String> {
        match &self.spec {
            PaginatorSpec::SinglePage => Ok(false),
            PaginatorSpec::PageNumber { page_param, base_page, total_path, maximum_page, stop_after_empty_page, .. } => {
                if n_records == 0 && *stop_after_empty_page {
                    return Ok(false);
                }
                let next = self.position + 1;
                if let Some(tp) = total_path {
                    let total = int_at(body, tp)?;
                    if next - base_page >= total {
                        return Ok(false);
                    }
                }
                if maximum_page.is_some_and(|m| next > m) {
                    return Ok(false);
                }
                self.position = next;
                r.set(page_param, next.to_string());
                Ok(true)
            }
            PaginatorSpec::Offset { offset_param, limit, total_path, maximum_offset, stop_after_empty_page, .. } => {
                if n_records == 0 && *stop_after_empty_page {
                    return Ok(false);
                }
                let next = self.position + limit;
                match total_path {
                    Some(tp) => {
                        if next >= int_at(body, tp)? {
                            return Ok(false);
                        }
                    }
                    // Without a total, a short page is the last one.
                    None => {
                        if (n_records as i64) < *limit {
                            return Ok(false);
                        }
                    }
                }
                if maximum_offset.is_some_and(|m| next >= m) {
                    return Ok(false);
                }
                self.position = next;
                r.set(offset_param, next.to_string());
                Ok(true)
            }
            PaginatorSpec::Cursor { cursor_path, cursor_param } => match token(cursor_path.find(body)) {
                Some(c) => {
                    if r.query.iter().any(|(k, v)| k == cursor_param && *v == c) {
                        return Err(format!("the cursor at `{cursor_path}` repeats the previous one (`{c}`); stopping to avoid an endless loop"));
                    }
                    r.set(cursor_param, c);
                    Ok(true)
                }
                None => Ok(false),
            },
            PaginatorSpec::JsonLink { next_url_path } => match token(next_url_path.find(body)) {
                Some(link) => follow(r, sent_url, &link),
                None => Ok(false),
            },
            PaginatorSpec::HeaderLink { links_next_key } => match resp.header("link").and_then(|h| link_header(h, links_next_key)) {
                Some(link) => follow(r, sent_url, &link),
                None => Ok(false),
            },
            PaginatorSpec::HeaderCursor { cursor_key, cursor_param } => {
                match resp.header(cursor_key).map(str::trim).filter(|c| !c.is_empty()).map(str::to_string) {
                    Some(c) => {
                        if r.query.iter().any(|(k, v)| k == cursor_param && *v == c) {
                            return Err(format!("the cursor in header `{cursor_key}` repeats the previous one; stopping to avoid an endless loop"));
                        }
                        r.set(cursor_param, c);
                        Ok(true)
                    }
                    None => Ok(false),
                }
            }
        }
    }
}

fn follow(r: &mut PageRequest, sent_url: &str, link: &str) -> Result<bool, String> {
    let next = resolve_link(sent_url, link);
    if next == sent_url {
        return Err(format!("the next link points to the page just fetched ({link}); stopping to avoid an endless loop"));
    }
    r.url = next;
    r.query.clear();
    Ok(true)
}

/// A cursor or link value: absent, null, `false` and "" end the pagination.
fn token(v: Option<JsonRef<'_>>) -> Option<String> {
    let v = v?;
    match v.kind() {
        Kind::Str(s) if !s.is_empty() => Some(s.to_string()),
        Kind::Int(_) | Kind::UInt(_) | Kind::Float(_) => Some(v.to_string()),
        _ => None,
    }
}

fn int_at(body: JsonRef<'_>, path: &JsonPath) -> Result<i64, String> {
    let v = path.find(body).ok_or_else(|| format!("`total_path` `{path}` is not in the response"))?;
    match v.kind() {
        Kind::Int(i) => Some(i),
        Kind::UInt(u) => Some(u as f64 as i64),
        Kind::Float(f) => Some(f as i64),
        Kind::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("`total_path` `{path}` is not a number: {v}"))
}

/// The URL of the `rel` link in a `Link` header (RFC 8288).
pub(crate) fn link_header(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // Parameters run until the next link (`, <`).
        let params_end = after.find(",").filter(|i| after[*i + 1..].trim_start().starts_with('<')).unwrap_or(after.len());
        let params = &after[..params_end];
        for p in params.split(';') {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("rel") && v.trim().trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case(rel)) {
                    return Some(url.to_string());
                }
            }
        }
        rest = &after[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let h = r#"<https://api.x.com/items?page=1>; rel="prev", <https://api.x.com/items?page=3&a=1,2>; rel="next last""#;
        assert_eq!(link_header(h, "next").as_deref(), Some("https://api.x.com/items?page=3&a=1,2"));
        assert_eq!(link_header(h, "prev").as_deref(), Some("https://api.x.com/items?page=1"));
        assert_eq!(link_header(h, "first"), None);
        assert_eq!(link_header("<a>;rel=next", "next").as_deref(), Some("a"));
    }
}
