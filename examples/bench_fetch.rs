//! Fetch throughput of ingest: a local HTTP server (in this process, on
//! 127.0.0.1) serves `--records` records in pages of `--page-size` with a
//! page-number paginator; the records are fetched, parsed and handed to a
//! callback that only counts them. Prints records/s, MB/s and the peak
//! resident memory, which must stay flat as `--records` grows (pages are
//! streamed, never collected).
//!
//!   . scripts/libduckdb.sh
//!   cargo run --no-default-features --features datafusion --example bench_fetch -- [--records N] [--page-size N]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Instant;

use rdbt::ingest::fetch::{self, FetchOptions};
use rdbt::ingest::spec::IngestSpec;
use serde_json::json;

fn main() {
    let mut records: usize = 1_000_000;
    let mut page_size: usize = 1_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), v) {
            ("--records", Some(n)) if n > 0 => records = n,
            ("--page-size", Some(n)) if n > 0 => page_size = n,
            _ => {
                eprintln!("usage: bench_fetch [--records N] [--page-size N]");
                std::process::exit(2);
            }
        }
    }
    let pages = records.div_ceil(page_size);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(&conn);
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
            }
            let page: usize = line.split("page=").nth(1).and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next()).and_then(|s| s.parse().ok()).unwrap_or(0);
            let start = page * page_size;
            let end = ((page + 1) * page_size).min(records);
            // Written by hand, not with json!: the server shares the process
            // and should cost little next to the client being measured.
            let mut body = String::with_capacity((end - start) * 160 + 64);
            body.push_str("{\"data\":[");
            for i in start..end {
                if i > start {
                    body.push(',');
                }
                body.push_str(&format!(
                    "{{\"id\":{i},\"name\":\"record {i}\",\"amount\":{},\"updated_at\":\"2024-05-01T12:00:00Z\",\"tags\":[\"a\",\"b\"],\"owner\":{{\"id\":{},\"active\":{}}}}}",
                    i as f64 * 1.25,
                    i % 97,
                    i % 2 == 0
                ));
            }
            body.push_str(&format!("],\"total_pages\":{pages}}}"));
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body.as_bytes());
        }
    });
    let spec = IngestSpec::from_value(&json!({
        "name": "bench",
        "client": {"base_url": format!("http://127.0.0.1:{port}"), "paginator": {"type": "page_number", "total_path": "total_pages"}},
        "resources": [{"name": "rows", "endpoint": {"path": "rows", "data_selector": "data"}}]
    }))
    .expect("spec");
    let started = Instant::now();
    let mut seen = 0usize;
    let out = fetch::run::<std::convert::Infallible>(&spec, &[], &FetchOptions::default(), &mut |_, page| {
        seen += page.records.len();
        Ok(())
    })
    .expect("fetch");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(seen, records);
    println!(
        "{records} records in {} pages ({} requests): {secs:.2}s, {:.0} records/s, peak RSS {} MB",
        out.resources[0].pages,
        out.requests,
        records as f64 / secs,
        peak_rss_mb().map_or("?".into(), |m| m.to_string())
    );
}

fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb / 1024)
}
