#!/usr/bin/env python3
"""Regenerate the dbt-core artifact shapes of the test projects.

For each project -- `jaffle` (tests/fixtures/jaffle) and `activities`
(tests/fixtures/activities, the seed-based version of the repository's root
project, which itself ingests from an API that dbt-core cannot run) -- runs dbt-core (with dbt-duckdb) on two fresh
temporary copies:

    dbt parse     -> "parse": shape of manifest.json
    dbt build     -> "build": shape of manifest.json and run_results.json

and writes tests/golden/<project>_artifacts_shape.json. tests/artifacts.rs
extracts the same shape from what `rdbt parse` / `rdbt build` write and
compares. KEEP `manifest_shape` and `run_results_shape` below in step with
`manifest_shape` / `run_results_shape` in tests/artifacts.rs.

The shape is the artifact minus what legitimately varies between runs or
implementations:

  * manifest metadata: only dbt_schema_version, project_name, project_id,
    adapter_type, quoting (no times, ids, versions, env).
  * nodes and sources: every field except `created_at`, `root_path` (an
    absolute path) and `compiled_code` (whitespace differs; compiled SQL is
    compared file by file in tests/jaffle.rs). `extra_ctes` keeps only the
    ids; `depends_on.nodes` is sorted; `depends_on.macros` keeps only the
    project's own macros, sorted (which of dbt's built-in macros a node
    touches is an implementation detail).
  * macros and docs: only the project's own (not dbt's or the adapter's
    built-ins), without `created_at`/`root_path`.
  * parent_map / child_map: every entry, lists sorted.
  * the remaining top-level collections (exposures, metrics, groups, ...)
    as written.
  * run_results: metadata.dbt_schema_version, args.which, and per result
    (keyed by unique_id) status, failures, message, relation_name,
    adapter_response and whether compiled_code is present.
  * files: the paths of every file under target/compiled and target/run,
    relative to target/, sorted.

Usage: scripts/golden/artifacts.py [--dbt dbt] [PROJECT ...]   (default: all)
       scripts/golden/artifacts.py --from-target DIR   (print the shape of
       an existing target/ directory, e.g. rdbt's, for debugging)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
FORMAT = "rdbt-artifacts-shape-v1"

NODE_DROP = {"created_at", "root_path", "compiled_code"}
OTHER_COLLECTIONS = [
    "disabled", "exposures", "metrics", "groups", "selectors", "semantic_models",
    "saved_queries", "unit_tests", "functions", "group_map",
]
METADATA_KEEP = ["dbt_schema_version", "project_name", "project_id", "adapter_type", "quoting"]
RESULT_KEEP = ["status", "failures", "message", "relation_name", "adapter_response"]


def node_shape(node, project):
    out = {k: v for k, v in node.items() if k not in NODE_DROP}
    if "extra_ctes" in out and isinstance(out["extra_ctes"], list):
        out["extra_ctes"] = [c["id"] for c in out["extra_ctes"]]
    dep = out.get("depends_on")
    if isinstance(dep, dict):
        dep = dict(dep)
        if "nodes" in dep:
            dep["nodes"] = sorted(dep["nodes"])
        if "macros" in dep:
            dep["macros"] = sorted(m for m in dep["macros"] if m.startswith(f"macro.{project}."))
        out["depends_on"] = dep
    return out


def manifest_shape(m):
    project = m["metadata"]["project_name"]
    own = lambda d: {k: node_shape(v, project) for k, v in d.items() if v.get("package_name") == project}
    return {
        "metadata": {k: m["metadata"].get(k) for k in METADATA_KEEP},
        "nodes": {k: node_shape(v, project) for k, v in m["nodes"].items()},
        "sources": {k: node_shape(v, project) for k, v in m["sources"].items()},
        "macros": own(m["macros"]),
        "docs": own(m["docs"]),
        "parent_map": {k: sorted(v) for k, v in m["parent_map"].items()},
        "child_map": {k: sorted(v) for k, v in m["child_map"].items()},
        **{k: m.get(k) for k in OTHER_COLLECTIONS},
    }


def run_results_shape(rr):
    results = {}
    for r in rr["results"]:
        row = {k: r.get(k) for k in RESULT_KEEP}
        row["compiled"] = r.get("compiled_code") is not None
        results[r["unique_id"]] = row
    return {
        "metadata": {"dbt_schema_version": rr["metadata"]["dbt_schema_version"]},
        "args": {"which": rr["args"].get("which")},
        "results": results,
    }


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def sql_files(target):
    out = {}
    for sub in ("compiled", "run"):
        root = target / sub
        out[sub] = sorted(p.relative_to(target).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return out


def target_shape(target, with_results):
    out = {"manifest": manifest_shape(read_json(target / "manifest.json"))}
    if with_results:
        out["run_results"] = run_results_shape(read_json(target / "run_results.json"))
        out["files"] = sql_files(target)
    return out


def dbt(dbt_bin, project, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_") and k != "JAFFLE_DB"}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    cmd = [dbt_bin, *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    print("+", " ".join(cmd[:2]), file=sys.stderr)
    p = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}")


IGNORE = shutil.ignore_patterns("target", "logs", "golden", "*.duckdb", "*.duckdb.wal", "dbt_packages")


def copy_jaffle(dst):
    shutil.copytree(ROOT / "tests" / "fixtures" / "jaffle", dst, ignore=IGNORE)


def copy_activities(dst):
    shutil.copytree(ROOT / "tests" / "fixtures" / "activities", dst, ignore=IGNORE)


# name -> (copy function, target path inside the project)
PROJECTS = {
    "jaffle": (copy_jaffle, "target"),
    "activities": (copy_activities, "target/dbt"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbt", default="dbt", help="dbt executable (default: dbt on PATH)")
    ap.add_argument("--from-target", type=Path, help="print the shape of this target/ directory and exit")
    ap.add_argument("projects", nargs="*", metavar="PROJECT", help=f"one of {', '.join(PROJECTS)} (default: all)")
    args = ap.parse_args()
    for name in args.projects:
        if name not in PROJECTS:
            ap.error(f"unknown project {name!r} (choose from {', '.join(PROJECTS)})")

    if args.from_target:
        with_results = (args.from_target / "run_results.json").exists()
        json.dump(target_shape(args.from_target, with_results), sys.stdout, indent=1, sort_keys=True)
        print()
        return

    for name in args.projects or PROJECTS:
        copy, target = PROJECTS[name]
        with tempfile.TemporaryDirectory(prefix="rdbt-golden-") as tmp:
            parsed = Path(tmp) / "parse" / name
            copy(parsed)
            dbt(args.dbt, parsed, "parse")
            built = Path(tmp) / "build" / name
            copy(built)
            dbt(args.dbt, built, "build")
            golden = {
                "format": FORMAT,
                "parse": target_shape(parsed / target, False),
                "build": target_shape(built / target, True),
            }

        out = GOLDEN / f"{name}_artifacts_shape.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(golden, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        b = golden["build"]
        print(f"wrote {out.relative_to(ROOT)}: {len(b['manifest']['nodes'])} nodes, "
              f"{len(b['manifest']['sources'])} sources, {len(b['run_results']['results'])} results")


if __name__ == "__main__":
    main()
