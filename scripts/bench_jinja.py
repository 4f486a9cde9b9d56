#!/usr/bin/env python3
"""Jinja rendering throughput of dbt-core, on the benchmark model of
examples/bench_jinja_data/ (the same input examples/bench_jinja.rs renders
with rdbt). Each iteration renders the model the way dbt compiles a model:
`get_rendered` on its text in a context holding the macros as dbt macro
generators (built once, as dbt builds a node's context once per node).

Usage: python3 scripts/bench_jinja.py [--iterations N] [--print]
       (needs `pip install "dbt-core==1.11.*"`; scripts/bench_jinja.sh runs
       this and the rdbt example side by side)
"""
import argparse
import importlib.util
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "examples", "bench_jinja_data")


def load_generator():
    # The conformance generator's context builder: one definition of "how
    # dbt renders a case" for the suite and the benchmark.
    path = os.path.join(ROOT, "scripts", "golden", "jinja_conformance.py")
    spec = importlib.util.spec_from_file_location("jinja_conformance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--print", action="store_true", help="print the rendered model once and exit")
    args = ap.parse_args()
    with open(os.path.join(DATA, "model.sql"), encoding="utf-8") as f:
        template = f.read()
    with open(os.path.join(DATA, "macros.sql"), encoding="utf-8") as f:
        macros = f.read()
    gen = load_generator()
    gen.setup_dbt()
    from dbt.clients.jinja import get_rendered

    ctx = gen.build_context({"template": template, "macros": [macros], "context": {}, "vars": {}})
    out = get_rendered(template, ctx)
    if args.print:
        sys.stdout.write(out)
        return
    # Warm-up above compiled and cached the macros' templates, as in a dbt
    # run after the first model.
    n = args.iterations
    total = 0
    t0 = time.perf_counter()
    for _ in range(n):
        total += len(get_rendered(template, ctx).encode("utf-8"))
    dt = time.perf_counter() - t0
    print(
        f"dbt-core: {n} renders in {dt:.3f} s: {n / dt:,.0f} templates/s, "
        f"{total / dt / 1e6:.2f} MB/s rendered ({total // n} bytes per render)"
    )


if __name__ == "__main__":
    main()
