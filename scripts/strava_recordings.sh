#!/usr/bin/env bash
# Regenerates recordings/strava/: the HTTP responses the root project's dev
# target replays offline. Serves the synthetic Strava-like API
# (examples/strava_api.rs) on 127.0.0.1, then runs the project's ingest twice
# against it with --record-ingest: a first load, and an incremental run
# (nothing new after the last activity) so that repeated offline builds
# replay too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/libduckdb.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdbt/target}"
cargo build --no-default-features --features datafusion --locked --bin rdbt --example strava_api
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fifo="$work/stdin"; mkfifo "$fifo"
"$CARGO_TARGET_DIR/debug/examples/strava_api" --activities 400 <"$fifo" >"$work/url" &
server=$!
exec 3>"$fifo"                                   # closing fd 3 stops the server
trap 'exec 3>&-; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
export STRAVA_API_URL="$(cat "$work/url")"
export RDBT_ACTIVITIES_DB="$work/record.duckdb"
rm -rf recordings/strava
for _ in 1 2; do
  "$CARGO_TARGET_DIR/debug/rdbt" ingest --record-ingest recordings --target-path "$work/target"
done
ls recordings/strava | wc -l | xargs echo "recorded responses:"
