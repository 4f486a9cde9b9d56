//! Built-in functions, filters, `modules`, `api`, and the embedded `dbt`
//! macro package (`src/jinja/macros/*.sql`, written for rdbt).

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, Value, from_args};
use minijinja::{Environment, Error, ErrorKind, State};

use super::objects::RelationObj;
use crate::adapter::Relation;
use crate::manifest::Manifest;

/// The dbt-core version rdbt reports (`dbt_version`, artifacts metadata).
pub use crate::artifacts::DBT_VERSION;

/// Built-in macros of the `dbt` namespace: (file name, source).
pub const MACRO_FILES: &[(&str, &str)] = &[
    ("naming.sql", include_str!("macros/naming.sql")),
    ("generic_tests.sql", include_str!("macros/generic_tests.sql")),
    ("cross_db.sql", include_str!("macros/cross_db.sql")),
];

pub fn add_filters(env: &mut Environment<'static>) {
    env.add_filter("as_bool", |v: Value| -> bool {
        match v.as_str() {
            Some(s) => s.eq_ignore_ascii_case("true"),
            None => v.is_true(),
        }
    });
    env.add_filter("as_number", |v: Value| -> Value {
        match v.as_str() {
            Some(s) => s.trim().parse::<i64>().map(Value::from).or_else(|_| s.trim().parse::<f64>().map(Value::from)).unwrap_or(v.clone()),
            None => v,
        }
    });
    env.add_filter("as_text", |v: Value| -> String { v.to_string() });
    env.add_filter("as_native", |v: Value| -> Value { v });
    // Jinja2's `list` builds a new Python list: mutable here too.
    env.add_filter("list", |v: Value| -> Result<Value, Error> {
        match v.as_str() {
            Some(s) => Ok(super::pyvalues::PyList::new_value(s.chars().map(Value::from).collect())),
            None => Ok(super::pyvalues::PyList::new_value(v.try_iter()?.collect())),
        }
    });
    // `|string` is Python's `str()`.
    env.add_filter("string", |v: Value| -> Value {
        if v.as_str().is_some() { v } else { Value::from(super::pyvalues::py_str(&v)) }
    });
}

fn json_value(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Context functions by name.
pub fn function(name: &str) -> Option<Value> {
    Some(match name {
        "tojson" => Value::from_function(|v: Value, sort_keys: Option<bool>| -> Result<String, Error> {
            let mut j = json_value(&v);
            if sort_keys.unwrap_or(false) {
                j = sort_json(j);
            }
            serde_json::to_string(&j).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
        }),
        "fromjson" => Value::from_function(|s: String, default: Option<Value>| -> Result<Value, Error> {
            match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(v) => Ok(crate::jinja::pyjv(&v)),
                Err(e) => default.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("fromjson: {e}"))),
            }
        }),
        "toyaml" => Value::from_function(|v: Value| -> Result<String, Error> {
            serde_yaml::to_string(&json_value(&v)).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
        }),
        "fromyaml" => Value::from_function(|s: String, default: Option<Value>| -> Result<Value, Error> {
            match serde_yaml::from_str::<serde_yaml::Value>(&s) {
                Ok(v) => Ok(crate::jinja::pyjv(&crate::config::yaml::to_json(v))),
                Err(e) => default.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("fromyaml: {e}"))),
            }
        }),
        "local_md5" => Value::from_function(|s: String| -> String {
            use md5::Digest;
            format!("{:x}", md5::Md5::digest(s.as_bytes()))
        }),
        "zip" | "zip_strict" => Value::from_function(|args: minijinja::value::Rest<Value>| -> Result<Value, Error> {
            let lists: Vec<Vec<Value>> = args.iter().map(|a| a.try_iter().map(|i| i.collect())).collect::<Result<_, _>>()?;
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::from((0..n).map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>())).collect::<Vec<_>>()))
        }),
        "set" | "set_strict" => Value::from_function(|v: Option<Value>| -> Result<Value, Error> {
            match v {
                Some(v) => Ok(super::pyvalues::PySet::new_value(v.try_iter()?)),
                None => Ok(super::pyvalues::PySet::new_value(Vec::new())),
            }
        }),
        "diff_of_two_dicts" => Value::from_function(|a: Value, b: Value| -> Result<Value, Error> {
            let mut out = BTreeMap::new();
            for k in a.try_iter()? {
                if b.get_item(&k).map(|v| v.is_undefined()).unwrap_or(true) {
                    out.insert(k.to_string(), a.get_item(&k)?);
                }
            }
            Ok(Value::from(out))
        }),
        _ => return None,
    })
}

fn sort_json(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sort_json(v))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(sort_json).collect()),
        other => other,
    }
}

/// `modules`: `datetime`, `pytz`, `re`, `itertools`.
pub fn modules() -> Value {
    let mut m = BTreeMap::new();
    m.insert("datetime", Value::from_object(super::pydatetime::DatetimeModule));
    m.insert("pytz", Value::from_object(super::pydatetime::PytzModule));
    m.insert("re", Value::from_object(ReModule));
    m.insert("itertools", Value::from_object(ItertoolsModule));
    Value::from(m)
}

/// `modules.itertools`: the functions of Python's module that take no
/// callables (Jinja has no lambdas), returning lists (Python returns
/// iterators; in templates they are consumed the same way).
#[derive(Debug)]
struct ItertoolsModule;

impl Object for ItertoolsModule {
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        use super::pyvalues::PyList;
        let (pos, kwargs) = match args.split_last() {
            Some((last, rest)) if last.is_kwargs() => (rest, Some(minijinja::value::Kwargs::try_from(last.clone())?)),
            _ => (args, None),
        };
        let items = |v: &Value| -> Result<Vec<Value>, Error> { Ok(v.try_iter()?.collect()) };
        let tuple = |v: Vec<Value>| Value::from(minijinja::value::Tuple::from(v));
        let int_kw = |name: &str, i: usize| -> Result<Option<usize>, Error> {
            match pos.get(i).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.peek::<Value>(name).ok())) {
                Some(v) if v.is_none() => Ok(None),
                Some(v) => v.as_usize().map(Some).ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("itertools.{method}: {name} must be a non-negative integer"))),
                None => Ok(None),
            }
        };
        let out: Vec<Value> = match method {
            "chain" => {
                let mut out = Vec::new();
                for a in pos {
                    out.extend(items(a)?);
                }
                out
            }
            "product" => {
                let repeat = kwargs.as_ref().and_then(|k| k.peek::<usize>("repeat").ok()).unwrap_or(1);
                let mut pools: Vec<Vec<Value>> = Vec::new();
                for _ in 0..repeat {
                    for a in pos {
                        pools.push(items(a)?);
                    }
                }
                let mut acc: Vec<Vec<Value>> = vec![vec![]];
                for pool in pools {
                    acc = acc.into_iter().flat_map(|prefix| pool.iter().map(move |x| [prefix.clone(), vec![x.clone()]].concat())).collect();
                }
                acc.into_iter().map(tuple).collect()
            }
            "combinations" | "combinations_with_replacement" | "permutations" => {
                let pool = items(pos.first().ok_or_else(|| Error::from(ErrorKind::MissingArgument))?)?;
                let r = match method {
                    "permutations" => int_kw("r", 1)?.unwrap_or(pool.len()),
                    _ => int_kw("r", 1)?.ok_or_else(|| Error::from(ErrorKind::MissingArgument))?,
                };
                let mut out = Vec::new();
                let mut idx: Vec<usize> = Vec::with_capacity(r);
                fn rec(method: &str, n: usize, r: usize, start: usize, idx: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
                    if idx.len() == r {
                        out.push(idx.clone());
                        return;
                    }
                    let from = if method == "permutations" { 0 } else { start };
                    for i in from..n {
                        if method == "permutations" && idx.contains(&i) {
                            continue;
                        }
                        idx.push(i);
                        let next = if method == "combinations" { i + 1 } else { i };
                        rec(method, n, r, next, idx, out);
                        idx.pop();
                    }
                }
                let mut picks = Vec::new();
                rec(method, pool.len(), r, 0, &mut idx, &mut picks);
                for p in picks {
                    out.push(tuple(p.into_iter().map(|i| pool[i].clone()).collect()));
                }
                out
            }
            "islice" => {
                let src = items(pos.first().ok_or_else(|| Error::from(ErrorKind::MissingArgument))?)?;
                let (start, stop) = match (int_kw("start", 1)?, int_kw("stop", 2)?) {
                    (a, None) if pos.len() == 2 => (0, a),
                    (a, b) => (a.unwrap_or(0), b),
                };
                src.into_iter().skip(start).take(stop.map_or(usize::MAX, |s| s.saturating_sub(start))).collect()
            }
            "zip_longest" => {
                let lists: Vec<Vec<Value>> = pos.iter().map(items).collect::<Result<_, _>>()?;
                let fill = kwargs.as_ref().and_then(|k| k.peek::<Value>("fillvalue").ok()).unwrap_or(Value::from(()));
                let n = lists.iter().map(Vec::len).max().unwrap_or(0);
                (0..n).map(|i| tuple(lists.iter().map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone())).collect())).collect()
            }
            "repeat" => {
                let v = pos.first().cloned().unwrap_or_default();
                let times = int_kw("times", 1)?.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "itertools.repeat needs `times` in templates"))?;
                std::iter::repeat_n(v, times).collect()
            }
            "groupby" => {
                // Without a key function: runs of equal consecutive items.
                let src = items(pos.first().ok_or_else(|| Error::from(ErrorKind::MissingArgument))?)?;
                let mut out: Vec<Value> = Vec::new();
                let mut run: Vec<Value> = Vec::new();
                for v in src {
                    if run.last().is_some_and(|l| *l != v) {
                        out.push(tuple(vec![run[0].clone(), PyList::new_value(std::mem::take(&mut run))]));
                    }
                    run.push(v);
                }
                if !run.is_empty() {
                    out.push(tuple(vec![run[0].clone(), PyList::new_value(run)]));
                }
                out
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        };
        Ok(PyList::new_value(out))
    }
}

#[derive(Debug)]
struct ReModule;

impl Object for ReModule {
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let re_err = |e: regex::Error| Error::new(ErrorKind::InvalidOperation, format!("re.{method}: {e}"));
        match method {
            "search" | "match" | "fullmatch" => {
                let (pat, s): (String, String) = from_args(&args[..args.len().min(2)])?;
                let pat = match method {
                    "match" => format!("^(?:{pat})"),
                    "fullmatch" => format!("^(?:{pat})$"),
                    _ => pat,
                };
                let re = regex::Regex::new(&pat).map_err(re_err)?;
                Ok(match re.captures(&s) {
                    Some(c) => Value::from(c.iter().map(|m| m.map(|m| Value::from(m.as_str())).unwrap_or(Value::from(()))).collect::<Vec<_>>()),
                    None => Value::from(()),
                })
            }
            "findall" => {
                let (pat, s): (String, String) = from_args(&args[..args.len().min(2)])?;
                let re = regex::Regex::new(&pat).map_err(re_err)?;
                Ok(Value::from(re.find_iter(&s).map(|m| m.as_str().to_string()).collect::<Vec<_>>()))
            }
            "sub" => {
                let (pat, rep, s): (String, String, String) = from_args(&args[..args.len().min(3)])?;
                let re = regex::Regex::new(&pat).map_err(re_err)?;
                let rep = regex::Regex::new(r"\\(\d)").map(|r| r.replace_all(&rep, "$${$1}").into_owned()).unwrap_or(rep);
                Ok(Value::from(re.replace_all(&s, rep.as_str()).into_owned()))
            }
            "split" => {
                let (pat, s): (String, String) = from_args(&args[..args.len().min(2)])?;
                let re = regex::Regex::new(&pat).map_err(re_err)?;
                Ok(Value::from(re.split(&s).map(str::to_string).collect::<Vec<_>>()))
            }
            "escape" => {
                let (s,): (String,) = from_args(args)?;
                Ok(Value::from(regex::escape(&s)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `api.Relation.create(...)`, `api.Column(...)`.
pub fn api() -> Value {
    let mut m = BTreeMap::new();
    m.insert("Relation", Value::from_object(RelationClass));
    m.insert("Column", Value::from_object(super::objects::ColumnClass));
    Value::from(m)
}

#[derive(Debug)]
struct RelationClass;

impl Object for RelationClass {
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "create" => {
                let kwargs = args.last().filter(|v| v.is_kwargs()).and_then(|v| minijinja::value::Kwargs::try_from(v.clone()).ok());
                let get = |k: &str| kwargs.as_ref().and_then(|kw| kw.peek::<Option<String>>(k).ok().flatten()).unwrap_or_default();
                let mut r = RelationObj::new(Relation::new(get("database"), get("schema"), get("identifier")));
                r.kind = match get("type").as_str() {
                    "table" => Some(crate::adapter::RelationKind::Table),
                    "view" => Some(crate::adapter::RelationKind::View),
                    _ => None,
                };
                Ok(Value::from_object(r))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `graph` at execution: nodes, sources, exposures as dicts.
pub fn graph_value(m: &Manifest) -> Value {
    let mut g = serde_json::Map::new();
    let nodes: serde_json::Map<String, serde_json::Value> =
        m.nodes.iter().map(|(k, n)| (k.clone(), serde_json::to_value(n).unwrap_or_default())).collect();
    g.insert("nodes".into(), serde_json::Value::Object(nodes));
    let sources: serde_json::Map<String, serde_json::Value> =
        m.sources.iter().map(|(k, n)| (k.clone(), serde_json::to_value(n).unwrap_or_default())).collect();
    g.insert("sources".into(), serde_json::Value::Object(sources));
    let exposures: serde_json::Map<String, serde_json::Value> =
        m.exposures.iter().map(|(k, n)| (k.clone(), serde_json::to_value(n).unwrap_or_default())).collect();
    g.insert("exposures".into(), serde_json::Value::Object(exposures));
    g.insert("metrics".into(), serde_json::json!({}));
    g.insert("groups".into(), serde_json::json!({}));
    crate::jinja::jv(&g)
}
