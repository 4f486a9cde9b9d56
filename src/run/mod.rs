//! The scheduler: runs a plan on `--threads` workers, each with its own
//! connection. A node starts when its parents in the plan are done and a
//! worker is free (`SchedulingOrder` picks among the ready ones); a node
//! whose parent failed (or, in `build`, whose parent's tests failed) is
//! skipped. A data test that only reads takes along the next such tests in
//! line, and their failing rows are counted in one query. Once the last
//! node that writes has finished, the database file is written
//! (checkpointed) while the remaining data tests run. Prints dbt-style
//! progress lines.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use serde_json::{Map, Value};

use crate::adapter::{Adapter, Connection};
use crate::compile::{CompiledNode, Compiler};
use crate::diag::Diagnostic;
use crate::artifacts::NodeRunInfo;
use crate::manifest::{Manifest, Node, ResourceType};
use crate::materialize::{MaterializeError, MaterializeRequest, materialize};

pub mod freshness;
pub mod output;
pub mod results;

use output::Output;
use results::{RunResult, RunStatus, TimingInfo};

/// How nodes are run in this invocation.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub which: String,
    pub threads: usize,
    pub fail_fast: bool,
    pub full_refresh: bool,
    /// Only compile (rdbt compile): no materialization.
    pub compile_only: bool,
    /// `build`: children wait for their parents' tests.
    pub tests_gate_children: bool,
    /// `--record-ingest` / `--replay-ingest`, and the project directory.
    pub ingest: crate::ingest::node::IngestRunOptions,
}

/// Everything a worker needs.
pub struct Runtime {
    pub manifest: Arc<Manifest>,
    pub compiler: Arc<Compiler>,
    pub adapter: Arc<dyn Adapter>,
    pub target_dir: std::path::PathBuf,
    pub output: Arc<Output>,
    /// Nodes that failed on malformed input (an API response, ML data that
    /// does not fit the declaration): the command exits 2 for them, as for
    /// any other bad input, rather than 1.
    pub bad_input: Mutex<Vec<String>>,
}

impl Runtime {
    fn record_bad_input(&self, d: &Diagnostic, node: &Node) {
        let bad = matches!(d.code, "ml-spec" | "ml-data" | "ml-model" | "ingest-input");
        if bad {
            if let Ok(mut v) = self.bad_input.lock() {
                v.push(node.unique_id.clone());
            }
        }
    }
}

/// What a worker runs next: one node, or several data tests that can be
/// counted in one query (`run_tests_together`).
struct Task {
    unique_ids: Vec<String>,
}

struct Done {
    result: RunResult,
    compiled: Option<CompiledNode>,
    /// What manifest.json records (files written by the worker).
    info: Option<NodeRunInfo>,
}

/// Parents of each planned node within the plan, looking through ephemeral
/// models (which are not run) to their own parents.
fn plan_dependencies(manifest: &Manifest, plan: &[String], tests_gate_children: bool) -> HashMap<String, Vec<String>> {
    let in_plan: HashSet<&str> = plan.iter().map(String::as_str).collect();
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    let mut single_parent_tests: HashMap<&str, Vec<&str>> = HashMap::new();
    if tests_gate_children {
        for id in plan {
            if let Some(n) = manifest.nodes.get(id) {
                if n.resource_type == ResourceType::Test && n.depends_on.nodes.len() == 1 {
                    single_parent_tests.entry(n.depends_on.nodes[0].as_str()).or_default().push(id);
                }
            }
        }
    }
    for id in plan {
        let mut out: Vec<String> = Vec::new();
        let mut stack: Vec<&str> = manifest.depends_on(id).iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            // Ephemeral models are not run and sources are not nodes: look
            // through both (a source's parent is the ingest that loads it).
            match manifest.nodes.get(p) {
                Some(n) if n.is_ephemeral() => stack.extend(n.depends_on.nodes.iter().map(String::as_str)),
                None if manifest.sources.contains_key(p) => stack.extend(manifest.depends_on(p).iter().map(String::as_str)),
                _ if in_plan.contains(p) => {
                    out.push(p.to_string());
                    let is_test = manifest.nodes.get(id.as_str()).is_some_and(|n| n.resource_type == ResourceType::Test);
                    if !is_test {
                        for t in single_parent_tests.get(p).into_iter().flatten() {
                            out.push(t.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        deps.insert(id.clone(), out);
    }
    deps
}

/// What one invocation did: a result per executed node (completion order)
/// and, per compiled node, what manifest.json records about it.
pub struct Executed {
    pub results: Vec<RunResult>,
    pub compiled: BTreeMap<String, NodeRunInfo>,
}

/// Runs `plan` (unique ids in topological order). Ephemeral models in the
/// plan are compiled (written to target/compiled) but not run.
pub fn execute(rt: &Runtime, plan: &[String], opts: &RunOptions) -> Executed {
    let compiled_info = Mutex::new(BTreeMap::new());
    let results = execute_nodes(rt, plan, opts, &compiled_info);
    for id in plan {
        let Some(node) = rt.manifest.nodes.get(id).filter(|n| n.is_ephemeral()) else { continue };
        match rt.compiler.compile_ephemeral(id, None) {
            Ok(c) => {
                let sql = crate::compile::inject_ctes(&c.compiled_sql, &c.extra_ctes);
                let full = CompiledNode { compiled_sql: sql, ..(*c).clone() };
                let info = write_sql(rt, node, &full, &RunOptions { compile_only: true, ..opts.clone() }, None);
                if let Ok(mut m) = compiled_info.lock() {
                    m.insert(id.clone(), info);
                }
            }
            Err(d) => rt.output.diagnostic(&d),
        }
    }
    Executed { results, compiled: compiled_info.into_inner().unwrap_or_default() }
}

/// The order in which ready nodes start. Nodes that write to the database,
/// and nodes that lead to one, come first; nodes that only read and lead to
/// no write (the data tests of the last models) come last, so that the
/// writes end early and the database file can be written while those
/// tests run. Within each group, plan order.
struct SchedulingOrder<'a> {
    key: HashMap<&'a str, (u8, usize)>,
    writer: HashSet<&'a str>,
}

impl<'a> SchedulingOrder<'a> {
    fn new(manifest: &Manifest, plan: &'a [String], deps: &HashMap<String, Vec<String>>, children: &HashMap<&'a str, Vec<&'a str>>) -> Self {
        let writer: HashSet<&str> = plan.iter().map(String::as_str).filter(|id| manifest.nodes.get(*id).is_none_or(|n| !only_reads(n))).collect();
        // Parents before children (Kahn), then children first: a node leads
        // to a write when one of its children writes or leads to one.
        let mut waiting: HashMap<&str, usize> = plan.iter().map(|id| (id.as_str(), deps[id].len())).collect();
        let mut topo: Vec<&str> = plan.iter().map(String::as_str).filter(|id| waiting[id] == 0).collect();
        let mut i = 0;
        while i < topo.len() {
            for &c in children.get(topo[i]).into_iter().flatten() {
                if let Some(w) = waiting.get_mut(c) {
                    *w -= 1;
                    if *w == 0 {
                        topo.push(c);
                    }
                }
            }
            i += 1;
        }
        let mut leads_to_write: HashSet<&str> = HashSet::new();
        for &id in topo.iter().rev() {
            if children.get(id).into_iter().flatten().any(|c| writer.contains(c) || leads_to_write.contains(c)) {
                leads_to_write.insert(id);
            }
        }
        let key = plan
            .iter()
            .enumerate()
            .map(|(pos, id)| {
                let late = !writer.contains(id.as_str()) && !leads_to_write.contains(id.as_str());
                (id.as_str(), (u8::from(late), pos))
            })
            .collect();
        SchedulingOrder { key, writer }
    }

    /// How many planned nodes write.
    fn writers(&self) -> usize {
        self.writer.len()
    }

    fn key(&self, id: &str) -> (u8, usize) {
        self.key[id]
    }

    fn writes(&self, id: &str) -> bool {
        self.writer.contains(id)
    }
}

/// Whether running `node` only reads the database: a data test that does
/// not store its failures, or an analysis, without hooks. Misjudging a node
/// costs time, not correctness: a write beside the checkpoint either makes
/// it give up (rdbt checkpoints again at the end) or waits for it.
fn only_reads(node: &Node) -> bool {
    let cfg = &node.config;
    let reads = match node.resource_type {
        // An invalid `store_failures_as` fails the test before it writes;
        // counted as writing all the same.
        ResourceType::Test => crate::materialize::data_test::stored_failures(cfg) == Ok(None),
        ResourceType::Analysis => true,
        _ => false,
    };
    reads && cfg.hooks("pre-hook").is_empty() && cfg.hooks("post-hook").is_empty()
}

/// Each planned node's children within the plan (the inverse of `deps`).
fn children_of<'a>(plan: &'a [String], deps: &'a HashMap<String, Vec<String>>) -> HashMap<&'a str, Vec<&'a str>> {
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for id in plan {
        for d in &deps[id] {
            children.entry(d.as_str()).or_default().push(id.as_str());
        }
    }
    children
}

/// The early checkpoint's tries, and the pause between them: 20 ms in all,
/// many times a data test's duration.
const EARLY_CHECKPOINT_ATTEMPTS: usize = 10;
const EARLY_CHECKPOINT_RETRY: std::time::Duration = std::time::Duration::from_millis(2);

/// Checkpoints, trying again after `pause` while the engine refuses, at most
/// `attempts` times in all; whether it was written. DuckDB keeps a committed
/// write's checkpoint lock until every transaction that began before the
/// commit has ended, so right after the last write of a build it may refuse
/// (about one build in ten of the benchmark's) while a data test that began
/// earlier still runs. Such tests take milliseconds. A checkpoint still
/// refused is left to the closing one, which then writes everything.
fn checkpoint_retrying(adapter: &dyn Adapter, attempts: usize, pause: std::time::Duration) -> bool {
    for attempt in 0..attempts {
        if attempt > 0 {
            std::thread::sleep(pause);
        }
        if adapter.checkpoint().is_ok() {
            return true;
        }
    }
    false
}

fn execute_nodes(rt: &Runtime, plan: &[String], opts: &RunOptions, compiled_info: &Mutex<BTreeMap<String, NodeRunInfo>>) -> Vec<RunResult> {
    let plan: Vec<String> = plan.iter().filter(|id| rt.manifest.nodes.get(*id).is_some_and(|n| !n.is_ephemeral())).cloned().collect();
    let total = plan.len();
    if total == 0 {
        return vec![];
    }
    let deps = plan_dependencies(&rt.manifest, &plan, opts.tests_gate_children);
    // dbt numbers nodes in the order they start.
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut next_index = 0usize;
    let mut remaining: HashMap<&str, usize> = plan.iter().map(|id| (id.as_str(), deps[id].len())).collect();
    let children = children_of(&plan, &deps);
    let order = SchedulingOrder::new(&rt.manifest, &plan, &deps, &children);
    let mut writers_left = order.writers();

    let (task_tx, task_rx) = crossbeam_channel::unbounded::<Task>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Vec<Done>>();
    let threads = opts.threads.max(1).min(total);
    let mut results: Vec<RunResult> = Vec::with_capacity(total);
    // The engine's own thread pool is sized to the nodes running at once
    // (`Adapter::engine_threads`), by a thread of its own: shrinking
    // DuckDB's pool waits for its workers' current tasks, and the scheduler
    // must not wait on that.
    let size_pool = threads > 1 && rt.adapter.engine_threads(1).is_some();
    let (pool_tx, pool_rx) = crossbeam_channel::unbounded::<usize>();

    std::thread::scope(|scope| {
        if size_pool {
            scope.spawn(move || size_engine_pool(rt, &pool_rx));
        }
        for t in 0..threads {
            let task_rx = task_rx.clone();
            let done_tx = done_tx.clone();
            let thread_id = format!("Thread-{} (worker)", t + 1);
            scope.spawn(move || {
                let conn: Result<crate::jinja::objects::SharedConnection, String> =
                    rt.adapter.connect().map(|c| Arc::new(Mutex::new(c))).map_err(|e| e.message);
                while let Ok(task) = task_rx.recv() {
                    let mut done = match &conn {
                        Ok(c) if task.unique_ids.len() > 1 => run_tests_together(rt, &task.unique_ids, c, &thread_id, opts),
                        Ok(c) => task.unique_ids.iter().map(|id| run_node(rt, id, c, &thread_id, opts)).collect(),
                        Err(e) => task.unique_ids.iter().map(|id| failed(id, &thread_id, format!("could not open a connection: {e}"))).collect(),
                    };
                    // compiled/ and run/ files are written here, in parallel.
                    if let Ok(shared) = &conn {
                        let guard = shared.lock().ok();
                        let ddl: Option<&dyn Connection> = guard.as_ref().map(|g| g.as_ref() as &dyn Connection);
                        for d in &mut done {
                            if let Some(c) = &d.compiled {
                                let node = &rt.manifest.nodes[&d.result.unique_id];
                                d.info = Some(write_sql(rt, node, c, opts, ddl));
                            }
                        }
                    }
                    if done_tx.send(done).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);

        let mut queued: HashSet<&str> = HashSet::new();
        let mut blocked: HashSet<&str> = HashSet::new();
        let mut in_flight = 0usize;
        let mut stop = false;
        // Nodes whose parents are done, waiting for a free worker; the
        // first in `SchedulingOrder` goes first.
        let mut ready: BinaryHeap<Reverse<(u8, usize)>> = BinaryHeap::new();
        // By plan position: data tests that may share a query (their config
        // is checked again once compiled). Such a test only reads, so it is
        // never one of `order`'s writers.
        let shares_query: Vec<bool> = plan
            .iter()
            .map(|id| {
                // Under --fail-fast every test starts alone, so that none
                // runs after the first failure.
                !opts.compile_only
                    && !opts.fail_fast
                    && rt.manifest.nodes.get(id).is_some_and(|n| n.resource_type == ResourceType::Test && crate::materialize::data_test::can_share_query(&n.config))
            })
            .collect();
        // A data test that can share a query with others (see
        // `run_tests_together`) takes along the next such tests in line of
        // its own group in `SchedulingOrder` (a test that leads to a write
        // does not wait for the tests of the last models), at most
        // MAX_TESTS_PER_QUERY, and when other workers are free, only its
        // share. Nodes passed over keep their place.
        let dispatch = |ready: &mut BinaryHeap<Reverse<(u8, usize)>>, limit: usize, in_flight: &mut usize, next_index: &mut usize, index_of: &mut HashMap<_, usize>| {
            while *in_flight < limit {
                let Some(Reverse((group, pos))) = ready.pop() else { break };
                let mut positions = vec![pos];
                if shares_query[pos] {
                    let free = limit - *in_flight;
                    let most = crate::materialize::data_test::MAX_TESTS_PER_QUERY;
                    let take = if free == 1 {
                        most
                    } else {
                        let waiting = 1 + ready.iter().filter(|Reverse((g, p))| *g == group && shares_query[*p]).count();
                        waiting.div_ceil(free).min(most)
                    };
                    let mut passed_over = vec![];
                    while positions.len() < take {
                        let Some(Reverse(key)) = ready.pop() else { break };
                        if key.0 != group {
                            passed_over.push(Reverse(key));
                            break;
                        }
                        if shares_query[key.1] {
                            positions.push(key.1);
                        } else {
                            passed_over.push(Reverse(key));
                        }
                    }
                    ready.extend(passed_over);
                }
                let mut unique_ids = Vec::with_capacity(positions.len());
                for pos in positions {
                    let id = plan[pos].as_str();
                    *next_index += 1;
                    index_of.insert(id, *next_index);
                    rt.output.start(*next_index, total, &rt.manifest.nodes[id]);
                    unique_ids.push(id.to_string());
                }
                *in_flight += 1;
                let _ = task_tx.send(Task { unique_ids });
            }
        };
        // A node that will not run, because a parent failed or was skipped:
        // numbered and reported now, as it would have been when it ran.
        let skip_now = |id, next_index: &mut usize, index_of: &mut HashMap<_, usize>, results: &mut Vec<RunResult>, writers_left: &mut usize| {
            *next_index += 1;
            index_of.insert(id, *next_index);
            let skipped = skip_result(id, &deps[id], results);
            rt.output.finish(*next_index, total, &rt.manifest.nodes[id], &skipped);
            *writers_left -= usize::from(order.writes(id));
            results.push(skipped);
        };
        for id in &plan {
            if remaining[id.as_str()] == 0 {
                queued.insert(id.as_str());
                ready.push(Reverse(order.key(id)));
            }
        }
        dispatch(&mut ready, threads, &mut in_flight, &mut next_index, &mut index_of);
        let mut reported_running = 0usize;
        // The early checkpoint (below): started, and still running.
        let (checkpointed_tx, checkpointed_rx) = crossbeam_channel::bounded::<()>(1);
        let mut checkpoint_started = false;
        let mut checkpointing = false;
        // While it runs, it has a core to itself: reading nodes share the rest.
        let cores = rt.adapter.engine_threads(0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let limit_while_checkpointing = cores.saturating_sub(1).clamp(1, threads);
        while in_flight > 0 {
            // While more than one node runs, every worker counts as busy:
            // the pool is resized only when a run turns parallel (the node
            // before it has finished, so the pool is idle) and when it turns
            // serial again, not at every step in between. The early
            // checkpoint counts as a node.
            let active = in_flight + usize::from(checkpointing);
            let running = if active > 1 { threads } else { active };
            if size_pool && running != reported_running {
                reported_running = running;
                let _ = pool_tx.send(running);
            }
            let done = if checkpointing {
                crossbeam_channel::select! {
                    recv(done_rx) -> d => d,
                    recv(checkpointed_rx) -> _ => {
                        checkpointing = false;
                        if !stop {
                            dispatch(&mut ready, threads, &mut in_flight, &mut next_index, &mut index_of);
                        }
                        continue;
                    }
                }
            } else {
                done_rx.recv()
            };
            let Ok(done) = done else { break };
            in_flight -= 1;
            for done in done {
                let id = done.result.unique_id.clone();
                let node = &rt.manifest.nodes[&id];
                rt.output.finish(index_of[id.as_str()], total, node, &done.result);
                if let Some(info) = done.info {
                    if let Ok(mut m) = compiled_info.lock() {
                        m.insert(id.clone(), info);
                    }
                }
                let ok = !matches!(done.result.status, RunStatus::Error | RunStatus::Fail | RunStatus::Skipped);
                if done.result.status.is_failure() && opts.fail_fast {
                    stop = true;
                }
                writers_left -= usize::from(order.writes(&id));
                results.push(done.result);
                let kids: Vec<&str> = children.get(id.as_str()).cloned().unwrap_or_default();
                for k in kids {
                    if !ok {
                        blocked.insert(k);
                    }
                    if let Some(r) = remaining.get_mut(k) {
                        *r -= 1;
                        if *r == 0 && !stop && !queued.contains(k) {
                            queued.insert(k);
                            if blocked.contains(k) {
                                // Skip now; its children are skipped in turn.
                                skip_now(k, &mut next_index, &mut index_of, &mut results, &mut writers_left);
                                let mut stack: Vec<&str> = children.get(k).cloned().unwrap_or_default();
                                while let Some(g) = stack.pop() {
                                    blocked.insert(g);
                                    if let Some(r) = remaining.get_mut(g) {
                                        *r -= 1;
                                        if *r == 0 && !queued.contains(g) {
                                            queued.insert(g);
                                            skip_now(g, &mut next_index, &mut index_of, &mut results, &mut writers_left);
                                            stack.extend(children.get(g).cloned().unwrap_or_default());
                                        }
                                    }
                                }
                            } else {
                                ready.push(Reverse(order.key(k)));
                            }
                        }
                    }
                }
            }
            // The last write is done and only reading nodes remain: write
            // the database file now, on a thread of its own, while they run,
            // rather than after them. The closing checkpoint then finds
            // nothing left to write.
            if writers_left == 0 && order.writers() > 0 && !opts.compile_only && !checkpoint_started && !stop && (in_flight > 0 || !ready.is_empty()) {
                checkpoint_started = true;
                checkpointing = true;
                let checkpointed_tx = checkpointed_tx.clone();
                scope.spawn(move || {
                    let t = Instant::now();
                    let written = checkpoint_retrying(rt.adapter.as_ref(), EARLY_CHECKPOINT_ATTEMPTS, EARLY_CHECKPOINT_RETRY);
                    crate::timing::phase(if written { "checkpoint while tests run" } else { "checkpoint while tests run: refused" }, t);
                    let _ = checkpointed_tx.send(());
                });
            }
            if !stop {
                let limit = if checkpointing { limit_while_checkpointing } else { threads };
                dispatch(&mut ready, limit, &mut in_flight, &mut next_index, &mut index_of);
            }
        }
        drop(task_tx);
        drop(pool_tx);
        // Anything never started (fail-fast) is reported as skipped.
        for id in &plan {
            if !results.iter().any(|r| &r.unique_id == id) {
                let mut s = skip_result(id, &deps[id], &results);
                if stop {
                    s.message = Some("Skipping due to fail_fast".into());
                }
                results.push(s);
            }
        }
    });
    results
}

/// Applies the engine's pool size for the newest number of running nodes
/// (older numbers still queued are stale and skipped) until the scheduler
/// hangs up, then gives the pool back its full size.
fn size_engine_pool(rt: &Runtime, running: &crossbeam_channel::Receiver<usize>) {
    let Ok(mut conn) = rt.adapter.connect() else { return };
    let full = rt.adapter.engine_threads(0);
    let mut applied = full;
    while let Ok(mut n) = running.recv() {
        while let Ok(newer) = running.try_recv() {
            n = newer;
        }
        let want = rt.adapter.engine_threads(n);
        if want != applied {
            let Some(w) = want else { break };
            if conn.set_engine_threads(w).is_err() {
                break;
            }
            applied = want;
        }
    }
    if applied != full
        && let Some(f) = full
    {
        let _ = conn.set_engine_threads(f);
    }
}

/// What an ingest or ML node's result is made of besides its outcome.
struct Finished<'a> {
    node: &'a Node,
    thread_id: &'a str,
    started: Instant,
    relation_name: Option<String>,
}

impl Finished<'_> {
    fn done(&self, status: RunStatus, message: Option<String>, adapter_response: Map<String, Value>, timing: Vec<TimingInfo>, compiled: Option<CompiledNode>) -> Done {
        Done {
            result: RunResult {
                unique_id: self.node.unique_id.clone(),
                status,
                timing,
                thread_id: self.thread_id.to_string(),
                execution_time: self.started.elapsed().as_secs_f64(),
                adapter_response,
                message,
                failures: None,
                compiled_code: compiled.as_ref().map(|c| c.compiled_sql.clone()),
                relation_name: self.relation_name.clone(),
            },
            compiled,
            info: None,
        }
    }
}

/// An ingest node: render its declaration, fetch and load (nothing becomes
/// visible unless the whole load commits). `compile` only validates it.
fn run_ingest(rt: &Runtime, node: &Node, conn: &crate::jinja::objects::SharedConnection, thread_id: &str, opts: &RunOptions) -> Done {
    use crate::ingest::node as ingest;
    let started = Instant::now();
    let t0 = Utc::now();
    let offset = node.span.map_or(0, |s| s.start);
    let spec = ingest::declaration(node)
        .and_then(|decl| ingest::render_strings(&decl, &mut |text| rt.compiler.render_text(&node.package_name, text, &node.file, offset, Some(conn.clone()))))
        .and_then(|rendered| ingest::spec_of(node, &rendered));
    let t1 = Utc::now();
    let mut timing = vec![TimingInfo { name: "compile".into(), started_at: t0, completed_at: t1 }];
    let run = Finished { node, thread_id, started, relation_name: None };
    let result = |status, message, resp, timing| run.done(status, message, resp, timing, None);
    let spec = match spec {
        Ok((spec, _warnings)) => spec,
        Err(d) => {
            rt.output.diagnostic(&d);
            return result(RunStatus::Error, Some(d.message), Map::new(), timing);
        }
    };
    if opts.compile_only {
        return result(RunStatus::Compiled, None, Map::new(), timing);
    }
    let outcome = match conn.lock() {
        Ok(mut c) => ingest::run(c.as_mut(), &spec, &node.database, &node.schema, &opts.ingest),
        Err(_) => Err(Diagnostic::error("ingest", "connection lock poisoned")),
    };
    timing.push(TimingInfo { name: "execute".into(), started_at: t1, completed_at: Utc::now() });
    match outcome {
        Ok(o) => {
            let mut resp = Map::new();
            resp.insert("_message".into(), Value::from(format!("INSERT {}", o.rows())));
            resp.insert("code".into(), Value::from("INSERT"));
            resp.insert("rows_affected".into(), Value::from(o.rows()));
            resp.insert("load_id".into(), Value::from(o.summary.load_id.clone()));
            resp.insert("requests".into(), Value::from(o.requests));
            let tables: Map<String, Value> = o.summary.tables.iter().map(|t| (t.table.clone(), Value::from(t.rows))).collect();
            resp.insert("tables".into(), Value::Object(tables));
            result(RunStatus::Success, Some(o.message()), resp, timing)
        }
        Err(d) => {
            rt.output.diagnostic(&d);
            rt.record_bad_input(&d, node);
            result(RunStatus::Error, Some(crate::diag::scrub_secrets(&d.message).into_owned()), Map::new(), timing)
        }
    }
}

/// An ML node: compile its input query like a model, then train or score
/// (`crate::ml::node`). Failed `error` checks fail the node and leave the
/// previous outputs; failed `warn` checks are printed.
fn run_ml(rt: &Runtime, node: &Node, conn: &crate::jinja::objects::SharedConnection, thread_id: &str, opts: &RunOptions) -> Done {
    let started = Instant::now();
    let t0 = Utc::now();
    let spec = crate::ml::spec::parse_spec(node.config.get("ml").unwrap_or(&Value::Null), "ml")
        .map_err(|e| Diagnostic::error("ml-spec", format!("ML node '{}': {e}", node.name)).at(&node.file, node.span.unwrap_or(crate::diag::Span::new(0, 0))));
    let compiled = spec.and_then(|spec| rt.compiler.compile(node, false, Some(conn.clone())).map(|c| (spec, c)));
    let t1 = Utc::now();
    let mut timing = vec![TimingInfo { name: "compile".into(), started_at: t0, completed_at: t1 }];
    let relation_name = node.relation_name(rt.manifest.quoting);
    let run = Finished { node, thread_id, started, relation_name };
    let done = |status, message, resp, timing, compiled| run.done(status, message, resp, timing, compiled);
    let (spec, compiled) = match compiled {
        Ok(x) => x,
        Err(d) => {
            rt.output.diagnostic(&d);
            return done(RunStatus::Error, Some(d.message), Map::new(), timing, None);
        }
    };
    if opts.compile_only {
        return done(RunStatus::Compiled, None, Map::new(), timing, Some(compiled));
    }
    let outcome = match conn.lock() {
        Ok(mut c) => crate::ml::node::run(c.as_mut(), &spec, &compiled.compiled_sql, &Compiler::relation_of(node), &rt.target_dir),
        Err(_) => Err(Diagnostic::error("ml", "connection lock poisoned")),
    };
    timing.push(TimingInfo { name: "execute".into(), started_at: t1, completed_at: Utc::now() });
    match outcome {
        Ok(o) => {
            for c in o.failed_checks(crate::ml::spec::CheckSeverity::Warn) {
                rt.output.warn(&format!("ML node '{}': check {} failed: {}", node.name, c.name, c.message));
            }
            let mut resp = Map::new();
            resp.insert("_message".into(), Value::from(o.message()));
            resp.insert("rows".into(), Value::from(o.rows));
            if let Some(m) = &o.metrics {
                resp.insert("metrics".into(), serde_json::json!({"r2": m.r2, "mse": m.mse, "rmse": m.rmse, "mae": m.mae, "n_test": m.n}));
            }
            resp.insert("checks".into(), serde_json::to_value(&o.checks).unwrap_or(Value::Null));
            resp.insert("files".into(), Value::from(o.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>()));
            let failed = o.failed_checks(crate::ml::spec::CheckSeverity::Error);
            if failed.is_empty() {
                done(RunStatus::Success, Some(o.message()), resp, timing, Some(compiled))
            } else {
                let why: Vec<String> = failed.iter().map(|c| format!("check {} failed: {}", c.name, c.message)).collect();
                let msg = format!("ML node '{}': {} (outputs left as they were)", node.name, why.join("; "));
                rt.output.diagnostic(&Diagnostic::error("ml-check", msg.clone()).at(&node.file, node.span.unwrap_or(crate::diag::Span::new(0, 0))));
                done(RunStatus::Error, Some(msg), resp, timing, Some(compiled))
            }
        }
        Err(d) => {
            rt.output.diagnostic(&d);
            rt.record_bad_input(&d, node);
            done(RunStatus::Error, Some(d.message), Map::new(), timing, Some(compiled))
        }
    }
}

fn skip_result(id: &str, deps: &[String], results: &[RunResult]) -> RunResult {
    let cause = deps.iter().find(|d| results.iter().any(|r| &r.unique_id == *d && !matches!(r.status, RunStatus::Success | RunStatus::Pass | RunStatus::Warn)));
    RunResult {
        unique_id: id.to_string(),
        status: RunStatus::Skipped,
        timing: vec![],
        thread_id: "main".into(),
        execution_time: 0.0,
        adapter_response: Map::new(),
        message: cause.map(|c| format!("Skipped because upstream '{c}' did not succeed")),
        failures: None,
        compiled_code: None,
        relation_name: None,
    }
}

fn failed(id: &str, thread: &str, message: String) -> Done {
    Done {
        result: RunResult {
            unique_id: id.to_string(),
            status: RunStatus::Error,
            timing: vec![],
            thread_id: thread.to_string(),
            execution_time: 0.0,
            adapter_response: Map::new(),
            message: Some(message),
            failures: None,
            compiled_code: None,
            relation_name: None,
        },
        compiled: None,
        info: None,
    }
}

fn run_node(rt: &Runtime, unique_id: &str, conn: &crate::jinja::objects::SharedConnection, thread_id: &str, opts: &RunOptions) -> Done {
    let node = &rt.manifest.nodes[unique_id];
    if node.resource_type == ResourceType::Ingest {
        return run_ingest(rt, node, conn, thread_id, opts);
    }
    if node.resource_type == ResourceType::Ml {
        return run_ml(rt, node, conn, thread_id, opts);
    }
    match prepare(rt, node, conn, thread_id, opts) {
        Ok(p) => execute_prepared(rt, p, conn, thread_id, opts),
        Err(done) => *done,
    }
}

/// A SQL node compiled and ready to run.
struct Prepared<'a> {
    /// With a test macro's own `config(...)` (fail_calc, warn_if, ...)
    /// applied, as dbt captures it into the test's config.
    node: std::borrow::Cow<'a, Node>,
    compiled: CompiledNode,
    relation: crate::adapter::Relation,
    is_incremental: bool,
    /// How long compiling took: part of the node's `execution_time`.
    compiling: std::time::Duration,
    timing: Vec<TimingInfo>,
}

impl Prepared<'_> {
    fn request(&self, opts: &RunOptions) -> MaterializeRequest<'_> {
        MaterializeRequest {
            node: &self.node,
            compiled_sql: &self.compiled.compiled_sql,
            relation: self.relation.clone(),
            full_refresh: opts.full_refresh,
            pre_hooks: self.compiled.pre_hooks.clone(),
            post_hooks: self.compiled.post_hooks.clone(),
        }
    }
}

/// Compiles a model, seed, snapshot, test or analysis; a compile error is
/// the node's finished result.
fn prepare<'a>(rt: &Runtime, node: &'a Node, conn: &crate::jinja::objects::SharedConnection, thread_id: &str, opts: &RunOptions) -> Result<Prepared<'a>, Box<Done>> {
    let started = Instant::now();
    let compile_start = Utc::now();
    let relation = Compiler::relation_of(node);
    // is_incremental(): an existing table, not a full refresh.
    let is_incremental = !opts.compile_only
        && node.config.materialized() == "incremental"
        // A model's `full_refresh` config, when set, wins over the flag (as in dbt).
        && !node.config.get_bool("full_refresh").unwrap_or(opts.full_refresh)
        && conn.lock().ok().and_then(|mut c| c.relation_kind(&relation).ok().flatten()) == Some(crate::adapter::RelationKind::Table);
    let compiled = if node.resource_type == ResourceType::Seed {
        Ok(CompiledNode {
            unique_id: node.unique_id.clone(),
            compiled_sql: String::new(),
            extra_ctes: vec![],
            pre_hooks: vec![],
            post_hooks: vec![],
            config: Default::default(),
        })
            .and_then(|mut c| {
                let full = rt.compiler.compile(node, false, Some(conn.clone()))?;
                c.pre_hooks = full.pre_hooks;
                c.post_hooks = full.post_hooks;
                Ok::<_, Diagnostic>(c)
            })
    } else {
        rt.compiler.compile(node, is_incremental, Some(conn.clone()))
    };
    let compile_end = Utc::now();
    let timing = vec![TimingInfo { name: "compile".into(), started_at: compile_start, completed_at: compile_end }];
    let compiled = match compiled {
        Ok(c) => c,
        Err(d) => {
            rt.output.diagnostic(&d);
            let mut done = failed(&node.unique_id, thread_id, d.message.clone());
            done.result.execution_time = started.elapsed().as_secs_f64();
            done.result.timing = timing;
            return Err(Box::new(done));
        }
    };
    let node = if node.resource_type == ResourceType::Test && !compiled.config.is_empty() {
        let mut n = node.clone();
        for (k, v) in &compiled.config {
            n.config.0.insert(k.clone(), v.clone());
        }
        std::borrow::Cow::Owned(n)
    } else {
        std::borrow::Cow::Borrowed(node)
    };
    Ok(Prepared { node, compiled, relation, is_incremental, compiling: started.elapsed(), timing })
}

/// Runs a compiled node (`compile` stops at compiling).
fn execute_prepared(rt: &Runtime, p: Prepared<'_>, conn: &crate::jinja::objects::SharedConnection, thread_id: &str, opts: &RunOptions) -> Done {
    if opts.compile_only || p.node.resource_type == ResourceType::Analysis {
        return Done {
            result: RunResult {
                unique_id: p.node.unique_id.clone(),
                status: RunStatus::Compiled,
                timing: p.timing,
                thread_id: thread_id.to_string(),
                execution_time: p.compiling.as_secs_f64(),
                adapter_response: Map::new(),
                message: None,
                failures: None,
                compiled_code: Some(p.compiled.compiled_sql.clone()),
                relation_name: p.node.relation_name(rt.manifest.quoting),
            },
            compiled: Some(p.compiled),
            info: None,
        };
    }
    let exec_start = Utc::now();
    let executing = Instant::now();
    let outcome = if let Some(def) = rt.compiler.custom_materialization(&p.node) {
        // A `{% materialization %}` block of the project or a package runs
        // its own statements through the node's connection.
        rt.compiler
            .run_custom_materialization(&p.node, &def, &p.compiled, p.is_incremental, conn.clone())
            .map(|(message, _)| crate::materialize::MaterializeOutcome {
                status: RunStatus::Success,
                message: message.clone(),
                adapter_response: crate::adapter::AdapterResponse { message, code: String::new(), rows_affected: None },
                failures: None,
            })
            .map_err(|d| MaterializeError::Diagnostic(Box::new(d)))
    } else {
        match conn.lock() {
            Ok(mut c) => {
                let conn: &mut dyn Connection = c.as_mut();
                materialize(conn, &p.request(opts))
            }
            Err(_) => Err(MaterializeError::Database(crate::adapter::AdapterError::new("connection lock poisoned"))),
        }
    };
    let execution = Execution { started_at: exec_start, completed_at: Utc::now(), took: executing.elapsed() };
    finish_prepared(rt, p, outcome, &execution, conn, thread_id)
}

/// When a node's statements ran (for tests counted together: their shared
/// query).
struct Execution {
    started_at: chrono::DateTime<Utc>,
    completed_at: chrono::DateTime<Utc>,
    took: std::time::Duration,
}

/// Data tests the scheduler gave one worker together (see `dispatch` in
/// `execute_nodes`): compiled one by one, then the ones that can share a
/// query counted in one (`data_test::tests_together`). When that query
/// fails, each test runs alone, so that an error is reported for its own
/// test. Every test's `execute` timing is the shared query's; its
/// `execution_time` has an equal share of the query's duration.
fn run_tests_together(rt: &Runtime, ids: &[String], conn: &crate::jinja::objects::SharedConnection, thread_id: &str, opts: &RunOptions) -> Vec<Done> {
    let mut done = Vec::with_capacity(ids.len());
    let mut together = Vec::with_capacity(ids.len());
    for id in ids {
        match prepare(rt, &rt.manifest.nodes[id], conn, thread_id, opts) {
            Err(d) => done.push(*d),
            // Checked again with what the test's own macro configured.
            Ok(p) if crate::materialize::data_test::can_share_query(&p.node.config) => together.push(p),
            Ok(p) => done.push(execute_prepared(rt, p, conn, thread_id, opts)),
        }
    }
    if together.len() < 2 {
        done.extend(together.into_iter().map(|p| execute_prepared(rt, p, conn, thread_id, opts)));
        return done;
    }
    let exec_start = Utc::now();
    let executing = Instant::now();
    let counted = {
        let requests: Vec<MaterializeRequest<'_>> = together.iter().map(|p| p.request(opts)).collect();
        match conn.lock() {
            Ok(mut c) => crate::materialize::data_test::tests_together(c.as_mut(), &requests).ok(),
            Err(_) => None,
        }
    };
    // Each test's share of the query's time, so that the tests'
    // execution_time add up to the time they took.
    let share = executing.elapsed() / u32::try_from(together.len()).unwrap_or(u32::MAX);
    let execution = Execution { started_at: exec_start, completed_at: Utc::now(), took: share };
    match counted {
        Some(outcomes) => done.extend(together.into_iter().zip(outcomes).map(|(p, o)| finish_prepared(rt, p, Ok(o), &execution, conn, thread_id))),
        None => done.extend(together.into_iter().map(|p| execute_prepared(rt, p, conn, thread_id, opts))),
    }
    done
}

/// A run node's result from what running it gave.
fn finish_prepared(
    rt: &Runtime,
    p: Prepared<'_>,
    outcome: crate::materialize::MaterializeResult<crate::materialize::MaterializeOutcome>,
    execution: &Execution,
    conn: &crate::jinja::objects::SharedConnection,
    thread_id: &str,
) -> Done {
    let Prepared { node, compiled, mut timing, compiling, .. } = p;
    let node: &Node = &node;
    timing.push(TimingInfo { name: "execute".into(), started_at: execution.started_at, completed_at: execution.completed_at });
    // Its own compiling and running, not the time the node waited for
    // others (compiled before it, or counted in the same query).
    let execution_time = (compiling + execution.took).as_secs_f64();
    let relation_name = node.relation_name(rt.manifest.quoting);
    let compiled_code = (node.resource_type != ResourceType::Seed).then(|| compiled.compiled_sql.clone());
    let result = match outcome {
        Ok(o) => {
            let mut resp = Map::new();
            resp.insert("_message".into(), Value::from(o.adapter_response.message.clone()));
            if !o.adapter_response.code.is_empty() {
                resp.insert("code".into(), Value::from(o.adapter_response.code.clone()));
            }
            if let Some(n) = o.adapter_response.rows_affected {
                resp.insert("rows_affected".into(), Value::from(n));
            }
            let message = match o.status {
                RunStatus::Pass => None,
                _ => Some(o.message.clone()),
            };
            RunResult {
                unique_id: node.unique_id.clone(),
                status: o.status,
                timing,
                thread_id: thread_id.to_string(),
                execution_time,
                adapter_response: resp,
                message,
                failures: o.failures,
                compiled_code,
                relation_name: if node.resource_type == ResourceType::Test { None } else { relation_name },
            }
        }
        Err(e) => {
            if let MaterializeError::Database(_) = &e {
                if let Some(d) = locate_sql_error(rt, node, conn, &compiled.compiled_sql) {
                    rt.output.diagnostic(&d);
                }
            }
            let message = match &e {
                MaterializeError::Database(d) => format!("Runtime Error in {} {} ({})\n  {}", node.resource_type.as_str(), node.name, node.original_file_path, d.message),
                MaterializeError::Diagnostic(d) => {
                    rt.output.diagnostic(d);
                    d.message.clone()
                }
            };
            RunResult {
                unique_id: node.unique_id.clone(),
                status: RunStatus::Error,
                timing,
                thread_id: thread_id.to_string(),
                execution_time,
                adapter_response: Map::new(),
                message: Some(message),
                failures: None,
                compiled_code,
                relation_name,
            }
        }
    };
    Done { result, compiled: Some(compiled), info: None }
}

/// For a failed statement: prepares the compiled SELECT on its own so that
/// DuckDB's `LINE n:` position refers to the compiled file, then reports it
/// at `target/compiled/<package>/<path>:line:col` with a snippet.
fn locate_sql_error(rt: &Runtime, node: &Node, conn: &crate::jinja::objects::SharedConnection, sql: &str) -> Option<Diagnostic> {
    if sql.trim().is_empty() || node.resource_type == ResourceType::Seed {
        return None;
    }
    let message = {
        let mut c = conn.lock().ok()?;
        let check = format!("PREPARE __rdbt_check AS {sql}");
        match c.execute(&check) {
            Ok(_) => {
                let _ = c.execute("DEALLOCATE __rdbt_check");
                return None;
            }
            Err(e) => e.message,
        }
    };
    let (line, col) = sql_error_position(&message)?;
    let rel = crate::artifacts::sql_tree_rel_path(&node.path, &node.original_file_path);
    let file = crate::artifacts::write_sql_tree(&rt.target_dir, "compiled", &node.package_name, &rel, sql).ok()?;
    let span = crate::diag::Span::from_line_col(sql, line, col);
    let first = message.lines().next().unwrap_or(&message).to_string();
    Some(
        Diagnostic::error("sql", format!("{first} (in {} {})", node.resource_type.as_str(), node.name))
            .at(file, span)
            .note(format!("compiled from {}", node.original_file_path)),
    )
}

/// (line, column), 1-based, from DuckDB's `LINE n: <text>` + caret lines.
/// `PREPARE __rdbt_check AS ` shares line 1 with the query: its length is
/// taken off the first line's column.
pub fn sql_error_position(message: &str) -> Option<(usize, usize)> {
    let mut lines = message.lines();
    while let Some(l) = lines.next() {
        let Some(rest) = l.strip_prefix("LINE ") else { continue };
        let (num, _) = rest.split_once(':')?;
        let line: usize = num.trim().parse().ok()?;
        let prefix = format!("LINE {num}:").len();
        let caret = lines.next()?.find('^')?;
        let mut col = caret.saturating_sub(prefix);
        if line == 1 {
            col = col.saturating_sub("PREPARE __rdbt_check AS ".len());
        }
        return Some((line, col.max(1)));
    }
    None
}

/// Writes target/compiled/... and target/run/... for a node; returns what
/// manifest.json records about it.
fn write_sql(rt: &Runtime, node: &Node, c: &CompiledNode, opts: &RunOptions, ddl: Option<&dyn Connection>) -> NodeRunInfo {
    let rel = crate::artifacts::sql_tree_rel_path(&node.path, &node.original_file_path);
    let target_path = rt.compiler.config.root.target_path.clone();
    let mut info = NodeRunInfo { extra_ctes: c.extra_ctes.clone(), ..Default::default() };
    if node.resource_type != ResourceType::Seed {
        info.compiled_code = Some(c.compiled_sql.clone());
        match crate::artifacts::write_sql_tree(&rt.target_dir, "compiled", &node.package_name, &rel, &c.compiled_sql) {
            Ok(_) => {
                info.compiled_path =
                    Some(crate::artifacts::node_target_path(&target_path, "compiled", &node.package_name, &node.path, &node.original_file_path))
            }
            Err(e) => rt.output.warn(&format!("could not write compiled SQL for {}: {e}", node.unique_id)),
        }
    }
    if !opts.compile_only && node.resource_type != ResourceType::Seed {
        if let Some(conn) = ddl {
            let relation = Compiler::relation_of(node);
            let sql = match node.config.materialized() {
                "view" => conn.create_view_as_sql(&relation, &c.compiled_sql),
                "table" | "incremental" => conn.create_table_as_sql(&relation, &c.compiled_sql, false),
                _ => c.compiled_sql.clone(),
            };
            if crate::artifacts::write_sql_tree(&rt.target_dir, "run", &node.package_name, &rel, &sql).is_ok() {
                info.build_path = Some(crate::artifacts::node_target_path(&target_path, "run", &node.package_name, &node.path, &node.original_file_path));
            }
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::{SchedulingOrder, children_of, plan_dependencies};
    use crate::graph::test_support::{generic_test, manifest, test_node};
    use std::collections::HashMap;

    fn order_of(m: &crate::manifest::Manifest, plan: &[String], tests_gate_children: bool) -> Vec<(String, u8, bool)> {
        let deps = plan_dependencies(m, plan, tests_gate_children);
        let children = children_of(plan, &deps);
        let order = SchedulingOrder::new(m, plan, &deps, &children);
        plan.iter().map(|id| (id.clone(), order.key(id).0, order.writes(id))).collect()
    }

    /// Tests that lead to no write go last; in `build` a parent's tests
    /// lead to its children's writes, and a test that stores its failures
    /// writes.
    #[test]
    fn reading_nodes_that_lead_to_no_write_go_last() {
        let mut stored = generic_test("test.p.stored_b", "not_null", &["model.p.b"]);
        stored.config.set("store_failures", serde_json::json!(true));
        let mut not_stored = generic_test("test.p.eph_b", "unique", &["model.p.b"]);
        not_stored.config.set("store_failures", serde_json::json!(true));
        not_stored.config.set("store_failures_as", serde_json::json!("ephemeral"));
        let m = manifest(vec![
            test_node("seed.p.s", &[]),
            test_node("model.p.a", &["seed.p.s"]),
            generic_test("test.p.nn_a", "not_null", &["model.p.a"]),
            test_node("model.p.b", &["model.p.a"]),
            generic_test("test.p.nn_b", "not_null", &["model.p.b"]),
            generic_test("test.p.rel_b_a", "relationships", &["model.p.b", "model.p.a"]),
            stored,
            not_stored,
        ]);
        let plan: Vec<String> =
            ["seed.p.s", "model.p.a", "test.p.nn_a", "model.p.b", "test.p.nn_b", "test.p.rel_b_a", "test.p.stored_b", "test.p.eph_b"].map(String::from).to_vec();
        let t = |id: &str, late: u8, writes: bool| (id.to_string(), late, writes);
        assert_eq!(
            order_of(&m, &plan, true),
            vec![
                t("seed.p.s", 0, true),
                t("model.p.a", 0, true),
                t("test.p.nn_a", 0, false),
                t("model.p.b", 0, true),
                t("test.p.nn_b", 1, false),
                t("test.p.rel_b_a", 1, false),
                t("test.p.stored_b", 0, true),
                t("test.p.eph_b", 1, false),
            ]
        );
        // `run`/`test` order: no test gates a model, so none leads to a write.
        let by_id: HashMap<String, u8> = order_of(&m, &plan, false).into_iter().map(|(id, late, _)| (id, late)).collect();
        assert_eq!((by_id["test.p.nn_a"], by_id["model.p.b"]), (1, 0));
    }

    #[test]
    fn an_early_checkpoint_refused_by_an_older_reader_is_tried_again() {
        use crate::adapter::{Adapter, duckdb::DuckDbAdapter};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ck.duckdb");
        let adapter = DuckDbAdapter::open(path.to_str().expect("utf8"), &[], &serde_json::Map::new()).expect("open");
        let mut reader = adapter.connect().expect("reader");
        reader.begin().expect("begin");
        reader.query("select count(*) from duckdb_tables()").expect("read");
        adapter.connect().expect("writer").execute("create table t as select 1 as x").expect("write");
        // The write committed after the reader began: DuckDB refuses while the reader is open.
        assert!(!super::checkpoint_retrying(&adapter, 1, std::time::Duration::ZERO));
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                reader.commit().expect("reader ends");
            });
            assert!(super::checkpoint_retrying(&adapter, 500, std::time::Duration::from_millis(2)), "written once the reader has ended");
        });
    }

    #[test]
    fn reads_duckdb_error_positions() {
        let msg = "Parser Error: syntax error at or near \"1\"\n\nLINE 4:   (selec 1) x\n                 ^";
        assert_eq!(super::sql_error_position(msg), Some((4, 10)));
        assert_eq!(super::sql_error_position("Catalog Error: no such table"), None);
    }
}

/// Counts by status for the summary line.
pub fn status_counts(results: &[RunResult]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for r in results {
        let key = match r.status {
            RunStatus::Success | RunStatus::Pass | RunStatus::Compiled => "PASS",
            RunStatus::Warn => "WARN",
            RunStatus::Error | RunStatus::Fail => "ERROR",
            RunStatus::Skipped => "SKIP",
        };
        *m.entry(key).or_insert(0) += 1;
    }
    m
}
