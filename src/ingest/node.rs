//! An ingest node in the DAG: the declaration written under `ingest:` in a
//! properties file, rendered (Jinja, `env_var()`), fetched page by page and
//! loaded into the schema of the source it feeds, with the cursor state
//! committed in the same transaction as the rows.
//!
//! The declaration is kept unrendered in the manifest (`raw_code`) and is
//! rendered again when the node runs, so credentials never reach
//! `target/`. Parsing renders it once too, only to report a wrong
//! declaration or a missing env var before anything runs.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::fetch::{self, FetchError, FetchOptions, RunError};
use super::load::{self, LoadSummary, Loader};
use super::spec::{IngestSpec, SpecError, parse_spec};
use super::{Page, ResourceLoad};
use crate::adapter::Connection;
use crate::diag::{Diagnostic, Span};
use crate::manifest::Node;

/// Renders every string of `value` that holds Jinja with `render`
/// ([`crate::jinja::render_yaml_strings`]: an empty or `None` result is
/// null, so `replay_dir: "{{ 'x' if target.name == 'dev' }}"` can switch
/// an option off).
/// Secret env vars (`DBT_ENV_SECRET_*`) are allowed here: credentials are
/// what a declaration needs them for, and the rendered values are never
/// printed or written out.
pub fn render_strings(value: &Value, render: &mut dyn FnMut(&str) -> Result<String, Diagnostic>) -> Result<Value, Diagnostic> {
    crate::jinja::with_secrets_allowed(|| crate::jinja::render_yaml_strings(value, render))
}

/// The declaration of `node` (its YAML entry, unrendered).
pub fn declaration(node: &Node) -> Result<Value, Diagnostic> {
    serde_yaml::from_str::<serde_yaml::Value>(&node.raw_code)
        .map(crate::config::yaml::to_json)
        .map_err(|e| Diagnostic::error("ingest-spec", format!("ingest '{}': cannot read its declaration: {e}", node.name)).at(&node.file, node.span.unwrap_or(Span::new(0, 0))))
}

/// Parses a rendered declaration; a wrong value is reported at its key in
/// the YAML file, unknown keys as warnings.
pub fn spec_of(node: &Node, rendered: &Value) -> Result<(IngestSpec, Vec<Diagnostic>), Diagnostic> {
    let at = |e: &SpecError, warning: bool| {
        let msg = format!("ingest '{}': {}: {}", node.name, e.path, e.message);
        let d = if warning { Diagnostic::warning("ingest-spec", msg) } else { Diagnostic::error("ingest-spec", msg) };
        d.at(&node.file, span_of_path(&node.file, node.span, &e.path))
    };
    match parse_spec(rendered) {
        Ok((spec, warnings)) => Ok((spec, warnings.iter().map(|w| at(w, true)).collect())),
        Err(e) => Err(at(&e, false)),
    }
}

/// Where `path` (`resources[1].endpoint.paginator.type`) is written: the
/// last key of the path found after the entry's start, else the entry.
pub(crate) fn span_of_path(file: &Path, entry: Option<Span>, path: &str) -> Span {
    let start = entry.map_or(0, |s| s.start);
    let fallback = entry.unwrap_or(Span::new(0, 0));
    let Ok(text) = std::fs::read_to_string(file) else { return fallback };
    let mut from = start.min(text.len());
    // Walk the keys in order so that `endpoint.path` of the second
    // resource is found after `resources`, not in the first one.
    let mut found = None;
    for part in path.split('.') {
        let key = part.split('[').next().unwrap_or(part);
        if key.is_empty() {
            continue;
        }
        if let Some(sp) = Span::find(&text, &format!("{key}:"), from) {
            from = sp.end;
            found = Some(Span::new(sp.start, sp.start + key.len()));
        }
    }
    found.unwrap_or(fallback)
}

/// Run-time switches from the command line.
#[derive(Debug, Clone, Default)]
pub struct IngestRunOptions {
    /// Record every response under `<dir>/<ingest name>/`.
    pub record_dir: Option<PathBuf>,
    /// Replay responses from `<dir>/<ingest name>/`, no network.
    pub replay_dir: Option<PathBuf>,
    /// The project directory, against which relative spec paths resolve.
    pub project_root: PathBuf,
}

/// What one ingest node did.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub summary: LoadSummary,
    pub requests: usize,
    /// Records fetched per resource.
    pub records: Vec<(String, usize)>,
}

impl IngestOutcome {
    /// `12 requests, 400 records: activities 400, athlete_stats 1`.
    pub fn message(&self) -> String {
        let total: usize = self.records.iter().map(|(_, n)| n).sum();
        let per: Vec<String> = self.records.iter().map(|(r, n)| format!("{r} {n}")).collect();
        format!("{} requests, {total} records: {}", self.requests, per.join(", "))
    }
    pub fn rows(&self) -> u64 {
        self.summary.tables.iter().map(|t| t.rows).sum()
    }
}

/// Fetches and loads `spec` into `database`.`schema` through `conn`:
/// everything or nothing becomes visible.
pub fn run(conn: &mut dyn Connection, spec: &IngestSpec, database: &str, schema: &str, opts: &IngestRunOptions) -> Result<IngestOutcome, Diagnostic> {
    let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { opts.project_root.join(p) };
    // The command line wins over the declaration: `--record-ingest` records
    // even where the declaration replays (that is how recordings are made).
    let mut spec = spec.clone();
    let (record_dir, replay_dir) = match (&opts.record_dir, &opts.replay_dir) {
        (None, None) => (spec.record_dir.as_deref().map(resolve), spec.replay_dir.as_deref().map(resolve)),
        (record, replay) => (record.as_ref().map(|d| resolve(&d.join(&spec.name))), replay.as_ref().map(|d| resolve(&d.join(&spec.name)))),
    };
    (spec.record_dir, spec.replay_dir) = (None, None);
    let spec = &spec;
    let fetch_opts = FetchOptions { record_dir, replay_dir, ..FetchOptions::default() };
    let err = |msg: String| Diagnostic::error("ingest", msg);
    conn.create_schema(database, schema).map_err(|e| err(format!("ingest '{}': cannot create schema {schema}: {}", spec.name, e.message)))?;
    let states = load::read_states(conn, database, schema, &spec.name).map_err(|e| err(format!("ingest '{}': {e}", spec.name)))?;
    let mut loader = Loader::begin(conn, database, schema, &spec.name).map_err(|e| err(format!("ingest '{}': {e}", spec.name)))?;
    // Fetching (HTTP, JSON parsing) runs on its own thread and hands pages
    // to the loader through a small bounded queue; the loader normalizes on
    // a second thread and writes to the engine on this one. The three
    // overlap, and at most PAGES_IN_FLIGHT pages wait in memory.
    const PAGES_IN_FLIGHT: usize = 4;
    let (tx, rx) = crossbeam_channel::bounded::<(ResourceLoad, Page)>(PAGES_IN_FLIGHT);
    let (fetched, load_error) = std::thread::scope(|scope| {
        let fetcher = scope.spawn(|| {
            let tx = tx;
            fetch::run(spec, &states, &fetch_opts, &mut |resource, page| tx.send((resource.load(), page)).map_err(|_| ()))
        });
        let load_error = loader.write_pages(rx.iter()).err();
        // A stopped loader ends the fetch at its next page.
        drop(rx);
        (fetcher.join(), load_error)
    });
    // A loader error comes first: the fetch's own error is then only its
    // consequence. Data that breaks a frozen schema contract and a 2xx
    // response that is not what the declaration describes (not JSON, no
    // `data_selector` match) are bad input (`ingest-input`, exit 2);
    // unreachable or failing servers are node errors.
    let outcome = match (fetched, load_error) {
        (_, Some(e)) => Err((if matches!(e, load::LoadError::Contract(..)) { "ingest-input" } else { "ingest" }, format!("ingest '{}': {e}", spec.name))),
        (Ok(Ok(o)), None) => Ok(o),
        (Ok(Err(RunError::Fetch(f))), None) => {
            let malformed = matches!(&f, FetchError::Request { status: Some(s), .. } if (200..300).contains(s));
            Err((if malformed { "ingest-input" } else { "ingest" }, f.to_string()))
        }
        (Ok(Err(RunError::Sink(()))) | Err(_), None) => Err(("ingest", format!("ingest '{}': fetching stopped unexpectedly", spec.name))),
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err((code, msg)) => {
            loader.abort();
            return Err(Diagnostic::error(code, msg));
        }
    };
    let summary = loader.commit(&outcome.states).map_err(|e| err(format!("ingest '{}': {e}", spec.name)))?;
    Ok(IngestOutcome { summary, requests: outcome.requests, records: outcome.resources.iter().map(|r| (r.resource.clone(), r.records)).collect() })
}
