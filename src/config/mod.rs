//! Project and profile loading: dbt_project.yml, profiles.yml, packages,
//! vars, env and CLI flags → `Config`. Strings in both files are rendered
//! with `env_var()` / `var()` as dbt does (hooks are left for node time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Diagnostics, Span};

pub mod tree;
pub mod yaml;

/// Settings that come from the command line (or their environment twins).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub project_dir: Option<PathBuf>,
    pub profiles_dir: Option<PathBuf>,
    pub profile: Option<String>,
    pub target: Option<String>,
    /// `--vars` as YAML/JSON text.
    pub vars: Option<String>,
    pub threads: Option<usize>,
    pub full_refresh: bool,
    pub fail_fast: bool,
    pub target_path: Option<PathBuf>,
    /// `--no-version-check`: skip `require-dbt-version` checks.
    pub no_version_check: bool,
}

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
}

/// One dbt project: the root or an installed package.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub version: Option<String>,
    pub profile: Option<String>,
    pub root: PathBuf,
    pub file: PathBuf,
    pub model_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    pub test_paths: Vec<String>,
    pub macro_paths: Vec<String>,
    pub snapshot_paths: Vec<String>,
    pub analysis_paths: Vec<String>,
    pub docs_paths: Option<Vec<String>>,
    pub target_path: String,
    pub packages_install_path: String,
    pub clean_targets: Vec<String>,
    /// The `vars:` block as written (global keys plus package-scoped maps).
    pub vars: Map<String, Value>,
    /// Config trees: `models:`, `seeds:`, `data_tests:`/`tests:`, `sources:`, `snapshots:`.
    pub models: Value,
    pub seeds: Value,
    pub tests: Value,
    pub sources: Value,
    pub snapshots: Value,
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
    pub dispatch: Vec<DispatchConfig>,
    pub quoting: Map<String, Value>,
    pub require_dbt_version: Vec<String>,
    /// Every top-level key as written, for `rdbt debug`.
    pub raw: Map<String, Value>,
}

/// The selected output of profiles.yml.
#[derive(Debug, Clone)]
pub struct Target {
    pub profile_name: String,
    pub name: String,
    pub adapter_type: String,
    pub schema: String,
    /// DuckDB: the database file (or `:memory:`), relative paths resolved
    /// against the project root.
    pub path: String,
    /// The database name relations are qualified with (file stem for DuckDB).
    pub database: String,
    pub threads: usize,
    pub extensions: Vec<String>,
    /// DuckDB: `SET` on every connection.
    pub settings: Map<String, Value>,
    /// DuckDB: given to the database as it opens (dbt-duckdb's `config_options`).
    pub config_options: Map<String, Value>,
    /// All keys of the output, as `target` in Jinja shows them.
    pub raw: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub root: Project,
    /// Installed packages (from `dbt_packages/` or packages-install-path).
    pub packages: Vec<Project>,
    pub target: Target,
    pub cli_vars: Map<String, Value>,
    pub flags: Flags,
}

impl Config {
    pub fn target_dir(&self) -> PathBuf {
        match &self.flags.target_path {
            Some(p) => self.root.root.join(p),
            None => self.root.root.join(&self.root.target_path),
        }
    }
    pub fn all_projects(&self) -> impl Iterator<Item = &Project> {
        std::iter::once(&self.root).chain(self.packages.iter())
    }
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.all_projects().find(|p| p.name == name)
    }
    /// The root project's `quoting:` policy.
    pub fn quote_policy(&self) -> crate::manifest::QuotePolicy {
        crate::manifest::QuotePolicy::default().overridden_by(&self.root.quoting)
    }

    pub fn threads(&self) -> usize {
        self.flags.threads.unwrap_or(self.target.threads).max(1)
    }

    /// `var(name)` for a node of `package`: CLI vars, then the root project's
    /// vars scoped to the package, then its global vars, then the package's
    /// own vars.
    pub fn var(&self, package: &str, name: &str) -> Option<Value> {
        if let Some(v) = self.cli_vars.get(name) {
            return Some(v.clone());
        }
        let scoped = |p: &Project, pkg: &str| -> Option<Value> {
            p.vars.get(pkg).and_then(Value::as_object).and_then(|m| m.get(name)).cloned()
        };
        let is_package_key = |k: &str| self.all_projects().any(|p| p.name == k);
        if let Some(v) = scoped(&self.root, package) {
            return Some(v);
        }
        if let Some(v) = self.root.vars.get(name).filter(|_| !is_package_key(name)) {
            return Some(v.clone());
        }
        if package != self.root.name {
            if let Some(p) = self.project(package) {
                if let Some(v) = scoped(p, package) {
                    return Some(v);
                }
                if let Some(v) = p.vars.get(name).filter(|_| !is_package_key(name)) {
                    return Some(v.clone());
                }
            }
        }
        None
    }

    /// Every var visible to `package`, for `var` as a mapping and `rdbt debug`.
    pub fn vars_for(&self, package: &str) -> Map<String, Value> {
        let mut out = Map::new();
        let mut add = |m: &Map<String, Value>| {
            for (k, v) in m {
                if self.all_projects().any(|p| &p.name == k) {
                    continue;
                }
                out.insert(k.clone(), v.clone());
            }
        };
        if package != self.root.name {
            if let Some(p) = self.project(package) {
                add(&p.vars);
                if let Some(Value::Object(m)) = p.vars.get(package) {
                    add(m);
                }
            }
        }
        add(&self.root.vars);
        if let Some(Value::Object(m)) = self.root.vars.get(package) {
            add(m);
        }
        add(&self.cli_vars);
        out
    }
}

/// Loads the project at `flags.project_dir` (or the current directory), its
/// installed packages, and the selected profile target.
pub fn load(flags: &Flags) -> Result<Config, Diagnostics> {
    let project_dir = match &flags.project_dir {
        Some(p) => p.clone(),
        None => std::env::current_dir().map_err(|e| Diagnostic::error("io", format!("current directory: {e}")))?,
    };
    let project_dir = std::fs::canonicalize(&project_dir).unwrap_or(project_dir);
    let cli_vars = parse_cli_vars(flags.vars.as_deref())?;
    // dbt_project.yml may use `target` (`+schema: "{{ target.name }}"`): the
    // profile is read first, from the project's `profile` key alone.
    let target = load_target_named(profile_key(&project_dir, &cli_vars)?, &project_dir.join("dbt_project.yml"), flags, &project_dir, &cli_vars)?;
    let target_ctx = Value::Object(target.raw.clone());
    let root = load_project_in(&project_dir, &cli_vars, Some(&target_ctx))?;
    let mut packages = Vec::new();
    let install_dir = project_dir.join(&root.packages_install_path);
    if let Ok(entries) = std::fs::read_dir(&install_dir) {
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("dbt_project.yml").is_file()).collect();
        dirs.sort();
        let mut errors = Diagnostics::default();
        for d in dirs {
            match load_project_in(&d, &cli_vars, Some(&target_ctx)) {
                Ok(p) => packages.push(p),
                Err(e) => errors.0.extend(e.0),
            }
        }
        if errors.has_errors() {
            return Err(errors);
        }
    }
    let mut errors = Diagnostics::default();
    for p in std::iter::once(&root).chain(packages.iter()).filter(|_| !flags.no_version_check) {
        if let Err(d) = check_required_version(p, crate::artifacts::DBT_VERSION) {
            errors.push(d);
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    Ok(Config { root, packages, target, cli_vars, flags: flags.clone() })
}

pub fn parse_cli_vars(text: Option<&str>) -> Result<Map<String, Value>, Diagnostic> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else { return Ok(Map::new()) };
    match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(v) => match yaml::to_json(v) {
            Value::Object(m) => Ok(m),
            other => Err(Diagnostic::error("vars", format!("--vars must be a YAML mapping, got {other}"))),
        },
        Err(e) => Err(Diagnostic::error("vars", format!("--vars is not valid YAML: {e}"))),
    }
}

/// Renders `{{ env_var(..) }}` / `{{ var(..) }}` in a config string.
/// `secrets_ok`: profiles.yml may read `DBT_ENV_SECRET_*` variables,
/// dbt_project.yml may not.
fn render_config_string(s: &str, cli_vars: &Map<String, Value>, secrets_ok: bool) -> Result<Value, String> {
    render_config_string_in(s, cli_vars, secrets_ok, None)
}

/// As [`render_config_string`], with `target` (the profile's selected
/// output) available, as dbt renders dbt_project.yml.
fn render_config_string_in(s: &str, cli_vars: &Map<String, Value>, secrets_ok: bool, target: Option<&Value>) -> Result<Value, String> {
    if !s.contains("{{") && !s.contains("{%") {
        return Ok(Value::String(s.to_string()));
    }
    let mut env = minijinja::Environment::new();
    if let Some(t) = target {
        env.add_global("target", crate::jinja::jv(t));
    }
    if secrets_ok {
        env.add_function("env_var", crate::jinja::env_var_secret_ok_fn);
    } else {
        env.add_function("env_var", crate::jinja::env_var_fn);
    }
    let vars = cli_vars.clone();
    env.add_function("var", move |name: String, default: Option<minijinja::Value>| -> Result<minijinja::Value, minijinja::Error> {
        match (vars.get(&name), default) {
            (Some(v), _) => Ok(crate::jinja::jv(v)),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("Required var '{name}' not found in config"))),
        }
    });
    let out = env.render_str(s, ()).map_err(|e| crate::jinja::describe_error(&e))?;
    Ok(Value::String(out))
}

/// Renders every string in `v` except under keys that dbt renders later
/// (hooks, which need a node's context).
pub(crate) fn render_tree(v: &mut Value, cli_vars: &Map<String, Value>, key: &str, errors: &mut Vec<String>, secrets_ok: bool) {
    render_tree_in(v, cli_vars, key, errors, secrets_ok, None)
}

fn render_tree_in(v: &mut Value, cli_vars: &Map<String, Value>, key: &str, errors: &mut Vec<String>, secrets_ok: bool, target: Option<&Value>) {
    const DEFERRED: [&str; 6] = ["pre-hook", "post-hook", "+pre-hook", "+post-hook", "on-run-start", "on-run-end"];
    if DEFERRED.contains(&key) {
        return;
    }
    match v {
        Value::String(s) => match render_config_string_in(s, cli_vars, secrets_ok, target) {
            Ok(r) => *v = r,
            Err(e) => errors.push(e),
        },
        Value::Array(items) => items.iter_mut().for_each(|i| render_tree_in(i, cli_vars, key, errors, secrets_ok, target)),
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                render_tree_in(item, cli_vars, k, errors, secrets_ok, target)
            }
        }
        _ => {}
    }
}

fn str_list(m: &Map<String, Value>, key: &str, default: &[&str]) -> Vec<String> {
    match m.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => default.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn load_project(dir: &Path, cli_vars: &Map<String, Value>) -> Result<Project, Diagnostics> {
    load_project_in(dir, cli_vars, None)
}

/// Loads a dbt_project.yml with `target` in its rendering context.
pub fn load_project_in(dir: &Path, cli_vars: &Map<String, Value>, target: Option<&Value>) -> Result<Project, Diagnostics> {
    let file = dir.join("dbt_project.yml");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Diagnostic::error("project", format!("no dbt_project.yml found in {}: {e}", dir.display()))
            .note("run rdbt from a dbt project directory or pass --project-dir")
    })?;
    let raw = yaml::parse_mapping(&text, &file)?;
    let mut rendered = Value::Object(raw.clone());
    let mut errors = Vec::new();
    // Without a profile (`deps` loads only the project, as dbt does) there
    // is no `target`: resource config trees, which may use it, are not
    // needed then and stay unrendered.
    const CONFIG_TREES: [&str; 8] = ["models", "seeds", "snapshots", "data_tests", "tests", "sources", "analyses", "unit_tests"];
    for (k, v) in rendered.as_object_mut().into_iter().flatten() {
        if k != "vars" && (target.is_some() || !CONFIG_TREES.contains(&k.as_str())) {
            render_tree_in(v, cli_vars, k, &mut errors, false, target);
        }
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(Diagnostic::error("project", e).in_file(&file).into());
    }
    let m = rendered.as_object().cloned().unwrap_or_default();
    let Some(name) = m.get("name").and_then(Value::as_str).map(str::to_string) else {
        return Err(Diagnostic::error("project", "dbt_project.yml has no `name`").at(&file, Span::new(0, 0)).into());
    };
    let tests = m.get("data_tests").or_else(|| m.get("tests")).cloned().unwrap_or(Value::Null);
    let hooks = |k: &str| -> Vec<String> {
        match m.get(k) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => vec![],
        }
    };
    let dispatch = m
        .get("dispatch")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| {
                    Some(DispatchConfig {
                        macro_namespace: d.get("macro_namespace")?.as_str()?.to_string(),
                        search_order: d.get("search_order")?.as_array()?.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let target_path = m.get("target-path").and_then(Value::as_str).unwrap_or("target").to_string();
    Ok(Project {
        version: m.get("version").map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())),
        profile: m.get("profile").and_then(Value::as_str).map(str::to_string),
        root: dir.to_path_buf(),
        file,
        model_paths: str_list(&m, "model-paths", &["models"]),
        seed_paths: str_list(&m, "seed-paths", &["seeds"]),
        test_paths: str_list(&m, "test-paths", &["tests"]),
        macro_paths: str_list(&m, "macro-paths", &["macros"]),
        snapshot_paths: str_list(&m, "snapshot-paths", &["snapshots"]),
        analysis_paths: str_list(&m, "analysis-paths", &["analyses"]),
        docs_paths: m.get("docs-paths").map(|_| str_list(&m, "docs-paths", &[])),
        clean_targets: str_list(&m, "clean-targets", &[&target_path, "dbt_packages"]),
        target_path,
        packages_install_path: m.get("packages-install-path").and_then(Value::as_str).unwrap_or("dbt_packages").to_string(),
        vars: raw.get("vars").and_then(Value::as_object).cloned().unwrap_or_default(),
        models: m.get("models").cloned().unwrap_or(Value::Null),
        seeds: m.get("seeds").cloned().unwrap_or(Value::Null),
        tests,
        sources: m.get("sources").cloned().unwrap_or(Value::Null),
        snapshots: m.get("snapshots").cloned().unwrap_or(Value::Null),
        on_run_start: hooks("on-run-start"),
        on_run_end: hooks("on-run-end"),
        dispatch,
        quoting: m.get("quoting").and_then(Value::as_object).cloned().unwrap_or_default(),
        require_dbt_version: str_list(&m, "require-dbt-version", &[]),
        name,
        raw: m,
    })
}

/// `require-dbt-version`: every constraint (`>=1.5.0`, `<2.0.0`, `1.11.x`
/// style exact versions) must hold for the dbt version rdbt implements.
pub fn check_required_version(project: &Project, version: &str) -> Result<(), Diagnostic> {
    let parse = |v: &str| -> Option<Vec<u64>> { v.trim().trim_start_matches('v').split('.').map(|p| p.trim().parse().ok()).collect() };
    let Some(have) = parse(version) else { return Ok(()) };
    let constraints: Vec<String> = project.require_dbt_version.iter().flat_map(|c| c.split(',').map(|s| s.trim().to_string())).filter(|c| !c.is_empty()).collect();
    for c in &constraints {
        let (op, v) = ["==", ">=", "<=", "!=", ">", "<", "="].iter().find_map(|op| c.strip_prefix(op).map(|v| (*op, v))).unwrap_or(("==", c.as_str()));
        let Some(want) = parse(v) else {
            let span = std::fs::read_to_string(&project.file).ok().and_then(|t| Span::find(&t, c, 0));
            return Err(Diagnostic::error("project", format!("cannot read the version constraint '{c}' in require-dbt-version")).in_file(&project.file).with_span(span));
        };
        let ord = have.cmp(&want);
        let ok = match op {
            ">=" => ord.is_ge(),
            "<=" => ord.is_le(),
            ">" => ord.is_gt(),
            "<" => ord.is_lt(),
            "!=" => ord.is_ne(),
            _ => ord.is_eq(),
        };
        if !ok {
            let span = std::fs::read_to_string(&project.file).ok().and_then(|t| Span::find(&t, "require-dbt-version", 0));
            return Err(Diagnostic::error(
                "project",
                format!("project '{}' requires dbt {} but rdbt implements dbt {version}", project.name, constraints.join(", ")),
            )
            .in_file(&project.file)
            .with_span(span));
        }
    }
    Ok(())
}

/// profiles.yml: `--profiles-dir`, then `DBT_PROFILES_DIR`, then the project
/// directory, then `~/.dbt`.
pub fn profiles_dir(flags: &Flags, project_dir: &Path) -> PathBuf {
    if let Some(d) = &flags.profiles_dir {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("DBT_PROFILES_DIR") {
        return PathBuf::from(d);
    }
    if project_dir.join("profiles.yml").is_file() {
        return project_dir.to_path_buf();
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".dbt")).unwrap_or_else(|| project_dir.to_path_buf())
}

/// The `profile` key of dbt_project.yml, rendered (it may use `env_var`).
fn profile_key(project_dir: &Path, cli_vars: &Map<String, Value>) -> Result<Option<String>, Diagnostics> {
    let file = project_dir.join("dbt_project.yml");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Diagnostic::error("project", format!("no dbt_project.yml found in {}: {e}", project_dir.display()))
            .note("run rdbt from a dbt project directory or pass --project-dir")
    })?;
    let raw = yaml::parse_mapping(&text, &file)?;
    match raw.get("profile") {
        Some(Value::String(p)) => match render_config_string(p, cli_vars, false) {
            Ok(Value::String(p)) => Ok(Some(p)),
            Ok(_) => Ok(Some(p.clone())),
            Err(e) => Err(Diagnostic::error("project", e).in_file(&file).into()),
        },
        _ => Ok(None),
    }
}

fn load_target_named(
    profile: Option<String>,
    project_file: &Path,
    flags: &Flags,
    project_dir: &Path,
    cli_vars: &Map<String, Value>,
) -> Result<Target, Diagnostics> {
    struct P<'a> {
        profile: Option<String>,
        file: &'a Path,
    }
    let project = P { profile, file: project_file };
    let dir = profiles_dir(flags, project_dir);
    let file = dir.join("profiles.yml");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Diagnostic::error("profile", format!("could not read {}: {e}", file.display())).note("pass --profiles-dir or set DBT_PROFILES_DIR"))?;
    let profiles = yaml::parse_mapping(&text, &file)?;
    let Some(profile_name) = flags.profile.clone().or_else(|| project.profile.clone()) else {
        return Err(Diagnostic::error("profile", "dbt_project.yml has no `profile`").in_file(&project.file).into());
    };
    let Some(Value::Object(profile)) = profiles.get(&profile_name) else {
        let span = Span::find(&text, &profile_name, 0);
        return Err(Diagnostic::error("profile", format!("profile '{profile_name}' not found in {}", file.display()))
            .in_file(&project.file)
            .with_span(span.and(Span::find(&std::fs::read_to_string(&project.file).unwrap_or_default(), &profile_name, 0)))
            .into());
    };
    let target_name = match &flags.target {
        Some(t) => t.clone(),
        None => match profile.get("target").map(|t| render_config_string(t.as_str().unwrap_or("dev"), cli_vars, true)) {
            Some(Ok(Value::String(t))) => t,
            Some(Err(e)) => return Err(Diagnostic::error("profile", e).in_file(&file).into()),
            _ => "dev".to_string(),
        },
    };
    let outputs = profile.get("outputs").and_then(Value::as_object).cloned().unwrap_or_default();
    let Some(Value::Object(output)) = outputs.get(&target_name) else {
        let names: Vec<&String> = outputs.keys().collect();
        return Err(Diagnostic::error("profile", format!("target '{target_name}' not found in profile '{profile_name}' (targets: {names:?})"))
            .at(&file, Span::find(&text, &format!("{profile_name}:"), 0).unwrap_or(Span::new(0, 0)))
            .into());
    };
    let mut output = Value::Object(output.clone());
    let mut errors = Vec::new();
    render_tree(&mut output, cli_vars, "", &mut errors, true);
    if let Some(e) = errors.into_iter().next() {
        let span = Span::find(&text, &format!("{target_name}:"), 0);
        return Err(Diagnostic::error("profile", e).in_file(&file).with_span(span).into());
    }
    let mut raw = output.as_object().cloned().unwrap_or_default();
    let adapter_type = raw.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    if adapter_type != "duckdb" && adapter_type != "datafusion" {
        return Err(Diagnostic::error("profile", format!("target '{target_name}' has type '{adapter_type}'; rdbt runs `type: duckdb` and `type: datafusion`"))
            .at(&file, Span::find(&text, "type:", 0).unwrap_or(Span::new(0, 0)))
            .into());
    }
    let path = raw.get("path").and_then(Value::as_str).unwrap_or(":memory:").to_string();
    let resolved_path = if path == ":memory:" || path.starts_with("md:") || Path::new(&path).is_absolute() {
        path.clone()
    } else {
        project_dir.join(&path).to_string_lossy().into_owned()
    };
    let database = raw.get("database").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
        if path == ":memory:" {
            "memory".to_string()
        } else {
            Path::new(&path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "main".into())
        }
    });
    let schema = raw.get("schema").and_then(Value::as_str).unwrap_or("main").to_string();
    let threads = match raw.get("threads") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(1) as usize,
        Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
        _ => 1,
    };
    let extensions = raw.get("extensions").and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default();
    let settings = raw.get("settings").and_then(Value::as_object).cloned().unwrap_or_default();
    let config_options = raw.get("config_options").and_then(Value::as_object).cloned().unwrap_or_default();
    raw.insert("name".into(), Value::String(target_name.clone()));
    raw.insert("target_name".into(), Value::String(target_name.clone()));
    raw.insert("profile_name".into(), Value::String(profile_name.clone()));
    raw.insert("schema".into(), Value::String(schema.clone()));
    raw.insert("database".into(), Value::String(database.clone()));
    raw.insert("threads".into(), Value::from(threads));
    Ok(Target { profile_name, name: target_name, adapter_type, schema, path: resolved_path, database, threads, extensions, settings, config_options, raw })
}

/// The config tree that applies to a resource kind.
pub fn tree_for<'a>(project: &'a Project, kind: crate::manifest::ResourceType) -> &'a Value {
    use crate::manifest::ResourceType as R;
    match kind {
        R::Model => &project.models,
        R::Seed => &project.seeds,
        R::Test => &project.tests,
        R::Source => &project.sources,
        R::Snapshot => &project.snapshots,
        _ => &Value::Null,
    }
}

/// `env_var` values read while loading, keyed by name (for the manifest's
/// env-var tracking and secret masking).
pub type EnvVars = BTreeMap<String, String>;
