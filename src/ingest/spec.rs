//! The declaration of an ingest node, as a user writes it in a YAML
//! properties file of the dbt project. The shape follows dlt's `rest_api`
//! source so that configurations carry over, parsed from an already rendered
//! `serde_json::Value` (Jinja and `env_var()` ran before; secrets arrive as
//! plain strings).
//!
//! A full example (one item of the list the integrator reads):
//!
//! ```yaml
//! - name: strava                      # the ingest node's name
//!   source: strava                    # the dbt source it feeds (default: name)
//!   client:
//!     base_url: https://www.strava.com/api/v3/
//!     headers: {Accept: application/json}
//!     params: {}                      # query parameters of every request
//!     timeout: 30                     # seconds to wait for a response / body
//!     connect_timeout: 10             # seconds to connect
//!     retry: {max_attempts: 5, base_delay: 1.0, max_delay: 60, max_retry_after: 300}
//!     auth:                           # bearer | api_key | http_basic |
//!       type: oauth2_refresh_token    # oauth2_client_credentials | oauth2_refresh_token
//!       token_url: https://www.strava.com/oauth/token
//!       client_id: "{{ env_var('STRAVA_CLIENT_ID') }}"
//!       client_secret: "{{ env_var('DBT_ENV_SECRET_STRAVA_SECRET') }}"
//!       refresh_token: "{{ env_var('DBT_ENV_SECRET_STRAVA_REFRESH') }}"
//!     paginator:                      # default when absent: single_page
//!       type: page_number
//!       page_param: page
//!       base_page: 1
//!   resource_defaults:                # deep-merged into every resource
//!     primary_key: id
//!     write_disposition: merge
//!     endpoint:
//!       params: {per_page: 200}
//!   resources:
//!     - name: activities
//!       endpoint:
//!         path: athlete/activities
//!         data_selector: $            # JSONPath subset: $, a.b, a[0], a[*].b
//!         incremental:
//!           cursor_path: start_date
//!           start_param: after        # or "{incremental.start_value}" in params
//!           initial_value: "2024-01-01T00:00:00Z"
//!           convert: epoch            # epoch | epoch_ms | iso | date
//!           lag: 86400                # seconds (days for date cursors)
//!     - name: laps
//!       write_disposition: {disposition: merge, strategy: delete-insert}
//!       endpoint:
//!         path: activities/{activity_id}/laps
//!         params:                     # or path: activities/{resources.activities.id}/laps
//!           activity_id: {type: resolve, resource: activities, field: id}
//!         response_actions:
//!           - {status_code: 404, action: ignore}
//!       include_from_parent: [name]   # becomes _activities_name
//!   record_dir: recordings/strava     # save every response here
//!   # replay_dir: recordings/strava   # serve responses from here, no network
//! ```
//!
//! Paginators (`paginator: {type: ...}`, or just the type name for defaults):
//! `single_page`; `page_number` (`page_param`=page, `base_page`=0, `page`,
//! `total_path` = total pages, `maximum_page` inclusive,
//! `stop_after_empty_page`=true); `offset` (`offset_param`=offset,
//! `limit_param`=limit, `limit` required, `offset`=0, `total_path` = total
//! items, `maximum_offset`, stops on an empty or short page); `cursor`
//! (`cursor_path`=cursors.next, `cursor_param`=cursor); `json_link`
//! (`next_url_path`=next); `header_link` (`links_next_key`=next);
//! `header_cursor` (`cursor_key`=next header name, `cursor_param`=cursor).
//! Unlike dlt there is no automatic paginator detection: a resource without
//! a paginator fetches a single page.
//!
//! Unknown keys are warnings (YAML is lenient in this project), wrong values
//! are a [`SpecError`] whose `path` (`resources[1].endpoint.paginator.type`)
//! the integrator maps to a YAML span.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::doc::JsonRef;
use super::{ContractMode, MergeStrategy, ResourceLoad, SchemaContract, WriteDisposition};

/// An error (or, from [`parse_spec`]'s warning list, a warning) at a place in
/// the declaration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    /// Dotted path from the ingest item, e.g. `resources[1].endpoint.paginator.type`.
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IngestSpec {
    pub name: String,
    /// The dbt source name whose tables this node loads.
    pub source: String,
    pub client: ClientSpec,
    /// Resources with `resource_defaults` already merged in, in declared order.
    pub resources: Vec<ResourceSpec>,
    /// Directory (as written; relative paths are the integrator's to resolve)
    /// where every response is saved.
    pub record_dir: Option<PathBuf>,
    /// Directory responses are served from instead of the network.
    pub replay_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    pub base_url: String,
    pub headers: Vec<(String, String)>,
    pub params: Vec<(String, ParamSpec)>,
    /// Time to wait for the response head and, separately, for the body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub auth: AuthSpec,
    pub paginator: PaginatorSpec,
    pub retry: RetrySpec,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySpec {
    /// Attempts per request including the first (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Cap on a server's `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum AuthSpec {
    #[default]
    None,
    Bearer { token: String },
    ApiKey { name: String, api_key: String, location: ApiKeyLocation },
    HttpBasic { username: String, password: String },
    OAuth2ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
        /// Extra form fields of the token request.
        extra: Vec<(String, String)>,
        /// Send the client id/secret as HTTP basic auth instead of form fields.
        basic_client_auth: bool,
    },
    OAuth2RefreshToken { token_url: String, client_id: String, client_secret: String, refresh_token: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyLocation {
    Header,
    Query,
}

impl AuthSpec {
    /// Every secret string of this auth, so that errors, logs and recordings
    /// can mask them.
    pub fn secrets(&self) -> Vec<String> {
        let v: Vec<&String> = match self {
            AuthSpec::None => vec![],
            AuthSpec::Bearer { token } => vec![token],
            AuthSpec::ApiKey { api_key, .. } => vec![api_key],
            AuthSpec::HttpBasic { password, .. } => vec![password],
            AuthSpec::OAuth2ClientCredentials { client_secret, .. } => vec![client_secret],
            AuthSpec::OAuth2RefreshToken { client_secret, refresh_token, .. } => vec![client_secret, refresh_token],
        };
        v.into_iter().filter(|s| !s.is_empty()).cloned().collect()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum PaginatorSpec {
    #[default]
    SinglePage,
    PageNumber {
        page_param: String,
        base_page: i64,
        /// First page requested (default `base_page`).
        page: Option<i64>,
        /// Total number of pages in the body.
        total_path: Option<JsonPath>,
        /// Last page requested (inclusive).
        maximum_page: Option<i64>,
        stop_after_empty_page: bool,
    },
    Offset {
        offset_param: String,
        limit_param: String,
        limit: i64,
        offset: i64,
        /// Total number of items in the body.
        total_path: Option<JsonPath>,
        maximum_offset: Option<i64>,
        stop_after_empty_page: bool,
    },
    Cursor { cursor_path: JsonPath, cursor_param: String },
    JsonLink { next_url_path: JsonPath },
    HeaderLink { links_next_key: String },
    HeaderCursor { cursor_key: String, cursor_param: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request parameter: a value (strings may hold `{incremental.start_value}`
/// / `{incremental.end_value}`), or a field of each parent record.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSpec {
    Value(Value),
    Resolve { resource: String, field: JsonPath },
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    /// Relative to `base_url` (or absolute); `{name}` placeholders are resolve
    /// params or `incremental.start_value`/`incremental.end_value`.
    pub path: String,
    pub method: Method,
    pub params: Vec<(String, ParamSpec)>,
    /// JSON body (POST); strings may hold incremental placeholders.
    pub json: Option<Value>,
    pub headers: Vec<(String, String)>,
    /// Where the records are in the body. Absent: the body itself (a list is
    /// the records, an object is one record).
    pub data_selector: Option<JsonPath>,
    /// Overrides the client's paginator.
    pub paginator: Option<PaginatorSpec>,
    pub incremental: Option<IncrementalSpec>,
    pub response_actions: Vec<ResponseAction>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncrementalSpec {
    pub cursor_path: JsonPath,
    /// Query parameter that receives the start value.
    pub start_param: Option<String>,
    pub end_param: Option<String>,
    pub initial_value: Option<Value>,
    pub end_value: Option<Value>,
    /// How the start/end values are written into the request.
    pub convert: Option<Convert>,
    /// How far back from the last value a run starts again: seconds for
    /// timestamps, days for dates, units for numbers.
    pub lag: Option<f64>,
    /// Records equal to the start value are kept (closed, default) or dropped.
    pub range_start: Range,
    /// Records equal to the end value are dropped (open, default) or kept.
    pub range_end: Range,
    pub on_cursor_value_missing: OnMissing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convert {
    /// ISO timestamp → Unix seconds.
    Epoch,
    /// ISO timestamp → Unix milliseconds.
    EpochMs,
    /// Unix seconds → ISO 8601 (UTC, `Z`).
    Iso,
    /// Timestamp or Unix seconds → `YYYY-MM-DD`.
    Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Closed,
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    Raise,
    Include,
    Exclude,
}

/// What to do with a response matching a status code and/or body substring.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseAction {
    pub status_code: Option<u16>,
    pub content: Option<String>,
    /// Only `ignore` exists: the response ends the resource (for this parent
    /// record) without records and without error.
    pub action: ResponseActionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseActionKind {
    Ignore,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    pub name: String,
    /// Target table as declared (default: the resource name).
    pub table_name: Option<String>,
    pub endpoint: EndpointSpec,
    pub primary_key: Vec<String>,
    pub merge_key: Vec<String>,
    pub write_disposition: WriteDisposition,
    pub schema_contract: SchemaContract,
    pub max_table_nesting: Option<usize>,
    /// Parent record fields copied into child records as `_<parent>_<field>`.
    pub include_from_parent: Vec<String>,
    /// `false`: fetched only to drive its children, its pages are not loaded.
    pub selected: bool,
}

impl ResourceSpec {
    /// How this resource's records land in the engine. Names are as declared;
    /// the load side normalizes them.
    pub fn load(&self) -> ResourceLoad {
        ResourceLoad {
            resource: self.name.clone(),
            table: self.table_name.clone().unwrap_or_else(|| self.name.clone()),
            write_disposition: self.write_disposition,
            primary_key: self.primary_key.clone(),
            merge_key: self.merge_key.clone(),
            schema_contract: self.schema_contract,
            max_table_nesting: self.max_table_nesting,
        }
    }

    /// The parent resource, when a param resolves from one.
    pub fn parent(&self) -> Option<&str> {
        self.endpoint.params.iter().find_map(|(_, p)| match p {
            ParamSpec::Resolve { resource, .. } => Some(resource.as_str()),
            ParamSpec::Value(_) => None,
        })
    }

    /// The paginator in effect.
    pub fn paginator<'a>(&'a self, client: &'a ClientSpec) -> &'a PaginatorSpec {
        self.endpoint.paginator.as_ref().unwrap_or(&client.paginator)
    }
}

// ---------------------------------------------------------------------------
// JSONPath subset

/// A JSONPath subset: `$`, `$.data`, `a.b`, `a[0]`, `a[*].b`, `['odd key']`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    raw: String,
    segs: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
    Wildcard,
}

impl JsonPath {
    pub fn parse(raw: &str) -> Result<JsonPath, String> {
        let s = raw.trim();
        let mut rest = s.strip_prefix('$').unwrap_or(s);
        let mut segs = vec![];
        let bad = |why: &str| format!("invalid path `{raw}`: {why} (supported: `$`, `a.b`, `a[0]`, `a[*].b`, `['key']`)");
        let mut first = rest.len() == s.len();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| bad("missing `]`"))?;
                let inner = r[..end].trim();
                rest = &r[end + 1..];
                if inner == "*" {
                    segs.push(Seg::Wildcard);
                } else if let Ok(i) = inner.parse::<usize>() {
                    segs.push(Seg::Index(i));
                } else if inner.len() >= 2
                    && ((inner.starts_with('\'') && inner.ends_with('\'')) || (inner.starts_with('"') && inner.ends_with('"')))
                {
                    segs.push(Seg::Key(inner[1..inner.len() - 1].to_string()));
                } else {
                    return Err(bad("unsupported bracket expression"));
                }
            } else {
                let r = if first { rest } else { rest.strip_prefix('.').ok_or_else(|| bad("expected `.` or `[`"))? };
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let key = &r[..end];
                if key.is_empty() {
                    return Err(bad("empty key"));
                }
                segs.push(if key == "*" { Seg::Wildcard } else { Seg::Key(key.to_string()) });
                rest = &r[end..];
            }
            first = false;
        }
        Ok(JsonPath { raw: raw.to_string(), segs })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn has_wildcard(&self) -> bool {
        self.segs.contains(&Seg::Wildcard)
    }

    /// The first key, when the path starts with one (`a` of `a.b[0]`).
    pub fn first_key(&self) -> Option<&str> {
        match self.segs.first() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The single value at this path (wildcards take the first match).
    pub fn find<'a>(&self, v: JsonRef<'a>) -> Option<JsonRef<'a>> {
        let mut out = vec![];
        walk(v, &self.segs, false, &mut out).then_some(())?;
        out.into_iter().next()
    }

    /// All values at this path; `None` when a step outside any wildcard does
    /// not exist (a missing key under a wildcard just yields fewer matches).
    pub fn find_all<'a>(&self, v: JsonRef<'a>) -> Option<Vec<JsonRef<'a>>> {
        let mut out = vec![];
        walk(v, &self.segs, false, &mut out).then_some(out)
    }
}

fn walk<'a>(v: JsonRef<'a>, segs: &[Seg], under_wild: bool, out: &mut Vec<JsonRef<'a>>) -> bool {
    let Some((seg, rest)) = segs.split_first() else {
        out.push(v);
        return true;
    };
    let next = match seg {
        Seg::Key(k) => v.get(k),
        Seg::Index(i) => v.index(*i),
        Seg::Wildcard if v.is_array() || v.is_object() => {
            for item in v.children() {
                walk(item, rest, true, out);
            }
            return true;
        }
        Seg::Wildcard => None,
    };
    match next {
        Some(n) => walk(n, rest, under_wild, out),
        None => under_wild,
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

// ---------------------------------------------------------------------------
// Parsing

#[derive(Debug, Clone, PartialEq, Eq)]
enum PSeg {
    Key(String),
    Idx(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct P(Vec<PSeg>);

impl P {
    fn key(&self, k: &str) -> P {
        let mut v = self.0.clone();
        v.push(PSeg::Key(k.to_string()));
        P(v)
    }
    fn idx(&self, i: usize) -> P {
        let mut v = self.0.clone();
        v.push(PSeg::Idx(i));
        P(v)
    }
    fn render(&self) -> String {
        let mut s = String::new();
        for seg in &self.0 {
            match seg {
                PSeg::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                PSeg::Idx(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
    fn err(&self, message: impl Into<String>) -> SpecError {
        SpecError { path: self.render(), message: message.into() }
    }
}

struct Parser {
    warnings: Vec<SpecError>,
}

fn as_obj<'a>(v: &'a Value, p: &P, what: &str) -> Result<&'a Map<String, Value>, SpecError> {
    v.as_object().ok_or_else(|| p.err(format!("expected {what} (a mapping), found {}", crate::config::yaml::kind_of(v))))
}

/// A present, non-null value.
fn get<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    m.get(k).filter(|v| !v.is_null())
}

fn string(v: &Value, p: &P) -> Result<String, SpecError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        // YAML turns `123` into a number; an id or key written that way is meant as text.
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(p.err(format!("expected a string, found {}", crate::config::yaml::kind_of(v)))),
    }
}

fn opt_string(m: &Map<String, Value>, k: &str, p: &P) -> Result<Option<String>, SpecError> {
    get(m, k).map(|v| string(v, &p.key(k))).transpose()
}

fn req_string(m: &Map<String, Value>, k: &str, p: &P) -> Result<String, SpecError> {
    opt_string(m, k, p)?.ok_or_else(|| p.key(k).err(format!("`{k}` is required")))
}

fn opt_bool(m: &Map<String, Value>, k: &str, p: &P) -> Result<Option<bool>, SpecError> {
    match get(m, k) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(p.key(k).err(format!("expected true or false, found {}", crate::config::yaml::kind_of(v)))),
    }
}

fn opt_int(m: &Map<String, Value>, k: &str, p: &P) -> Result<Option<i64>, SpecError> {
    match get(m, k) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Some)
            .ok_or_else(|| p.key(k).err(format!("expected an integer, found {}", crate::config::yaml::kind_of(v)))),
    }
}

fn opt_f64(m: &Map<String, Value>, k: &str, p: &P) -> Result<Option<f64>, SpecError> {
    match get(m, k) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|f: &f64| f.is_finite() && *f >= 0.0)
            .map(Some)
            .ok_or_else(|| p.key(k).err(format!("expected a non-negative number, found {}", crate::config::yaml::kind_of(v)))),
    }
}

fn opt_secs(m: &Map<String, Value>, k: &str, p: &P) -> Result<Option<Duration>, SpecError> {
    Ok(opt_f64(m, k, p)?.map(Duration::from_secs_f64))
}

fn opt_path(m: &Map<String, Value>, k: &str, p: &P) -> Result<Option<JsonPath>, SpecError> {
    opt_string(m, k, p)?.map(|s| JsonPath::parse(&s).map_err(|e| p.key(k).err(e))).transpose()
}

fn string_list(v: &Value, p: &P) -> Result<Vec<String>, SpecError> {
    match v {
        Value::Array(a) => a.iter().enumerate().map(|(i, x)| string(x, &p.idx(i))).collect(),
        other => Ok(vec![string(other, p)?]),
    }
}

fn string_map(v: &Value, p: &P) -> Result<Vec<(String, String)>, SpecError> {
    let m = as_obj(v, p, "headers")?;
    m.iter().map(|(k, v)| Ok((k.clone(), string(v, &p.key(k))?))).collect()
}

fn choice<T: Copy>(v: &Value, p: &P, choices: &[(&str, T)]) -> Result<T, SpecError> {
    let names = || choices.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let s = v.as_str().ok_or_else(|| p.err(format!("expected one of {}, found {}", names(), crate::config::yaml::kind_of(v))))?;
    let norm = s.trim().to_ascii_lowercase().replace('-', "_");
    choices
        .iter()
        .find(|(n, _)| n.replace('-', "_") == norm)
        .map(|(_, t)| *t)
        .ok_or_else(|| p.err(format!("unknown value `{s}`; expected one of {}", names())))
}

impl Parser {
    fn known(&mut self, m: &Map<String, Value>, p: &P, keys: &[&str]) {
        for k in m.keys() {
            if !keys.contains(&k.as_str()) {
                self.warnings.push(p.key(k).err(format!("unknown key `{k}` (ignored); known keys: {}", keys.join(", "))));
            }
        }
    }

    fn spec(&mut self, v: &Value) -> Result<IngestSpec, SpecError> {
        let root = P::default();
        let m = as_obj(v, &root, "an ingest declaration")?;
        self.known(m, &root, &["name", "source", "description", "client", "resource_defaults", "resources", "record_dir", "replay_dir", "config", "meta"]);
        let name = req_string(m, "name", &root)?;
        let source = opt_string(m, "source", &root)?.unwrap_or_else(|| name.clone());
        let client = self.client(get(m, "client").ok_or_else(|| root.key("client").err("`client` is required (with at least `base_url`)"))?, &root.key("client"))?;
        let defaults = match get(m, "resource_defaults") {
            Some(d) => Some(as_obj(d, &root.key("resource_defaults"), "resource defaults")?.clone()),
            None => None,
        };
        let rp = root.key("resources");
        let list = match get(m, "resources") {
            Some(Value::Array(a)) if !a.is_empty() => a,
            Some(Value::Array(_)) | None => return Err(rp.err("at least one resource is required")),
            Some(other) => return Err(rp.err(format!("expected a list of resources, found {}", crate::config::yaml::kind_of(other)))),
        };
        let mut resources = Vec::with_capacity(list.len());
        for (i, raw) in list.iter().enumerate() {
            let p = rp.idx(i);
            // A bare string is a resource whose name is also its path (dlt's shorthand).
            let raw = match raw {
                Value::String(s) => serde_json::json!({"name": s, "endpoint": {"path": s}}),
                other => other.clone(),
            };
            as_obj(&raw, &p, "a resource")?;
            let merged = match &defaults {
                Some(d) => deep_merge(&Value::Object(d.clone()), &raw),
                None => raw.clone(),
            };
            let r = self.resource(&merged, &p).map_err(|mut e| {
                // Point at resource_defaults when the offending key came from there.
                if let Some(rel) = e.path.strip_prefix(&p.render()) {
                    if !path_exists(&raw, rel) && path_exists(&Value::Object(defaults.clone().unwrap_or_default()), rel) {
                        e.path = format!("resource_defaults{rel}");
                    }
                }
                e
            })?;
            resources.push(r);
        }
        self.check_resources(&resources, &rp)?;
        let record_dir = opt_string(m, "record_dir", &root)?.map(PathBuf::from);
        let replay_dir = opt_string(m, "replay_dir", &root)?.map(PathBuf::from);
        Ok(IngestSpec { name, source, client, resources, record_dir, replay_dir })
    }

    fn check_resources(&mut self, resources: &[ResourceSpec], rp: &P) -> Result<(), SpecError> {
        let mut seen = BTreeSet::new();
        for (i, r) in resources.iter().enumerate() {
            if !seen.insert(r.name.as_str()) {
                return Err(rp.idx(i).key("name").err(format!("duplicate resource name `{}`", r.name)));
            }
        }
        for (i, r) in resources.iter().enumerate() {
            let mut parents = BTreeSet::new();
            for (k, ps) in &r.endpoint.params {
                if let ParamSpec::Resolve { resource, .. } = ps {
                    parents.insert(resource.as_str());
                    let pp = rp.idx(i).key("endpoint").key("params").key(k).key("resource");
                    if !resources.iter().any(|x| &x.name == resource) {
                        let names: Vec<&str> = resources.iter().map(|x| x.name.as_str()).collect();
                        return Err(pp.err(format!("unknown parent resource `{resource}`; resources: {}", names.join(", "))));
                    }
                    if resource == &r.name {
                        return Err(pp.err("a resource cannot resolve from itself"));
                    }
                }
            }
            if parents.len() > 1 {
                return Err(rp.idx(i).key("endpoint").key("params").err("all resolve params of a resource must name the same parent"));
            }
            if !r.include_from_parent.is_empty() && parents.is_empty() {
                return Err(rp.idx(i).key("include_from_parent").err("`include_from_parent` needs a `{type: resolve}` param naming the parent"));
            }
        }
        // Parent chains must end: a → b → a would never start.
        for (i, r) in resources.iter().enumerate() {
            let mut cur = r;
            let mut steps = 0;
            while let Some(parent) = cur.parent() {
                steps += 1;
                if steps > resources.len() {
                    return Err(rp.idx(i).key("endpoint").key("params").err(format!("resource `{}` is part of a parent cycle", r.name)));
                }
                match resources.iter().find(|x| x.name == parent) {
                    Some(x) => cur = x,
                    None => break,
                }
            }
        }
        Ok(())
    }

    fn client(&mut self, v: &Value, p: &P) -> Result<ClientSpec, SpecError> {
        let m = as_obj(v, p, "the client")?;
        self.known(m, p, &["base_url", "headers", "params", "timeout", "connect_timeout", "auth", "paginator", "retry"]);
        let base_url = req_string(m, "base_url", p)?;
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(p.key("base_url").err(format!("`{base_url}` is not an http:// or https:// URL")));
        }
        let headers = get(m, "headers").map(|h| string_map(h, &p.key("headers"))).transpose()?.unwrap_or_default();
        let params = match get(m, "params") {
            Some(v) => self.params(v, &p.key("params"))?,
            None => vec![],
        };
        if params.iter().any(|(_, x)| matches!(x, ParamSpec::Resolve { .. })) {
            return Err(p.key("params").err("client params cannot resolve from a parent resource"));
        }
        let timeout = opt_secs(m, "timeout", p)?.unwrap_or(Duration::from_secs(60));
        let connect_timeout = opt_secs(m, "connect_timeout", p)?.unwrap_or(Duration::from_secs(30));
        let auth = match get(m, "auth") {
            Some(a) => self.auth(a, &p.key("auth"))?,
            None => AuthSpec::None,
        };
        let paginator = match get(m, "paginator") {
            Some(v) => self.paginator(v, &p.key("paginator"))?,
            None => PaginatorSpec::SinglePage,
        };
        let retry = match get(m, "retry") {
            Some(v) => self.retry(v, &p.key("retry"))?,
            None => RetrySpec::default(),
        };
        Ok(ClientSpec { base_url, headers, params, timeout, connect_timeout, auth, paginator, retry })
    }

    fn retry(&mut self, v: &Value, p: &P) -> Result<RetrySpec, SpecError> {
        let m = as_obj(v, p, "retry settings")?;
        self.known(m, p, &["max_attempts", "base_delay", "max_delay", "max_retry_after"]);
        let d = RetrySpec::default();
        let max_attempts = match opt_int(m, "max_attempts", p)? {
            Some(n) if n >= 1 => n.min(100) as u32,
            Some(_) => return Err(p.key("max_attempts").err("must be at least 1")),
            None => d.max_attempts,
        };
        Ok(RetrySpec {
            max_attempts,
            base_delay: opt_secs(m, "base_delay", p)?.unwrap_or(d.base_delay),
            max_delay: opt_secs(m, "max_delay", p)?.unwrap_or(d.max_delay),
            max_retry_after: opt_secs(m, "max_retry_after", p)?.unwrap_or(d.max_retry_after),
        })
    }

    fn auth(&mut self, v: &Value, p: &P) -> Result<AuthSpec, SpecError> {
        let m = as_obj(v, p, "auth settings")?;
        let tp = p.key("type");
        let kinds = [
            ("bearer", 0),
            ("api_key", 1),
            ("http_basic", 2),
            ("oauth2_client_credentials", 3),
            ("oauth2_refresh_token", 4),
        ];
        // dlt allows omitting the type when the fields say it.
        let kind = match get(m, "type") {
            Some(t) => choice(t, &tp, &kinds)?,
            None if m.contains_key("token") => 0,
            None if m.contains_key("api_key") => 1,
            None if m.contains_key("username") => 2,
            None => return Err(tp.err("`type` is required; expected one of `bearer`, `api_key`, `http_basic`, `oauth2_client_credentials`, `oauth2_refresh_token`")),
        };
        let token_url = |m: &Map<String, Value>| -> Result<String, SpecError> {
            match opt_string(m, "token_url", p)? {
                Some(u) => Ok(u),
                None => opt_string(m, "access_token_url", p)?.ok_or_else(|| p.key("token_url").err("`token_url` is required")),
            }
        };
        Ok(match kind {
            0 => {
                self.known(m, p, &["type", "token"]);
                AuthSpec::Bearer { token: req_string(m, "token", p)? }
            }
            1 => {
                self.known(m, p, &["type", "name", "api_key", "location"]);
                let location = match get(m, "location") {
                    Some(l) => choice(l, &p.key("location"), &[("header", ApiKeyLocation::Header), ("query", ApiKeyLocation::Query)])?,
                    None => ApiKeyLocation::Header,
                };
                AuthSpec::ApiKey { name: opt_string(m, "name", p)?.unwrap_or_else(|| "Authorization".into()), api_key: req_string(m, "api_key", p)?, location }
            }
            2 => {
                self.known(m, p, &["type", "username", "password"]);
                AuthSpec::HttpBasic { username: req_string(m, "username", p)?, password: opt_string(m, "password", p)?.unwrap_or_default() }
            }
            3 => {
                self.known(m, p, &["type", "token_url", "access_token_url", "client_id", "client_secret", "scope", "access_token_request_data", "client_auth"]);
                let extra = get(m, "access_token_request_data").map(|v| string_map(v, &p.key("access_token_request_data"))).transpose()?.unwrap_or_default();
                let basic_client_auth = match get(m, "client_auth") {
                    Some(v) => choice(v, &p.key("client_auth"), &[("body", false), ("basic", true)])?,
                    None => false,
                };
                AuthSpec::OAuth2ClientCredentials {
                    token_url: token_url(m)?,
                    client_id: req_string(m, "client_id", p)?,
                    client_secret: req_string(m, "client_secret", p)?,
                    scope: opt_string(m, "scope", p)?,
                    extra,
                    basic_client_auth,
                }
            }
            _ => {
                self.known(m, p, &["type", "token_url", "access_token_url", "client_id", "client_secret", "refresh_token"]);
                AuthSpec::OAuth2RefreshToken {
                    token_url: token_url(m)?,
                    client_id: req_string(m, "client_id", p)?,
                    client_secret: req_string(m, "client_secret", p)?,
                    refresh_token: req_string(m, "refresh_token", p)?,
                }
            }
        })
    }

    fn paginator(&mut self, v: &Value, p: &P) -> Result<PaginatorSpec, SpecError> {
        let empty = Map::new();
        let (kind_v, m, tp) = match v {
            Value::String(_) => (v, &empty, p.clone()),
            Value::Object(m) => (get(m, "type").ok_or_else(|| p.key("type").err("`type` is required"))?, m, p.key("type")),
            other => return Err(p.err(format!("expected a paginator type or mapping, found {}", crate::config::yaml::kind_of(other)))),
        };
        let kinds = [
            ("single_page", 0),
            ("page_number", 1),
            ("offset", 2),
            ("cursor", 3),
            ("json_link", 4),
            ("json_response", 4),
            ("header_link", 5),
            ("header_cursor", 6),
        ];
        let kind = choice(kind_v, &tp, &kinds)?;
        let path_or = |k: &str, d: &str| -> Result<JsonPath, SpecError> {
            Ok(opt_path(m, k, p)?.unwrap_or_else(|| JsonPath::parse(d).unwrap_or(JsonPath { raw: d.into(), segs: vec![] })))
        };
        Ok(match kind {
            0 => {
                self.known(m, p, &["type"]);
                PaginatorSpec::SinglePage
            }
            1 => {
                self.known(m, p, &["type", "page_param", "base_page", "page", "total_path", "maximum_page", "stop_after_empty_page"]);
                let base_page = opt_int(m, "base_page", p)?.unwrap_or(0);
                let total_path = opt_path(m, "total_path", p)?;
                let maximum_page = opt_int(m, "maximum_page", p)?;
                let stop_after_empty_page = opt_bool(m, "stop_after_empty_page", p)?.unwrap_or(true);
                if total_path.is_none() && maximum_page.is_none() && !stop_after_empty_page {
                    return Err(p.err("a page_number paginator needs `total_path`, `maximum_page` or `stop_after_empty_page: true` to know when to stop"));
                }
                PaginatorSpec::PageNumber {
                    page_param: opt_string(m, "page_param", p)?.unwrap_or_else(|| "page".into()),
                    base_page,
                    page: opt_int(m, "page", p)?,
                    total_path,
                    maximum_page,
                    stop_after_empty_page,
                }
            }
            2 => {
                self.known(m, p, &["type", "offset_param", "limit_param", "limit", "offset", "total_path", "maximum_offset", "stop_after_empty_page"]);
                let limit = opt_int(m, "limit", p)?.ok_or_else(|| p.key("limit").err("`limit` (page size) is required for an offset paginator"))?;
                if limit <= 0 {
                    return Err(p.key("limit").err("`limit` must be positive"));
                }
                PaginatorSpec::Offset {
                    offset_param: opt_string(m, "offset_param", p)?.unwrap_or_else(|| "offset".into()),
                    limit_param: opt_string(m, "limit_param", p)?.unwrap_or_else(|| "limit".into()),
                    limit,
                    offset: opt_int(m, "offset", p)?.unwrap_or(0),
                    total_path: opt_path(m, "total_path", p)?,
                    maximum_offset: opt_int(m, "maximum_offset", p)?,
                    stop_after_empty_page: opt_bool(m, "stop_after_empty_page", p)?.unwrap_or(true),
                }
            }
            3 => {
                self.known(m, p, &["type", "cursor_path", "cursor_param"]);
                PaginatorSpec::Cursor { cursor_path: path_or("cursor_path", "cursors.next")?, cursor_param: opt_string(m, "cursor_param", p)?.unwrap_or_else(|| "cursor".into()) }
            }
            4 => {
                self.known(m, p, &["type", "next_url_path"]);
                PaginatorSpec::JsonLink { next_url_path: path_or("next_url_path", "next")? }
            }
            5 => {
                self.known(m, p, &["type", "links_next_key"]);
                PaginatorSpec::HeaderLink { links_next_key: opt_string(m, "links_next_key", p)?.unwrap_or_else(|| "next".into()) }
            }
            _ => {
                self.known(m, p, &["type", "cursor_key", "cursor_param"]);
                PaginatorSpec::HeaderCursor {
                    cursor_key: opt_string(m, "cursor_key", p)?.unwrap_or_else(|| "next".into()),
                    cursor_param: opt_string(m, "cursor_param", p)?.unwrap_or_else(|| "cursor".into()),
                }
            }
        })
    }

    fn params(&mut self, v: &Value, p: &P) -> Result<Vec<(String, ParamSpec)>, SpecError> {
        let m = as_obj(v, p, "params")?;
        let mut out = vec![];
        for (k, v) in m {
            let kp = p.key(k);
            let ps = match v {
                Value::Object(o) => {
                    let t = get(o, "type").and_then(Value::as_str).unwrap_or("");
                    match t {
                        "resolve" => {
                            self.known(o, &kp, &["type", "resource", "field"]);
                            let field = opt_path(o, "field", &kp)?.ok_or_else(|| kp.key("field").err("`field` is required"))?;
                            ParamSpec::Resolve { resource: req_string(o, "resource", &kp)?, field }
                        }
                        // dlt's param-shaped incremental is handled by `endpoint`.
                        "incremental" => continue,
                        _ => return Err(kp.key("type").err("a mapping param needs `type: resolve` (or `type: incremental`)")),
                    }
                }
                Value::String(t) if t.trim().starts_with("{resources.") && t.trim().ends_with('}') => {
                    let inner = &t.trim()[1..t.trim().len() - 1];
                    resources_placeholder(inner).map_err(|e| kp.err(e))?
                }
                Value::Array(_) => return Err(kp.err("a param must be a scalar or `{type: resolve, ...}`")),
                other => ParamSpec::Value(other.clone()),
            };
            out.push((k.clone(), ps));
        }
        Ok(out)
    }

    fn incremental(&mut self, m: &Map<String, Value>, p: &P, start_param: Option<String>) -> Result<IncrementalSpec, SpecError> {
        self.known(m, p, &["type", "cursor_path", "start_param", "end_param", "initial_value", "end_value", "convert", "lag", "range_start", "range_end", "on_cursor_value_missing"]);
        let cursor_path = opt_path(m, "cursor_path", p)?.ok_or_else(|| p.key("cursor_path").err("`cursor_path` is required"))?;
        if cursor_path.has_wildcard() {
            return Err(p.key("cursor_path").err("the cursor path must select one value per record (no `[*]`)"));
        }
        let range = |k: &str, d: Range| -> Result<Range, SpecError> {
            get(m, k).map(|v| choice(v, &p.key(k), &[("closed", Range::Closed), ("open", Range::Open)])).transpose().map(|r| r.unwrap_or(d))
        };
        Ok(IncrementalSpec {
            cursor_path,
            start_param: match start_param {
                Some(s) => Some(s),
                None => opt_string(m, "start_param", p)?,
            },
            end_param: opt_string(m, "end_param", p)?,
            initial_value: get(m, "initial_value").cloned(),
            end_value: get(m, "end_value").cloned(),
            convert: get(m, "convert")
                .map(|v| {
                    choice(
                        v,
                        &p.key("convert"),
                        &[("epoch", Convert::Epoch), ("epoch_ms", Convert::EpochMs), ("iso", Convert::Iso), ("date", Convert::Date)],
                    )
                })
                .transpose()?,
            lag: opt_f64(m, "lag", p)?,
            range_start: range("range_start", Range::Closed)?,
            range_end: range("range_end", Range::Open)?,
            on_cursor_value_missing: get(m, "on_cursor_value_missing")
                .map(|v| choice(v, &p.key("on_cursor_value_missing"), &[("raise", OnMissing::Raise), ("include", OnMissing::Include), ("exclude", OnMissing::Exclude)]))
                .transpose()?
                .unwrap_or(OnMissing::Raise),
        })
    }

    fn endpoint(&mut self, v: &Value, p: &P, name: &str) -> Result<EndpointSpec, SpecError> {
        let m = match v {
            Value::String(s) => return self.endpoint(&serde_json::json!({ "path": s }), p, name),
            other => as_obj(other, p, "an endpoint")?,
        };
        self.known(m, p, &["path", "method", "params", "json", "headers", "data_selector", "paginator", "incremental", "response_actions"]);
        let path = opt_string(m, "path", p)?.unwrap_or_else(|| name.to_string());
        let method = match get(m, "method") {
            Some(v) => choice(v, &p.key("method"), &[("get", Method::Get), ("post", Method::Post)])?,
            None => Method::Get,
        };
        let mut params = match get(m, "params") {
            Some(v) => self.params(v, &p.key("params"))?,
            None => vec![],
        };
        // dlt's newer `{resources.<parent>.<field>}` in the path: a resolve
        // param named after the placeholder itself.
        for ph in placeholders(&path) {
            if ph.starts_with("resources.") && !params.iter().any(|(k, _)| k == ph) {
                let ps = resources_placeholder(ph).map_err(|e| p.key("path").err(e))?;
                params.push((ph.to_string(), ps));
            }
        }
        // dlt's `params: {since: {type: incremental, cursor_path, initial_value}}`.
        let mut incremental = None;
        if let Some(Value::Object(pm)) = get(m, "params") {
            for (k, v) in pm {
                if let Value::Object(o) = v {
                    if get(o, "type").and_then(Value::as_str) == Some("incremental") {
                        incremental = Some(self.incremental(o, &p.key("params").key(k), Some(k.clone()))?);
                    }
                }
            }
        }
        if let Some(v) = get(m, "incremental") {
            if incremental.is_some() {
                return Err(p.key("incremental").err("incremental is declared twice (also as a `type: incremental` param)"));
            }
            incremental = Some(self.incremental(as_obj(v, &p.key("incremental"), "incremental settings")?, &p.key("incremental"), None)?);
        }
        // Every `{placeholder}` in the path must be something we can fill.
        for ph in placeholders(&path) {
            let ok = match ph.strip_prefix("incremental.") {
                Some(rest) => incremental.is_some() && matches!(rest, "start_value" | "end_value" | "last_value" | "initial_value"),
                None => params.iter().any(|(k, ps)| k == ph && matches!(ps, ParamSpec::Resolve { .. })),
            };
            if !ok {
                return Err(p.key("path").err(format!(
                    "placeholder `{{{ph}}}` is neither a `type: resolve` param nor `incremental.start_value`/`incremental.end_value` (with incremental declared)"
                )));
            }
        }
        let response_actions = match get(m, "response_actions") {
            Some(Value::Array(a)) => a.iter().enumerate().map(|(i, x)| self.response_action(x, &p.key("response_actions").idx(i))).collect::<Result<_, _>>()?,
            Some(other) => return Err(p.key("response_actions").err(format!("expected a list, found {}", crate::config::yaml::kind_of(other)))),
            None => vec![],
        };
        Ok(EndpointSpec {
            path,
            method,
            params,
            json: get(m, "json").cloned(),
            headers: get(m, "headers").map(|h| string_map(h, &p.key("headers"))).transpose()?.unwrap_or_default(),
            data_selector: opt_path(m, "data_selector", p)?,
            paginator: get(m, "paginator").map(|v| self.paginator(v, &p.key("paginator"))).transpose()?,
            incremental,
            response_actions,
        })
    }

    fn response_action(&mut self, v: &Value, p: &P) -> Result<ResponseAction, SpecError> {
        let m = as_obj(v, p, "a response action")?;
        self.known(m, p, &["status_code", "content", "action"]);
        let status_code = match opt_int(m, "status_code", p)? {
            Some(c) if (100..600).contains(&c) => Some(c as u16),
            Some(c) => return Err(p.key("status_code").err(format!("{c} is not an HTTP status code"))),
            None => None,
        };
        let content = opt_string(m, "content", p)?;
        if status_code.is_none() && content.is_none() {
            return Err(p.err("a response action needs `status_code` and/or `content`"));
        }
        let action = match get(m, "action") {
            Some(v) => choice(v, &p.key("action"), &[("ignore", ResponseActionKind::Ignore)])?,
            None => return Err(p.key("action").err("`action` is required; expected `ignore`")),
        };
        Ok(ResponseAction { status_code, content, action })
    }

    fn resource(&mut self, v: &Value, p: &P) -> Result<ResourceSpec, SpecError> {
        let m = as_obj(v, p, "a resource")?;
        self.known(
            m,
            p,
            &[
                "name", "table_name", "endpoint", "primary_key", "merge_key", "write_disposition", "schema_contract", "max_table_nesting",
                "include_from_parent", "selected", "description", "columns",
            ],
        );
        let name = req_string(m, "name", p)?;
        if name.trim().is_empty() {
            return Err(p.key("name").err("the resource name is empty"));
        }
        let endpoint = match get(m, "endpoint") {
            Some(e) => self.endpoint(e, &p.key("endpoint"), &name)?,
            None => self.endpoint(&Value::Object(Map::new()), &p.key("endpoint"), &name)?,
        };
        let list = |k: &str| get(m, k).map(|v| string_list(v, &p.key(k))).transpose().map(Option::unwrap_or_default);
        let write_disposition = match get(m, "write_disposition") {
            Some(v) => write_disposition(v, &p.key("write_disposition"))?,
            None => WriteDisposition::Append,
        };
        let primary_key = list("primary_key")?;
        if matches!(write_disposition, WriteDisposition::Merge(_)) && primary_key.is_empty() && list("merge_key")?.is_empty() {
            return Err(p.key("write_disposition").err("`merge` needs a `primary_key` (or `merge_key`)"));
        }
        let max_table_nesting = match opt_int(m, "max_table_nesting", p)? {
            Some(n) if n >= 0 => Some(n as usize),
            Some(_) => return Err(p.key("max_table_nesting").err("must be 0 or more")),
            None => None,
        };
        Ok(ResourceSpec {
            table_name: opt_string(m, "table_name", p)?,
            endpoint,
            primary_key,
            merge_key: list("merge_key")?,
            write_disposition,
            schema_contract: match get(m, "schema_contract") {
                Some(v) => schema_contract(v, &p.key("schema_contract"))?,
                None => SchemaContract::default(),
            },
            max_table_nesting,
            include_from_parent: list("include_from_parent")?,
            selected: opt_bool(m, "selected", p)?.unwrap_or(true),
            name,
        })
    }
}

fn write_disposition(v: &Value, p: &P) -> Result<WriteDisposition, SpecError> {
    let kinds = [("append", 0), ("replace", 1), ("merge", 2)];
    let (kind, strategy) = match v {
        Value::Object(m) => {
            let k = get(m, "disposition").ok_or_else(|| p.key("disposition").err("`disposition` is required"))?;
            (choice(k, &p.key("disposition"), &kinds)?, get(m, "strategy"))
        }
        other => (choice(other, p, &kinds)?, None),
    };
    Ok(match kind {
        0 => WriteDisposition::Append,
        1 => WriteDisposition::Replace,
        _ => WriteDisposition::Merge(match strategy {
            Some(s) => choice(s, &p.key("strategy"), &[("delete-insert", MergeStrategy::DeleteInsert), ("scd2", MergeStrategy::Scd2)])?,
            None => MergeStrategy::DeleteInsert,
        }),
    })
}

fn schema_contract(v: &Value, p: &P) -> Result<SchemaContract, SpecError> {
    let modes = [
        ("evolve", ContractMode::Evolve),
        ("freeze", ContractMode::Freeze),
        ("discard_row", ContractMode::DiscardRow),
        ("discard_value", ContractMode::DiscardValue),
    ];
    match v {
        Value::Object(m) => {
            for k in m.keys() {
                if !matches!(k.as_str(), "tables" | "columns" | "data_type") {
                    return Err(p.key(k).err(format!("unknown schema contract entity `{k}`; expected `tables`, `columns` or `data_type`")));
                }
            }
            let one = |k: &str| get(m, k).map(|x| choice(x, &p.key(k), &modes)).transpose().map(Option::unwrap_or_default);
            Ok(SchemaContract { tables: one("tables")?, columns: one("columns")?, data_type: one("data_type")? })
        }
        other => {
            let mode = choice(other, p, &modes)?;
            Ok(SchemaContract { tables: mode, columns: mode, data_type: mode })
        }
    }
}

/// `resources.<parent>.<field path>` as a resolve param.
fn resources_placeholder(ph: &str) -> Result<ParamSpec, String> {
    let rest = ph.strip_prefix("resources.").unwrap_or(ph);
    match rest.split_once('.') {
        Some((resource, field)) if !resource.is_empty() && !field.is_empty() => {
            Ok(ParamSpec::Resolve { resource: resource.to_string(), field: JsonPath::parse(field)? })
        }
        _ => Err(format!("`{{{ph}}}` should be `{{resources.<parent resource>.<field>}}`")),
    }
}

/// `{name}` placeholders of a template string (`{{` is not one).
pub(crate) fn placeholders(s: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        if after.starts_with('{') {
            rest = &after[1..];
            continue;
        }
        match after.find('}') {
            Some(j) => {
                out.push(after[..j].trim());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// `over` merged onto `base`: mappings merge key by key, anything else replaces.
fn deep_merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut m = b.clone();
            for (k, v) in o {
                let merged = match m.get(k) {
                    Some(bv) => deep_merge(bv, v),
                    None => v.clone(),
                };
                m.insert(k.clone(), merged);
            }
            Value::Object(m)
        }
        (_, o) => o.clone(),
    }
}

/// Whether the rendered relative path (`.endpoint.params.x`, `[0]`) exists in `v`.
fn path_exists(v: &Value, rel: &str) -> bool {
    let mut cur = v;
    for part in rel.split('.').filter(|s| !s.is_empty()) {
        let (key, idxs) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            match cur.get(key) {
                Some(n) => cur = n,
                None => return false,
            }
        }
        for idx in idxs.split('[').filter(|s| !s.is_empty()) {
            match idx.trim_end_matches(']').parse::<usize>().ok().and_then(|i| cur.get(i)) {
                Some(n) => cur = n,
                None => return false,
            }
        }
    }
    true
}

/// Parse one ingest declaration. Returns the spec and warnings (unknown keys).
pub fn parse_spec(value: &Value) -> Result<(IngestSpec, Vec<SpecError>), SpecError> {
    let mut p = Parser { warnings: vec![] };
    let spec = p.spec(value)?;
    Ok((spec, p.warnings))
}

impl IngestSpec {
    /// [`parse_spec`] without the warnings.
    pub fn from_value(value: &Value) -> Result<IngestSpec, SpecError> {
        parse_spec(value).map(|(s, _)| s)
    }

    pub fn resource(&self, name: &str) -> Option<&ResourceSpec> {
        self.resources.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"name": "api", "client": {"base_url": "https://example.com/v1/"}, "resources": [{"name": "items"}]})
    }

    #[test]
    fn json_path_subset() {
        let v = json!({"data": {"items": [{"id": 1, "n": {"x": 2}}, {"id": 3}], "next": null}, "a b": 5});
        let doc = crate::ingest::doc::Doc::from_value(&v);
        let d = doc.root();
        let values = |found: Option<Vec<JsonRef<'_>>>| found.map(|f| f.iter().map(|r| r.to_value()).collect::<Vec<_>>());
        let one = |found: Option<JsonRef<'_>>| found.map(|r| r.to_value());
        let p = JsonPath::parse("$.data.items[*].id").unwrap();
        assert_eq!(values(p.find_all(d)).unwrap(), vec![json!(1), json!(3)]);
        assert_eq!(one(JsonPath::parse("data.items[0].n.x").unwrap().find(d)), Some(json!(2)));
        assert_eq!(one(JsonPath::parse("$").unwrap().find(d)), Some(v.clone()));
        assert_eq!(one(JsonPath::parse("$['a b']").unwrap().find(d)), Some(json!(5)));
        assert_eq!(values(JsonPath::parse("data.items[*].n.x").unwrap().find_all(d)).unwrap(), vec![json!(2)]);
        assert_eq!(values(JsonPath::parse("data.*").unwrap().find_all(d)).unwrap().len(), 2);
        assert!(JsonPath::parse("data.missing").unwrap().find_all(d).is_none());
        assert!(JsonPath::parse("missing[*].id").unwrap().find_all(d).is_none());
        assert!(JsonPath::parse("data..x").is_err());
        assert!(JsonPath::parse("a[?(@.x)]").is_err());
    }

    #[test]
    fn full_spec_parses_with_defaults_merged() {
        let v = json!({
            "name": "strava", "source": "strava_raw",
            "client": {
                "base_url": "https://www.strava.com/api/v3/", "timeout": 5, "headers": {"Accept": "application/json"},
                "auth": {"type": "oauth2_refresh_token", "token_url": "https://x/token", "client_id": 12, "client_secret": "s", "refresh_token": "r"},
                "paginator": {"type": "page_number", "base_page": 1}
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge", "endpoint": {"params": {"per_page": 200}}},
            "resources": [
                {"name": "activities", "endpoint": {"path": "athlete/activities", "params": {"x": "y"},
                    "incremental": {"cursor_path": "start_date", "start_param": "after", "initial_value": "2024-01-01T00:00:00Z", "convert": "epoch", "lag": 86400}}},
                {"name": "laps", "write_disposition": {"disposition": "merge", "strategy": "scd2"}, "schema_contract": {"columns": "freeze"},
                 "include_from_parent": ["name"],
                 "endpoint": {"path": "activities/{activity_id}/laps", "params": {"activity_id": {"type": "resolve", "resource": "activities", "field": "id"}}}}
            ],
            "record_dir": "rec"
        });
        let (s, warnings) = parse_spec(&v).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.source, "strava_raw");
        assert_eq!(s.client.timeout, Duration::from_secs(5));
        assert!(matches!(s.client.auth, AuthSpec::OAuth2RefreshToken { ref client_id, .. } if client_id == "12"));
        let a = &s.resources[0];
        assert_eq!(a.endpoint.params, vec![("per_page".into(), ParamSpec::Value(json!(200))), ("x".into(), ParamSpec::Value(json!("y")))]);
        assert_eq!(a.endpoint.incremental.as_ref().unwrap().convert, Some(Convert::Epoch));
        let l = s.resource("laps").unwrap();
        assert_eq!(l.parent(), Some("activities"));
        let load = l.load();
        assert_eq!(load.write_disposition, WriteDisposition::Merge(MergeStrategy::Scd2));
        assert_eq!(load.primary_key, vec!["id".to_string()]);
        assert_eq!(load.table, "laps");
        assert_eq!(load.schema_contract.columns, ContractMode::Freeze);
        assert_eq!(load.schema_contract.tables, ContractMode::Evolve);
        assert_eq!(s.record_dir, Some(PathBuf::from("rec")));
    }

    #[test]
    fn errors_name_the_path_and_the_choices() {
        let mut v = base();
        v["resources"] = json!([{"name": "a"}, {"name": "b", "endpoint": {"paginator": {"type": "pages"}}}]);
        let e = IngestSpec::from_value(&v).unwrap_err();
        assert_eq!(e.path, "resources[1].endpoint.paginator.type");
        assert!(e.message.contains("`page_number`") && e.message.contains("`header_cursor`"), "{}", e.message);

        let mut v = base();
        v["resource_defaults"] = json!({"write_disposition": "upsert"});
        let e = IngestSpec::from_value(&v).unwrap_err();
        assert_eq!(e.path, "resource_defaults.write_disposition");

        let mut v = base();
        v["resources"] = json!([{"name": "c", "endpoint": {"path": "x/{id}"}}]);
        assert_eq!(IngestSpec::from_value(&v).unwrap_err().path, "resources[0].endpoint.path");

        let mut v = base();
        v["resources"] = json!([{"name": "c", "endpoint": {"params": {"id": {"type": "resolve", "resource": "nope", "field": "id"}}}}]);
        assert_eq!(IngestSpec::from_value(&v).unwrap_err().path, "resources[0].endpoint.params.id.resource");

        let mut v = base();
        v["client"]["auth"] = json!({"type": "api_key", "api_key": "k", "location": "cookie"});
        let e = IngestSpec::from_value(&v).unwrap_err();
        assert_eq!(e.path, "client.auth.location");
        assert!(e.message.contains("`query`"));

        let mut v = base();
        v["resources"][0]["write_disposition"] = json!("merge");
        assert_eq!(IngestSpec::from_value(&v).unwrap_err().path, "resources[0].write_disposition");
    }

    #[test]
    fn resources_placeholders_become_resolve_params() {
        let mut v = base();
        v["resources"] = json!([{"name": "posts"}, {"name": "comments", "endpoint": {"path": "posts/{resources.posts.id}/comments",
            "params": {"author": "{resources.posts.author.name}"}}}]);
        let s = IngestSpec::from_value(&v).unwrap();
        let c = &s.resources[1];
        assert_eq!(c.parent(), Some("posts"));
        assert_eq!(
            c.endpoint.params,
            vec![
                ("author".into(), ParamSpec::Resolve { resource: "posts".into(), field: JsonPath::parse("author.name").unwrap() }),
                ("resources.posts.id".into(), ParamSpec::Resolve { resource: "posts".into(), field: JsonPath::parse("id").unwrap() }),
            ]
        );
        v["resources"][1]["endpoint"]["path"] = json!("x/{resources.posts}");
        assert_eq!(IngestSpec::from_value(&v).unwrap_err().path, "resources[1].endpoint.path");
    }

    #[test]
    fn the_documented_example_parses() {
        let src = include_str!("spec.rs");
        let yaml: String = src
            .lines()
            .skip_while(|l| !l.starts_with("//! ```yaml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").strip_prefix(' ').unwrap_or("")))
            .collect();
        let v: Value = serde_yaml::from_str(&yaml).unwrap();
        let (s, warnings) = parse_spec(&v[0]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.resources.len(), 2);
        assert_eq!(s.resource("laps").unwrap().parent(), Some("activities"));
        assert_eq!(s.client.retry.max_attempts, 5);
    }

    #[test]
    fn unknown_keys_warn() {
        let mut v = base();
        v["client"]["paginatr"] = json!("x");
        let (_, w) = parse_spec(&v).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].path, "client.paginatr");
    }

    #[test]
    fn shorthands() {
        let mut v = base();
        v["resources"] = json!(["users", {"name": "events", "endpoint": {"paginator": "header_link",
            "params": {"since": {"type": "incremental", "cursor_path": "ts", "initial_value": 0}}}}]);
        let s = IngestSpec::from_value(&v).unwrap();
        assert_eq!(s.resources[0].endpoint.path, "users");
        assert_eq!(s.resources[1].endpoint.path, "events");
        assert_eq!(s.resources[1].endpoint.paginator, Some(PaginatorSpec::HeaderLink { links_next_key: "next".into() }));
        let inc = s.resources[1].endpoint.incremental.as_ref().unwrap();
        assert_eq!(inc.start_param.as_deref(), Some("since"));
        assert!(s.resources[1].endpoint.params.is_empty());
    }
}
