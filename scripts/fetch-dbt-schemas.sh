#!/usr/bin/env bash
# Refreshes tests/schemas/ from dbt-labs' published artifact schemas
# (https://schemas.getdbt.com, sources in github.com/dbt-labs/schemas.getdbt.com).
set -euo pipefail
cd "$(dirname "$0")/.."
base="${DBT_SCHEMAS_BASE:-https://schemas.getdbt.com}"
fetch() {
  curl -fsSL "$base/$1" -o "tests/schemas/$2.part"
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "tests/schemas/$2.part"
  mv "tests/schemas/$2.part" "tests/schemas/$2"
  echo "tests/schemas/$2 <- $base/$1"
}
fetch dbt/manifest/v12.json manifest-v12.json
fetch dbt/run-results/v6.json run-results-v6.json
