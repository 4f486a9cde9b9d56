//! Seed column type inference, reproducing what dbt does with agate's
//! `TypeTester`: every column starts with the candidate types
//! Number, Date (`%Y-%m-%d`), DateTime (`%Y-%m-%d %H:%M:%S`), ISO 8601
//! DateTime (`<date>T<time>`), Boolean (`true`/`false`), Text, and a value
//! removes the candidates it does not parse as. The first surviving type
//! wins. On DuckDB a Number column is `INTEGER` unless some value has a
//! non-zero fractional part (then `DOUBLE`); dates are `DATE`, both datetime
//! kinds `TIMESTAMP`, booleans `BOOLEAN`, text `VARCHAR`. `null` and the empty
//! string (after trimming, any case) are null for inference.
//!
//! Inference only picks the column type: the values themselves are loaded
//! with the engine's casts, exactly as dbt-duckdb loads seeds with `COPY`,
//! so a value agate accepts but DuckDB does not (`$1` in an INTEGER column)
//! fails the load in both.

use chrono::{Datelike, NaiveDate};
use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedType {
    Integer,
    Double,
    Date,
    Timestamp,
    Boolean,
    Text,
}

impl SeedType {
    pub fn sql(self) -> &'static str {
        match self {
            SeedType::Integer => "INTEGER",
            SeedType::Double => "DOUBLE",
            SeedType::Date => "DATE",
            SeedType::Timestamp => "TIMESTAMP",
            SeedType::Boolean => "BOOLEAN",
            SeedType::Text => "VARCHAR",
        }
    }
}

/// Candidate bit set, in agate's preference order.
const NUMBER: u8 = 1;
const DATE: u8 = 2;
const DATETIME: u8 = 4;
const ISO_DATETIME: u8 = 8;
const BOOLEAN: u8 = 16;
const ALL: u8 = NUMBER | DATE | DATETIME | ISO_DATETIME | BOOLEAN;

/// Infers one column's type from its values (`None` = a padded, absent value).
#[derive(Debug, Clone)]
pub struct ColumnInference {
    candidates: u8,
    fractional: bool,
}

impl Default for ColumnInference {
    fn default() -> Self {
        ColumnInference { candidates: ALL, fractional: false }
    }
}

impl ColumnInference {
    pub fn observe(&mut self, value: &str) {
        if self.candidates == 0 {
            return;
        }
        // Every date and datetime format starts with a digit; skip their
        // patterns for other values (nulls pass every test).
        let t = value.trim();
        let null = t.is_empty() || t.eq_ignore_ascii_case("null");
        if !null && !t.as_bytes()[0].is_ascii_digit() {
            self.candidates &= !(DATE | DATETIME | ISO_DATETIME);
        }
        if self.candidates & NUMBER != 0 {
            match agate_number(value) {
                Some(Some(n)) => self.fractional |= n.fractional,
                Some(None) => {}
                None => self.candidates &= !NUMBER,
            }
        }
        if self.candidates & DATE != 0 && !(null || strptime_date(t)) {
            self.candidates &= !DATE;
        }
        if self.candidates & DATETIME != 0 && !(null || strptime_datetime(t)) {
            self.candidates &= !DATETIME;
        }
        if self.candidates & ISO_DATETIME != 0 && !(null || iso_datetime(t)) {
            self.candidates &= !ISO_DATETIME;
        }
        if self.candidates & BOOLEAN != 0 && !agate_boolean(value) {
            self.candidates &= !BOOLEAN;
        }
    }

    pub fn result(&self) -> SeedType {
        let c = self.candidates;
        if c & NUMBER != 0 {
            if self.fractional { SeedType::Double } else { SeedType::Integer }
        } else if c & DATE != 0 {
            SeedType::Date
        } else if c & (DATETIME | ISO_DATETIME) != 0 {
            SeedType::Timestamp
        } else if c & BOOLEAN != 0 {
            SeedType::Boolean
        } else {
            SeedType::Text
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedNumber {
    /// The value, normalised as Python's `Decimal.normalize()` does, has
    /// digits after the decimal point.
    pub fractional: bool,
}

const CURRENCY_SYMBOLS: [char; 19] =
    ['؋', '$', 'ƒ', '៛', '¥', '₡', '₱', '£', '€', '¢', '﷼', '₪', '₩', '₭', '₮', '₦', '฿', '₤', '₫'];

/// agate's Number cast: `Some(None)` for null, `Some(Some(_))` for a number,
/// `None` when the value is not a number.
pub fn agate_number(value: &str) -> Option<Option<ParsedNumber>> {
    let d = value.trim();
    if d.is_empty() || d.eq_ignore_ascii_case("null") {
        return Some(None);
    }
    // Fast path: plain integers and decimals.
    let digits = d.strip_prefix('-').unwrap_or(d);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Some(ParsedNumber { fractional: false }));
    }
    if let Some((int, frac)) = digits.split_once('.')
        && !(int.is_empty() && frac.is_empty())
        && int.len() + frac.len() <= 28
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(Some(ParsedNumber { fractional: frac.bytes().any(|b| b != b'0') }));
    }
    let d = d.trim_matches('%');
    let d = d.strip_prefix('-').unwrap_or(d);
    let mut d = d;
    for sym in CURRENCY_SYMBOLS {
        d = d.trim_matches(sym);
    }
    let d = d.replace(',', "");
    python_decimal(&d).map(Some)
}

/// Parses Python's `Decimal(str)` syntax (surrounding whitespace allowed,
/// underscores ignored). Returns whether the normalised value is fractional.
fn python_decimal(s: &str) -> Option<ParsedNumber> {
    let s: String = s.trim().chars().filter(|&c| c != '_').collect();
    let mut rest = s.as_str();
    if let Some(r) = rest.strip_prefix(['+', '-']) {
        rest = r;
    }
    let lower = rest.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(ParsedNumber { fractional: false });
    }
    for nan in ["snan", "nan"] {
        if let Some(payload) = lower.strip_prefix(nan) {
            return payload.bytes().all(|b| b.is_ascii_digit()).then_some(ParsedNumber { fractional: false });
        }
    }
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let exp: i64 = match exponent {
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Saturate absurd exponents; only the sign of the result matters.
            let magnitude: i64 = digits.trim_start_matches('0').parse().unwrap_or(if digits.trim_start_matches('0').is_empty() { 0 } else { i64::MAX / 4 });
            if e.starts_with('-') { -magnitude } else { magnitude }
        }
        None => 0,
    };
    // coefficient digits and exponent, as Decimal stores them
    let mut coefficient: String = format!("{int_part}{frac_part}");
    let mut exponent = exp.saturating_sub(frac_part.len() as i64);
    let trimmed = coefficient.trim_start_matches('0');
    if trimmed.is_empty() {
        return Some(ParsedNumber { fractional: false });
    }
    coefficient = trimmed.to_string();
    // normalize() first rounds to the context precision (28 digits, half even).
    const PREC: usize = 28;
    if coefficient.len() > PREC {
        let dropped = coefficient.len() - PREC;
        let (keep, rest_digits) = coefficient.split_at(PREC);
        let mut digits: Vec<u8> = keep.bytes().map(|b| b - b'0').collect();
        let first = rest_digits.as_bytes()[0] - b'0';
        let tail_nonzero = rest_digits.bytes().skip(1).any(|b| b != b'0');
        let last_odd = digits.last().is_some_and(|d| d % 2 == 1);
        let round_up = first > 5 || (first == 5 && (tail_nonzero || last_odd));
        if round_up {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
        coefficient = digits.iter().map(|d| (d + b'0') as char).collect();
        exponent = exponent.saturating_add(dropped as i64);
    }
    let trailing_zeros = coefficient.len() - coefficient.trim_end_matches('0').len();
    let normalized_exponent = exponent.saturating_add(trailing_zeros as i64);
    Some(ParsedNumber { fractional: normalized_exponent < 0 })
}

/// agate Boolean with dbt's values: commas removed, trimmed, then
/// `true` / `false` / null (`''`, `null`), case-insensitive.
fn agate_boolean(value: &str) -> bool {
    let owned;
    let d = if value.contains(',') {
        owned = value.replace(',', "");
        owned.trim()
    } else {
        value.trim()
    };
    d.is_empty() || ["null", "true", "false"].iter().any(|w| d.eq_ignore_ascii_case(w))
}

static DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^([0-9]{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9])$").expect("static regex")
});
static DATETIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^([0-9]{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9])\s+(2[0-3]|[0-1][0-9]|[0-9]):([0-5][0-9]|[0-9]):(6[0-1]|[0-5][0-9]|[0-9])$",
    )
    .expect("static regex")
});

fn valid_ymd(y: &str, m: &str, d: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.trim().parse::<u32>(), d.trim().parse::<u32>()) else {
        return false;
    };
    y >= 1 && NaiveDate::from_ymd_opt(y, m, d).is_some()
}

/// `datetime.strptime(value, "%Y-%m-%d")`.
pub fn strptime_date(value: &str) -> bool {
    DATE_RE.captures(value).is_some_and(|c| valid_ymd(&c[1], &c[2], &c[3]))
}

/// `datetime.strptime(value, "%Y-%m-%d %H:%M:%S")` (seconds 60 and 61 match
/// the pattern but are rejected by `datetime`).
pub fn strptime_datetime(value: &str) -> bool {
    DATETIME_RE.captures(value).is_some_and(|c| {
        valid_ymd(&c[1], &c[2], &c[3]) && c[6].parse::<u32>().is_ok_and(|s| s < 60)
    })
}

static ISO_DATE_RES: LazyLock<Vec<(Regex, IsoDateKind)>> = LazyLock::new(|| {
    use IsoDateKind::*;
    [
        (r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$", Complete),
        (r"^([0-9]{4})([0-9]{2})([0-9]{2})$", Complete),
        (r"^([0-9]{4})-W([0-9]{2})-([0-9])$", WeekDay),
        (r"^([0-9]{4})W([0-9]{2})([0-9])$", WeekDay),
        (r"^([0-9]{4})-([0-9]{3})$", Ordinal),
        (r"^([0-9]{4})([0-9]{3})$", Ordinal),
        (r"^([0-9]{4})-W([0-9]{2})$", Week),
        (r"^([0-9]{4})W([0-9]{2})$", Week),
        (r"^([0-9]{4})-([0-9]{2})$", Month),
        (r"^([0-9]{4})([0-9]{2})$", Month),
        (r"^([0-9]{4})$", Year),
        (r"^([0-9]{2})$", Century),
    ]
    .into_iter()
    .map(|(p, k)| (Regex::new(p).expect("static regex"), k))
    .collect()
});

#[derive(Debug, Clone, Copy)]
enum IsoDateKind {
    Complete,
    WeekDay,
    Ordinal,
    Week,
    Month,
    Year,
    Century,
}

/// isodate's `parse_date` (4-digit years): the first matching pattern
/// decides; an impossible date is then an error.
fn iso_date(s: &str) -> bool {
    let Some((caps, kind)) = ISO_DATE_RES.iter().find_map(|(re, k)| re.captures(s).map(|c| (c, *k))) else {
        return false;
    };
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<i64>().ok()).unwrap_or(0);
    let jan1 = |y: i64| -> Option<NaiveDate> {
        if y < 1 {
            return None;
        }
        NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, 1, 1)
    };
    match kind {
        IsoDateKind::Complete => {
            let (y, m, d) = (num(1), num(2), num(3));
            // isodate uses `int(month) or 1`.
            let m = if m == 0 { 1 } else { m };
            y >= 1 && NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32).is_some()
        }
        IsoDateKind::Month => {
            let (y, m) = (num(1), num(2));
            let m = if m == 0 { 1 } else { m };
            y >= 1 && NaiveDate::from_ymd_opt(y as i32, m as u32, 1).is_some()
        }
        IsoDateKind::Year => jan1(num(1)).is_some(),
        IsoDateKind::Century => jan1(num(1) * 100 + 1).is_some(),
        IsoDateKind::Ordinal => {
            jan1(num(1)).and_then(|d| d.checked_add_signed(chrono::TimeDelta::days(num(2) - 1))).is_some_and(|d| d.year() >= 1)
        }
        IsoDateKind::WeekDay | IsoDateKind::Week => {
            let Some(start) = jan1(num(1)) else { return false };
            let iso = start.iso_week();
            let week = num(2) - if iso.week() == 1 { 1 } else { 0 };
            let day = if matches!(kind, IsoDateKind::WeekDay) { num(3) } else { 1 };
            let weekday = start.weekday().number_from_monday() as i64;
            start
                .checked_add_signed(chrono::TimeDelta::days(week * 7 - weekday + day))
                .is_some_and(|d| d.year() >= 1 && d.year() <= 9999)
        }
    }
}

static ISO_TIME_RES: LazyLock<Vec<(Regex, u8)>> = LazyLock::new(|| {
    let tz = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?";
    [
        (r"^T?([0-9]{2}):([0-9]{2}):([0-9]{2})([,.][0-9]+)?", 3u8),
        (r"^T?([0-9]{2})([0-9]{2})([0-9]{2})([,.][0-9]+)?", 3),
        (r"^T?([0-9]{2}):([0-9]{2})([,.][0-9]+)?", 2),
        (r"^T?([0-9]{2})([0-9]{2})([,.][0-9]+)?", 2),
        (r"^T?([0-9]{2})([,.][0-9]+)?", 1),
    ]
    .into_iter()
    .map(|(p, n)| (Regex::new(&format!("{p}{tz}$")).expect("static regex"), n))
    .collect()
});

/// isodate's `parse_time`: hours < 24, minutes < 60, whole seconds < 60.
fn iso_time(s: &str) -> bool {
    let Some((caps, parts)) = ISO_TIME_RES.iter().find_map(|(re, n)| re.captures(s).map(|c| (c, *n))) else {
        return false;
    };
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok()).unwrap_or(0);
    match parts {
        3 => num(1) < 24 && num(2) < 60 && num(3) < 60,
        2 => num(1) < 24 && num(2) < 60,
        _ => num(1) < 24,
    }
}

/// isodate's `parse_datetime`: exactly one `T` between an ISO date and an
/// ISO time.
pub fn iso_datetime(value: &str) -> bool {
    let mut parts = value.split('T');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(date), Some(time), None) => iso_date(date) && iso_time(time),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> SeedType {
        let mut c = ColumnInference::default();
        for v in values {
            c.observe(v);
        }
        c.result()
    }

    #[test]
    fn numbers() {
        assert_eq!(infer(&["1", "2"]), SeedType::Integer);
        assert_eq!(infer(&["1.0", "2.0"]), SeedType::Integer);
        assert_eq!(infer(&["1.50", "2"]), SeedType::Double);
        assert_eq!(infer(&["1e5", "2E3"]), SeedType::Integer);
        assert_eq!(infer(&["-1.5e-3"]), SeedType::Double);
        assert_eq!(infer(&["007", "010"]), SeedType::Integer);
        assert_eq!(infer(&["$1", "$2"]), SeedType::Integer);
        assert_eq!(infer(&["1,000", "2,500.5"]), SeedType::Double);
        assert_eq!(infer(&["10%"]), SeedType::Integer);
        assert_eq!(infer(&["NaN", "inf", "-Infinity"]), SeedType::Integer);
        assert_eq!(infer(&["1_000"]), SeedType::Integer);
        assert_eq!(infer(&["", "null", "NULL", "  "]), SeedType::Integer);
        assert_eq!(infer(&[]), SeedType::Integer);
        assert_eq!(infer(&["0.000", "1.10"]), SeedType::Double);
        assert_eq!(infer(&["1.2.3"]), SeedType::Text);
        assert_eq!(infer(&["-"]), SeedType::Text);
        assert_eq!(infer(&["1 000"]), SeedType::Text);
        assert_eq!(infer(&["0x10"]), SeedType::Text);
        assert_eq!(infer(&["1.000000000000000000000000000001"]), SeedType::Integer);
        assert_eq!(infer(&["1.00000000000000000000000001"]), SeedType::Double);
    }

    #[test]
    fn python_decimal_syntax() {
        for ok in ["1", "+1", "-1", ".5", "5.", "1e5", "1E+05", "_1", "1__0", "nan", "NaN12", "sNaN", "in_f", "1e-_5"] {
            assert!(python_decimal(ok).is_some(), "{ok}");
        }
        for bad in ["", "_", "e5", "1e", "+-1", ".", "1.2.3", "inff", "nanx"] {
            assert!(python_decimal(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn dates_and_datetimes() {
        assert_eq!(infer(&["2020-01-01", "2021-12-31"]), SeedType::Date);
        assert_eq!(infer(&["2020-1-5", "2020-10-15"]), SeedType::Date);
        assert_eq!(infer(&["2020-02-30"]), SeedType::Text);
        assert_eq!(infer(&["2020-13-01"]), SeedType::Text);
        assert_eq!(infer(&["0000-01-01"]), SeedType::Text);
        assert_eq!(infer(&["2020-01-01 10:00:00", "2021-12-31 23:59:59"]), SeedType::Timestamp);
        assert_eq!(infer(&["2020-01-01   1:2:3"]), SeedType::Timestamp);
        assert_eq!(infer(&["2020-01-01 10:00:60"]), SeedType::Text);
        assert_eq!(infer(&["2020-01-01T10:00:00Z", "2021-12-31T23:59:59+02:00"]), SeedType::Timestamp);
        assert_eq!(infer(&["2020-01-01T10:00:00.123456", "2020-01-01T10:00"]), SeedType::Timestamp);
        assert_eq!(infer(&["2020-01-01", "2020-01-01 10:00:00"]), SeedType::Text);
        assert_eq!(infer(&["2020-01-01 10:00:00", "2020-01-01T10:00:00"]), SeedType::Text);
        assert_eq!(infer(&["2020-01-01 10:00:00.123"]), SeedType::Text);
        assert_eq!(infer(&["2020-01-01 10:00"]), SeedType::Text);
        assert_eq!(infer(&["10:00:00"]), SeedType::Text);
        assert_eq!(infer(&["2020-01-01", ""]), SeedType::Date);
    }

    #[test]
    fn iso_formats() {
        for ok in [
            "2020-01-01T10",
            "20200101T100000",
            "2020-W01-1T10:00",
            "2020W011T1000",
            "2020-400T10:00",
            "2020-00-05T10:00",
            "2020T10",
            "20T10",
            "2020-01-01T10:00:00,5+0530",
            "2020-01-01T10.5Z",
        ] {
            assert!(iso_datetime(ok), "{ok}");
        }
        for bad in ["2020-01-01", "2020-01-01T24:00", "2020-01-01T10:60", "2020-13-01T10", "2020-01-01T10T10", "2020-01-01t10", "0000T10"] {
            assert!(!iso_datetime(bad), "{bad}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(infer(&["true", "FALSE", "True", ""]), SeedType::Boolean);
        assert_eq!(infer(&["yes", "no"]), SeedType::Text);
        assert_eq!(infer(&["t", "f"]), SeedType::Text);
        assert_eq!(infer(&["1", "0"]), SeedType::Integer);
        assert_eq!(infer(&["tr,ue"]), SeedType::Boolean);
    }

    #[test]
    fn mixed_is_text() {
        assert_eq!(infer(&["1", "x"]), SeedType::Text);
        assert_eq!(infer(&["1", "2020-01-01"]), SeedType::Text);
        assert_eq!(infer(&["true", "1"]), SeedType::Text);
    }
}
