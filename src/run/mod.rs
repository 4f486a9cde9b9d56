//! The scheduler: runs a plan on `--threads` workers.
pub mod results;
