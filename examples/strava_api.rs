//! Serves the synthetic Strava-like API (`rdbt::ingest::synthetic`) on
//! 127.0.0.1 until stdin closes (or Ctrl-C): for recording the root
//! project's offline responses, and for comparing loaders against the same
//! server.
//!
//!     cargo run --no-default-features --features datafusion --example strava_api -- --port 8765 --activities 400
//!
//! `--prerender` renders every activity's JSON before the URL is printed,
//! so that serving costs the benchmarked loaders' cores almost nothing.

use std::io::Read;

fn main() {
    let mut port = 0u16;
    let mut data = rdbt::ingest::synthetic::Dataset::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--prerender" {
            data.prerender = true;
            continue;
        }
        let value = args.next();
        match (a.as_str(), value.as_deref().map(str::parse::<u64>)) {
            ("--port", Some(Ok(v))) => port = v as u16,
            ("--activities", Some(Ok(v))) => data.activities = v as usize,
            ("--span-days", Some(Ok(v))) => data.span_days = v as i64,
            _ => {
                eprintln!("usage: strava_api [--port N] [--activities N] [--span-days N] [--prerender]");
                std::process::exit(2);
            }
        }
    }
    let server = match rdbt::ingest::synthetic::Server::start(data, port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("strava_api: cannot listen: {e}");
            std::process::exit(2);
        }
    };
    println!("{}", server.url());
    // Serve until the parent closes stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
