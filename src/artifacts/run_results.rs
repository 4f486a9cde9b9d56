//! run_results.json, schema v6.

use serde_json::{Value, json};

use super::{ArtifactMeta, RUN_RESULTS_SCHEMA_VERSION, timestamp};
use crate::run::results::{RunResult, RunResults, RunStatus};

/// run_results.json for one invocation. `generated_at`, `invocation_id`
/// and `elapsed_time` come from `results`; the rest of the metadata from `meta`.
pub fn run_results_json(results: &RunResults, meta: &ArtifactMeta) -> Value {
    json!({
        "metadata": {
            "dbt_schema_version": RUN_RESULTS_SCHEMA_VERSION,
            "dbt_version": meta.dbt_version,
            "generated_at": timestamp(&results.generated_at),
            "invocation_id": results.invocation_id,
            "invocation_started_at": timestamp(&meta.invocation_started_at),
            "env": meta.env,
        },
        "results": results.results.iter().map(result_json).collect::<Vec<_>>(),
        "elapsed_time": finite(results.elapsed_time),
        "args": results.args,
    })
}

fn finite(f: f64) -> f64 {
    if f.is_finite() { f.max(0.0) } else { 0.0 }
}

fn result_json(r: &RunResult) -> Value {
    let resource = r.unique_id.split('.').next().unwrap_or("");
    // dbt does not compile seeds: their results carry no SQL and no relation.
    let is_seed = resource == "seed";
    let compiled = match resource {
        "seed" | "exposure" | "source" | "unit_test" | "" => Value::Null,
        _ if r.compiled_code.is_some() => json!(true),
        _ => json!(false),
    };
    let compiled_code = if is_seed { None } else { r.compiled_code.as_deref() };
    let relation_name = if is_seed { None } else { r.relation_name.as_deref() };
    // A node skipped before it started has no timing entries.
    let timing: Vec<Value> = r
        .timing
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "started_at": timestamp(&t.started_at),
                "completed_at": timestamp(&t.completed_at),
            })
        })
        .collect();
    let execution_time = if r.status == RunStatus::Skipped && r.timing.is_empty() {
        json!(0)
    } else {
        json!(finite(r.execution_time))
    };
    json!({
        "status": r.status.as_str(),
        "timing": timing,
        "thread_id": r.thread_id,
        "execution_time": execution_time,
        "adapter_response": r.adapter_response,
        "message": r.message,
        "failures": r.failures,
        "unique_id": r.unique_id,
        "compiled": compiled,
        "compiled_code": compiled_code,
        "relation_name": relation_name,
        "batch_results": null,
    })
}
