//! `rdbt deps`: resolve the packages of packages.yml / dependencies.yml
//! (local directories, git repositories, dbt hub packages, tarballs and what
//! each of them requires in turn), pin them in package-lock.yml, and install
//! them into the packages-install-path (`dbt_packages/`).
//!
//! As dbt-core 1.11: the lock is reused while the specs' `sha1_hash` is
//! unchanged (`--upgrade` re-resolves), `--lock` only writes the lock, local
//! packages are symlinked (copied where symlinks fail). Unlike dbt, nothing is
//! installed in place: every package lands in a staging directory that
//! replaces the install directory only once all of them succeeded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::{Config, Project};
use crate::diag::{Diagnostic, Diagnostics, Span};

pub mod git;
pub mod hub;
pub mod lock;
pub mod semver;
pub mod spec;

use lock::{Lock, LockEntry, Pinned};
use spec::{PackageSpec, Source};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--lock`: resolve and write package-lock.yml, install nothing.
    pub lock_only: bool,
    /// `--upgrade`: ignore the lock and resolve again.
    pub upgrade: bool,
    /// `--no-version-check`: hub versions whose `require_dbt_version`
    /// excludes this dbt version are candidates too.
    pub no_version_check: bool,
}

/// What a `deps` run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The lock's packages (installed unless `--lock`).
    pub packages: Vec<LockEntry>,
    /// package-lock.yml was (re)written.
    pub lock_written: bool,
}

/// Runs `deps` for `project`; progress lines go to `log`.
pub fn deps(project: &Project, cli_vars: &Map<String, Value>, opts: &Options, log: &mut dyn FnMut(String)) -> Result<Outcome, Diagnostics> {
    let dir = &project.root;
    let install_dir = dir.join(&project.packages_install_path);
    let specs = match spec::read(dir, cli_vars)? {
        Some(p) if !p.specs.is_empty() => p,
        _ => {
            log("No packages were found in packages.yml or dependencies.yml.".into());
            // As dbt: the install directory is emptied.
            if !opts.lock_only {
                let scratch = Scratch::new(&install_dir)?;
                let staging = scratch.dir("staging")?;
                swap_into_place(&staging, &install_dir, &scratch.root.join("previous")).map_err(|e| io_error(&install_dir, e))?;
            }
            return Ok(Outcome::default());
        }
    };
    let hash = spec::sha1_hash(&specs.specs);
    let lock_path = dir.join(lock::LOCK_FILE);
    let existing = if opts.upgrade { None } else { lock::read(&lock_path, cli_vars).ok().flatten() };
    let scratch = Scratch::new(&install_dir)?;
    let mut fetcher = Fetcher::new(project, cli_vars, opts, &scratch);
    let mut outcome = Outcome::default();
    let lock = match existing {
        Some(l) if l.sha1_hash.as_deref() == Some(hash.as_str()) => l,
        _ => {
            let entries = resolve(project, &specs.specs, &mut fetcher, log)?;
            let lock = Lock { entries, sha1_hash: Some(hash) };
            lock::write(&lock_path, &lock).map_err(|e| io_error(&lock_path, e))?;
            log(format!("Updating lock file in file path: {}", lock_path.display()));
            outcome.lock_written = true;
            lock
        }
    };
    outcome.packages = lock.entries.clone();
    if opts.lock_only {
        return Ok(outcome);
    }
    install(&lock.entries, &mut fetcher, &scratch, &install_dir, &lock_path, log)?;
    Ok(outcome)
}

/// Other commands on a project whose packages are not installed fail as
/// dbt does: more packages listed than installed means `deps` has not run.
pub fn check_installed(config: &Config) -> Result<(), Diagnostics> {
    let dir = &config.root.root;
    let Some((file, text, raw)) = spec::raw_packages(dir)? else { return Ok(()) };
    let specified = raw.get("packages").and_then(Value::as_array).map_or(0, Vec::len);
    let installed = config.packages.len();
    if specified <= installed {
        return Ok(());
    }
    let shown = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let mut d = Diagnostic::error(
        "packages-not-installed",
        format!(
            "found {specified} package(s) specified in {shown}, but only {installed} package(s) installed in {}. Run \"rdbt deps\" to install package dependencies.",
            config.root.packages_install_path
        ),
    )
    .in_file(&file)
    .with_span(Span::find(&text, "packages", 0));
    // The lock knows the names; say which are missing.
    if let Ok(lock_text) = std::fs::read_to_string(dir.join(lock::LOCK_FILE))
        && let Ok(lock) = crate::config::yaml::parse_mapping(&lock_text, &dir.join(lock::LOCK_FILE))
    {
        let have: HashSet<&str> = config.packages.iter().map(|p| p.name.as_str()).collect();
        let missing: Vec<&str> = lock.get("packages").and_then(Value::as_array).into_iter().flatten().filter_map(|p| p.get("name")?.as_str()).filter(|n| !have.contains(n)).collect();
        if !missing.is_empty() {
            d = d.note(format!("not installed: {}", missing.join(", ")));
        }
    }
    Err(d.into())
}

fn io_error(path: &Path, e: std::io::Error) -> Diagnostics {
    Diagnostic::error("deps-io", format!("{}: {e}", path.display())).into()
}

/// A scratch directory beside the install directory (same filesystem, so
/// the final rename is atomic), removed when dropped.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(install_dir: &Path) -> Result<Scratch, Diagnostics> {
        let parent = install_dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        let base = install_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dbt_packages".into());
        let root = parent.join(format!(".{base}.rdbt-deps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|e| io_error(&root, e))?;
        Ok(Scratch { root })
    }
    fn dir(&self, name: &str) -> Result<PathBuf, Diagnostics> {
        let d = self.root.join(name);
        std::fs::create_dir_all(&d).map_err(|e| io_error(&d, e))?;
        Ok(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Replaces `install_dir` with `staging`; the old directory is restored if
/// the rename fails.
fn swap_into_place(staging: &Path, install_dir: &Path, old: &Path) -> std::io::Result<()> {
    let had_old = match std::fs::symlink_metadata(install_dir) {
        Ok(_) => {
            std::fs::rename(install_dir, old)?;
            true
        }
        Err(_) => false,
    };
    if let Err(e) = std::fs::rename(staging, install_dir) {
        if had_old {
            let _ = std::fs::rename(old, install_dir);
        }
        return Err(e);
    }
    Ok(())
}

/// The identity two specs of one package share (dbt's package "name").
fn key_of(source: &Source) -> String {
    match source {
        Source::Local { path } => format!("local:{path}"),
        Source::Git { url, subdirectory, .. } => {
            let base = url.strip_suffix(".git").unwrap_or(url);
            format!("git:{base}/{}", subdirectory.as_deref().unwrap_or(""))
        }
        Source::Hub { package, .. } => format!("hub:{package}"),
        Source::Tarball { url, .. } => format!("tarball:{url}"),
    }
}

/// A request for a package: the spec and the project that listed it.
#[derive(Debug, Clone)]
struct Request {
    spec: PackageSpec,
    by: String,
}

/// A fetched package: its project name and its own package specs.
#[derive(Debug, Clone)]
struct Fetched {
    name: String,
    packages: Vec<PackageSpec>,
}

/// Resolution: every requested package pinned, its dependencies requested in
/// turn, until nothing new appears.
fn resolve(project: &Project, root_specs: &[PackageSpec], fetcher: &mut Fetcher, log: &mut dyn FnMut(String)) -> Result<Vec<LockEntry>, Diagnostics> {
    let mut order: Vec<String> = Vec::new();
    let mut requests: HashMap<String, Vec<Request>> = HashMap::new();
    let mut expanded: HashSet<String> = HashSet::new();
    let mut pending: Vec<Request> = root_specs.iter().map(|s| Request { spec: s.clone(), by: project.name.clone() }).collect();
    let mut warned: HashSet<String> = HashSet::new();
    while !pending.is_empty() {
        let mut next = Vec::new();
        for req in pending {
            let key = key_of(&req.spec.source);
            let list = requests.entry(key.clone()).or_default();
            if list.is_empty() {
                order.push(key.clone());
            }
            list.push(req);
            let pinned = pin(&requests[&key], fetcher)?;
            let ident = format!("{key}@{pinned:?}");
            if !expanded.insert(ident) {
                continue;
            }
            let fetched = fetcher.fetch(&pinned, &requests[&key][0].spec)?;
            if let (Pinned::Git { sha, .. }, Some(first)) = (&pinned, requests[&key].first())
                && let Source::Git { revision, warn_unpinned: true, url_unrendered, .. } = &first.spec.source
            {
                let rev = revision.as_deref().unwrap_or("HEAD");
                if matches!(rev, "HEAD" | "main" | "master") && warned.insert(key.clone()) {
                    log(format!("Warning: the git package {url_unrendered} follows '{rev}' (now {sha}); pin a tag or commit with `revision:` for repeatable installs, or set `warn-unpinned: false`."));
                }
            }
            next.extend(fetched.packages.iter().map(|s| Request { spec: s.clone(), by: fetched.name.clone() }));
        }
        pending = next;
    }
    let mut entries = Vec::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for key in &order {
        let reqs = &requests[key];
        let pinned = pin(reqs, fetcher)?;
        let fetched = fetcher.fetch(&pinned, &reqs[0].spec)?;
        let shown = reqs[0].spec.source.display();
        if fetched.name == project.name {
            return Err(reqs[0].spec.error("deps", format!("package {shown} is named '{}', the name of the root project", fetched.name)).into());
        }
        if let Some(other) = names.insert(fetched.name.clone(), shown.clone()) {
            return Err(reqs[0].spec.error("deps", format!("two packages are both named '{}': {other} and {shown}", fetched.name)).into());
        }
        entries.push(LockEntry { pinned, name: fetched.name });
    }
    Ok(entries)
}

/// The one version/revision that satisfies every request for a package.
fn pin(reqs: &[Request], fetcher: &mut Fetcher) -> Result<Pinned, Diagnostics> {
    let first = &reqs[0].spec;
    let by = |r: &Request, what: &str| format!("{what} (required by {})", r.by);
    match &first.source {
        Source::Local { path } => Ok(Pinned::Local { path: path.clone() }),
        Source::Tarball { url, .. } => Ok(Pinned::Tarball { url: url.clone() }),
        Source::Git { url, url_unrendered, subdirectory, .. } => {
            let mut revisions: Vec<(&str, &Request)> = Vec::new();
            for r in reqs {
                if let Source::Git { revision: Some(rev), .. } = &r.spec.source
                    && !revisions.iter().any(|(x, _)| *x == rev.as_str())
                {
                    revisions.push((rev.as_str(), r));
                }
            }
            if revisions.len() > 1 {
                let listed: Vec<String> = revisions.iter().map(|(rev, r)| by(r, &format!("'{rev}'"))).collect();
                return Err(first.error("deps-conflict", format!("git package {} is required at different revisions: {}", first.source.display(), listed.join(", "))).into());
            }
            let revision = revisions.first().map_or("HEAD", |(r, _)| r);
            let sha = fetcher.git_sha(url, revision, subdirectory.as_deref(), first)?;
            Ok(Pinned::Git { url: url.clone(), url_unrendered: url_unrendered.clone(), sha, subdirectory: subdirectory.clone() })
        }
        Source::Hub { package, .. } => {
            let mut constraints: Vec<(String, &Request)> = Vec::new();
            let mut prerelease = false;
            for r in reqs {
                if let Source::Hub { versions, install_prerelease, .. } = &r.spec.source {
                    prerelease |= install_prerelease;
                    constraints.extend(versions.iter().map(|v| (v.clone(), r)));
                }
            }
            let described = || constraints.iter().map(|(v, r)| by(r, v)).collect::<Vec<_>>().join(", ");
            let range = semver::Range::intersect_all(constraints.iter().map(|(v, _)| v.as_str()))
                .map_err(|e| first.error("deps-conflict", format!("version conflict for package {package}: {e}; requested: {}", described())))?;
            let index = fetcher.hub_index(package, first)?;
            let candidates = fetcher.installable(&index);
            match range.newest(candidates.iter().map(String::as_str), prerelease) {
                Some(v) => {
                    // The index's own spelling of the version.
                    let version = candidates.iter().find(|c| semver::Version::parse(c).as_ref() == Some(&v)).cloned().unwrap_or_else(|| v.to_string());
                    Ok(Pinned::Hub { package: package.clone(), version })
                }
                None => {
                    let mut d = first.error("deps-version", format!("no published version of {package} matches {range}; requested: {}", described()));
                    d = d.note(format!("versions available{}: {}", if fetcher.opts.no_version_check { "" } else { " for this dbt version" }, if candidates.is_empty() { "none".to_string() } else { candidates.join(", ") }));
                    Err(d.into())
                }
            }
        }
    }
}

/// Fetches packages into the scratch directory, each once.
struct Fetcher<'a> {
    root: PathBuf,
    cli_vars: &'a Map<String, Value>,
    opts: &'a Options,
    downloads: PathBuf,
    hub_base: String,
    counter: usize,
    /// (url, revision, subdirectory) → commit, and commit → checkout.
    git_pins: HashMap<(String, String, Option<String>), String>,
    git_checkouts: HashMap<(String, String, Option<String>), git::Checkout>,
    hub: HashMap<String, hub::HubPackage>,
    fetched: HashMap<String, Fetched>,
}

const VENDOR_NOTE: &str = "to work without the network, vendor the package: copy it into dbt_packages/<its project name> and remove it from the packages file, or put it in a directory of your own and list it as `- local: <path>`";

impl<'a> Fetcher<'a> {
    fn new(project: &Project, cli_vars: &'a Map<String, Value>, opts: &'a Options, scratch: &Scratch) -> Fetcher<'a> {
        Fetcher {
            root: project.root.clone(),
            cli_vars,
            opts,
            downloads: scratch.root.join("downloads"),
            hub_base: hub::base_url(),
            counter: 0,
            git_pins: HashMap::new(),
            git_checkouts: HashMap::new(),
            hub: HashMap::new(),
            fetched: HashMap::new(),
        }
    }

    fn new_dir(&mut self) -> PathBuf {
        self.counter += 1;
        self.downloads.join(self.counter.to_string())
    }

    fn git_error(spec: &PackageSpec, url_shown: &str, e: git::GitError) -> Diagnostics {
        let offline = matches!(e, git::GitError::Failed { .. } | git::GitError::Spawn(_));
        let d = spec.error(if offline { "deps-unreachable" } else { "deps" }, format!("git package {url_shown}: {e}"));
        if offline { d.note(VENDOR_NOTE).into() } else { d.into() }
    }

    /// Clones `url` at `revision`; returns the commit.
    fn git_sha(&mut self, url: &str, revision: &str, subdirectory: Option<&str>, spec: &PackageSpec) -> Result<String, Diagnostics> {
        let key = (url.to_string(), revision.to_string(), subdirectory.map(str::to_string));
        if let Some(sha) = self.git_pins.get(&key) {
            return Ok(sha.clone());
        }
        let into = self.new_dir();
        let _ = std::fs::create_dir_all(&self.downloads);
        let c = git::checkout(url, revision, subdirectory, &into).map_err(|e| Self::git_error(spec, &spec.source.display(), e))?;
        let sha = c.sha.clone();
        self.git_pins.insert(key, sha.clone());
        self.git_checkouts.insert((url.to_string(), sha.clone(), subdirectory.map(str::to_string)), c);
        Ok(sha)
    }

    fn hub_index(&mut self, package: &str, spec: &PackageSpec) -> Result<hub::HubPackage, Diagnostics> {
        if let Some(p) = self.hub.get(package) {
            return Ok(p.clone());
        }
        let p = hub::fetch_package(&self.hub_base, package).map_err(|e| {
            let d = match &e {
                hub::HubError::Status { status: 404, .. } => spec.error("deps", format!("package {package} was not found on the package hub ({e})")),
                _ => spec.error(if e.is_offline() { "deps-unreachable" } else { "deps" }, format!("could not fetch hub package {package}: {e}")),
            };
            if e.is_offline() { d.note(VENDOR_NOTE) } else { d }
        })?;
        self.hub.insert(package.to_string(), p.clone());
        Ok(p)
    }

    /// Versions whose `require_dbt_version` admits this dbt (all of them
    /// with `--no-version-check`), oldest first.
    fn installable(&self, index: &hub::HubPackage) -> Vec<String> {
        let dbt = semver::Version::parse(crate::artifacts::DBT_VERSION);
        let mut out: Vec<(semver::Version, String)> = index
            .versions
            .iter()
            .filter(|(_, info)| {
                self.opts.no_version_check
                    || info.require_dbt_version.is_empty()
                    || match (&dbt, semver::Range::intersect_all(info.require_dbt_version.iter().map(String::as_str))) {
                        (Some(d), Ok(r)) => r.contains(d),
                        _ => true,
                    }
            })
            .filter_map(|(v, _)| semver::Version::parse(v).map(|p| (p, v.clone())))
            .collect();
        out.sort();
        out.into_iter().map(|(_, v)| v).collect()
    }

    /// The name and own packages of a pinned package.
    fn fetch(&mut self, pinned: &Pinned, spec: &PackageSpec) -> Result<Fetched, Diagnostics> {
        let key = format!("{pinned:?}");
        if let Some(f) = self.fetched.get(&key) {
            return Ok(f.clone());
        }
        let f = match pinned {
            Pinned::Local { path } => {
                let dir = self.root.join(path);
                if !dir.join("dbt_project.yml").is_file() {
                    return Err(spec.error("deps", format!("local package {path}: no dbt_project.yml in {}", dir.display())).into());
                }
                self.read_project(&dir, spec)?
            }
            Pinned::Git { url, sha, subdirectory, .. } => {
                let dir = self.git_files(url, sha, subdirectory.as_deref(), spec)?;
                if !dir.join("dbt_project.yml").is_file() {
                    return Err(spec.error("deps", format!("git package {}: no dbt_project.yml at revision {sha}", spec.source.display())).into());
                }
                self.read_project(&dir, spec)?
            }
            Pinned::Hub { package, version } => {
                let index = self.hub_index(package, spec)?;
                let Some(info) = index.versions.get(version) else {
                    return Err(spec.error("deps", format!("version {version} of {package} is not on the package hub")).into());
                };
                let file = PathBuf::from(format!("{}api/v1/{package}.json", self.hub_base));
                let raw: Map<String, Value> = [("packages".to_string(), info.packages.clone())].into_iter().collect();
                let packages = spec::parse_list(&raw, "", &file, self.cli_vars)?;
                Fetched { name: info.name.clone(), packages }
            }
            Pinned::Tarball { url } => {
                let into = self.new_dir();
                let dir = hub::download_tarball(url, &into).map_err(|e| {
                    let d = spec.error(if e.is_offline() { "deps-unreachable" } else { "deps" }, format!("tarball package {url}: {e}"));
                    if e.is_offline() { d.note(VENDOR_NOTE) } else { d }
                })?;
                let mut f = self.read_project(&dir, spec)?;
                if let Source::Tarball { name, .. } = &spec.source {
                    f.name = name.clone();
                }
                f
            }
        };
        self.fetched.insert(key, f.clone());
        Ok(f)
    }

    /// A checkout of `url` at commit `sha` (made during resolution, or now
    /// when installing from the lock).
    fn git_files(&mut self, url: &str, sha: &str, subdirectory: Option<&str>, spec: &PackageSpec) -> Result<PathBuf, Diagnostics> {
        let key = (url.to_string(), sha.to_string(), subdirectory.map(str::to_string));
        if let Some(c) = self.git_checkouts.get(&key) {
            return Ok(c.dir.clone());
        }
        self.git_sha(url, sha, subdirectory, spec)?;
        self.git_checkouts.get(&key).map(|c| c.dir.clone()).ok_or_else(|| spec.error("deps", format!("git package {}: commit {sha} could not be checked out", spec.source.display())).into())
    }

    /// `name` and the packages list of the project in `dir`.
    fn read_project(&self, dir: &Path, spec: &PackageSpec) -> Result<Fetched, Diagnostics> {
        let file = dir.join("dbt_project.yml");
        let text = std::fs::read_to_string(&file).map_err(|e| spec.error("deps", format!("{}: {e}", file.display())))?;
        let raw = crate::config::yaml::parse_mapping(&text, &file)?;
        let Some(name) = raw.get("name").and_then(Value::as_str) else {
            return Err(Diagnostic::error("deps", format!("package {} has no `name` in its dbt_project.yml", spec.source.display())).in_file(&file).into());
        };
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(Diagnostic::error("deps", format!("package name '{name}' cannot be a directory name under the packages-install-path")).in_file(&file).into());
        }
        let packages = spec::read(dir, self.cli_vars)?.map(|p| p.specs).unwrap_or_default();
        Ok(Fetched { name: name.to_string(), packages })
    }
}

/// Installs every locked package into a staging directory, then swaps it in.
fn install(entries: &[LockEntry], fetcher: &mut Fetcher, scratch: &Scratch, install_dir: &Path, lock_path: &Path, log: &mut dyn FnMut(String)) -> Result<(), Diagnostics> {
    let staging = scratch.dir("staging")?;
    let lock_text = std::fs::read_to_string(lock_path).unwrap_or_default();
    for e in entries {
        // Errors about locked packages point at their entry in the lock.
        let span = if e.name.is_empty() { None } else { crate::config::yaml::find_entry(&lock_text, "name", &e.name) };
        let as_spec = PackageSpec { source: source_of(&e.pinned, &e.name), rendered: Map::new(), unrendered: Map::new(), file: lock_path.to_path_buf(), span };
        log(format!("Installing {}", e.display()));
        let name = if e.name.is_empty() { fetcher.fetch(&e.pinned, &as_spec)?.name } else { e.name.clone() };
        if name.contains(['/', '\\']) || name == ".." || name == "." || name.is_empty() {
            return Err(as_spec.error("deps", format!("package name '{name}' cannot be a directory name")).into());
        }
        let dest = staging.join(&name);
        match &e.pinned {
            Pinned::Local { path } => {
                let src = fetcher.root.join(path);
                let src = std::fs::canonicalize(&src).map_err(|err| as_spec.error("deps", format!("local package {path}: {}: {err}", src.display())))?;
                if !src.join("dbt_project.yml").is_file() {
                    return Err(as_spec.error("deps", format!("local package {path}: no dbt_project.yml in {}", src.display())).into());
                }
                if symlink_dir(&src, &dest).is_err() {
                    copy_dir(&src, &dest).map_err(|err| io_error(&dest, err))?;
                }
                log(format!("Installed from <local @ {path}>"));
            }
            Pinned::Git { url, sha, subdirectory, .. } => {
                let dir = fetcher.git_files(url, sha, subdirectory.as_deref(), &as_spec)?;
                std::fs::rename(&dir, &dest).map_err(|err| io_error(&dest, err))?;
                // The checkout moved: a second entry of the same commit clones again.
                fetcher.git_checkouts.remove(&(url.clone(), sha.clone(), subdirectory.clone()));
                log(format!("Installed from revision {sha}"));
                if let Some(s) = subdirectory {
                    log(format!("and subdirectory {s}"));
                }
            }
            Pinned::Hub { package, version } => {
                let index = fetcher.hub_index(package, &as_spec)?;
                let Some(info) = index.versions.get(version) else {
                    return Err(as_spec.error("deps", format!("version {version} of {package} is not on the package hub")).note("run `rdbt deps --upgrade` to resolve again").into());
                };
                let into = fetcher.new_dir();
                let dir = hub::download_tarball(&info.tarball, &into).map_err(|err| {
                    let d = as_spec.error(if err.is_offline() { "deps-unreachable" } else { "deps" }, format!("hub package {package} {version}: {err}"));
                    if err.is_offline() { d.note(VENDOR_NOTE) } else { d }
                })?;
                std::fs::rename(&dir, &dest).map_err(|err| io_error(&dest, err))?;
                log(format!("Installed from version {version}"));
                let latest = fetcher.installable(&index).into_iter().rfind(|v| semver::Version::parse(v).is_some_and(|v| !v.is_prerelease()));
                match latest {
                    Some(l) if semver::Version::parse(&l) > semver::Version::parse(version) => log(format!("Updated version available: {l}")),
                    _ => log("Up to date!".into()),
                }
            }
            Pinned::Tarball { url } => {
                let into = fetcher.new_dir();
                let dir = hub::download_tarball(url, &into).map_err(|err| {
                    let d = as_spec.error(if err.is_offline() { "deps-unreachable" } else { "deps" }, format!("tarball package {url}: {err}"));
                    if err.is_offline() { d.note(VENDOR_NOTE) } else { d }
                })?;
                std::fs::rename(&dir, &dest).map_err(|err| io_error(&dest, err))?;
                log(format!("Installed from tarball (url: {url})"));
            }
        }
    }
    swap_into_place(&staging, install_dir, &scratch.root.join("previous")).map_err(|e| io_error(install_dir, e))?;
    Ok(())
}

fn source_of(p: &Pinned, name: &str) -> Source {
    match p {
        Pinned::Local { path } => Source::Local { path: path.clone() },
        Pinned::Git { url, url_unrendered, sha, subdirectory } => {
            Source::Git { url: url.clone(), url_unrendered: url_unrendered.clone(), revision: Some(sha.clone()), subdirectory: subdirectory.clone(), warn_unpinned: false }
        }
        Pinned::Hub { package, version } => Source::Hub { package: package.clone(), versions: vec![version.clone()], install_prerelease: false },
        Pinned::Tarball { url } => Source::Tarball { url: url.clone(), name: name.to_string() },
    }
}

#[cfg(unix)]
fn symlink_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(src, dest)
}

#[cfg(windows)]
fn symlink_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(src, dest)
}

#[cfg(not(any(unix, windows)))]
fn symlink_dir(_src: &Path, _dest: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("no symlinks on this platform"))
}

fn copy_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dest.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}
