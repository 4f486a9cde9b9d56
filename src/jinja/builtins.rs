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
    ("cross_db.sql", include_str!("macros/cross_db.sql")),
    ("materialization_helpers.sql", include_str!("macros/materialization_helpers.sql")),
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
    env.add_filter("tojson", |v: Value| -> Result<Value, Error> {
        let s = super::pyvalues::json_dumps(&v, true)?;
        let s = s.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\'', "\\u0027");
        Ok(Value::from_safe_string(s))
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
        // dbt's tojson(value, default=None, sort_keys=False): json.dumps.
        "tojson" => Value::from_function(|args: minijinja::value::Rest<Value>| -> Result<Value, Error> {
            let (pos, kwargs) = match args.split_last() {
                Some((last, rest)) if last.is_kwargs() => (rest, Some(minijinja::value::Kwargs::try_from(last.clone())?)),
                _ => (&args[..], None),
            };
            let value = pos.first().cloned().unwrap_or_default();
            let default = pos.get(1).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.peek::<Value>("default").ok())).unwrap_or(Value::from(()));
            let sort_keys = pos.get(2).cloned().or_else(|| kwargs.as_ref().and_then(|k| k.peek::<Value>("sort_keys").ok())).is_some_and(|v| v.is_true());
            Ok(super::pyvalues::json_dumps(&value, sort_keys).map(Value::from).unwrap_or(default))
        }),
        "fromjson" => Value::from_function(|s: Value, default: Option<Value>| -> Value {
            match s.as_str().map(serde_json::from_str::<serde_json::Value>) {
                Some(Ok(v)) => crate::jinja::pyjv(&v),
                _ => default.unwrap_or(Value::from(())),
            }
        }),
        // toyaml(value, default=None, sort_keys=False)
        "toyaml" => Value::from_function(|v: Value, default: Option<Value>, sort_keys: Option<bool>| -> Value {
            let mut j = json_value(&v);
            if sort_keys.unwrap_or(false) {
                j = sort_json(j);
            }
            match serde_yaml::to_string(&j) {
                Ok(s) => Value::from(s),
                Err(_) => default.unwrap_or(Value::from(())),
            }
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
            Value::from_function(move |args: minijinja::value::Rest<Value>| -> Result<Value, Error> {
                let (pos, kwargs) = match args.split_last() {
                    Some((last, rest)) if last.is_kwargs() => (rest, Some(minijinja::value::Kwargs::try_from(last.clone())?)),
                    _ => (&args[..], None),
                };
                let lists: Result<Vec<Vec<Value>>, Error> = pos.iter().map(|a| a.try_iter().map(|i| i.collect())).collect();
                let lists = match lists {
                    Ok(l) => l,
                    Err(e) if strict => return Err(e),
                    Err(_) => return Ok(kwargs.as_ref().and_then(|k| k.peek::<Value>("default").ok()).unwrap_or(Value::from(()))),
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
            Value::from_function(move |v: Option<Value>, default: Option<Value>| -> Result<Value, Error> {
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
