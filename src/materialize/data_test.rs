//! Data tests (generic and singular). The compiled SQL returns the failing
//! rows; dbt's test query counts them:
//!
//! ```sql
//! select <fail_calc> as failures,
//!        <fail_calc> <warn_if> as should_warn,
//!        <fail_calc> <error_if> as should_error
//! from (<failing rows, optionally limited>) dbt_internal_test
//! ```
//!
//! Defaults: `fail_calc: count(*)`, `warn_if` / `error_if: != 0`,
//! `severity: error`. Status: `fail` when severity is error and should_error,
//! else `warn` when should_warn, else `pass`. Messages as dbt's:
//! `Got 1 result, configured to warn if != 0`.
//!
//! With `store_failures` (or `store_failures_as: table|view`) the failing rows
//! are first stored at the request's relation (replacing what was there) and
//! counted from there.
//!
//! Tests that only read and count their rows against integer thresholds
//! (almost all) can be counted several in one query (`tests_together`), one
//! `union all` branch each: the scheduler hands them to one worker together.

use serde_json::Value;

use super::{MaterializeOutcome, MaterializeRequest, MaterializeResult, drop_if_exists, node_error, run_hooks};
use crate::adapter::{AdapterResponse, Connection};
use crate::manifest::NodeConfig;
use crate::run::results::RunStatus;

/// The query returning the test's failing rows: its compiled SQL, limited
/// by the `limit` config.
fn failing_rows_sql(req: &MaterializeRequest<'_>) -> String {
    let sql = req.compiled_sql.trim_end().trim_end_matches(';').trim_end();
    let limit = match req.node.config.get("limit") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    match &limit {
        Some(n) => format!("select *\nfrom (\n{sql}\n) as dbt_limit_subq\nlimit {n}"),
        None => sql.to_string(),
    }
}

pub(crate) fn test(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<MaterializeOutcome> {
    let cfg = &req.node.config;
    let sql_with_limit = failing_rows_sql(req);

    run_hooks(conn, &req.pre_hooks)?;

    let main_sql = match store_failures_as(req)? {
        Some(kind) => {
            let target = &req.relation;
            conn.create_schema(&target.database, &target.schema)?;
            drop_if_exists(conn, target)?;
            let create = if kind == "view" {
                conn.create_view_as_sql(target, &sql_with_limit)
            } else {
                conn.create_table_as_sql(target, &sql_with_limit, false)
            };
            conn.execute(&create)?;
            format!("select *\nfrom {target}")
        }
        None => sql_with_limit,
    };

    let fail_calc = cfg.get_str("fail_calc").unwrap_or("count(*)");
    let (warn_if, error_if) = warn_and_error_if(cfg);
    // Thresholds that compare with an integer (`!= 0`, `>10`) are checked
    // here when fail_calc gives an integer (as `count(*)` does), and the
    // query computes fail_calc alone: the two comparisons in SQL cost DuckDB
    // a fifth more planning per test. Anything else is compared in SQL, as
    // dbt does, so that it fails or converts exactly as SQL would.
    let mut checked = None;
    if let Some((warn, error)) = integer_thresholds(cfg) {
        let query = format!("select\n  {fail_calc} as failures\nfrom (\n{main_sql}\n) dbt_internal_test");
        let result = conn.query(&query)?;
        expect_columns(req, &result, 1)?;
        let value = result.rows.first().and_then(|row| row.first()).cloned().unwrap_or(Value::Null);
        if let Some(n) = integer_failures(&result.columns[0].data_type, &value) {
            checked = Some((count_of(&value), warn.holds(n), error.holds(n)));
        }
    }
    let (failures, should_warn, should_error) = match checked {
        Some(checked) => checked,
        None => {
            let query = format!(
                "select\n  {fail_calc} as failures,\n  {fail_calc} {warn_if} as should_warn,\n  {fail_calc} {error_if} as should_error\nfrom (\n{main_sql}\n) dbt_internal_test"
            );
            let result = conn.query(&query)?;
            expect_columns(req, &result, 3)?;
            let row = result.rows.first().cloned().unwrap_or_default();
            (row.first().map(count_of).unwrap_or(0), row.get(1).is_some_and(truthy), row.get(2).is_some_and(truthy))
        }
    };

    run_hooks(conn, &req.post_hooks)?;
    Ok(outcome(cfg, failures, should_warn, should_error))
}

/// The most tests `tests_together` is given at once by the scheduler: past
/// about 16, DuckDB's per-query cost saved per test stops falling.
pub(crate) const MAX_TESTS_PER_QUERY: usize = 16;

/// Whether a test's failures can be counted in one query with other tests'
/// (`tests_together`): it only reads (no stored failures, no hooks), counts
/// its failing rows (`fail_calc: count(*)`) and compares the count with
/// integer thresholds, which rdbt checks itself.
pub(crate) fn can_share_query(cfg: &NodeConfig) -> bool {
    stored_failures(cfg) == Ok(None)
        && cfg.hooks("pre-hook").is_empty()
        && cfg.hooks("post-hook").is_empty()
        && cfg.get_str("fail_calc").is_none_or(|f| f.split_whitespace().collect::<String>().eq_ignore_ascii_case("count(*)"))
        && integer_thresholds(cfg).is_some()
}

/// Several data tests as one query: one row per test, its index and its
/// count of failing rows. DuckDB plans and starts each query at a fixed
/// cost, a large part of a small test's, so counting 16 tests in one query
/// takes about 40% less than 16 queries (`scripts/duckdb_floor.py` replay
/// of the benchmark's 1,529 tests). Every request must pass
/// `can_share_query`. An error fails the whole query; the caller then runs
/// the tests one by one, so that each error is its own test's.
pub(crate) fn tests_together(conn: &mut dyn Connection, reqs: &[MaterializeRequest<'_>]) -> MaterializeResult<Vec<MaterializeOutcome>> {
    let Some(first) = reqs.first() else { return Ok(vec![]) };
    let mut query = String::new();
    for (i, req) in reqs.iter().enumerate() {
        if i > 0 {
            query.push_str("\nunion all\n");
        }
        query.push_str(&format!("select {i} as test_index, count(*) as failures\nfrom (\n{}\n) dbt_internal_test", failing_rows_sql(req)));
    }
    let result = conn.query(&query)?;
    let mut counts: Vec<Option<u64>> = vec![None; reqs.len()];
    for row in &result.rows {
        let slot = row.first().and_then(Value::as_u64).and_then(|i| counts.get_mut(usize::try_from(i).ok()?));
        match (slot, row.get(1)) {
            (Some(slot @ None), Some(Value::Number(n))) if n.as_u64().is_some() => *slot = n.as_u64(),
            _ => return Err(node_error(first.node, "test-query", format!("tests counted together returned an unexpected row {row:?}")).into()),
        }
    }
    reqs.iter()
        .zip(counts)
        .map(|(req, count)| {
            let cfg = &req.node.config;
            let (Some(failures), Some((warn, error))) = (count, integer_thresholds(cfg)) else {
                return Err(node_error(req.node, "test-query", format!("test {} was not counted with the tests run together", req.node.unique_id)).into());
            };
            let n = Some(i128::from(failures));
            Ok(outcome(cfg, failures, warn.holds(n), error.holds(n)))
        })
        .collect()
}

/// `warn_if` and `error_if` as configured, `!= 0` by default.
fn warn_and_error_if(cfg: &NodeConfig) -> (&str, &str) {
    (cfg.get_str("warn_if").unwrap_or("!= 0"), cfg.get_str("error_if").unwrap_or("!= 0"))
}

/// `warn_if` and `error_if` when both compare with an integer.
fn integer_thresholds(cfg: &NodeConfig) -> Option<(Threshold, Threshold)> {
    let (warn_if, error_if) = warn_and_error_if(cfg);
    Some((Threshold::parse(warn_if)?, Threshold::parse(error_if)?))
}

/// A test's status and message from its failure count, as dbt reports
/// them: `fail` when severity is error and should_error, else `warn` when
/// should_warn, else `pass`.
fn outcome(cfg: &NodeConfig, failures: u64, should_warn: bool, should_error: bool) -> MaterializeOutcome {
    let (warn_if, error_if) = warn_and_error_if(cfg);
    let severity = cfg.severity().to_ascii_uppercase();
    let results = if failures == 1 { "1 result".to_string() } else { format!("{failures} results") };
    let (status, message, failures) = if severity == "ERROR" && should_error {
        (RunStatus::Fail, format!("Got {results}, configured to fail if {error_if}"), failures)
    } else if should_warn {
        (RunStatus::Warn, format!("Got {results}, configured to warn if {warn_if}"), failures)
    } else {
        (RunStatus::Pass, String::new(), 0)
    };
    MaterializeOutcome {
        status,
        message,
        adapter_response: AdapterResponse { message: "OK".into(), code: String::new(), rows_affected: None },
        failures: Some(failures),
    }
}

fn expect_columns(req: &MaterializeRequest<'_>, result: &crate::adapter::QueryResult, n: usize) -> MaterializeResult<()> {
    if result.columns.len() == n {
        return Ok(());
    }
    let id = &req.node.unique_id;
    Err(node_error(req.node, "test-query", format!("test {id} returned {} columns, but expected {n} columns", result.columns.len())).into())
}

/// fail_calc's value as an integer when its column is of an integer type:
/// `Some(None)` for NULL (fail_calc over no rows, such as `sum(...)`), None
/// when it is not an integer (compared in SQL instead).
fn integer_failures(data_type: &str, value: &Value) -> Option<Option<i128>> {
    let ty = data_type.trim_end_matches(" UNSIGNED");
    let integer_type = matches!(
        ty,
        "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "HUGEINT" | "UTINYINT" | "USMALLINT" | "UINTEGER" | "UBIGINT" | "UHUGEINT"
    );
    if !integer_type {
        return None;
    }
    match value {
        Value::Null => Some(None),
        Value::Number(n) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)).map(Some),
        _ => None,
    }
}

/// A `warn_if` / `error_if` of the form `<comparison> <integer>` (`!= 0`,
/// `>10`): what almost every project uses. Anything else is left to the
/// database as SQL.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Threshold {
    op: Comparison,
    value: i128,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Threshold {
    fn parse(text: &str) -> Option<Threshold> {
        let t = text.trim();
        // Longest operators first.
        let ops = [("!=", Comparison::Ne), ("<>", Comparison::Ne), ("==", Comparison::Eq), (">=", Comparison::Ge), ("<=", Comparison::Le), ("=", Comparison::Eq), (">", Comparison::Gt), ("<", Comparison::Lt)];
        let (op, rest) = ops.iter().find_map(|(sym, op)| t.strip_prefix(sym).map(|rest| (*op, rest.trim())))?;
        // A plain integer literal only (no fraction or exponent, which SQL
        // types differently), short enough to be exact.
        let digits = rest.strip_prefix('-').unwrap_or(rest);
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value = rest.parse::<i128>().ok()?;
        Some(Threshold { op, value })
    }

    /// `<failures> <op> <value>` as SQL evaluates it: NULL is never true.
    fn holds(self, failures: Option<i128>) -> bool {
        let Some(x) = failures else { return false };
        match self.op {
            Comparison::Eq => x == self.value,
            Comparison::Ne => x != self.value,
            Comparison::Lt => x < self.value,
            Comparison::Le => x <= self.value,
            Comparison::Gt => x > self.value,
            Comparison::Ge => x >= self.value,
        }
    }
}

/// `Some("table" | "view")` when failures are stored. `store_failures_as`
/// wins over `store_failures` (`ephemeral` turns storing off).
fn store_failures_as(req: &MaterializeRequest<'_>) -> MaterializeResult<Option<&'static str>> {
    stored_failures(&req.node.config).map_err(|other| {
        node_error(
            req.node,
            "store-failures-as",
            format!("'{other}' is not a valid value for `store_failures_as`. Accepted values are: ['ephemeral', 'table', 'view']"),
        )
        .into()
    })
}

/// What a test's config stores its failures as: `Some("table" | "view")`,
/// None when nothing is stored, or the invalid `store_failures_as` value.
pub(crate) fn stored_failures(cfg: &NodeConfig) -> Result<Option<&'static str>, &str> {
    match cfg.get_str("store_failures_as") {
        Some("table") => Ok(Some("table")),
        Some("view") => Ok(Some("view")),
        Some("ephemeral") => Ok(None),
        Some(other) => Err(other),
        None => Ok(cfg.get_bool("store_failures").unwrap_or(false).then_some("table")),
    }
}

fn count_of(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| if f > 0.0 { f as u64 } else { 0 })).unwrap_or(0),
        Value::String(s) => s.trim().parse::<f64>().map(|f| if f > 0.0 { f as u64 } else { 0 }).unwrap_or(0),
        Value::Bool(b) => u64::from(*b),
        _ => 0,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "t" | "1"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{MaterializeError, materialize};
    use crate::adapter::{Connection, Relation, RelationKind};
    use crate::manifest::{Node, ResourceType};
    use crate::run::results::RunStatus;
    use serde_json::{Value, json};

    fn setup() -> crate::adapter::duckdb::DuckDbConnection {
        let mut c = conn();
        c.execute("create table main.t1 as select 1 as id, 'a' as name union all select 2, 'b'").expect("t1");
        c
    }

    fn t(name: &str, cfg: &[(&str, Value)]) -> Node {
        node(ResourceType::Test, name, cfg)
    }

    #[test]
    fn pass_warn_fail_messages() {
        // Statuses and messages as dbt-core 1.11 reported them for the same tests.
        let mut c = setup();
        let out = run(&mut c, &t("not_null_t1_id", &[]), "select id from main.t1 where id is null").expect("test");
        assert_eq!((out.status, out.message.as_str(), out.failures), (RunStatus::Pass, "", Some(0)));
        assert_eq!(out.adapter_response.message, "OK");

        let out = run(&mut c, &t("av", &[("severity", json!("warn"))]), "select id from main.t1 where id not in (1)")
            .expect("test");
        assert_eq!(out.status, RunStatus::Warn);
        assert_eq!(out.message, "Got 1 result, configured to warn if != 0");
        assert_eq!(out.failures, Some(1));

        let out = run(&mut c, &t("singular", &[]), "select * from main.t1").expect("test");
        assert_eq!(out.status, RunStatus::Fail);
        assert_eq!(out.message, "Got 2 results, configured to fail if != 0");
        assert_eq!(out.failures, Some(2));
    }

    #[test]
    fn thresholds_and_severity() {
        let mut c = setup();
        let two_rows = "select * from main.t1";
        let cfg = [("error_if", json!(">5")), ("warn_if", json!(">1"))];
        let out = run(&mut c, &t("th", &cfg), two_rows).expect("test");
        assert_eq!((out.status, out.message.as_str()), (RunStatus::Warn, "Got 2 results, configured to warn if >1"));
        let out = run(&mut c, &t("th2", &[("error_if", json!(">1"))]), two_rows).expect("test");
        assert_eq!((out.status, out.message.as_str()), (RunStatus::Fail, "Got 2 results, configured to fail if >1"));
        let out = run(&mut c, &t("th3", &[("warn_if", json!(">5")), ("error_if", json!(">5"))]), two_rows).expect("test");
        assert_eq!((out.status, out.failures), (RunStatus::Pass, Some(0)));
        // Severity is case-insensitive; with warn the error threshold is ignored.
        let out = run(&mut c, &t("sv", &[("severity", json!("WARN"))]), two_rows).expect("test");
        assert_eq!(out.status, RunStatus::Warn);
        let out = run(&mut c, &t("sv2", &[("severity", json!("Error"))]), two_rows).expect("test");
        assert_eq!(out.status, RunStatus::Fail);
    }

    #[test]
    fn fail_calc_and_limit() {
        let mut c = setup();
        let out = run(&mut c, &t("fc", &[("fail_calc", json!("sum(id)"))]), "select id from main.t1").expect("test");
        assert_eq!((out.status, out.failures), (RunStatus::Fail, Some(3)));
        assert_eq!(out.message, "Got 3 results, configured to fail if != 0");
        let out = run(&mut c, &t("fcnull", &[("fail_calc", json!("sum(id)"))]), "select id from main.t1 where false")
            .expect("test");
        assert_eq!((out.status, out.failures), (RunStatus::Pass, Some(0)));
        let out = run(&mut c, &t("lim", &[("limit", json!(1))]), "select * from main.t1;").expect("test");
        assert_eq!((out.status, out.failures), (RunStatus::Fail, Some(1)));
    }

    #[test]
    fn thresholds_rdbt_compares_and_those_left_to_sql() {
        use super::{Comparison, Threshold};
        let th = |t: &str| Threshold::parse(t);
        assert_eq!(th("!= 0"), Some(Threshold { op: Comparison::Ne, value: 0 }));
        assert_eq!(th(" >10 "), Some(Threshold { op: Comparison::Gt, value: 10 }));
        assert_eq!(th("<> -1"), Some(Threshold { op: Comparison::Ne, value: -1 }));
        assert_eq!(th("=3"), Some(Threshold { op: Comparison::Eq, value: 3 }));
        for sql in ["between 1 and 3", ">= 2.5", "> 1e3", "> inf", "> nan", "!= (select 1)", "> 1 and false", ">", "> 1.0", "is not null", "> 1234567890123456789"] {
            assert_eq!(th(sql), None, "{sql}");
        }
        let gt1 = th("> 1").expect("threshold");
        assert!(gt1.holds(Some(2)) && !gt1.holds(Some(1)));
        assert!(!gt1.holds(None), "NULL compares as unknown, as in SQL");
        // Exact beyond 2^53.
        assert!(th("!= 9007199254740992").expect("threshold").holds(Some(9_007_199_254_740_993)));
        assert_eq!(super::integer_failures("BIGINT", &json!(3)), Some(Some(3)));
        assert_eq!(super::integer_failures("HUGEINT", &Value::Null), Some(None));
        assert_eq!(super::integer_failures("BIGINT UNSIGNED", &json!(u64::MAX)), Some(Some(i128::from(u64::MAX))));
        for (ty, v) in [("DOUBLE", json!(3)), ("FLOAT", json!(3.3)), ("VARCHAR", json!("10")), ("DECIMAL(18,2)", json!(4.5)), ("BOOLEAN", json!(true)), ("VARCHAR", Value::Null)] {
            assert_eq!(super::integer_failures(ty, &v), None, "{ty} {v}");
        }

        // Thresholds that are not a comparison with an integer, and
        // fail_calc values that are not integers, are compared in SQL.
        let mut c = setup();
        let two_rows = "select * from main.t1";
        let out = run(&mut c, &t_between(), two_rows).expect("test");
        assert_eq!((out.status, out.message.as_str()), (RunStatus::Warn, "Got 2 results, configured to warn if between 1 and 3"));
        let out = run(&mut c, &t("dec", &[("fail_calc", json!("sum(id) * 1.5")), ("error_if", json!("> 4.4"))]), two_rows).expect("test");
        assert_eq!((out.status, out.failures), (RunStatus::Fail, Some(4)));
        let out = run(&mut c, &t("dec2", &[("fail_calc", json!("sum(id) * 1.5")), ("error_if", json!("> 4.5")), ("warn_if", json!("> 4.5"))]), two_rows).expect("test");
        assert_eq!(out.status, RunStatus::Pass);
        // A string fail_calc compared with a number: the database refuses it, as before.
        match run(&mut c, &t("str", &[("fail_calc", json!("max(name)")), ("error_if", json!("> 9"))]), two_rows) {
            Err(MaterializeError::Database(e)) => assert!(e.message.contains("VARCHAR"), "{}", e.message),
            other => panic!("expected the database's error, got {other:?}"),
        }
        let out = run(&mut c, &t("int", &[("fail_calc", json!("sum(id)")), ("error_if", json!(">= 3"))]), two_rows).expect("test");
        assert_eq!((out.status, out.failures), (RunStatus::Fail, Some(3)));
    }

    fn t_between() -> Node {
        t("between", &[("warn_if", json!("between 1 and 3")), ("error_if", json!("> 5"))])
    }

    #[test]
    fn store_failures_as_table_and_view() {
        let mut c = setup();
        let n = t("unique_t1_id", &[("store_failures", json!(true))]);
        let mut r = request(&n, "select name from main.t1 where id > 1");
        r.relation = Relation::new("memory", "main_dbt_test__audit", "unique_t1_id");
        let out = materialize(&mut c, &r).expect("test");
        assert_eq!((out.status, out.failures), (RunStatus::Fail, Some(1)));
        assert_eq!(c.relation_kind(&r.relation).expect("kind"), Some(RelationKind::Table));
        assert_eq!(rows(&mut c, "select * from main_dbt_test__audit.unique_t1_id"), vec![vec![json!("b")]]);
        // Re-running replaces the stored rows; store_failures_as wins over store_failures.
        let n = t("unique_t1_id", &[("store_failures", json!(false)), ("store_failures_as", json!("view"))]);
        let mut r2 = request(&n, "select name from main.t1");
        r2.relation = r.relation.clone();
        let out = materialize(&mut c, &r2).expect("test");
        assert_eq!(out.failures, Some(2));
        assert_eq!(c.relation_kind(&r.relation).expect("kind"), Some(RelationKind::View));
        // ephemeral: nothing stored
        let n = t("eph", &[("store_failures", json!(true)), ("store_failures_as", json!("ephemeral"))]);
        let mut r3 = request(&n, "select 1");
        r3.relation = Relation::new("memory", "main_dbt_test__audit", "eph");
        materialize(&mut c, &r3).expect("test");
        assert_eq!(c.relation_kind(&r3.relation).expect("kind"), None);
        // invalid value
        let n = t("bad", &[("store_failures_as", json!("parquet"))]);
        match run(&mut c, &n, "select 1") {
            Err(MaterializeError::Diagnostic(d)) => assert_eq!(d.code, "store-failures-as"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn tests_counted_together_report_what_each_reports_alone() {
        let mut c = setup();
        let tests = [
            (t("not_null_t1_id", &[]), "select id from main.t1 where id is null"),
            (t("av", &[("severity", json!("warn"))]), "select id from main.t1 where id not in (1)"),
            (t("singular", &[]), "select * from main.t1;"),
            (t("th", &[("error_if", json!(">5")), ("warn_if", json!(">1"))]), "select * from main.t1"),
            (t("lim", &[("limit", json!(1))]), "select * from main.t1 -- a trailing comment"),
            (t("cte", &[("fail_calc", json!("COUNT( * )"))]), "with x as (select id from main.t1) select * from x where id = 2 order by id"),
        ];
        let alone: Vec<_> = tests.iter().map(|(n, sql)| run(&mut c, n, sql).expect("alone")).collect();
        let requests: Vec<_> = tests.iter().map(|(n, sql)| request(n, sql)).collect();
        assert!(tests.iter().all(|(n, _)| super::can_share_query(&n.config)));
        let together = super::tests_together(&mut c, &requests).expect("together");
        let summary = |o: &super::MaterializeOutcome| (o.status, o.message.clone(), o.failures, o.adapter_response.message.clone());
        assert_eq!(together.iter().map(summary).collect::<Vec<_>>(), alone.iter().map(summary).collect::<Vec<_>>());
        let statuses: Vec<_> = together.iter().map(|o| o.status).collect();
        assert_eq!(statuses, [RunStatus::Pass, RunStatus::Warn, RunStatus::Fail, RunStatus::Warn, RunStatus::Fail, RunStatus::Fail]);
    }

    #[test]
    fn one_broken_test_fails_the_shared_query() {
        let mut c = setup();
        let (good, broken) = (t("good", &[]), t("broken", &[]));
        let requests = [request(&good, "select id from main.t1 where id is null"), request(&broken, "select no_such_column from main.t1")];
        match super::tests_together(&mut c, &requests) {
            Err(MaterializeError::Database(e)) => assert!(e.message.contains("no_such_column"), "{}", e.message),
            other => panic!("expected the database's error, got {other:?}"),
        }
    }

    #[test]
    fn which_tests_can_share_a_query() {
        let shares = |cfg: &[(&str, Value)]| super::can_share_query(&t("x", cfg).config);
        assert!(shares(&[]));
        assert!(shares(&[("severity", json!("warn")), ("warn_if", json!(">= 3")), ("error_if", json!("<> 0")), ("limit", json!(5))]));
        assert!(shares(&[("store_failures", json!(false)), ("store_failures_as", json!("ephemeral"))]));
        for cfg in [
            ("store_failures", json!(true)),
            ("store_failures_as", json!("view")),
            ("store_failures_as", json!("parquet")),
            ("fail_calc", json!("sum(id)")),
            ("warn_if", json!("between 1 and 3")),
            ("error_if", json!("> 1.5")),
            ("pre-hook", json!("select 1")),
            ("post-hook", json!(["select 1"])),
        ] {
            assert!(!shares(std::slice::from_ref(&cfg)), "{cfg:?}");
        }
    }

    #[test]
    fn sql_errors_are_database_errors() {
        let mut c = setup();
        match run(&mut c, &t("broken", &[]), "select * from nope") {
            Err(MaterializeError::Database(e)) => assert!(e.message.contains("nope")),
            other => panic!("unexpected {other:?}"),
        }
    }
}
