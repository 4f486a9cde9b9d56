//! The dbt package hub: `<base>/api/v1/<owner>/<name>.json` lists every
//! published version with its tarball, its own packages and its
//! `require_dbt_version`. The base is dbt's `DBT_PACKAGE_HUB_URL` (or
//! `RDBT_HUB_URL`), else hub.getdbt.com.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

pub const DEFAULT_HUB_URL: &str = "https://hub.getdbt.com/";

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} did not answer with a package index: {reason}")]
    BadIndex { url: String, reason: String },
    #[error("could not unpack {url}: {reason}")]
    BadTarball { url: String, reason: String },
}

impl HubError {
    /// The network was the problem (not the hub's answer).
    pub fn is_offline(&self) -> bool {
        matches!(self, HubError::Unreachable { .. })
    }
}

/// One published version of a hub package.
#[derive(Debug, Clone)]
pub struct HubVersion {
    /// The dbt project name (the directory it installs as).
    pub name: String,
    pub tarball: String,
    /// Its own `packages:` list.
    pub packages: Value,
    pub require_dbt_version: Vec<String>,
}

/// A hub package's versions.
#[derive(Debug, Clone)]
pub struct HubPackage {
    pub versions: BTreeMap<String, HubVersion>,
}

pub fn base_url() -> String {
    let base = std::env::var("DBT_PACKAGE_HUB_URL").or_else(|_| std::env::var("RDBT_HUB_URL")).ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| DEFAULT_HUB_URL.to_string());
    if base.ends_with('/') { base } else { format!("{base}/") }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).timeout_connect(Some(Duration::from_secs(10))).build().into()
}

fn get(url: &str) -> Result<ureq::http::Response<ureq::Body>, HubError> {
    match agent().get(url).call() {
        Ok(r) => Ok(r),
        Err(ureq::Error::StatusCode(status)) => Err(HubError::Status { url: url.to_string(), status }),
        Err(e) => Err(HubError::Unreachable { url: url.to_string(), reason: e.to_string() }),
    }
}

/// The index of `package` (`owner/name`) on the hub at `base`.
pub fn fetch_package(base: &str, package: &str) -> Result<HubPackage, HubError> {
    let url = format!("{base}api/v1/{package}.json");
    let mut resp = get(&url)?;
    let text = resp.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().map_err(|e| HubError::Unreachable { url: url.clone(), reason: e.to_string() })?;
    parse_index(&text).map_err(|reason| HubError::BadIndex { url, reason })
}

fn parse_index(text: &str) -> Result<HubPackage, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Some(versions) = v.get("versions").and_then(Value::as_object) else { return Err("no `versions` object".into()) };
    let mut out = BTreeMap::new();
    for (version, info) in versions {
        let name = info.get("name").and_then(Value::as_str).ok_or_else(|| format!("version {version} has no `name`"))?;
        let tarball = info.pointer("/downloads/tarball").and_then(Value::as_str).ok_or_else(|| format!("version {version} has no `downloads.tarball`"))?;
        let require_dbt_version = match info.get("require_dbt_version") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
            _ => vec![],
        };
        out.insert(
            version.clone(),
            HubVersion { name: name.to_string(), tarball: tarball.to_string(), packages: info.get("packages").cloned().unwrap_or(Value::Array(vec![])), require_dbt_version },
        );
    }
    Ok(HubPackage { versions: out })
}

/// Downloads a `.tar.gz` and unpacks it into `into` (which must not exist);
/// returns the package root: the archive's single top-level directory, as
/// GitHub tarballs have, or `into` itself.
pub fn download_tarball(url: &str, into: &Path) -> Result<PathBuf, HubError> {
    let bad = |reason: String| HubError::BadTarball { url: url.to_string(), reason };
    let resp = get(url)?;
    let mut bytes = Vec::new();
    resp.into_body().into_with_config().limit(512 * 1024 * 1024).reader().read_to_end(&mut bytes).map_err(|e| HubError::Unreachable { url: url.to_string(), reason: e.to_string() })?;
    std::fs::create_dir_all(into).map_err(|e| bad(e.to_string()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    // `unpack` refuses entries that would land outside `into`.
    archive.unpack(into).map_err(|e| bad(e.to_string()))?;
    let entries: Vec<PathBuf> = std::fs::read_dir(into).map_err(|e| bad(e.to_string()))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    match entries.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Ok(into.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hub_index() {
        let p = parse_index(r#"{"name":"x","versions":{"1.0.0":{"name":"x_pkg","packages":[{"package":"a/b","version":">=1.0.0"}],"downloads":{"tarball":"http://h/x.tgz"},"require_dbt_version":[">=1.3.0","<2.0.0"]}}}"#).unwrap();
        let v = &p.versions["1.0.0"];
        assert_eq!(v.name, "x_pkg");
        assert_eq!(v.require_dbt_version, vec![">=1.3.0", "<2.0.0"]);
        assert!(parse_index(r#"{"versions":{"1.0.0":{}}}"#).is_err());
    }
}
