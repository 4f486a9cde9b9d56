//! Renders a self-contained Jinja case (macro files, a template, context
//! names, vars) the way a root project's model is rendered at execution
//! (`execute` is true), without a project on disk or a database. Used by the
//! Jinja conformance suite (`tests/jinja_conformance.rs`, whose expected
//! outputs come from dbt-core) and the rendering benchmark
//! (`examples/bench_jinja.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::blocks::{BlockKind, as_macro_source, find_blocks};
use super::{Globals, JinjaEnv, MacroDef, NodeCtx, Phase, builtins, describe_error, pyjv};
use crate::config::{Config, Flags, Project, Target};

/// The package the case's macros belong to: the root project.
pub const PACKAGE: &str = "conformance";

/// An environment with the built-in `dbt` macros and a case's macro files
/// registered as the root project's, ready to render templates.
pub struct CaseEnv {
    env: Arc<JinjaEnv>,
    globals: Arc<Globals>,
}

impl CaseEnv {
    /// `macro_files` are (file name, source) pairs; each file may define
    /// several `{% macro %}` (or `{% test %}`) blocks. `vars` are the
    /// project's vars as `--vars` would give them.
    pub fn new(macro_files: &[(String, String)], vars: &Value) -> Result<CaseEnv, String> {
        let mut env = JinjaEnv::new();
        for (name, text) in builtins::MACRO_FILES {
            add_file(&mut env, super::INTERNAL_PACKAGE, &format!("rdbt/include/{name}"), text)?;
        }
        for (name, text) in macro_files {
            add_file(&mut env, PACKAGE, name, text)?;
        }
        env.set_packages(PACKAGE, Default::default());
        let cli_vars = match vars {
            Value::Object(m) => m.clone(),
            Value::Null => Map::new(),
            other => return Err(format!("vars must be a mapping, got {other}")),
        };
        let config = Arc::new(config(cli_vars));
        let globals = Arc::new(Globals::new(config, "00000000-0000-0000-0000-000000000000".into(), "compile"));
        Ok(CaseEnv { env: Arc::new(env), globals })
    }

    /// Renders `template` with every key of `context` (a JSON object) as a
    /// name of the render context. Lists and maps become Python's mutable
    /// containers: in dbt the context's values (`model`, `graph`, test
    /// arguments, ...) are Python lists and dicts.
    pub fn render(&self, template: &str, context: &Value) -> Result<String, String> {
        let mut ctx = NodeCtx::new(self.globals.clone(), self.env.macros.clone(), Phase::Execute, PACKAGE);
        match context {
            Value::Object(m) => {
                for (k, v) in m {
                    ctx.extra.insert(k.clone(), pyjv(v));
                }
            }
            Value::Null => {}
            other => return Err(format!("context must be a mapping, got {other}")),
        }
        let ctx = Arc::new(ctx);
        self.env.render("model.conformance.case", template, &ctx).map_err(|e| describe_error(&e))
    }
}

/// One case in a fresh environment.
pub fn render_case(macro_files: &[(String, String)], template: &str, context: &Value, vars: &Value) -> Result<String, String> {
    CaseEnv::new(macro_files, vars)?.render(template, context)
}

/// Registers the blocks of one macro file as the parser does for a project.
fn add_file(env: &mut JinjaEnv, package: &str, file: &str, text: &str) -> Result<(), String> {
    let blocks = find_blocks(text).map_err(|e| format!("{file}: {}", e.message))?;
    for b in blocks {
        let name = match b.kind {
            BlockKind::Macro => b.name.clone(),
            BlockKind::Test => format!("test_{}", b.name),
            _ => continue,
        };
        let unique_id = format!("macro.{package}.{name}");
        if env.macros.get(package, &name).is_some() {
            return Err(format!("{file}: macro '{name}' is defined twice in package '{package}'"));
        }
        let def = MacroDef { unique_id, package: package.to_string(), name, file: PathBuf::from(file), offset: b.span.start };
        env.add_macro_template(def, as_macro_source(text, &b)).map_err(|d| d.message)?;
    }
    Ok(())
}

/// A root project with no files and a DuckDB target, as `rdbt` would load
/// for a project directory that only has `dbt_project.yml`.
fn config(cli_vars: Map<String, Value>) -> Config {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let root = Project {
        name: PACKAGE.to_string(),
        version: Some("1.0.0".into()),
        profile: Some(PACKAGE.to_string()),
        root: PathBuf::from("."),
        file: PathBuf::from("dbt_project.yml"),
        model_paths: strings(&["models"]),
        seed_paths: strings(&["seeds"]),
        test_paths: strings(&["tests"]),
        macro_paths: strings(&["macros"]),
        snapshot_paths: strings(&["snapshots"]),
        analysis_paths: strings(&["analyses"]),
        docs_paths: None,
        target_path: "target".into(),
        packages_install_path: "dbt_packages".into(),
        clean_targets: vec![],
        vars: Map::new(),
        models: Value::Null,
        seeds: Value::Null,
        tests: Value::Null,
        sources: Value::Null,
        snapshots: Value::Null,
        on_run_start: vec![],
        on_run_end: vec![],
        dispatch: vec![],
        quoting: Map::new(),
        require_dbt_version: vec![],
        raw: Map::new(),
    };
    let mut raw = Map::new();
    raw.insert("type".into(), "duckdb".into());
    raw.insert("path".into(), ":memory:".into());
    raw.insert("schema".into(), "main".into());
    raw.insert("database".into(), "memory".into());
    let target = Target {
        profile_name: PACKAGE.to_string(),
        name: "dev".into(),
        adapter_type: "duckdb".into(),
        schema: "main".into(),
        path: ":memory:".into(),
        database: "memory".into(),
        threads: 1,
        extensions: vec![],
        settings: Map::new(),
        config_options: Map::new(),
        raw,
    };
    Config { root, packages: vec![], target, cli_vars, flags: Flags::default() }
}
