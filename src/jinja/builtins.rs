//! Built-in functions, filters, `modules`, `api`, and the embedded `dbt`
//! macro package (`src/jinja/macros/*.sql`, written for rdbt).

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, Value, from_args};
use minijinja::{Environment, Error, ErrorKind, State};

use super::objects::{DateTimeObj, RelationObj};
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

/// `modules`: `datetime` and `re`.
pub fn modules() -> Value {
    let mut m = BTreeMap::new();
    m.insert("datetime", Value::from_object(DatetimeModule));
    m.insert("re", Value::from_object(ReModule));
    Value::from(m)
}

#[derive(Debug)]
struct DatetimeModule;

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DatetimeClass)),
            "date" => Some(Value::from_object(DateClass)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct DatetimeClass;

impl Object for DatetimeClass {
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "now" => Ok(Value::from_object(DateTimeObj(chrono::Local::now().fixed_offset()))),
            "utcnow" => Ok(Value::from_object(DateTimeObj(chrono::Utc::now().fixed_offset()))),
            "strptime" => {
                let (s, fmt): (String, String) = from_args(args)?;
                let fmt = fmt.replace("%f", "%.f");
                let naive = chrono::NaiveDateTime::parse_from_str(&s, &fmt)
                    .or_else(|_| chrono::NaiveDate::parse_from_str(&s, &fmt).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default()))
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("strptime('{s}'): {e}")))?;
                Ok(Value::from_object(DateTimeObj(naive.and_utc().fixed_offset())))
            }
            "fromisoformat" => {
                let (s,): (String,) = from_args(args)?;
                let dt = chrono::DateTime::parse_from_rfc3339(&s)
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc().fixed_offset()))
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f").map(|n| n.and_utc().fixed_offset()))
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromisoformat('{s}'): {e}")))?;
                Ok(Value::from_object(DateTimeObj(dt)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct DateClass;

impl Object for DateClass {
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "today" => Ok(Value::from(chrono::Local::now().format("%Y-%m-%d").to_string())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
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
