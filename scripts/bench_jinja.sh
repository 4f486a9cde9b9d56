#!/usr/bin/env bash
# Jinja rendering throughput: rdbt (examples/bench_jinja.rs) and, when
# dbt-core is installed, dbt-core (scripts/bench_jinja.py) on the same
# macro-heavy model (examples/bench_jinja_data/). Checks first that both
# render the model to the same text, so they measure the same work.
#
# Usage: scripts/bench_jinja.sh [rdbt iterations (20000)] [dbt iterations (2000)]
# Builds with the dev profile, whose dependencies (minijinja included) are
# optimised (Cargo.toml); set CARGO_PROFILE=release for a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/libduckdb.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdbt/target}"
profile="${CARGO_PROFILE:-dev}"
rdbt_n="${1:-20000}"
dbt_n="${2:-2000}"
cargo build --quiet --no-default-features --features datafusion --profile "$profile" --example bench_jinja
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
bench="$CARGO_TARGET_DIR/$dir/examples/bench_jinja"

if python3 -c 'import dbt.clients.jinja' 2>/dev/null; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$bench" --print >"$tmp/rdbt.sql"
    python3 scripts/bench_jinja.py --print >"$tmp/dbt.sql"
    if cmp -s "$tmp/rdbt.sql" "$tmp/dbt.sql"; then
        echo "rendered model: identical in rdbt and dbt-core ($(wc -c <"$tmp/rdbt.sql") bytes)"
    else
        echo "rendered model differs between rdbt and dbt-core:"
        diff "$tmp/dbt.sql" "$tmp/rdbt.sql" || true
    fi
    "$bench" --iterations "$rdbt_n"
    python3 scripts/bench_jinja.py --iterations "$dbt_n"
else
    echo "(dbt-core not installed: pip install \"dbt-core==1.11.*\" to compare)"
    "$bench" --iterations "$rdbt_n"
fi
