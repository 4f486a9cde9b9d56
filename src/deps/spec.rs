//! `packages.yml` / `dependencies.yml`: reading, rendering (`env_var`,
//! `var` from `--vars`, secrets allowed as in dbt), validation with
//! file:line:col diagnostics, and dbt's `sha1_hash` of the specs that tells
//! whether package-lock.yml still matches them.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use crate::config::yaml;
use crate::diag::{Diagnostic, Diagnostics, Span};

pub const PACKAGES_FILE: &str = "packages.yml";
pub const DEPENDENCIES_FILE: &str = "dependencies.yml";

/// Where a package comes from, with its rendered values.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A directory, relative to the root project.
    Local { path: String },
    Git {
        url: String,
        /// The URL as written (it may hold `env_var(...)`): what the lock file
        /// records, so that secrets never reach it.
        url_unrendered: String,
        revision: Option<String>,
        subdirectory: Option<String>,
        warn_unpinned: bool,
    },
    Hub { package: String, versions: Vec<String>, install_prerelease: bool },
    Tarball { url: String, name: String },
}

impl Source {
    /// How the package is named in messages (dbt's `name` of a package).
    pub fn display(&self) -> String {
        match self {
            Source::Local { path } => path.clone(),
            Source::Git { url_unrendered, subdirectory: Some(s), .. } => format!("{url_unrendered}/{s}"),
            Source::Git { url_unrendered, .. } => url_unrendered.clone(),
            Source::Hub { package, .. } => package.clone(),
            Source::Tarball { url, .. } => url.clone(),
        }
    }
}

/// One entry of a packages list.
#[derive(Debug, Clone)]
pub struct PackageSpec {
    pub source: Source,
    /// The entry after rendering and as written: both go into the hash.
    pub rendered: Map<String, Value>,
    pub unrendered: Map<String, Value>,
    /// The file that lists it and the entry's place there.
    pub file: PathBuf,
    pub span: Option<Span>,
}

impl PackageSpec {
    /// A diagnostic pointing at this entry.
    pub fn error(&self, code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(code, message).in_file(&self.file).with_span(self.span)
    }
}

/// The packages a project asks for.
#[derive(Debug, Clone)]
pub struct PackagesFile {
    pub file: PathBuf,
    pub specs: Vec<PackageSpec>,
}

/// A packages file: its path, text and parsed top level.
pub type RawPackages = (PathBuf, String, Map<String, Value>);

/// Reads the packages of the project in `dir`: `dependencies.yml`'s
/// `packages:` if it has one, else `packages.yml`. `None` when neither file
/// lists packages.
pub fn read(dir: &Path, cli_vars: &Map<String, Value>) -> Result<Option<PackagesFile>, Diagnostics> {
    let Some((file, text, raw)) = raw_packages(dir)? else { return Ok(None) };
    let specs = parse_list(&raw, &text, &file, cli_vars)?;
    Ok(Some(PackagesFile { file, specs }))
}

/// The packages file of `dir`, its text and its parsed top level, with
/// dbt's rules for having both files.
pub fn raw_packages(dir: &Path) -> Result<Option<RawPackages>, Diagnostics> {
    let load = |name: &str| -> Result<Option<RawPackages>, Diagnostic> {
        let file = dir.join(name);
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let m = yaml::parse_mapping(&text, &file)?;
                Ok(Some((file, text, m)))
            }
            Err(_) => Ok(None),
        }
    };
    let packages = load(PACKAGES_FILE)?;
    let dependencies = load(DEPENDENCIES_FILE)?;
    if let Some((file, text, m)) = &packages
        && m.contains_key("projects")
    {
        return Err(Diagnostic::error("packages", "the `projects` key belongs in dependencies.yml, not packages.yml")
            .in_file(file)
            .with_span(Span::find(text, "projects", 0))
            .into());
    }
    match (packages, dependencies) {
        (Some((pf, pt, pm)), Some((df, _, dm))) if pm.contains_key("packages") && dm.contains_key("packages") => {
            Err(Diagnostic::error("packages", "`packages:` may be listed in packages.yml or in dependencies.yml, not in both")
                .in_file(&pf)
                .with_span(Span::find(&pt, "packages", 0))
                .note(format!("also listed in {}", df.display()))
                .into())
        }
        (_, Some(d)) if d.2.contains_key("packages") => Ok(Some(d)),
        (Some(p), _) => Ok(Some(p)),
        _ => Ok(None),
    }
}

/// Validates and renders the `packages:` list of a parsed packages file.
pub fn parse_list(raw: &Map<String, Value>, text: &str, file: &Path, cli_vars: &Map<String, Value>) -> Result<Vec<PackageSpec>, Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut specs = Vec::new();
    let list = match raw.get("packages") {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(Diagnostic::error("packages", "`packages:` must be a list of packages").at(file, Span::find(text, "packages", 0).unwrap_or(Span::new(0, 0))).into());
        }
    };
    // Each entry's place: search from the previous entry's position, so two
    // entries with the same value point at their own lines.
    let mut from = Span::find(text, "packages", 0).map_or(0, |s| s.end);
    for entry in list {
        let Value::Object(unrendered) = entry else {
            let span = Span::find(text, "-", from);
            errors.push(Diagnostic::error("packages", format!("a package entry must be a mapping (local:, git:, package: or tarball:), got {entry}")).in_file(file).with_span(span));
            continue;
        };
        let span = entry_span(text, unrendered, from);
        if let Some(s) = span {
            from = s.end;
        }
        match parse_entry(unrendered, file, span, cli_vars) {
            Ok(spec) => specs.push(spec),
            Err(d) => errors.push(d),
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    Ok(specs)
}

/// The span of the key line that identifies an entry.
fn entry_span(text: &str, entry: &Map<String, Value>, from: usize) -> Option<Span> {
    for key in ["local", "git", "package", "tarball", "private"] {
        if let Some(Value::String(v)) = entry.get(key) {
            let rest = text.get(from..).unwrap_or("");
            if let Some(s) = yaml::find_entry(rest, key, v) {
                return Some(Span::new(s.start + from, s.end + from));
            }
        }
    }
    let key = entry.keys().next()?;
    Span::find(text, key, from)
}

fn parse_entry(unrendered: &Map<String, Value>, file: &Path, span: Option<Span>, cli_vars: &Map<String, Value>) -> Result<PackageSpec, Diagnostic> {
    let err = |msg: String| Diagnostic::error("packages", msg).in_file(file).with_span(span);
    let mut rendered = Value::Object(unrendered.clone());
    let mut render_errors = Vec::new();
    crate::config::render_tree(&mut rendered, cli_vars, "", &mut render_errors, true);
    if let Some(e) = render_errors.into_iter().next() {
        return Err(err(e));
    }
    let Value::Object(rendered) = rendered else { return Err(err("a package entry must be a mapping".into())) };
    let text = |k: &str| -> Result<Option<String>, Diagnostic> {
        match rendered.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(err(format!("`{k}:` is empty; it needs a value"))),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // Versions and revisions may be written as YAML numbers.
            Some(v @ Value::Number(_)) => Ok(Some(v.to_string())),
            Some(v) => Err(err(format!("`{k}:` must be a string, got {v}"))),
        }
    };
    let kinds: Vec<&str> = ["local", "git", "package", "tarball", "private"].into_iter().filter(|k| rendered.contains_key(*k)).collect();
    let source = match kinds.as_slice() {
        ["local"] => Source::Local { path: text("local")?.unwrap_or_default() },
        ["git"] => Source::Git {
            url: text("git")?.unwrap_or_default(),
            url_unrendered: unrendered.get("git").and_then(Value::as_str).unwrap_or_default().to_string(),
            revision: text("revision")?,
            subdirectory: text("subdirectory")?,
            warn_unpinned: rendered.get("warn-unpinned").and_then(Value::as_bool) != Some(false),
        },
        ["package"] => {
            let package = text("package")?.unwrap_or_default();
            if !package.contains('/') {
                return Err(err(format!("'{package}' was not found in the package index: hub packages are named with their namespace, e.g. dbt-labs/dbt_utils")));
            }
            let versions = match rendered.get("version") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
                Some(Value::String(s)) => vec![s.clone()],
                Some(v) => vec![v.to_string()],
            };
            if versions.iter().all(|v| v.trim().is_empty()) {
                return Err(err(format!("{package} is missing the version: hub packages need `version:` (e.g. version: [\">=1.0.0\", \"<2.0.0\"])")));
            }
            for v in &versions {
                crate::deps::semver::Range::intersect_all([v.as_str()]).map_err(|e| err(format!("{package}: {e}")))?;
            }
            let install_prerelease = rendered.get("install_prerelease").and_then(Value::as_bool).unwrap_or(false);
            Source::Hub { package, versions, install_prerelease }
        }
        ["tarball"] => {
            let Some(name) = text("name")? else { return Err(err("a tarball package needs `name:` (the directory it installs as)".into())) };
            Source::Tarball { url: text("tarball")?.unwrap_or_default(), name }
        }
        ["private"] => {
            let repo = text("private")?.unwrap_or_default();
            return Err(err(format!("cannot resolve private package {repo}: it needs a git provider integration; list it as a `git:` package instead")));
        }
        [] => return Err(err("not a package: an entry needs one of `local:`, `git:`, `package:` (hub) or `tarball:`".into())),
        many => return Err(err(format!("a package entry has one source, this one has {}", many.join(", ")))),
    };
    if let Source::Local { path } | Source::Git { url: path, .. } | Source::Tarball { url: path, .. } = &source
        && path.is_empty()
    {
        return Err(err("the package's location is empty".into()));
    }
    Ok(PackageSpec { source, rendered, unrendered: unrendered.clone(), file: file.to_path_buf(), span })
}

/// dbt's `sha1_hash`: each spec as dbt serialises it (every field of its
/// kind, `unrendered` included), as sorted-key JSON, the lines sorted and
/// joined with newlines.
pub fn sha1_hash(specs: &[PackageSpec]) -> String {
    let mut lines: Vec<String> = specs.iter().map(|s| py_json(&Value::Object(hash_dict(s)))).collect();
    lines.sort();
    let digest = Sha1::digest(lines.join("\n").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_dict(spec: &PackageSpec) -> Map<String, Value> {
    let get = |k: &str| spec.rendered.get(k).cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    match &spec.source {
        Source::Local { .. } => {
            m.insert("local".into(), get("local"));
        }
        Source::Git { .. } => {
            for k in ["git", "revision", "subdirectory", "warn-unpinned"] {
                m.insert(k.into(), get(k));
            }
        }
        Source::Hub { install_prerelease, .. } => {
            m.insert("install_prerelease".into(), Value::Bool(*install_prerelease));
            m.insert("package".into(), get("package"));
            m.insert("version".into(), get("version"));
        }
        Source::Tarball { .. } => {
            m.insert("tarball".into(), get("tarball"));
        }
    }
    // dbt drops `name` when it is not given.
    if let Some(n) = spec.rendered.get("name").filter(|n| !n.is_null()) {
        m.insert("name".into(), n.clone());
    }
    m.insert("unrendered".into(), Value::Object(spec.unrendered.clone()));
    m
}

/// Python's `json.dumps(v, sort_keys=True)`: `", "` and `": "` separators,
/// non-ASCII escaped.
pub fn py_json(v: &Value) -> String {
    let mut out = String::new();
    write_py_json(v, &mut out);
    out
}

fn write_py_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => crate::jinja::pyvalues::json_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_json(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_json(&Value::String(k.clone()), out);
                out.push_str(": ");
                write_py_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(text: &str) -> Result<Vec<PackageSpec>, Diagnostics> {
        let file = Path::new("packages.yml");
        let raw = yaml::parse_mapping(text, file)?;
        parse_list(&raw, text, file, &Map::new())
    }

    /// The hashes dbt-core 1.11 wrote for these specs (`dbt deps --lock`).
    #[test]
    fn hash_matches_dbt() {
        let s = specs("packages:\n  - local: ../local_pkg\n  - git: \"file:///tmp/dd/remote.git\"\n    revision: v1.0\n  - git: \"file:///tmp/dd/remote.git\"\n    revision: feature\n    subdirectory: nested/inner\n").unwrap();
        assert_eq!(sha1_hash(&s), "c730c238bbff8b5b98adb59d3c99232fee305ce3");
    }

    #[test]
    fn python_json_shape() {
        let v: Value = serde_json::json!({"b": [1, "é"], "a": null, "c": {"warn-unpinned": false}});
        assert_eq!(py_json(&v), r#"{"a": null, "b": [1, "\u00e9"], "c": {"warn-unpinned": false}}"#);
    }

    #[test]
    fn bad_entries_point_at_their_line() {
        let text = "packages:\n  - local: ok\n  - package: dbt_utils\n    version: 1.0.0\n  - revision: main\n";
        let d = specs(text).unwrap_err();
        assert_eq!(d.0.len(), 2);
        let lines: Vec<usize> = d.0.iter().map(|d| Diagnostic::line_col(text, d.span.unwrap().start).0).collect();
        assert_eq!(lines, vec![3, 5]);
        assert!(d.0[0].message.contains("namespace"), "{}", d.0[0].message);
    }

    #[test]
    fn hub_versions_and_git_defaults() {
        let s = specs("packages:\n  - package: a/b\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  - git: https://x/y.git\n    warn-unpinned: false\n").unwrap();
        assert_eq!(s[0].source, Source::Hub { package: "a/b".into(), versions: vec![">=1.0.0".into(), "<2.0.0".into()], install_prerelease: false });
        assert!(matches!(&s[1].source, Source::Git { revision: None, warn_unpinned: false, .. }));
        let e = specs("packages:\n  - package: a/b\n    version: '>=x'\n").unwrap_err();
        assert!(e.0[0].message.contains("not a version"), "{}", e.0[0].message);
    }
}
