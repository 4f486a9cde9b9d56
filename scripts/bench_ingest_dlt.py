#!/usr/bin/env python3
"""dlt's side of scripts/bench_ingest.sh: the same Strava-like load with dlt's
rest_api source (OAuth2 refresh token, page-number paginator, incremental
`after` from start_date as epoch seconds, merge on id) into a DuckDB file,
against a running examples/strava_api server. Prints the same figures as
examples/bench_ingest.rs.

    python3 scripts/bench_ingest_dlt.py URL ACTIVITIES [--format parquet|jsonl]
"""
import argparse
import os
import resource
import shutil
import tempfile
import time

import dlt
import requests
from dlt.sources.rest_api import rest_api_source


def access_token(url):
    """The OAuth2 refresh-token exchange of the synthetic server (as Strava's)."""
    r = requests.post(f"{url}/oauth/token", data={
        "client_id": "rdbt-demo", "client_secret": "demo-client-secret",
        "refresh_token": "demo-refresh-token", "grant_type": "refresh_token"})
    r.raise_for_status()
    return r.json()["access_token"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("activities", type=int)
    ap.add_argument("--format", default="parquet")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dlt-bench-")
    os.environ["DLT_DATA_DIR"] = os.path.join(work, "data")
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    source = rest_api_source({
        "client": {
            "base_url": f"{a.url}/api/v3/",
            "auth": {"type": "bearer", "token": access_token(a.url)},
            "paginator": {"type": "page_number", "page_param": "page", "base_page": 1, "total_path": None},
        },
        "resources": [{
            "name": "activities",
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {
                "path": "athlete/activities",
                "params": {
                    "per_page": 200,
                    "after": {"type": "incremental", "cursor_path": "start_date",
                              "initial_value": "2024-01-01T00:00:00Z",
                              "convert": lambda v: int(__import__("datetime").datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())},
                },
            },
        }],
    })
    pipeline = dlt.pipeline("strava_bench", destination=dlt.destinations.duckdb(os.path.join(work, "bench.duckdb")),
                            dataset_name="strava_raw", pipelines_dir=os.path.join(work, "pipelines"))
    started = time.time()
    pipeline.run(source, loader_file_format=a.format)
    secs = time.time() - started
    with pipeline.sql_client() as c:
        loaded = c.execute_sql("select count(*) from activities")[0][0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"dlt {dlt.__version__} ({a.format}): {a.activities} activities ({loaded} loaded)")
    print(f"  time        {secs:.2f} s")
    print(f"  activities  {a.activities / secs:.0f} /s")
    print(f"  peak RSS    {peak:.0f} MB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
