#!/usr/bin/env bash
# Ingest benchmark: for each N (default 100000), serves N synthetic Strava-like
# activities from examples/strava_api (its own process, 127.0.0.1; pages are
# rendered before the clock starts, since a remote API would not use the
# loader's cores) and loads them with rdbt (examples/bench_ingest, release build) and, when dlt is
# installed (pip install "dlt[duckdb]" pyarrow), with dlt's rest_api source on
# the same server (scripts/bench_ingest_dlt.py; DLT=0 skips it).
#   scripts/bench_ingest.sh 100000 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/libduckdb.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdbt/target}"
cargo build --release --no-default-features --features datafusion --locked --example bench_ingest --example strava_api >&2
bin="$CARGO_TARGET_DIR/release/examples"
[ $# -gt 0 ] || set -- 100000
for n in "$@"; do
  work="$(mktemp -d)"; mkfifo "$work/stdin"
  "$bin/strava_api" --prerender --activities "$n" --span-days $(( n / 144 > 0 ? n / 144 : 1 )) <"$work/stdin" >"$work/url" &
  server=$!; exec 3>"$work/stdin"
  for _ in $(seq 600); do [ -s "$work/url" ] && break; sleep 0.1; done
  url="$(cat "$work/url")"
  "$bin/bench_ingest" --activities "$n" --url "$url"
  if [ "${DLT:-1}" != 0 ] && python3 -c "import dlt" 2>/dev/null; then
    python3 scripts/bench_ingest_dlt.py "$url" "$n"
  fi
  exec 3>&-; wait "$server" 2>/dev/null || true; rm -rf "$work"
done
