//! Python-compatible values for dbt's Jinja.
//!
//! dbt code relies on Python semantics that minijinja's values do not have:
//! list and dict literals are mutable (`{% do cols.append(c) %}`, a macro
//! that fills a list its caller passed in), dicts keep insertion order and
//! have `update`/`pop`/`setdefault`, `set()` has `add`/`union`, and values
//! print as Python prints them (`True`, `None`, `['a', 'b']`, `{'k': 1}`).
//!
//! `PyList`, `PyDict` and `PySet` are minijinja objects with interior
//! mutability. Literals become these objects because templates are rewritten
//! before compilation (see `rewrite.rs`: `[a]` → `__py_list([a])`); values
//! coming from YAML, JSON or `var()` are converted with [`to_py`].

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use minijinja::value::{DynObject, Enumerator, Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, Output, State};

/// Name of the function the template rewriter wraps list literals in.
pub const LIST_FN: &str = "__py_list";
/// Name of the function the template rewriter wraps dict literals in.
pub const DICT_FN: &str = "__py_dict";
/// Name of the function the template rewriter wraps `{% do %}` expressions in.
pub const DISCARD_FN: &str = "__py_discard";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent data (every mutation
    // is a single Vec/IndexMap call), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn no_kwargs(method: &str, args: &[Value]) -> Result<(), Error> {
    if args.last().is_some_and(Value::is_kwargs) {
        return Err(invalid(format!("{method}() takes no keyword arguments")));
    }
    Ok(())
}

fn arity(method: &str, args: &[Value], min: usize, max: usize) -> Result<(), Error> {
    no_kwargs(method, args)?;
    if args.len() < min || args.len() > max {
        let want = if min == max { format!("exactly {min}") } else { format!("{min} to {max}") };
        return Err(invalid(format!("{method}() takes {want} argument(s) ({} given)", args.len())));
    }
    Ok(())
}

fn items_of(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

/// Python's mutable `list`.
#[derive(Debug, Default)]
pub struct PyList(Mutex<Vec<Value>>);

impl PyList {
    pub fn new_value(items: Vec<Value>) -> Value {
        Value::from_object(PyList(Mutex::new(items)))
    }
    pub fn items(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }
}

fn index_arg(v: &Value, len: usize, method: &str) -> Result<usize, Error> {
    let i = v.as_i64().ok_or_else(|| invalid(format!("{method}(): index must be an integer, not {}", v.kind())))?;
    let len = len as i64;
    let i = if i < 0 { i + len } else { i };
    if i < 0 || i >= len {
        return Err(invalid(format!("{method}(): index out of range")));
    }
    Ok(i as usize)
}

fn sort_values(items: &mut [Value], reverse: bool) {
    items.sort_by(|a, b| a.cmp(b));
    if reverse {
        items.reverse();
    }
}

impl Object for PyList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = usize::try_from(key.as_i64()?).ok()?;
        lock(&self.0).get(i).cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items())
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "append" => {
                arity(method, args, 1, 1)?;
                lock(&self.0).push(args[0].clone());
                Ok(Value::from(()))
            }
            "extend" => {
                arity(method, args, 1, 1)?;
                // Collected before locking: `l.extend(l)` iterates `l` itself.
                let new = items_of(&args[0])?;
                lock(&self.0).extend(new);
                Ok(Value::from(()))
            }
            "insert" => {
                arity(method, args, 2, 2)?;
                let mut items = lock(&self.0);
                let len = items.len() as i64;
                let i = args[0].as_i64().ok_or_else(|| invalid("insert(): index must be an integer"))?;
                // Python clamps out-of-range insert positions.
                let i = if i < 0 { (i + len).max(0) } else { i.min(len) };
                items.insert(i as usize, args[1].clone());
                Ok(Value::from(()))
            }
            "pop" => {
                arity(method, args, 0, 1)?;
                let mut items = lock(&self.0);
                if items.is_empty() {
                    return Err(invalid("pop from empty list"));
                }
                let i = match args.first() {
                    Some(i) => index_arg(i, items.len(), "pop")?,
                    None => items.len() - 1,
                };
                Ok(items.remove(i))
            }
            "remove" => {
                arity(method, args, 1, 1)?;
                let mut items = lock(&self.0);
                match items.iter().position(|x| x == &args[0]) {
                    Some(i) => {
                        items.remove(i);
                        Ok(Value::from(()))
                    }
                    None => Err(invalid("list.remove(x): x not in list")),
                }
            }
            "index" => {
                arity(method, args, 1, 1)?;
                match lock(&self.0).iter().position(|x| x == &args[0]) {
                    Some(i) => Ok(Value::from(i)),
                    None => Err(invalid(format!("{} is not in list", py_repr(&args[0])))),
                }
            }
            "count" => {
                arity(method, args, 1, 1)?;
                Ok(Value::from(lock(&self.0).iter().filter(|x| *x == &args[0]).count()))
            }
            "sort" => {
                let (rest, kwargs) = split_kwargs(args)?;
                if !rest.is_empty() {
                    return Err(invalid("sort() takes no positional arguments"));
                }
                let reverse = match &kwargs {
                    Some(k) => {
                        let r: Option<bool> = k.get("reverse")?;
                        k.assert_all_used()?;
                        r.unwrap_or(false)
                    }
                    None => false,
                };
                let mut items = self.items();
                sort_values(&mut items, reverse);
                *lock(&self.0) = items;
                Ok(Value::from(()))
            }
            "reverse" => {
                arity(method, args, 0, 0)?;
                lock(&self.0).reverse();
                Ok(Value::from(()))
            }
            "copy" => {
                arity(method, args, 0, 0)?;
                Ok(PyList::new_value(self.items()))
            }
            "clear" => {
                arity(method, args, 0, 0)?;
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("list has no method named {method}"))),
        }
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&py_repr(&Value::from_dyn_object(DynObject::new(self.clone()))))
    }
}

fn split_kwargs(args: &[Value]) -> Result<(&[Value], Option<Kwargs>), Error> {
    match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => Ok((rest, Some(Kwargs::try_from(last.clone())?))),
        _ => Ok((args, None)),
    }
}

/// Python's insertion-ordered, mutable `dict`.
#[derive(Debug, Default)]
pub struct PyDict(Mutex<IndexMap<Value, Value>>);

impl PyDict {
    pub fn new_value(map: IndexMap<Value, Value>) -> Value {
        Value::from_object(PyDict(Mutex::new(map)))
    }
    pub fn entries(&self) -> Vec<(Value, Value)> {
        lock(&self.0).iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The (key, value) pairs of a mapping value, or of an iterable of pairs, or
/// keyword arguments: what `dict.update()` and `dict()` accept.
fn pairs_of(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if v.is_kwargs() {
        let kw = Kwargs::try_from(v.clone())?;
        let mut out = Vec::new();
        for k in kw.args() {
            out.push((Value::from(k), kw.peek::<Value>(k)?));
        }
        return Ok(out);
    }
    if let Some(d) = v.downcast_object_ref::<PyDict>() {
        return Ok(d.entries());
    }
    match v.kind() {
        ValueKind::Map => {
            let mut out = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                out.push((k, val));
            }
            Ok(out)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for item in v.try_iter()? {
                let kv = items_of(&item)?;
                if kv.len() != 2 {
                    return Err(invalid("dictionary update sequence element has wrong length; 2 is required"));
                }
                out.push((kv[0].clone(), kv[1].clone()));
            }
            Ok(out)
        }
        _ => Err(invalid(format!("'{}' object is not iterable", v.kind()))),
    }
}

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).keys().cloned().collect())
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "get" => {
                arity(method, args, 1, 2)?;
                Ok(lock(&self.0).get(&args[0]).cloned().unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::from(()))))
            }
            "keys" => {
                arity(method, args, 0, 0)?;
                Ok(DictView::new_value("dict_keys", lock(&self.0).keys().cloned().collect()))
            }
            "values" => {
                arity(method, args, 0, 0)?;
                Ok(DictView::new_value("dict_values", lock(&self.0).values().cloned().collect()))
            }
            "items" => {
                arity(method, args, 0, 0)?;
                Ok(DictView::new_value(
                    "dict_items",
                    self.entries().into_iter().map(|(k, v)| Value::from(minijinja::value::Tuple::from(vec![k, v]))).collect(),
                ))
            }
            "update" => {
                let mut new = Vec::new();
                for a in args {
                    new.extend(pairs_of(a)?);
                }
                let mut map = lock(&self.0);
                for (k, v) in new {
                    map.insert(k, v);
                }
                Ok(Value::from(()))
            }
            "pop" => {
                arity(method, args, 1, 2)?;
                let removed = lock(&self.0).shift_remove(&args[0]);
                match (removed, args.get(1)) {
                    (Some(v), _) => Ok(v),
                    (None, Some(default)) => Ok(default.clone()),
                    (None, None) => Err(invalid(format!("KeyError: {}", py_repr(&args[0])))),
                }
            }
            "popitem" => {
                arity(method, args, 0, 0)?;
                match lock(&self.0).pop() {
                    Some((k, v)) => Ok(Value::from(minijinja::value::Tuple::from(vec![k, v]))),
                    None => Err(invalid("popitem(): dictionary is empty")),
                }
            }
            "setdefault" => {
                arity(method, args, 1, 2)?;
                let default = args.get(1).cloned().unwrap_or(Value::from(()));
                Ok(lock(&self.0).entry(args[0].clone()).or_insert(default).clone())
            }
            "copy" => {
                arity(method, args, 0, 0)?;
                Ok(PyDict::new_value(lock(&self.0).clone()))
            }
            "clear" => {
                arity(method, args, 0, 0)?;
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            "has_key" => {
                arity(method, args, 1, 1)?;
                Ok(Value::from(lock(&self.0).contains_key(&args[0])))
            }
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("dict has no method named {method}"))),
        }
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&py_repr(&Value::from_dyn_object(DynObject::new(self.clone()))))
    }
}

/// `dict.keys()` / `values()` / `items()`: iterable, printed as Python
/// prints views (`dict_keys(['a'])`). A snapshot: later changes to the dict
/// are not seen (Python's views are live; templates do not rely on that).
#[derive(Debug)]
pub struct DictView {
    kind: &'static str,
    items: Vec<Value>,
}

impl DictView {
    fn new_value(kind: &'static str, items: Vec<Value>) -> Value {
        Value::from_object(DictView { kind, items })
    }
}

impl Object for DictView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        None
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items.clone())
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items.len())
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&py_repr(&Value::from_dyn_object(DynObject::new(self.clone()))))
    }
}

/// Python's `range`, printed as `range(0, 3)` and iterated lazily.
#[derive(Debug)]
pub struct PyRange {
    start: i64,
    stop: i64,
    step: i64,
}

impl PyRange {
    fn len(&self) -> usize {
        let span = if self.step > 0 { self.stop - self.start } else { self.start - self.stop };
        if span <= 0 { 0 } else { ((span - 1) / self.step.abs() + 1) as usize }
    }
}

/// `range(stop)`, `range(start, stop[, step])`.
pub fn py_range_fn(a: i64, b: Option<i64>, step: Option<i64>) -> Result<Value, Error> {
    let (start, stop) = match b {
        Some(b) => (a, b),
        None => (0, a),
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(invalid("range() arg 3 must not be zero"));
    }
    Ok(Value::from_object(PyRange { start, stop, step }))
}

impl Object for PyRange {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = usize::try_from(key.as_i64()?).ok()?;
        (i < self.len()).then(|| Value::from(self.start + i as i64 * self.step))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len())
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.len())
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.step == 1 {
            write!(f, "range({}, {})", self.start, self.stop)
        } else {
            write!(f, "range({}, {}, {})", self.start, self.stop, self.step)
        }
    }
}

/// Python's `set` (dbt's `set()` / `set_strict()`), iterated in insertion
/// order. (CPython's order depends on hashes; for strings it changes from one
/// process to the next, so no template can rely on it.)
#[derive(Debug, Default)]
pub struct PySet(Mutex<IndexMap<Value, ()>>);

impl PySet {
    pub fn new_value(items: impl IntoIterator<Item = Value>) -> Value {
        Value::from_object(PySet(Mutex::new(items.into_iter().map(|v| (v, ())).collect())))
    }
    pub fn items(&self) -> Vec<Value> {
        lock(&self.0).keys().cloned().collect()
    }
}

impl Object for PySet {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        // Sets are not subscriptable.
        None
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items())
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let others = || -> Result<Vec<Vec<Value>>, Error> {
            no_kwargs(method, args)?;
            args.iter().map(items_of).collect()
        };
        match method {
            "add" => {
                arity(method, args, 1, 1)?;
                lock(&self.0).insert(args[0].clone(), ());
                Ok(Value::from(()))
            }
            "remove" | "discard" => {
                arity(method, args, 1, 1)?;
                let found = lock(&self.0).shift_remove(&args[0]).is_some();
                if !found && method == "remove" {
                    return Err(invalid(format!("KeyError: {}", py_repr(&args[0]))));
                }
                Ok(Value::from(()))
            }
            "pop" => {
                arity(method, args, 0, 0)?;
                let mut set = lock(&self.0);
                if set.is_empty() {
                    return Err(invalid("pop from an empty set"));
                }
                Ok(set.shift_remove_index(0).map(|(k, _)| k).unwrap_or_default())
            }
            "update" => {
                let new = others()?;
                let mut set = lock(&self.0);
                for v in new.into_iter().flatten() {
                    set.insert(v, ());
                }
                Ok(Value::from(()))
            }
            "union" => {
                let mut out = self.items();
                for v in others()?.into_iter().flatten() {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(PySet::new_value(out))
            }
            "intersection" => {
                let others = others()?;
                Ok(PySet::new_value(self.items().into_iter().filter(|v| others.iter().all(|o| o.contains(v)))))
            }
            "difference" => {
                let others = others()?;
                Ok(PySet::new_value(self.items().into_iter().filter(|v| !others.iter().any(|o| o.contains(v)))))
            }
            "symmetric_difference" => {
                arity(method, args, 1, 1)?;
                let other = items_of(&args[0])?;
                let mine = self.items();
                let mut out: Vec<Value> = mine.iter().filter(|v| !other.contains(v)).cloned().collect();
                out.extend(other.into_iter().filter(|v| !mine.contains(v)));
                Ok(PySet::new_value(out))
            }
            "issubset" | "issuperset" | "isdisjoint" => {
                arity(method, args, 1, 1)?;
                let other = items_of(&args[0])?;
                let mine = self.items();
                Ok(Value::from(match method {
                    "issubset" => mine.iter().all(|v| other.contains(v)),
                    "issuperset" => other.iter().all(|v| mine.contains(v)),
                    _ => !mine.iter().any(|v| other.contains(v)),
                }))
            }
            "copy" => {
                arity(method, args, 0, 0)?;
                Ok(PySet::new_value(self.items()))
            }
            "clear" => {
                arity(method, args, 0, 0)?;
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("set has no method named {method}"))),
        }
    }
    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        // Set equality ignores order.
        let other = other.downcast_ref::<PySet>()?;
        let (a, b) = (self.items(), other.items());
        Some(if a.len() == b.len() && a.iter().all(|v| b.contains(v)) { Ordering::Equal } else { a.len().cmp(&b.len()).then(Ordering::Less) })
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&py_repr(&Value::from_dyn_object(DynObject::new(self.clone()))))
    }
}

/// Deep-converts plain sequences and maps (from YAML, JSON, serde) to the
/// mutable Python containers; other values and objects are returned as is.
pub fn to_py(v: Value) -> Value {
    if let Some(items) = v.downcast_object_ref::<Vec<Value>>() {
        return PyList::new_value(items.iter().cloned().map(to_py).collect());
    }
    if let Some(map) = v.downcast_object_ref::<IndexMap<Value, Value>>() {
        return PyDict::new_value(map.iter().map(|(k, v)| (k.clone(), to_py(v.clone()))).collect());
    }
    if let Some(map) = v.downcast_object_ref::<std::collections::BTreeMap<Value, Value>>() {
        return PyDict::new_value(map.iter().map(|(k, v)| (k.clone(), to_py(v.clone()))).collect());
    }
    v
}

/// `__py_list(seq)`: the rewritten form of a list literal.
pub fn py_list_fn(v: Value) -> Result<Value, Error> {
    Ok(PyList::new_value(items_of(&v)?))
}

/// `__py_dict(map)`: the rewritten form of a dict literal.
pub fn py_dict_fn(v: Value) -> Result<Value, Error> {
    Ok(PyDict::new_value(pairs_of(&v)?.into_iter().collect()))
}

/// Python's `str()` of a float (`repr` since Python 3): the shortest
/// round-tripping digits, exponent form below 1e-4 and from 1e16.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // `{:e}` prints the shortest round-tripping digits as d.ddde<exp>.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                format!("{digits}{}.0", "0".repeat((int_len - n) as usize))
            } else {
                format!("{}.{}", &digits[..int_len as usize], &digits[int_len as usize..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{s}")
    } else {
        let frac = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

/// Python's `repr()` of a string: single quotes unless the text contains a
/// single quote and no double quote.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a value, as it appears inside a printed container.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_py(&mut out, v, true);
    out
}

/// Python's `str()` of a value: what `{{ v }}` prints in dbt.
pub fn py_str(v: &Value) -> String {
    let mut out = String::new();
    write_py(&mut out, v, false);
    out
}

fn write_seq(out: &mut String, items: impl Iterator<Item = Value>, open: &str, close: &str) {
    out.push_str(open);
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_py(out, &item, true);
    }
    out.push_str(close);
}

fn write_py(out: &mut String, v: &Value, nested: bool) {
    match v.kind() {
        ValueKind::Undefined => {
            if nested {
                out.push_str("None");
            }
        }
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number if !v.is_integer() => match f64::try_from(v.clone()) {
            Ok(f) => out.push_str(&py_float(f)),
            Err(_) => {
                let _ = write!(out, "{v}");
            }
        },
        ValueKind::String if nested => out.push_str(&py_str_repr(v.as_str().unwrap_or_default())),
        ValueKind::Seq => {
            if let Some(view) = v.downcast_object_ref::<DictView>() {
                out.push_str(view.kind);
                write_seq(out, view.items.iter().cloned(), "([", "])");
            } else if v.downcast_object_ref::<PyRange>().is_some() {
                let _ = write!(out, "{v}");
            } else if let Some(set) = v.downcast_object_ref::<PySet>() {
                let items = set.items();
                if items.is_empty() {
                    out.push_str("set()");
                } else {
                    write_seq(out, items.into_iter(), "{", "}");
                }
            } else if v.is_tuple() {
                let items: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
                let one = items.len() == 1;
                write_seq(out, items.into_iter(), "(", if one { ",)" } else { ")" });
            } else if let Ok(items) = v.try_iter() {
                write_seq(out, items, "[", "]");
            }
        }
        ValueKind::Map if v.as_object().is_some_and(is_plain_map) => {
            out.push('{');
            if let Ok(keys) = v.try_iter() {
                for (i, k) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_py(out, &k, true);
                    out.push_str(": ");
                    write_py(out, &v.get_item(&k).unwrap_or_default(), true);
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Maps that print as dicts. Other map-like objects (relations, the context,
/// `config`) print through their own `render`.
fn is_plain_map(o: &DynObject) -> bool {
    o.downcast_ref::<PyDict>().is_some()
        || o.downcast_ref::<IndexMap<Value, Value>>().is_some()
        || o.downcast_ref::<std::collections::BTreeMap<Value, Value>>().is_some()
}

/// The output formatter: `{{ v }}` prints Python's `str(v)` (autoescape is
/// off in dbt, so strings are written as they are).
pub fn py_formatter(out: &mut Output<'_>, state: &mut State<'_, '_>, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::String | ValueKind::Undefined => minijinja::escape_formatter(out, state, value),
        ValueKind::Number if value.is_integer() => minijinja::escape_formatter(out, state, value),
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::Seq | ValueKind::Map => {
            out.write_str(&py_str(value)).map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Methods on values that are not Python containers of ours (strings, plain
/// sequences and maps from filters), then minijinja-contrib's Python methods.
pub fn unknown_method(state: &mut State<'_, '_>, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        if let Some(rv) = str_method(s, method, args)? {
            return Ok(rv);
        }
    }
    match (value.kind(), method) {
        (ValueKind::Seq | ValueKind::Iterable, "copy") => return Ok(PyList::new_value(items_of(value)?)),
        (ValueKind::Seq, "index") => {
            arity(method, args, 1, 1)?;
            return match items_of(value)?.iter().position(|x| x == &args[0]) {
                Some(i) => Ok(Value::from(i)),
                None => Err(invalid(format!("{} is not in list", py_repr(&args[0])))),
            };
        }
        (ValueKind::Map, "copy") => return Ok(PyDict::new_value(pairs_of(value)?.into_iter().collect())),
        (ValueKind::Seq, "append" | "extend" | "insert" | "pop" | "remove" | "sort" | "reverse" | "clear")
        | (ValueKind::Map, "update" | "pop" | "popitem" | "setdefault" | "clear") => {
            return Err(invalid(format!(
                "cannot {method}() this {}: it is a read-only value (a tuple, or produced by a filter); \
                 make a list/dict from it first, e.g. `(x | list)` or `x.copy()`",
                value.kind()
            )));
        }
        _ => {}
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// String methods dbt code uses that minijinja-contrib does not provide, or
/// provides with a different result type (lists from `split` are mutable).
fn str_method(s: &str, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    let str_arg = |i: usize| -> Result<Option<&str>, Error> {
        match args.get(i) {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| invalid(format!("{method}(): argument must be str"))),
        }
    };
    let int_arg = |i: usize| -> Result<Option<i64>, Error> {
        match args.get(i) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| invalid(format!("{method}(): argument must be int"))),
        }
    };
    let list = |parts: Vec<String>| Some(PyList::new_value(parts.into_iter().map(Value::from).collect()));
    Ok(match method {
        "split" | "rsplit" => {
            no_kwargs(method, args)?;
            let sep = str_arg(0)?;
            let max = int_arg(1)?.filter(|m| *m >= 0).map(|m| m as usize);
            if sep == Some("") {
                return Err(invalid("empty separator"));
            }
            let parts: Vec<String> = match (sep, method) {
                (Some(sep), "split") => match max {
                    Some(m) => s.splitn(m + 1, sep).map(str::to_string).collect(),
                    None => s.split(sep).map(str::to_string).collect(),
                },
                (Some(sep), _) => {
                    let mut p: Vec<String> = match max {
                        Some(m) => s.rsplitn(m + 1, sep).map(str::to_string).collect(),
                        None => s.rsplit(sep).map(str::to_string).collect(),
                    };
                    p.reverse();
                    p
                }
                (None, "split") => match max {
                    Some(m) => split_whitespace_n(s, m),
                    None => s.split_whitespace().map(str::to_string).collect(),
                },
                (None, _) => {
                    let rev: String = s.chars().rev().collect();
                    let mut p: Vec<String> = match max {
                        Some(m) => split_whitespace_n(&rev, m),
                        None => rev.split_whitespace().map(str::to_string).collect(),
                    };
                    p = p.into_iter().map(|x| x.chars().rev().collect()).collect();
                    p.reverse();
                    p
                }
            };
            list(parts)
        }
        "splitlines" => {
            arity(method, args, 0, 0)?;
            list(s.lines().map(str::to_string).collect())
        }
        "partition" | "rpartition" => {
            arity(method, args, 1, 1)?;
            let sep = str_arg(0)?.unwrap_or_default();
            let found = if method == "partition" { s.find(sep) } else { s.rfind(sep) };
            let parts = match found {
                Some(i) => vec![&s[..i], sep, &s[i + sep.len()..]],
                None if method == "partition" => vec![s, "", ""],
                None => vec!["", "", s],
            };
            Some(Value::from(minijinja::value::Tuple::from(parts.into_iter().map(Value::from).collect::<Vec<_>>())))
        }
        "zfill" => {
            arity(method, args, 1, 1)?;
            let width = int_arg(0)?.unwrap_or(0).max(0) as usize;
            let n = s.chars().count();
            if n >= width {
                Some(Value::from(s))
            } else {
                let (sign, rest) = match s.chars().next() {
                    Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
                    _ => (String::new(), s),
                };
                Some(Value::from(format!("{sign}{}{rest}", "0".repeat(width - n))))
            }
        }
        "ljust" | "rjust" | "center" => {
            arity(method, args, 1, 2)?;
            let width = int_arg(0)?.unwrap_or(0).max(0) as usize;
            let fill = str_arg(1)?.and_then(|f| f.chars().next()).unwrap_or(' ');
            let n = s.chars().count();
            if n >= width {
                Some(Value::from(s))
            } else {
                let pad = width - n;
                let (left, right) = match method {
                    "ljust" => (0, pad),
                    "rjust" => (pad, 0),
                    // CPython puts the odd extra character on the left when
                    // the width is odd and the string length even... and on
                    // the right otherwise: left = pad/2 + (pad & width & 1).
                    _ => {
                        let left = pad / 2 + (pad & width & 1);
                        (left, pad - left)
                    }
                };
                let f = fill.to_string();
                Some(Value::from(format!("{}{s}{}", f.repeat(left), f.repeat(right))))
            }
        }
        "index" | "rindex" => {
            arity(method, args, 1, 1)?;
            let sub = str_arg(0)?.unwrap_or_default();
            let found = if method == "index" { s.find(sub) } else { s.rfind(sub) };
            match found {
                Some(i) => Some(Value::from(s[..i].chars().count())),
                None => return Err(invalid("substring not found")),
            }
        }
        "removeprefix" => {
            arity(method, args, 1, 1)?;
            let p = str_arg(0)?.unwrap_or_default();
            Some(Value::from(s.strip_prefix(p).unwrap_or(s)))
        }
        "removesuffix" => {
            arity(method, args, 1, 1)?;
            let p = str_arg(0)?.unwrap_or_default();
            Some(Value::from(s.strip_suffix(p).unwrap_or(s)))
        }
        "swapcase" => {
            arity(method, args, 0, 0)?;
            Some(Value::from(
                s.chars()
                    .flat_map(|c| if c.is_uppercase() { c.to_lowercase().collect::<Vec<_>>() } else { c.to_uppercase().collect() })
                    .collect::<String>(),
            ))
        }
        "casefold" => {
            arity(method, args, 0, 0)?;
            Some(Value::from(s.to_lowercase().replace('ß', "ss")))
        }
        // `s.startswith(prefix | (prefixes..), start=0, end=len)`.
        "startswith" | "endswith" => {
            no_kwargs(method, args)?;
            let Some(pat) = args.first() else { return Err(invalid(format!("{method}() takes at least 1 argument (0 given)"))) };
            let chars: Vec<char> = s.chars().collect();
            let n = chars.len() as i64;
            let bound = |i: usize, dflt: i64| -> Result<usize, Error> {
                let v = match args.get(i) {
                    Some(v) if !v.is_none() => v.as_i64().ok_or_else(|| invalid(format!("{method}(): slice indices must be integers")))?,
                    _ => dflt,
                };
                Ok((if v < 0 { (v + n).max(0) } else { v.min(n) }) as usize)
            };
            let (a, b) = (bound(1, 0)?, bound(2, n)?);
            let part: String = if a <= b { chars[a..b].iter().collect() } else { String::new() };
            let pats: Vec<Value> = if pat.as_str().is_some() { vec![pat.clone()] } else { items_of(pat)? };
            let mut hit = false;
            for p in &pats {
                let p = p.as_str().ok_or_else(|| invalid(format!("{method} first arg must be str or a tuple of str")))?;
                hit |= if method == "startswith" { part.starts_with(p) } else { part.ends_with(p) };
            }
            Some(Value::from(hit))
        }
        // `sep.join(iterable)`: every item must be a string, as in Python.
        "join" => {
            arity(method, args, 1, 1)?;
            let mut parts = Vec::new();
            for (i, item) in items_of(&args[0])?.into_iter().enumerate() {
                match item.as_str() {
                    Some(x) => parts.push(x.to_string()),
                    None => return Err(invalid(format!("TypeError: sequence item {i}: expected str instance, {} found", item.kind()))),
                }
            }
            Some(Value::from(parts.join(s)))
        }
        "isidentifier" => {
            arity(method, args, 0, 0)?;
            let mut chars = s.chars();
            let ok = chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric());
            Some(Value::from(ok))
        }
        "expandtabs" => {
            arity(method, args, 0, 1)?;
            let size = int_arg(0)?.unwrap_or(8).max(0) as usize;
            let mut out = String::new();
            let mut col = 0;
            for c in s.chars() {
                match c {
                    '\t' if size > 0 => {
                        let n = size - col % size;
                        out.push_str(&" ".repeat(n));
                        col += n;
                    }
                    '\t' => {}
                    '\n' | '\r' => {
                        out.push(c);
                        col = 0;
                    }
                    c => {
                        out.push(c);
                        col += 1;
                    }
                }
            }
            Some(Value::from(out))
        }
        _ => None,
    })
}

/// Python's `str.split(None, max)`: at most `max` splits on runs of
/// whitespace, the remainder kept with its leading whitespace removed.
fn split_whitespace_n(s: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if out.len() == max {
            out.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1.5e300, "1.5e+300"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(py_float(f), want, "{f}");
        }
    }

    #[test]
    fn strings_repr_like_python() {
        assert_eq!(py_str_repr("abc"), "'abc'");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_str_repr("x\ny\\"), "'x\\ny\\\\'");
    }

    #[test]
    fn containers_print_like_python() {
        let v = PyList::new_value(vec![
            Value::from("a"),
            Value::from(1),
            Value::from(true),
            Value::from(()),
            Value::from(2.5),
            PyDict::new_value([(Value::from("k"), PyList::new_value(vec![]))].into_iter().collect()),
            Value::from(minijinja::value::Tuple::from(vec![Value::from(1)])),
        ]);
        assert_eq!(py_str(&v), "['a', 1, True, None, 2.5, {'k': []}, (1,)]");
        assert_eq!(py_str(&PySet::new_value(vec![])), "set()");
        assert_eq!(py_str(&Value::from("plain")), "plain");
    }

    #[test]
    fn whitespace_split_with_max() {
        assert_eq!(split_whitespace_n("  a b  c ", 1), vec!["a", "b  c "]);
        assert_eq!(split_whitespace_n("a b c", 5), vec!["a", "b", "c"]);
    }
}

/// Python's `json.dumps(value, sort_keys=..)` with its default separators
/// (`", "`, `": "`) and `ensure_ascii`. Values JSON cannot hold (sets,
/// objects) are a `TypeError`, as in Python.
pub fn json_dumps(v: &Value, sort_keys: bool) -> Result<String, Error> {
    let mut out = String::new();
    write_json(&mut out, v, sort_keys)?;
    Ok(out)
}

/// `json.dumps(value, indent=n, sort_keys=..)`: one item per line, `","`
/// between items (no trailing space), as Python prints with an indent.
pub fn json_dumps_indented(v: &Value, sort_keys: bool, indent: usize) -> Result<String, Error> {
    // Parse the compact form back and re-print with the indentation: the
    // values themselves are already Python-exact strings.
    let compact = json_dumps(v, sort_keys)?;
    let parsed: serde_json::Value = serde_json::from_str(&compact).map_err(|e| invalid(e.to_string()))?;
    let mut out = String::new();
    write_indented(&mut out, &parsed, &compact_scalars(v, sort_keys)?, indent, 0, &mut 0);
    Ok(out)
}

/// The scalars of `v` as json.dumps prints them, in document order (so
/// floats keep Python's repr through the re-indentation).
fn compact_scalars(v: &Value, sort_keys: bool) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    fn walk(v: &Value, sort_keys: bool, out: &mut Vec<String>) -> Result<(), Error> {
        match v.kind() {
            ValueKind::Seq if v.downcast_object_ref::<PySet>().is_none() => {
                for item in v.try_iter()? {
                    walk(&item, sort_keys, out)?;
                }
            }
            ValueKind::Map if v.as_object().is_some_and(is_plain_map) => {
                let mut entries: Vec<(String, Value)> = Vec::new();
                for k in v.try_iter()? {
                    entries.push((json_key(&k)?, v.get_item(&k)?));
                }
                if sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                }
                for (_, val) in entries {
                    walk(&val, sort_keys, out)?;
                }
            }
            _ => out.push(json_dumps(v, sort_keys)?),
        }
        Ok(())
    }
    walk(v, sort_keys, &mut out)?;
    Ok(out)
}

fn write_indented(out: &mut String, v: &serde_json::Value, scalars: &[String], indent: usize, level: usize, next: &mut usize) {
    let pad = |n: usize| " ".repeat(indent * n);
    match v {
        serde_json::Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(level + 1));
                write_indented(out, item, scalars, indent, level + 1, next);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push(']');
        }
        serde_json::Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                out.push_str(&pad(level + 1));
                json_str(out, k);
                out.push_str(": ");
                write_indented(out, item, scalars, indent, level + 1, next);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push('}');
        }
        serde_json::Value::Array(_) => out.push_str("[]"),
        serde_json::Value::Object(_) => out.push_str("{}"),
        _ => {
            out.push_str(scalars.get(*next).map(String::as_str).unwrap_or("null"));
            *next += 1;
        }
    }
}

/// `s` as Python's `json.dumps` writes a string (non-ASCII escaped).
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_key(k: &Value) -> Result<String, Error> {
    Ok(match k.kind() {
        ValueKind::String => k.as_str().unwrap_or_default().to_string(),
        ValueKind::None => "null".into(),
        ValueKind::Bool => if k.is_true() { "true".into() } else { "false".into() },
        ValueKind::Number if k.is_integer() => k.to_string(),
        ValueKind::Number => py_float(f64::try_from(k.clone()).unwrap_or(f64::NAN)),
        _ => return Err(invalid(format!("TypeError: keys must be str, int, float, bool or None, not {}", k.kind()))),
    })
}

fn write_json(out: &mut String, v: &Value, sort_keys: bool) -> Result<(), Error> {
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => {
            let _ = write!(out, "{v}");
        }
        ValueKind::Number => {
            let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
            out.push_str(&if f.is_nan() {
                "NaN".to_string()
            } else if f.is_infinite() {
                if f > 0.0 { "Infinity".into() } else { "-Infinity".into() }
            } else {
                py_float(f)
            });
        }
        ValueKind::String => json_str(out, v.as_str().unwrap_or_default()),
        ValueKind::Seq if v.downcast_object_ref::<PySet>().is_none() => {
            out.push('[');
            for (i, item) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, &item, sort_keys)?;
            }
            out.push(']');
        }
        ValueKind::Map if v.as_object().is_some_and(is_plain_map) => {
            let mut entries: Vec<(String, Value)> = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                entries.push((json_key(&k)?, val));
            }
            if sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            out.push('{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_str(out, k);
                out.push_str(": ");
                write_json(out, val, sort_keys)?;
            }
            out.push('}');
        }
        _ => {
            let what = if v.downcast_object_ref::<PySet>().is_some() { "set".to_string() } else { v.kind().to_string() };
            return Err(invalid(format!("TypeError: Object of type {what} is not JSON serializable")));
        }
    }
    Ok(())
}
