//! package-lock.yml, in dbt 1.7+'s shape: every package (direct and
//! transitive) pinned to a version or commit, with its project `name`, and
//! the `sha1_hash` of the specs it was resolved from.

use std::path::Path;

use serde_json::{Map, Value};

use crate::config::yaml;
use crate::diag::{Diagnostic, Diagnostics, Span, scrub_secrets};

pub const LOCK_FILE: &str = "package-lock.yml";

/// A resolved package.
#[derive(Debug, Clone, PartialEq)]
pub enum Pinned {
    Local { path: String },
    /// `url_unrendered` is what the lock records; `url` what git is given.
    Git { url: String, url_unrendered: String, sha: String, subdirectory: Option<String> },
    Hub { package: String, version: String },
    Tarball { url: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LockEntry {
    pub pinned: Pinned,
    /// The package's project name: its directory under dbt_packages/
    /// (empty when an older lock does not record it).
    pub name: String,
}

impl LockEntry {
    /// `Installing <this>` in dbt's output.
    pub fn display(&self) -> String {
        match &self.pinned {
            Pinned::Local { path } => path.clone(),
            Pinned::Git { url_unrendered, subdirectory: Some(s), .. } => format!("{url_unrendered}/{s}"),
            Pinned::Git { url_unrendered, .. } => url_unrendered.clone(),
            Pinned::Hub { package, .. } => package.clone(),
            Pinned::Tarball { url } => url.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lock {
    pub entries: Vec<LockEntry>,
    pub sha1_hash: Option<String>,
}

/// Reads package-lock.yml (rendering `env_var` as dbt does, so that a git
/// URL kept unrendered in the lock works again). `None` if there is none.
pub fn read(path: &Path, cli_vars: &Map<String, Value>) -> Result<Option<Lock>, Diagnostics> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
    let raw = yaml::parse_mapping(&text, path)?;
    let sha1_hash = raw.get("sha1_hash").and_then(Value::as_str).map(str::to_string);
    let mut entries = Vec::new();
    let mut from = 0;
    for item in raw.get("packages").and_then(Value::as_array).into_iter().flatten() {
        let Value::Object(unrendered) = item else { continue };
        let mut rendered = item.clone();
        let mut errors = Vec::new();
        crate::config::render_tree(&mut rendered, cli_vars, "", &mut errors, true);
        let name_span = unrendered.get("name").and_then(Value::as_str).and_then(|n| yaml::find_entry(text.get(from..).unwrap_or(""), "name", n)).map(|s| Span::new(s.start + from, s.end + from));
        if let Some(s) = name_span {
            from = s.end;
        }
        let err = |msg: String| -> Diagnostics { Diagnostic::error("package-lock", msg).in_file(path).with_span(name_span).note("run `rdbt deps --upgrade` to write it again").into() };
        if let Some(e) = errors.into_iter().next() {
            return Err(err(e));
        }
        let s = |k: &str| rendered.get(k).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        // Locks of dbt 1.7 have no `name`: it is read from the package when installing.
        let name = s("name").unwrap_or_default();
        let pinned = if let Some(path) = s("local") {
            Pinned::Local { path }
        } else if let Some(url) = s("git") {
            let Some(sha) = s("revision") else { return Err(err(format!("git package '{name}' has no `revision`"))) };
            let url_unrendered = unrendered.get("git").and_then(Value::as_str).unwrap_or(&url).to_string();
            Pinned::Git { url, url_unrendered, sha, subdirectory: s("subdirectory") }
        } else if let Some(package) = s("package") {
            let Some(version) = s("version") else { return Err(err(format!("hub package '{name}' has no `version`"))) };
            Pinned::Hub { package, version }
        } else if let Some(url) = s("tarball") {
            Pinned::Tarball { url }
        } else {
            return Err(err(format!("package '{name}' has no source (local, git, package or tarball)")));
        };
        entries.push(LockEntry { pinned, name });
    }
    Ok(Some(Lock { entries, sha1_hash }))
}

/// package-lock.yml's text, as dbt's YAML dumper writes it: keys sorted,
/// list items indented under `packages:`.
pub fn render(lock: &Lock) -> String {
    let mut out = String::from("packages:\n");
    for e in &lock.entries {
        let mut fields: Vec<(&str, String)> = vec![("name", e.name.clone())];
        match &e.pinned {
            Pinned::Local { path } => fields.push(("local", path.clone())),
            Pinned::Git { url_unrendered, sha, subdirectory, .. } => {
                fields.push(("git", url_unrendered.clone()));
                fields.push(("revision", sha.clone()));
                if let Some(s) = subdirectory {
                    fields.push(("subdirectory", s.clone()));
                }
            }
            Pinned::Hub { package, version } => {
                fields.push(("package", package.clone()));
                fields.push(("version", version.clone()));
            }
            Pinned::Tarball { url } => fields.push(("tarball", url.clone())),
        }
        fields.sort_by(|a, b| a.0.cmp(b.0));
        for (i, (k, v)) in fields.iter().enumerate() {
            out.push_str(if i == 0 { "  - " } else { "    " });
            out.push_str(&format!("{k}: {}\n", scalar(v)));
        }
    }
    if let Some(h) = &lock.sha1_hash {
        out.push_str(&format!("sha1_hash: {h}\n"));
    }
    // A rendered secret must never reach the file.
    scrub_secrets(&out).into_owned()
}

/// A YAML scalar, quoted only when a plain one would not read back as the
/// same string.
fn scalar(s: &str) -> String {
    // YAML 1.1 (dbt's PyYAML) also reads these as booleans; serde_yaml
    // (YAML 1.2) would leave them plain.
    const YAML11_BOOLS: [&str; 8] = ["y", "yes", "n", "no", "on", "off", "true", "false"];
    if YAML11_BOOLS.contains(&s.to_ascii_lowercase().as_str()) {
        return format!("'{s}'");
    }
    serde_yaml::to_string(s).map(|t| t.trim_end_matches('\n').to_string()).unwrap_or_else(|_| format!("'{}'", s.replace('\'', "''")))
}

pub fn write(path: &Path, lock: &Lock) -> std::io::Result<()> {
    let text = render(lock);
    crate::artifacts::write_atomic(path, |w| w.write_all(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_dbt_shape_and_reads_back() {
        let lock = Lock {
            entries: vec![
                LockEntry { pinned: Pinned::Local { path: "../local_pkg".into() }, name: "local_pkg".into() },
                LockEntry {
                    pinned: Pinned::Git { url: "file:///r.git".into(), url_unrendered: "{{ env_var('REPO') }}".into(), sha: "0123456789".into(), subdirectory: Some("a/b".into()) },
                    name: "inner".into(),
                },
                LockEntry { pinned: Pinned::Hub { package: "a/b".into(), version: "1.0".into() }, name: "yes".into() },
            ],
            sha1_hash: Some("abc".into()),
        };
        let text = render(&lock);
        assert_eq!(
            text,
            "packages:\n  - local: ../local_pkg\n    name: local_pkg\n  - git: '{{ env_var(''REPO'') }}'\n    name: inner\n    revision: '0123456789'\n    subdirectory: a/b\n  - name: 'yes'\n    package: a/b\n    version: '1.0'\nsha1_hash: abc\n"
        );
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(LOCK_FILE);
        std::fs::write(&path, &text).unwrap();
        // `REPO` is unset: the error names the variable it could not render.
        let err = read(&path, &Map::new()).unwrap_err();
        assert!(err.0[0].message.contains("REPO"), "{}", err.0[0].message);
    }
}
