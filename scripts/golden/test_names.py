#!/usr/bin/env python3
"""Regenerates tests/golden/test_names.json: how dbt-core names generic test
nodes (name, alias, file path, unique_id hash, kwargs, raw_code).

Every case below is a YAML test entry attached to its own model (or source
table), so each resulting test node maps back to exactly one case. The script
writes a scratch dbt project, runs `dbt deps` and `dbt parse` with dbt-duckdb,
and records, per case, the entry exactly as dbt's YAML loader read it together
with the test nodes dbt produced.

Usage: python3 scripts/golden/test_names.py   (needs `dbt` with dbt-duckdb on PATH)
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "test_names.json")
PROJECT = "golden"

# (case id, target, column (name, quote) or None, test entry)
# target: ("model", name) | ("seed", name) | ("versioned", name, [versions]) | ("source", source, table)
CASES = [
    ("not_null_col", ("model", "orders"), ("order_id", None), "not_null"),
    ("unique_col_dict", ("model", "orders_u"), ("order_id", None), {"unique": {}}),
    ("accepted_values_args", ("model", "orders_av"), ("status", None),
     {"accepted_values": {"arguments": {"values": ["placed", "shipped"]}}}),
    ("accepted_values_legacy_quote", ("model", "orders_avq"), ("status", None),
     {"accepted_values": {"values": [1, 2], "quote": False}}),
    ("relationships_ref", ("model", "orders_rel"), ("customer_id", None),
     {"relationships": {"arguments": {"to": "ref('customers')", "field": "id"}}}),
    ("relationships_source", ("model", "orders_rels"), ("customer_id", None),
     {"relationships": {"arguments": {"to": "source('raw', 'customers_src')", "field": "id"}}}),
    ("where_config", ("model", "orders_where"), ("order_id", None),
     {"not_null": {"config": {"where": "order_id > 0"}}}),
    ("legacy_severity", ("model", "orders_sev"), ("order_id", None),
     {"not_null": {"severity": "warn"}}),
    ("many_configs", ("model", "orders_cfg"), ("order_id", None),
     {"unique": {"config": {"severity": "warn", "tags": ["a", "b"], "meta": {"owner": "x"},
                             "store_failures": True, "limit": 10, "warn_if": ">10",
                             "error_if": "!= 0", "fail_calc": "sum(n)"}}}),
    ("custom_name", ("model", "orders_named"), ("order_id", None),
     {"not_null": {"name": "my_custom_not_null"}}),
    ("description_arg", ("model", "orders_desc"), ("order_id", None),
     {"not_null": {"description": "ids are present"}}),
    ("test_name_key", ("model", "orders_tn"), None,
     {"test_name": "anyargs", "arguments": {"a": 1}}),
    ("model_level_no_args", ("model", "m_noargs"), None, "anyargs"),
    ("model_level_args", ("model", "m_args"), None,
     {"anyargs": {"arguments": {"x": {"k1": 1, "k2": "b"}, "y": [1, 2.5, True, None], "z": "plain"}}}),
    ("special_strings", ("model", "m_special"), None,
     {"anyargs": {"arguments": {"s": "it's a \"q\" \\ é ü\nnew\tline", "e": "", "l": [], "d": {}}}}),
    ("nested_values", ("model", "m_nested"), None,
     {"anyargs": {"arguments": {"d": {"inner": [1, "two"], "m": {"deep": None}},
                                "l": [{"a": 1, "b": [True, False]}, ["x", "y"]]}}}),
    ("numbers", ("model", "m_numbers"), None,
     {"anyargs": {"arguments": {"a": 0, "b": -3, "c": 1.0, "d": 0.1, "e": 1e20, "f": 1e-7,
                                "g": 123456789012, "h": 1e16, "i": 1.5e15, "j": 0.0001, "k": -2.5}}}),
    ("unicode_repr", ("model", "m_unicode"), None,
     {"anyargs": {"arguments": {"u": "naïve ☃ \u00a0nbsp \x07bell 🎉"}}}),
    ("long_name", ("model", "a_really_long_model_name_for_testing_truncation_behaviour"), ("status", None),
     {"accepted_values": {"arguments": {"values": ["placed", "shipped", "completed"]}}}),
    ("long_name_user_alias", ("model", "another_really_long_model_name_for_testing_alias"), ("status", None),
     {"accepted_values": {"arguments": {"values": ["placed", "shipped", "completed"]},
                          "config": {"alias": "my_alias"}}}),
    ("len_62", ("model", "m_len"), None, {"anyargs": {"arguments": {"a": "x" * (62 - len("anyargs_m_len_"))}}}),
    ("len_63", ("model", "m_len3"), None, {"anyargs": {"arguments": {"a": "x" * (63 - len("anyargs_m_len3_"))}}}),
    ("len_64", ("model", "m_len4"), None, {"anyargs": {"arguments": {"a": "x" * (64 - len("anyargs_m_len4_"))}}}),
    ("len_65", ("model", "m_len5"), None, {"anyargs": {"arguments": {"a": "x" * (65 - len("anyargs_m_len5_"))}}}),
    ("quoted_column", ("model", "m_quoted"), ("Order ID", True), "not_null"),
    ("upper_column", ("model", "m_upper"), ("OrderId", None), "unique"),
    ("namespaced_model_level", ("model", "m_ns"), None,
     {"dbt_utils.expression_is_true": {"arguments": {"expression": "col > 0"}}}),
    ("namespaced_column", ("model", "m_ns_col"), ("amount", None),
     {"dbt_utils.expression_is_true": {"arguments": {"expression": ">= 0"}, "config": {"where": "1=1"}}}),
    ("namespaced_long", ("model", "model_with_quite_a_long_name_for_namespaced"), ("amount", None),
     {"dbt_utils.expression_is_true": {"arguments": {"expression": "amount is not null and amount >= 0"}}}),
    ("where_as_argument", ("model", "m_where_arg"), ("order_id", None),
     {"not_null": {"arguments": {"where": "order_id > 5"}}}),
    ("seed_target", ("seed", "seed_tgt"), ("id", None), "not_null"),
    ("versioned", ("versioned", "vm", [1, 2]), ("id", None), "not_null"),
    ("source_not_null", ("source", "shop", "orders"), ("id", None), "not_null"),
    ("source_accepted_values", ("source", "shop", "orders_av"), ("status", None),
     {"accepted_values": {"arguments": {"values": ["a", "b"]}}}),
    ("source_table_level", ("source", "shop", "orders_tl"), None,
     {"anyargs": {"arguments": {"n": 3}}}),
    ("source_namespaced", ("source", "shop", "orders_ns"), ("id", None),
     {"dbt_utils.expression_is_true": {"arguments": {"expression": "> 0"}}}),
    ("source_long", ("source", "a_source_with_a_long_name", "and_a_table_with_a_long_name"), ("id", None),
     {"accepted_values": {"arguments": {"values": [1, 2, 3]}}}),
]

ANYARGS = """{% test anyargs(model) %}
{% set seen = kwargs %}
select 1 as x
{% endtest %}
"""

EXPR = """{% test expression_is_true(model, expression, column_name=none) %}
select 1 as x
{% endtest %}
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def column_entry(column, entry):
    name, quote = column
    col = {"name": name, "data_tests": [entry]}
    if quote is not None:
        col["quote"] = quote
    return col


def build_project(root):
    write(os.path.join(root, "dbt_project.yml"), yaml.safe_dump({
        "name": PROJECT, "version": "1.0", "profile": PROJECT, "config-version": 2,
    }))
    write(os.path.join(root, "profiles.yml"), yaml.safe_dump({
        PROJECT: {"target": "dev", "outputs": {"dev": {
            "type": "duckdb", "path": os.path.join(root, "dev.duckdb")}}}}))
    write(os.path.join(root, "packages.yml"), yaml.safe_dump({"packages": [{"local": "pkgs/dbt_utils"}]}))
    write(os.path.join(root, "pkgs/dbt_utils/dbt_project.yml"), yaml.safe_dump({
        "name": "dbt_utils", "version": "1.0", "config-version": 2}))
    write(os.path.join(root, "pkgs/dbt_utils/macros/expr.sql"), EXPR)
    write(os.path.join(root, "macros/anyargs.sql"), ANYARGS)
    write(os.path.join(root, "models/customers.sql"), "select 1 as id\n")
    models, seeds, sources = [], [], {"raw": [{"name": "customers_src"}]}
    for case_id, target, column, entry in CASES:
        kind = target[0]
        if kind in ("model", "seed", "versioned"):
            item = {"name": target[1]}
            if column is not None:
                item["columns"] = [column_entry(column, entry)]
            else:
                item["data_tests"] = [entry]
            if kind == "model":
                write(os.path.join(root, f"models/{target[1]}.sql"), "select 1 as id\n")
                models.append(item)
            elif kind == "seed":
                write(os.path.join(root, f"seeds/{target[1]}.csv"), "id\n1\n")
                seeds.append(item)
            else:
                item["versions"] = [{"v": v} for v in target[2]]
                item["latest_version"] = target[2][-1]
                for v in target[2]:
                    write(os.path.join(root, f"models/{target[1]}_v{v}.sql"), "select 1 as id\n")
                models.append(item)
        else:
            table = {"name": target[2]}
            if column is not None:
                table["columns"] = [column_entry(column, entry)]
            else:
                table["data_tests"] = [entry]
            sources.setdefault(target[1], []).append(table)
    props = {
        "version": 2,
        "models": models,
        "seeds": seeds,
        "sources": [{"name": s, "schema": "main", "tables": t} for s, t in sources.items()],
    }
    text = yaml.safe_dump(props, sort_keys=False, allow_unicode=True)
    write(os.path.join(root, "models/schema.yml"), text)
    return text


def target_ids(target):
    kind = target[0]
    if kind == "model":
        return [f"model.{PROJECT}.{target[1]}"]
    if kind == "seed":
        return [f"seed.{PROJECT}.{target[1]}"]
    if kind == "versioned":
        return [f"model.{PROJECT}.{target[1]}.v{v}" for v in target[2]]
    return [f"source.{PROJECT}.{target[1]}.{target[2]}"]


def main():
    version = subprocess.run(["dbt", "--version"], capture_output=True, text=True).stdout
    core = next((l.split(":")[-1].strip() for l in version.splitlines() if "installed" in l), "?")
    with tempfile.TemporaryDirectory() as root:
        build_project(root)
        # What dbt's YAML loader sees for every entry (PyYAML, YAML 1.1).
        with open(os.path.join(root, "models/schema.yml")) as f:
            loaded = yaml.safe_load(f)
        env = dict(os.environ, DBT_PROFILES_DIR=root, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
        for cmd in (["dbt", "deps"], ["dbt", "parse"]):
            r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout + r.stderr)
                sys.exit(1)
        with open(os.path.join(root, "target/manifest.json")) as f:
            manifest = json.load(f)

    tests_by_target = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            # source tests have no attached_node; they depend on their source only
            owner = node["attached_node"] or next(
                (d for d in node["depends_on"]["nodes"] if d.startswith("source.")), None)
            tests_by_target.setdefault(owner, []).append(node)

    def loaded_entry(target, column):
        if target[0] == "source":
            src = next(s for s in loaded["sources"] if s["name"] == target[1])
            item = next(t for t in src["tables"] if t["name"] == target[2])
        else:
            key = "seeds" if target[0] == "seed" else "models"
            item = next(m for m in loaded[key] if m["name"] == target[1])
        if column is not None:
            return item["columns"][0]["data_tests"][0]
        return item["data_tests"][0]

    out = []
    for case_id, target, column, entry in CASES:
        if target[0] == "source":
            tgt = {"kind": "source", "source": target[1], "table": target[2]}
        else:
            tgt = {"kind": "node", "name": target[1]}
        expected = []
        for i, uid in enumerate(target_ids(target)):
            nodes = tests_by_target.get(uid, [])
            if len(nodes) != 1:
                sys.exit(f"case {case_id}: expected one test on {uid}, found {len(nodes)}")
            n = nodes[0]
            expected.append({
                "version": str(target[2][i]) if target[0] == "versioned" else None,
                "name": n["name"],
                "alias": n["alias"],
                "path": n["path"],
                "unique_id": n["unique_id"],
                "column_name": n["column_name"],
                "description": n["description"],
                "raw_code": n["raw_code"],
                "config_alias": n["unrendered_config"].get("alias"),
                "test_metadata": n["test_metadata"],
            })
        out.append({
            "id": case_id,
            "target": tgt,
            "column": None if column is None else {"name": column[0], "quote": column[1]},
            "entry": loaded_entry(target, column),
            "expected": expected,
        })
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generated_by": f"dbt-core {core} via scripts/golden/test_names.py",
                   "package": PROJECT, "cases": out}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
