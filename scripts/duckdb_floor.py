#!/usr/bin/env python3
"""DuckDB's own cost of a build: replays the statements an rdbt build ran.

After `rdbt build` in PROJECT, this reads target/manifest.json,
target/run_results.json and the target/run/ SQL tree, and executes the same
statements, in the order the build started them, on ONE DuckDB connection
with `threads=1` in a fresh database file, then CHECKPOINTs. It prints the
CPU seconds DuckDB spent per kind of node. Nothing of rdbt runs: no Jinja, no
scheduling, no artifacts. So the total is a floor for any tool that has DuckDB
execute these statements; divided by the cores it is a floor for the wall
clock of the build's node phase (with no overhead and perfect parallelism).

    scripts/bench.py 1000 --keep --dir /dev/shm/rdbt-bench
    pip install duckdb==1.5.6     # the DuckDB rdbt links (scripts/libduckdb.sh)
    scripts/duckdb_floor.py /dev/shm/rdbt-bench/bench_1000/rdbt --repeat 3

Statements are executed as rdbt executed them: a model's target/run file (its
DDL), a seed as a table created from its CSV (rdbt appends the parsed rows;
either way a few ms), a data test as `select count(*) as failures from (<its
target/run SQL>) dbt_internal_test`, the query rdbt runs for tests with the
default fail_calc and integer thresholds (all of the benchmark's). Tests that
rdbt counted in one query (same thread, same `execute` timing in
run_results.json) are counted in one query here too, as rdbt built it. Hooks,
and nodes that are not one statement (snapshots, ingest, ML), are left out
and counted.
"""
import argparse
import collections
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

try:
    import duckdb
except ImportError:
    sys.exit("duckdb_floor.py: needs the duckdb Python package (pip install duckdb==1.5.6)")

LINKED_DUCKDB = "1.5.6"  # keep in step with scripts/libduckdb.sh


def target_dir(project):
    """The project's target-path (dbt_project.yml), or target/."""
    try:
        text = (project / "dbt_project.yml").read_text()
    except OSError:
        return project / "target"
    m = re.search(r"""^target-path:\s*["']?([^"'#\n]+?)["']?\s*(#.*)?$""", text, re.MULTILINE)
    return project / (m.group(1).strip() if m else "target")


def statements(project):
    """(kind, sql, fetch) in the order the build started the nodes."""
    target = target_dir(project)
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]

    def execute_timing(result, field):
        timing = [t for t in result.get("timing", []) if t.get("name") == "execute"]
        return (timing[0].get(field) or "") if timing else ""

    def started(result):
        return execute_timing(result, "started_at")

    out = []
    shared = {}
    left_out = []
    schemas = set()
    for result in sorted(results, key=started):
        if result["status"] not in ("success", "pass", "warn", "fail"):
            continue
        node = manifest["nodes"][result["unique_id"]]
        kind = node["resource_type"]
        if kind in ("seed", "model") and (node["database"], node["schema"]) not in schemas:
            # rdbt creates a relation's schema before its first node there.
            schemas.add((node["database"], node["schema"]))
            quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (node["database"], node["schema"]))
            out.append(("schema", f"create schema if not exists {quoted}", False))
        if kind == "seed":
            relation = node["relation_name"]
            csv = (project / node["original_file_path"]).as_posix().replace("'", "''")
            out.append(("seed", f"create table {relation} as select * from read_csv('{csv}')", False))
            continue
        run_sql = target / "run" / node["package_name"] / node["original_file_path"]
        if kind == "test" and run_sql.suffix in (".yml", ".yaml"):
            run_sql = run_sql / Path(node["path"]).name  # long test names are hashed in `path`
        if kind not in ("model", "test") or not run_sql.is_file():
            left_out.append(node["unique_id"])  # snapshots, ingest and ML nodes: not one statement
            continue
        sql = run_sql.read_text()
        if kind == "test":
            # rdbt counts several data tests in one query; they share the
            # thread and the `execute` timing.
            key = (result.get("thread_id"), started(result), execute_timing(result, "completed_at"))
            if key in shared and key[1]:
                out[shared[key]][1].append(sql)
            else:
                shared[key] = len(out)
                out.append(("test", [sql], True))
        else:
            out.append((node["config"]["materialized"], sql, False))
    out = [(kind, test_query(sql) if kind == "test" else sql, fetch) + ((len(sql) if kind == "test" else 1),) for kind, sql, fetch in out]
    database = next(
        (n["database"] for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")), "main"
    )
    return database, out, left_out


def test_query(failing_rows):
    """The query rdbt counts one data test's failing rows with, or several
    tests' (data_test.rs: `test` and `tests_together`)."""
    if len(failing_rows) == 1:
        return f"select\n  count(*) as failures\nfrom (\n{failing_rows[0]}\n) dbt_internal_test"
    return "\nunion all\n".join(
        f"select {i} as test_index, count(*) as failures\nfrom (\n{sql}\n) dbt_internal_test" for i, sql in enumerate(failing_rows)
    )


def storage_version():
    """rdbt's NEW_FILE_STORAGE_VERSION, read from its source."""
    src = (Path(__file__).resolve().parents[1] / "src" / "adapter" / "duckdb.rs").read_text()
    m = re.search(r'pub const NEW_FILE_STORAGE_VERSION: &str = "([^"]+)";', src)
    if not m:
        sys.exit("duckdb_floor.py: NEW_FILE_STORAGE_VERSION not found in src/adapter/duckdb.rs")
    return m.group(1)


def replay(database, stmts, storage):
    """CPU seconds per kind (and count) for one replay into a fresh database
    written with storage version `storage`."""
    work = Path(tempfile.mkdtemp(prefix="rdbt-floor-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    try:
        # The storage version rdbt gives new database files: with DuckDB's
        # default (v0.10.2) the checkpoint costs about twice as much.
        con = duckdb.connect(str(work / f"{database}.duckdb"), config={"storage_compatibility_version": storage})
        con.execute("set threads = 1")
        cpu = collections.Counter()
        count = collections.Counter()
        queries = collections.Counter()
        for kind, sql, fetch, nodes in stmts:
            t = time.process_time()
            try:
                cur = con.execute(sql)
                if fetch:
                    cur.fetchall()
            except duckdb.Error as e:
                first_line = sql.strip().splitlines()[0] if sql.strip() else sql
                sys.exit(f"duckdb_floor.py: a {kind} statement failed in the replay ({first_line[:80]}...): {e}\n"
                         "The replay runs seeds, models and data tests only; a project whose SQL reads what "
                         "other nodes (ingest, ML, snapshots, hooks) wrote cannot be replayed.")
            cpu[kind] += time.process_time() - t
            count[kind] += nodes
            queries[kind] += 1
        t = time.process_time()
        con.execute("checkpoint")
        cpu["checkpoint"] += time.process_time() - t
        count["checkpoint"] += 1
        queries["checkpoint"] += 1
        con.close()
        return cpu, count, queries
    finally:
        shutil.rmtree(work, ignore_errors=True)


def call_overhead():
    """CPU seconds of one trivial statement through the Python binding."""
    con = duckdb.connect()
    con.execute("set threads = 1")
    for _ in range(200):
        con.execute("select 1").fetchall()
    t = time.process_time()
    for _ in range(2000):
        con.execute("select 1").fetchall()
    return (time.process_time() - t) / 2000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", type=Path, help="a project rdbt has just built (target/ in place)")
    ap.add_argument("--repeat", type=int, default=3, help="replays; the one with the least CPU is shown")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if duckdb.__version__ != LINKED_DUCKDB:
        print(f"note: Python duckdb {duckdb.__version__}, rdbt links {LINKED_DUCKDB}: "
              f"figures are for {duckdb.__version__}", file=sys.stderr)
    try:
        database, stmts, left_out = statements(args.project)
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f"duckdb_floor.py: {args.project}: no build to replay ({e}); run `rdbt build` there first")
    storage = storage_version()
    best = None
    for _ in range(max(1, args.repeat)):
        cpu, count, queries = replay(database, stmts, storage)
        if best is None or sum(cpu.values()) < sum(best[0].values()):
            best = (cpu, count, queries)
    cpu, count, queries = best
    if left_out:
        print(f"note: {len(left_out)} executed nodes left out (no single statement in target/run): "
              + ", ".join(left_out[:5]) + (", ..." if len(left_out) > 5 else ""), file=sys.stderr)
    per_call = call_overhead()
    print(f"DuckDB {duckdb.__version__}, storage {storage}, one connection, threads=1, "
          f"{len(stmts)} statements + CHECKPOINT")
    print(f"{'kind':<12} {'nodes':>6} {'queries':>7} {'cpu s':>8} {'ms/node':>8}")
    for kind in sorted(cpu, key=lambda k: -cpu[k]):
        print(f"{kind:<12} {count[kind]:>6} {queries[kind]:>7} {cpu[kind]:>8.3f} {cpu[kind] / count[kind] * 1000:>8.3f}")
    total = sum(cpu.values())
    binding = per_call * len(stmts)
    print(f"{'total':<12} {sum(count.values()):>6} {sum(queries.values()):>7} {total:>8.3f}")
    print(f"of which the Python binding's own per-statement cost: about {binding:.3f} s ({per_call * 1e6:.0f} us each)")
    floor = total - binding
    print(f"DuckDB floor: {floor:.3f} CPU-s; on {args.cores} cores at best {floor / args.cores:.3f} s wall")


if __name__ == "__main__":
    main()
