//! Built-in functions, filters, `modules`, `api`, and the embedded `dbt`
//! macro package (`src/jinja/macros/*.sql`, written for rdbt).

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, Value};
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
    ("types.sql", include_str!("macros/types.sql")),
    ("strings.sql", include_str!("macros/strings.sql")),
    ("dates.sql", include_str!("macros/dates.sql")),
    ("aggregates.sql", include_str!("macros/aggregates.sql")),
    ("series.sql", include_str!("macros/series.sql")),
    ("helpers.sql", include_str!("macros/helpers.sql")),
    ("materialization_helpers.sql", include_str!("macros/materialization_helpers.sql")),
    ("datafusion.sql", include_str!("macros/datafusion.sql")),
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
    // Jinja2's `tojson` filter: json.dumps with sorted keys, made safe to
    // embed in HTML.
    env.add_filter("tojson", |v: Value, args: minijinja::value::Rest<Value>, kw: minijinja::value::Kwargs| -> Result<Value, Error> {
        let indent = filter_arg(&args, &kw, 0, "indent")?.and_then(|v| v.as_usize());
        let s = match indent {
            Some(n) => super::pyvalues::json_dumps_indented(&v, true, n)?,
            None => super::pyvalues::json_dumps(&v, true)?,
        };
        let s = s.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\'', "\\u0027");
        Ok(Value::from_safe_string(s))
    });
    // Jinja2 filters minijinja lacks or does differently.
    env.add_filter("center", |s: String, width: Option<usize>| -> String {
        let width = width.unwrap_or(80);
        let n = s.chars().count();
        if n >= width {
            return s;
        }
        let pad = width - n;
        let left = pad / 2 + (pad & width & 1);
        format!("{}{s}{}", " ".repeat(left), " ".repeat(pad - left))
    });
    env.add_filter("wordcount", |s: String| -> usize {
        // Jinja2 counts `\w+` runs.
        let mut n = 0;
        let mut in_word = false;
        for c in s.chars() {
            let w = c.is_alphanumeric() || c == '_';
            if w && !in_word {
                n += 1;
            }
            in_word = w;
        }
        n
    });
    env.add_filter("wordwrap", |s: String, width: Option<usize>, break_long_words: Option<bool>, wrapstring: Option<String>| -> String {
        let width = width.unwrap_or(79).max(1);
        let sep = wrapstring.unwrap_or_else(|| "\n".into());
        let break_long = break_long_words.unwrap_or(true);
        let mut paras = Vec::new();
        for line in s.split('\n') {
            let mut lines: Vec<String> = Vec::new();
            let mut cur = String::new();
            for word in line.split_whitespace() {
                let mut word = word.to_string();
                loop {
                    let need = if cur.is_empty() { 0 } else { 1 } + word.chars().count();
                    if cur.chars().count() + need <= width {
                        if !cur.is_empty() {
                            cur.push(' ');
                        }
                        cur.push_str(&word);
                        break;
                    }
                    if !cur.is_empty() {
                        lines.push(std::mem::take(&mut cur));
                        continue;
                    }
                    if break_long && word.chars().count() > width {
                        let head: String = word.chars().take(width).collect();
                        word = word.chars().skip(width).collect();
                        lines.push(head);
                        continue;
                    }
                    cur = word;
                    break;
                }
            }
            if !cur.is_empty() {
                lines.push(cur);
            }
            paras.push(lines.join(&sep));
        }
        paras.join(&sep)
    });
    env.add_filter("xmlattr", |v: Value, autospace: Option<bool>| -> Result<Value, Error> {
        let mut parts = Vec::new();
        for k in v.try_iter()? {
            let val = v.get_item(&k)?;
            if val.is_none() || val.is_undefined() {
                continue;
            }
            parts.push(format!("{}=\"{}\"", k, markup_escape(&super::pyvalues::py_str(&val))));
        }
        let out = parts.join(" ");
        Ok(Value::from_safe_string(if autospace.unwrap_or(true) && !out.is_empty() { format!(" {out}") } else { out }))
    });
    // Jinja2's int/float: invalid input gives the default (0), '3.5'|int is 3.
    env.add_filter("int", |v: Value, args: minijinja::value::Rest<Value>, kw: minijinja::value::Kwargs| -> Result<Value, Error> {
        let default = filter_arg(&args, &kw, 0, "default")?.unwrap_or(Value::from(0));
        let base = filter_arg(&args, &kw, 1, "base")?.and_then(|b| b.as_i64()).unwrap_or(10) as u32;
        if let Some(s) = v.as_str() {
            let t = s.trim();
            let digits = match base {
                16 => t.trim_start_matches("0x").trim_start_matches("0X"),
                8 => t.trim_start_matches("0o").trim_start_matches("0O"),
                2 => t.trim_start_matches("0b").trim_start_matches("0B"),
                _ => t,
            };
            return Ok(i64::from_str_radix(&digits.replace('_', ""), base)
                .map(Value::from)
                .or_else(|_| t.parse::<f64>().map(|f| Value::from(f.trunc() as i64)))
                .unwrap_or(default));
        }
        Ok(match v.kind() {
            minijinja::value::ValueKind::Bool => Value::from(i64::from(v.is_true())),
            minijinja::value::ValueKind::Number if v.is_integer() => v,
            minijinja::value::ValueKind::Number => f64::try_from(v).map(|f| Value::from(f.trunc() as i64)).unwrap_or(default),
            _ => default,
        })
    });
    env.add_filter("float", |v: Value, default: Option<Value>| -> Value {
        let default = default.unwrap_or(Value::from(0.0));
        match v.kind() {
            minijinja::value::ValueKind::String => v.as_str().and_then(|s| s.trim().parse::<f64>().ok()).map(Value::from).unwrap_or(default),
            minijinja::value::ValueKind::Bool => Value::from(if v.is_true() { 1.0 } else { 0.0 }),
            minijinja::value::ValueKind::Number => f64::try_from(v).map(Value::from).unwrap_or(default),
            _ => default,
        }
    });
    // truncate(s, length=255, killwords=False, end='...', leeway=5)
    env.add_filter("truncate", |s: String, args: minijinja::value::Rest<Value>, kw: minijinja::value::Kwargs| -> Result<String, Error> {
        let length = filter_arg(&args, &kw, 0, "length")?.and_then(|v| v.as_usize()).unwrap_or(255);
        let killwords = filter_arg(&args, &kw, 1, "killwords")?.is_some_and(|v| v.is_true());
        let end = filter_arg(&args, &kw, 2, "end")?.map(|v| v.to_string()).unwrap_or_else(|| "...".into());
        let leeway = filter_arg(&args, &kw, 3, "leeway")?.and_then(|v| v.as_usize()).unwrap_or(5);
        let n = s.chars().count();
        if n <= length + leeway {
            return Ok(s);
        }
        let keep = length.saturating_sub(end.chars().count());
        let head: String = s.chars().take(keep).collect();
        if killwords {
            return Ok(format!("{head}{end}"));
        }
        let cut = match head.rfind(' ') {
            Some(i) => &head[..i],
            None => "",
        };
        Ok(format!("{cut}{end}"))
    });
    let escape = |v: Value| -> Value {
        if v.is_safe() {
            return v;
        }
        Value::from_safe_string(markup_escape(&super::pyvalues::py_str(&v)))
    };
    env.add_filter("escape", escape);
    env.add_filter("e", escape);
    // attr() reads attributes, never dict keys.
    env.add_filter("attr", |v: Value, name: String| -> Value {
        if v.as_object().is_some_and(|o| o.downcast_ref::<super::pyvalues::PyDict>().is_some()) || v.downcast_object_ref::<indexmap::IndexMap<Value, Value>>().is_some() {
            return Value::UNDEFINED;
        }
        v.get_attr(&name).unwrap_or(Value::UNDEFINED)
    });
    // indent(s, width=4, first=False, blank=False); a string width is the
    // indentation itself. Jinja2 appends a newline before splitting lines.
    env.add_filter("indent", |s: String, args: minijinja::value::Rest<Value>, kw: minijinja::value::Kwargs| -> Result<String, Error> {
        let pad = match filter_arg(&args, &kw, 0, "width")? {
            Some(w) if w.as_str().is_some() => w.as_str().unwrap_or_default().to_string(),
            Some(w) => " ".repeat(w.as_usize().unwrap_or(4)),
            None => "    ".to_string(),
        };
        let first = filter_arg(&args, &kw, 1, "first")?.is_some_and(|v| v.is_true());
        let blank = filter_arg(&args, &kw, 2, "blank")?.is_some_and(|v| v.is_true());
        let text = format!("{s}\n");
        let lines: Vec<&str> = text.lines().collect();
        let mut rv = if blank {
            lines.join(&format!("\n{pad}"))
        } else {
            let mut it = lines.iter();
            let mut rv = it.next().map(|l| l.to_string()).unwrap_or_default();
            let rest: Vec<String> = it.map(|l| if l.is_empty() { String::new() } else { format!("{pad}{l}") }).collect();
            if !rest.is_empty() {
                rv.push('\n');
                rv.push_str(&rest.join("\n"));
            }
            rv
        };
        if first {
            rv = format!("{pad}{rv}");
        }
        Ok(rv)
    });
    env.add_filter("urlencode", |v: Value| -> Result<String, Error> {
        let quote = |s: &str, plus: bool| -> String {
            let mut out = String::new();
            for b in s.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(b as char),
                    b'/' if !plus => out.push('/'),
                    b' ' if plus => out.push('+'),
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
            out
        };
        if let Some(s) = v.as_str() {
            return Ok(quote(s, false));
        }
        if v.kind() == minijinja::value::ValueKind::Map {
            let mut parts = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                parts.push(format!("{}={}", quote(&super::pyvalues::py_str(&k), true), quote(&super::pyvalues::py_str(&val), true)));
            }
            return Ok(parts.join("&"));
        }
        Ok(quote(&super::pyvalues::py_str(&v), false))
    });
    env.add_test("callable", |v: Value| -> bool {
        matches!(v.kind(), minijinja::value::ValueKind::Plain) && v.as_object().is_some_and(|o| !matches!(o.repr(), minijinja::value::ObjectRepr::Map | minijinja::value::ObjectRepr::Seq))
    });
    // Jinja2's `sequence`: anything with a length and items (str, dict too).
    env.add_test("sequence", |v: Value| -> bool {
        matches!(v.kind(), minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map | minijinja::value::ValueKind::String)
    });
    // `|string` is Python's `str()`.
    env.add_filter("string", |v: Value| -> Value {
        if v.as_str().is_some() { v } else { Value::from(super::pyvalues::py_str(&v)) }
    });
}

/// A filter's argument given by position `i` or keyword `name`.
fn filter_arg(args: &[Value], kw: &minijinja::value::Kwargs, i: usize, name: &str) -> Result<Option<Value>, Error> {
    let by_name: Option<Value> = kw.get(name)?;
    Ok(args.get(i).cloned().or(by_name).filter(|v| !v.is_undefined()))
}

/// markupsafe's escaping: `& < > " '` as `&amp; &lt; &gt; &#34; &#39;`.
fn markup_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn json_value(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Context functions by name.
pub fn function(name: &str) -> Option<Value> {
    Some(match name {
        // dbt's tojson(value, default=None, sort_keys=False): json.dumps.
        "tojson" => Value::from_function(|args: minijinja::value::Rest<Value>, kwargs: minijinja::value::Kwargs| -> Result<Value, Error> {
            let (pos, kwargs) = (&args.0[..], Some(kwargs));
            let value = pos.first().cloned().unwrap_or_default();
            let default = pos.get(1).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.get::<Option<Value>>("default").ok().flatten())).unwrap_or(Value::from(()));
            let sort_keys = pos.get(2).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.get::<Option<Value>>("sort_keys").ok().flatten())).is_some_and(|v| v.is_true());
            Ok(super::pyvalues::json_dumps(&value, sort_keys).map(Value::from).unwrap_or(default))
        }),
        // json.loads of a non-string is a TypeError in dbt too; invalid
        // JSON gives `default`.
        "fromjson" => Value::from_function(|s: Value, default: Option<Value>| -> Result<Value, Error> {
            let Some(text) = s.as_str() else {
                return Err(Error::new(ErrorKind::InvalidOperation, format!("TypeError: the JSON object must be str, not {}", s.kind())));
            };
            Ok(match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => crate::jinja::pyjv(&v),
                Err(_) => default.unwrap_or(Value::from(())),
            })
        }),
        // toyaml(value, default=None, sort_keys=False)
        "toyaml" => Value::from_function(|args: minijinja::value::Rest<Value>, kwargs: minijinja::value::Kwargs| -> Result<Value, Error> {
            let (pos, kwargs) = (&args.0[..], Some(kwargs));
            let v = pos.first().cloned().unwrap_or_default();
            let default = pos.get(1).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.get::<Option<Value>>("default").ok().flatten()));
            let sort_keys = pos.get(2).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.get::<Option<Value>>("sort_keys").ok().flatten())).map(|v| v.is_true());
            let mut j = json_value(&v);
            if sort_keys.unwrap_or(false) {
                j = sort_json(j);
            }
            Ok(match serde_yaml::to_string(&j) {
                Ok(s) => Value::from(s),
                Err(_) => default.unwrap_or(Value::from(())),
            })
        }),
        "fromyaml" => Value::from_function(|s: Value, default: Option<Value>| -> Value {
            match s.as_str().map(serde_yaml::from_str::<serde_yaml::Value>) {
                Some(Ok(v)) => crate::jinja::pyjv(&crate::config::yaml::to_json(v)),
                _ => default.unwrap_or(Value::from(())),
            }
        }),
        "local_md5" => Value::from_function(|s: String| -> String {
            use md5::Digest;
            format!("{:x}", md5::Md5::digest(s.as_bytes()))
        }),
        // zip(*args, default=None): tuples; a non-iterable argument gives
        // `default` (zip_strict raises instead).
        "zip" | "zip_strict" => {
            let strict = name == "zip_strict";
            Value::from_function(move |args: minijinja::value::Rest<Value>, kwargs: minijinja::value::Kwargs| -> Result<Value, Error> {
                let (pos, kwargs) = (&args.0[..], Some(kwargs));
                let lists: Result<Vec<Vec<Value>>, Error> = pos.iter().map(|a| a.try_iter().map(|i| i.collect())).collect();
                let lists = match lists {
                    Ok(l) => l,
                    Err(e) if strict => return Err(e),
                    Err(_) => return Ok(kwargs.as_ref().and_then(|k| k.get::<Option<Value>>("default").ok().flatten()).unwrap_or(Value::from(()))),
                };
                let n = lists.iter().map(Vec::len).min().unwrap_or(0);
                Ok(super::pyvalues::PyList::new_value(
                    (0..n).map(|i| Value::from(minijinja::value::Tuple::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))).collect(),
                ))
            })
        }
        // set(value, default=None); set_strict raises on a non-iterable.
        "set" | "set_strict" => {
            let strict = name == "set_strict";
            Value::from_function(move |args: minijinja::value::Rest<Value>, kwargs: minijinja::value::Kwargs| -> Result<Value, Error> {
                let (pos, kwargs) = (&args.0[..], Some(kwargs));
                let v = pos.first().cloned();
                let default = pos.get(1).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.get::<Option<Value>>("default").ok().flatten()));
                match v {
                    None => Ok(super::pyvalues::PySet::new_value(Vec::new())),
                    Some(v) => match v.try_iter() {
                        Ok(items) => Ok(super::pyvalues::PySet::new_value(items)),
                        Err(e) if strict => Err(e),
                        Err(_) => Ok(default.unwrap_or(Value::from(()))),
                    },
                }
            })
        }
        // dict_a minus dict_b: keys and list values compared case-insensitively.
        "diff_of_two_dicts" => Value::from_function(|a: Value, b: Value| -> Result<Value, Error> {
            let fold = |v: &Value| v.as_str().map(str::to_lowercase).unwrap_or_else(|| v.to_string().to_lowercase());
            let mut b_lower: Vec<(String, Vec<String>)> = Vec::new();
            for k in b.try_iter()? {
                let vals = b.get_item(&k)?.try_iter().map(|it| it.map(|x| fold(&x)).collect()).unwrap_or_default();
                b_lower.push((fold(&k), vals));
            }
            let mut out = indexmap::IndexMap::new();
            for k in a.try_iter()? {
                let av = a.get_item(&k)?;
                match b_lower.iter().find(|(bk, _)| *bk == fold(&k)) {
                    Some((_, bvals)) => {
                        let diff: Vec<Value> = av.try_iter()?.filter(|x| !bvals.contains(&fold(x))).collect();
                        if !diff.is_empty() {
                            out.insert(k, super::pyvalues::PyList::new_value(diff));
                        }
                    }
                    None => {
                        out.insert(k, av);
                    }
                }
            }
            Ok(super::pyvalues::PyDict::new_value(out))
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

/// `modules.re`: Python's `re` over the `regex` crate (no lookaround or
/// backreferences; such patterns are a clear error). Positions are in
/// characters, as in Python.
#[derive(Debug)]
struct ReModule;

const RE_IGNORECASE: i64 = 2;
const RE_MULTILINE: i64 = 8;
const RE_DOTALL: i64 = 16;
const RE_VERBOSE: i64 = 64;

fn re_compile(pattern: &str, flags: i64) -> Result<regex::Regex, Error> {
    let mut b = regex::RegexBuilder::new(&pattern.replace("\\Z", "\\z"));
    b.case_insensitive(flags & RE_IGNORECASE != 0)
        .multi_line(flags & RE_MULTILINE != 0)
        .dot_matches_new_line(flags & RE_DOTALL != 0)
        .ignore_whitespace(flags & RE_VERBOSE != 0);
    b.build().map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("re.error: {e}")))
}

/// A compiled pattern (`re.compile`).
#[derive(Debug)]
struct RePattern {
    source: String,
    flags: i64,
    re: regex::Regex,
}

/// A match: `group()`, `groups()`, `groupdict()`, `start()`, `end()`, `span()`.
#[derive(Debug)]
struct ReMatch {
    text: Arc<str>,
    /// Byte ranges of the groups (0 = whole match).
    groups: Vec<Option<(usize, usize)>>,
    names: Vec<Option<String>>,
}

impl ReMatch {
    fn new(re: &regex::Regex, text: &Arc<str>, caps: &regex::Captures<'_>) -> ReMatch {
        ReMatch {
            text: text.clone(),
            groups: (0..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end()))).collect(),
            names: re.capture_names().map(|n| n.map(str::to_string)).collect(),
        }
    }
    fn index_of(&self, key: &Value) -> Result<usize, Error> {
        if let Some(i) = key.as_usize() {
            if i < self.groups.len() {
                return Ok(i);
            }
        } else if let Some(name) = key.as_str() {
            if let Some(i) = self.names.iter().position(|n| n.as_deref() == Some(name)) {
                return Ok(i);
            }
        }
        Err(Error::new(ErrorKind::InvalidOperation, "IndexError: no such group"))
    }
    fn group(&self, i: usize) -> Value {
        match self.groups.get(i).copied().flatten() {
            Some((a, b)) => Value::from(&self.text[a..b]),
            None => Value::from(()),
        }
    }
    fn chars(&self, byte: usize) -> usize {
        self.text[..byte].chars().count()
    }
}

impl Object for ReMatch {
    /// A match is always true (`{% if m %}`), whatever its groups.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        // `m[1]`, as `m.group(1)`.
        self.index_of(key).ok().map(|i| self.group(i))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let tuple = |v: Vec<Value>| Value::from(minijinja::value::Tuple::from(v));
        let pos = |i: usize| -> Result<usize, Error> { args.get(i).map_or(Ok(0), |k| self.index_of(k)) };
        match method {
            "group" => {
                if args.len() <= 1 {
                    return Ok(self.group(pos(0)?));
                }
                Ok(tuple(args.iter().map(|k| self.index_of(k).map(|i| self.group(i))).collect::<Result<_, _>>()?))
            }
            "groups" => {
                let default = args.first().cloned().unwrap_or(Value::from(()));
                Ok(tuple((1..self.groups.len()).map(|i| if self.groups[i].is_some() { self.group(i) } else { default.clone() }).collect()))
            }
            "groupdict" => {
                let mut m = indexmap::IndexMap::new();
                for (i, n) in self.names.iter().enumerate() {
                    if let Some(n) = n {
                        m.insert(Value::from(n.clone()), self.group(i));
                    }
                }
                Ok(super::pyvalues::PyDict::new_value(m))
            }
            "start" | "end" | "span" => {
                let i = pos(0)?;
                let (a, b) = match self.groups.get(i).copied().flatten() {
                    Some((a, b)) => (self.chars(a) as i64, self.chars(b) as i64),
                    None => (-1, -1),
                };
                Ok(match method {
                    "start" => Value::from(a),
                    "end" => Value::from(b),
                    _ => tuple(vec![Value::from(a), Value::from(b)]),
                })
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = self.groups[0].unwrap_or((0, 0));
        write!(f, "<re.Match object; span=({}, {}), match={}>", self.chars(a), self.chars(b), super::pyvalues::py_str_repr(&self.text[a..b]))
    }
}

/// Python's replacement template: `\\1`, `\\g<1>`, `\\g<name>` → regex's `${..}`.
fn py_repl(rep: &str) -> String {
    let mut out = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

impl RePattern {
    fn apply(&self, method: &str, args: &[Value], kw: &Option<minijinja::value::Kwargs>) -> Result<Value, Error> {
        let s_arg = |i: usize, name: &str| -> Result<String, Error> {
            args.get(i)
                .cloned()
                .or_else(|| kw.as_ref().and_then(|k| k.peek::<Value>(name).ok()))
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .ok_or_else(|| Error::new(ErrorKind::MissingArgument, format!("re.{method}: missing '{name}'")))
        };
        let n_arg = |i: usize, name: &str| -> usize {
            args.get(i).cloned().or_else(|| kw.as_ref().and_then(|k| k.peek::<Value>(name).ok())).and_then(|v| v.as_usize()).unwrap_or(0)
        };
        let re = &self.re;
        let tuple = |v: Vec<Value>| Value::from(minijinja::value::Tuple::from(v));
        match method {
            "search" | "match" | "fullmatch" => {
                let text: Arc<str> = Arc::from(s_arg(0, "string")?);
                // `match`/`fullmatch` are anchored at the start (and end) of
                // the text, not of a line.
                let anchored;
                let r = match method {
                    "match" => {
                        anchored = re_compile(&format!("\\A(?:{})", self.source), self.flags)?;
                        &anchored
                    }
                    "fullmatch" => {
                        anchored = re_compile(&format!("\\A(?:{})\\z", self.source), self.flags)?;
                        &anchored
                    }
                    _ => re,
                };
                Ok(r.captures(&text).map(|c| Value::from_object(ReMatch::new(r, &text, &c))).unwrap_or(Value::from(())))
            }
            "findall" => {
                let text = s_arg(0, "string")?;
                let n = re.captures_len() - 1;
                let get = |c: &regex::Captures<'_>, i: usize| Value::from(c.get(i).map_or("", |m| m.as_str()));
                Ok(super::pyvalues::PyList::new_value(
                    re.captures_iter(&text)
                        .map(|c| match n {
                            0 => get(&c, 0),
                            1 => get(&c, 1),
                            _ => tuple((1..=n).map(|i| get(&c, i)).collect()),
                        })
                        .collect(),
                ))
            }
            "finditer" => {
                let text: Arc<str> = Arc::from(s_arg(0, "string")?);
                Ok(super::pyvalues::PyList::new_value(re.captures_iter(&text).map(|c| Value::from_object(ReMatch::new(re, &text, &c))).collect()))
            }
            "sub" | "subn" => {
                let rep = py_repl(&s_arg(0, "repl")?);
                let text = s_arg(1, "string")?;
                let count = n_arg(2, "count");
                let n = if count == 0 { re.find_iter(&text).count() } else { re.find_iter(&text).count().min(count) };
                let out = re.replacen(&text, count, rep.as_str()).into_owned();
                Ok(if method == "sub" { Value::from(out) } else { tuple(vec![Value::from(out), Value::from(n)]) })
            }
            "split" => {
                let text = s_arg(0, "string")?;
                let max = n_arg(1, "maxsplit");
                let mut out = Vec::new();
                let mut last = 0;
                for (k, c) in re.captures_iter(&text).enumerate() {
                    if max != 0 && k >= max {
                        break;
                    }
                    let Some(m) = c.get(0) else { continue };
                    out.push(Value::from(&text[last..m.start()]));
                    for i in 1..c.len() {
                        out.push(c.get(i).map_or(Value::from(()), |g| Value::from(g.as_str())));
                    }
                    last = m.end();
                }
                out.push(Value::from(&text[last..]));
                Ok(super::pyvalues::PyList::new_value(out))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl Object for RePattern {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "pattern" => Some(Value::from(self.source.clone())),
            "flags" => Some(Value::from(self.flags)),
            _ => None,
        }
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = match args.split_last() {
            Some((last, rest)) if last.is_kwargs() => (rest, Some(minijinja::value::Kwargs::try_from(last.clone())?)),
            _ => (args, None),
        };
        self.apply(method, pos, &kw)
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "re.compile({})", super::pyvalues::py_str_repr(&self.source))
    }
}

impl Object for ReModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "I" | "IGNORECASE" => RE_IGNORECASE,
            "M" | "MULTILINE" => RE_MULTILINE,
            "S" | "DOTALL" => RE_DOTALL,
            "X" | "VERBOSE" => RE_VERBOSE,
            "A" | "ASCII" => 256,
            "U" | "UNICODE" => 32,
            _ => return None,
        }))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = match args.split_last() {
            Some((last, rest)) if last.is_kwargs() => (rest, Some(minijinja::value::Kwargs::try_from(last.clone())?)),
            _ => (args, None),
        };
        if method == "escape" {
            let s = pos.first().and_then(Value::as_str).unwrap_or_default();
            // Python escapes every character but ASCII letters, digits and `_`.
            let mut out = String::new();
            for c in s.chars() {
                if !(c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()) {
                    out.push('\\');
                }
                out.push(c);
            }
            return Ok(Value::from(out));
        }
        let pattern = pos.first().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default();
        // Where `flags` sits positionally in each function of Python's re.
        let flag_pos = match method {
            "compile" => 1,
            "search" | "match" | "fullmatch" | "findall" | "finditer" => 2,
            "split" | "sub" | "subn" => if method == "split" { 3 } else { 4 },
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        };
        let flags = pos.get(flag_pos).cloned().or_else(|| kw.as_ref().and_then(|k| k.peek::<Value>("flags").ok())).and_then(|v| v.as_i64()).unwrap_or(0);
        let compiled = RePattern { re: re_compile(&pattern, flags)?, source: pattern, flags };
        if method == "compile" {
            return Ok(Value::from_object(compiled));
        }
        let rest: Vec<Value> = pos.iter().skip(1).take(flag_pos - 1).cloned().collect();
        compiled.apply(method, &rest, &kw)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jinja::blocks::{BlockKind, find_blocks};

    /// (name, arguments, body) of every macro of the built-in files.
    fn builtin_macros() -> Vec<(String, Vec<String>, String)> {
        let mut out = Vec::new();
        for (file, text) in MACRO_FILES {
            for b in find_blocks(text).unwrap_or_else(|e| panic!("{file}: {}", e.message)) {
                if b.kind == BlockKind::Macro {
                    out.push((b.name.clone(), b.args.clone(), text[b.body.start..b.body.end].to_string()));
                }
            }
        }
        out
    }

    /// Every `adapter.dispatch('<name>', 'dbt')` of a built-in macro has a
    /// `default__<name>` to fall back on, taking the same arguments, and
    /// every adapter-specific implementation has a generic one beside it.
    #[test]
    fn dispatched_macros_have_default_implementations() {
        let macros = builtin_macros();
        let args_of = |name: &str| macros.iter().find(|(n, _, _)| n == name).map(|(_, a, _)| a.clone());
        let mut dispatched = 0;
        for (name, args, body) in &macros {
            let Some(rest) = body.split("adapter.dispatch('").nth(1) else { continue };
            let target = rest.split('\'').next().unwrap_or_default();
            assert!(rest[target.len()..].starts_with("', 'dbt')"), "{name}: dispatch of '{target}' is not in the dbt namespace");
            let default = args_of(&format!("default__{target}")).unwrap_or_else(|| panic!("{name} dispatches to '{target}', which has no default__{target}"));
            if target == name.as_str() {
                assert_eq!(&default, args, "default__{name} takes other arguments than {name}");
                dispatched += 1;
            }
        }
        assert!(dispatched >= 40, "only {dispatched} public macros dispatch");
        for (name, args, _) in &macros {
            if let Some(generic) = name.strip_prefix("duckdb__").or_else(|| name.strip_prefix("datafusion__")) {
                let default = args_of(&format!("default__{generic}")).unwrap_or_else(|| panic!("{name} has no default__{generic}"));
                assert_eq!(&default, args, "{name} and default__{generic} take different arguments");
            }
        }
    }

    #[test]
    fn column_type_labels() {
        use crate::jinja::objects::translate_type;
        assert_eq!(translate_type("string"), "TEXT");
        assert_eq!(translate_type("STRING"), "TEXT");
        assert_eq!(translate_type("integer"), "integer");
        assert_eq!(translate_type("float"), "float");
    }
}
