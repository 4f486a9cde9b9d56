//! Table schemas of an ingest: columns and their logical types, coercion of
//! values into existing columns, variant columns, and the schema record
//! stored with every load.
//!
//! Coercion follows dlt: a value goes into an existing column when it can be
//! converted without loss — an integer into a double column, an integral
//! double into a bigint column, numbers/booleans/dates/timestamps/JSON into
//! a text column (as their text), numeric or boolean text into a numeric or
//! boolean column, a date into a timestamp column (midnight UTC), anything
//! into a JSON column. Otherwise the value goes to a *variant column*
//! `<column>__v_<type>` (`amount__v_text`), so nothing is lost; in
//! particular a non-integral double met in a bigint column creates
//! `<column>__v_double` instead of widening the column, as dlt does.

use std::borrow::Cow;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::normalize::{DataType, FastBuild, Scalar, canonical_timestamp};
use crate::adapter::Datum;

/// The value `s` as it is stored in a column of type `to` (staging
/// representation, see [`DataType::staging_sql`]), or `None` when it does
/// not fit and needs a variant column.
pub fn coerce<'a>(s: &Scalar<'a>, to: DataType) -> Option<Datum<'a>> {
    use DataType as T;
    Some(match (s, to) {
        (Scalar::Int(i), T::Bigint) => Datum::Int(*i),
        (Scalar::Int(i), T::Double) => Datum::Double(*i as f64),
        (Scalar::Float(f), T::Double) => Datum::Double(*f),
        (Scalar::Float(f), T::Bigint) => {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Datum::Int(*f as i64)
            } else {
                return None;
            }
        }
        (Scalar::Bool(b), T::Bool) => Datum::Bool(*b),
        (Scalar::Text(t), T::Text) | (Scalar::Date(t), T::Text | T::Date) | (Scalar::Timestamp(t, _), T::Text) => {
            Datum::Text(Cow::Borrowed(t))
        }
        (Scalar::BigNumber(n), T::Text) => Datum::Text(Cow::Owned(n.clone())),
        (Scalar::Timestamp(_, ts), T::Timestamp) => Datum::Text(Cow::Owned(canonical_timestamp(ts))),
        (Scalar::Date(t), T::Timestamp) => Datum::Text(Cow::Owned(format!("{t} 00:00:00+00"))),
        (Scalar::Int(i), T::Text) => Datum::Text(Cow::Owned(i.to_string())),
        (Scalar::Float(f), T::Text) => Datum::Text(Cow::Owned(float_text(*f))),
        (Scalar::Bool(b), T::Text) => Datum::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
        (Scalar::Json(v), T::Text | T::Json) => Datum::Text(Cow::Owned(v.to_string())),
        (Scalar::Text(t), T::Bigint) => Datum::Int(t.parse().ok()?),
        (Scalar::Text(t), T::Double) => {
            let f: f64 = t.parse().ok()?;
            if !f.is_finite() {
                return None;
            }
            Datum::Double(f)
        }
        (Scalar::Text(t), T::Bool) => match *t {
            "true" | "True" | "TRUE" => Datum::Bool(true),
            "false" | "False" | "FALSE" => Datum::Bool(false),
            _ => return None,
        },
        (other, T::Json) => Datum::Text(Cow::Owned(scalar_json(other))),
        // The `8-4-4-4-12` form goes in as a UUID; other text (braces, no
        // dashes) is left to the engine's cast, as for a text column.
        (Scalar::Text(t), T::Uuid) => parse_uuid(t).map_or(Datum::Text(Cow::Borrowed(t)), Datum::Uuid),
        _ => return None,
    })
}

/// A UUID in its `8-4-4-4-12` hex form (either case); the `uuid` crate's
/// other forms (36 characters are only ever this one) are left out.
fn parse_uuid(t: &str) -> Option<u128> {
    (t.len() == 36).then(|| uuid::Uuid::try_parse(t).ok()).flatten().map(|u| u.as_u128())
}

/// A double as JSON prints it (`1.0`, `2.5e-7`).
fn float_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
}

fn scalar_json(s: &Scalar<'_>) -> String {
    match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => float_text(*f),
        Scalar::Bool(b) => b.to_string(),
        Scalar::BigNumber(n) => n.clone(),
        Scalar::Text(t) | Scalar::Date(t) | Scalar::Timestamp(t, _) => Value::String((*t).to_string()).to_string(),
        Scalar::Json(v) => v.to_string(),
    }
}

use serde_json::Value;

/// The name of the variant column holding values of `ty` that did not fit `column`.
pub fn variant_name(column: &str, ty: DataType) -> String {
    format!("{column}__v_{}", ty.name())
}

/// One table of an ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    /// The parent table of a child (list) table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The root table this table's rows belong to (itself for a root).
    pub root: String,
    /// The resource that loads it.
    pub resource: String,
    /// Columns in table order.
    pub columns: IndexMap<String, DataType>,
}

/// What the schema record stores: every table an ingest has loaded, so the
/// next run knows the logical types (JSON vs text, variant columns) and
/// which child tables follow which root.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredSchema {
    pub version: u32,
    pub tables: Vec<TableSchema>,
}

impl StoredSchema {
    pub const VERSION: u32 = 1;

    /// A short content hash, recorded with each load (`schema_hash`).
    pub fn hash(&self) -> String {
        use sha2::Digest;
        let json = serde_json::to_string(self).unwrap_or_default();
        let digest = sha2::Sha256::digest(json.as_bytes());
        digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

/// Column lookup by name without allocating (`Arc<str>` keys).
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub list: IndexMap<Arc<str>, DataType, FastBuild>,
}

impl Columns {
    pub fn get(&self, name: &str) -> Option<(usize, DataType)> {
        self.list.get_full(name).map(|(i, _, t)| (i, *t))
    }
    pub fn push(&mut self, name: Arc<str>, ty: DataType) -> usize {
        self.list.insert_full(name, ty).0
    }
    pub fn len(&self) -> usize {
        self.list.len()
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::doc::leaked;
    use serde_json::json;

    fn c(v: &Value, to: DataType) -> Option<Datum<'static>> {
        coerce(&Scalar::infer(leaked(v)), to)
    }

    #[test]
    fn coercion_rules() {
        use DataType as T;
        let text = |s: &str| Some(Datum::Text(Cow::Owned(s.to_string())));
        assert_eq!(c(&json!(3), T::Double), Some(Datum::Double(3.0)));
        assert_eq!(c(&json!(3.0), T::Bigint), Some(Datum::Int(3)));
        assert_eq!(c(&json!(3.5), T::Bigint), None);
        assert_eq!(c(&json!("12"), T::Bigint), Some(Datum::Int(12)));
        assert_eq!(c(&json!("twelve"), T::Bigint), None);
        assert_eq!(c(&json!(12), T::Text), text("12"));
        assert_eq!(c(&json!(1.5), T::Text), text("1.5"));
        assert_eq!(c(&json!(true), T::Text), text("true"));
        assert_eq!(c(&json!(true), T::Bigint), None);
        assert_eq!(c(&json!("2024-01-02"), T::Timestamp), text("2024-01-02 00:00:00+00"));
        assert_eq!(c(&json!("2024-01-02T03:04:05+01:00"), T::Timestamp), text("2024-01-02 02:04:05+00"));
        assert_eq!(c(&json!("2024-01-02T03:04:05+01:00"), T::Text), text("2024-01-02T03:04:05+01:00"));
        assert_eq!(c(&json!("2024-01-02T03:04:05"), T::Date), None);
        assert_eq!(c(&json!("x"), T::Timestamp), None);
        assert_eq!(c(&json!("x"), T::Json), text("\"x\""));
        assert_eq!(c(&json!(5), T::Json), text("5"));
        assert_eq!(c(&json!("True"), T::Bool), Some(Datum::Bool(true)));
        let obj = leaked(&json!({"a": [1]}));
        assert_eq!(coerce(&Scalar::Json(obj), T::Text), text("{\"a\":[1]}"));
        assert_eq!(coerce(&Scalar::Json(obj), T::Bigint), None);
        // Text into a UUID column (one made by an earlier load or by hand).
        assert_eq!(c(&json!("0123ABCD-4567-89ab-cdef-0123456789AB"), T::Uuid), Some(Datum::Uuid(0x0123abcd_4567_89ab_cdef_0123456789ab)));
        assert_eq!(c(&json!("0123abcd456789abcdef0123456789ab"), T::Uuid), text("0123abcd456789abcdef0123456789ab"));
        assert_eq!(c(&json!("0123abcd+4567-89ab-cdef-0123456789ab"), T::Uuid), text("0123abcd+4567-89ab-cdef-0123456789ab"));
        assert_eq!(c(&json!("0123abcg-4567-89ab-cdef-0123456789ab"), T::Uuid), text("0123abcg-4567-89ab-cdef-0123456789ab"));
        assert_eq!(c(&json!(7), T::Uuid), None);
    }

    #[test]
    fn variant_names_and_hash() {
        assert_eq!(variant_name("amount", DataType::Text), "amount__v_text");
        let mut s = StoredSchema { version: 1, tables: vec![] };
        let h1 = s.hash();
        s.tables.push(TableSchema {
            name: "t".into(),
            parent: None,
            root: "t".into(),
            resource: "t".into(),
            columns: [("id".to_string(), DataType::Bigint)].into_iter().collect(),
        });
        assert_ne!(h1, s.hash());
        let back: StoredSchema = serde_json::from_str(&serde_json::to_string(&s).expect("ser")).expect("de");
        assert_eq!(back, s);
    }
}
