#!/usr/bin/env python3
"""Regenerate the dbt-core golden outputs of the `jaffle` fixture.

Runs dbt-core (with dbt-duckdb) on a temporary copy of tests/fixtures/jaffle:

    dbt seed                                   (fresh database)
    dbt build      -> golden/relations_first_build.json, golden/run_results_first_build.json
    dbt build      -> golden/relations.json, golden/run_results.json, golden/compiled/

The second build runs the incremental model's `is_incremental()` branch.

Relation dumps (the format `tests/common/mod.rs` reproduces with the same SQL):

    {"format": "rdbt-relations-v1",
     "relations": [{"relation": "<schema>.<name>", "type": "table" | "view",
                    "columns": [["<name>", "<DuckDB data_type>"], ...],
                    "rows": [[<value>, ...], ...]}, ...]}

Relations are every table and view of the database file (system schemas
excluded), ordered by schema then name. Column types are
`information_schema.columns.data_type`. Every value is DuckDB's own
`CAST(value AS VARCHAR)` text (dates `2024-01-31`, timestamps
`2024-01-31 08:05:00`, decimals `12.50`, booleans `true`) or JSON null, and
rows are sorted by DuckDB with `ORDER BY ALL` over those texts. Both the
script and the Rust test therefore only ever compare strings produced by
DuckDB itself.

run_results*.json hold, per node, [unique_id, status, failures] sorted by
unique_id (timings and messages left out).

Usage: scripts/golden/jaffle.py [--dbt dbt]   (needs dbt-core + dbt-duckdb)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "jaffle"
GOLDEN = FIXTURE / "golden"
DB_FILE = "jaffle.duckdb"

# Keep these three queries identical to tests/common/mod.rs.
RELATIONS_SQL = """
select table_schema, table_name,
       case when table_type = 'VIEW' then 'view' else 'table' end as relation_type
from information_schema.tables
where table_catalog = current_database()
  and table_schema not in ('information_schema', 'pg_catalog')
order by table_schema, table_name
"""

COLUMNS_SQL = """
select column_name, data_type
from information_schema.columns
where table_catalog = current_database() and table_schema = ? and table_name = ?
order by ordinal_position
"""


def quote(ident):
    return '"' + ident.replace('"', '""') + '"'


def rows_sql(schema, table, columns):
    cols = ", ".join(f"cast({quote(c)} as varchar)" for c, _ in columns)
    return f"select {cols} from {quote(schema)}.{quote(table)} order by all"


def dump_relations(db_path):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        out = []
        for schema, table, rtype in con.execute(RELATIONS_SQL).fetchall():
            columns = [[c, t] for c, t in con.execute(COLUMNS_SQL, [schema, table]).fetchall()]
            rows = [list(r) for r in con.execute(rows_sql(schema, table, columns)).fetchall()]
            out.append({"relation": f"{schema}.{table}", "type": rtype, "columns": columns, "rows": rows})
        return {"format": "rdbt-relations-v1", "relations": out}
    finally:
        con.close()


def write_relations(dump, path):
    """Deterministic JSON with one row per line, so diffs stay readable."""
    enc = lambda v: json.dumps(v, ensure_ascii=False)
    lines = ["{", f' "format": {enc(dump["format"])},', ' "relations": [']
    for i, rel in enumerate(dump["relations"]):
        lines.append("  {")
        lines.append(f'   "relation": {enc(rel["relation"])},')
        lines.append(f'   "type": {enc(rel["type"])},')
        lines.append(f'   "columns": {enc(rel["columns"])},')
        if rel["rows"]:
            lines.append('   "rows": [')
            for j, row in enumerate(rel["rows"]):
                lines.append("    " + enc(row) + ("," if j + 1 < len(rel["rows"]) else ""))
            lines.append("   ]")
        else:
            lines.append('   "rows": []')
        lines.append("  }" + ("," if i + 1 < len(dump["relations"]) else ""))
    lines += [" ]", "}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_results_summary(project):
    data = json.loads((project / "target" / "run_results.json").read_text())
    rows = sorted([r["unique_id"], r["status"], r.get("failures")] for r in data["results"])
    return rows


def write_run_results(rows, path):
    body = ",\n".join(" " + json.dumps(r) for r in rows)
    path.write_text("[\n" + body + "\n]\n", encoding="utf-8")


def dbt(dbt_bin, project, *args, ok_codes=(0,)):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_") and k != "JAFFLE_DB"}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    cmd = [dbt_bin, *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    print("+", " ".join(cmd[:2]), file=sys.stderr)
    p = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if p.returncode not in ok_codes:
        sys.stderr.write(p.stdout + p.stderr)
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}")
    return p


def copy_fixture(dst):
    ignore = shutil.ignore_patterns("target", "logs", "golden", "*.duckdb", "*.duckdb.wal", "dbt_packages")
    shutil.copytree(FIXTURE, dst, ignore=ignore)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbt", default="dbt", help="dbt executable (default: dbt on PATH)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="rdbt-golden-") as tmp:
        project = Path(tmp) / "jaffle"
        copy_fixture(project)
        db = project / DB_FILE

        dbt(args.dbt, project, "seed")
        dbt(args.dbt, project, "build")
        first = dump_relations(db)
        first_results = run_results_summary(project)
        dbt(args.dbt, project, "build")
        final = dump_relations(db)
        final_results = run_results_summary(project)
        dbt(args.dbt, project, "docs", "generate")
        catalog = json.loads((project / "target" / "catalog.json").read_text())

        if GOLDEN.exists():
            shutil.rmtree(GOLDEN)
        GOLDEN.mkdir(parents=True)
        write_relations(first, GOLDEN / "relations_first_build.json")
        write_relations(final, GOLDEN / "relations.json")
        write_run_results(first_results, GOLDEN / "run_results_first_build.json")
        write_run_results(final_results, GOLDEN / "run_results.json")
        shutil.copytree(project / "target" / "compiled", GOLDEN / "compiled")
        # catalog.json without its run-specific metadata.
        (GOLDEN / "catalog.json").write_text(
            json.dumps({k: catalog[k] for k in ("nodes", "sources", "errors")}, indent=2, sort_keys=True) + "\n")

    n = sum(len(r["rows"]) for r in final["relations"])
    print(f"wrote {GOLDEN.relative_to(ROOT)}: {len(final['relations'])} relations, {n} rows")


if __name__ == "__main__":
    main()
