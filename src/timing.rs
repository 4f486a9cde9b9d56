//! `RDBT_TIMINGS=1`: the wall time and resident memory of each phase on
//! stderr, for finding where a command spends its time without a profiler.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RDBT_TIMINGS").is_some())
}

/// Prints `timing: <name> <seconds>s rss <MB> MB` when timings are on, and
/// returns now: the start of the next phase.
pub fn phase(name: &str, since: Instant) -> Instant {
    if enabled() {
        let rss = resident_mb().map(|mb| format!(" rss {mb} MB")).unwrap_or_default();
        eprintln!("timing: {name} {:.3}s{rss}", since.elapsed().as_secs_f64());
    }
    Instant::now()
}

/// The process's resident set in MB (Linux only).
fn resident_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
