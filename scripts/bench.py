#!/usr/bin/env python3
"""Benchmark rdbt (and optionally dbt-core) on synthetic dbt projects.

For each N on the command line (default: 1000 10000) a project with N models
is generated: three seeds, a macro library, models in layered folders where
every model refs 1-3 models of earlier layers (~10% ephemeral, ~5%
incremental, the rest views and tables), and unique/not_null tests on most
non-ephemeral models. Then, per tool, on its own copy of the project:

    parse     (target/ removed first: no partial parse)
    compile   (target/ removed first)
    build     (target/ and the database removed first)

are timed (wall clock) and printed as a table with the speed-up of rdbt over
dbt-core and rdbt's build time per executed node. With --repeat the tools
take turns (rdbt, dbt-core, rdbt, ...), so that both meet the machine at
the same speed.

    scripts/bench.py                      # N = 1000 and 10000 (dbt-core at 1000 when installed)
    scripts/bench.py 1000                 # with dbt-core too when installed (minutes)
    scripts/bench.py 10000 --with-dbt     # dbt-core at 10,000 models too (over an hour)
    scripts/bench.py 200 --keep           # keep the generated projects
    scripts/bench.py 1000 --rdbt $CARGO_TARGET_DIR/debug/rdbt
    scripts/bench.py 10000 --repeat 7     # median of 7 runs per step
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SEEDS = ["seed_alpha", "seed_beta", "seed_gamma"]
SEED_ROWS = 200
LABELS = ["north", "south", "east", "west", "centre", "harbour", "ridge", "valley"]

MACROS = """\
{# Macro library of the generated benchmark project. #}

{% macro to_amount(expr) -%}
    cast({{ expr }} as decimal(18, 2))
{%- endmacro %}

{% macro cents_to_amount(column) -%}
    {{ to_amount(column ~ ' / 100.0') }}
{%- endmacro %}

{% macro blend(a, b) -%}
    {{ to_amount('(' ~ a ~ ' + coalesce(' ~ b ~ ', ' ~ a ~ ')) / 2') }}
{%- endmacro %}

{% macro bucket(expr, buckets=7) -%}
    (({{ expr }}) % {{ buckets }})
{%- endmacro %}

{% macro tidy_label(column, width=16) -%}
    left(lower(trim({{ column }})) || '_{{ width }}', {{ width }})
{%- endmacro %}

{% macro pick_day(a, b) -%}
    least({{ a }}, coalesce({{ b }}, {{ a }}))
{%- endmacro %}

{% macro sum_columns(columns) -%}
    {%- for c in columns -%}
        coalesce({{ c }}, 0){% if not loop.last %} + {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- Accumulates with a namespace, not `{% do parts.append(..) %}`: rdbt's
    Python-style mutable lists are not implemented yet (issue 3). -#}
{% macro weighted(columns, weights) -%}
    {%- set ns = namespace(parts=[]) -%}
    {%- for c in columns -%}
        {%- set ns.parts = ns.parts + ['coalesce(' ~ c ~ ', 0) * ' ~ weights[loop.index0]] -%}
    {%- endfor -%}
    {{ to_amount('(' ~ ns.parts | join(' + ') ~ ')') }}
{%- endmacro %}
"""


def model_name(i):
    return f"m_{i:05d}"


def plan(n, seed=7):
    """Decides layers, materializations and parents of the N models."""
    r = random.Random(seed)
    n_layers = max(3, round(n ** 0.5 / 3))
    layer_of = [min(n_layers - 1, i * n_layers // n) for i in range(n)]
    layers = [[] for _ in range(n_layers)]
    for i, l in enumerate(layer_of):
        layers[l].append(i)
    mats, parents, depth = [], [], []
    for i in range(n):
        l = layer_of[i]
        x = r.random()
        if l == 0:
            mat = "view" if x < 0.5 else "table"
        elif x < 0.10:
            mat = "ephemeral"
        elif x < 0.15:
            mat = "incremental"
        elif x < 0.55:
            mat = "view"
        else:
            mat = "table"
        if l == 0:
            ps = []
        else:
            # Parents from earlier layers, mostly the previous one. Views and
            # ephemerals are only referenced when their own query reads
            # materialized relations, so that DuckDB never expands deep view
            # chains.
            want = r.randint(1, 3)
            cands = []
            for _ in range(want * 4):
                pl = l - 1 if r.random() < 0.7 else r.randrange(0, l)
                c = r.choice(layers[pl])
                if c not in cands and depth[c] <= 1:
                    cands.append(c)
                if len(cands) == want:
                    break
            if not cands:
                cands = [r.choice([c for c in layers[0]])]
            ps = cands
        mats.append(mat)
        parents.append(ps)
        if mat in ("view", "ephemeral"):
            depth.append(1 + max([depth[p] for p in ps], default=0))
        else:
            depth.append(0)
    return layer_of, mats, parents


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def model_sql(i, layer, mat, parents, r):
    lines = []
    if mat == "incremental":
        lines.append("{{ config(materialized='incremental', unique_key='id') }}")
    elif mat != "view":
        lines.append(f"{{{{ config(materialized='{mat}') }}}}")
    lines.append(f"-- {model_name(i)}: layer {layer}, {mat}")
    if layer == 0:
        seed = SEEDS[i % len(SEEDS)]
        lines.append(f"""select
    id,
    {{{{ bucket('grp + {i % 5}') }}}} as grp,
    {{{{ cents_to_amount('amount_cents') }}}} as amount,
    {{{{ tidy_label('label') }}}} as label,
    day
from {{{{ ref('{seed}') }}}}""")
    else:
        ctes = ",\n".join(f"p{k} as (select * from {{{{ ref('{model_name(p)}') }}}})" for k, p in enumerate(parents))
        joins = "\n".join(f"left join p{k} on p{k}.id = p0.id" for k in range(1, len(parents)))
        amounts = [f"p{k}.amount" for k in range(len(parents))]
        if len(parents) == 1:
            amount = "{{ blend('p0.amount', 'null') }}"
        elif r.random() < 0.5:
            amount = f"{{{{ blend('p0.amount', 'p1.amount') }}}}"
        else:
            ws = [round(1 / len(parents), 3)] * len(parents)
            amount = f"{{{{ weighted({amounts!r}, {ws!r}) }}}}"
        grp = "{{ bucket('" + " + ".join(f"coalesce(p{k}.grp, 0)" for k in range(len(parents))) + "') }}"
        day = "p0.day" if len(parents) == 1 else "{{ pick_day('p0.day', 'p1.day') }}"
        lines.append(f"with {ctes}\nselect\n    p0.id,\n    {grp} as grp,\n    {amount} as amount,\n"
                     f"    {{{{ tidy_label('p0.label') }}}} as label,\n    {day} as day\nfrom p0")
        if joins:
            lines.append(joins)
        if mat == "incremental":
            lines.append("{% if is_incremental() %}\nwhere p0.id > (select coalesce(max(id), 0) - 20 from {{ this }})\n{% endif %}")
    return "\n".join(lines) + "\n"


def generate(root, n, threads, seed=7):
    """Writes the project; returns counts of what it contains."""
    r = random.Random(seed + 1)
    layer_of, mats, parents = plan(n, seed)
    write(root / "dbt_project.yml", f"""name: bench
version: "1.0.0"
config-version: 2
profile: bench
model-paths: ["models"]
seed-paths: ["seeds"]
macro-paths: ["macros"]
vars:
  bench_size: {n}
models:
  bench:
    +materialized: view
""")
    write(root / "profiles.yml", f"""bench:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: bench.duckdb
      schema: main
      threads: {threads}
""")
    sr = random.Random(seed + 2)
    for s in SEEDS:
        rows = ["id,grp,amount_cents,label,day"]
        for i in range(1, SEED_ROWS + 1):
            rows.append(f"{i},{sr.randrange(0, 50)},{sr.randrange(0, 100000)},{sr.choice(LABELS)},"
                        f"2024-{sr.randrange(1, 13):02d}-{sr.randrange(1, 29):02d}")
        write(root / "seeds" / f"{s}.csv", "\n".join(rows) + "\n")
    write(root / "macros" / "lib.sql", MACROS)

    tests = 0
    by_layer = {}
    for i in range(n):
        by_layer.setdefault(layer_of[i], []).append(i)
        folder = root / "models" / f"layer_{layer_of[i]:03d}"
        write(folder / f"{model_name(i)}.sql", model_sql(i, layer_of[i], mats[i], parents[i], r))
    for layer, ids in by_layer.items():
        entries = []
        for i in ids:
            if mats[i] == "ephemeral":
                continue
            tr = r.random()
            col_tests = []
            if tr < 0.8:
                col_tests.append("unique")
            if tr < 0.9:
                col_tests.append("not_null")
            if not col_tests:
                entries.append(f"  - name: {model_name(i)}\n    description: generated model {i}\n")
                continue
            tests += len(col_tests)
            ts = "".join(f"          - {t}\n" for t in col_tests)
            entries.append(f"  - name: {model_name(i)}\n    description: generated model {i}\n"
                           f"    columns:\n      - name: id\n        data_tests:\n{ts}")
        write(root / "models" / f"layer_{layer:03d}" / "_schema.yml", "version: 2\nmodels:\n" + "".join(entries))
    ephemeral = sum(1 for m in mats if m == "ephemeral")
    return {
        "models": n,
        "ephemeral": ephemeral,
        "incremental": sum(1 for m in mats if m == "incremental"),
        "seeds": len(SEEDS),
        "tests": tests,
        # nodes a build executes (ephemeral models are inlined, not run)
        "executed_nodes": n - ephemeral + len(SEEDS) + tests,
        "layers": max(layer_of) + 1,
    }


def default_rdbt():
    cands = []
    if os.environ.get("CARGO_TARGET_DIR"):
        cands.append(Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "rdbt")
    cands.append(ROOT / "target" / "release" / "rdbt")
    cands.append(Path.home() / ".cache" / "rdbt" / "target" / "release" / "rdbt")
    for c in cands:
        if c.exists():
            return str(c)
    return str(cands[0])


def clean(project, db=False):
    shutil.rmtree(project / "target", ignore_errors=True)
    shutil.rmtree(project / "logs", ignore_errors=True)
    if db:
        for f in project.glob("bench.duckdb*"):
            f.unlink()


def timed(cmd, project, timeout, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["NO_COLOR"] = "1"
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=timeout)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        rc = "timeout"
    dt = time.perf_counter() - t0
    log.write(f"$ {' '.join(cmd)}  (in {project})\n{out}\n[exit {rc}, {dt:.2f}s]\n\n")
    log.flush()
    return dt, rc


# A run this long is its own warm-up (see bench_tools).
SELF_WARMING_SECONDS = 10.0


def bench_tools(runs_of, steps, timeout, log, pause=0.0, warm_up=False):
    """Times each step for every tool: `runs_of` maps a tool's name to
    (executable, project, repeat). Each run starts from a clean target/ (for
    build, a new database too). The tools take turns, one run each, so that
    a machine whose speed drifts (it does, by 10% over an hour here) slows
    both alike. `pause` seconds pass before each run: on this machine the
    first second after a long run (dbt-core's build) or after an idle spell
    runs up to 15% slower, which a 50 s run does not notice and a 1 s run
    does. With `warm_up`, each timed run follows an untimed run of the same
    command, except for a tool whose run takes SELF_WARMING_SECONDS or more
    (dbt-core's): its first run is timed, and none is repeated untimed. A
    tool's result per step is its median run."""
    res = {name: {} for name in runs_of}
    for step in steps:
        runs = {name: [] for name in runs_of}
        failed = set()
        long_runs = set()
        for rep in range(max(max(1, r) for _, _, r in runs_of.values())):
            for name, (exe, project, repeat) in runs_of.items():
                if rep >= max(1, repeat) or name in failed:
                    continue
                cmd = [exe, step, "--profiles-dir", str(project), "--project-dir", str(project)]

                def run_once():
                    clean(project, db=(step == "build"))
                    time.sleep(pause)
                    return timed(cmd, project, timeout, log)

                dt = None
                if warm_up and name not in long_runs:
                    log.write("(warm-up run, untimed unless it is long)\n")
                    dt, rc = run_once()
                    if dt >= SELF_WARMING_SECONDS or rc != 0:
                        long_runs.add(name)
                    else:
                        dt = None
                if dt is None:
                    dt, rc = run_once()
                runs[name].append({"seconds": round(dt, 3), "exit": rc})
                status = "ok" if rc == 0 else f"exit {rc}"
                print(f"  {name:5s} {step:8s} {dt:9.2f}s  {status}", file=sys.stderr)
                if rc != 0:
                    failed.add(name)
        for name, tool_runs in runs.items():
            bad = [r for r in tool_runs if r["exit"] != 0]
            median = sorted(r["seconds"] for r in tool_runs)[len(tool_runs) // 2]
            res[name][step] = bad[0] if bad else {"seconds": median, "exit": 0}
            res[name][step]["runs"] = [r["seconds"] for r in tool_runs]
    return res


def fmt_time(r):
    if r is None:
        return "-"
    s = f"{r['seconds']:.2f}"
    runs = r.get("runs", [])
    if r["exit"] == 0 and len(runs) > 1:
        s += f" ({min(runs):.2f}-{max(runs):.2f})"
    return s if r["exit"] == 0 else f"{s} (exit {r['exit']})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", type=int, default=[1000, 10000], help="numbers of models (default 1000 10000)")
    ap.add_argument("--rdbt", default=default_rdbt(), help="rdbt binary (default: release build in $CARGO_TARGET_DIR or target/)")
    ap.add_argument("--no-rdbt", action="store_true", help="do not run rdbt (dbt-core timings only)")
    ap.add_argument("--with-dbt", action="store_true", help="time dbt-core at every size (default: when installed, sizes <= 1000)")
    ap.add_argument("--no-dbt", action="store_true", help="never time dbt-core")
    ap.add_argument("--dbt", default="dbt", help="dbt executable")
    ap.add_argument("--steps", default="parse,compile,build", help="comma-separated commands to time")
    ap.add_argument("--threads", type=int, default=4, help="profile threads (default 4)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per step and tool; the table shows the median (default 1)")
    ap.add_argument("--dbt-repeat", type=int, help="runs per step for dbt-core (default: --repeat)")
    ap.add_argument("--pause", type=float, default=0.0, help="seconds to wait before each timed run (default 0)")
    ap.add_argument("--warm-up", action="store_true", help=f"before each timed run, run the same command untimed (not for runs of {SELF_WARMING_SECONDS:.0f} s or more)")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per command before giving up")
    ap.add_argument("--keep", action="store_true", help="keep the generated projects and logs")
    ap.add_argument("--dir", help="generate under this directory instead of a temporary one (implies --keep)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    tools = []
    if not args.no_rdbt:
        if not Path(args.rdbt).exists():
            sys.exit(f"rdbt binary not found: {args.rdbt} (build it, pass --rdbt PATH, or --no-rdbt)")
        tools.append(("rdbt", str(Path(args.rdbt).resolve())))
    # dbt-core runs when it is installed; by default only up to 1,000 models,
    # because its 10,000-model build takes over an hour here.
    dbt_max_n = None if args.with_dbt else 1000
    if not args.no_dbt:
        dbt = shutil.which(args.dbt)
        if dbt is None:
            print(f"note: {args.dbt} not found on PATH; timing rdbt only", file=sys.stderr)
        else:
            tools.append(("dbt", dbt))
    if not tools:
        sys.exit("nothing to run")

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="rdbt-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.dir is not None
    log_path = base / "bench.log"
    results = []
    try:
        with open(log_path, "w") as log:
            for n in args.sizes:
                gen = base / f"bench_{n}" / "project"
                if gen.exists():
                    shutil.rmtree(gen)
                t0 = time.perf_counter()
                info = generate(gen, n, args.threads)
                print(f"N={n}: generated {info} in {time.perf_counter() - t0:.1f}s at {gen}", file=sys.stderr)
                row = {"n": n, **info, "tools": {}}
                runs_of = {}
                for name, exe in tools:
                    if name == "dbt" and dbt_max_n is not None and n > dbt_max_n:
                        print(f"N={n}: skipping dbt-core (pass --with-dbt to time it at this size)", file=sys.stderr)
                        continue
                    project = base / f"bench_{n}" / name
                    if project.exists():
                        shutil.rmtree(project)
                    shutil.copytree(gen, project)
                    repeat = args.dbt_repeat if name == "dbt" and args.dbt_repeat else args.repeat
                    runs_of[name] = (exe, project, repeat)
                row["tools"] = bench_tools(runs_of, steps, args.timeout, log, args.pause, args.warm_up)
                results.append(row)
    finally:
        print_table(results, steps)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        if keep:
            print(f"projects and log kept in {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)


def print_table(results, steps):
    if not results:
        return
    hdr = f"{'models':>7} {'nodes':>6} {'step':8} {'rdbt s':>18} {'dbt s':>18} {'speed-up':>9}"
    print(hdr)
    print("-" * len(hdr))
    for row in results:
        rd, db = row["tools"].get("rdbt", {}), row["tools"].get("dbt", {})
        for step in steps:
            a, b = rd.get(step), db.get(step)
            ratio = "-"
            if a and b and a["exit"] == 0 and b["exit"] == 0 and a["seconds"] > 0:
                ratio = f"{b['seconds'] / a['seconds']:.1f}x"
            print(f"{row['n']:>7} {row['executed_nodes']:>6} {step:8} {fmt_time(a):>18} {fmt_time(b):>18} {ratio:>9}")
        for name, r in row["tools"].items():
            if "build" in r and r["build"]["exit"] == 0:
                per = r["build"]["seconds"] / row["executed_nodes"] * 1000
                print(f"{'':>7} {name} build overhead: {per:.2f} ms/node ({row['executed_nodes']} executed nodes)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
