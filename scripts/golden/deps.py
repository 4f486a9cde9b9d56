#!/usr/bin/env python3
"""Golden package-lock.yml from dbt-core's `dbt deps` on tests/fixtures/deps.

Builds the bare git repository of tests/fixtures/deps/git_pkg exactly as
tests/deps.rs does (fixed author and dates, so the commit SHAs are the same),
writes project/packages.yml from packages.yml.tmpl with its file:// URL, runs
`dbt deps` on a copy in /tmp/rdbt-golden-deps (a fixed path, so that the
`sha1_hash`, which covers the URL, is the same on every run) and writes
tests/fixtures/deps/golden/package-lock.yml with the URL replaced by
__REMOTE__ (the hash is kept: tests/deps.rs recomputes it for that URL) and
golden/installed.txt (what dbt_packages/ holds), then `dbt build` and writes
golden/relations.json (the rows of the models that use the packages).

Run: python3 scripts/golden/deps.py
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "deps"
WORK = Path("/tmp/rdbt-golden-deps")

# Keep in step with `build_remote` in tests/deps.rs.
FEATURE_MACRO = "{% macro inner_hello() %}'inner feature'{% endmacro %}\n"


def git(cwd, *args, date="2024-01-01T00:00:00+00:00"):
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="rdbt",
        GIT_AUTHOR_EMAIL="rdbt@example.com",
        GIT_COMMITTER_NAME="rdbt",
        GIT_COMMITTER_EMAIL="rdbt@example.com",
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
    )
    subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.autocrlf=false", *args],
        cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
    )


def build_remote(work: Path) -> str:
    src = work / "git_src"
    shutil.copytree(FIXTURE / "git_pkg", src)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "v1")
    git(src, "tag", "v1.0")
    git(src, "checkout", "-q", "-b", "feature")
    (src / "nested" / "inner" / "macros" / "inner.sql").write_text(FEATURE_MACRO)
    git(src, "commit", "-q", "-a", "-m", "feature", date="2024-01-02T00:00:00+00:00")
    git(src, "checkout", "-q", "main")
    git(work, "clone", "-q", "--bare", str(src), str(work / "remote.git"))
    return "file://" + str(work / "remote.git")


def main() -> int:
    work = WORK
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        shutil.copytree(FIXTURE / "project", work / "project")
        shutil.copytree(FIXTURE / "local_pkg", work / "local_pkg")
        remote = build_remote(work)
        project = work / "project"
        tmpl = (project / "packages.yml.tmpl").read_text()
        (project / "packages.yml").write_text(tmpl.replace("__REMOTE__", remote))
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
        env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        subprocess.run(["dbt", "deps", "--profiles-dir", str(project)], cwd=project, env=env, check=True)
        lock = (project / "package-lock.yml").read_text().replace(remote, "__REMOTE__")
        out = FIXTURE / "golden"
        out.mkdir(exist_ok=True)
        (out / "package-lock.yml").write_text(lock)
        # What dbt builds with those packages: their macros, the root's
        # dispatch override of a package macro, a package-scoped var.
        subprocess.run(["dbt", "build", "--profiles-dir", str(project)], cwd=project, env=env, check=True)
        import duckdb
        con = duckdb.connect(str(project / "deps.duckdb"), read_only=True)
        rows = {
            "uses_packages": [list(r) for r in con.sql("select local_value, git_value, inner_value, dispatched from main.uses_packages").fetchall()],
            "local_model": [list(r) for r in con.sql("select greeting from main.local_model").fetchall()],
        }
        con.close()
        (FIXTURE / "golden").mkdir(exist_ok=True)
        (FIXTURE / "golden" / "relations.json").write_text(json.dumps(rows, indent=2) + "\n")
        installed = sorted(p.name + (" -> symlink" if p.is_symlink() else "") for p in (project / "dbt_packages").iterdir())
        (out / "installed.txt").write_text("\n".join(installed) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
