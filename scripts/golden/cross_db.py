#!/usr/bin/env python3
"""Regenerate the dbt-core golden outputs of the `cross_db` fixture.

Runs dbt-core (with dbt-duckdb) on temporary copies of tests/fixtures/cross_db:

    dbt build   -> golden/relations.json, golden/run_results.json
    dbt compile -> golden/compiled/  (the models again, and the analysis that
                   calls the generic default__ implementations directly)
    dbt build --select base_events dateadd last_day date_spine_month equals aggregates
                on a copy whose macros/ holds override/override_macros.sql and
                whose dbt_project.yml ends with override/dbt_project_flags.yml
                -> golden/override/relations.json, golden/override/compiled/

The first shows what every built-in cross-database macro compiles to and
returns on DuckDB. The second shows dispatch overrides: a root-project
`duckdb__dateadd` replaces the built-in one, also inside other built-in
macros (last_day, date_spine); a root-project `default__any_value` wins over
the built-in `duckdb__any_value`; and the `enable_truthy_nulls_equals_macro`
behavior flag changes dbt.equals.

Relation dumps and run results have the format of scripts/golden/jaffle.py
(same SQL as tests/common/mod.rs).

Usage: scripts/golden/cross_db.py [--dbt dbt]   (needs dbt-core + dbt-duckdb)
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jaffle  # noqa: E402  (dump/format helpers shared with the jaffle golden)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "cross_db"
GOLDEN = FIXTURE / "golden"
DB_FILE = "cross_db.duckdb"
OVERRIDE_SELECT = ["base_events", "dateadd", "last_day", "date_spine_month", "equals", "aggregates"]


def copy_fixture(dst, with_override=False):
    ignore = shutil.ignore_patterns("target", "logs", "golden", "override", "*.duckdb", "*.duckdb.wal")
    shutil.copytree(FIXTURE, dst, ignore=ignore)
    if with_override:
        (dst / "macros").mkdir(exist_ok=True)
        shutil.copy(FIXTURE / "override" / "override_macros.sql", dst / "macros" / "override_macros.sql")
        with open(dst / "dbt_project.yml", "a", encoding="utf-8") as f:
            f.write((FIXTURE / "override" / "dbt_project_flags.yml").read_text(encoding="utf-8"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbt", default="dbt", help="dbt executable (default: dbt on PATH)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="rdbt-golden-") as tmp:
        project = Path(tmp) / "cross_db"
        copy_fixture(project)
        jaffle.dbt(args.dbt, project, "build")
        relations = jaffle.dump_relations(project / DB_FILE)
        results = jaffle.run_results_summary(project)
        jaffle.dbt(args.dbt, project, "compile")

        override = Path(tmp) / "cross_db_override"
        copy_fixture(override, with_override=True)
        jaffle.dbt(args.dbt, override, "build", "--select", *OVERRIDE_SELECT)
        override_relations = jaffle.dump_relations(override / DB_FILE)

        if GOLDEN.exists():
            shutil.rmtree(GOLDEN)
        GOLDEN.mkdir(parents=True)
        jaffle.write_relations(relations, GOLDEN / "relations.json")
        jaffle.write_run_results(results, GOLDEN / "run_results.json")
        shutil.copytree(project / "target" / "compiled", GOLDEN / "compiled")
        (GOLDEN / "override").mkdir()
        jaffle.write_relations(override_relations, GOLDEN / "override" / "relations.json")
        shutil.copytree(override / "target" / "compiled", GOLDEN / "override" / "compiled")

    n = sum(len(r["rows"]) for r in relations["relations"])
    print(f"wrote {GOLDEN.relative_to(ROOT)}: {len(relations['relations'])} relations, {n} rows")


if __name__ == "__main__":
    main()
