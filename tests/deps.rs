//! `rdbt deps` end to end: local and git packages (a bare repository
//! reached through file://), package-lock.yml written as dbt-core writes it
//! (tests/fixtures/deps/golden from scripts/golden/deps.py) and reused,
//! `--upgrade`, `--lock`, hub packages from a real HTTP server on 127.0.0.1,
//! the offline error, and diagnostics for malformed packages files.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Project, copy_fixture, rdbt_in_env};

/// Keep in step with scripts/golden/deps.py.
const FEATURE_MACRO: &str = "{% macro inner_hello() %}'inner feature'{% endmacro %}\n";
const GOLDEN_REMOTE: &str = "file:///tmp/rdbt-golden-deps/remote.git";

fn git(cwd: &Path, args: &[&str], date: &str) {
    let out = Command::new("git")
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.autocrlf=false"])
        .args(args)
        .current_dir(cwd)
        .env("GIT_AUTHOR_NAME", "rdbt")
        .env("GIT_AUTHOR_EMAIL", "rdbt@example.com")
        .env("GIT_COMMITTER_NAME", "rdbt")
        .env("GIT_COMMITTER_EMAIL", "rdbt@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn git_out(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(cwd).output().expect("run git");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The fixture's git package as a bare repository (`main` tagged v1.0, a
/// `feature` branch), built as scripts/golden/deps.py builds it. Returns
/// the working clone and the file:// URL of the bare one.
fn build_remote(root: &Path) -> (PathBuf, String) {
    let src = root.join("git_pkg");
    const D1: &str = "2024-01-01T00:00:00+00:00";
    git(&src, &["init", "-q", "-b", "main"], D1);
    git(&src, &["add", "-A"], D1);
    git(&src, &["commit", "-q", "-m", "v1"], D1);
    git(&src, &["tag", "v1.0"], D1);
    git(&src, &["checkout", "-q", "-b", "feature"], D1);
    std::fs::write(src.join("nested/inner/macros/inner.sql"), FEATURE_MACRO).unwrap();
    git(&src, &["commit", "-q", "-a", "-m", "feature"], "2024-01-02T00:00:00+00:00");
    git(&src, &["checkout", "-q", "main"], D1);
    git(root, &["clone", "-q", "--bare", "git_pkg", "remote.git"], D1);
    (src, format!("file://{}", root.join("remote.git").display()))
}

struct Setup {
    fixture: Project,
    project: PathBuf,
    remote: String,
    src: PathBuf,
}

fn setup() -> Setup {
    let fixture = copy_fixture("deps");
    let (src, remote) = build_remote(&fixture.dir);
    let project = fixture.dir.join("project");
    let tmpl = std::fs::read_to_string(project.join("packages.yml.tmpl")).unwrap();
    std::fs::write(project.join("packages.yml"), tmpl.replace("__REMOTE__", &remote)).unwrap();
    Setup { fixture, project, remote, src }
}

fn rdbt(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> common::RunOutput {
    let mut full = args.to_vec();
    let profiles = dir.to_str().unwrap().to_string();
    full.extend(["--profiles-dir", &profiles]);
    rdbt_in_env(dir, &full, envs)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn lock_revision(lock: &str, name: &str) -> String {
    let v: serde_yaml::Value = serde_yaml::from_str(lock).unwrap();
    let p = v["packages"].as_sequence().unwrap().iter().find(|p| p["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("{name} not in lock:\n{lock}"));
    p["revision"].as_str().unwrap().to_string()
}

fn without_hash(lock: &str) -> String {
    lock.lines().filter(|l| !l.starts_with("sha1_hash:")).collect::<Vec<_>>().join("\n")
}

#[test]
fn local_and_git_packages_install_lock_and_build() {
    let s = setup();
    let p = &s.project;

    // Before `deps`, other commands say what to do.
    let out = rdbt(p, &["build"], &[]);
    out.assert_code(2);
    assert!(out.all_output().contains("Run \"rdbt deps\""), "{}", out.all_output());
    assert!(out.all_output().contains("packages.yml"), "{}", out.all_output());

    let out = rdbt(p, &["deps"], &[]);
    out.assert_code(0);
    let text = out.all_output();
    assert!(text.contains("Installed from revision"), "{text}");

    // The lock is dbt-core's, URL and all (the hash covers the URL: checked
    // against the golden's hash for the golden's URL below).
    let lock = read(&p.join("package-lock.yml"));
    let golden = read(&common::golden_dir("deps").join("package-lock.yml"));
    assert_eq!(without_hash(&lock.replace(&s.remote, "__REMOTE__")), without_hash(&golden));
    let golden_specs = read(&p.join("packages.yml.tmpl")).replace("__REMOTE__", GOLDEN_REMOTE);
    let file = p.join("packages.yml");
    let raw = rdbt::config::yaml::parse_mapping(&golden_specs, &file).unwrap();
    let specs = rdbt::deps::spec::parse_list(&raw, &golden_specs, &file, &Default::default()).unwrap();
    let golden_hash = golden.lines().find_map(|l| l.strip_prefix("sha1_hash: ")).unwrap();
    assert_eq!(rdbt::deps::spec::sha1_hash(&specs), golden_hash);

    // dbt_packages/ as dbt-core leaves it: the local package symlinked.
    let mut installed: Vec<String> = std::fs::read_dir(p.join("dbt_packages"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e.file_type().unwrap().is_symlink();
            format!("{}{}", e.file_name().to_string_lossy(), if link { " -> symlink" } else { "" })
        })
        .collect();
    installed.sort();
    assert_eq!(installed.join("\n") + "\n", read(&common::golden_dir("deps").join("installed.txt")));
    // No staging directory is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(p).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains("rdbt-deps")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The macros of all three packages, the root's dispatch override of a
    // package macro and the root's package-scoped var.
    rdbt(p, &["build"], &[]).assert_code(0);
    let db = duckdb::Connection::open(p.join("deps.duckdb")).unwrap();
    let row: (String, String, String, String) = db
        .query_row("select local_value, git_value, inner_value, dispatched from main.uses_packages", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    let greeting: String = db.query_row("select greeting from main.local_model", [], |r| r.get(0)).unwrap();
    let golden_rows = common::read_json(&common::golden_dir("deps").join("relations.json"));
    assert_eq!(serde_json::json!([row.0, row.1, row.2, row.3]), golden_rows["uses_packages"][0]);
    assert_eq!(serde_json::json!([greeting]), golden_rows["local_model"][0]);
    drop(db);

    // The branch moves on: the unchanged specs reinstall what the lock pins…
    let pinned = lock_revision(&lock, "inner_pkg");
    git(&s.src, &["checkout", "-q", "feature"], "2024-01-03T00:00:00+00:00");
    std::fs::write(s.src.join("nested/inner/macros/inner.sql"), "{% macro inner_hello() %}'inner feature 2'{% endmacro %}\n").unwrap();
    git(&s.src, &["commit", "-q", "-a", "-m", "feature 2"], "2024-01-03T00:00:00+00:00");
    git(&s.src, &["push", "-q", &s.remote, "feature"], "2024-01-03T00:00:00+00:00");
    let moved = git_out(&s.src, &["rev-parse", "HEAD"]);
    assert_ne!(moved, pinned);
    let out = rdbt(p, &["deps"], &[]);
    out.assert_code(0);
    assert!(!out.all_output().contains("Updating lock file"), "{}", out.all_output());
    assert_eq!(read(&p.join("package-lock.yml")), lock);
    assert!(read(&p.join("dbt_packages/inner_pkg/macros/inner.sql")).contains("'inner feature'"));

    // …and --upgrade follows the branch.
    let out = rdbt(p, &["deps", "--upgrade"], &[]);
    out.assert_code(0);
    assert!(out.all_output().contains("Updating lock file"), "{}", out.all_output());
    assert_eq!(lock_revision(&read(&p.join("package-lock.yml")), "inner_pkg"), moved);
    assert!(read(&p.join("dbt_packages/inner_pkg/macros/inner.sql")).contains("inner feature 2"));

    // Changed specs are resolved again: a commit SHA as revision. `--lock`
    // writes the lock and installs nothing.
    let v1 = lock_revision(&lock, "git_pkg");
    let specs = format!("packages:\n  - local: ../local_pkg\n  - git: \"{}\"\n    revision: {}\n", s.remote, &v1[..12]);
    std::fs::write(p.join("packages.yml"), specs).unwrap();
    std::fs::remove_dir_all(p.join("dbt_packages")).unwrap();
    let out = rdbt(p, &["deps", "--lock"], &[]);
    out.assert_code(0);
    let relocked = read(&p.join("package-lock.yml"));
    assert_eq!(lock_revision(&relocked, "git_pkg"), v1);
    assert!(!relocked.contains("inner_pkg"), "{relocked}");
    assert!(!p.join("dbt_packages").exists());
    rdbt(p, &["deps"], &[]).assert_code(0);
    assert!(p.join("dbt_packages/git_pkg/dbt_project.yml").is_file());
    assert!(!p.join("dbt_packages/inner_pkg").exists());
    drop(s.fixture);
}

#[test]
fn secret_env_var_in_git_url_stays_out_of_output_and_lock() {
    let s = setup();
    let p = &s.project;
    let secret_dir = s.fixture.dir.to_str().unwrap().to_string();
    std::fs::write(p.join("packages.yml"), "packages:\n  - git: \"file://{{ env_var('DBT_ENV_SECRET_REPO_DIR') }}/remote.git\"\n    revision: v1.0\n").unwrap();
    let env = [("DBT_ENV_SECRET_REPO_DIR", secret_dir.as_str())];
    let out = rdbt(p, &["deps"], &env);
    out.assert_code(0);
    assert!(!out.all_output().contains(&secret_dir), "{}", out.all_output());
    let lock = read(&p.join("package-lock.yml"));
    assert!(lock.contains("{{ env_var('DBT_ENV_SECRET_REPO_DIR') }}"), "{lock}");
    assert!(!lock.contains(&secret_dir), "{lock}");
    // The lock's URL is rendered again when installing from it.
    std::fs::remove_dir_all(p.join("dbt_packages")).unwrap();
    let out = rdbt(p, &["deps"], &env);
    out.assert_code(0);
    assert!(p.join("dbt_packages/git_pkg/macros/git.sql").is_file());
    // A failing clone does not echo it either.
    std::fs::write(p.join("packages.yml"), "packages:\n  - git: \"file://{{ env_var('DBT_ENV_SECRET_REPO_DIR') }}/missing.git\"\n").unwrap();
    let out = rdbt(p, &["deps"], &env);
    out.assert_code(2);
    assert!(!out.all_output().contains(&secret_dir), "{}", out.all_output());
}

#[test]
fn package_require_dbt_version_and_no_version_check() {
    let s = setup();
    let p = &s.project;
    std::fs::write(p.join("packages.yml"), "packages:\n  - local: ../local_pkg\n").unwrap();
    let pkg = s.fixture.dir.join("local_pkg/dbt_project.yml");
    let text = read(&pkg);
    std::fs::write(&pkg, format!("{text}require-dbt-version: \">=99.0.0\"\n")).unwrap();
    rdbt(p, &["deps"], &[]).assert_code(0);
    std::fs::write(p.join("models/uses_packages.sql"), "select {{ local_pkg.local_hello() }} as v").unwrap();
    let out = rdbt(p, &["build"], &[]);
    out.assert_code(2);
    assert!(out.all_output().contains("local_pkg"), "{}", out.all_output());
    assert!(out.all_output().contains(">=99.0.0"), "{}", out.all_output());
    rdbt(p, &["build", "--no-version-check"], &[]).assert_code(0);
}

#[test]
fn malformed_packages_file_points_at_the_line() {
    let s = setup();
    let p = &s.project;
    std::fs::write(p.join("packages.yml"), "packages:\n  - local: ../local_pkg\n  - package: dbt_utils\n    version: 1.0.0\n").unwrap();
    let out = rdbt(p, &["deps"], &[]);
    out.assert_code(2);
    assert!(out.all_output().contains("packages.yml:3:5"), "{}", out.all_output());
    assert!(out.all_output().contains("namespace"), "{}", out.all_output());
    std::fs::write(p.join("packages.yml"), "packages:\n  - local: ../local_pkg\n    revision: [\n").unwrap();
    let out = rdbt(p, &["deps"], &[]);
    out.assert_code(2);
    assert!(out.all_output().contains("packages.yml:"), "{}", out.all_output());
    assert!(out.all_output().contains("yaml-syntax"), "{}", out.all_output());
    // Other commands report it too.
    let out = rdbt(p, &["build"], &[]);
    out.assert_code(2);
    assert!(out.all_output().contains("packages.yml:"), "{}", out.all_output());
}

#[test]
fn hub_unreachable_is_a_clear_error_and_changes_nothing() {
    let s = setup();
    let p = &s.project;
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hub = format!("http://127.0.0.1:{port}/");
    std::fs::write(p.join("packages.yml"), "packages:\n  - local: ../local_pkg\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n").unwrap();
    std::fs::create_dir_all(p.join("dbt_packages/kept")).unwrap();
    std::fs::write(p.join("dbt_packages/kept/dbt_project.yml"), "name: kept\n").unwrap();
    let started = std::time::Instant::now();
    let out = rdbt(p, &["deps"], &[("RDBT_HUB_URL", &hub)]);
    out.assert_code(2);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
    let text = out.all_output();
    assert!(text.contains("packages.yml:3:5"), "{text}");
    assert!(text.contains("dbt-labs/dbt_utils"), "{text}");
    assert!(text.contains("local:") && text.contains("dbt_packages/"), "{text}");
    // Nothing half-installed: the old install directory is as it was.
    let names: Vec<String> = std::fs::read_dir(p.join("dbt_packages")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["kept"]);
    assert!(!p.join("package-lock.yml").exists());
    let leftovers: Vec<_> = std::fs::read_dir(p).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains("rdbt-deps")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A hub on 127.0.0.1: `/api/v1/<owner>/<name>.json` indexes and
/// `/tarballs/<file>` archives, built in memory.
struct Hub {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread ends.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://").trim_end_matches('/'));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tarball(top: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, format!("{top}/{path}"), text.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn start_hub(routes: impl Fn(&str, &str) -> Option<Vec<u8>> + Send + 'static) -> Hub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let base = url.clone();
    let thread = std::thread::spawn(move || {
        // Bounded: a test makes a handful of requests.
        for stream in listener.incoming().take(200) {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let req = String::from_utf8_lossy(&buf);
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body) = match routes(&base, &path) {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    Hub { url, stop, thread: Some(thread) }
}

/// `acme/util` (1.0.0, 1.1.0, and 2.0.0 which needs a future dbt) requires
/// `acme/base` >=0.2.0,<0.3.0; base has 0.1.0, 0.2.1, 0.3.0.
fn acme_routes(base: &str, path: &str) -> Option<Vec<u8>> {
    let version = |pkg: &str, name: &str, v: &str, packages: serde_json::Value, require: &str| {
        (v.to_string(), serde_json::json!({"name": name, "packages": packages, "downloads": {"tarball": format!("{base}tarballs/{pkg}-{v}.tar.gz")}, "require_dbt_version": [require]}))
    };
    let index = |versions: Vec<(String, serde_json::Value)>| serde_json::json!({"name": "x", "namespace": "acme", "versions": versions.into_iter().collect::<serde_json::Map<_, _>>()}).to_string().into_bytes();
    match path {
        "/api/v1/acme/util.json" => Some(index(vec![
            version("util", "acme_util", "1.0.0", serde_json::json!([]), ">=1.0.0"),
            version("util", "acme_util", "1.1.0", serde_json::json!([{"package": "acme/base", "version": [">=0.2.0", "<0.3.0"]}]), ">=1.0.0"),
            version("util", "acme_util", "2.0.0", serde_json::json!([]), ">=99.0.0"),
        ])),
        "/api/v1/acme/base.json" => Some(index(["0.1.0", "0.2.1", "0.3.0"].iter().map(|v| version("base", "acme_base", v, serde_json::json!([]), ">=1.0.0")).collect())),
        p if p.starts_with("/tarballs/util-") => {
            let v = p.trim_start_matches("/tarballs/util-").trim_end_matches(".tar.gz");
            Some(tarball(
                &format!("acme-util-{v}"),
                &[("dbt_project.yml", "name: acme_util\nversion: '1.1.0'\n"), ("macros/u.sql", &format!("{{% macro util_version() %}}'{v}' || {{{{ acme_base.base_version() }}}}{{% endmacro %}}"))],
            ))
        }
        p if p.starts_with("/tarballs/base-") => {
            let v = p.trim_start_matches("/tarballs/base-").trim_end_matches(".tar.gz");
            Some(tarball(&format!("acme-base-{v}"), &[("dbt_project.yml", "name: acme_base\n"), ("macros/b.sql", &format!("{{% macro base_version() %}}'+{v}'{{% endmacro %}}"))]))
        }
        _ => None,
    }
}

#[test]
fn hub_packages_resolve_ranges_across_requirers() {
    let s = setup();
    let p = &s.project;
    let hub = start_hub(acme_routes);
    let env = [("RDBT_HUB_URL", hub.url.as_str())];
    std::fs::write(p.join("packages.yml"), "packages:\n  - package: acme/util\n    version: [\">=1.0.0\", \"<3.0.0\"]\n  - package: acme/base\n    version: \"<0.3.0\"\n").unwrap();
    std::fs::write(p.join("models/uses_packages.sql"), "select {{ acme_util.util_version() }} as v").unwrap();
    let out = rdbt(p, &["deps"], &env);
    out.assert_code(0);
    // util: 2.0.0 needs another dbt, so 1.1.0; base: >=0.2.0 (from util) and <0.3.0 (root).
    let lock = read(&p.join("package-lock.yml"));
    let v: serde_yaml::Value = serde_yaml::from_str(&lock).unwrap();
    let got: Vec<(String, String, String)> = v["packages"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| (p["package"].as_str().unwrap().into(), p["version"].as_str().unwrap().into(), p["name"].as_str().unwrap().into()))
        .collect();
    assert_eq!(got, vec![("acme/util".into(), "1.1.0".into(), "acme_util".into()), ("acme/base".into(), "0.2.1".into(), "acme_base".into())]);
    rdbt(p, &["build"], &env).assert_code(0);
    let db = duckdb::Connection::open(p.join("deps.duckdb")).unwrap();
    let built: String = db.query_row("select v from main.uses_packages", [], |r| r.get(0)).unwrap();
    assert_eq!(built, "1.1.0+0.2.1");
    drop(db);

    // --no-version-check admits 2.0.0.
    let out = rdbt(p, &["deps", "--upgrade", "--no-version-check"], &env);
    out.assert_code(0);
    assert!(read(&p.join("package-lock.yml")).contains("version: 2.0.0"));

    // Requirements that cannot meet name who asked for what.
    std::fs::write(p.join("packages.yml"), "packages:\n  - package: acme/util\n    version: 1.1.0\n  - package: acme/base\n    version: \">=0.3.0,<0.4.0\"\n").unwrap();
    let out = rdbt(p, &["deps"], &env);
    out.assert_code(2);
    let text = out.all_output();
    assert!(text.contains("acme/base"), "{text}");
    assert!(text.contains("required by deps_project") && text.contains("required by acme_util"), "{text}");
    // The lock and the install from before are untouched.
    assert!(read(&p.join("package-lock.yml")).contains("version: 2.0.0"));
    assert!(p.join("dbt_packages/acme_util/dbt_project.yml").is_file());

    // A tarball package: installed under its given name.
    std::fs::write(p.join("packages.yml"), format!("packages:\n  - tarball: {}tarballs/base-0.1.0.tar.gz\n    name: acme_base\n", hub.url)).unwrap();
    rdbt(p, &["deps"], &env).assert_code(0);
    assert_eq!(read(&p.join("package-lock.yml")).lines().nth(1).unwrap(), "  - name: acme_base");
    assert!(read(&p.join("dbt_packages/acme_base/macros/b.sql")).contains("+0.1.0"));
    assert!(!p.join("dbt_packages/acme_util").exists());

    // A package the hub does not have.
    std::fs::write(p.join("packages.yml"), "packages:\n  - package: acme/nope\n    version: 1.0.0\n").unwrap();
    let out = rdbt(p, &["deps"], &env);
    out.assert_code(2);
    assert!(out.all_output().contains("acme/nope was not found"), "{}", out.all_output());
    drop(hub);
}

#[test]
fn dependencies_yml_and_transitive_local_packages() {
    let s = setup();
    let p = &s.project;
    std::fs::remove_file(p.join("packages.yml")).ok();
    // dependencies.yml may also list `projects:` (not installed).
    std::fs::write(p.join("dependencies.yml"), "projects:\n  - name: upstream_project\npackages:\n  - local: ../local_pkg\n").unwrap();
    // A package's own packages; as in dbt, a local path is relative to the root project.
    std::fs::write(s.fixture.dir.join("local_pkg/packages.yml"), "packages:\n  - local: ../git_pkg/nested/inner\n").unwrap();
    let out = rdbt(p, &["deps"], &[]);
    out.assert_code(0);
    let lock = read(&p.join("package-lock.yml"));
    assert_eq!(lock.matches("name: ").count(), 2, "{lock}");
    assert!(lock.contains("local: ../git_pkg/nested/inner\n    name: inner_pkg"), "{lock}");
    assert!(p.join("dbt_packages/inner_pkg/macros/inner.sql").is_file());
    std::fs::write(p.join("models/uses_packages.sql"), "select {{ inner_pkg.inner_hello() }} as v").unwrap();
    rdbt(p, &["build"], &[]).assert_code(0);

    // Both files listing packages is an error, at the packages.yml key.
    std::fs::write(p.join("packages.yml"), "packages:\n  - local: ../local_pkg\n").unwrap();
    let out = rdbt(p, &["deps"], &[]);
    out.assert_code(2);
    assert!(out.all_output().contains("packages.yml:1:1"), "{}", out.all_output());
}

#[test]
fn lock_of_dbt_1_7_without_names_is_reused() {
    let s = setup();
    let p = &s.project;
    let specs = "packages:\n  - local: ../local_pkg\n";
    std::fs::write(p.join("packages.yml"), specs).unwrap();
    let file = p.join("packages.yml");
    let raw = rdbt::config::yaml::parse_mapping(specs, &file).unwrap();
    let hash = rdbt::deps::spec::sha1_hash(&rdbt::deps::spec::parse_list(&raw, specs, &file, &Default::default()).unwrap());
    // As dbt 1.7 wrote it (dbt-utils' integration_tests still has one).
    let old = format!("packages:\n- local: ../local_pkg\nsha1_hash: {hash}\n");
    std::fs::write(p.join("package-lock.yml"), &old).unwrap();
    let out = rdbt(p, &["deps"], &[]);
    out.assert_code(0);
    assert!(!out.all_output().contains("Updating lock file"), "{}", out.all_output());
    assert_eq!(read(&p.join("package-lock.yml")), old);
    assert!(p.join("dbt_packages/local_pkg/dbt_project.yml").is_file());
}

#[test]
fn deps_works_when_the_project_config_uses_target() {
    // `deps` reads no profile (as dbt), so a `target` in dbt_project.yml's
    // config trees must not stop it; `build` then renders it with the target.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let pkg = p.join("local_pkg");
    std::fs::create_dir_all(pkg.join("macros")).unwrap();
    std::fs::write(pkg.join("dbt_project.yml"), "name: local_pkg\nversion: '1.0'\n").unwrap();
    std::fs::write(pkg.join("macros/m.sql"), "{% macro forty_two() %}42{% endmacro %}").unwrap();
    let proj = p.join("proj");
    std::fs::create_dir_all(proj.join("models")).unwrap();
    std::fs::write(
        proj.join("dbt_project.yml"),
        "name: proj\nprofile: proj\nmodels:\n  proj:\n    +materialized: \"{{ 'table' if target.name == 'dev' else 'view' }}\"\n",
    )
    .unwrap();
    std::fs::write(proj.join("profiles.yml"), "proj:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/p.duckdb\n").unwrap();
    std::fs::write(proj.join("packages.yml"), "packages:\n  - local: ../local_pkg\n").unwrap();
    std::fs::write(proj.join("models/a.sql"), "select {{ local_pkg.forty_two() }} as x").unwrap();
    rdbt(&proj, &["deps"], &[]).assert_code(0);
    let out = rdbt(&proj, &["build"], &[]);
    out.assert_code(0);
    assert!(out.stdout.contains("sql table model main.a"), "{}", out.stdout);
}
