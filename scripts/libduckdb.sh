#!/usr/bin/env bash
# Installs the prebuilt libduckdb shared library that matches the `duckdb` crate
# pinned in Cargo.toml (crate 1.10506.0 = DuckDB 1.5.6) from the npm registry
# package @duckdb/node-bindings-linux-x64, into a cache outside the clone, and
# prints the directory. Source it (`. scripts/libduckdb.sh`) to export
# DUCKDB_LIB_DIR and LD_LIBRARY_PATH for a build without the `bundled` feature.
RDBT_DUCKDB_NPM_VERSION="1.5.6-r.1"
dir="${RDBT_CACHE:-$HOME/.cache/rdbt}/libduckdb-$RDBT_DUCKDB_NPM_VERSION"
if [ ! -f "$dir/libduckdb.so" ]; then
  tmp="$(mktemp -d)"
  ( set -e; cd "$tmp" && npm pack --silent "@duckdb/node-bindings-linux-x64@$RDBT_DUCKDB_NPM_VERSION" >/dev/null 2>&1 \
      && tar xzf ./*.tgz ) || { echo "libduckdb.sh: npm pack @duckdb/node-bindings-linux-x64 failed" >&2; return 1 2>/dev/null || exit 1; }
  mkdir -p "$dir"
  cp "$tmp/package/libduckdb.so" "$dir/libduckdb.so.part"
  mv "$dir/libduckdb.so.part" "$dir/libduckdb.so"
  rm -rf "$tmp"
fi
export DUCKDB_LIB_DIR="$dir"
export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
