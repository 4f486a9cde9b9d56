//! Response bodies as a *tape*: one array of nodes in document order and one
//! buffer holding every string, instead of a `serde_json::Value` tree.
//!
//! A page of 200 activities (~60 fields each) as `Value` is some 25,000
//! small allocations (every key, string, map and vector) made on the fetching
//! thread and freed on the normalizing one; as a `Doc` it is two. Parsing a
//! page takes less than half the time, dropping it is free, and records are
//! read in place ([`JsonRef`]): strings borrow from the text buffer and a
//! container knows where its subtree ends, so skipping it is one step.
//!
//! Semantics are `serde_json`'s: the same numbers (integers as `i64`, larger
//! ones as `u64`, others `f64`), strings and errors (including the nesting
//! limit and trailing characters), and for a key given twice in one object
//! the member stays at its first position with its last value
//! ([`JsonRef::get`], [`JsonRef::to_value`] and [`JsonRef::write_json`] agree
//! with `Value`). [`JsonRef::members`] yields both duplicates, in order; a
//! consumer keeping the later one gets the same result.

use std::fmt::Write as _;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    Float(f64),
    /// A byte range of `Doc::text`.
    Str(u32, u32),
    /// An object member's key (a byte range of `Doc::text`); the member's
    /// value follows.
    Key(u32, u32),
    /// `end`: the index one past the container's last node.
    Array { len: u32, end: u32 },
    Object { len: u32, end: u32 },
}

/// A parsed JSON document (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    nodes: Vec<Node>,
    text: String,
}

impl Doc {
    /// Parses one JSON document (`serde_json::from_slice`'s rules).
    pub fn parse(bytes: &[u8]) -> serde_json::Result<Doc> {
        if u32::try_from(bytes.len()).is_err() {
            return Err(serde::de::Error::custom("the document is larger than 4 GiB"));
        }
        let mut doc = Doc { nodes: Vec::with_capacity(bytes.len() / 12), text: String::with_capacity(bytes.len() / 2) };
        // Checking the whole body's UTF-8 at once lets the parser skip its
        // check of every string; a body that fails is parsed from bytes,
        // so that its error is the one `from_slice` gives.
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let mut de = serde_json::Deserializer::from_str(text);
                Tape(&mut doc).deserialize(&mut de)?;
                de.end()?;
            }
            Err(_) => {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                Tape(&mut doc).deserialize(&mut de)?;
                de.end()?;
            }
        }
        Ok(doc)
    }

    /// The document of one `Value`.
    pub fn from_value(v: &Value) -> Doc {
        let mut doc = Doc::default();
        doc.push_value(v);
        doc
    }

    /// The first top-level value (`null` for an empty document).
    pub fn root(&self) -> JsonRef<'_> {
        self.at(0)
    }

    /// The value starting at node `at`.
    pub fn at(&self, at: u32) -> JsonRef<'_> {
        JsonRef { doc: self, at }
    }

    fn next_index(&self) -> u32 {
        // Documents are limited to 4 GiB of input (at most one node per
        // byte), and values pushed by `push_value` are small.
        u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let a = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(s);
        (a, u32::try_from(self.text.len()).unwrap_or(u32::MAX))
    }

    /// Appends `v` after the existing nodes as a new top-level value;
    /// returns its index.
    pub fn push_value(&mut self, v: &Value) -> u32 {
        let at = self.next_index();
        match v {
            Value::Null => self.nodes.push(Node::Null),
            Value::Bool(b) => self.nodes.push(Node::Bool(*b)),
            Value::Number(n) => self.nodes.push(match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Node::Int(i),
                (None, Some(u)) => Node::UInt(u),
                _ => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
            }),
            Value::String(s) => {
                let (a, b) = self.push_text(s);
                self.nodes.push(Node::Str(a, b));
            }
            Value::Array(items) => {
                self.nodes.push(Node::Array { len: 0, end: 0 });
                for item in items {
                    self.push_value(item);
                }
                let end = self.next_index();
                self.nodes[at as usize] = Node::Array { len: items.len() as u32, end };
            }
            Value::Object(m) => {
                self.push_object(m.iter().map(|(k, v)| (k.as_str(), v)));
            }
        }
        at
    }

    /// Appends an object of `members` as a new top-level value; returns its
    /// index.
    pub fn push_object<'v>(&mut self, members: impl IntoIterator<Item = (&'v str, &'v Value)>) -> u32 {
        let at = self.next_index();
        self.nodes.push(Node::Object { len: 0, end: 0 });
        let mut len = 0u32;
        for (k, v) in members {
            let (a, b) = self.push_text(k);
            self.nodes.push(Node::Key(a, b));
            self.push_value(v);
            len += 1;
        }
        let end = self.next_index();
        self.nodes[at as usize] = Node::Object { len, end };
        at
    }
}

/// Fills a `Doc` from a deserializer.
struct Tape<'d>(&'d mut Doc);

impl<'de> DeserializeSeed<'de> for Tape<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tape<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.nodes.push(Node::Null);
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.0.nodes.push(Node::Bool(b));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.nodes.push(Node::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.nodes.push(i64::try_from(v).map_or(Node::UInt(v), Node::Int));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // JSON has no NaN or infinity; serde_json reports overflow itself.
        self.0.nodes.push(Node::Float(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        let (a, b) = self.0.push_text(v);
        self.0.nodes.push(Node::Str(a, b));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let at = self.0.nodes.len();
        self.0.nodes.push(Node::Array { len: 0, end: 0 });
        let mut len = 0u32;
        while seq.next_element_seed(Tape(&mut *self.0))?.is_some() {
            len += 1;
        }
        let end = self.0.next_index();
        self.0.nodes[at] = Node::Array { len, end };
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at = self.0.nodes.len();
        self.0.nodes.push(Node::Object { len: 0, end: 0 });
        let mut len = 0u32;
        while map.next_key_seed(KeySeed(&mut *self.0))?.is_some() {
            map.next_value_seed(Tape(&mut *self.0))?;
            len += 1;
        }
        let end = self.0.next_index();
        self.0.nodes[at] = Node::Object { len, end };
        Ok(())
    }
}

struct KeySeed<'d>(&'d mut Doc);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        let (a, b) = self.0.push_text(v);
        self.0.nodes.push(Node::Key(a, b));
        Ok(())
    }
}

/// What a value is, with its scalar content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    Float(f64),
    Str(&'a str),
    Array,
    Object,
}

/// One value of a [`Doc`], read in place.
#[derive(Clone, Copy)]
pub struct JsonRef<'a> {
    doc: &'a Doc,
    at: u32,
}

impl std::fmt::Debug for JsonRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl PartialEq for JsonRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl<'a> JsonRef<'a> {
    fn node(&self) -> Node {
        self.doc.nodes.get(self.at as usize).copied().unwrap_or(Node::Null)
    }

    fn text(&self, a: u32, b: u32) -> &'a str {
        self.doc.text.get(a as usize..b as usize).unwrap_or("")
    }

    pub fn kind(&self) -> Kind<'a> {
        match self.node() {
            Node::Null | Node::Key(..) => Kind::Null,
            Node::Bool(b) => Kind::Bool(b),
            Node::Int(i) => Kind::Int(i),
            Node::UInt(u) => Kind::UInt(u),
            Node::Float(f) => Kind::Float(f),
            Node::Str(a, b) => Kind::Str(self.text(a, b)),
            Node::Array { .. } => Kind::Array,
            Node::Object { .. } => Kind::Object,
        }
    }

    pub fn is_null(&self) -> bool {
        self.kind() == Kind::Null
    }

    /// This value's node index in its document (`Doc::at` gives it back).
    pub fn position(&self) -> u32 {
        self.at
    }

    pub fn is_object(&self) -> bool {
        matches!(self.node(), Node::Object { .. })
    }

    pub fn is_array(&self) -> bool {
        matches!(self.node(), Node::Array { .. })
    }

    pub fn as_str(&self) -> Option<&'a str> {
        match self.kind() {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Members of an array or object (0 for scalars).
    pub fn len(&self) -> usize {
        match self.node() {
            Node::Array { len, .. } | Node::Object { len, .. } => len as usize,
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index one past this value's last node.
    fn end(&self) -> u32 {
        match self.node() {
            Node::Array { end, .. } | Node::Object { end, .. } => end,
            _ => self.at + 1,
        }
    }

    /// An object's members in document order (duplicates included); empty
    /// for other values.
    pub fn members(&self) -> Members<'a> {
        match self.node() {
            Node::Object { end, .. } => Members { doc: self.doc, pos: self.at + 1, end },
            _ => Members { doc: self.doc, pos: 0, end: 0 },
        }
    }

    /// An array's items; empty for other values.
    pub fn items(&self) -> Items<'a> {
        match self.node() {
            Node::Array { end, .. } => Items { doc: self.doc, pos: self.at + 1, end },
            _ => Items { doc: self.doc, pos: 0, end: 0 },
        }
    }

    /// The value of member `key` (the last one when it is given twice).
    pub fn get(&self, key: &str) -> Option<JsonRef<'a>> {
        self.members().filter(|(k, _)| *k == key).last().map(|(_, v)| v)
    }

    pub fn index(&self, i: usize) -> Option<JsonRef<'a>> {
        self.items().nth(i)
    }

    /// Array items or object values (duplicate keys: the kept value).
    pub fn children(&self) -> Vec<JsonRef<'a>> {
        match self.node() {
            Node::Array { .. } => self.items().collect(),
            Node::Object { .. } => dedup(self.members()).into_iter().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }

    pub fn to_value(&self) -> Value {
        match self.kind() {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(b),
            Kind::Int(i) => Value::from(i),
            Kind::UInt(u) => Value::from(u),
            Kind::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.to_string()),
            Kind::Array => Value::Array(self.items().map(|v| v.to_value()).collect()),
            Kind::Object => {
                let mut m = Map::with_capacity(self.len());
                for (k, v) in self.members() {
                    m.insert(k.to_string(), v.to_value());
                }
                Value::Object(m)
            }
        }
    }

    /// Appends this value's compact JSON text, byte for byte what
    /// `self.to_value().to_string()` gives.
    pub fn write_json(&self, out: &mut String) {
        match self.kind() {
            Kind::Object => write_members(dedup(self.members()), out),
            Kind::Array => {
                out.push('[');
                for (i, v) in self.items().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            Kind::Str(s) => write_str(s, out),
            Kind::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Kind::UInt(u) => {
                let _ = write!(out, "{u}");
            }
            // Scalars as serde_json prints them.
            _ => out.push_str(&self.to_value().to_string()),
        }
    }
}

impl std::fmt::Display for JsonRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write_json(&mut s);
        f.write_str(&s)
    }
}

fn write_str(s: &str, out: &mut String) {
    // serde_json's escaping (serializing a `&str` cannot fail).
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn write_members<'a>(members: Vec<(&'a str, JsonRef<'a>)>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(k, out);
        out.push(':');
        v.write_json(out);
    }
    out.push('}');
}

/// Members with duplicate keys folded as `serde_json::Map` folds them:
/// first position, last value.
fn dedup<'a, V>(members: impl Iterator<Item = (&'a str, V)>) -> Vec<(&'a str, V)> {
    let mut out: Vec<(&'a str, V)> = Vec::new();
    for (k, v) in members {
        match out.iter_mut().find(|(ok, _)| *ok == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

pub struct Members<'a> {
    doc: &'a Doc,
    pos: u32,
    end: u32,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, JsonRef<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let key = JsonRef { doc: self.doc, at: self.pos };
        let Node::Key(a, b) = key.node() else {
            self.pos = self.end;
            return None;
        };
        let value = JsonRef { doc: self.doc, at: self.pos + 1 };
        self.pos = value.end();
        Some((key.text(a, b), value))
    }
}

pub struct Items<'a> {
    doc: &'a Doc,
    pos: u32,
    end: u32,
}

impl<'a> Iterator for Items<'a> {
    type Item = JsonRef<'a>;
    fn next(&mut self) -> Option<JsonRef<'a>> {
        if self.pos >= self.end {
            return None;
        }
        let item = JsonRef { doc: self.doc, at: self.pos };
        self.pos = item.end();
        Some(item)
    }
}

/// The records of one page: values of one parsed body, plus the fields a
/// child resource adds to each of its (object) records from the parent
/// (`include_from_parent`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Records {
    doc: Doc,
    roots: Vec<u32>,
    /// An object node whose members every object record gets: a member the
    /// record has already is replaced in place, others come after the
    /// record's own (as inserting them into a `serde_json::Map` would).
    extra: Option<u32>,
}

impl Records {
    pub fn new(doc: Doc, roots: Vec<u32>) -> Records {
        Records { doc, roots, extra: None }
    }

    /// Records given as values (tests, benchmarks, synthetic data).
    pub fn from_values(values: &[Value]) -> Records {
        let mut doc = Doc::default();
        let roots = values.iter().map(|v| doc.push_value(v)).collect();
        Records { doc, roots, extra: None }
    }

    /// Adds `fields` to every object record (see `extra`).
    pub fn add_fields(&mut self, fields: &[(String, Value)]) {
        if fields.is_empty() {
            return;
        }
        let old: Vec<(String, Value)> =
            self.extra.map(|e| self.doc.at(e).members().map(|(k, v)| (k.to_string(), v.to_value())).collect()).unwrap_or_default();
        let merged = dedup(old.iter().chain(fields).map(|(k, v)| (k.as_str(), v)));
        self.extra = Some(self.doc.push_object(merged));
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<Record<'_>> {
        self.roots.get(i).map(|&at| self.record(at))
    }

    fn record(&self, at: u32) -> Record<'_> {
        Record { json: self.doc.at(at), extra: self.extra.map(|e| self.doc.at(e)) }
    }

    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> {
        self.roots.iter().map(|&at| self.record(at))
    }

    pub fn to_values(&self) -> Vec<Value> {
        self.iter().map(|r| r.to_value()).collect()
    }
}

/// One record of a page (see [`Records`]).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub json: JsonRef<'a>,
    extra: Option<JsonRef<'a>>,
}

impl<'a> Record<'a> {
    /// The extra fields, when the record is an object.
    fn extra(&self) -> Option<JsonRef<'a>> {
        self.extra.filter(|_| self.json.is_object())
    }

    /// An object record's members, the added fields included (see
    /// [`Records`]); empty for other records.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, JsonRef<'a>)> + use<'a> {
        let extra = self.extra();
        let own = self.json.members().map(move |(k, v)| (k, extra.and_then(|e| e.get(k)).unwrap_or(v)));
        let json = self.json;
        let added = extra.into_iter().flat_map(|e| e.members()).filter(move |(k, _)| json.get(k).is_none());
        own.chain(added)
    }

    /// The value at `path` (a first key may name an added field).
    pub fn find(&self, path: &super::spec::JsonPath) -> Option<JsonRef<'a>> {
        if let (Some(e), Some(first)) = (self.extra(), path.first_key())
            && e.get(first).is_some()
        {
            return path.find(e);
        }
        path.find(self.json)
    }

    pub fn to_value(&self) -> Value {
        match self.extra() {
            None => self.json.to_value(),
            Some(_) => {
                let mut m = Map::new();
                for (k, v) in self.fields() {
                    m.insert(k.to_string(), v.to_value());
                }
                Value::Object(m)
            }
        }
    }

    /// The record's compact JSON text (what `to_value().to_string()` gives).
    pub fn write_json(&self, out: &mut String) {
        match self.extra() {
            None => self.json.write_json(out),
            Some(_) => write_members(dedup(self.fields()), out),
        }
    }
}

/// `v` as a value that lives as long as the test (its document is leaked),
/// for tests of code that borrows from a page.
#[cfg(test)]
pub(crate) fn leaked(v: &Value) -> JsonRef<'static> {
    Box::leak(Box::new(Doc::from_value(v))).root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DOCS: &[&str] = &[
        r#"[{"id": 1, "a": {"b": [1, 2.5, -3, "x\u00e9\n\"q\"\\", null, true, {}], "c": []}, "big": 18446744073709551615, "neg": -9223372036854775808, "f": 1e-7, "g": 12.0, "h": 1.5e300}, {"id": 2}]"#,
        r#"{"z": 1, "a": {"k": 1}, "z": 3, "a": [2]}"#,
        r#""just a string""#,
        r#"3"#,
        r#"[]"#,
        r#"{}"#,
        r#"[[[]], [{"a": null}]]"#,
        "{\"ctl\": \"\\u0001\\t\", \"emoji\": \"\u{1F600}\"}",
    ];

    #[test]
    fn values_and_text_match_serde_json() {
        for d in DOCS {
            let doc = Doc::parse(d.as_bytes()).expect(d);
            let want: Value = serde_json::from_str(d).expect(d);
            assert_eq!(doc.root().to_value(), want, "{d}");
            assert_eq!(doc.root().to_string(), want.to_string(), "{d}");
            assert_eq!(Doc::from_value(&want).root().to_string(), want.to_string(), "{d}");
        }
    }

    #[test]
    fn errors_match_serde_json() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        for d in [r#"{"a": [1, 2"#, r#"{"a": 1} trailing"#, "not json", "", "1e400", "[1,]", deep.as_str()] {
            let ours = Doc::parse(d.as_bytes()).expect_err("invalid");
            let theirs = serde_json::from_str::<Value>(d).expect_err("invalid");
            assert_eq!(ours.to_string(), theirs.to_string());
        }
        // Bytes that are not UTF-8, in a string and outside one.
        for d in [&b"{\"a\": \"ok\", \"b\": \"\xff\"}"[..], b"[1, \xc3]", b"\"\xe2\x82\""] {
            let ours = Doc::parse(d).expect_err("invalid");
            let theirs = serde_json::from_slice::<Value>(d).expect_err("invalid");
            assert_eq!(ours.to_string(), theirs.to_string());
        }
    }

    #[test]
    fn navigation() {
        let doc = Doc::parse(br#"{"data": [{"id": 1, "tags": ["a", "b"]}, {"id": 2}], "k": "v", "k": "w", "n": 7}"#).expect("doc");
        let root = doc.root();
        assert_eq!(root.len(), 4);
        assert_eq!(root.get("k").and_then(|v| v.as_str()), Some("w"));
        assert_eq!(root.members().map(|(k, _)| k).collect::<Vec<_>>(), ["data", "k", "k", "n"]);
        let data = root.get("data").expect("data");
        assert_eq!(data.items().count(), 2);
        assert_eq!(data.index(1).and_then(|r| r.get("id")).map(|v| v.kind()), Some(Kind::Int(2)));
        assert_eq!(data.index(0).and_then(|r| r.get("tags")).map(|t| t.to_value()), Some(json!(["a", "b"])));
        assert_eq!(root.children().len(), 3);
        assert!(root.get("missing").is_none());
        assert!(root.get("n").expect("n").members().next().is_none());
        assert!(Doc::default().root().is_null());
    }

    #[test]
    fn records_with_added_fields() {
        let mut recs = Records::from_values(&[json!({"id": 1, "_p_id": "own", "x": {"y": 2}}), json!({"id": 2}), json!(5)]);
        recs.add_fields(&[("_p_id".to_string(), json!(9)), ("_p_name".to_string(), json!("n"))]);
        let want = [json!({"id": 1, "_p_id": 9, "x": {"y": 2}, "_p_name": "n"}), json!({"id": 2, "_p_id": 9, "_p_name": "n"}), json!(5)];
        assert_eq!(recs.to_values(), want);
        for (r, w) in recs.iter().zip(&want) {
            let mut s = String::new();
            r.write_json(&mut s);
            assert_eq!(s, w.to_string());
        }
        let path = crate::ingest::spec::JsonPath::parse("_p_name").expect("path");
        assert_eq!(recs.get(1).and_then(|r| r.find(&path)).and_then(|v| v.as_str()), Some("n"));
        let path = crate::ingest::spec::JsonPath::parse("x.y").expect("path");
        assert_eq!(recs.get(0).and_then(|r| r.find(&path)).map(|v| v.kind()), Some(Kind::Int(2)));
        assert_eq!(recs.len(), 3);
    }
}
