//! One function per command.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::invocation::Invocation;
use super::{Command, Common, EXIT_ERROR, EXIT_FAILURE, EXIT_OK, RunFlags, Selection};
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::ResourceType;
use crate::run::output::{LogFormat, Output};
use crate::run::results::{RunResult, RunResults, RunStatus};
use crate::run::{RunOptions, Runtime};

pub fn dispatch(command: Command, common: &Common) -> i32 {
    match command {
        Command::Build { sel, run } => run_nodes(common, &sel, &run, "build"),
        Command::Run { sel, run } => run_nodes(common, &sel, &run, "run"),
        Command::Test { sel, run } => run_nodes(common, &sel, &run, "test"),
        Command::Seed { sel, run } => run_nodes(common, &sel, &run, "seed"),
        Command::Ingest { sel, run } => run_nodes(common, &sel, &run, "ingest"),
        Command::Snapshot { sel, fail_fast } => run_nodes(common, &sel, &RunFlags { fail_fast, ..RunFlags::default() }, "snapshot"),
        Command::Compile { sel, inline } => match inline {
            Some(sql) => show_or_compile_inline(common, &sql, None),
            None => run_nodes(common, &sel, &RunFlags::default(), "compile"),
        },
        Command::Parse => parse(common),
        Command::Ls { sel, output } => ls(common, &sel, &output),
        Command::Show { sel, inline, limit } => show(common, &sel, inline.as_deref(), limit),
        Command::Debug => debug(common),
        Command::Retry => retry(common),
        Command::RunOperation { macro_name, args } => run_operation(common, &macro_name, args.as_deref()),
        Command::Clean => clean(common),
        Command::Docs { command: super::DocsCommand::Generate } => docs_generate(common),
        Command::Docs { command: super::DocsCommand::Serve { port } } => docs_serve(common, port),
        Command::Source { command: super::SourceCommand::Freshness { sel, output } } => source_freshness(common, &sel, output.as_deref()),
        Command::Deps { lock, upgrade } => deps(common, lock, upgrade),
    }
}

/// Prints diagnostics; exit code 2.
fn report(diags: &Diagnostics, root: Option<&std::path::Path>, format: LogFormat) -> i32 {
    let out = Output::new(format, root.map(|r| std::fs::canonicalize(r).unwrap_or(r.to_path_buf())));
    for d in &diags.0 {
        out.diagnostic(d);
    }
    let n = diags.0.iter().filter(|d| d.is_error()).count();
    if format == LogFormat::Text {
        eprintln!("{n} error(s); nothing was run.");
    }
    EXIT_ERROR
}

fn load(common: &Common, run: Option<&RunFlags>) -> Result<Invocation, i32> {
    let flags = common.flags(run);
    Invocation::load(&flags, common.log_format()).map_err(|(d, root)| report(&d, root.as_deref(), common.log_format()))
}

/// The target's engine and one connection to it; on failure the exit code
/// after the diagnostic is printed.
fn open_connection(inv: &Invocation) -> Result<(Arc<dyn crate::adapter::Adapter>, Box<dyn crate::adapter::Connection>), i32> {
    let adapter = inv.open_adapter().map_err(|d| fail(inv, d))?;
    let conn = adapter.connect().map_err(|e| fail(inv, Diagnostic::error("connection", e.message)))?;
    Ok((adapter, conn))
}

fn fail(inv: &Invocation, d: Diagnostic) -> i32 {
    report(&Diagnostics(vec![d]), Some(&inv.config.root.root), inv.output.format)
}

fn resource_types(which: &str) -> Vec<ResourceType> {
    use ResourceType::*;
    match which {
        "build" => vec![Ingest, Model, Seed, Snapshot, Ml, Test],
        "ingest" => vec![Ingest],
        "run" => vec![Model],
        "test" => vec![Test],
        "seed" => vec![Seed],
        "snapshot" => vec![Snapshot],
        "compile" => vec![Model, Test, Analysis, Snapshot, Ml],
        _ => vec![],
    }
}

/// `rdbt docs generate`: manifest.json, catalog.json (what the engine holds
/// for each node and source) and the static site index.html.
fn docs_generate(common: &Common) -> i32 {
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let out = inv.output.clone();
    out.info(&format!("Running with rdbt={} (dbt={})", env!("CARGO_PKG_VERSION"), crate::jinja::builtins::DBT_VERSION));
    out.info(&found_line(&inv));
    let (_adapter, mut conn) = match open_connection(&inv) {
        Ok(x) => x,
        Err(code) => return code,
    };
    inv.write_manifest(&BTreeMap::new());
    out.info("Building catalog");
    let metadata = inv.meta().generated_now(chrono::Utc::now()).header("https://schemas.getdbt.com/dbt/catalog/v1.json");
    let catalog = crate::artifacts::catalog::catalog_json(&inv.manifest, conn.as_mut(), metadata);
    let target = inv.config.target_dir();
    let site = crate::docs::site_html(&crate::docs::site_data(&inv.manifest, &catalog));
    let written = crate::artifacts::write_json_atomic(&target.join("catalog.json"), &catalog)
        .and_then(|_| crate::artifacts::write_atomic(&target.join("index.html"), |w| w.write_all(site.as_bytes())));
    if let Err(e) = written {
        return fail(&inv, Diagnostic::error("artifacts", format!("cannot write the docs into {}: {e}", target.display())));
    }
    out.info(&format!("Catalog written to {}", target.join("catalog.json").display()));
    EXIT_OK
}

/// `rdbt docs serve`: the generated site, until the process is stopped.
fn docs_serve(common: &Common, port: u16) -> i32 {
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let dir = inv.config.target_dir();
    if !dir.join("index.html").is_file() {
        return fail(&inv, Diagnostic::error("docs", format!("{} does not exist: run `rdbt docs generate` first", dir.join("index.html").display())));
    }
    let out = inv.output.clone();
    match crate::docs::serve(&dir, port, |url| out.info(&format!("Serving docs at {url} (Ctrl-C to stop)"))) {
        Ok(()) => EXIT_OK,
        Err(e) => fail(&inv, Diagnostic::error("docs", format!("cannot serve on 127.0.0.1:{port}: {e}"))),
    }
}

/// `rdbt source freshness`: exit 1 when a source is past `error_after` or
/// its query fails, as dbt.
fn source_freshness(common: &Common, sel: &Selection, output: Option<&std::path::Path>) -> i32 {
    use crate::run::freshness::{self, FreshnessStatus};
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let selected = match inv.select(sel, vec![ResourceType::Source]) {
        Ok(p) => p,
        Err(d) => return fail(&inv, d),
    };
    let sources: Vec<&crate::manifest::SourceDefinition> =
        selected.iter().filter_map(|id| inv.manifest.sources.get(id)).filter(|s| freshness::is_checkable(s)).collect();
    let out = inv.output.clone();
    out.info(&format!("Running with rdbt={} (dbt={})", env!("CARGO_PKG_VERSION"), crate::jinja::builtins::DBT_VERSION));
    out.info(&found_line(&inv));
    let started = Instant::now();
    if sources.is_empty() {
        out.info("Nothing to do: no selected source has a `freshness:` threshold and a `loaded_at_field`.");
        return EXIT_OK;
    }
    let (_adapter, mut conn) = match open_connection(&inv) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let total = sources.len();
    let mut results = Vec::with_capacity(total);
    for (i, s) in sources.iter().enumerate() {
        let what = format!("freshness of {}.{}", s.source_name, s.name);
        let data = |event: &str| serde_json::json!({"event": event, "unique_id": s.unique_id});
        out.progress("info", &format!("{} of {total} START {what}", i + 1), "[RUN]", data("FreshnessStart"));
        let r = freshness::check(conn.as_mut(), s);
        let t = format!("{:.2}s", r.execution_time);
        let (level, word, status) = match r.status {
            FreshnessStatus::Pass => ("info", "PASS", format!("[PASS in {t}]")),
            FreshnessStatus::Warn => ("warn", "WARN", format!("[WARN in {t}]")),
            FreshnessStatus::Error => ("error", "ERROR STALE", format!("[ERROR STALE in {t}]")),
            FreshnessStatus::RuntimeError => ("error", "ERROR", format!("[ERROR in {t}]")),
        };
        out.progress(level, &format!("{} of {total} {word} {what}", i + 1), &status, data("FreshnessFinished"));
        if let Some(e) = &r.error {
            out.warn(&format!("{what}: {e}"));
        }
        results.push(r);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let metadata = inv.meta().generated_now(chrono::Utc::now()).header("https://schemas.getdbt.com/dbt/sources/v3.json");
    let path = output.map(std::path::Path::to_path_buf).unwrap_or_else(|| inv.config.target_dir().join("sources.json"));
    if let Err(e) = crate::artifacts::write_json_atomic(&path, &freshness::sources_json(&results, metadata, elapsed)) {
        return fail(&inv, Diagnostic::error("artifacts", format!("cannot write {}: {e}", path.display())));
    }
    let count = |st: FreshnessStatus| results.iter().filter(|r| r.status == st).count();
    out.info(&format!(
        "Done. PASS={} WARN={} ERROR={} RUNTIME_ERROR={} TOTAL={total}",
        count(FreshnessStatus::Pass),
        count(FreshnessStatus::Warn),
        count(FreshnessStatus::Error),
        count(FreshnessStatus::RuntimeError)
    ));
    if results.iter().any(|r| matches!(r.status, FreshnessStatus::Error | FreshnessStatus::RuntimeError)) { EXIT_FAILURE } else { EXIT_OK }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") }
}

/// `Found 6 models, 3 seeds, 12 data tests, 2 sources, 400 macros`.
fn found_line(inv: &Invocation) -> String {
    let m = &inv.manifest;
    let count = |t: ResourceType| m.nodes.values().filter(|n| n.resource_type == t).count();
    let mut parts = vec![];
    for (t, w) in [(ResourceType::Model, "model"), (ResourceType::Seed, "seed"), (ResourceType::Test, "data test"), (ResourceType::Snapshot, "snapshot"), (ResourceType::Analysis, "analysis"), (ResourceType::Ingest, "ingest load"), (ResourceType::Ml, "ML node")] {
        let n = count(t);
        if n > 0 {
            parts.push(plural(n, w));
        }
    }
    if !m.sources.is_empty() {
        parts.push(plural(m.sources.len(), "source"));
    }
    if !m.exposures.is_empty() {
        parts.push(plural(m.exposures.len(), "exposure"));
    }
    parts.push(plural(m.macros.len(), "macro"));
    format!("Found {}", parts.join(", "))
}

fn run_hooks(inv: &Invocation, rt: &Runtime, hooks: &[String], results: Option<&[RunResult]>) -> Result<(), Diagnostic> {
    if hooks.is_empty() {
        return Ok(());
    }
    let conn = rt.adapter.connect().map_err(|e| Diagnostic::error("hook", e.message))?;
    let conn = Arc::new(std::sync::Mutex::new(conn));
    let extra = match results {
        Some(rs) => vec![(
            "results".to_string(),
            crate::jinja::jv(
                rs.iter()
                    .map(|r| serde_json::json!({"status": r.status.as_str(), "message": r.message, "failures": r.failures, "execution_time": r.execution_time, "node": {"unique_id": r.unique_id}}))
                    .collect::<Vec<_>>(),
            ),
        )],
        None => vec![],
    };
    for h in hooks {
        let sql = rt.compiler.render_project_hook(h, extra.clone(), Some(conn.clone()))?;
        if sql.trim().is_empty() {
            continue;
        }
        let mut c = conn.lock().map_err(|_| Diagnostic::error("hook", "connection lock poisoned"))?;
        c.execute(&sql).map_err(|e| Diagnostic::error("hook", format!("on-run hook failed: {}", e.message)).in_file(&inv.config.root.file))?;
    }
    Ok(())
}

fn run_nodes(common: &Common, sel: &Selection, run: &RunFlags, which: &str) -> i32 {
    let inv = match load(common, Some(run)) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let plan = match inv.select(sel, resource_types(which)) {
        Ok(p) => p,
        Err(d) => return fail(&inv, d),
    };
    execute_plan(inv, plan, sel, run, which)
}

/// `retry`: the previous invocation's command, on the nodes that errored,
/// failed or were skipped (read from target/run_results.json).
fn retry(common: &Common) -> i32 {
    let probe = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let path = probe.config.target_dir().join("run_results.json");
    let previous: serde_json::Value = match std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string())) {
        Ok(v) => v,
        Err(e) => return fail(&probe, Diagnostic::error("retry", format!("no previous run to retry: {}: {e}", path.display()))),
    };
    let which = previous["args"]["which"].as_str().unwrap_or("build").to_string();
    if !matches!(which.as_str(), "build" | "run" | "test" | "seed" | "ingest" | "snapshot" | "compile") {
        return fail(&probe, Diagnostic::error("retry", format!("cannot retry a previous `{which}`")));
    }
    let redo: std::collections::BTreeSet<String> = previous["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| matches!(r["status"].as_str(), Some("error" | "fail" | "skipped" | "runtime error")))
        .filter_map(|r| r["unique_id"].as_str().map(str::to_string))
        .filter(|id| probe.manifest.nodes.contains_key(id))
        .collect();
    let run = RunFlags { full_refresh: previous["args"]["full_refresh"].as_bool().unwrap_or(false), ..RunFlags::default() };
    drop(probe);
    let inv = match load(common, Some(&run)) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if redo.is_empty() {
        inv.output.info("Nothing to retry: the previous run had no errors, failures or skips.");
        return EXIT_OK;
    }
    let plan = inv.graph.topo_order(&redo);
    execute_plan(inv, plan, &Selection::default(), &run, &which)
}

fn execute_plan(inv: Invocation, plan: Vec<String>, sel: &Selection, run: &RunFlags, which: &str) -> i32 {
    let out = inv.output.clone();
    out.info(&format!("Running with rdbt={} (dbt={})", env!("CARGO_PKG_VERSION"), crate::jinja::builtins::DBT_VERSION));
    out.info(&found_line(&inv));
    let threads = inv.config.threads();
    let adapter = match inv.open_adapter() {
        Ok(a) => a,
        Err(d) => return fail(&inv, d),
    };
    let compiler = inv.compiler(which, Some(adapter.clone()), &plan);
    let rt = Runtime { manifest: inv.manifest.clone(), compiler, adapter, target_dir: inv.config.target_dir(), output: out.clone(), bad_input: Default::default() };
    let opts = RunOptions {
        which: which.to_string(),
        threads,
        fail_fast: run.fail_fast,
        full_refresh: run.full_refresh,
        compile_only: which == "compile",
        tests_gate_children: which == "build",
        ingest: crate::ingest::node::IngestRunOptions {
            // Paths on the command line are relative to where rdbt runs.
            record_dir: run.record_ingest.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            replay_dir: run.replay_ingest.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            project_root: inv.config.root.root.clone(),
        },
    };
    let started = Instant::now();
    let runnable = plan.iter().filter(|id| inv.manifest.nodes.get(*id).is_some_and(|n| !n.is_ephemeral())).count();
    if runnable == 0 {
        out.info("Nothing to do. Try checking your model configs and model specification args");
    } else {
        out.info(&format!("Concurrency: {threads} threads (target='{}')", inv.config.target.name));
    }
    let run_hooks_enabled = which != "compile";
    if run_hooks_enabled && runnable > 0 {
        if let Err(d) = run_hooks(&inv, &rt, &inv.config.root.on_run_start, None) {
            return fail(&inv, d);
        }
    }
    let t = crate::timing::phase("on-run-start hooks", started);
    let executed = crate::run::execute(&rt, &plan, &opts);
    crate::timing::phase("nodes", t);
    let results = executed.results;
    let mut hook_error = None;
    if run_hooks_enabled && runnable > 0 {
        if let Err(d) = run_hooks(&inv, &rt, &inv.config.root.on_run_end, Some(&results)) {
            hook_error = Some(d);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Artifacts: manifest.json and run_results.json are written side by side
    // (on the 1,000-model build about 20 and 30 ms, with nothing else left
    // to run).
    let mut args = serde_json::Map::new();
    args.insert("which".into(), which.into());
    args.insert("select".into(), serde_json::json!(sel.select));
    args.insert("exclude".into(), serde_json::json!(sel.exclude));
    args.insert("full_refresh".into(), run.full_refresh.into());
    args.insert("threads".into(), threads.into());
    let rr = RunResults { invocation_id: inv.invocation_id.clone(), generated_at: chrono::Utc::now(), elapsed_time: elapsed, args, results };
    std::thread::scope(|s| {
        s.spawn(|| inv.write_manifest(&executed.compiled));
        let t = Instant::now();
        let json = crate::artifacts::run_results_json(&rr, &inv.meta().generated_now(chrono::Utc::now()));
        let _ = crate::artifacts::write_json_atomic(&inv.config.target_dir().join("run_results.json"), &json);
        crate::timing::phase("run_results.json", t);
    });
    let results = rr.results;
    let t = Instant::now();

    print_summary(&inv, &results, elapsed, which);
    crate::timing::phase("summary", t);
    if let Some(d) = hook_error {
        out.diagnostic(&d);
        return EXIT_ERROR;
    }
    if which == "compile" && results.len() == 1 {
        if let Some(code) = &results[0].compiled_code {
            println!("{code}");
        }
    }
    let bad_input = rt.bad_input.lock().map(|v| !v.is_empty()).unwrap_or(false);
    let code = if bad_input {
        EXIT_ERROR
    } else if results.iter().any(|r| r.status.is_failure()) {
        EXIT_FAILURE
    } else {
        EXIT_OK
    };
    // The process exits next without closing the engine (freeing the
    // manifest and environment is skipped): write the committed changes
    // into the database file, as closing would.
    let t = Instant::now();
    if let Err(e) = rt.adapter.checkpoint() {
        out.diagnostic(&Diagnostic::warning("checkpoint", format!("could not checkpoint the database: {}", e.message)));
    }
    crate::timing::phase("checkpoint", t);
    std::mem::forget(rt);
    std::mem::forget(inv);
    code
}

fn print_summary(inv: &Invocation, results: &[RunResult], elapsed: f64, which: &str) {
    let out = &inv.output;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for r in results {
        if let Some(n) = inv.manifest.nodes.get(&r.unique_id) {
            let k = match n.resource_type {
                ResourceType::Model => format!("{} model", n.config.materialized()),
                ResourceType::Test => "data test".to_string(),
                other => other.as_str().to_string(),
            };
            *kinds.entry(k).or_insert(0) += 1;
        }
    }
    let parts: Vec<String> = kinds.iter().map(|(k, n)| plural(*n, k)).collect();
    if which == "compile" {
        return;
    }
    out.info("");
    out.info(&format!(
        "Finished running {} in {} hours {} minutes and {:.2} seconds ({elapsed:.2}s).",
        parts.join(", "),
        (elapsed / 3600.0) as u64,
        ((elapsed % 3600.0) / 60.0) as u64,
        elapsed % 60.0
    ));
    let errors: Vec<&RunResult> = results.iter().filter(|r| r.status.is_failure()).collect();
    let warns: Vec<&RunResult> = results.iter().filter(|r| r.status == RunStatus::Warn).collect();
    out.info("");
    if errors.is_empty() && warns.is_empty() {
        out.info("Completed successfully");
    } else {
        out.info(&format!("Completed with {} and {}:", plural(errors.len(), "error"), plural(warns.len(), "warning")));
        for r in errors.iter().chain(warns.iter()) {
            if let Some(n) = inv.manifest.nodes.get(&r.unique_id) {
                out.info("");
                let kind = if r.status == RunStatus::Warn { "Warning" } else { "Failure" };
                out.info(&format!("{kind} in {} {} ({})", n.resource_type.as_str(), n.name, n.original_file_path));
                if let Some(m) = &r.message {
                    out.info(&format!("  {m}"));
                }
            }
        }
    }
    let c = crate::run::status_counts(results);
    let get = |k: &str| c.get(k).copied().unwrap_or(0);
    out.info("");
    out.info(&format!("Done. PASS={} WARN={} ERROR={} SKIP={} NO-OP=0 TOTAL={}", get("PASS"), get("WARN"), get("ERROR"), get("SKIP"), results.len()));
}

fn parse(common: &Common) -> i32 {
    let t0 = Instant::now();
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    inv.write_manifest(&BTreeMap::new());
    inv.output.info(&found_line(&inv));
    inv.output.info(&format!("Parsed {} nodes in {:.3}s (total {:.3}s); wrote {}", inv.manifest.nodes.len(), inv.parse_seconds, t0.elapsed().as_secs_f64(), inv.config.target_dir().join("manifest.json").display()));
    // The process exits next: skip freeing the manifest and environment.
    std::mem::forget(inv);
    EXIT_OK
}

fn ls(common: &Common, sel: &Selection, output: &str) -> i32 {
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let ids = match inv.select(sel, vec![]) {
        Ok(p) => p,
        Err(d) => return fail(&inv, d),
    };
    let mut lines: Vec<String> = Vec::new();
    for id in &ids {
        let line = if let Some(n) = inv.manifest.nodes.get(id) {
            match output {
                "name" => n.name.clone(),
                "path" => n.original_file_path.clone(),
                "json" => serde_json::json!({"name": n.name, "resource_type": n.resource_type.as_str(), "package_name": n.package_name, "original_file_path": n.original_file_path, "unique_id": n.unique_id, "alias": n.alias, "config": n.config, "tags": n.tags, "depends_on": n.depends_on}).to_string(),
                _ => n.fqn.join("."),
            }
        } else if let Some(s) = inv.manifest.sources.get(id) {
            match output {
                "name" => format!("{}.{}", s.source_name, s.name),
                "path" => s.original_file_path.clone(),
                "json" => serde_json::json!({"name": s.name, "source_name": s.source_name, "resource_type": "source", "unique_id": s.unique_id}).to_string(),
                _ => format!("source:{}", s.fqn.join(".")),
            }
        } else if let Some(e) = inv.manifest.exposures.get(id) {
            match output {
                "name" => e.name.clone(),
                "path" => e.original_file_path.clone(),
                "json" => serde_json::json!({"name": e.name, "resource_type": "exposure", "unique_id": e.unique_id}).to_string(),
                _ => format!("exposure:{}", e.fqn.join(".")),
            }
        } else {
            continue;
        };
        lines.push(line);
    }
    if output != "json" {
        lines.sort();
    }
    for l in lines {
        println!("{l}");
    }
    EXIT_OK
}

fn show(common: &Common, sel: &Selection, inline: Option<&str>, limit: i64) -> i32 {
    if let Some(sql) = inline {
        return show_or_compile_inline(common, sql, Some(limit));
    }
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let plan = match inv.select(sel, vec![ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot, ResourceType::Test, ResourceType::Analysis]) {
        Ok(p) => p,
        Err(d) => return fail(&inv, d),
    };
    let Some(id) = plan.iter().find(|id| !id.starts_with("test.")).or(plan.first()).cloned() else {
        return fail(&inv, Diagnostic::error("selection", "`show` needs --select naming one node, or --inline SQL"));
    };
    let node = &inv.manifest.nodes[&id];
    let adapter = match inv.open_adapter() {
        Ok(a) => a,
        Err(d) => return fail(&inv, d),
    };
    let compiler = inv.compiler("show", Some(adapter.clone()), &plan);
    let sql = if node.resource_type == ResourceType::Seed {
        format!("select * from {}", crate::compile::Compiler::relation_of(node))
    } else {
        match compiler.compile(node, false, None) {
            Ok(c) => c.compiled_sql,
            Err(d) => return fail(&inv, d),
        }
    };
    print_query(&inv, adapter.as_ref(), &sql, limit, &format!("Previewing node '{}':", node.name))
}

fn show_or_compile_inline(common: &Common, sql: &str, limit: Option<i64>) -> i32 {
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let adapter = match inv.open_adapter() {
        Ok(a) => a,
        Err(d) => return fail(&inv, d),
    };
    let compiler = inv.compiler(if limit.is_some() { "show" } else { "compile" }, Some(adapter.clone()), &[]);
    let compiled = match compiler.render_inline(sql, None) {
        Ok(c) => c,
        Err(d) => return fail(&inv, d),
    };
    match limit {
        Some(l) => print_query(&inv, adapter.as_ref(), &compiled.compiled_sql, l, "Previewing inline node:"),
        None => {
            println!("{}", compiled.compiled_sql);
            EXIT_OK
        }
    }
}

fn print_query(inv: &Invocation, adapter: &dyn crate::adapter::Adapter, sql: &str, limit: i64, title: &str) -> i32 {
    let mut conn = match adapter.connect() {
        Ok(c) => c,
        Err(e) => return fail(inv, Diagnostic::error("connection", e.message)),
    };
    let wrapped = if limit >= 0 { conn.limit_sql(sql, limit as u64) } else { sql.to_string() };
    let result = match conn.query(&wrapped) {
        Ok(r) => r,
        Err(e) => return fail(inv, Diagnostic::error("database", format!("Database Error: {}", e.message))),
    };
    if inv.output.format == LogFormat::Json {
        let rows: Vec<serde_json::Value> = result
            .rows
            .iter()
            .map(|r| serde_json::Value::Object(result.columns.iter().zip(r).map(|(c, v)| (c.name.clone(), v.clone())).collect()))
            .collect();
        println!("{}", serde_json::json!({"show": rows}));
        return EXIT_OK;
    }
    inv.output.info(title);
    println!("{}", render_table(&result));
    EXIT_OK
}

/// A plain-text table of query results.
pub fn render_table(r: &crate::adapter::QueryResult) -> String {
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut widths: Vec<usize> = r.columns.iter().map(|c| c.name.chars().count()).collect();
    for row in &r.rows {
        for (i, v) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell(v).chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("| {} |", parts.join(" | "))
    };
    let mut out = vec![line(r.columns.iter().map(|c| c.name.clone()).collect())];
    out.push(format!("| {} |", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join(" | ")));
    for row in &r.rows {
        out.push(line(row.iter().map(cell).collect()));
    }
    out.join("\n")
}

fn run_operation(common: &Common, macro_name: &str, args: Option<&str>) -> i32 {
    let inv = match load(common, None) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let kwargs = match args.map(|a| serde_yaml::from_str::<serde_yaml::Value>(a)) {
        None => serde_json::Map::new(),
        Some(Ok(v)) => match crate::config::yaml::to_json(v) {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => serde_json::Map::new(),
            other => return fail(&inv, Diagnostic::error("args", format!("--args must be a YAML mapping, got {other}"))),
        },
        Some(Err(e)) => return fail(&inv, Diagnostic::error("args", format!("--args is not valid YAML: {e}"))),
    };
    let root = inv.config.root.name.clone();
    let def = match macro_name.split_once('.') {
        Some((pkg, name)) => inv.jinja.macros.get(pkg, name),
        None => inv.jinja.macros.resolve(&root, macro_name),
    }
    .cloned();
    let Some(def) = def else {
        return fail(&inv, Diagnostic::error("run-operation", format!("no macro named '{macro_name}' in the project or its packages")));
    };
    let (adapter, conn) = match open_connection(&inv) {
        Ok((a, c)) => (a, Arc::new(std::sync::Mutex::new(c))),
        Err(code) => return code,
    };
    let compiler = inv.compiler("run-operation", Some(adapter.clone()), &[]);
    let mut ctx = crate::jinja::NodeCtx::new(compiler.globals.clone(), inv.jinja.macros.clone(), crate::jinja::Phase::Execute, &root);
    ctx.conn = Some(conn);
    let ctx = Arc::new(ctx);
    let pairs: Vec<(String, minijinja::Value)> = kwargs.iter().map(|(k, v)| (k.clone(), crate::jinja::jv(v))).collect();
    let call_args = if pairs.is_empty() { vec![] } else { vec![minijinja::Value::from(minijinja::value::Kwargs::from_iter(pairs))] };
    match inv.jinja.call_macro(&def, &ctx, &call_args) {
        Ok(_) => {
            inv.output.info(&format!("Ran operation {macro_name}"));
            EXIT_OK
        }
        Err(e) => {
            let d = crate::jinja::render_error_to_diagnostic(&e, &inv.jinja.macros, &def.file, def.offset, "run-operation");
            inv.output.diagnostic(&d);
            EXIT_FAILURE
        }
    }
}

fn debug(common: &Common) -> i32 {
    let flags = common.flags(None);
    println!("rdbt version: {} (dbt-compatible {})", env!("CARGO_PKG_VERSION"), crate::jinja::builtins::DBT_VERSION);
    let config = match crate::config::load(&flags) {
        Ok(c) => c,
        Err(d) => {
            println!("Configuration:  ERROR");
            return report(&d, flags.project_dir.as_deref(), common.log_format());
        }
    };
    println!("Configuration:");
    println!("  dbt_project.yml file [OK found and valid] {}", config.root.file.display());
    println!("  profiles.yml file [OK found and valid] {}", crate::config::profiles_dir(&flags, &config.root.root).join("profiles.yml").display());
    println!("Required dependencies:");
    println!("  - {} (embedded) [OK]", config.target.adapter_type);
    println!("Connection:");
    println!("  type: {}", config.target.adapter_type);
    println!("  path: {}", config.target.path);
    println!("  database: {}", config.target.database);
    println!("  schema: {}", config.target.schema);
    println!("  threads: {}", config.threads());
    match crate::adapter::open(&config.target) {
        Ok(a) => match a.connect().and_then(|mut c| c.query("select 1")) {
            Ok(_) => {
                println!("  Connection test: [OK connection ok]");
                println!("All checks passed!");
                EXIT_OK
            }
            Err(e) => {
                println!("  Connection test: [ERROR] {}", crate::diag::scrub_secrets(&e.message));
                EXIT_FAILURE
            }
        },
        Err(e) => {
            println!("  Connection test: [ERROR] {}", crate::diag::scrub_secrets(&e.message));
            EXIT_FAILURE
        }
    }
}

fn clean(common: &Common) -> i32 {
    let flags = common.flags(None);
    let dir = flags.project_dir.clone().unwrap_or_else(|| std::path::PathBuf::from("."));
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let project = match crate::config::load_project(&dir, &serde_json::Map::new()) {
        Ok(p) => p,
        Err(d) => return report(&d, Some(&dir), common.log_format()),
    };
    for t in &project.clean_targets {
        let path = dir.join(t);
        // Never delete outside the project.
        let inside = std::fs::canonicalize(&path).map(|p| p.starts_with(&dir) && p != dir).unwrap_or(false);
        if !inside {
            if path.exists() {
                eprintln!("refusing to clean {}: not inside the project", path.display());
            }
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => println!("Cleaned {}", path.display()),
            Err(e) => eprintln!("could not clean {}: {e}", path.display()),
        }
    }
    println!("Finished cleaning all paths.");
    EXIT_OK
}

fn deps(common: &Common, lock_only: bool, upgrade: bool) -> i32 {
    let flags = common.flags(None);
    let dir = flags.project_dir.clone().unwrap_or_else(|| std::path::PathBuf::from("."));
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let cli_vars = match crate::config::parse_cli_vars(flags.vars.as_deref()) {
        Ok(v) => v,
        Err(d) => return report(&d.into(), Some(&dir), common.log_format()),
    };
    let project = match crate::config::load_project(&dir, &cli_vars) {
        Ok(p) => p,
        Err(d) => return report(&d, Some(&dir), common.log_format()),
    };
    let opts = crate::deps::Options { lock_only, upgrade, no_version_check: flags.no_version_check };
    let mut log = |line: String| println!("{}", crate::diag::scrub_secrets(&line));
    match crate::deps::deps(&project, &cli_vars, &opts, &mut log) {
        Ok(_) => EXIT_OK,
        Err(d) => report(&d, Some(&dir), common.log_format()),
    }
}
