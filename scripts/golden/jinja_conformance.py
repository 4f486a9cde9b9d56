#!/usr/bin/env python3
"""Regenerates tests/jinja/expected.json: what dbt-core's Jinja renders for
every case of the Jinja conformance suite (tests/jinja/cases/*.yml).

Usage:   python3 scripts/golden/jinja_conformance.py
Needs:   pip install "dbt-core==1.11.*"   (plus PyYAML, which dbt-core pulls in)
Checked: `cargo test --no-default-features --features datafusion --test jinja_conformance`

A case is a template, optional macro files, optional context names and
optional `vars`. It is rendered the way dbt renders a model's SQL: the text
goes through `dbt.clients.jinja.get_rendered` (dbt's sandboxed Jinja
environment with its extensions and filters), in a context made of dbt's base
context (`generate_base_context`: var, env_var, return, tojson, fromjson,
toyaml, fromyaml, set, zip, local_md5, modules, print, log, ...) plus
`execute=True`, `exceptions`, the case's context names, and each macro (and
`{% test %}` block, as `test_<name>`) of the case's macro files as a
`MacroGenerator` sharing that context, so macros call each other and
`return()` works as in a dbt project's root package. Macro files are split
into blocks with dbt's own block extractor and each block is parsed up
front, as dbt's macro parser does (a syntax error in any macro fails the
case even if the macro is never called).

Every case is rendered under two different PYTHONHASHSEED values in child
processes; a case whose output differs (a printed set of strings, an object
address) is reported and the script fails, so the committed outputs are
deterministic and carry no Python hash order. The script also fails when a
case outside errors.yml raises or a case in errors.yml does not, so that a
typo in a case cannot silently become an expected error.

The output records, per case `<file stem>/<name>`, the case's inputs as read
(the Rust harness checks them against its own reading of the YAML, so editing
a case without regenerating fails the test) and either `output` (the exact
rendered string) or `error` (dbt's exception type and first message line).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES_DIR = os.path.join(ROOT, "tests", "jinja", "cases")
OUT = os.path.join(ROOT, "tests", "jinja", "expected.json")
NAME_RE = re.compile(r"^[a-z0-9_]+$")
FIELDS = {"name", "template", "macros", "context", "vars", "error_contains", "note"}
# The only group whose cases must raise.
ERROR_GROUP = "errors"


def load_cases():
    cases = []
    for fname in sorted(os.listdir(CASES_DIR)):
        if not fname.endswith(".yml"):
            continue
        group = fname[: -len(".yml")]
        with open(os.path.join(CASES_DIR, fname), encoding="utf-8") as f:
            items = yaml.safe_load(f)
        if not isinstance(items, list):
            sys.exit(f"{fname}: expected a list of cases")
        seen = set()
        for item in items:
            if not isinstance(item, dict):
                sys.exit(f"{fname}: a case is not a mapping: {item!r}")
            unknown = set(item) - FIELDS
            if unknown:
                sys.exit(f"{fname}: case {item.get('name')!r} has unknown fields {sorted(unknown)}")
            name = item.get("name")
            if not isinstance(name, str) or not NAME_RE.match(name):
                sys.exit(f"{fname}: bad case name {name!r}")
            if name in seen:
                sys.exit(f"{fname}: duplicate case name {name!r}")
            seen.add(name)
            if not isinstance(item.get("template"), str):
                sys.exit(f"{fname}: case {name!r} needs a string `template`")
            macros = item.get("macros", [])
            if isinstance(macros, str):
                macros = [macros]
            if not all(isinstance(m, str) for m in macros):
                sys.exit(f"{fname}: case {name!r}: `macros` must be a string or a list of strings")
            for key in ("context", "vars"):
                if not isinstance(item.get(key, {}), dict):
                    sys.exit(f"{fname}: case {name!r}: `{key}` must be a mapping")
            case_input = {
                "template": item["template"],
                "macros": macros,
                "context": item.get("context", {}),
                "vars": item.get("vars", {}),
            }
            if "error_contains" in item:
                case_input["error_contains"] = item["error_contains"]
            cases.append((f"{group}/{name}", group, case_input))
    return cases


class _Macro:
    """The attributes of dbt's parsed Macro node that MacroGenerator reads."""

    def __init__(self, name, sql):
        self.name = name
        self.macro_sql = sql
        self.unique_id = f"macro.conformance.{name}"
        self.package_name = "conformance"


def setup_dbt():
    """Sets up what dbt's context functions need outside a dbt command."""
    from argparse import Namespace

    from dbt.flags import set_from_args

    set_from_args(Namespace(), None)
    from dbt_common.context import set_invocation_context
    from dbt_common.events.event_manager_client import cleanup_event_logger

    # env_var() reads the environment through dbt's invocation context.
    set_invocation_context(dict(os.environ))
    # exceptions.warn / log / print would write to stdout; only the
    # rendered text is compared.
    cleanup_event_logger()


def build_context(case):
    """The render context of a case: dbt's base context, `execute`,
    `exceptions`, the case's names, and its macros (see the module doc)."""
    from dbt.clients.jinja import MacroGenerator, MacroStack
    from dbt.context.base import generate_base_context
    from dbt.context.exceptions_jinja import wrapped_exports
    from dbt_common.clients.jinja import BlockTag, extract_toplevel_blocks, parse

    ctx = generate_base_context(dict(case["vars"]))
    ctx["execute"] = True
    ctx["exceptions"] = wrapped_exports(None)
    ctx.update(json.loads(json.dumps(case["context"])))
    stack = MacroStack()
    for text in case["macros"]:
        blocks = extract_toplevel_blocks(text, allowed_blocks={"macro", "test"}, collect_raw_data=False)
        for block in blocks:
            if isinstance(block, BlockTag):
                parse(block.full_block)
                # dbt names a `{% test x %}` block's macro `test_x`.
                name = block.block_name if block.block_type_name == "macro" else f"test_{block.block_name}"
                ctx[name] = MacroGenerator(_Macro(name, block.full_block), ctx, None, stack)
    return ctx


def render_all(cases):
    """Renders every case with dbt-core's Jinja; returns {key: result}."""
    from dbt.clients.jinja import get_rendered

    setup_dbt()
    results = {}
    for key, _group, case in cases:
        try:
            ctx = build_context(case)
            out = get_rendered(case["template"], ctx)
            if not isinstance(out, str):
                out = str(out)
            results[key] = {"output": out}
        except Exception as e:  # every failure is a result to record
            # dbt's exceptions keep the message without their "Compilation
            # Error" banner in `msg`.
            msg = getattr(e, "msg", None)
            if not isinstance(msg, str) or not msg.strip():
                msg = str(e)
            lines = msg.strip().splitlines()
            first = lines[0].strip() if lines else ""
            results[key] = {"error": f"{type(e).__name__}: {first}"}
    return results


def child(seed_out):
    results = render_all(load_cases())
    with open(seed_out, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


def run_with_seed(seed):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        path = tmp.name
    try:
        env = dict(os.environ, PYTHONHASHSEED=str(seed))
        subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path], env=env, check=True)
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    finally:
        os.unlink(path)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    import dbt.version
    import jinja2

    cases = load_cases()
    first = run_with_seed(0)
    second = run_with_seed(12345)
    problems = []
    out_cases = {}
    for key, group, case in cases:
        a, b = first[key], second[key]
        if a != b:
            problems.append(f"{key}: output depends on Python's hash seed: {a!r} vs {b!r}")
            continue
        if group == ERROR_GROUP and "error" not in a:
            problems.append(f"{key}: expected an error, dbt rendered {a['output']!r}")
        if group != ERROR_GROUP and "error" in a:
            problems.append(f"{key}: dbt raised {a['error']!r}")
        frag = case.get("error_contains")
        if frag is not None and frag not in a.get("error", ""):
            problems.append(f"{key}: error_contains {frag!r} is not in dbt's error {a.get('error')!r}")
        out_cases[key] = {"input": case, **a}
    if problems:
        sys.exit("cases to fix:\n  " + "\n  ".join(problems))
    doc = {
        "generated_by": "scripts/golden/jinja_conformance.py",
        "dbt_core": dbt.version.__version__,
        "jinja2": jinja2.__version__,
        "cases": out_cases,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    groups = {}
    for key in out_cases:
        g = key.split("/")[0]
        groups[g] = groups.get(g, 0) + 1
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(out_cases)} cases (" + ", ".join(f"{g} {n}" for g, n in sorted(groups.items())) + ")")


if __name__ == "__main__":
    main()
