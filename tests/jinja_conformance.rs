//! Jinja conformance: every case of `tests/jinja/cases/*.yml` rendered with
//! rdbt's Jinja must equal what dbt-core's Jinja rendered for it
//! (`tests/jinja/expected.json`, written by
//! `scripts/golden/jinja_conformance.py`).
//!
//! Comparison: the rendered string must be byte-for-byte equal to dbt-core's
//! output; nothing is normalised (whitespace control and Python's printing of
//! values are part of what is tested). A case whose dbt-core render raised
//! must raise in rdbt too, and when the case has `error_contains`, rdbt's
//! message must contain that text (the wording of other errors is not
//! compared: it is rdbt's own).
//!
//! `tests/jinja/known_failures.txt` lists the cases that fail today, one
//! `<file stem>/<case name>  <reason>` per line. The test fails when a case
//! not listed fails, and also when a listed case passes (remove it: the list
//! only shrinks), or when the list names a case that does not exist.
//!
//! Environment:
//! - `RDBT_JINJA_CASE=<substring>`: run only the cases whose key contains it,
//!   and also print the diffs of the listed failures among them.
//! - `RDBT_JINJA_BLESS=1`: rewrite known_failures.txt to today's failures,
//!   keeping the reasons of entries that stay (new ones get `unclassified`).

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The comment that starts known_failures.txt (kept when blessing).
const KNOWN_HEADER: &str = "\
# Jinja conformance cases that differ from dbt-core today, one per line:
# `<file stem>/<case name>  <category>: <reason>`. tests/jinja_conformance.rs
# fails when a case not listed here fails, and when a listed case passes
# (remove it: this list only shrinks). `RDBT_JINJA_BLESS=1 cargo test
# --no-default-features --features datafusion --test jinja_conformance` rewrites it to today's
# failures, keeping the reasons of the entries that stay.
";

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("jinja")
}

struct Case {
    key: String,
    input: Value,
}

/// The cases as the generator records their inputs: `macros` is always a
/// list, `context`/`vars` always mappings.
fn load_cases(dir: &Path) -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let group = file.file_stem().and_then(|s| s.to_str()).expect("file stem").to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let items: Vec<serde_json::Map<String, Value>> =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for item in items {
            let name = item.get("name").and_then(Value::as_str).unwrap_or_else(|| panic!("{}: a case without a name", file.display()));
            let macros = match item.get("macros") {
                None => json!([]),
                Some(Value::String(s)) => json!([s]),
                Some(v) => v.clone(),
            };
            let mut input = json!({
                "template": item.get("template").cloned().unwrap_or(Value::Null),
                "macros": macros,
                "context": item.get("context").cloned().unwrap_or(json!({})),
                "vars": item.get("vars").cloned().unwrap_or(json!({})),
            });
            if let Some(e) = item.get("error_contains") {
                input["error_contains"] = e.clone();
            }
            out.push(Case { key: format!("{group}/{name}"), input });
        }
    }
    out
}

/// `key -> reason` from known_failures.txt.
fn load_known(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        out.insert(key.to_string(), reason.trim().to_string());
    }
    out
}

enum Outcome {
    Pass,
    Fail(String),
}

fn render(input: &Value) -> Result<String, String> {
    let macros: Vec<(String, String)> = input["macros"]
        .as_array()
        .map(|a| a.iter().enumerate().map(|(i, m)| (format!("macros/case_{i}.sql"), m.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    let template = input["template"].as_str().unwrap_or_default();
    match catch_unwind(AssertUnwindSafe(|| rdbt::jinja::testing::render_case(&macros, template, &input["context"], &input["vars"]))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            Err(format!("PANIC: {msg}"))
        }
    }
}

fn check(expected: &Value, input: &Value) -> Outcome {
    let actual = render(input);
    if let Some(err) = expected.get("error").and_then(Value::as_str) {
        return match actual {
            Err(msg) => match input.get("error_contains").and_then(Value::as_str) {
                Some(frag) if !msg.contains(frag) => Outcome::Fail(format!("  dbt-core raised: {err}\n  rdbt raised:     {msg}\n  (rdbt's message lacks {frag:?})")),
                _ if msg.starts_with("PANIC") => Outcome::Fail(format!("  dbt-core raised: {err}\n  rdbt {msg}")),
                _ => Outcome::Pass,
            },
            Ok(out) => Outcome::Fail(format!("  dbt-core raised: {err}\n  rdbt rendered:   {out:?}")),
        };
    }
    let want = expected.get("output").and_then(Value::as_str).unwrap_or_default();
    match actual {
        Ok(out) if out == want => Outcome::Pass,
        Ok(out) => {
            let at = want.bytes().zip(out.bytes()).take_while(|(a, b)| a == b).count();
            Outcome::Fail(format!("  dbt-core: {want:?}\n  rdbt:     {out:?}\n  (first difference at byte {at})"))
        }
        Err(msg) => Outcome::Fail(format!("  dbt-core: {want:?}\n  rdbt raised: {msg}")),
    }
}

fn report_case(out: &mut String, key: &str, input: &Value, detail: &str) {
    out.push_str(&format!("--- {key}\n  template: {:?}\n", input["template"].as_str().unwrap_or_default()));
    if input["macros"].as_array().is_some_and(|a| !a.is_empty()) {
        out.push_str("  (with macros)\n");
    }
    out.push_str(detail);
    out.push('\n');
}

#[test]
fn jinja_conformance() {
    let dir = suite_dir();
    let cases = load_cases(&dir.join("cases"));
    let expected_path = dir.join("expected.json");
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("read tests/jinja/expected.json"))
        .expect("tests/jinja/expected.json is JSON");
    let expected = expected["cases"].as_object().expect("expected.json has `cases`");
    let known_path = dir.join("known_failures.txt");
    let known = load_known(&known_path);
    let filter = std::env::var("RDBT_JINJA_CASE").ok().filter(|s| !s.is_empty());

    // The committed outputs must belong to exactly these inputs.
    let keys: BTreeSet<&str> = cases.iter().map(|c| c.key.as_str()).collect();
    let mut stale: Vec<String> = Vec::new();
    for c in &cases {
        match expected.get(&c.key) {
            None => stale.push(format!("{}: no expected output", c.key)),
            Some(e) if e["input"] != c.input => stale.push(format!("{}: the case changed since its output was generated", c.key)),
            Some(_) => {}
        }
    }
    for k in expected.keys().filter(|k| !keys.contains(k.as_str())) {
        stale.push(format!("{k}: expected output of a case that no longer exists"));
    }
    assert!(
        stale.is_empty(),
        "tests/jinja/expected.json is out of date; run `python3 scripts/golden/jinja_conformance.py`:\n  {}",
        stale.join("\n  ")
    );
    let unknown_known: Vec<&String> = known.keys().filter(|k| !keys.contains(k.as_str())).collect();

    // Panics are reported as failures of their case; keep their default
    // backtrace noise out of the report.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut passed = 0usize;
    let mut run = 0usize;
    let mut failing: BTreeMap<String, String> = BTreeMap::new();
    let mut by_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &cases {
        if filter.as_deref().is_some_and(|f| !c.key.contains(f)) {
            continue;
        }
        run += 1;
        let group = c.key.split('/').next().unwrap_or_default().to_string();
        let entry = by_group.entry(group).or_default();
        entry.1 += 1;
        match check(&expected[&c.key], &c.input) {
            Outcome::Pass => {
                passed += 1;
                entry.0 += 1;
            }
            Outcome::Fail(detail) => {
                failing.insert(c.key.clone(), detail);
            }
        }
    }
    std::panic::set_hook(hook);

    let input_of = |k: &str| &cases.iter().find(|c| c.key == k).expect("case").input;
    let mut report = String::new();
    if filter.is_some() {
        let mut listed = String::new();
        let mut n = 0;
        for (k, detail) in failing.iter().filter(|(k, _)| known.contains_key(*k)) {
            report_case(&mut listed, k, input_of(k), detail);
            n += 1;
        }
        if n > 0 {
            println!("{n} failing case(s) listed in known_failures.txt:\n{listed}");
        }
    }
    let unexpected: Vec<&String> = failing.keys().filter(|k| !known.contains_key(*k)).collect();
    if !unexpected.is_empty() {
        report.push_str(&format!("\n{} case(s) differ from dbt-core and are not in known_failures.txt:\n", unexpected.len()));
        for k in &unexpected {
            report_case(&mut report, k, input_of(k), &failing[*k]);
        }
    }
    let newly_passing: Vec<&String> =
        known.keys().filter(|k| keys.contains(k.as_str()) && !failing.contains_key(*k) && filter.as_deref().is_none_or(|f| k.contains(f))).collect();
    if !newly_passing.is_empty() {
        report.push_str(&format!("\n{} case(s) in known_failures.txt now equal dbt-core; remove them from the list:\n", newly_passing.len()));
        for k in &newly_passing {
            report.push_str(&format!("  {k}\n"));
        }
    }
    if !unknown_known.is_empty() && filter.is_none() {
        report.push_str("\nknown_failures.txt names cases that do not exist:\n");
        for k in &unknown_known {
            report.push_str(&format!("  {k}\n"));
        }
    }
    let groups: Vec<String> = by_group.iter().map(|(g, (p, n))| format!("{g} {p}/{n}")).collect();
    // Written to the process's stderr directly (not `eprintln!`, which the
    // test harness captures) so that the summary shows in every test run.
    let summary = format!("jinja conformance by group: {}\njinja conformance: {passed}/{run} cases equal to dbt-core\n", groups.join(", "));
    let _ = std::io::Write::write_all(&mut std::io::stderr(), summary.as_bytes());

    if std::env::var("RDBT_JINJA_BLESS").is_ok_and(|v| v == "1") && filter.is_none() {
        let mut text = String::from(KNOWN_HEADER);
        for k in failing.keys() {
            let reason = known.get(k).filter(|r| !r.is_empty()).map_or("unclassified", String::as_str);
            text.push_str(&format!("{k}  {reason}\n"));
        }
        std::fs::write(&known_path, text).expect("write known_failures.txt");
        println!("wrote {} ({} entries)", known_path.display(), failing.len());
        return;
    }
    assert!(report.is_empty(), "{report}\njinja conformance: {passed}/{run} cases equal to dbt-core");
}
