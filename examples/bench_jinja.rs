//! Jinja rendering throughput of rdbt on a macro-heavy model
//! (`examples/bench_jinja_data/`: a model calling package-style macros:
//! pivot, surrogate key, column lists, a date spine, `return()`, `caller()`,
//! namespaces, dict lookups, string formatting).
//!
//! Each iteration renders the model as the compiler renders a node at
//! execution: the template text is compiled and rendered in a fresh node
//! context against an environment whose macros were registered once.
//!
//!   . scripts/libduckdb.sh
//!   cargo run --no-default-features --features datafusion --example bench_jinja -- [--iterations N] [--print]
//!
//! `scripts/bench_jinja.sh` runs this and the same model through dbt-core
//! (`scripts/bench_jinja.py`) and checks both render the same text.

use std::time::Instant;

use rdbt::jinja::testing::CaseEnv;

const MODEL: &str = include_str!("bench_jinja_data/model.sql");
const MACROS: &str = include_str!("bench_jinja_data/macros.sql");

fn main() {
    let mut iterations: usize = 20_000;
    let mut print = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => iterations = n,
                _ => exit_usage("--iterations needs a positive number"),
            },
            "--print" => print = true,
            other => exit_usage(&format!("unknown argument {other}")),
        }
    }
    let files = vec![("macros/bench.sql".to_string(), MACROS.to_string())];
    let env = match CaseEnv::new(&files, &serde_json::Value::Null) {
        Ok(env) => env,
        Err(e) => fail(&e),
    };
    let render = || env.render(MODEL, &serde_json::Value::Null).unwrap_or_else(|e| fail(&e));
    let first = render();
    if print {
        print!("{first}");
        return;
    }
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..iterations {
        bytes += render().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "rdbt: {iterations} renders in {secs:.3} s: {:.0} templates/s, {:.2} MB/s rendered ({} bytes per render)",
        iterations as f64 / secs,
        bytes as f64 / secs / 1e6,
        bytes / iterations
    );
}

fn exit_usage(msg: &str) -> ! {
    eprintln!("bench_jinja: {msg}\nusage: bench_jinja [--iterations N] [--print]");
    std::process::exit(2)
}

fn fail(msg: &str) -> ! {
    eprintln!("bench_jinja: rendering the benchmark model failed: {msg}");
    std::process::exit(1)
}
