//! The fetch entry point: walks an [`IngestSpec`]'s resources, requests
//! their pages (following the paginator, resolving child resources from
//! each parent record, applying incremental ranges) and hands every page to
//! a callback as it arrives, so memory stays at one page whatever the size
//! of the load.
//!
//! Order: each top-level resource in declared order; after each page of a
//! resource, its children are fetched for each record of that page, before
//! the resource's next page.

use std::path::PathBuf;

use serde_json::Value;

use super::auth::{Auth, snippet};
use super::http::{Request, Response, Scrubber, Transport, encode_path_value, join_url, with_query};
use super::incremental::Incremental;
use super::doc::{Doc, JsonRef, Kind, Record};
use super::paginate::{PageRequest, Paginator};
use super::spec::{Convert, IngestSpec, JsonPath, Method, ParamSpec, ResourceSpec, ResponseActionKind, RetrySpec, placeholders};
use super::{CursorState, Page, Records};

/// Run-time choices of the caller (CLI flags, tests); they win over the spec.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Save every response here (overrides the spec's `record_dir`).
    pub record_dir: Option<PathBuf>,
    /// Serve responses from here, no network (overrides the spec's `replay_dir`).
    pub replay_dir: Option<PathBuf>,
    /// Overrides the client's retry settings.
    pub retry: Option<RetrySpec>,
    /// Stop each resource (per parent record) after this many pages.
    pub max_pages: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceStats {
    pub resource: String,
    pub pages: usize,
    /// Records handed over (after incremental filtering).
    pub records: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FetchOutcome {
    /// New cursor state of every incremental resource that has one.
    pub states: Vec<CursorState>,
    /// One entry per declared resource, in declared order.
    pub resources: Vec<ResourceStats>,
    /// HTTP requests made (retries and token requests included; replayed
    /// requests count too).
    pub requests: usize,
}

/// Why fetching failed. URLs and messages are already scrubbed of secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// A request, or its response, failed.
    #[error("ingest `{ingest}`, resource `{resource}`, page {page}: {message} ({method} {url})")]
    Request { ingest: String, resource: String, page: usize, method: String, url: String, status: Option<u16>, message: String },
    /// Something about the resource itself (state, placeholders, auth setup).
    #[error("ingest `{ingest}`, resource `{resource}`: {message}")]
    Resource { ingest: String, resource: String, message: String },
}

/// Either the fetch failed or the page callback did.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("page callback failed")]
    Sink(E),
}

/// Fetch every resource of `spec`, calling `on_page` with each page.
/// `states` are the cursor states stored by the previous run (by resource
/// name); the outcome carries the new ones.
pub fn run<E>(
    spec: &IngestSpec,
    states: &[CursorState],
    opts: &FetchOptions,
    on_page: &mut dyn FnMut(&ResourceSpec, Page) -> Result<(), E>,
) -> Result<FetchOutcome, RunError<E>> {
    let mut scrub = Scrubber::default();
    let auth = Auth::new(&spec.client.auth, &mut scrub);
    let replay_dir = opts.replay_dir.clone().or_else(|| spec.replay_dir.clone());
    // Replaying and recording the same run makes no sense; replay wins.
    let record_dir = if replay_dir.is_some() { None } else { opts.record_dir.clone().or_else(|| spec.record_dir.clone()) };
    let transport = Transport::new(
        spec.client.timeout,
        spec.client.connect_timeout,
        opts.retry.unwrap_or(spec.client.retry),
        record_dir,
        replay_dir,
        scrub,
    );
    let mut incs = Vec::with_capacity(spec.resources.len());
    for r in &spec.resources {
        incs.push(match &r.endpoint.incremental {
            Some(i) => {
                let last = states.iter().find(|s| s.resource == r.name).map(|s| &s.last_value).filter(|v| !v.is_null());
                Some(Incremental::new(i, last).map_err(|m| resource_error(spec, r, m))?)
            }
            None => None,
        });
    }
    let children = spec
        .resources
        .iter()
        .map(|p| spec.resources.iter().enumerate().filter(|(_, c)| c.parent() == Some(p.name.as_str())).map(|(i, _)| i).collect())
        .collect();
    let mut f = Fetcher {
        spec,
        t: transport,
        auth,
        opts,
        incs,
        children,
        stats: spec.resources.iter().map(|r| ResourceStats { resource: r.name.clone(), ..Default::default() }).collect(),
    };
    for (i, r) in spec.resources.iter().enumerate() {
        if r.parent().is_none() {
            f.resource(i, None, on_page)?;
        }
    }
    let mut states = vec![];
    for (r, inc) in spec.resources.iter().zip(&f.incs) {
        if let Some(inc) = inc {
            if let Some(v) = inc.new_state().map_err(|m| resource_error(spec, r, m))? {
                states.push(CursorState { resource: r.name.clone(), last_value: v });
            }
        }
    }
    Ok(FetchOutcome { states, resources: f.stats, requests: f.t.requests })
}

fn resource_error(spec: &IngestSpec, r: &ResourceSpec, message: String) -> FetchError {
    FetchError::Resource { ingest: spec.name.clone(), resource: r.name.clone(), message }
}

/// What a child request takes from one parent record.
struct ParentRow {
    /// Resolve param name → value.
    resolved: Vec<(String, String)>,
    /// `_<parent>_<field>` → value.
    include: Vec<(String, Value)>,
}

struct Fetcher<'a> {
    spec: &'a IngestSpec,
    t: Transport,
    auth: Auth,
    opts: &'a FetchOptions,
    incs: Vec<Option<Incremental<'a>>>,
    children: Vec<Vec<usize>>,
    stats: Vec<ResourceStats>,
}

/// Values of the `{incremental.*}` placeholders.
struct IncValues {
    start: Option<String>,
    end: Option<String>,
    initial: Option<String>,
    convert: Option<Convert>,
}

impl IncValues {
    fn get(&self, name: &str) -> Option<&Option<String>> {
        match name {
            "incremental.start_value" | "incremental.last_value" => Some(&self.start),
            "incremental.end_value" => Some(&self.end),
            "incremental.initial_value" => Some(&self.initial),
            _ => None,
        }
    }
}

impl<'a> Fetcher<'a> {
    fn resource<E>(&mut self, ri: usize, parent: Option<&ParentRow>, on_page: &mut dyn FnMut(&ResourceSpec, Page) -> Result<(), E>) -> Result<(), RunError<E>> {
        let spec = self.spec;
        let r = &spec.resources[ri];
        let ep = &r.endpoint;
        let err = |m: String| RunError::Fetch(resource_error(spec, r, m));
        let inc_values = match &self.incs[ri] {
            Some(inc) => IncValues {
                start: inc.start_param().map_err(err)?,
                end: inc.end_param().map_err(err)?,
                initial: inc.initial_param().map_err(err)?,
                convert: ep.incremental.as_ref().and_then(|i| i.convert),
            },
            None => IncValues { start: None, end: None, initial: None, convert: None },
        };
        let resolved: &[(String, String)] = parent.map_or(&[], |p| &p.resolved);

        // The path, with parent values and incremental values filled in.
        let mut path = String::new();
        let mut rest = ep.path.as_str();
        let in_path = placeholders(&ep.path);
        while let Some(i) = rest.find('{') {
            path.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else { break };
            let name = rest[i + 1..i + j].trim();
            let value = match resolved.iter().find(|(k, _)| k == name) {
                Some((_, v)) => v.clone(),
                None => match inc_values.get(name) {
                    Some(Some(v)) => v.clone(),
                    _ => return Err(err(format!("path placeholder `{{{name}}}` has no value (no incremental start value or parent field)"))),
                },
            };
            path.push_str(&encode_path_value(&value));
            rest = &rest[i + j + 1..];
        }
        path.push_str(rest);

        let mut query: Vec<(String, String)> = vec![];
        for (k, p) in spec.client.params.iter().chain(&ep.params) {
            let value = match p {
                ParamSpec::Value(v) => match param_text(v, &inc_values) {
                    Some(s) => s,
                    None => continue,
                },
                ParamSpec::Resolve { .. } => {
                    if in_path.contains(&k.as_str()) {
                        continue;
                    }
                    match resolved.iter().find(|(n, _)| n == k) {
                        Some((_, v)) => v.clone(),
                        None => continue,
                    }
                }
            };
            match query.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = value,
                None => query.push((k.clone(), value)),
            }
        }
        if let Some(inc) = &ep.incremental {
            for (param, value) in [(&inc.start_param, &inc_values.start), (&inc.end_param, &inc_values.end)] {
                if let (Some(p), Some(v)) = (param, value) {
                    query.push((p.clone(), v.clone()));
                }
            }
        }
        let body = match &ep.json {
            Some(j) => Some(("application/json".to_string(), serde_json::to_vec(&json_with_placeholders(j, &inc_values)).map_err(|e| err(e.to_string()))?)),
            None => None,
        };
        let mut headers: Vec<(String, String)> = vec![];
        for (k, v) in spec.client.headers.iter().chain(&ep.headers) {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            headers.push(("Accept".into(), "application/json".into()));
        }

        let mut page_req = PageRequest { url: join_url(&spec.client.base_url, &path), query };
        let mut paginator = Paginator::new(r.paginator(&spec.client));
        paginator.init(&mut page_req);
        let children = self.children[ri].clone();
        let mut index = 0usize;
        loop {
            let (resp, sent_url) = self.send(r, index, ep.method, &page_req, &headers, &body)?;
            let shown = self.t.scrub.url(&sent_url);
            let req_err = |status: Option<u16>, message: String| {
                RunError::Fetch(FetchError::Request {
                    ingest: spec.name.clone(),
                    resource: r.name.clone(),
                    page: index,
                    method: ep.method.as_str().to_string(),
                    url: shown.clone(),
                    status,
                    message,
                })
            };
            let ignored = ep.response_actions.iter().any(|a| {
                a.action == ResponseActionKind::Ignore
                    && a.status_code.is_none_or(|c| c == resp.status)
                    && a.content.as_ref().is_none_or(|c| String::from_utf8_lossy(&resp.body).contains(c.as_str()))
            });
            if ignored {
                break;
            }
            if !(200..300).contains(&resp.status) {
                let text = self.t.scrub.text(&String::from_utf8_lossy(&resp.body));
                return Err(req_err(Some(resp.status), format!("HTTP {}: {}", resp.status, snippet(&text))));
            }
            let doc = Doc::parse(&resp.body).map_err(|e| {
                let text = self.t.scrub.text(&String::from_utf8_lossy(&resp.body));
                req_err(Some(resp.status), format!("the response is not valid JSON ({e}); it starts with: {}", snippet(&text.chars().take(120).collect::<String>())))
            })?;
            let mut roots = select_records(doc.root(), ep.data_selector.as_ref()).map_err(|m| req_err(Some(resp.status), m))?;
            let has_next = paginator.advance(&mut page_req, &sent_url, &resp, doc.root(), roots.len()).map_err(|m| req_err(Some(resp.status), m))?;
            drop(resp);
            if let Some(inc) = &mut self.incs[ri] {
                let mut failure = None;
                roots.retain(|&at| match inc.keep(doc.at(at)) {
                    Ok(k) => k,
                    Err(m) => {
                        failure.get_or_insert(m);
                        false
                    }
                });
                if let Some(m) = failure {
                    return Err(req_err(None, m));
                }
            }
            let mut records = Records::new(doc, roots);
            if let Some(p) = parent {
                records.add_fields(&p.include);
            }
            // Take what the children need before the page is handed over.
            let mut rows: Vec<(usize, ParentRow)> = vec![];
            for &ci in &children {
                for rec in records.iter() {
                    rows.push((ci, parent_row(&r.name, &spec.resources[ci], rec).map_err(|m| req_err(None, m))?));
                }
            }
            self.stats[ri].pages += 1;
            self.stats[ri].records += records.len();
            if r.selected {
                on_page(r, Page { resource: r.name.clone(), index, url: shown.clone(), records }).map_err(RunError::Sink)?;
            }
            for (ci, row) in rows {
                self.resource(ci, Some(&row), on_page)?;
            }
            index += 1;
            if !has_next || self.opts.max_pages.is_some_and(|m| index >= m) {
                break;
            }
        }
        Ok(())
    }

    /// Send one page request with credentials; on a 401 with OAuth, fetch a
    /// new token and try once more.
    fn send<E>(
        &mut self,
        r: &ResourceSpec,
        index: usize,
        method: Method,
        page_req: &PageRequest,
        headers: &[(String, String)],
        body: &Option<(String, Vec<u8>)>,
    ) -> Result<(Response, String), RunError<E>> {
        let mut refreshed = false;
        loop {
            let (auth_headers, auth_query) = self.auth.credentials(&mut self.t).map_err(|m| resource_error(self.spec, r, self.t.scrub.text(&m)))?;
            let mut query = page_req.query.clone();
            for (k, v) in auth_query {
                query.retain(|(n, _)| *n != k);
                query.push((k, v));
            }
            let url = with_query(&page_req.url, &query);
            let mut hs = headers.to_vec();
            for (k, v) in auth_headers {
                hs.retain(|(n, _)| !n.eq_ignore_ascii_case(&k));
                hs.push((k, v));
            }
            let req = Request { method, url: url.clone(), headers: hs, body: body.clone() };
            let resp = self.t.send(&req).map_err(|e| FetchError::Request {
                ingest: self.spec.name.clone(),
                resource: r.name.clone(),
                page: index,
                method: method.as_str().to_string(),
                url: self.t.scrub.url(&url),
                status: None,
                message: e.to_string(),
            })?;
            if resp.status == 401 && !refreshed && self.auth.can_refresh() {
                refreshed = true;
                self.auth.invalidate();
                continue;
            }
            // Report the URL without the auth query (the scrubber masks it anyway).
            return Ok((resp, url));
        }
    }
}

/// A param's request text; `None` drops the param (null, or an incremental
/// placeholder without a value, e.g. no initial value on a first run).
fn param_text(v: &Value, inc: &IncValues) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => substitute(s, inc),
        other => Some(other.to_string()),
    }
}

fn substitute(s: &str, inc: &IncValues) -> Option<String> {
    let mut out = s.to_string();
    for name in placeholders(s) {
        if let Some(v) = inc.get(name) {
            let v = v.as_ref()?;
            out = out.replace(&format!("{{{name}}}"), v);
        }
    }
    Some(out)
}

fn json_with_placeholders(v: &Value, inc: &IncValues) -> Value {
    match v {
        Value::String(s) => {
            let whole = s.trim();
            if let Some(name) = whole.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                if let Some(val) = inc.get(name.trim()) {
                    // A lone placeholder becomes a JSON value: epoch numbers stay numbers.
                    return match val {
                        None => Value::Null,
                        Some(t) if matches!(inc.convert, Some(Convert::Epoch | Convert::EpochMs)) => {
                            t.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(t.clone()))
                        }
                        Some(t) => Value::String(t.clone()),
                    };
                }
            }
            substitute(s, inc).map(Value::String).unwrap_or(Value::Null)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| json_with_placeholders(x, inc)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), json_with_placeholders(x, inc))).collect()),
        other => other.clone(),
    }
}

/// The records' nodes: the items of each list the selector finds (of every
/// list, under a wildcard), or the value itself when it is not a list; a
/// `null` found without a wildcard is no records. Errors when the selector
/// finds nothing at all, or the response is a bare scalar and there is no
/// selector.
fn select_records(doc: JsonRef<'_>, selector: Option<&JsonPath>) -> Result<Vec<u32>, String> {
    let (found, wildcard) = match selector {
        Some(sel) => (sel.find_all(doc).ok_or_else(|| format!("data_selector `{sel}` does not match the response"))?, sel.has_wildcard()),
        None if matches!(doc.kind(), Kind::Array | Kind::Object | Kind::Null) => (vec![doc], false),
        None => return Err(format!("the response is a bare {doc}, not records; set `data_selector`")),
    };
    let mut out = vec![];
    for v in found {
        if v.is_array() {
            out.extend(v.items().map(|item| item.position()));
        } else if wildcard || !v.is_null() {
            out.push(v.position());
        }
    }
    Ok(out)
}

/// The resolve values and included fields a child takes from a parent record.
fn parent_row(parent: &str, child: &ResourceSpec, rec: Record<'_>) -> Result<ParentRow, String> {
    let mut resolved = vec![];
    for (k, p) in &child.endpoint.params {
        if let ParamSpec::Resolve { field, .. } = p {
            let v = rec.find(field).filter(|v| !v.is_null()).ok_or_else(|| {
                format!("field `{field}` for resource `{}` (param `{k}`) is missing in a `{parent}` record", child.name)
            })?;
            resolved.push((k.clone(), match v.as_str() {
                Some(s) => s.to_string(),
                None => v.to_string(),
            }));
        }
    }
    let mut include = vec![];
    for f in &child.include_from_parent {
        let path = JsonPath::parse(f).map_err(|e| format!("include_from_parent: {e}"))?;
        let v = rec.find(&path).map(|v| v.to_value()).ok_or_else(|| format!("include_from_parent field `{f}` is missing in a `{parent}` record"))?;
        include.push((format!("_{parent}_{}", f.replace(['.', '[', ']', '*', '$'], "_").trim_matches('_')), v));
    }
    Ok(ParentRow { resolved, include })
}
