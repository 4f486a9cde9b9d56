#!/usr/bin/env python3
"""Regenerate the dbt-core golden outputs of the `snapshots` fixture.

Runs dbt-core (with dbt-duckdb) on a temporary copy of tests/fixtures/snapshots
through four phases; the `phase` var picks which source rows exist, so the
staging views change between snapshots (updates, a change only `check` sees,
deletes, a deleted row coming back, a new column):

    1. dbt seed; dbt run --select stg_customers stg_orders; dbt snapshot
    2. dbt build --vars '{phase: 2}'
    3. dbt run --select stg_customers stg_orders --vars '{phase: 3}';
       dbt snapshot --vars '{phase: 3}'
    4. dbt build --vars '{phase: 4}'

After each phase: golden/phase<N>.json (relation dump) and
golden/run_results_phase<N>.json (the last command's [unique_id, status,
failures]).

Relation dumps have the format of scripts/golden/jaffle.py, normalised for
wall-clock time (see `normalise`): the times a snapshot takes from the clock
(check strategy, hard deletes) differ between runs, so every timestamp text
from year 2025 to 2199 becomes `<now:K>`, K being its rank among the distinct
such values of that relation, and in a row holding one the `*scd_id` column
(an md5 over that time) becomes `<scd>`. Rows are then sorted again (None
first, then strings by code point). tests/snapshots.rs applies the same
normalisation to rdbt's database.

Usage: scripts/golden/snapshots.py [--dbt dbt]   (needs dbt-core + dbt-duckdb)
"""
import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jaffle  # noqa: E402  (dump/format helpers shared with the jaffle golden)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "snapshots"
GOLDEN = FIXTURE / "golden"
DB_FILE = "snaps.duckdb"
STAGING = ["--select", "stg_customers", "stg_orders"]

# Keep identical to tests/snapshots.rs.
NOW_RE = re.compile(r"^(202[5-9]|20[3-9]\d|21\d\d)-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$")


def normalise(dump):
    for rel in dump["relations"]:
        names = [c for c, _ in rel["columns"]]
        nows = sorted({v for row in rel["rows"] for v in row if v is not None and NOW_RE.match(v)})
        rank = {v: f"<now:{i + 1}>" for i, v in enumerate(nows)}
        rows = []
        for row in rel["rows"]:
            masked = [rank.get(v, v) if v is not None else None for v in row]
            if masked != row:
                masked = ["<scd>" if names[i].endswith("scd_id") else v for i, v in enumerate(masked)]
            rows.append(masked)
        rows.sort(key=lambda r: [(0, "") if v is None else (1, v) for v in r])
        rel["rows"] = rows
    return dump


def phases():
    def var(n):
        return ["--vars", "{phase: %d}" % n]

    yield 1, [["seed"], ["run", *STAGING], ["snapshot"]]
    yield 2, [["build", *var(2)]]
    yield 3, [["run", *STAGING, *var(3)], ["snapshot", *var(3)]]
    yield 4, [["build", *var(4)]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbt", default="dbt", help="dbt executable (default: dbt on PATH)")
    args = ap.parse_args()

    outputs = []
    with tempfile.TemporaryDirectory(prefix="rdbt-golden-") as tmp:
        project = Path(tmp) / "snapshots"
        ignore = shutil.ignore_patterns("target", "logs", "golden", "*.duckdb", "*.duckdb.wal")
        shutil.copytree(FIXTURE, project, ignore=ignore)
        for n, commands in phases():
            for c in commands:
                jaffle.dbt(args.dbt, project, *c)
            dump = normalise(jaffle.dump_relations(project / DB_FILE))
            outputs.append((n, dump, jaffle.run_results_summary(project)))

    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    GOLDEN.mkdir(parents=True)
    for n, dump, results in outputs:
        jaffle.write_relations(dump, GOLDEN / f"phase{n}.json")
        jaffle.write_run_results(results, GOLDEN / f"run_results_phase{n}.json")
    print(f"wrote {GOLDEN.relative_to(ROOT)}: {len(outputs)} phases")


if __name__ == "__main__":
    main()
