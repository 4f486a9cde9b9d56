//! Python's `datetime` and `pytz` for templates (`modules.datetime`,
//! `modules.pytz`, `run_started_at`), with Python's printing rules: naive and
//! aware datetimes, `date`, `timedelta`, named time zones with `localize`.
//!
//! minijinja has no operator overloading for objects, so `dt + timedelta`
//! is not available; comparisons work (`custom_cmp`).

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use minijinja::value::{DynObject, Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn split_kwargs(args: &[Value]) -> Result<(&[Value], Option<Kwargs>), Error> {
    match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => Ok((rest, Some(Kwargs::try_from(last.clone())?))),
        _ => Ok((args, None)),
    }
}

/// Positional argument `i` or keyword `name`.
fn arg(pos: &[Value], kw: &Option<Kwargs>, i: usize, name: &str) -> Option<Value> {
    pos.get(i).cloned().or_else(|| kw.as_ref().and_then(|k| k.peek::<Value>(name).ok())).filter(|v| !v.is_undefined())
}

fn int_arg(pos: &[Value], kw: &Option<Kwargs>, i: usize, name: &str, default: Option<i64>) -> Result<i64, Error> {
    match arg(pos, kw, i, name) {
        Some(v) => v.as_i64().ok_or_else(|| err(format!("'{name}' must be an integer, not {}", v.kind()))),
        None => default.ok_or_else(|| err(format!("missing required argument '{name}'"))),
    }
}

/// A time zone: `pytz.utc`, `pytz.timezone('Europe/Amsterdam')`, or the
/// fixed offset of a parsed ISO string.
#[derive(Debug, Clone)]
pub struct TzInfo {
    name: String,
    zone: Option<jiff::tz::TimeZone>,
    fixed: Option<i32>,
}

impl TzInfo {
    pub fn utc() -> TzInfo {
        TzInfo { name: "UTC".into(), zone: Some(jiff::tz::TimeZone::UTC), fixed: None }
    }
    pub fn named(name: &str) -> Result<TzInfo, Error> {
        if name.eq_ignore_ascii_case("utc") {
            return Ok(TzInfo::utc());
        }
        let zone = jiff::tz::TimeZone::get(name).map_err(|_| err(format!("UnknownTimeZoneError: '{name}'")))?;
        Ok(TzInfo { name: name.to_string(), zone: Some(zone), fixed: None })
    }
    fn fixed(secs: i32) -> TzInfo {
        TzInfo { name: fmt_offset(secs, true), zone: None, fixed: Some(secs) }
    }
    /// The UTC offset of local time `naive` in this zone (pytz's
    /// `localize(is_dst=False)`: the standard-time reading when ambiguous).
    fn offset_for_local(&self, naive: &NaiveDateTime) -> i32 {
        if let Some(s) = self.fixed {
            return s;
        }
        let Some(zone) = &self.zone else { return 0 };
        let Ok(civil) = jiff::civil::DateTime::new(
            naive.year() as i16,
            naive.month() as i8,
            naive.day() as i8,
            naive.hour() as i8,
            naive.minute() as i8,
            naive.second() as i8,
            (naive.nanosecond() as i32).min(999_999_999),
        ) else {
            return 0;
        };
        match zone.to_ambiguous_zoned(civil).later() {
            Ok(z) => z.offset().seconds(),
            Err(_) => 0,
        }
    }
    /// The offset a pytz zone gives when attached directly
    /// (`datetime(..., tzinfo=zone)`): its first (local mean time) offset,
    /// in whole minutes, as pytz stores it. This is pytz's well-known
    /// surprise (-07:53 for America/Los_Angeles), reproduced because dbt
    /// code prints what it gives.
    fn attached_offset(&self) -> i32 {
        if let Some(s) = self.fixed {
            return s;
        }
        match &self.zone {
            Some(zone) if self.name != "UTC" => {
                let secs = zone.to_offset(jiff::Timestamp::MIN).seconds();
                (f64::from(secs) / 60.0).round() as i32 * 60
            }
            _ => 0,
        }
    }
    /// The UTC offset at the instant `utc` (naive UTC time).
    fn offset_at(&self, utc: &NaiveDateTime) -> i32 {
        if let Some(s) = self.fixed {
            return s;
        }
        let Some(zone) = &self.zone else { return 0 };
        match jiff::Timestamp::from_second(utc.and_utc().timestamp()) {
            Ok(ts) => zone.to_offset(ts).seconds(),
            Err(_) => 0,
        }
    }
}

impl Object for TzInfo {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "zone" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, _kw) = split_kwargs(args)?;
        match method {
            // pytz: attach this zone to a naive datetime.
            "localize" => {
                let dt = pos.first().and_then(|v| v.downcast_object_ref::<DateTimeObj>()).ok_or_else(|| err("localize() expects a datetime"))?;
                if dt.tz.is_some() {
                    return Err(err("ValueError: Not naive datetime (tzinfo is already set)"));
                }
                let offset = self.offset_for_local(&dt.naive);
                Ok(Value::from_object(DateTimeObj { naive: dt.naive, tz: Some(((**self).clone(), offset)) }))
            }
            "utcoffset" => {
                let dt = pos.first().and_then(|v| v.downcast_object_ref::<DateTimeObj>());
                let offset = dt.map_or(0, |d| self.offset_for_local(&d.naive));
                Ok(Value::from_object(TimeDelta::from_micros(i64::from(offset) * 1_000_000)))
            }
            "tzname" => Ok(Value::from(self.name.clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

fn fmt_offset(secs: i32, utc_prefix: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let mut s = format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60);
    if a % 60 != 0 {
        s.push_str(&format!(":{:02}", a % 60));
    }
    if utc_prefix { format!("UTC{s}") } else { s }
}

/// Python's `datetime.datetime`, naive or aware.
#[derive(Debug, Clone)]
pub struct DateTimeObj {
    pub naive: NaiveDateTime,
    /// Time zone and its UTC offset (seconds) at this local time.
    pub tz: Option<(TzInfo, i32)>,
}

impl DateTimeObj {
    pub fn aware_utc(t: chrono::DateTime<chrono::Utc>) -> DateTimeObj {
        DateTimeObj { naive: t.naive_utc(), tz: Some((TzInfo::utc(), 0)) }
    }
    pub fn naive(naive: NaiveDateTime) -> DateTimeObj {
        DateTimeObj { naive, tz: None }
    }
    fn utc_naive(&self) -> NaiveDateTime {
        match &self.tz {
            Some((_, off)) => self.naive - chrono::Duration::seconds(i64::from(*off)),
            None => self.naive,
        }
    }
    /// Python's `str(dt)` with `sep` between date and time.
    fn iso(&self, sep: &str) -> String {
        let mut s = format!("{}{sep}{}", self.naive.format("%Y-%m-%d"), self.naive.format("%H:%M:%S"));
        let us = self.naive.nanosecond() / 1000;
        if us != 0 {
            s.push_str(&format!(".{us:06}"));
        }
        if let Some((_, off)) = &self.tz {
            s.push_str(&fmt_offset(*off, false));
        }
        s
    }
    fn strftime(&self, fmt: &str) -> String {
        let offset = self.tz.as_ref().map(|(_, o)| *o);
        let zone = self.tz.as_ref().map(|(z, _)| z.name.as_str());
        py_strftime(&self.naive, offset, zone, fmt)
    }
}

/// Python's `strftime` over chrono: `%f` is microseconds, `%z` is empty for
/// naive values, `%Z` is the zone name.
pub fn py_strftime(naive: &NaiveDateTime, offset: Option<i32>, zone: Option<&str>, fmt: &str) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(d) = chars.next() else {
            out.push('%');
            break;
        };
        match d {
            'f' => out.push_str(&format!("{:06}", naive.nanosecond() / 1000)),
            'z' => {
                if let Some(o) = offset {
                    out.push_str(&fmt_offset(o, false).replace(':', ""));
                }
            }
            'Z' => out.push_str(zone.unwrap_or("")),
            '%' => out.push('%'),
            d => {
                let spec = format!("%{d}");
                let mut piece = String::new();
                use std::fmt::Write as _;
                if write!(piece, "{}", naive.format(&spec)).is_err() {
                    piece = spec;
                }
                out.push_str(&piece);
            }
        }
    }
    out
}

fn cmp_key(dt: &DateTimeObj) -> (NaiveDateTime, bool) {
    (dt.utc_naive(), dt.tz.is_some())
}

impl Object for DateTimeObj {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = &self.naive;
        Some(match key.as_str()? {
            "year" => Value::from(d.year()),
            "month" => Value::from(d.month()),
            "day" => Value::from(d.day()),
            "hour" => Value::from(d.hour()),
            "minute" => Value::from(d.minute()),
            "second" => Value::from(d.second()),
            "microsecond" => Value::from(d.nanosecond() / 1000),
            "tzinfo" => match &self.tz {
                Some((z, _)) => Value::from_object(z.clone()),
                None => Value::from(()),
            },
            _ => return None,
        })
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = split_kwargs(args)?;
        match method {
            "strftime" => {
                let fmt = arg(pos, &kw, 0, "format").map(|v| v.to_string()).unwrap_or_default();
                Ok(Value::from(self.strftime(&fmt)))
            }
            "isoformat" => {
                let sep = arg(pos, &kw, 0, "sep").map(|v| v.to_string()).unwrap_or_else(|| "T".into());
                Ok(Value::from(self.iso(&sep)))
            }
            "timestamp" => {
                // A naive datetime is local time in Python; rdbt reads it as UTC
                // only when there is no local zone to apply.
                let utc = match &self.tz {
                    Some(_) => self.utc_naive().and_utc(),
                    None => match self.naive.and_local_timezone(chrono::Local) {
                        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&chrono::Utc),
                        chrono::LocalResult::None => self.naive.and_utc(),
                    },
                };
                Ok(Value::from(utc.timestamp_micros() as f64 / 1e6))
            }
            "date" => Ok(Value::from_object(DateObj(self.naive.date()))),
            "time" => Ok(Value::from(self.naive.time().format("%H:%M:%S").to_string())),
            "weekday" => Ok(Value::from(self.naive.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.naive.weekday().number_from_monday())),
            "utcoffset" => Ok(match &self.tz {
                Some((_, o)) => Value::from_object(TimeDelta::from_micros(i64::from(*o) * 1_000_000)),
                None => Value::from(()),
            }),
            "astimezone" => {
                let tz = arg(pos, &kw, 0, "tz").and_then(|v| v.downcast_object_ref::<TzInfo>().cloned()).unwrap_or_else(TzInfo::utc);
                let utc = self.utc_naive();
                let off = tz.offset_at(&utc);
                Ok(Value::from_object(DateTimeObj { naive: utc + chrono::Duration::seconds(i64::from(off)), tz: Some((tz, off)) }))
            }
            "replace" => {
                let d = &self.naive;
                let get = |name: &str, cur: i64| -> Result<i64, Error> { int_arg(&[], &kw, 0, name, Some(cur)) };
                let date = NaiveDate::from_ymd_opt(get("year", d.year().into())? as i32, get("month", d.month().into())? as u32, get("day", d.day().into())? as u32)
                    .ok_or_else(|| err("ValueError: day is out of range for month"))?;
                let time = NaiveTime::from_hms_micro_opt(
                    get("hour", d.hour().into())? as u32,
                    get("minute", d.minute().into())? as u32,
                    get("second", d.second().into())? as u32,
                    get("microsecond", (d.nanosecond() / 1000).into())? as u32,
                )
                .ok_or_else(|| err("ValueError: time out of range"))?;
                let naive = date.and_time(time);
                let tz = match kw.as_ref().and_then(|k| k.peek::<Value>("tzinfo").ok()) {
                    Some(v) if v.is_none() => None,
                    Some(v) => v.downcast_object_ref::<TzInfo>().map(|z| (z.clone(), z.attached_offset())),
                    None => self.tz.clone().map(|(z, _)| {
                        let off = z.offset_for_local(&naive);
                        (z, off)
                    }),
                };
                Ok(Value::from_object(DateTimeObj { naive, tz }))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<DateTimeObj>()?;
        Some(cmp_key(self).cmp(&cmp_key(other)))
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.iso(" "))
    }
}

/// Python's `datetime.date`.
#[derive(Debug, Clone)]
pub struct DateObj(pub NaiveDate);

impl Object for DateObj {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "year" => Value::from(self.0.year()),
            "month" => Value::from(self.0.month()),
            "day" => Value::from(self.0.day()),
            _ => return None,
        })
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = split_kwargs(args)?;
        match method {
            "strftime" => {
                let fmt = arg(pos, &kw, 0, "format").map(|v| v.to_string()).unwrap_or_default();
                Ok(Value::from(py_strftime(&self.0.and_time(NaiveTime::MIN), None, None, &fmt)))
            }
            "isoformat" => Ok(Value::from(self.0.format("%Y-%m-%d").to_string())),
            "weekday" => Ok(Value::from(self.0.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.0.weekday().number_from_monday())),
            "toordinal" => Ok(Value::from(self.0.num_days_from_ce())),
            "replace" => {
                let d = &self.0;
                let get = |name: &str, cur: i64| -> Result<i64, Error> { int_arg(&[], &kw, 0, name, Some(cur)) };
                NaiveDate::from_ymd_opt(get("year", d.year().into())? as i32, get("month", d.month().into())? as u32, get("day", d.day().into())? as u32)
                    .map(|d| Value::from_object(DateObj(d)))
                    .ok_or_else(|| err("ValueError: day is out of range for month"))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<DateObj>()?.0))
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// Python's `datetime.timedelta`, kept as microseconds.
#[derive(Debug, Clone)]
pub struct TimeDelta(i64);

impl TimeDelta {
    pub fn from_micros(us: i64) -> TimeDelta {
        TimeDelta(us)
    }
    /// Python's normalized (days, seconds, microseconds).
    fn parts(&self) -> (i64, i64, i64) {
        let days = self.0.div_euclid(86_400_000_000);
        let rest = self.0.rem_euclid(86_400_000_000);
        (days, rest / 1_000_000, rest % 1_000_000)
    }
}

impl Object for TimeDelta {
    /// `timedelta(0)` is falsy in Python, any other duration truthy.
    fn is_true(self: &Arc<Self>) -> bool {
        self.0 != 0
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (d, s, us) = self.parts();
        Some(Value::from(match key.as_str()? {
            "days" => d,
            "seconds" => s,
            "microseconds" => us,
            _ => return None,
        }))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(self.0 as f64 / 1e6)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<TimeDelta>()?.0))
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (d, s, us) = self.parts();
        if d != 0 {
            write!(f, "{d} day{}, ", if d.abs() == 1 { "" } else { "s" })?;
        }
        write!(f, "{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)?;
        if us != 0 {
            write!(f, ".{us:06}")?;
        }
        Ok(())
    }
}

/// `modules.datetime`.
#[derive(Debug)]
pub struct DatetimeModule;

impl Object for DatetimeModule {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "datetime" => Value::from_object(DatetimeClass),
            "date" => Value::from_object(DateClass),
            "timedelta" => Value::from_object(TimedeltaClass),
            "timezone" => Value::from_object(TimezoneClass),
            "MINYEAR" => Value::from(1),
            "MAXYEAR" => Value::from(9999),
            _ => return None,
        })
    }
}

fn datetime_from_args(pos: &[Value], kw: &Option<Kwargs>) -> Result<DateTimeObj, Error> {
    let i = |idx, name, d| int_arg(pos, kw, idx, name, d);
    let date = NaiveDate::from_ymd_opt(i(0, "year", None)? as i32, i(1, "month", None)? as u32, i(2, "day", None)? as u32)
        .ok_or_else(|| err("ValueError: day is out of range for month"))?;
    let time = NaiveTime::from_hms_micro_opt(i(3, "hour", Some(0))? as u32, i(4, "minute", Some(0))? as u32, i(5, "second", Some(0))? as u32, i(6, "microsecond", Some(0))? as u32)
        .ok_or_else(|| err("ValueError: time out of range"))?;
    let naive = date.and_time(time);
    let tz = match arg(pos, kw, 7, "tzinfo") {
        Some(v) if !v.is_none() => {
            let z = v.downcast_object_ref::<TzInfo>().cloned().ok_or_else(|| err("tzinfo argument must be a time zone"))?;
            let off = z.attached_offset();
            Some((z, off))
        }
        _ => None,
    };
    Ok(DateTimeObj { naive, tz })
}

/// Parses Python's `fromisoformat` forms.
fn parse_iso(s: &str) -> Result<DateTimeObj, Error> {
    let bad = || err(format!("ValueError: Invalid isoformat string: '{s}'"));
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(DateTimeObj::naive(d.and_time(NaiveTime::MIN)));
    }
    if let Ok(dt) = chrono::DateTime::parse_from_str(&t.replacen(' ', "T", 1), "%Y-%m-%dT%H:%M:%S%.f%:z") {
        let off = dt.offset().local_minus_utc();
        return Ok(DateTimeObj { naive: dt.naive_local(), tz: Some((TzInfo::fixed(off), off)) });
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(DateTimeObj::naive(n));
        }
    }
    Err(bad())
}

#[derive(Debug)]
struct DatetimeClass;

impl Object for DatetimeClass {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = split_kwargs(args)?;
        Ok(Value::from_object(datetime_from_args(pos, &kw)?))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = split_kwargs(args)?;
        match method {
            "now" => match arg(pos, &kw, 0, "tz").and_then(|v| v.downcast_object_ref::<TzInfo>().cloned()) {
                Some(z) => {
                    let utc = chrono::Utc::now().naive_utc();
                    let off = z.offset_at(&utc);
                    Ok(Value::from_object(DateTimeObj { naive: utc + chrono::Duration::seconds(i64::from(off)), tz: Some((z, off)) }))
                }
                None => Ok(Value::from_object(DateTimeObj::naive(chrono::Local::now().naive_local()))),
            },
            "today" => Ok(Value::from_object(DateTimeObj::naive(chrono::Local::now().naive_local()))),
            "utcnow" => Ok(Value::from_object(DateTimeObj::naive(chrono::Utc::now().naive_utc()))),
            "strptime" => {
                let s = arg(pos, &kw, 0, "date_string").map(|v| v.to_string()).unwrap_or_default();
                let fmt = arg(pos, &kw, 1, "format").map(|v| v.to_string()).unwrap_or_default();
                let cfmt = fmt.replace("%f", "%.f");
                let bad = |e: chrono::ParseError| err(format!("ValueError: time data '{s}' does not match format '{fmt}' ({e})"));
                if let Ok(dt) = chrono::DateTime::parse_from_str(&s, &cfmt) {
                    let off = dt.offset().local_minus_utc();
                    return Ok(Value::from_object(DateTimeObj { naive: dt.naive_local(), tz: Some((TzInfo::fixed(off), off)) }));
                }
                let naive = NaiveDateTime::parse_from_str(&s, &cfmt)
                    .or_else(|_| NaiveDate::parse_from_str(&s, &cfmt).map(|d| d.and_time(NaiveTime::MIN)))
                    .map_err(bad)?;
                Ok(Value::from_object(DateTimeObj::naive(naive)))
            }
            "fromisoformat" => Ok(Value::from_object(parse_iso(&arg(pos, &kw, 0, "date_string").map(|v| v.to_string()).unwrap_or_default())?)),
            "fromtimestamp" | "utcfromtimestamp" => {
                let ts = arg(pos, &kw, 0, "timestamp").and_then(|v| f64::try_from(v).ok()).ok_or_else(|| err("fromtimestamp() expects a number"))?;
                let utc = chrono::DateTime::from_timestamp_micros((ts * 1e6).round() as i64).ok_or_else(|| err("timestamp out of range"))?.naive_utc();
                match arg(pos, &kw, 1, "tz").and_then(|v| v.downcast_object_ref::<TzInfo>().cloned()) {
                    Some(z) => {
                        let off = z.offset_at(&utc);
                        Ok(Value::from_object(DateTimeObj { naive: utc + chrono::Duration::seconds(i64::from(off)), tz: Some((z, off)) }))
                    }
                    None if method == "utcfromtimestamp" => Ok(Value::from_object(DateTimeObj::naive(utc))),
                    None => Ok(Value::from_object(DateTimeObj::naive(utc.and_utc().with_timezone(&chrono::Local).naive_local()))),
                }
            }
            "combine" => {
                let d = arg(pos, &kw, 0, "date").and_then(|v| v.downcast_object_ref::<DateObj>().map(|d| d.0)).ok_or_else(|| err("combine() expects a date"))?;
                Ok(Value::from_object(DateTimeObj::naive(d.and_time(NaiveTime::MIN))))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct DateClass;

impl Object for DateClass {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = split_kwargs(args)?;
        let i = |idx, name| int_arg(pos, &kw, idx, name, None);
        NaiveDate::from_ymd_opt(i(0, "year")? as i32, i(1, "month")? as u32, i(2, "day")? as u32)
            .map(|d| Value::from_object(DateObj(d)))
            .ok_or_else(|| err("ValueError: day is out of range for month"))
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = split_kwargs(args)?;
        match method {
            "today" => Ok(Value::from_object(DateObj(chrono::Local::now().date_naive()))),
            "fromisoformat" => {
                let s = arg(pos, &kw, 0, "date_string").map(|v| v.to_string()).unwrap_or_default();
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map(|d| Value::from_object(DateObj(d)))
                    .map_err(|_| err(format!("ValueError: Invalid isoformat string: '{s}'")))
            }
            "fromordinal" => {
                let n = int_arg(pos, &kw, 0, "ordinal", None)?;
                NaiveDate::from_num_days_from_ce_opt(n as i32).map(|d| Value::from_object(DateObj(d))).ok_or_else(|| err("ordinal out of range"))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct TimedeltaClass;

impl Object for TimedeltaClass {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kw) = split_kwargs(args)?;
        let num = |idx: usize, name: &str| -> Result<f64, Error> {
            match arg(pos, &kw, idx, name) {
                Some(v) => f64::try_from(v).map_err(|_| err(format!("timedelta(): '{name}' must be a number"))),
                None => Ok(0.0),
            }
        };
        let us = num(0, "days")? * 86_400e6
            + num(1, "seconds")? * 1e6
            + num(2, "microseconds")?
            + num(3, "milliseconds")? * 1e3
            + num(4, "minutes")? * 60e6
            + num(5, "hours")? * 3_600e6
            + num(6, "weeks")? * 604_800e6;
        Ok(Value::from_object(TimeDelta(us.round() as i64)))
    }
}

#[derive(Debug)]
struct TimezoneClass;

impl Object for TimezoneClass {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "utc").then(|| Value::from_object(TzInfo::utc()))
    }
}

/// `modules.pytz`: `timezone(name)`, `utc`/`UTC`.
#[derive(Debug)]
pub struct PytzModule;

impl Object for PytzModule {
    /// Python objects without `__len__`/`__bool__` are truthy
    /// (`{% if start_date %}` on a datetime).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(Value::from_object(TzInfo::utc())),
            _ => None,
        }
    }
    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "timezone" => {
                let name = args.first().and_then(Value::as_str).ok_or_else(|| err("pytz.timezone() expects a zone name"))?;
                Ok(Value::from_object(TzInfo::named(name)?))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> minijinja::Environment<'static> {
        let mut env = minijinja::Environment::new();
        env.add_global("datetime", Value::from_object(DatetimeModule));
        env.add_global("pytz", Value::from_object(PytzModule));
        env
    }

    fn render(t: &str) -> String {
        env().render_str(t, ()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn datetimes_print_like_python() {
        assert_eq!(render("{{ datetime.datetime(2024, 1, 2, 3, 4, 5) }}"), "2024-01-02 03:04:05");
        assert_eq!(render("{{ datetime.datetime(2024, 1, 2, microsecond=7) }}"), "2024-01-02 00:00:00.000007");
        assert_eq!(render("{{ datetime.datetime(2024, 1, 2).isoformat() }}"), "2024-01-02T00:00:00");
        assert_eq!(render("{{ datetime.date(2024, 2, 29) }} {{ datetime.date(2024, 2, 29).weekday() }}"), "2024-02-29 3");
        assert_eq!(render("{{ datetime.timedelta(days=1, hours=2, seconds=5) }}"), "1 day, 2:00:05");
        assert_eq!(render("{{ datetime.timedelta(hours=-1) }}"), "-1 day, 23:00:00");
        assert_eq!(render("{{ datetime.datetime.strptime('2024-03-01', '%Y-%m-%d').strftime('%d/%m/%Y %H') }}"), "01/03/2024 00");
        assert_eq!(render("{{ datetime.datetime.fromisoformat('2024-03-01T10:00:00+02:00') }}"), "2024-03-01 10:00:00+02:00");
        assert_eq!(render("{{ datetime.datetime.fromisoformat('2024-03-01T10:00:00+02:00').timestamp() }}"), "1709280000.0");
    }

    #[test]
    fn dates_are_truthy_and_a_zero_timedelta_is_not() {
        // dbt_date's get_base_dates tests `{% if start_date and end_date %}` on datetimes.
        assert_eq!(render("{{ 'T' if datetime.datetime(2024, 1, 2) else 'F' }}{{ 'T' if datetime.date(2024, 1, 2) else 'F' }}"), "TT");
        assert_eq!(render("{{ 'T' if datetime.timedelta(0) else 'F' }}{{ 'T' if datetime.timedelta(seconds=1) else 'F' }}"), "FT");
        assert_eq!(render("{{ 'T' if pytz.utc else 'F' }}{{ 'T' if datetime else 'F' }}"), "TT");
    }

    #[test]
    fn pytz_localize_and_convert() {
        let t = "{% set tz = pytz.timezone('America/New_York') %}{% set d = tz.localize(datetime.datetime(2024, 7, 1, 12)) %}\
                 {{ d }}|{{ d.tzinfo }}|{{ d.astimezone(pytz.utc) }}|{{ tz.localize(datetime.datetime(2024, 1, 1)) }}";
        assert_eq!(render(t), "2024-07-01 12:00:00-04:00|America/New_York|2024-07-01 16:00:00+00:00|2024-01-01 00:00:00-05:00");
        assert!(render("{{ pytz.timezone('Nowhere/Atlantis') }}").contains("UnknownTimeZoneError"));
        assert_eq!(render("{{ datetime.datetime(2024, 1, 1) < datetime.datetime(2024, 1, 2) }}"), "True");
    }
}

/// Python's `a + b` (`add`) or `a - b` for the values a template meets,
/// including dates: `date ± timedelta`, `datetime ± timedelta`,
/// `date - date`, `datetime - datetime`, `timedelta ± timedelta`. Numbers,
/// strings, lists and tuples follow Python; `set - set` is the difference.
pub fn py_arith(a: &Value, b: &Value, add: bool) -> Result<Value, Error> {
    use minijinja::value::ValueKind;
    let td = |v: &Value| v.downcast_object_ref::<TimeDelta>().map(|t| t.0);
    // Dates and times.
    if let Some(dt) = a.downcast_object_ref::<DateTimeObj>() {
        if let Some(us) = td(b) {
            let us = if add { us } else { -us };
            let naive = dt.naive + chrono::Duration::microseconds(us);
            let tz = dt.tz.clone();
            return Ok(Value::from_object(DateTimeObj { naive, tz }));
        }
        if let (false, Some(other)) = (add, b.downcast_object_ref::<DateTimeObj>()) {
            if dt.tz.is_some() != other.tz.is_some() {
                return Err(err("TypeError: can't subtract offset-naive and offset-aware datetimes"));
            }
            let d = dt.utc_naive() - other.utc_naive();
            return Ok(Value::from_object(TimeDelta(d.num_microseconds().unwrap_or(i64::MAX))));
        }
    }
    if let Some(d) = a.downcast_object_ref::<DateObj>() {
        if let Some(us) = td(b) {
            // date ± timedelta uses whole days, as Python does.
            let days = us.div_euclid(86_400_000_000);
            let days = if add { days } else { -days };
            let moved = d.0.checked_add_signed(chrono::Duration::days(days)).ok_or_else(|| err("OverflowError: date value out of range"))?;
            return Ok(Value::from_object(DateObj(moved)));
        }
        if let (false, Some(other)) = (add, b.downcast_object_ref::<DateObj>()) {
            return Ok(Value::from_object(TimeDelta((d.0 - other.0).num_days() * 86_400_000_000)));
        }
    }
    if let (Some(x), Some(y)) = (td(a), td(b)) {
        return Ok(Value::from_object(TimeDelta(if add { x + y } else { x - y })));
    }
    if add && td(a).is_some() && (b.downcast_object_ref::<DateTimeObj>().is_some() || b.downcast_object_ref::<DateObj>().is_some()) {
        return py_arith(b, a, true);
    }
    // Everything else, with Python's rules.
    match (a.kind(), b.kind()) {
        (ValueKind::Number, ValueKind::Number) | (ValueKind::Bool, ValueKind::Number) | (ValueKind::Number, ValueKind::Bool) => {
            if a.is_integer() && b.is_integer() || matches!(a.kind(), ValueKind::Bool) || matches!(b.kind(), ValueKind::Bool) {
                let (x, y) = (i128::try_from(a.clone()), i128::try_from(b.clone()));
                if let (Ok(x), Ok(y)) = (x, y) {
                    let r = if add { x.checked_add(y) } else { x.checked_sub(y) };
                    if let Some(r) = r {
                        return Ok(i64::try_from(r).map(Value::from).unwrap_or_else(|_| Value::from(r)));
                    }
                }
            }
            let (x, y) = (f64::try_from(a.clone()).map_err(|e| err(e.to_string()))?, f64::try_from(b.clone()).map_err(|e| err(e.to_string()))?);
            Ok(Value::from(if add { x + y } else { x - y }))
        }
        (ValueKind::String, ValueKind::String) if add => Ok(Value::from(format!("{}{}", a.as_str().unwrap_or_default(), b.as_str().unwrap_or_default()))),
        (ValueKind::Seq, ValueKind::Seq) if add && a.is_tuple() == b.is_tuple() => {
            let mut items: Vec<Value> = a.try_iter()?.collect();
            items.extend(b.try_iter()?);
            Ok(if a.is_tuple() { Value::from(minijinja::value::Tuple::from(items)) } else { super::pyvalues::PyList::new_value(items) })
        }
        (ValueKind::Seq, ValueKind::Seq) if !add && a.downcast_object_ref::<super::pyvalues::PySet>().is_some() => {
            let other: Vec<Value> = b.try_iter()?.collect();
            Ok(super::pyvalues::PySet::new_value(a.try_iter()?.filter(|v| !other.contains(v)).collect::<Vec<_>>()))
        }
        _ => Err(err(format!("TypeError: unsupported operand type(s) for {}: '{}' and '{}'", if add { "+" } else { "-" }, a.kind(), b.kind()))),
    }
}
