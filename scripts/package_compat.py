#!/usr/bin/env python3
"""Runs a dbt package's integration_tests project with dbt-core and with rdbt
and compares them: compiled SQL of every model and test (modulo whitespace)
and the status of every node after `build`.

The package is not part of this repository: check it out anywhere (e.g. a
clone of dbt-labs/dbt-utils) and pass its root. The package itself is
listed as a local package of integration_tests and installed by each tool's
own `deps` (both tools see the same files); other packages it needs can be given with --extra
NAME=PATH (e.g. dbt_date for dbt_expectations).

    scripts/package_compat.py /path/to/dbt-utils
    scripts/package_compat.py /path/to/dbt-date --target duckdb --profiles-dir integration_tests
    scripts/package_compat.py /path/to/dbt-expectations --extra dbt_date=/path/to/dbt-date

Needs dbt-core + dbt-duckdb on PATH (pip install "dbt-core==1.11.*" dbt-duckdb)
and an rdbt binary (--rdbt, default: the release or debug build in
$CARGO_TARGET_DIR). Prints a summary and, with -v, the differing files.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROFILE = """integration_tests:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: "integration.duckdb"
      threads: 4
"""


def copy_package(src: Path, dst: Path):
    ignore = shutil.ignore_patterns("integration_tests", ".git", "target", "dbt_packages", "logs", ".python-version")
    shutil.copytree(src, dst, ignore=ignore)
    # Its own dependencies come from --extra (this machine may be offline).
    for f in ("packages.yml", "dependencies.yml", "package-lock.yml"):
        (dst / f).unlink(missing_ok=True)


def prepare(pkg: Path, name: str, extras, work: Path) -> Path:
    shutil.copytree(pkg / "integration_tests", work, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb*", ".python-version"))
    # The package and its dependencies as local packages (copies beside the
    # project), installed by `deps`.
    packages = ["packages:"]
    for pkg_name, path in [(name, pkg)] + [(n, Path(p)) for n, p in extras]:
        copy_package(path, work / "_local_packages" / pkg_name)
        packages.append("  - local: _local_packages/" + pkg_name)
    (work / "packages.yml").write_text("\n".join(packages) + "\n")
    for f in ("dependencies.yml", "package-lock.yml"):
        (work / f).unlink(missing_ok=True)
    return work


def package_name(pkg: Path) -> str:
    text = (pkg / "dbt_project.yml").read_text()
    m = re.search(r"^name:\s*['\"]?([A-Za-z0-9_]+)", text, re.M)
    return m.group(1) if m else pkg.name


def run(cmd, cwd, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    log.write(f"$ {' '.join(cmd)}\n{p.stdout}{p.stderr}\n[exit {p.returncode}]\n\n")
    return p.returncode


def statuses(project: Path):
    path = project / "target" / "run_results.json"
    if not path.exists():
        return {}
    return {r["unique_id"]: r["status"] for r in json.loads(path.read_text())["results"]}


def compiled(project: Path):
    root = project / "target" / "compiled"
    return {p.relative_to(root): p.read_text() for p in root.rglob("*.sql")} if root.exists() else {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path, help="root of the package checkout (has integration_tests/)")
    ap.add_argument("--extra", action="append", default=[], help="NAME=PATH of another package to install locally")
    ap.add_argument("--rdbt", help="rdbt binary")
    ap.add_argument("--dbt", default="dbt")
    ap.add_argument("--keep", action="store_true", help="keep the working copies")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    rdbt = args.rdbt
    if not rdbt:
        base = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "rdbt" / "target"))
        # The most recently built of the release and debug binaries.
        found = [base / p / "rdbt" for p in ("release", "debug") if (base / p / "rdbt").exists()]
        rdbt = str(max(found, key=lambda f: f.stat().st_mtime)) if found else None
    if not rdbt or shutil.which(args.dbt) is None:
        sys.exit("needs an rdbt binary (--rdbt) and dbt on PATH")
    extras = [tuple(e.split("=", 1)) for e in args.extra]
    name = package_name(args.package)
    tmp = Path(tempfile.mkdtemp(prefix="rdbt-compat-"))
    log = open(tmp / "compat.log", "w")
    results = {}
    for tool, exe in (("dbt", args.dbt), ("rdbt", rdbt)):
        work = prepare(args.package, name, extras, tmp / tool)
        (work / "profiles.yml").write_text(PROFILE)
        pd = ["--profiles-dir", str(work), "--target", "duckdb"]
        run([exe, "deps"] + pd, work, log)
        run([exe, "build"] + pd, work, log)
        st = statuses(work)
        built = compiled(work)
        # A separate compile adds the SQL of nodes skipped in build; where
        # both exist the build's is kept (macros may branch on flags.WHICH).
        run([exe, "compile"] + pd, work, log)
        results[tool] = (st, {**compiled(work), **built})
    norm = lambda s: re.sub(r"\s+", "", s)
    (dbt_st, dbt_sql), (r_st, r_sql) = results["dbt"], results["rdbt"]
    same = [k for k in dbt_sql if k in r_sql and norm(dbt_sql[k]) == norm(r_sql[k])]
    differ = sorted(k for k in dbt_sql if k in r_sql and norm(dbt_sql[k]) != norm(r_sql[k]))
    only_dbt = sorted(set(dbt_sql) - set(r_sql))
    only_rdbt = sorted(set(r_sql) - set(dbt_sql))
    count = lambda st: {s: list(st.values()).count(s) for s in sorted(set(st.values()))}
    print(f"package {name}: compiled SQL equal {len(same)}/{len(dbt_sql)}, different {len(differ)}, "
          f"only dbt {len(only_dbt)}, only rdbt {len(only_rdbt)}")
    print(f"  dbt  build: {count(dbt_st)}")
    print(f"  rdbt build: {count(r_st)}")
    status_diff = sorted(u for u in set(dbt_st) | set(r_st) if dbt_st.get(u) != r_st.get(u))
    for u in status_diff:
        print(f"  status differs: {u}: dbt {dbt_st.get(u)} / rdbt {r_st.get(u)}")
    if args.verbose:
        for k in differ + only_dbt + only_rdbt:
            print(f"  SQL differs: {k}")
    log.close()
    if args.keep:
        print(f"working copies and log in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not differ and not status_diff else 1


if __name__ == "__main__":
    sys.exit(main())
