//! Records → flat rows: identifier normalization, type inference and the
//! relational unnesting of JSON, following dlt's behaviour on DuckDB.
//!
//! - Names: [`snake_case`] per path fragment; nested object fields are joined
//!   with `__` (`athlete.id` → `athlete__id`).
//! - Nested objects are flattened into their row; lists become rows of a
//!   child table `<table>__<field>` (scalars in a `value` column, a list of
//!   lists through an intermediate row with a `list` field, as dlt does).
//! - `max_table_nesting` counts both kinds of nesting: a nested value met at
//!   level `l` is flattened/unnested only while `l + 1 <= max`, otherwise it
//!   is kept whole as JSON. Root fields are at level 0, so `Some(0)` keeps
//!   every nested value as JSON in the root table.
//! - Nulls and empty objects produce no cell, so a column that has only ever
//!   seen nulls does not exist yet (dlt creates columns from the first
//!   non-null value).
//!
//! Name lookups are cached (`Normalizer`): a page of a thousand records with
//! sixty fields normalizes each distinct key once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use super::doc::{JsonRef, Kind, Record};

/// dlt's snake_case naming convention, written from its documented
/// behaviour: the characters `+ - * @ |` become `x _ x a l`, every other
/// non-alphanumeric character becomes `_`, case breaks get an underscore
/// (`camelCase` → `camel_case`, `HTTPResponse` → `http_response`), the result
/// is lowercased, a leading digit gets a `_` prefix, trailing underscores
/// become `x` (so `a_` does not collide with `a`), and runs of underscores
/// collapse to one (so a name never contains the `__` path separator). An
/// empty name becomes `_`.
pub fn snake_case(ident: &str) -> String {
    // 1. reduce the alphabet; a run of other characters becomes one `_`
    let mut chars: Vec<char> = Vec::with_capacity(ident.len());
    let mut in_run = false;
    for c in ident.chars() {
        let mapped = match c {
            '+' | '*' => 'x',
            '-' => '_',
            '@' => 'a',
            '|' => 'l',
            c if c.is_ascii_alphanumeric() || c == '_' || c.is_numeric() => c,
            _ => {
                if !in_run {
                    chars.push('_');
                }
                in_run = true;
                continue;
            }
        };
        in_run = false;
        chars.push(mapped);
    }
    // 2. break before `Xyy` words that follow anything but `_` (regex
    // semantics: matches do not overlap, so the char before the capital
    // must not belong to the previous word's match)
    let mut broken: Vec<char> = Vec::with_capacity(chars.len() + 8);
    let mut consumed_to = 0usize; // chars[..consumed_to] belong to a previous match
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if i >= 1
            && i > consumed_to
            && chars[i - 1] != '_'
            && c.is_ascii_uppercase()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())
        {
            broken.push('_');
            let mut end = i + 1;
            while end < chars.len() && chars[end].is_ascii_lowercase() {
                end += 1;
            }
            broken.extend_from_slice(&chars[i..end]);
            consumed_to = end;
            i = end;
            continue;
        }
        broken.push(c);
        i += 1;
    }
    // 3. break between a lowercase letter or digit and a capital
    let mut out = String::with_capacity(broken.len() + 4);
    for (i, &c) in broken.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let p = broken[i - 1];
            if p.is_ascii_lowercase() || p.is_ascii_digit() {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    // 4. leading digit
    if out.chars().next().is_some_and(|c| c.is_numeric()) {
        out.insert(0, '_');
    }
    // 5. trailing underscores become `x`
    let trimmed = out.trim_end_matches('_').len();
    let trailing = out.len() - trimmed;
    out.truncate(trimmed);
    out.extend(std::iter::repeat_n('x', trailing));
    // 6. collapse underscore runs
    let mut collapsed = String::with_capacity(out.len());
    for c in out.chars() {
        if c == '_' && collapsed.ends_with('_') {
            continue;
        }
        collapsed.push(c);
    }
    if collapsed.is_empty() {
        collapsed.push('_');
    }
    collapsed
}

/// The logical type of a loaded column (dlt's type names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Bigint,
    Double,
    Bool,
    Text,
    Timestamp,
    Date,
    Json,
    /// The loader's own 128-bit ids (`_rdbt_id`, `_rdbt_parent_id`,
    /// `_rdbt_root_id`); never inferred from data.
    Uuid,
}

impl DataType {
    /// The name used in variant columns (`amount__v_text`) and reports.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bigint => "bigint",
            DataType::Double => "double",
            DataType::Bool => "bool",
            DataType::Text => "text",
            DataType::Timestamp => "timestamp",
            DataType::Date => "date",
            DataType::Json => "json",
            DataType::Uuid => "uuid",
        }
    }

    /// The DuckDB column type of the destination table.
    pub fn sql(self) -> &'static str {
        match self {
            DataType::Bigint => "BIGINT",
            DataType::Double => "DOUBLE",
            DataType::Bool => "BOOLEAN",
            DataType::Text => "VARCHAR",
            DataType::Timestamp => "TIMESTAMP WITH TIME ZONE",
            DataType::Date => "DATE",
            DataType::Json => "JSON",
            DataType::Uuid => "UUID",
        }
    }

    /// The column type in staging tables: timestamps, dates and JSON travel
    /// as text and are cast by the engine when the load is applied (one
    /// vectorised cast instead of one per appended value; the text is
    /// canonical, so the cast never depends on the session time zone).
    pub fn staging_sql(self) -> &'static str {
        match self {
            DataType::Bigint => "BIGINT",
            DataType::Double => "DOUBLE",
            DataType::Bool => "BOOLEAN",
            DataType::Uuid => "UUID",
            _ => "VARCHAR",
        }
    }

    /// Maps an engine type of an existing column back to a logical type.
    pub fn from_sql(sql: &str) -> DataType {
        let t = sql.trim().to_ascii_uppercase();
        match t.as_str() {
            "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" | "HUGEINT" | "UBIGINT" | "UINTEGER" | "USMALLINT"
            | "UTINYINT" | "INT8" | "INT4" | "INT" => DataType::Bigint,
            "DOUBLE" | "FLOAT" | "REAL" | "FLOAT8" | "FLOAT4" => DataType::Double,
            "BOOLEAN" | "BOOL" => DataType::Bool,
            "TIMESTAMP WITH TIME ZONE" | "TIMESTAMPTZ" | "TIMESTAMP" | "TIMESTAMP_NS" | "TIMESTAMP_MS" | "TIMESTAMP_S" => {
                DataType::Timestamp
            }
            "DATE" => DataType::Date,
            "JSON" => DataType::Json,
            "UUID" => DataType::Uuid,
            _ if t.starts_with("DECIMAL") || t.starts_with("NUMERIC") => DataType::Double,
            _ => DataType::Text,
        }
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A leaf value with its inferred type, borrowing from the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(&'a str),
    /// An integer beyond the 64-bit range: kept as its decimal text so no
    /// digit is lost.
    BigNumber(String),
    /// An ISO 8601 date-time string, and its instant in UTC (a string
    /// without an offset is taken as UTC, as dlt does).
    Timestamp(&'a str, NaiveDateTime),
    /// A `YYYY-MM-DD` string.
    Date(&'a str),
    /// A value kept whole (beyond `max_table_nesting`).
    Json(JsonRef<'a>),
}

impl<'a> Scalar<'a> {
    /// Infers the type of a non-null JSON leaf. Numbers that fit `i64` are
    /// bigint, other numbers double; strings are timestamp when they parse
    /// as a full ISO 8601 date-time, date when they are exactly
    /// `YYYY-MM-DD` (dlt leaves dates as text unless its `iso_date`
    /// detection is on; here they are dates), text otherwise.
    pub fn infer(v: JsonRef<'a>) -> Scalar<'a> {
        match v.kind() {
            Kind::Bool(b) => Scalar::Bool(b),
            Kind::Int(i) => Scalar::Int(i),
            Kind::UInt(u) => Scalar::BigNumber(u.to_string()),
            Kind::Float(f) => Scalar::Float(f),
            Kind::Str(s) => {
                if let Some(ts) = parse_iso_datetime(s) {
                    Scalar::Timestamp(s, ts)
                } else if parse_iso_date(s).is_some() {
                    Scalar::Date(s)
                } else {
                    Scalar::Text(s)
                }
            }
            Kind::Null | Kind::Array | Kind::Object => Scalar::Json(v),
        }
    }

    pub fn data_type(&self) -> DataType {
        match self {
            Scalar::Int(_) => DataType::Bigint,
            Scalar::Float(_) => DataType::Double,
            Scalar::Bool(_) => DataType::Bool,
            Scalar::Text(_) | Scalar::BigNumber(_) => DataType::Text,
            Scalar::Timestamp(..) => DataType::Timestamp,
            Scalar::Date(_) => DataType::Date,
            Scalar::Json(_) => DataType::Json,
        }
    }
}

/// `YYYY-MM-DD` and nothing else.
pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i32 = digits(&b[0..4])? as i32;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    NaiveDate::from_ymd_opt(y, m, d)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// A full ISO 8601 date-time: `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]` with an
/// optional `Z` or `±HH[:MM]` offset; returns the instant in UTC.
pub fn parse_iso_datetime(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let date = parse_iso_date(&s[..10])?;
    let rest = &b[11..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let h = digits(&rest[0..2])?;
    let mi = digits(&rest[3..5])?;
    let mut pos = 5;
    let mut sec = 0;
    let mut nanos = 0u32;
    if rest.get(pos) == Some(&b':') {
        sec = digits(rest.get(pos + 1..pos + 3)?)?;
        pos += 3;
        if matches!(rest.get(pos), Some(b'.') | Some(b',')) {
            pos += 1;
            let start = pos;
            while pos < rest.len() && rest[pos].is_ascii_digit() {
                pos += 1;
            }
            let frac = &rest[start..pos];
            if frac.is_empty() {
                return None;
            }
            let mut n = 0u32;
            for i in 0..9 {
                n = n * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
            }
            nanos = n;
        }
    }
    let time = NaiveTime::from_hms_nano_opt(h, mi, sec, nanos)?;
    let local = NaiveDateTime::new(date, time);
    let tz = &rest[pos..];
    let offset_secs: i64 = match tz {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), hh @ ..] => {
            let (oh, om) = match hh {
                [a, b] => (digits(&[*a, *b])?, 0),
                [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    local.checked_sub_signed(chrono::Duration::seconds(offset_secs))
}

/// The canonical text of a UTC instant for the staging table:
/// `YYYY-MM-DD HH:MM:SS[.ffffff]+00`, which DuckDB casts to `TIMESTAMPTZ`
/// the same way whatever the session time zone.
pub fn canonical_timestamp(ts: &NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let mut s = String::with_capacity(32);
    let _ = std::fmt::Write::write_fmt(
        &mut s,
        format_args!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            ts.year(),
            ts.month(),
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second()
        ),
    );
    let micros = ts.nanosecond() / 1000;
    if micros > 0 {
        let _ = std::fmt::Write::write_fmt(&mut s, format_args!(".{micros:06}"));
    }
    s.push_str("+00");
    s
}

/// A fast, non-keyed hasher for the loader's name maps (a multiply-rotate
/// hash in the style of rustc's FxHash). The keys are column and table names
/// of the data being loaded, looked up several times per value, where
/// SipHash's DoS resistance buys nothing but cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

pub type FastBuild = std::hash::BuildHasherDefault<FastHasher>;
pub type FastMap<K, V> = HashMap<K, V, FastBuild>;

/// One row of one table produced from a record.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatRow<'a> {
    pub table: Arc<str>,
    /// Index (in the record's row list) of the parent row; `None` for the root.
    pub parent: Option<usize>,
    /// Position in the parent's list.
    pub list_idx: i64,
    /// Cells by column; [`Normalizer::name`] tells a column's name.
    pub cells: Vec<(ColId, Scalar<'a>)>,
}

/// A normalized column name, interned by the [`Normalizer`]: rows carry
/// these instead of the names, so that a cell costs no reference count and
/// the loader finds a cell's column by index rather than by hashing its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColId(u32);

impl ColId {
    /// The empty prefix (the top of a row).
    const TOP: ColId = ColId(0);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Normalizes records into rows, caching normalized names.
#[derive(Debug)]
pub struct Normalizer {
    /// Column names by id; id 0 is the empty prefix.
    names: Vec<Arc<str>>,
    /// By prefix id: raw key → column id (`athlete` + `id` → `athlete__id`).
    columns: Vec<FastMap<Box<str>, ColId>>,
    /// table → column path → child table name
    tables: FastMap<Arc<str>, FastMap<ColId, Arc<str>>>,
}

impl Default for Normalizer {
    fn default() -> Normalizer {
        Normalizer { names: vec![Arc::from("")], columns: vec![FastMap::default()], tables: FastMap::default() }
    }
}

const VALUE_COLUMN: &str = "value";
const LIST_FIELD: &str = "list";

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer::default()
    }

    /// The name of column `id`.
    pub fn name(&self, id: ColId) -> &Arc<str> {
        &self.names[id.index()]
    }

    /// The column `raw` under `prefix` (`athlete` + `id` → `athlete__id`).
    pub fn column(&mut self, prefix: ColId, raw: &str) -> ColId {
        if let Some(id) = self.columns[prefix.index()].get(raw) {
            return *id;
        }
        let frag = snake_case(raw);
        let name: Arc<str> = if prefix == ColId::TOP { Arc::from(frag) } else { Arc::from(format!("{}__{frag}", self.names[prefix.index()])) };
        let id = ColId(u32::try_from(self.names.len()).unwrap_or(u32::MAX));
        self.names.push(name);
        self.columns.push(FastMap::default());
        self.columns[prefix.index()].insert(raw.into(), id);
        id
    }

    /// The child table holding the list found at column path `path` of `table`.
    pub fn child_table(&mut self, table: &Arc<str>, path: ColId) -> Arc<str> {
        if let Some(n) = self.tables.get(table).and_then(|m| m.get(&path)) {
            return n.clone();
        }
        let name: Arc<str> = Arc::from(format!("{table}__{}", self.names[path.index()]));
        self.tables.entry(table.clone()).or_default().insert(path, name.clone());
        name
    }

    /// Appends the rows of one record to `out` (cleared first): the root row
    /// first, every row before its children. A record that is not an object
    /// is stored in a `value` column, as dlt wraps scalars.
    pub fn flatten<'a>(&mut self, table: &Arc<str>, record: Record<'a>, max_nesting: Option<usize>, out: &mut Vec<FlatRow<'a>>) {
        out.clear();
        if record.json.is_object() {
            self.row(table, record.fields(), None, 0, 0, max_nesting, out);
        } else {
            out.push(FlatRow { table: table.clone(), parent: None, list_idx: 0, cells: Vec::new() });
            let col = self.column(ColId::TOP, VALUE_COLUMN);
            self.value(table, col, record.json, 0, 0, max_nesting, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn row<'a>(
        &mut self,
        table: &Arc<str>,
        members: impl Iterator<Item = (&'a str, JsonRef<'a>)>,
        parent: Option<usize>,
        list_idx: i64,
        level: usize,
        max: Option<usize>,
        out: &mut Vec<FlatRow<'a>>,
    ) {
        let me = out.len();
        out.push(FlatRow { table: table.clone(), parent, list_idx, cells: Vec::with_capacity(members.size_hint().0.max(8)) });
        self.fields(table, ColId::TOP, members, me, level, max, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn fields<'a>(
        &mut self,
        table: &Arc<str>,
        prefix: ColId,
        members: impl Iterator<Item = (&'a str, JsonRef<'a>)>,
        row: usize,
        level: usize,
        max: Option<usize>,
        out: &mut Vec<FlatRow<'a>>,
    ) {
        for (k, v) in members {
            if v.is_null() {
                continue;
            }
            let col = self.column(prefix, k);
            self.value(table, col, v, row, level, max, out);
        }
    }

    /// Places value `v` of column `col` (of row `row`, at `level`).
    #[allow(clippy::too_many_arguments)]
    fn value<'a>(
        &mut self,
        table: &Arc<str>,
        col: ColId,
        v: JsonRef<'a>,
        row: usize,
        level: usize,
        max: Option<usize>,
        out: &mut Vec<FlatRow<'a>>,
    ) {
        let nest = max.is_none_or(|m| level < m);
        match v.kind() {
            Kind::Null => {}
            Kind::Object if nest => self.fields(table, col, v.members(), row, level + 1, max, out),
            Kind::Array if nest => {
                let child = self.child_table(table, col);
                for (i, item) in v.items().enumerate() {
                    self.element(&child, item, row, i as i64, level + 1, max, out);
                }
            }
            _ => out[row].cells.push((col, Scalar::infer(v))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn element<'a>(
        &mut self,
        table: &Arc<str>,
        item: JsonRef<'a>,
        parent: usize,
        idx: i64,
        level: usize,
        max: Option<usize>,
        out: &mut Vec<FlatRow<'a>>,
    ) {
        if item.is_object() {
            self.row(table, item.members(), Some(parent), idx, level, max, out);
        } else {
            // Scalars (and nulls, which keep their list position) get a
            // row with a `value` column; a nested list gets a row whose
            // `list` field unnests further.
            let me = out.len();
            out.push(FlatRow { table: table.clone(), parent: Some(parent), list_idx: idx, cells: Vec::new() });
            let field = if item.is_array() { LIST_FIELD } else { VALUE_COLUMN };
            let col = self.column(ColId::TOP, field);
            self.value(table, col, item, me, level, max, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::doc::{Records, leaked};
    use serde_json::{Value, json};

    #[test]
    fn snake_case_names() {
        let cases = [
            ("camelCase", "camel_case"),
            ("CamelCase", "camel_case"),
            ("HTTPResponse", "http_response"),
            ("getHTTPResponseCode", "get_http_response_code"),
            ("already_snake", "already_snake"),
            ("with space", "with_space"),
            ("dots.and-dashes", "dots_and_dashes"),
            ("1st_place", "_1st_place"),
            ("a__b", "a_b"),
            ("trailing_", "trailingx"),
            ("_dlt_id", "_dlt_id"),
            ("e-mail@home", "e_mailahome"),
            ("A+B", "ax_b"),
            ("", "_"),
            ("UPPER", "upper"),
            ("kudos_count", "kudos_count"),
            ("averageSpeed2D", "average_speed2_d"),
            ("Größe", "gr_e"),
            ("a$$", "ax"),
            ("ABCdefGHi", "ab_cdef_g_hi"),
            ("__x__", "_xxx"),
            ("x1Y", "x1_y"),
            ("$price", "_price"),
        ];
        for (raw, want) in cases {
            assert_eq!(snake_case(raw), want, "{raw}");
        }
    }

    fn infer(v: Value) -> Scalar<'static> {
        Scalar::infer(leaked(&v))
    }

    #[test]
    fn infers_types() {
        assert_eq!(infer(json!(1)).data_type(), DataType::Bigint);
        assert_eq!(infer(json!(-1)).data_type(), DataType::Bigint);
        assert_eq!(infer(json!(1.5)).data_type(), DataType::Double);
        assert_eq!(infer(json!(18446744073709551615u64)), Scalar::BigNumber("18446744073709551615".into()));
        assert_eq!(infer(json!(true)).data_type(), DataType::Bool);
        assert_eq!(infer(json!("hello")).data_type(), DataType::Text);
        assert_eq!(infer(json!("2024-01-31")).data_type(), DataType::Date);
        assert_eq!(infer(json!("2024-02-30")).data_type(), DataType::Text);
        assert_eq!(infer(json!("2024-01-31T10:11:12Z")).data_type(), DataType::Timestamp);
        assert_eq!(infer(json!("2024-01-31 10:11")).data_type(), DataType::Timestamp);
        assert_eq!(infer(json!("2024-01-31T10:11:12.123+02:00")).data_type(), DataType::Timestamp);
        assert_eq!(infer(json!("2024-01-31T25:11:12")).data_type(), DataType::Text);
        assert_eq!(infer(json!("2024-01-31T10:11:12 garbage")).data_type(), DataType::Text);
        assert_eq!(infer(json!("10:11:12")).data_type(), DataType::Text);
    }

    #[test]
    fn timestamps_are_normalized_to_utc() {
        let ts = |s: &str| parse_iso_datetime(s).map(|t| canonical_timestamp(&t));
        assert_eq!(ts("2024-01-31T10:11:12Z").as_deref(), Some("2024-01-31 10:11:12+00"));
        assert_eq!(ts("2024-01-31T10:11:12").as_deref(), Some("2024-01-31 10:11:12+00"));
        assert_eq!(ts("2024-01-31T01:11:12.5+02:00").as_deref(), Some("2024-01-30 23:11:12.500000+00"));
        assert_eq!(ts("2024-01-31T22:00:00-0230").as_deref(), Some("2024-02-01 00:30:00+00"));
        assert_eq!(ts("2024-01-31T22:00:00.123456789-05").as_deref(), Some("2024-02-01 03:00:00.123456+00"));
        assert_eq!(ts("2024-01-31T22:00:00+25:00"), None);
    }

    fn flat(v: &Value, max: Option<usize>) -> Vec<(String, Option<usize>, i64, Vec<(String, DataType)>)> {
        let mut n = Normalizer::new();
        let mut out = Vec::new();
        let records = Records::from_values(std::slice::from_ref(v));
        let Some(record) = records.get(0) else { return vec![] };
        n.flatten(&Arc::from("activities"), record, max, &mut out);
        out.into_iter()
            .map(|r| {
                (
                    r.table.to_string(),
                    r.parent,
                    r.list_idx,
                    r.cells.iter().map(|(c, s)| (n.name(*c).to_string(), s.data_type())).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn flattens_objects_and_unnests_lists() {
        let rec = json!({
            "id": 1, "Name": "Ride", "athlete": {"id": 7, "resourceState": 1}, "empty": {}, "gone": null,
            "map": {"summary_polyline": "abc", "bounds": {"ne": 1.5}},
            "start_latlng": [52.1, 4.3],
            "laps": [{"lap_index": 1, "splits": [{"d": 1}]}, {"lap_index": 2}],
            "matrix": [[1, 2], []],
        });
        let rows = flat(&rec, None);
        let t = |s: &str, ty: DataType| (s.to_string(), ty);
        use DataType::*;
        assert_eq!(
            rows,
            vec![
                (
                    "activities".into(),
                    None,
                    0,
                    vec![
                        t("id", Bigint),
                        t("name", Text),
                        t("athlete__id", Bigint),
                        t("athlete__resource_state", Bigint),
                        t("map__summary_polyline", Text),
                        t("map__bounds__ne", Double)
                    ]
                ),
                ("activities__start_latlng".into(), Some(0), 0, vec![t("value", Double)]),
                ("activities__start_latlng".into(), Some(0), 1, vec![t("value", Double)]),
                ("activities__laps".into(), Some(0), 0, vec![t("lap_index", Bigint)]),
                ("activities__laps__splits".into(), Some(3), 0, vec![t("d", Bigint)]),
                ("activities__laps".into(), Some(0), 1, vec![t("lap_index", Bigint)]),
                ("activities__matrix".into(), Some(0), 0, vec![]),
                ("activities__matrix__list".into(), Some(6), 0, vec![t("value", Bigint)]),
                ("activities__matrix__list".into(), Some(6), 1, vec![t("value", Bigint)]),
                ("activities__matrix".into(), Some(0), 1, vec![]),
            ]
        );
    }

    #[test]
    fn max_table_nesting_keeps_deeper_values_as_json() {
        let rec = json!({"id": 1, "a": {"b": {"c": 1}}, "l": [{"x": [1]}]});
        use DataType::*;
        let t = |s: &str, ty: DataType| (s.to_string(), ty);
        assert_eq!(flat(&rec, Some(0)), vec![("activities".into(), None, 0, vec![t("id", Bigint), t("a", Json), t("l", Json)])]);
        assert_eq!(
            flat(&rec, Some(1)),
            vec![
                ("activities".into(), None, 0, vec![t("id", Bigint), t("a__b", Json)]),
                ("activities__l".into(), Some(0), 0, vec![t("x", Json)]),
            ]
        );
        assert_eq!(flat(&json!("scalar record"), None), vec![("activities".into(), None, 0, vec![t("value", Text)])]);
    }
}
