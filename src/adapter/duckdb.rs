//! DuckDB through the `duckdb` crate.
