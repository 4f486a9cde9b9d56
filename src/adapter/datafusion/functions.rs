//! SQL functions DuckDB projects use that DataFusion does not have under
//! the same name, registered on every DataFusion session.

use std::sync::Arc;

use chrono::{NaiveDateTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

/// `typeof(x)`: the DuckDB name of the argument's type (`BIGINT`,
/// `TIMESTAMP WITH TIME ZONE`, …), as DuckDB's `typeof`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypeOf {
    signature: Signature,
}

impl ScalarUDFImpl for TypeOf {
    fn name(&self) -> &str {
        "typeof"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = args.args.first().map(|a| super::values::type_name(&a.data_type())).unwrap_or_default();
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))
    }
}

/// `timezone(zone, ts)`, as DuckDB's: a TIMESTAMP WITH TIME ZONE becomes
/// the local TIMESTAMP in `zone`; a TIMESTAMP is read as local time in
/// `zone` and becomes a TIMESTAMP WITH TIME ZONE.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimezoneFn {
    signature: Signature,
}

fn micros_to_naive(v: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(v).map(|d| d.naive_utc())
}

impl ScalarUDFImpl for TimezoneFn {
    fn name(&self) -> &str {
        "timezone"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.get(1) {
            Some(DataType::Timestamp(_, Some(_))) => Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
            Some(DataType::Timestamp(_, None)) | Some(DataType::Date32) | Some(DataType::Date64) => {
                Ok(DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())))
            }
            other => Err(DataFusionError::Plan(format!("timezone(zone, timestamp) does not take a {other:?}"))),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [zone, ts] = args.args.as_slice() else { return Err(DataFusionError::Plan("timezone takes two arguments".into())) };
        let zone = zone.to_array(rows)?;
        let ts = ts.to_array(rows)?;
        let to_local = matches!(ts.data_type(), DataType::Timestamp(_, Some(_)));
        let micros = cast(&ts, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let micros = micros.as_primitive::<TimestampMicrosecondType>();
        let zone = cast(&zone, &DataType::Utf8)?;
        let zone = zone.as_string::<i32>();
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            if micros.is_null(i) || zone.is_null(i) {
                out.push(None);
                continue;
            }
            let tz: Tz = zone.value(i).parse().map_err(|e| DataFusionError::Execution(format!("timezone: {e}")))?;
            let Some(naive) = micros_to_naive(micros.value(i)) else { out.push(None); continue };
            let v = if to_local {
                tz.from_utc_datetime(&naive).naive_local().and_utc().timestamp_micros()
            } else {
                match tz.from_local_datetime(&naive).earliest() {
                    Some(t) => t.naive_utc().and_utc().timestamp_micros(),
                    None => {
                        out.push(None);
                        continue;
                    }
                }
            };
            out.push(Some(v));
        }
        let arr = TimestampMicrosecondArray::from(out);
        let arr = if to_local { arr } else { arr.with_timezone("+00:00") };
        Ok(ColumnarValue::Array(Arc::new(arr)))
    }
}

/// `rdbt_text(x)`: `x` as text the way DuckDB's `CAST(x AS VARCHAR)`
/// writes it (`2024-01-02 03:04:05`, not Arrow's `2024-01-02T03:04:05`), so
/// hashes and concatenations of dates match across engines. CASTs to a text
/// type are rewritten to it before planning.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DuckText {
    signature: Signature,
}

impl ScalarUDFImpl for DuckText {
    fn name(&self) -> &str {
        "rdbt_text"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else { return Err(DataFusionError::Plan("rdbt_text takes one argument".into())) };
        let temporal = matches!(
            arg.data_type(),
            DataType::Timestamp(..)
                | DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Interval(_)
                | DataType::Duration(_)
        );
        if !temporal {
            return match arg {
                ColumnarValue::Array(a) => Ok(ColumnarValue::Array(cast(a, &DataType::Utf8)?)),
                ColumnarValue::Scalar(v) => Ok(ColumnarValue::Scalar(v.cast_to(&DataType::Utf8)?)),
            };
        }
        let a = arg.to_array(args.number_rows)?;
        let out: datafusion::arrow::array::StringArray = (0..a.len())
            .map(|i| match super::values::cell(a.as_ref(), i) {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                other => Some(other.to_string()),
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

pub(crate) fn all() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(DuckText { signature: Signature::any(1, Volatility::Immutable) }),
        ScalarUDF::from(TypeOf { signature: Signature::any(1, Volatility::Immutable) }),
        ScalarUDF::from(TimezoneFn { signature: Signature::any(2, Volatility::Immutable) }),
    ]
}
