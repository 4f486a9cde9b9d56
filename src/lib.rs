//! rdbt: dbt projects compiled and run in-process on an embedded engine.
//! The data flow is described in DESIGN.md: config → loader → parser →
//! manifest → graph → compile → run (adapter, materialize) → artifacts.

// `json!` literals of a whole API record (synthetic Strava activities) nest
// deeper than the default macro recursion limit.
#![recursion_limit = "256"]

pub mod adapter;
pub mod artifacts;
pub mod cli;
pub mod compile;
pub mod config;
pub mod deps;
pub mod diag;
pub mod docs;
pub mod graph;
pub mod ingest;
pub mod jinja;
pub mod loader;
pub mod manifest;
pub mod materialize;
pub mod ml;
pub mod parser;
pub mod run;
pub mod timing;
