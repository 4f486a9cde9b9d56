//! The minijinja environment with dbt's context. Every macro is its own
//! template; macro names resolve lazily through the render context (current
//! package, then root project, then the built-in `dbt` macros), so a call to
//! another macro runs in a fresh template state and `return()` ends only
//! that macro.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Map;

use crate::adapter::{Adapter, Connection, Relation};
use crate::config::Config;
use crate::diag::{Diagnostic, Span};
use crate::manifest::{Manifest, RefCall};

pub mod blocks;
pub mod builtins;
pub mod objects;
pub mod pydatetime;
pub mod pyvalues;
pub mod rewrite;
pub mod testing;

use objects::*;

pub const INTERNAL_PACKAGE: &str = "dbt";
const RETURN_SLOT: &str = "__rdbt_return__";

/// A macro known to the environment; its template is named by `unique_id`.
#[derive(Debug, Clone)]
pub struct MacroDef {
    pub unique_id: String,
    pub package: String,
    pub name: String,
    /// File and byte offset of the block, to map template errors to the file.
    pub file: std::path::PathBuf,
    pub offset: usize,
}

/// Macros by package and name, and the dispatch search orders.
#[derive(Debug, Default)]
pub struct MacroIndex {
    pub by_package: HashMap<String, HashMap<String, Arc<MacroDef>>>,
    pub by_template: HashMap<String, Arc<MacroDef>>,
    pub root_package: String,
    pub dispatch: HashMap<String, Vec<String>>,
    /// Macros (by unique_id) whose body mentions `kwargs` or `varargs`,
    /// with the argument names of their signature.
    pub variadic: HashMap<String, Vec<String>>,
}

impl MacroIndex {
    pub fn get(&self, package: &str, name: &str) -> Option<&Arc<MacroDef>> {
        self.by_package.get(package).and_then(|m| m.get(name))
    }
    /// A macro visible by bare name from code in `package`.
    pub fn resolve(&self, package: &str, name: &str) -> Option<&Arc<MacroDef>> {
        self.get(package, name).or_else(|| self.get(&self.root_package, name)).or_else(|| self.get(INTERNAL_PACKAGE, name))
    }
    /// The `{% materialization %}` block that builds `materialized` models,
    /// as dbt chooses it: the root project before packages, and within one
    /// package the adapter's own block before the `default` one. None when
    /// rdbt's native materialization applies.
    pub fn materialization(&self, materialized: &str, adapter_type: &str) -> Option<&Arc<MacroDef>> {
        let mut packages: Vec<&String> = self.by_package.keys().filter(|p| **p != self.root_package && *p != INTERNAL_PACKAGE).collect();
        packages.sort();
        std::iter::once(&self.root_package).chain(packages).find_map(|pkg| {
            [adapter_type, "default"].iter().find_map(|a| self.get(pkg, &format!("materialization_{materialized}_{a}")))
        })
    }
    pub fn is_namespace(&self, name: &str) -> bool {
        self.by_package.contains_key(name)
    }
}

/// The shared environment: templates of every macro, plus filters and
/// Python-compatible methods.
pub struct JinjaEnv {
    pub env: Environment<'static>,
    pub macros: Arc<MacroIndex>,
}

impl JinjaEnv {
    pub fn new() -> JinjaEnv {
        let mut env = Environment::new();
        env.set_unknown_method_callback(pyvalues::unknown_method);
        env.set_formatter(pyvalues::py_formatter);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        minijinja_contrib::add_to_environment(&mut env);
        env.add_function(pyvalues::LIST_FN, pyvalues::py_list_fn);
        env.add_function(pyvalues::DICT_FN, pyvalues::py_dict_fn);
        env.add_function(pyvalues::DISCARD_FN, |_v: Value| ());
        env.add_function("range", pyvalues::py_range_fn);
        env.add_function(rewrite::ADD_FN, |a: Value, b: Value| pydatetime::py_arith(&a, &b, true));
        env.add_function(rewrite::SUB_FN, |a: Value, b: Value| pydatetime::py_arith(&a, &b, false));
        builtins::add_filters(&mut env);
        JinjaEnv { env, macros: Arc::new(MacroIndex::default()) }
    }

    /// Adds the macros of one file. Returns the blocks found (for the
    /// manifest) or a diagnostic for an unclosed block / template syntax error.
    pub fn add_macro_template(&mut self, def: MacroDef, source: String) -> Result<(), Diagnostic> {
        let file = def.file.clone();
        let offset = def.offset;
        let uid = def.unique_id.clone();
        let variadic = mentions_word(&source, "kwargs") || mentions_word(&source, "varargs");
        // Inside its own template the macro is named SELF_MACRO, so that a
        // macro calling itself by name goes through the context like any
        // other macro call: a fresh state, and its own `return()`.
        let source = rename_macro_header(&source, &def.name);
        let source = rewrite::rewrite_date_arithmetic(&source, false).unwrap_or(source);
        let source = rewrite::rewrite_literals(&source, false).unwrap_or(source);
        if let Err(e) = self.env.add_template_owned(uid.clone(), source) {
            return Err(error_to_diagnostic(&e, &file, offset, "jinja-syntax"));
        }
        let def = Arc::new(def);
        let index = Arc::get_mut(&mut self.macros).expect("macros are registered before rendering starts");
        if variadic {
            index.variadic.insert(uid.clone(), macro_arguments(&self.env, &uid, SELF_MACRO));
        }
        index.by_template.insert(uid, def.clone());
        index.by_package.entry(def.package.clone()).or_default().insert(def.name.clone(), def);
        Ok(())
    }

    pub fn set_packages(&mut self, root_package: &str, dispatch: HashMap<String, Vec<String>>) {
        if let Some(index) = Arc::get_mut(&mut self.macros) {
            index.root_package = root_package.to_string();
            index.dispatch = dispatch;
        }
    }

    /// Renders `source` (a model, hook, test, or description) in `ctx`.
    /// `name` identifies the template in errors (the node's unique_id).
    pub fn render(&self, name: &str, source: &str, ctx: &Arc<NodeCtx>) -> Result<String, Error> {
        // dbt returns text without any Jinja marker as it is (Jinja would
        // drop a trailing newline and normalize line endings).
        if !["{{", "{%", "{#", "}}", "%}", "#}"].iter().any(|m| source.contains(m)) {
            return Ok(source.to_string());
        }
        // Jinja2 turns \r\n and \r into \n (`newline_sequence`).
        let normalized;
        let source = if source.contains('\r') {
            normalized = source.replace("\r\n", "\n").replace('\r', "\n");
            normalized.as_str()
        } else {
            source
        };
        let root = Value::from_object(ScopedCtx::new(ctx.clone(), ctx.package.clone()));
        let arith = rewrite::rewrite_date_arithmetic(source, false);
        let source = arith.as_deref().unwrap_or(source);
        match rewrite::rewrite_literals(source, false) {
            Some(rewritten) => self.env.render_named_str(name, &rewritten, root),
            None => self.env.render_named_str(name, source, root),
        }
    }

    /// Calls a macro by package and name with positional and keyword args.
    pub fn call_macro(&self, def: &Arc<MacroDef>, ctx: &Arc<NodeCtx>, args: &[Value]) -> Result<Value, Error> {
        let tmpl = self.env.get_template(&def.unique_id)?;
        call_macro_template(&tmpl, def, ctx, args)
    }
}

impl Default for JinjaEnv {
    fn default() -> Self {
        JinjaEnv::new()
    }
}

fn call_macro_template(tmpl: &minijinja::Template<'_, '_>, def: &MacroDef, ctx: &Arc<NodeCtx>, args: &[Value]) -> Result<Value, Error> {
    let scoped = Arc::new(ScopedCtx::new(ctx.clone(), def.package.clone()));
    // `kwargs`/`varargs` must be in place before the template runs: a macro
    // captures the free names it uses when it is defined.
    let args = match ctx.macros.variadic.get(&def.unique_id) {
        Some(names) => collect_extra_args(names, args, &scoped)?,
        None => args.to_vec(),
    };
    let mut captured = tmpl.render_captured(Value::from_dyn_object(scoped))?;
    captured.with_state_mut(|st| {
        let result = st.call_macro(SELF_MACRO, &args);
        if let Some(v) = st.get_temp(RETURN_SLOT) {
            return Ok(v);
        }
        result.map(Value::from_safe_string)
    })
}

/// The argument names of macro `name` defined by template `uid`.
fn macro_arguments(env: &Environment<'static>, uid: &str, name: &str) -> Vec<String> {
    let Ok(tmpl) = env.get_template(uid) else { return vec![] };
    let Ok(captured) = tmpl.render_captured(Value::from(())) else { return vec![] };
    captured
        .state()
        .lookup(name)
        .and_then(|m| m.get_attr("arguments").ok())
        .and_then(|a| a.try_iter().ok().map(|it| it.filter_map(|v| v.as_str().map(str::to_string)).collect()))
        .unwrap_or_default()
}

/// Jinja2 gives a macro whose body mentions `kwargs` or `varargs` the
/// keyword and positional arguments its signature does not name (dbt's
/// generic tests rely on it: `kwargs.get('at_least')`). minijinja rejects
/// them, so they are taken out here and exposed as names of this call.
fn collect_extra_args(names: &[String], args: &[Value], scoped: &ScopedCtx) -> Result<Vec<Value>, Error> {
    let (positional, kwargs) = match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest, Some(minijinja::value::Kwargs::try_from(last.clone())?)),
        _ => (args, None),
    };
    let mut out: Vec<Value> = positional.iter().take(names.len()).cloned().collect();
    let varargs: Vec<Value> = positional.iter().skip(names.len()).cloned().collect();
    let mut extra = indexmap::IndexMap::new();
    if let Some(kwargs) = kwargs {
        let mut known = Vec::new();
        for key in kwargs.args() {
            let v: Value = kwargs.peek(key)?;
            if names.iter().any(|n| n == key) || key == "caller" {
                known.push((key.to_string(), v));
            } else {
                extra.insert(Value::from(key), v);
            }
        }
        if !known.is_empty() {
            out.push(Value::from(minijinja::value::Kwargs::from_iter(known)));
        }
    }
    if let Ok(mut locals) = scoped.locals.lock() {
        locals.insert("kwargs", pyvalues::PyDict::new_value(extra));
        locals.insert("varargs", Value::from(minijinja::value::Tuple::from(varargs)));
    }
    Ok(out)
}

/// The name a macro has inside its own template (see `add_macro_template`).
const SELF_MACRO: &str = "__rdbt_self__";

/// `{% macro name(` → `{% macro __rdbt_self__(` in a macro block's opening tag.
fn rename_macro_header(source: &str, name: &str) -> String {
    let Some(open) = source.find("{%") else { return source.to_string() };
    let Some(kw) = source[open..].find("macro").map(|i| open + i) else { return source.to_string() };
    let after = &source[kw + "macro".len()..];
    let trimmed = after.trim_start();
    if !trimmed.starts_with(name) || !trimmed[name.len()..].trim_start().starts_with('(') {
        return source.to_string();
    }
    let name_at = kw + "macro".len() + (after.len() - trimmed.len());
    format!("{}{SELF_MACRO}{}", &source[..name_at], &source[name_at + name.len()..])
}

/// Whether `word` occurs in `text` as a whole identifier.
fn mentions_word(text: &str, word: &str) -> bool {
    let is_ident = |c: Option<char>| c.is_some_and(|c| c == '_' || c.is_ascii_alphanumeric());
    text.match_indices(word).any(|(i, _)| !is_ident(text[..i].chars().next_back()) && !is_ident(text[i + word.len()..].chars().next()))
}

/// Parse (`execute=false`, recording ref/source/config) or execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Parse,
    Execute,
}

/// Resolves `ref()`/`source()` to relations while compiling.
pub trait Resolver: Send + Sync {
    fn resolve_ref(&self, from_package: &str, call: &RefCall) -> Result<ResolvedRef, String>;
    /// The source's relation and how its name is quoted.
    fn resolve_source(&self, source: &str, table: &str) -> Result<(Relation, crate::manifest::QuotePolicy), String>;
}

#[derive(Debug, Clone)]
pub enum ResolvedRef {
    Relation(Relation),
    /// An ephemeral model: referenced as the CTE `__dbt__cte__<name>`.
    Ephemeral { unique_id: String, cte_name: String },
}

/// State shared by every render of one invocation.
pub struct Globals {
    pub config: Arc<Config>,
    pub target: Value,
    pub flags: Value,
    pub run_started_at: chrono::DateTime<chrono::Utc>,
    pub invocation_id: String,
    pub adapter: Option<Arc<dyn Adapter>>,
    pub resolver: Option<Arc<dyn Resolver>>,
    pub manifest: Option<Arc<Manifest>>,
    graph: OnceLock<Value>,
    /// Unique ids selected for this invocation (`selected_resources`).
    pub selected: Vec<String>,
    pub which: String,
    pub full_refresh: bool,
}

impl Globals {
    pub fn new(config: Arc<Config>, invocation_id: String, which: &str) -> Globals {
        let mut flags = Map::new();
        flags.insert("FULL_REFRESH".into(), config.flags.full_refresh.into());
        flags.insert("WHICH".into(), which.into());
        flags.insert("FAIL_FAST".into(), config.flags.fail_fast.into());
        flags.insert("STORE_FAILURES".into(), false.into());
        flags.insert("WARN_ERROR".into(), false.into());
        let target = crate::jinja::jv(&config.target.raw);
        Globals {
            full_refresh: config.flags.full_refresh,
            target,
            flags: crate::jinja::jv(&flags),
            run_started_at: chrono::Utc::now(),
            invocation_id,
            adapter: None,
            resolver: None,
            manifest: None,
            graph: OnceLock::new(),
            selected: vec![],
            which: which.to_string(),
            config,
        }
    }
    pub fn graph(&self) -> Value {
        self.graph
            .get_or_init(|| match &self.manifest {
                Some(m) => builtins::graph_value(m),
                None => Value::from(BTreeMap::<String, Value>::new()),
            })
            .clone()
    }
}

/// What a parse-time render recorded.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    pub refs: Vec<RefCall>,
    pub sources: Vec<(String, String)>,
    pub config: Map<String, serde_json::Value>,
    pub macros: BTreeSet<String>,
    /// Ephemeral models referenced while compiling, in first-use order.
    pub ephemerals: Vec<String>,
    pub docs: Vec<(Option<String>, String)>,
}

/// The context of one render: a node (or an operation) and the phase.
pub struct NodeCtx {
    pub globals: Arc<Globals>,
    pub macros: Arc<MacroIndex>,
    pub phase: Phase,
    /// Package of the node; its macros resolve first.
    pub package: String,
    pub this: Option<Relation>,
    pub model: Value,
    /// The node's resolved config, for `config.get` at execution.
    pub node_config: Map<String, serde_json::Value>,
    pub is_incremental: bool,
    pub recorded: Mutex<Recorded>,
    pub conn: Option<Arc<Mutex<Box<dyn Connection>>>>,
    /// Extra names (test kwargs, `sql`, `results`, ...).
    pub extra: BTreeMap<String, Value>,
    /// Results of `{% call statement(name) %}` blocks, for `load_result`.
    pub statements: Mutex<HashMap<String, Value>>,
}

impl NodeCtx {
    pub fn new(globals: Arc<Globals>, macros: Arc<MacroIndex>, phase: Phase, package: &str) -> NodeCtx {
        NodeCtx {
            globals,
            macros,
            phase,
            package: package.to_string(),
            this: None,
            model: Value::from(()),
            node_config: Map::new(),
            is_incremental: false,
            recorded: Mutex::new(Recorded::default()),
            conn: None,
            extra: BTreeMap::new(),
            statements: Mutex::new(HashMap::new()),
        }
    }
    pub fn execute(&self) -> bool {
        self.phase == Phase::Execute
    }
    pub fn recorded(&self) -> Recorded {
        self.recorded.lock().map(|r| r.clone()).unwrap_or_default()
    }
    pub fn record<F: FnOnce(&mut Recorded)>(&self, f: F) {
        if let Ok(mut r) = self.recorded.lock() {
            f(&mut r)
        }
    }

    /// Looks up a name as seen from code in `package`.
    fn lookup(self: &Arc<Self>, name: &str, package: &str) -> Option<Value> {
        if let Some(v) = self.extra.get(name) {
            return Some(v.clone());
        }
        let ctx = || self.clone();
        Some(match name {
            "ref" => Value::from_object(RefFn { ctx: ctx(), package: package.to_string() }),
            "source" => Value::from_object(SourceFn { ctx: ctx() }),
            "config" => Value::from_object(ConfigObj { ctx: ctx() }),
            "var" => Value::from_object(VarFn { ctx: ctx(), package: package.to_string() }),
            "env_var" => Value::from_function(env_var_fn),
            "this" => match &self.this {
                Some(r) => Value::from_object(RelationObj::quoted_as(r.clone(), self.globals.config.quote_policy())),
                None => Value::from(()),
            },
            "model" => self.model.clone(),
            "target" => self.globals.target.clone(),
            "execute" => Value::from(self.execute()),
            "is_incremental" => {
                let v = self.is_incremental && self.execute();
                Value::from_function(move || v)
            }
            "adapter" => Value::from_object(AdapterObj { ctx: ctx(), package: package.to_string() }),
            "load_relation" => {
                let adapter = Value::from_object(AdapterObj { ctx: ctx(), package: package.to_string() });
                Value::from_function(move |state: &mut State<'_, '_>, relation: Value| adapter.call_method(state, "load_relation", &[relation]))
            }
            "run_query" => Value::from_object(RunQueryFn { ctx: ctx() }),
            "statement" => Value::from_object(StatementFn { ctx: ctx() }),
            "load_result" => Value::from_object(LoadResultFn { ctx: ctx() }),
            "log" => Value::from_object(LogFn { ctx: ctx() }),
            "print" => Value::from_function(|msg: Value| {
                println!("{}", crate::diag::scrub_secrets(&pyvalues::py_str(&msg)));
                String::new()
            }),
            "exceptions" => Value::from_object(Exceptions),
            "return" => Value::from_function(return_fn),
            "modules" => builtins::modules(),
            "run_started_at" => Value::from_object(pydatetime::DateTimeObj::aware_utc(self.globals.run_started_at)),
            "invocation_id" => Value::from(self.globals.invocation_id.clone()),
            "project_name" => Value::from(self.globals.config.root.name.clone()),
            "dbt_version" => Value::from(builtins::DBT_VERSION),
            "flags" => self.globals.flags.clone(),
            "graph" => {
                if self.execute() {
                    self.globals.graph()
                } else {
                    Value::from(BTreeMap::<String, Value>::new())
                }
            }
            "selected_resources" => crate::jinja::jv(&self.globals.selected),
            "invocation_args_dict" => self.globals.flags.clone(),
            "api" => builtins::api(),
            "builtins" => Value::from_object(BuiltinsObj { ctx: ctx(), package: package.to_string() }),
            "context" => Value::from_object(ScopedCtx::new(ctx(), package.to_string())),
            "doc" => Value::from_object(DocFn { ctx: ctx() }),
            "tojson" | "fromjson" | "toyaml" | "fromyaml" | "local_md5" | "zip" | "set" | "set_strict" | "zip_strict" | "diff_of_two_dicts" => {
                builtins::function(name)?
            }
            _ => {
                if let Some(def) = self.macros.resolve(package, name) {
                    self.record(|r| {
                        r.macros.insert(def.unique_id.clone());
                    });
                    return Some(Value::from_object(MacroCaller { def: def.clone(), ctx: ctx() }));
                }
                if self.macros.is_namespace(name) {
                    return Some(Value::from_object(Namespace { ctx: ctx(), package: name.to_string() }));
                }
                return None;
            }
        })
    }

    /// `adapter.dispatch(name, namespace)`: the first of
    /// `<adapter>__name`, `default__name` in the namespace's search order.
    pub fn dispatch(self: &Arc<Self>, name: &str, namespace: Option<&str>, from_package: &str) -> Result<Value, Error> {
        let adapter_type = self.globals.config.target.adapter_type.clone();
        let root = self.macros.root_package.clone();
        let search: Vec<String> = match namespace {
            Some(ns) => match self.macros.dispatch.get(ns) {
                Some(order) => order.clone(),
                None if ns == INTERNAL_PACKAGE => vec![root.clone(), INTERNAL_PACKAGE.to_string()],
                None => vec![ns.to_string()],
            },
            None => {
                let mut v = vec![root.clone()];
                if from_package != root {
                    v.push(from_package.to_string());
                }
                v.push(INTERNAL_PACKAGE.to_string());
                v
            }
        };
        for package in &search {
            for prefix in [adapter_type.as_str(), "default"] {
                let candidate = format!("{prefix}__{name}");
                if let Some(def) = self.macros.get(package, &candidate) {
                    self.record(|r| {
                        r.macros.insert(def.unique_id.clone());
                    });
                    return Ok(Value::from_object(MacroCaller { def: def.clone(), ctx: self.clone() }));
                }
            }
        }
        Err(Error::new(
            ErrorKind::UnknownFunction,
            format!("In dispatch: No macro named '{name}' found within namespace: '{}' (searched: {})", namespace.unwrap_or(&root), search.join(", ")),
        ))
    }
}

/// The root context object of a render: every name resolves through
/// `NodeCtx::lookup` as seen from `package`.
#[derive(Debug)]
pub struct ScopedCtx {
    pub ctx: Arc<NodeCtx>,
    pub package: String,
    /// Names local to one macro call: Jinja2's `kwargs` and `varargs`.
    pub locals: Mutex<BTreeMap<&'static str, Value>>,
}

impl ScopedCtx {
    pub fn new(ctx: Arc<NodeCtx>, package: String) -> ScopedCtx {
        ScopedCtx { ctx, package, locals: Mutex::new(BTreeMap::new()) }
    }
}

impl std::fmt::Debug for NodeCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeCtx({})", self.package)
    }
}

impl Object for ScopedCtx {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(v) = self.locals.lock().ok().and_then(|l| l.get(name).cloned()) {
            return Some(v);
        }
        self.ctx.lookup(name, &self.package)
    }
    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::NonEnumerable
    }
}

/// A macro as a callable value. Each call renders the macro's template in a
/// new state whose names resolve from the macro's own package.
#[derive(Debug)]
pub struct MacroCaller {
    pub def: Arc<MacroDef>,
    pub ctx: Arc<NodeCtx>,
}

impl Object for MacroCaller {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (args, _scope) = rebind_caller(state, args)?;
        let tmpl = state.env().get_template(&self.def.unique_id)?;
        call_macro_template(&tmpl, &self.def, &self.ctx, &args)
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.def.name.clone())),
            "unique_id" => Some(Value::from(self.def.unique_id.clone())),
            _ => None,
        }
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<macro {}>", self.def.name)
    }
}

/// A `{% call %}` block's `caller` belongs to the calling state; the macro
/// runs in a new state, so `caller` is replaced by a [`CallerBody`] that runs
/// it back in the calling state. Keep the scope alive for the macro call.
fn rebind_caller(state: &mut State<'_, '_>, args: &[Value]) -> Result<(Vec<Value>, Option<CallerScope>), Error> {
    let Some(last) = args.last().filter(|v| v.is_kwargs()) else { return Ok((args.to_vec(), None)) };
    let kwargs = minijinja::value::Kwargs::try_from(last.clone())?;
    if !kwargs.has("caller") {
        return Ok((args.to_vec(), None));
    }
    let mut pairs: Vec<(String, Value)> = Vec::new();
    let mut scope = None;
    for key in kwargs.args() {
        let v: Value = kwargs.peek(key)?;
        if key == "caller" {
            let (body, s) = CallerBody::new(v, state);
            scope = Some(s);
            pairs.push((key.to_string(), body));
        } else {
            pairs.push((key.to_string(), v));
        }
    }
    let mut out = args[..args.len() - 1].to_vec();
    out.push(Value::from(minijinja::value::Kwargs::from_iter(pairs)));
    Ok((out, scope))
}

/// `dbt_utils.star(...)`: macros of one package.
#[derive(Debug)]
pub struct Namespace {
    pub ctx: Arc<NodeCtx>,
    pub package: String,
}

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let def = self.ctx.macros.get(&self.package, name)?;
        self.ctx.record(|r| {
            r.macros.insert(def.unique_id.clone());
        });
        Some(Value::from_object(MacroCaller { def: def.clone(), ctx: self.ctx.clone() }))
    }
}

fn return_fn(state: &mut State<'_, '_>, value: Option<Value>) -> Result<Value, Error> {
    state.set_temp(RETURN_SLOT, value.unwrap_or(Value::from(())));
    Err(Error::new(ErrorKind::InvalidOperation, "return() outside of a macro"))
}

/// Renders every string of a YAML value that holds Jinja (`{{`, `{%`) with
/// `render`, as dbt renders config values written in YAML: a result that
/// reads as a Python literal `True`/`False`/`None` (or is empty) becomes a
/// boolean or null, so `enabled: "{{ target.type == 'duckdb' }}"` is a
/// boolean.
pub fn render_yaml_strings(value: &serde_json::Value, render: &mut dyn FnMut(&str) -> Result<String, crate::diag::Diagnostic>) -> Result<serde_json::Value, crate::diag::Diagnostic> {
    use serde_json::Value as J;
    Ok(match value {
        J::String(s) if has_jinja(s) => {
            let out = render(s)?;
            match out.trim() {
                "" | "None" | "none" => J::Null,
                "true" | "True" => J::Bool(true),
                "false" | "False" => J::Bool(false),
                _ => J::String(out),
            }
        }
        J::Array(items) => J::Array(items.iter().map(|v| render_yaml_strings(v, render)).collect::<Result<_, _>>()?),
        J::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                out.insert(k.clone(), render_yaml_strings(v, render)?);
            }
            J::Object(out)
        }
        other => other.clone(),
    })
}

fn has_jinja(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Whether any string in a YAML value holds Jinja.
pub fn yaml_has_jinja(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => has_jinja(s),
        serde_json::Value::Array(items) => items.iter().any(yaml_has_jinja),
        serde_json::Value::Object(m) => m.values().any(yaml_has_jinja),
        _ => false,
    }
}

thread_local! {
    static SECRETS_ALLOWED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with `DBT_ENV_SECRET_*` allowed in `env_var()` on this thread:
/// for declarations whose rendered values never reach output or artifacts
/// (an ingest node's credentials, rendered when it runs).
pub fn with_secrets_allowed<T>(f: impl FnOnce() -> T) -> T {
    let before = SECRETS_ALLOWED.with(|a| a.replace(true));
    let out = f();
    SECRETS_ALLOWED.with(|a| a.set(before));
    out
}

/// `env_var(name, default)` in models, macros and dbt_project.yml: secret
/// variables (`DBT_ENV_SECRET_*`) are refused there, as in dbt, so that they
/// cannot end up in compiled SQL or artifacts.
pub fn env_var_fn(name: String, default: Option<Value>) -> Result<Value, Error> {
    if name.starts_with(crate::diag::SECRET_ENV_PREFIX) && !SECRETS_ALLOWED.with(|a| a.get()) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("Secret env vars are allowed only in profiles.yml or packages.yml. Found '{name}' referenced here."),
        ));
    }
    env_var_secret_ok_fn(name, default)
}

/// `env_var(name, default)` in profiles.yml and packages.yml, where secret
/// variables are allowed.
pub fn env_var_secret_ok_fn(name: String, default: Option<Value>) -> Result<Value, Error> {
    match std::env::var(&name) {
        Ok(v) => Ok(Value::from(v)),
        Err(_) => match default {
            Some(d) => Ok(Value::from(d.to_string())),
            None => Err(Error::new(ErrorKind::InvalidOperation, format!("Env var required but not provided: '{name}'"))),
        },
    }
}

/// A one-line description of a Jinja error, without template dumps.
pub fn describe_error(e: &Error) -> String {
    let mut msg = match e.detail() {
        Some(d) => d.to_string(),
        None => e.kind().to_string(),
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(inner) = s.downcast_ref::<Error>() {
            if let Some(d) = inner.detail() {
                msg = format!("{msg}: {d}");
            }
        }
        src = s.source();
    }
    msg
}

/// Maps a template error to a diagnostic in `file`, where the template's
/// text starts at byte `offset`.
pub fn error_to_diagnostic(e: &Error, file: &std::path::Path, offset: usize, code: &'static str) -> Diagnostic {
    let span = e.range().map(|r| rewrite::original_range(e.template_source(), r)).map(|r| Span::new(offset + r.start, offset + r.end));
    let mut d = Diagnostic::error(code, describe_error(e)).in_file(file).with_span(span);
    if span.is_none() {
        if let Some(line) = e.line() {
            if let Ok(text) = std::fs::read_to_string(file) {
                let base = Diagnostic::line_col(&text, offset).0;
                d.span = Some(Span::from_line_col(&text, base + line - 1, 1));
            }
        }
    }
    d
}

/// Maps an error raised while rendering `template_name` to the file it came
/// from: a macro's file when the innermost frame is a macro, otherwise the
/// node's own file at `node_offset`.
pub fn render_error_to_diagnostic(
    e: &Error,
    macros: &MacroIndex,
    node_file: &std::path::Path,
    node_offset: usize,
    code: &'static str,
) -> Diagnostic {
    // The innermost error carries the template where it happened.
    let mut inner = e;
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(i) = s.downcast_ref::<Error>() {
            if i.name().is_some() {
                inner = i;
            }
        }
        src = s.source();
    }
    let message = describe_error(e);
    if let Some(def) = inner.name().and_then(|n| macros.by_template.get(n)) {
        let mut d = error_to_diagnostic(inner, &def.file, def.offset, code);
        d.message = message;
        d.notes.push(format!("in macro '{}' ({})", def.name, def.unique_id));
        return d;
    }
    let mut d = error_to_diagnostic(inner, node_file, node_offset, code);
    d.message = message;
    d
}

/// A serde value as a Jinja value.
pub fn jv<T: serde::Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// A serde value as a Jinja value with Python's mutable lists and dicts, for
/// what templates receive to work with (`var()`, `config.get()`, `fromjson`).
pub fn pyjv<T: serde::Serialize>(v: T) -> Value {
    pyvalues::to_py(jv(v))
}

impl JinjaEnv {
    /// Evaluates one expression (`ref('x')`) in `ctx`, keeping objects.
    pub fn eval_expr(&self, expr: &str, ctx: &Arc<NodeCtx>) -> Result<Value, Error> {
        let arith = rewrite::rewrite_date_arithmetic(expr, true);
        let expr = arith.as_deref().unwrap_or(expr);
        let e = match rewrite::rewrite_literals(expr, true) {
            Some(rewritten) => self.env.compile_expression_owned(rewritten)?,
            None => self.env.compile_expression(expr)?,
        };
        e.eval(Value::from_object(ScopedCtx::new(ctx.clone(), ctx.package.clone())))
    }
}
