#!/usr/bin/env python3
"""Build the synthetic N-model project (scripts/bench.py's generator) with
rdbt on both engines, DuckDB and DataFusion, and print the wall-clock times.

    scripts/bench_engines.py                 # N = 1000, 3 runs per engine
    scripts/bench_engines.py 200 1000 --runs 5
    scripts/bench_engines.py 1000 --rdbt $CARGO_TARGET_DIR/release/rdbt

Each run starts from an empty target/ and an empty database. The binary
must be built with the `datafusion` feature (on by default; the test build
`--no-default-features --features datafusion` has it too).
"""
import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("bench", HERE / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def datafusion_output(threads):
    """The `datafusion` output added to the profile bench.generate writes
    (whose last lines are its `dev` output)."""
    return f"""    datafusion:
      type: datafusion
      path: bench_datafusion
      schema: main
      threads: {threads}
"""


def run(exe, project, target, log):
    shutil.rmtree(project / "target", ignore_errors=True)
    shutil.rmtree(project / "bench_datafusion", ignore_errors=True)
    for f in project.glob("bench.duckdb*"):
        f.unlink()
    cmd = [exe, "build", "--target", target, "--profiles-dir", str(project), "--project-dir", str(project)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    log.write(f"$ {' '.join(cmd)}\n{p.stdout}{p.stderr}\n[exit {p.returncode}, {dt:.2f}s]\n\n")
    return dt, p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", type=int, default=[1000])
    ap.add_argument("--rdbt", default=bench.default_rdbt())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not Path(args.rdbt).exists():
        sys.exit(f"rdbt binary not found: {args.rdbt}")
    exe = str(Path(args.rdbt).resolve())
    base = Path(tempfile.mkdtemp(prefix="rdbt-engines-"))
    rows = []
    with open(base / "bench.log", "w") as log:
        for n in args.sizes:
            project = base / f"bench_{n}"
            info = bench.generate(project, n, args.threads)
            with open(project / "profiles.yml", "a") as f:
                f.write(datafusion_output(args.threads))
            times = {}
            for target in ["dev", "datafusion"]:
                runs = []
                for _ in range(args.runs):
                    dt, rc = run(exe, project, target, log)
                    print(f"  N={n} {target:10s} {dt:7.2f}s exit {rc}", file=sys.stderr)
                    runs.append((dt, rc))
                times[target] = runs
            rows.append((n, info["executed_nodes"], times))
    print(f"{'models':>7} {'nodes':>6} {'engine':10} {'median s':>9} {'min s':>7} {'max s':>7} {'exit':>5}")
    for n, nodes, times in rows:
        for target, runs in times.items():
            secs = [d for d, _ in runs]
            codes = sorted({rc for _, rc in runs})
            name = "duckdb" if target == "dev" else "datafusion"
            print(f"{n:>7} {nodes:>6} {name:10} {statistics.median(secs):>9.2f} {min(secs):>7.2f} {max(secs):>7.2f} {','.join(map(str, codes)):>5}")
    if args.keep:
        print(f"projects and log kept in {base}", file=sys.stderr)
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
