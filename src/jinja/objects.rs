//! Values of dbt's Jinja context: relations, `ref`/`source`/`config`/`var`,
//! `adapter`, `run_query`/`statement`, agate-like tables, datetimes.

use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use super::{NodeCtx, Phase, ResolvedRef};
use crate::adapter::{Connection, QueryResult, Relation, RelationKind};
use crate::manifest::RefCall;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn split_kwargs(args: &[Value]) -> (&[Value], Option<Kwargs>) {
    match args.last() {
        Some(last) if last.is_kwargs() => (&args[..args.len() - 1], Kwargs::try_from(last.clone()).ok()),
        _ => (args, None),
    }
}

fn kwarg(kwargs: &Option<Kwargs>, key: &str) -> Option<Value> {
    kwargs.as_ref().and_then(|k| k.peek::<Option<Value>>(key).ok().flatten()).filter(|v| !v.is_none() && !v.is_undefined())
}

/// Positional argument `i`, or keyword `key`.
fn arg(args: &[Value], kwargs: &Option<Kwargs>, i: usize, key: &str) -> Option<Value> {
    args.get(i).cloned().filter(|v| !v.is_none() && !v.is_undefined()).or_else(|| kwarg(kwargs, key))
}

fn value_to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A relation as `{{ this }}`, `ref()` and `adapter.get_relation` return it.
#[derive(Debug, Clone)]
pub struct RelationObj {
    pub relation: Relation,
    pub kind: Option<RelationKind>,
    /// For ephemeral refs: rendered as this CTE name.
    pub cte: Option<String>,
    pub include_database: bool,
    pub include_schema: bool,
    pub include_identifier: bool,
    pub quoting: crate::manifest::QuotePolicy,
}

impl RelationObj {
    pub fn new(relation: Relation) -> RelationObj {
        RelationObj {
            relation,
            kind: None,
            cte: None,
            include_database: true,
            include_schema: true,
            include_identifier: true,
            quoting: crate::manifest::QuotePolicy::default(),
        }
    }
    /// A relation rendered with the project's `quoting:` policy.
    pub fn quoted_as(relation: Relation, quoting: crate::manifest::QuotePolicy) -> RelationObj {
        RelationObj { quoting, ..RelationObj::new(relation) }
    }
    pub fn from_value(v: &Value) -> Option<Relation> {
        if let Some(r) = v.downcast_object_ref::<RelationObj>() {
            return Some(r.relation.clone());
        }
        None
    }
    fn rendered(&self) -> String {
        if let Some(cte) = &self.cte {
            return cte.clone();
        }
        let q = crate::manifest::QuotePolicy::quote_part;
        let mut parts = Vec::new();
        if self.include_database && !self.relation.database.is_empty() {
            parts.push(q(self.quoting.database, &self.relation.database));
        }
        if self.include_schema && !self.relation.schema.is_empty() {
            parts.push(q(self.quoting.schema, &self.relation.schema));
        }
        if self.include_identifier {
            parts.push(q(self.quoting.identifier, &self.relation.identifier));
        }
        parts.join(".")
    }
}

/// The class name dbt-duckdb's relations report (`relation.get('metadata')`,
/// which dbt_utils checks to tell a relation from a string).
const RELATION_CLASS: &str = "DuckDBRelation";

impl RelationObj {
    fn policy(database: bool, schema: bool, identifier: bool) -> Value {
        super::pyvalues::PyDict::new_value(
            [("database", database), ("schema", schema), ("identifier", identifier)]
                .into_iter()
                .map(|(k, v)| (Value::from(k), Value::from(v)))
                .collect(),
        )
    }
}

impl Object for RelationObj {
    /// A mapping, like dbt's relations (`relation is mapping`), but one that
    /// cannot be iterated, and is always true.
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }
    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::NonEnumerable
    }
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn custom_cmp(self: &Arc<Self>, other: &minijinja::value::DynObject) -> Option<std::cmp::Ordering> {
        let other = other.downcast_ref::<RelationObj>()?;
        Some(self.rendered().cmp(&other.rendered()).then(self.kind.map(|k| k.as_str()).cmp(&other.kind.map(|k| k.as_str()))))
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let r = &self.relation;
        Some(match key.as_str()? {
            "database" => Value::from(r.database.clone()),
            "schema" => Value::from(r.schema.clone()),
            "identifier" | "name" | "table" => Value::from(self.cte.clone().unwrap_or_else(|| r.identifier.clone())),
            "type" => self.kind.map(|k| Value::from(k.as_str())).unwrap_or(Value::from(())),
            "is_table" => Value::from(self.kind == Some(RelationKind::Table)),
            "is_view" => Value::from(self.kind == Some(RelationKind::View)),
            "is_cte" => Value::from(self.cte.is_some()),
            "is_materialized_view" | "is_pointer" | "is_function" | "dbt_created" => Value::from(false),
            "path" => super::pyvalues::PyDict::new_value(
                [("database", &r.database), ("schema", &r.schema), ("identifier", &r.identifier)]
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), Value::from(v.clone())))
                    .collect(),
            ),
            "quote_policy" => RelationObj::policy(self.quoting.database, self.quoting.schema, self.quoting.identifier),
            "include_policy" => RelationObj::policy(self.include_database, self.include_schema, self.include_identifier),
            "quote_character" => Value::from("\""),
            "limit" | "event_time_filter" | "catalog" => Value::from(()),
            "Table" => Value::from("table"),
            "View" => Value::from("view"),
            "CTE" => Value::from("cte"),
            "External" => Value::from("external"),
            "MaterializedView" => Value::from("materialized_view"),
            _ => return None,
        })
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let flag = |k: &str, cur: bool| kwarg(&kwargs, k).map(|v| v.is_true()).unwrap_or(cur);
        match method {
            "get" => {
                let key = pos.first().and_then(Value::as_str).unwrap_or_default();
                if key == "metadata" {
                    let mut m = indexmap::IndexMap::new();
                    m.insert(Value::from("type"), Value::from(RELATION_CLASS));
                    return Ok(super::pyvalues::PyDict::new_value(m));
                }
                Ok(self.get_value(&Value::from(key)).or_else(|| pos.get(1).cloned()).unwrap_or(Value::from(())))
            }
            "render_limited" | "__str__" => Ok(Value::from(self.rendered())),
            "matches" => {
                let r = &self.relation;
                let ok = [("database", &r.database), ("schema", &r.schema), ("identifier", &r.identifier)].iter().all(|(k, v)| {
                    match kwarg(&kwargs, k).filter(|x| !x.is_none()) {
                        Some(want) => want.as_str().is_some_and(|w| w.eq_ignore_ascii_case(v)),
                        None => true,
                    }
                });
                Ok(Value::from(ok))
            }
            "include" => {
                let mut r = (**self).clone();
                r.include_database = flag("database", r.include_database);
                r.include_schema = flag("schema", r.include_schema);
                r.include_identifier = flag("identifier", r.include_identifier);
                Ok(Value::from_object(r))
            }
            "incorporate" => {
                let mut r = (**self).clone();
                if let Some(path) = kwarg(&kwargs, "path") {
                    for (k, field) in [("database", 0), ("schema", 1), ("identifier", 2)] {
                        if let Ok(v) = path.get_attr(k) {
                            if let Some(s) = v.as_str() {
                                match field {
                                    0 => r.relation.database = s.to_string(),
                                    1 => r.relation.schema = s.to_string(),
                                    _ => r.relation.identifier = s.to_string(),
                                }
                            }
                        }
                    }
                }
                if let Some(t) = kwarg(&kwargs, "type") {
                    r.kind = match t.as_str() {
                        Some("table") => Some(RelationKind::Table),
                        Some("view") => Some(RelationKind::View),
                        _ => r.kind,
                    };
                }
                Ok(Value::from_object(r))
            }
            "render" => Ok(Value::from(self.rendered())),
            "quote" | "without_identifier" => {
                let mut r = (**self).clone();
                if method == "without_identifier" {
                    r.include_identifier = false;
                }
                Ok(Value::from_object(r))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered())
    }
}

/// `ref('name')`, `ref('package', 'name')`, `ref('name', version=2)`.
#[derive(Debug)]
pub struct RefFn {
    pub ctx: Arc<NodeCtx>,
    pub package: String,
}

impl Object for RefFn {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let names: Vec<String> = pos.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| err(format!("ref() arguments must be strings, got {v}")))).collect::<Result<_, _>>()?;
        let (package, name) = match names.as_slice() {
            [n] => (None, n.clone()),
            [p, n] => (Some(p.clone()), n.clone()),
            _ => return Err(err(format!("ref() takes 1 or 2 names, got {}", names.len()))),
        };
        let version = kwarg(&kwargs, "version").or_else(|| kwarg(&kwargs, "v")).map(|v| v.to_string());
        let call = RefCall { name: name.clone(), package, version };
        self.ctx.record(|r| {
            if !r.refs.contains(&call) {
                r.refs.push(call.clone())
            }
        });
        let target = &self.ctx.globals.config.target;
        if self.ctx.phase == Phase::Parse {
            return Ok(Value::from_object(RelationObj::new(Relation::new(target.database.clone(), target.schema.clone(), name))));
        }
        let Some(resolver) = &self.ctx.globals.resolver else {
            return Ok(Value::from_object(RelationObj::new(Relation::new(target.database.clone(), target.schema.clone(), name))));
        };
        match resolver.resolve_ref(&self.package, &call).map_err(err)? {
            ResolvedRef::Relation(r) => Ok(Value::from_object(RelationObj::quoted_as(r, self.ctx.globals.config.quote_policy()))),
            ResolvedRef::Ephemeral { unique_id, cte_name } => {
                self.ctx.record(|r| {
                    if !r.ephemerals.contains(&unique_id) {
                        r.ephemerals.push(unique_id.clone())
                    }
                });
                let mut obj = RelationObj::new(Relation::new("", "", cte_name.clone()));
                obj.cte = Some(cte_name);
                Ok(Value::from_object(obj))
            }
        }
    }
}

/// `source('source_name', 'table_name')`.
#[derive(Debug)]
pub struct SourceFn {
    pub ctx: Arc<NodeCtx>,
}

impl Object for SourceFn {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (source, table): (String, String) = from_args(args)?;
        self.ctx.record(|r| {
            let pair = (source.clone(), table.clone());
            if !r.sources.contains(&pair) {
                r.sources.push(pair)
            }
        });
        let target = &self.ctx.globals.config.target;
        match (&self.ctx.globals.resolver, self.ctx.phase) {
            (Some(res), Phase::Execute) => {
                let (relation, quoting) = res.resolve_source(&source, &table).map_err(err)?;
                Ok(Value::from_object(RelationObj::quoted_as(relation, quoting)))
            }
            _ => Ok(Value::from_object(RelationObj::new(Relation::new(target.database.clone(), source, table)))),
        }
    }
}

/// `config(...)` (records at parse), `config.get`, `config.require`.
#[derive(Debug)]
pub struct ConfigObj {
    pub ctx: Arc<NodeCtx>,
}

impl ConfigObj {
    fn lookup(&self, key: &str) -> Option<serde_json::Value> {
        if self.ctx.phase == Phase::Execute {
            if let Some(v) = self.ctx.node_config.get(key).filter(|v| !v.is_null()) {
                return Some(v.clone());
            }
        }
        self.ctx.recorded.lock().ok().and_then(|r| r.config.get(key).cloned()).filter(|v| !v.is_null())
    }
}

impl Object for ConfigObj {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let mut map = serde_json::Map::new();
        for p in pos {
            if let serde_json::Value::Object(m) = value_to_json(p) {
                map.extend(m);
            }
        }
        if let Some(k) = &kwargs {
            for key in k.args() {
                let v: Value = k.peek(key)?;
                map.insert(key.to_string(), value_to_json(&v));
            }
        }
        self.ctx.record(|r| crate::config::tree::merge(&mut r.config, &map));
        Ok(Value::from(""))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let key = arg(pos, &kwargs, 0, "name").map(|v| v.to_string()).unwrap_or_default();
        let default = arg(pos, &kwargs, 1, "default");
        match method {
            "get" => Ok(self.lookup(&key).map(|v| crate::jinja::pyjv(&v)).or(default).unwrap_or(Value::from(()))),
            "require" => match self.lookup(&key) {
                Some(v) => Ok(crate::jinja::pyjv(&v)),
                None if self.ctx.phase == Phase::Parse => Ok(Value::from(())),
                None => Err(err(format!("Required config '{key}' was not set"))),
            },
            "meta_get" => Ok(self
                .lookup("meta")
                .and_then(|m| m.get(&key).cloned())
                .map(|v| crate::jinja::pyjv(&v))
                .or(default)
                .unwrap_or(Value::from(()))),
            "persist_relation_docs" | "persist_column_docs" => Ok(Value::from(false)),
            "set" => {
                if let Some(v) = default {
                    let mut m = serde_json::Map::new();
                    m.insert(key, value_to_json(&v));
                    self.ctx.record(|r| crate::config::tree::merge(&mut r.config, &m));
                }
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `var('name', default)`.
#[derive(Debug)]
pub struct VarFn {
    pub ctx: Arc<NodeCtx>,
    pub package: String,
}

impl Object for VarFn {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let name = arg(pos, &kwargs, 0, "name").map(|v| v.to_string()).ok_or_else(|| err("var() needs a name"))?;
        if let Some(v) = self.ctx.globals.config.var(&self.package, &name) {
            // A string var holding Jinja is rendered when read, as dbt does.
            if let serde_json::Value::String(text) = &v {
                if text.contains("{{") || text.contains("{%") {
                    let root = Value::from_object(super::ScopedCtx::new(self.ctx.clone(), self.package.clone()));
                    return _state.env().render_str(text, root).map(Value::from);
                }
            }
            return Ok(crate::jinja::pyjv(&v));
        }
        if pos.len() > 1 {
            return Ok(pos[1].clone());
        }
        if let Some(d) = kwargs.as_ref().and_then(|k| k.peek::<Value>("default").ok()) {
            return Ok(d);
        }
        let known: Vec<String> = self.ctx.globals.config.vars_for(&self.package).keys().cloned().collect();
        Err(err(format!("Required var '{name}' not found in config (vars available to package '{}': [{}])", self.package, known.join(", "))))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "has_var" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(self.ctx.globals.config.var(&self.package, &name).is_some()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn with_conn<T>(ctx: &NodeCtx, f: impl FnOnce(&mut dyn Connection) -> Result<T, Error>) -> Result<T, Error> {
    if let Some(conn) = &ctx.conn {
        let mut guard = conn.lock().map_err(|_| err("connection lock poisoned"))?;
        return f(guard.as_mut());
    }
    let adapter = ctx.globals.adapter.as_ref().ok_or_else(|| err("no database connection while rendering"))?;
    let mut conn = adapter.connect().map_err(|e| err(e.message))?;
    f(conn.as_mut())
}

fn relation_arg(v: Option<Value>, what: &str) -> Result<Relation, Error> {
    v.as_ref().and_then(RelationObj::from_value).ok_or_else(|| err(format!("{what}: expected a relation")))
}

/// `adapter.*` methods.
#[derive(Debug)]
pub struct AdapterObj {
    pub ctx: Arc<NodeCtx>,
    pub package: String,
}

impl Object for AdapterObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "behavior" => {
                let flags = self.ctx.globals.config.root.raw.get("flags").and_then(|f| f.as_object()).cloned().unwrap_or_default();
                Some(Value::from_object(BehaviorObj { flags }))
            }
            _ => None,
        }
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let exec = self.ctx.phase == Phase::Execute;
        match method {
            "dispatch" => {
                let name = arg(pos, &kwargs, 0, "macro_name").map(|v| v.to_string()).ok_or_else(|| err("adapter.dispatch needs a macro name"))?;
                let ns = arg(pos, &kwargs, 1, "macro_namespace").map(|v| v.to_string());
                self.ctx.dispatch(&name, ns.as_deref(), &self.package)
            }
            "quote" => Ok(Value::from(format!("\"{}\"", arg(pos, &kwargs, 0, "identifier").map(|v| v.to_string()).unwrap_or_default().replace('"', "\"\"")))),
            "type" => Ok(Value::from(self.ctx.globals.config.target.adapter_type.clone())),
            "get_relation" | "load_relation" => {
                if !exec {
                    return Ok(Value::from(()));
                }
                let rel = if method == "load_relation" {
                    let given = arg(pos, &kwargs, 0, "relation").unwrap_or_default();
                    RelationObj::from_value(&given).ok_or_else(|| err(format!("load_relation() expects a relation, got {given}")))?
                } else {
                    let part = |i, k| arg(pos, &kwargs, i, k).map(|v| v.to_string()).unwrap_or_default();
                    Relation::new(part(0, "database"), part(1, "schema"), part(2, "identifier"))
                };
                let kind = with_conn(&self.ctx, |c| c.relation_kind(&rel).map_err(|e| err(e.message)))?;
                Ok(match kind {
                    Some(k) => {
                        let mut o = RelationObj::new(rel);
                        o.kind = Some(k);
                        Value::from_object(o)
                    }
                    None => Value::from(()),
                })
            }
            "get_columns_in_relation" => {
                if !exec {
                    return Ok(Value::from(Vec::<Value>::new()));
                }
                let rel = relation_arg(arg(pos, &kwargs, 0, "relation"), "get_columns_in_relation")?;
                let cols = with_conn(&self.ctx, |c| c.get_columns(&rel).map_err(|e| err(e.message)))?;
                Ok(Value::from(cols.into_iter().map(|c| Value::from_object(ColumnObj::new(c.name, c.data_type))).collect::<Vec<_>>()))
            }
            "get_missing_columns" => {
                if !exec {
                    return Ok(Value::from(Vec::<Value>::new()));
                }
                let from = relation_arg(arg(pos, &kwargs, 0, "from_relation"), "get_missing_columns")?;
                let to = relation_arg(arg(pos, &kwargs, 1, "to_relation"), "get_missing_columns")?;
                let (a, b) = with_conn(&self.ctx, |c| Ok((c.get_columns(&from).map_err(|e| err(e.message))?, c.get_columns(&to).map_err(|e| err(e.message))?)))?;
                let missing: Vec<Value> = a
                    .into_iter()
                    .filter(|c| !b.iter().any(|t| t.name.eq_ignore_ascii_case(&c.name)))
                    .map(|c| Value::from_object(ColumnObj::new(c.name, c.data_type)))
                    .collect();
                Ok(Value::from(missing))
            }
            "expand_target_column_types" | "cache_added" | "cache_dropped" | "cache_renamed" | "commit" => Ok(Value::from("")),
            "create_schema" => {
                if exec {
                    let rel = relation_arg(arg(pos, &kwargs, 0, "relation"), "create_schema")?;
                    with_conn(&self.ctx, |c| c.create_schema(&rel.database, &rel.schema).map_err(|e| err(e.message)))?;
                }
                Ok(Value::from(""))
            }
            "drop_relation" => {
                if exec {
                    let rel = relation_arg(arg(pos, &kwargs, 0, "relation"), "drop_relation")?;
                    with_conn(&self.ctx, |c| {
                        if let Some(k) = c.relation_kind(&rel).map_err(|e| err(e.message))? {
                            c.drop_relation(&rel, k).map_err(|e| err(e.message))?;
                        }
                        Ok(())
                    })?;
                }
                Ok(Value::from(""))
            }
            "rename_relation" => {
                if exec {
                    let from = relation_arg(arg(pos, &kwargs, 0, "from_relation"), "rename_relation")?;
                    let to = relation_arg(arg(pos, &kwargs, 1, "to_relation"), "rename_relation")?;
                    with_conn(&self.ctx, |c| {
                        let k = c.relation_kind(&from).map_err(|e| err(e.message))?.ok_or_else(|| err(format!("{from} does not exist")))?;
                        c.rename_relation(&from, k, &to.identifier).map_err(|e| err(e.message))
                    })?;
                }
                Ok(Value::from(""))
            }
            "list_relations_without_caching" | "list_relations" => {
                if !exec {
                    return Ok(Value::from(Vec::<Value>::new()));
                }
                let rel = relation_arg(arg(pos, &kwargs, 0, "schema_relation"), method)?;
                let rels = with_conn(&self.ctx, |c| c.list_relations(&rel.database, &rel.schema).map_err(|e| err(e.message)))?;
                Ok(Value::from(
                    rels.into_iter()
                        .map(|(r, k)| {
                            let mut o = RelationObj::new(r);
                            o.kind = Some(k);
                            Value::from_object(o)
                        })
                        .collect::<Vec<_>>(),
                ))
            }
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("adapter.{method} is not supported"))),
        }
    }
}

/// `adapter.behavior`: the behavior flags of the root project's `flags:`
/// block. Every flag dbt-core and dbt-duckdb define is off by default, so
/// a flag not set there is false.
#[derive(Debug)]
pub struct BehaviorObj {
    flags: serde_json::Map<String, serde_json::Value>,
}

impl Object for BehaviorObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let on = self.flags.get(key.as_str()?).is_some_and(|v| v.as_bool().unwrap_or(false));
        Some(Value::from_object(BehaviorFlag(on)))
    }
}

/// One behavior flag: truthy when set; `.setting` and `.no_warn` read it
/// without the warning dbt prints for flags left at their default.
#[derive(Debug)]
pub struct BehaviorFlag(bool);

impl Object for BehaviorFlag {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "setting" | "no_warn" => Some(Value::from(self.0)),
            _ => None,
        }
    }
    fn is_true(self: &Arc<Self>) -> bool {
        self.0
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0 { "True" } else { "False" })
    }
}

/// A column as `adapter.get_columns_in_relation` returns it, and
/// `api.Column`: dbt's `Column` with dbt-duckdb's type families.
#[derive(Debug, Clone, Default)]
pub struct ColumnObj {
    pub name: String,
    pub dtype: String,
    pub char_size: Option<i64>,
    pub numeric_precision: Option<i64>,
    pub numeric_scale: Option<i64>,
}

impl ColumnObj {
    pub fn new(name: String, dtype: String) -> ColumnObj {
        ColumnObj { name, dtype, ..ColumnObj::default() }
    }
    fn lower(&self) -> String {
        self.dtype.to_ascii_lowercase()
    }
    pub fn is_string(&self) -> bool {
        matches!(self.lower().as_str(), "text" | "character varying" | "character" | "varchar")
    }
    pub fn is_integer(&self) -> bool {
        matches!(
            self.lower().as_str(),
            "tinyint" | "smallint" | "integer" | "bigint" | "hugeint" | "utinyint" | "usmallint" | "uinteger" | "ubigint"
                | "int1" | "int2" | "int4" | "int8" | "short" | "int" | "signed" | "long"
        )
    }
    pub fn is_float(&self) -> bool {
        matches!(self.lower().as_str(), "real" | "float" | "float4" | "float8" | "double")
    }
    pub fn is_numeric(&self) -> bool {
        matches!(self.lower().as_str(), "numeric" | "decimal")
    }
    /// dbt's `Column.data_type`: strings get their size, numerics their
    /// precision and scale when known.
    pub fn data_type(&self) -> String {
        if self.is_string() {
            format!("character varying({})", self.char_size.unwrap_or(256))
        } else if self.is_numeric() {
            numeric_type(&self.dtype, self.numeric_precision, self.numeric_scale)
        } else {
            self.dtype.clone()
        }
    }
}

fn numeric_type(dtype: &str, precision: Option<i64>, scale: Option<i64>) -> String {
    match (precision, scale) {
        (Some(p), Some(s)) => format!("{dtype}({p},{s})"),
        _ => dtype.to_string(),
    }
}

/// `Column.translate_type`: dbt's labels for generic type names. dbt-adapters
/// (1.24, with dbt-core 1.11) renames only `string`; other labels pass
/// through as written (`integer`, `timestamp`, `float` — see the type
/// macros in tests/fixtures/cross_db/golden).
pub fn translate_type(dtype: &str) -> String {
    match dtype.to_ascii_uppercase().as_str() {
        "STRING" => "TEXT".into(),
        _ => dtype.to_string(),
    }
}

fn opt_int(v: Option<Value>) -> Option<i64> {
    v.filter(|v| !v.is_none() && !v.is_undefined()).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
}

impl Object for ColumnObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let opt = |v: Option<i64>| v.map(Value::from).unwrap_or(Value::from(()));
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.name.clone()),
            "quoted" => Value::from(format!("\"{}\"", self.name)),
            "dtype" => Value::from(self.dtype.clone()),
            "data_type" => Value::from(self.data_type()),
            "char_size" => opt(self.char_size),
            "numeric_precision" => opt(self.numeric_precision),
            "numeric_scale" => opt(self.numeric_scale),
            _ => return None,
        })
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        match method {
            "is_string" => Ok(Value::from(self.is_string())),
            "is_integer" => Ok(Value::from(self.is_integer())),
            "is_float" => Ok(Value::from(self.is_float())),
            "is_numeric" => Ok(Value::from(self.is_numeric())),
            "is_number" => Ok(Value::from(self.is_integer() || self.is_numeric() || self.is_float())),
            "string_size" => {
                if !self.is_string() {
                    return Err(err("Called string_size() on non-string field!"));
                }
                Ok(Value::from(self.char_size.unwrap_or(256)))
            }
            "literal" => {
                let v = arg(pos, &kwargs, 0, "value").unwrap_or_default();
                Ok(Value::from(format!("{v}::{}", self.data_type())))
            }
            "can_expand_to" => {
                let other = arg(pos, &kwargs, 0, "other_column").unwrap_or_default();
                let Some(other) = other.downcast_object_ref::<ColumnObj>() else { return Ok(Value::from(false)) };
                Ok(Value::from(
                    self.is_string() && other.is_string() && self.char_size.unwrap_or(256) < other.char_size.unwrap_or(256),
                ))
            }
            _ => column_class_method(method, pos, &kwargs),
        }
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.data_type())
    }
}

/// Class methods of `api.Column` (also callable on instances, as in Python).
fn column_class_method(method: &str, pos: &[Value], kwargs: &Option<Kwargs>) -> Result<Value, Error> {
    let s = |i: usize, k: &str| arg(pos, kwargs, i, k).map(|v| v.to_string()).unwrap_or_default();
    match method {
        "translate_type" => Ok(Value::from(translate_type(&s(0, "dtype")))),
        "create" => Ok(Value::from_object(ColumnObj::new(s(0, "name"), translate_type(&s(1, "label_or_dtype"))))),
        "string_type" => Ok(Value::from(format!("character varying({})", s(0, "size")))),
        "numeric_type" => Ok(Value::from(numeric_type(
            &s(0, "dtype"),
            opt_int(arg(pos, kwargs, 1, "precision")),
            opt_int(arg(pos, kwargs, 2, "scale")),
        ))),
        "from_description" => {
            // dbt parses "varchar(10)" / "numeric(10,2)" into size/precision.
            let name = s(0, "name");
            let raw = s(1, "raw_data_type");
            let mut col = ColumnObj::new(name, raw.clone());
            if let Some((base, rest)) = raw.split_once('(') {
                let inner = rest.trim_end_matches(')');
                let nums: Vec<Option<i64>> = inner.split(',').map(|p| p.trim().parse().ok()).collect();
                col.dtype = base.trim().to_string();
                match nums.as_slice() {
                    [Some(n)] if col.is_string() => col.char_size = Some(*n),
                    [Some(n)] => col.numeric_precision = Some(*n),
                    [Some(p), Some(sc)] => {
                        col.numeric_precision = Some(*p);
                        col.numeric_scale = Some(*sc);
                    }
                    _ => return Err(err(format!("Could not interpret data_type \"{raw}\": could not convert to int"))),
                }
            }
            Ok(Value::from_object(col))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

/// `api.Column`: the class, for `api.Column.translate_type('string')`,
/// `api.Column.create(name, dtype)` and calling it as a constructor.
#[derive(Debug)]
pub struct ColumnClass;

impl Object for ColumnClass {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let s = |i: usize, k: &str| arg(pos, &kwargs, i, k).map(|v| v.to_string()).unwrap_or_default();
        Ok(Value::from_object(ColumnObj {
            name: s(0, "column"),
            dtype: s(1, "dtype"),
            char_size: opt_int(arg(pos, &kwargs, 2, "char_size")),
            numeric_precision: opt_int(arg(pos, &kwargs, 3, "numeric_precision")),
            numeric_scale: opt_int(arg(pos, &kwargs, 4, "numeric_scale")),
        }))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        column_class_method(method, pos, &kwargs)
    }
}

/// An agate-like table: `columns`, `column_names`, `rows`, `[i][j]`.
#[derive(Debug)]
pub struct AgateTable(pub QueryResult);

fn json_to_value(v: &serde_json::Value) -> Value {
    crate::jinja::jv(v)
}

impl Object for AgateTable {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_i64() {
            let i = if i < 0 { self.0.rows.len() as i64 + i } else { i };
            return self.0.rows.get(usize::try_from(i).ok()?).map(|r| Value::from_object(AgateRow { names: self.names(), values: r.clone() }));
        }
        Some(match key.as_str()? {
            "columns" => Value::from_object(AgateColumns(self.clone())),
            "column_names" => Value::from(self.names()),
            "column_types" => Value::from(self.0.columns.iter().map(|c| c.data_type.clone()).collect::<Vec<_>>()),
            "rows" => Value::from(self.0.rows.iter().map(|r| Value::from_object(AgateRow { names: self.names(), values: r.clone() })).collect::<Vec<_>>()),
            _ => return None,
        })
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.len())
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "print_table" => {
                println!("{}", self.names().join(" | "));
                for r in &self.0.rows {
                    println!("{}", r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | "));
                }
                Ok(Value::from(""))
            }
            "values" => Ok(Value::from(self.0.rows.iter().map(|r| Value::from(r.iter().map(json_to_value).collect::<Vec<_>>())).collect::<Vec<_>>())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl AgateTable {
    fn names(&self) -> Vec<String> {
        self.0.columns.iter().map(|c| c.name.clone()).collect()
    }
}

#[derive(Debug)]
struct AgateColumns(Arc<AgateTable>);

impl Object for AgateColumns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let cols = &self.0 .0.columns;
        let idx = match key.as_i64() {
            Some(i) => usize::try_from(if i < 0 { cols.len() as i64 + i } else { i }).ok()?,
            None => cols.iter().position(|c| Some(c.name.as_str()) == key.as_str())?,
        };
        let col = cols.get(idx)?;
        let values: Vec<serde_json::Value> = self.0 .0.rows.iter().map(|r| r.get(idx).cloned().unwrap_or(serde_json::Value::Null)).collect();
        Some(Value::from_object(AgateColumn { name: col.name.clone(), data_type: col.data_type.clone(), values }))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0 .0.columns.len())
    }
    /// agate's `MappedSequence`: a sequence of columns that is also keyed
    /// by column name.
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let cols = &self.0 .0.columns;
        let column = |i: usize| self.get_value(&Value::from(i)).unwrap_or_default();
        match method {
            "keys" => Ok(Value::from(cols.iter().map(|c| Value::from(c.name.clone())).collect::<Vec<_>>())),
            "values" => Ok(Value::from((0..cols.len()).map(column).collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                cols.iter()
                    .enumerate()
                    .map(|(i, c)| Value::from(minijinja::value::Tuple::from(vec![Value::from(c.name.clone()), column(i)])))
                    .collect::<Vec<_>>(),
            )),
            "get" => {
                let key = args.first().cloned().unwrap_or_default();
                Ok(self.get_value(&key).or_else(|| args.get(1).cloned()).unwrap_or(Value::from(())))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct AgateColumn {
    name: String,
    data_type: String,
    values: Vec<serde_json::Value>,
}

impl Object for AgateColumn {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str() {
            Some("name") => Some(Value::from(self.name.clone())),
            Some("data_type") => Some(Value::from(self.data_type.clone())),
            _ => self.values.get(usize::try_from(key.as_i64()?).ok()?).map(json_to_value),
        }
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "values" | "values_without_nulls" => Ok(Value::from(
                self.values.iter().filter(|v| method == "values" || !v.is_null()).map(json_to_value).collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct AgateRow {
    names: Vec<String>,
    values: Vec<serde_json::Value>,
}

impl Object for AgateRow {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let idx = match key.as_i64() {
            Some(i) => usize::try_from(if i < 0 { self.values.len() as i64 + i } else { i }).ok()?,
            None => self.names.iter().position(|n| Some(n.as_str()) == key.as_str())?,
        };
        self.values.get(idx).map(json_to_value)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values.iter().map(json_to_value).collect::<Vec<_>>())),
            "keys" => Ok(Value::from(self.names.clone())),
            "items" => Ok(Value::from(
                self.names.iter().zip(&self.values).map(|(n, v)| Value::from(vec![Value::from(n.clone()), json_to_value(v)])).collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `run_query(sql)`: an agate-like table at execution, none while parsing.
#[derive(Debug)]
pub struct RunQueryFn {
    pub ctx: Arc<NodeCtx>,
}

impl Object for RunQueryFn {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (sql,): (String,) = from_args(args)?;
        if self.ctx.phase == Phase::Parse {
            return Ok(Value::from(()));
        }
        let result = with_conn(&self.ctx, |c| c.query(&sql).map_err(|e| err(format!("Database Error\n  {}", e.message))))?;
        Ok(Value::from_object(AgateTable(result)))
    }
}

/// `{% call statement('name', fetch_result=True) %}sql{% endcall %}`.
#[derive(Debug)]
pub struct StatementFn {
    pub ctx: Arc<NodeCtx>,
}

impl Object for StatementFn {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let name = arg(pos, &kwargs, 0, "name").map(|v| v.to_string()).unwrap_or_else(|| "statement".into());
        let fetch = arg(pos, &kwargs, 1, "fetch_result").map(|v| v.is_true()).unwrap_or(false);
        let caller = kwarg(&kwargs, "caller").ok_or_else(|| err("statement() must be used as a {% call %} block"))?;
        let sql = caller.call(state, &[])?.to_string();
        if self.ctx.phase == Phase::Parse {
            return Ok(Value::from(""));
        }
        let result = with_conn(&self.ctx, |c| {
            if fetch {
                c.query(&sql).map(|r| (None, Some(r)))
            } else {
                c.execute(&sql).map(|r| (Some(r), None))
            }
            .map_err(|e| err(format!("Database Error\n  {}", e.message)))
        })?;
        let mut entry = std::collections::BTreeMap::new();
        let (resp, table) = result;
        let message = resp.map(|r| r.message).unwrap_or_else(|| "OK".into());
        entry.insert("response", crate::jinja::jv(serde_json::json!({"_message": message, "code": message})));
        entry.insert("sql", Value::from(sql.clone()));
        match table {
            Some(t) => {
                let data: Vec<Value> = t.rows.iter().map(|r| Value::from(r.iter().map(json_to_value).collect::<Vec<_>>())).collect();
                entry.insert("data", Value::from(data));
                entry.insert("table", Value::from_object(AgateTable(t)));
            }
            None => {
                entry.insert("data", Value::from(Vec::<Value>::new()));
                entry.insert("table", Value::from(()));
            }
        }
        if let Ok(mut s) = self.ctx.statements.lock() {
            s.insert(name, Value::from(entry));
        }
        Ok(Value::from(""))
    }
}

/// `load_result('name')`.
#[derive(Debug)]
pub struct LoadResultFn {
    pub ctx: Arc<NodeCtx>,
}

impl Object for LoadResultFn {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (name,): (String,) = from_args(args)?;
        Ok(self.ctx.statements.lock().ok().and_then(|s| s.get(&name).cloned()).unwrap_or(Value::from(())))
    }
}

/// `log(msg, info=False)`: printed at execution when `info` is true.
#[derive(Debug)]
pub struct LogFn {
    pub ctx: Arc<NodeCtx>,
}

impl Object for LogFn {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let msg = pos.first().map(|v| v.to_string()).unwrap_or_default();
        let info = arg(pos, &kwargs, 1, "info").map(|v| v.is_true()).unwrap_or(false);
        if info && self.ctx.phase == Phase::Execute {
            println!("{}  {}", chrono::Local::now().format("%H:%M:%S"), crate::diag::scrub_secrets(&msg));
        }
        Ok(Value::from(""))
    }
}

/// `exceptions.raise_compiler_error(msg)`, `exceptions.warn(msg)`.
#[derive(Debug)]
pub struct Exceptions;

impl Object for Exceptions {
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, _) = split_kwargs(args);
        let msg = pos.first().map(|v| v.to_string()).unwrap_or_default();
        match method {
            "raise_compiler_error" => Err(err(format!("Compilation Error: {msg}"))),
            "raise_not_implemented" => Err(err(format!("Not implemented: {msg}"))),
            "raise_database_error" => Err(err(format!("Database Error: {msg}"))),
            "raise_fail_fast_error" => Err(err(format!("Fail fast: {msg}"))),
            "warn" => {
                eprintln!("{}  [WARNING]: {}", chrono::Local::now().format("%H:%M:%S"), crate::diag::scrub_secrets(&msg));
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `builtins.ref` etc., for projects that override `ref`.
#[derive(Debug)]
pub struct BuiltinsObj {
    pub ctx: Arc<NodeCtx>,
    pub package: String,
}

impl Object for BuiltinsObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "ref" => Some(Value::from_object(RefFn { ctx: self.ctx.clone(), package: self.package.clone() })),
            "source" => Some(Value::from_object(SourceFn { ctx: self.ctx.clone() })),
            "config" => Some(Value::from_object(ConfigObj { ctx: self.ctx.clone() })),
            _ => None,
        }
    }
}

/// `doc('name')` in descriptions.
#[derive(Debug)]
pub struct DocFn {
    pub ctx: Arc<NodeCtx>,
}

impl Object for DocFn {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let names: Vec<String> = args.iter().map(|v| v.to_string()).collect();
        let (pkg, name) = match names.as_slice() {
            [n] => (None, n.clone()),
            [p, n] => (Some(p.clone()), n.clone()),
            _ => return Err(err("doc() takes 1 or 2 names")),
        };
        self.ctx.record(|r| r.docs.push((pkg.clone(), name.clone())));
        if let Some(m) = &self.ctx.globals.manifest {
            let found = m.docs.values().find(|d| d.name == name && pkg.as_ref().is_none_or(|p| &d.package_name == p));
            if let Some(d) = found {
                return Ok(Value::from(d.block_contents.clone()));
            }
        }
        Ok(Value::from(""))
    }
}

/// The `caller` of a `{% call %}` block, passed into a macro that renders
/// in its own template state.
///
/// minijinja only runs a block's body in the state that defined it, and the
/// called macro runs in a new state (every macro is its own template). So the
/// body keeps a pointer to the calling state, which `MacroCaller::call` holds
/// borrowed for exactly as long as the macro runs; `alive` is cleared when that
/// call returns, and the pointer is only used on the thread that made it.
pub struct CallerBody {
    caller: Value,
    state: *mut State<'static, 'static>,
    alive: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::ThreadId,
}

// SAFETY: the raw state pointer is only dereferenced on the thread that
// created it (checked in `call`), while the borrow it came from is live.
unsafe impl Send for CallerBody {}
unsafe impl Sync for CallerBody {}

impl std::fmt::Debug for CallerBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerBody")
    }
}

/// Clears `alive` when the macro call that lent the calling state returns.
pub struct CallerScope(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CallerScope {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl CallerBody {
    /// Wraps `caller` (a macro of `state`). The returned scope must be
    /// dropped before the borrow of `state` ends.
    pub fn new(caller: Value, state: &mut State<'_, '_>) -> (Value, CallerScope) {
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let ptr = state as *mut State<'_, '_> as *mut State<'static, 'static>;
        let body = CallerBody { caller, state: ptr, alive: alive.clone(), thread: std::thread::current().id() };
        (Value::from_object(body), CallerScope(alive))
    }
}

impl Object for CallerBody {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        if !self.alive.load(std::sync::atomic::Ordering::SeqCst) || std::thread::current().id() != self.thread {
            return Err(err("caller() was called after its {% call %} block finished"));
        }
        // SAFETY: `alive` means the `MacroCaller::call` frame that holds the
        // calling state's `&mut` borrow is still on this thread's stack and
        // is not using it while the macro it called runs.
        let state = unsafe { &mut *self.state };
        self.caller.call(state, args)
    }
}

/// Shared connection handle for compile-time introspection.
pub type SharedConnection = Arc<Mutex<Box<dyn Connection>>>;
