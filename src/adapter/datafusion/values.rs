//! Arrow values as the rest of rdbt sees them: DuckDB-style type names,
//! JSON rows formatted as on DuckDB (`adapter::values`), and typed Arrow
//! columns built from JSON rows (seeds, ingest, ML predictions).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Field, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType, Schema, SchemaRef, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value};

use crate::adapter::values::{self as fmt, decimal_json, float_json};
use crate::adapter::{AdapterError, AdapterResult, Column, QueryResult};

/// The DuckDB name of an Arrow type (what `get_columns` reports and what
/// materializations write back into CAST and CREATE TABLE).
pub(crate) fn type_name(dt: &DataType) -> String {
    match dt {
        DataType::Null => "INTEGER".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INTEGER UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            format!("DECIMAL({p},{s})")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => "BYTEA".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) | DataType::LargeListView(f) => {
            format!("{}[]", type_name(f.data_type()))
        }
        DataType::FixedSizeList(f, n) => format!("{}[{n}]", type_name(f.data_type())),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields.iter().map(|f| format!("\"{}\" {}", f.name(), type_name(f.data_type()))).collect();
            format!("STRUCT({})", inner.join(", "))
        }
        DataType::Map(f, _) => match f.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!("MAP({}, {})", type_name(kv[0].data_type()), type_name(kv[1].data_type())),
            other => format!("MAP({})", type_name(other)),
        },
        DataType::Dictionary(_, v) => type_name(v),
        other => other.to_string().to_uppercase(),
    }
}

/// The type a table stores for a query's column: nullable, Utf8 rather
/// than Utf8View, a plain type rather than a dictionary, INTEGER for an
/// untyped NULL (as DuckDB).
pub(crate) fn storage_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Null => DataType::Int32,
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::Dictionary(_, v) => storage_type(v),
        other => other.clone(),
    }
}

/// `batches` (of `schema`) cast to storage types, every field nullable.
pub(crate) fn normalize(schema: &SchemaRef, batches: Vec<RecordBatch>) -> AdapterResult<(SchemaRef, Vec<RecordBatch>)> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), storage_type(f.data_type()), true))
        .collect();
    let target: SchemaRef = Arc::new(Schema::new(fields));
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        out.push(cast_batch(&b, &target, &(0..b.num_columns()).map(Some).collect::<Vec<_>>())?);
    }
    Ok((target, out))
}

/// A batch of `target`'s shape: column i comes from `b`'s column
/// `sources[i]` (cast), or is NULL when `sources[i]` is None.
pub(crate) fn cast_batch(b: &RecordBatch, target: &SchemaRef, sources: &[Option<usize>]) -> AdapterResult<RecordBatch> {
    let opts = CastOptions { safe: false, ..Default::default() };
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for (field, src) in target.fields().iter().zip(sources) {
        match src {
            Some(i) => {
                let a = b.column(*i);
                if a.data_type() == field.data_type() {
                    cols.push(a.clone());
                } else {
                    cols.push(cast_with_options(a, field.data_type(), &opts).map_err(|e| {
                        AdapterError::new(format!(
                            "Conversion Error: cannot cast column \"{}\" from {} to {}: {e}",
                            field.name(),
                            type_name(a.data_type()),
                            type_name(field.data_type())
                        ))
                    })?);
                }
            }
            None => cols.push(new_null_array(field.data_type(), b.num_rows())),
        }
    }
    RecordBatch::try_new_with_options(target.clone(), cols, &datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(b.num_rows())))
        .map_err(|e| AdapterError::new(e.to_string()))
}

/// JSON rows → one batch of `schema`: `columns` name the table columns the
/// row values fill (the others are NULL); values are cast from their text.
pub(crate) fn rows_to_batch(schema: &SchemaRef, columns: &[Column], rows: &[Vec<Value>]) -> AdapterResult<RecordBatch> {
    let mut sources: Vec<Option<usize>> = vec![None; schema.fields().len()];
    let mut texts: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let mut text_fields = Vec::with_capacity(columns.len());
    for (ci, c) in columns.iter().enumerate() {
        let Some(pos) = schema.fields().iter().position(|f| f.name().eq_ignore_ascii_case(&c.name)) else {
            return Err(AdapterError::new(format!("Binder Error: table has no column named \"{}\"", c.name)));
        };
        sources[pos] = Some(ci);
        let arr: StringArray = rows.iter().map(|r| r.get(ci).and_then(json_text)).collect();
        texts.push(Arc::new(arr));
        text_fields.push(Field::new(format!("c{ci}"), DataType::Utf8, true));
    }
    let text_schema = Arc::new(Schema::new(text_fields));
    let batch = RecordBatch::try_new_with_options(
        text_schema,
        texts,
        &datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows.len())),
    )
    .map_err(|e| AdapterError::new(e.to_string()))?;
    cast_batch(&batch, schema, &sources)
}

/// Typed column values (`Connection::append_columns`) → one batch of
/// `schema`: each column built as its natural Arrow type (Int64, Float64,
/// Boolean, Utf8), then cast to the table's type.
pub(crate) fn datums_to_batch(schema: &SchemaRef, columns: &[Column], values: &[crate::adapter::ColumnValues]) -> AdapterResult<RecordBatch> {
    use crate::adapter::Datum;
    use datafusion::arrow::array::{BooleanArray, Float64Array, Int64Array};
    let nrows = values.first().map_or(0, crate::adapter::ColumnValues::len);
    let mut sources: Vec<Option<usize>> = vec![None; schema.fields().len()];
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let mut fields = Vec::with_capacity(columns.len());
    for (ci, (c, vals)) in columns.iter().zip(values).enumerate() {
        let Some(pos) = schema.fields().iter().position(|f| f.name().eq_ignore_ascii_case(&c.name)) else {
            return Err(AdapterError::new(format!("Binder Error: table has no column named \"{}\"", c.name)));
        };
        sources[pos] = Some(ci);
        let first = vals.iter().find(|d| !matches!(d, Datum::Null));
        let arr: ArrayRef = match first {
            Some(Datum::Int(_)) if vals.iter().all(|d| matches!(d, Datum::Null | Datum::Int(_))) => {
                Arc::new(vals.iter().map(|d| if let Datum::Int(i) = d { Some(i) } else { None }).collect::<Int64Array>())
            }
            Some(Datum::Double(_)) if vals.iter().all(|d| matches!(d, Datum::Null | Datum::Double(_))) => {
                Arc::new(vals.iter().map(|d| if let Datum::Double(f) = d { Some(f) } else { None }).collect::<Float64Array>())
            }
            Some(Datum::Bool(_)) if vals.iter().all(|d| matches!(d, Datum::Null | Datum::Bool(_))) => {
                Arc::new(vals.iter().map(|d| if let Datum::Bool(b) = d { Some(b) } else { None }).collect::<BooleanArray>())
            }
            _ => Arc::new(
                vals.iter()
                    .map(|d| match d {
                        Datum::Null => None,
                        Datum::Text(t) => Some(t),
                        other => json_text(&other.to_json()).map(std::borrow::Cow::Owned),
                    })
                    .collect::<StringArray>(),
            ),
        };
        if arr.len() != nrows {
            return Err(AdapterError::new("append: columns of unequal length"));
        }
        fields.push(Field::new(format!("c{ci}"), arr.data_type().clone(), true));
        arrays.push(arr);
    }
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(nrows)),
    )
    .map_err(|e| AdapterError::new(e.to_string()))?;
    cast_batch(&batch, schema, &sources)
}

fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Query batches → rows of JSON values.
pub(crate) fn to_query_result(schema: &SchemaRef, batches: &[RecordBatch]) -> AdapterResult<QueryResult> {
    let columns = schema.fields().iter().map(|f| Column { name: f.name().clone(), data_type: type_name(f.data_type()) }).collect();
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            rows.push(b.columns().iter().map(|a| cell(a.as_ref(), r)).collect());
        }
    }
    Ok(QueryResult { columns, rows })
}

fn time_unit(u: &TimeUnit) -> fmt::TimeUnit {
    match u {
        TimeUnit::Second => fmt::TimeUnit::Second,
        TimeUnit::Millisecond => fmt::TimeUnit::Millisecond,
        TimeUnit::Microsecond => fmt::TimeUnit::Microsecond,
        TimeUnit::Nanosecond => fmt::TimeUnit::Nanosecond,
    }
}

/// One value as JSON, formatted as the DuckDB adapter formats it.
pub(crate) fn cell(a: &dyn Array, i: usize) -> Value {
    if a.is_null(i) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
        DataType::Int8 => a.as_primitive::<Int8Type>().value(i).into(),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(i).into(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).into(),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(i).into(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).into(),
        DataType::Float16 => float_json(a.as_primitive::<Float16Type>().value(i).to_f64()),
        DataType::Float32 => float_json(a.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => float_json(a.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            decimal_json(&display(a, i))
        }
        DataType::Utf8 => Value::String(a.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::String(a.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Value::String(a.as_string_view().value(i).to_string()),
        DataType::Binary => Value::String(fmt::format_blob(a.as_binary::<i32>().value(i))),
        DataType::LargeBinary => Value::String(fmt::format_blob(a.as_binary::<i64>().value(i))),
        DataType::BinaryView => Value::String(fmt::format_blob(a.as_binary_view().value(i))),
        DataType::Date32 => Value::String(fmt::format_date(a.as_primitive::<Date32Type>().value(i))),
        DataType::Date64 => Value::String(fmt::format_date(a.as_primitive::<Date64Type>().value(i).div_euclid(86_400_000) as i32)),
        DataType::Time32(TimeUnit::Second) => Value::String(fmt::format_time(a.as_primitive::<Time32SecondType>().value(i) as i64 * 1_000_000)),
        DataType::Time32(_) => Value::String(fmt::format_time(a.as_primitive::<Time32MillisecondType>().value(i) as i64 * 1000)),
        DataType::Time64(TimeUnit::Microsecond) => Value::String(fmt::format_time(a.as_primitive::<Time64MicrosecondType>().value(i))),
        DataType::Time64(_) => Value::String(fmt::format_time(a.as_primitive::<Time64NanosecondType>().value(i) / 1000)),
        DataType::Timestamp(unit, tz) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<datafusion::arrow::datatypes::TimestampSecondType>().value(i),
                TimeUnit::Millisecond => a.as_primitive::<datafusion::arrow::datatypes::TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => a.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => a.as_primitive::<datafusion::arrow::datatypes::TimestampNanosecondType>().value(i),
            };
            let s = fmt::format_timestamp(time_unit(unit), v);
            if tz.is_some() && !s.ends_with("infinity") { Value::String(format!("{s}+00")) } else { Value::String(s) }
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = a.as_primitive::<IntervalMonthDayNanoType>().value(i);
            Value::String(fmt::format_interval(v.months, v.days, v.nanoseconds))
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            let v = a.as_primitive::<IntervalDayTimeType>().value(i);
            Value::String(fmt::format_interval(0, v.days, v.milliseconds as i64 * 1_000_000))
        }
        DataType::Interval(IntervalUnit::YearMonth) => {
            Value::String(fmt::format_interval(a.as_primitive::<IntervalYearMonthType>().value(i), 0, 0))
        }
        // timestamp - timestamp: DuckDB answers an INTERVAL.
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<datafusion::arrow::datatypes::DurationSecondType>().value(i).saturating_mul(1_000_000_000),
                TimeUnit::Millisecond => a.as_primitive::<datafusion::arrow::datatypes::DurationMillisecondType>().value(i).saturating_mul(1_000_000),
                TimeUnit::Microsecond => a.as_primitive::<datafusion::arrow::datatypes::DurationMicrosecondType>().value(i).saturating_mul(1000),
                TimeUnit::Nanosecond => a.as_primitive::<datafusion::arrow::datatypes::DurationNanosecondType>().value(i),
            };
            let day = 86_400_000_000_000i64;
            Value::String(fmt::format_interval(0, (v / day) as i32, v % day))
        }
        DataType::List(_) => list(a.as_list::<i32>().value(i)),
        DataType::LargeList(_) => list(a.as_list::<i64>().value(i)),
        DataType::FixedSizeList(..) => list(a.as_fixed_size_list().value(i)),
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let mut m = Map::new();
            for (f, col) in fields.iter().zip(s.columns()) {
                m.insert(f.name().clone(), cell(col.as_ref(), i));
            }
            Value::Object(m)
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(i);
            let (keys, vals) = (entries.column(0), entries.column(1));
            let pairs: Vec<(Value, Value)> = (0..entries.len()).map(|j| (cell(keys.as_ref(), j), cell(vals.as_ref(), j))).collect();
            fmt::map_json(pairs)
        }
        DataType::Dictionary(..) => {
            let d = a.as_any_dictionary();
            let key = d.normalized_keys()[i];
            cell(d.values().as_ref(), key)
        }
        _ => Value::String(display(a, i)),
    }
}

fn list(values: ArrayRef) -> Value {
    Value::Array((0..values.len()).map(|j| cell(values.as_ref(), j)).collect())
}

fn display(a: &dyn Array, i: usize) -> String {
    match ArrayFormatter::try_new(a, &FormatOptions::default()) {
        Ok(f) => f.value(i).to_string(),
        Err(e) => format!("<{e}>"),
    }
}
