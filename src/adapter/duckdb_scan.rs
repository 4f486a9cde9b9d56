//! Bulk appends into DuckDB through a table function.
//!
//! `append_columns` lends a batch of [`ColumnValues`] to a table function
//! registered on its connection and runs `INSERT INTO t (...) SELECT * FROM
//! <function>()` in the connection's open transaction. The function fills
//! DuckDB's vectors 2,048 rows at a time straight from the batch's cells, so
//! a value costs a store instead of one Appender call (which validates,
//! locks and casts per value), and the INSERT casts text to the column types
//! (timestamps, dates, JSON) a vector at a time.
//!
//! The batch is lent, not copied: a `ScanSlot` holds a pointer to it only
//! while `ScanSlot::lend` runs, and the table function reads it under the
//! slot's lock. Another query that calls the function outside `lend` gets an
//! error, never a dangling pointer.

use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use duckdb::core::{DataChunkHandle, FlatVector, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab};

use super::{Cell, ColumnValues};

/// The batch a connection is appending, lent for one INSERT.
#[derive(Default)]
pub(super) struct ScanSlot(Mutex<Option<Lent>>);

struct Lent {
    cols: *const ColumnValues,
    n: usize,
}

// SAFETY: the pointer is only dereferenced under the slot's lock while
// `ScanSlot::lend` holds the borrow it came from (see `ScanSlot::with`).
unsafe impl Send for Lent {}

impl ScanSlot {
    /// Runs `f` with `cols` readable by the table function. The batch is
    /// taken back before `lend` returns, also when `f` fails or panics.
    pub(super) fn lend<R>(&self, cols: &[ColumnValues], f: impl FnOnce() -> R) -> R {
        struct TakeBack<'a>(&'a ScanSlot);
        impl Drop for TakeBack<'_> {
            fn drop(&mut self) {
                *self.0.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
        }
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Lent { cols: cols.as_ptr(), n: cols.len() });
        let _take_back = TakeBack(self);
        f()
    }

    /// `f` over the lent batch; `None` when nothing is lent.
    fn with<R>(&self, f: impl FnOnce(&[ColumnValues]) -> R) -> Option<R> {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let lent = guard.as_ref()?;
        // SAFETY: `lend` stored this pointer from a live slice and clears it
        // under this lock before the slice's borrow ends, so while we hold
        // the lock the slice is alive and not mutated.
        let cols = unsafe { std::slice::from_raw_parts(lent.cols, lent.n) };
        Some(f(cols))
    }
}

/// How a column's cells go into a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Double,
    Bool,
    Uuid,
    /// Text cells, and any mix of kinds that is not ints with doubles
    /// (numbers and booleans are then written as text and cast by the INSERT).
    Text,
}

impl Kind {
    fn type_id(self) -> LogicalTypeId {
        match self {
            Kind::Int => LogicalTypeId::Bigint,
            Kind::Double => LogicalTypeId::Double,
            Kind::Bool => LogicalTypeId::Boolean,
            Kind::Uuid => LogicalTypeId::Uuid,
            Kind::Text => LogicalTypeId::Varchar,
        }
    }
}

fn kind_of(col: &ColumnValues) -> Kind {
    let mut kind = None;
    for cell in &col.cells {
        let k = match cell {
            Cell::Null => continue,
            Cell::Bool(_) => Kind::Bool,
            Cell::Int(_) => Kind::Int,
            Cell::Double(_) => Kind::Double,
            Cell::Uuid(..) => Kind::Uuid,
            Cell::Text(..) => return Kind::Text,
        };
        kind = Some(match (kind, k) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (Some(Kind::Int | Kind::Double), Kind::Int | Kind::Double) => Kind::Double,
            _ => return Kind::Text,
        });
    }
    kind.unwrap_or(Kind::Text)
}

/// The table function over a lent batch (`c0`, `c1`, ... in batch order).
pub(super) struct ColumnScan;

pub(super) struct ScanBind {
    slot: Arc<ScanSlot>,
    kinds: Vec<Kind>,
    rows: usize,
}

pub(super) struct ScanState {
    next_row: AtomicUsize,
}

impl VTab for ColumnScan {
    type BindData = ScanBind;
    type InitData = ScanState;

    fn bind(bind: &BindInfo) -> Result<ScanBind, Box<dyn Error>> {
        let slot = bind.get_extra_info::<Arc<ScanSlot>>();
        if slot.is_null() {
            return Err("rdbt column scan: no slot".into());
        }
        // SAFETY: registered with an `Arc<ScanSlot>` as extra info (see
        // `DuckDbConnection::column_scan`); DuckDB keeps it for the
        // function's lifetime.
        let slot = unsafe { &*slot }.clone();
        let (kinds, rows) = slot
            .with(|cols| (cols.iter().map(kind_of).collect::<Vec<_>>(), cols.first().map_or(0, ColumnValues::len)))
            .ok_or("rdbt column scan: no batch is being appended")?;
        for (i, k) in kinds.iter().enumerate() {
            bind.add_result_column(&format!("c{i}"), LogicalTypeHandle::from(k.type_id()));
        }
        bind.set_cardinality(rows as u64, true);
        Ok(ScanBind { slot, kinds, rows })
    }

    fn init(init: &InitInfo) -> Result<ScanState, Box<dyn Error>> {
        init.set_max_threads(1);
        Ok(ScanState { next_row: AtomicUsize::new(0) })
    }

    fn func(info: &TableFunctionInfo<Self>, out: &mut DataChunkHandle) -> Result<(), Box<dyn Error>> {
        let bind = info.get_bind_data();
        let state = info.get_init_data();
        // SAFETY: a plain getter of a compile-time constant.
        let vector_size = unsafe { duckdb::ffi::duckdb_vector_size() } as usize;
        let start = state.next_row.load(Ordering::Relaxed);
        let n = vector_size.min(bind.rows.saturating_sub(start));
        if n > 0 {
            bind.slot
                .with(|cols| {
                    for (i, (col, kind)) in cols.iter().zip(&bind.kinds).enumerate() {
                        let cells = col.cells.get(start..start + n).unwrap_or_default();
                        // SAFETY: `i` is one of the chunk's columns (one per batch column, as bound).
                        let raw = unsafe { duckdb::ffi::duckdb_data_chunk_get_vector(out.get_ptr(), i as u64) };
                        fill(&mut out.flat_vector(i), raw, *kind, cells, &col.text);
                    }
                })
                .ok_or("rdbt column scan: the batch was taken back")?;
            state.next_row.store(start + n, Ordering::Relaxed);
        }
        out.set_len(n);
        Ok(())
    }
}

/// Writes `cells` into rows `0..cells.len()` of `v` (`raw` is the same
/// vector, for the string writes the wrapper does not offer).
fn fill(v: &mut FlatVector<'_>, raw: duckdb::ffi::duckdb_vector, kind: Kind, cells: &[Cell], text: &str) {
    match kind {
        // SAFETY (the fixed-width kinds): the vector has the type
        // `kind.type_id()` declared in `bind`, whose values are the `T` given.
        Kind::Int => unsafe {
            fill_fixed(v, cells, |c| match c {
                Cell::Int(x) => Some(*x),
                _ => None,
            })
        },
        Kind::Double => unsafe {
            fill_fixed(v, cells, |c| match c {
                Cell::Double(x) => Some(*x),
                Cell::Int(x) => Some(*x as f64),
                _ => None,
            })
        },
        Kind::Bool => unsafe {
            fill_fixed(v, cells, |c| match c {
                Cell::Bool(x) => Some(*x),
                _ => None,
            })
        },
        // DuckDB keeps a UUID as a HUGEINT (low word first) whose top bit
        // is flipped, so that UUIDs sort as their text does.
        Kind::Uuid => unsafe {
            fill_fixed(v, cells, |c| match c {
                Cell::Uuid(hi, lo) => Some([*lo, *hi ^ (1 << 63)]),
                _ => None,
            })
        },
        Kind::Text => {
            let mut nulls = Vec::new();
            for (r, c) in cells.iter().enumerate() {
                let buf: String;
                let s: &str = match c {
                    Cell::Null => {
                        nulls.push(r);
                        continue;
                    }
                    Cell::Text(a, b) => text.get(*a..*b).unwrap_or(""),
                    Cell::Int(x) => {
                        buf = x.to_string();
                        &buf
                    }
                    Cell::Double(x) => {
                        buf = x.to_string();
                        &buf
                    }
                    Cell::Bool(x) => {
                        if *x {
                            "true"
                        } else {
                            "false"
                        }
                    }
                    Cell::Uuid(hi, lo) => {
                        buf = super::values::format_uuid((u128::from(*hi) << 64) | u128::from(*lo));
                        &buf
                    }
                };
                // SAFETY: `raw` is this VARCHAR vector and `r` below its
                // capacity; `s` is a `&str`, so valid UTF-8, which is what
                // the checked `duckdb_vector_assign_string_element_len`
                // would verify again, string by string.
                unsafe { duckdb::ffi::duckdb_unsafe_vector_assign_string_element_len(raw, r as u64, s.as_ptr().cast(), s.len() as u64) };
            }
            for r in nulls {
                v.set_null(r);
            }
        }
    }
}

/// Writes the cells `value` maps to `Some` into a vector of fixed-width
/// values `T`; the others are NULL.
///
/// # Safety
/// The vector's values must be `T`s (BIGINT: `i64`, DOUBLE: `f64`,
/// BOOLEAN: `bool`, UUID: `[u64; 2]`) and `cells` no longer than its capacity (a vector's
/// 2,048 rows).
unsafe fn fill_fixed<T: Copy>(v: &mut FlatVector<'_>, cells: &[Cell], value: impl Fn(&Cell) -> Option<T>) {
    // SAFETY: see the function's contract.
    let data = unsafe { v.as_mut_slice_with_len::<T>(cells.len()) };
    let mut nulls = Vec::new();
    for (r, c) in cells.iter().enumerate() {
        match value(c) {
            Some(x) => data[r] = x,
            None => nulls.push(r),
        }
    }
    for r in nulls {
        v.set_null(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Datum;
    use std::borrow::Cow;

    fn col(ds: Vec<Datum<'_>>) -> ColumnValues {
        ds.into_iter().collect()
    }

    #[test]
    fn kinds_follow_the_cells() {
        let t = |s: &str| Datum::Text(Cow::Owned(s.to_string()));
        assert_eq!(kind_of(&col(vec![Datum::Null, Datum::Int(1)])), Kind::Int);
        assert_eq!(kind_of(&col(vec![Datum::Int(1), Datum::Double(0.5)])), Kind::Double);
        assert_eq!(kind_of(&col(vec![Datum::Bool(true), Datum::Null])), Kind::Bool);
        assert_eq!(kind_of(&col(vec![Datum::Int(1), t("x")])), Kind::Text);
        assert_eq!(kind_of(&col(vec![Datum::Bool(true), Datum::Int(1)])), Kind::Text);
        assert_eq!(kind_of(&col(vec![Datum::Null])), Kind::Text);
    }

    #[test]
    fn nothing_is_readable_outside_lend() {
        let slot = ScanSlot::default();
        let cols = vec![col(vec![Datum::Int(1)])];
        assert_eq!(slot.lend(&cols, || slot.with(|c| c.len())), Some(1));
        assert_eq!(slot.with(|c| c.len()), None);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| slot.lend(&cols, || panic!("boom"))));
        assert!(caught.is_err());
        assert_eq!(slot.with(|c| c.len()), None);
    }
}
