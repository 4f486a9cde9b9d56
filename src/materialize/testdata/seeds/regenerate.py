#!/usr/bin/env python3
"""Regenerates expected.json from real dbt-core + dbt-duckdb runs.

For every *.csv next to this script, runs `dbt seed` in a scratch project
(seed configs from config.json), then records, per seed, either the error or
the run_results message, the table's columns (`name TYPE` as
information_schema reports them) and its rows cast to VARCHAR in load order.

    pip install dbt-core dbt-duckdb   # 1.11.x
    python3 src/materialize/testdata/seeds/regenerate.py
"""
import json
import pathlib
import shutil
import subprocess
import tempfile

import duckdb

HERE = pathlib.Path(__file__).resolve().parent


def main():
    config = json.loads((HERE / "config.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp)
        (project / "seeds").mkdir()
        (project / "dbt_project.yml").write_text(
            "name: seedcases\nversion: '1.0'\nprofile: seedcases\nseed-paths: [seeds]\n"
        )
        (project / "profiles.yml").write_text(
            "seedcases:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
            f"      path: {project / 'dev.duckdb'}\n      threads: 1\n"
        )
        for csv in sorted(HERE.glob("*.csv")):
            shutil.copy(csv, project / "seeds" / csv.name)
        props = {"seeds": [{"name": name, "config": cfg} for name, cfg in config.items()]}
        (project / "seeds" / "properties.yml").write_text(json.dumps(props))
        subprocess.run(
            ["dbt", "seed", "--profiles-dir", str(project), "--project-dir", str(project)],
            cwd=project,
            capture_output=True,
        )
        results = json.loads((project / "target" / "run_results.json").read_text())
        con = duckdb.connect(str(project / "dev.duckdb"), read_only=True)
        expected = {}
        for r in results["results"]:
            name = r["unique_id"].split(".")[-1]
            if r["status"] != "success":
                expected[name] = {"error": (r["message"] or "").strip().splitlines()[0:1]}
                continue
            cols = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'main' and table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
            select = ", ".join('CAST("{}" AS VARCHAR)'.format(c.replace('"', '""')) for c, _ in cols)
            rows = con.execute(f'select {select} from main."{name}" order by rowid').fetchall()
            expected[name] = {
                "message": r["message"],
                "columns": [f"{c} {t}" for c, t in cols],
                "rows": [list(row) for row in rows],
            }
        (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
