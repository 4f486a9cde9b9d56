//! Snapshots (type-2 slowly changing dimensions) with dbt-core 1.11 +
//! dbt-duckdb semantics.
//!
//! First run: the table is the query's rows plus four meta columns —
//! `dbt_scd_id` (md5 of the unique key and the version's time),
//! `dbt_updated_at` and `dbt_valid_from` (the version's time), `dbt_valid_to`
//! (null, or `dbt_valid_to_current`) — and `dbt_is_deleted` ('False') with
//! `hard_deletes: new_record`. The version's time is the `updated_at` column
//! (`timestamp` strategy) or the snapshot's clock (`check` strategy,
//! DuckDB's `now()::timestamp`, fixed for the transaction).
//!
//! Later runs build a staging table `<alias>__dbt_tmp` of changes, all in one
//! transaction:
//! - `insert`: a key not current in the snapshot, or a current row that
//!   changed (newer `updated_at`, or different `check_cols`; any check
//!   column new to the table counts as a change), or that is marked deleted;
//! - `update`: the current version of a changed row, closed at the new
//!   version's time;
//! - with `hard_deletes` `invalidate`/`new_record`, `delete`: the current
//!   version of a key gone from the query, closed at the snapshot's clock;
//!   with `new_record` also an `insert` of a deletion record (the last
//!   values, `dbt_is_deleted = 'True'`).
//!
//! Columns of the query missing from the table are added, then current rows
//! matching an `update`/`delete` by `dbt_scd_id` get its `dbt_valid_to` and
//! the `insert` rows are appended, and the staging table is dropped.

use serde_json::Value;

use super::{MaterializeOutcome, MaterializeRequest, MaterializeResult, drop_if_exists, in_transaction, node_error, ok_outcome, quote, run_hooks, suffixed};
use crate::adapter::{Connection, RelationKind};
use crate::manifest::{NodeConfig, string_or_list};

/// DuckDB's snapshot clock (dbt-duckdb's `snapshot_get_time()`).
const NOW: &str = "now()::timestamp";

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// A row changed when its `updated_at` is newer than the current version's.
    Timestamp { updated_at: String },
    /// A row changed when any of these columns differ (`None`: all columns).
    /// `updated_at`, when configured, is the version's time instead of the clock.
    Check { cols: Option<Vec<String>>, updated_at: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardDeletes {
    Ignore,
    Invalidate,
    NewRecord,
}

/// Names of the meta columns (`snapshot_meta_column_names`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaColumns {
    pub scd_id: String,
    pub updated_at: String,
    pub valid_from: String,
    pub valid_to: String,
    pub is_deleted: String,
}

/// A snapshot's validated config.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSpec {
    pub strategy: Strategy,
    /// Column expressions of the unique key.
    pub unique_key: Vec<String>,
    /// The key was written as a list (helper columns are numbered then).
    pub key_is_list: bool,
    pub hard_deletes: HardDeletes,
    /// SQL expression for the current version's `dbt_valid_to` (null when unset).
    pub valid_to_current: Option<String>,
    pub columns: MetaColumns,
}

/// A config problem: the message and the config key it is about (to point at
/// it in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub message: String,
    pub key: &'static str,
}

fn spec_error(key: &'static str, message: impl Into<String>) -> SpecError {
    SpecError { message: message.into(), key }
}

impl SnapshotSpec {
    /// Validates a snapshot's config as dbt-core does when it parses the
    /// snapshot (strategy and unique_key required, strategy-specific keys,
    /// hard-delete settings).
    pub fn from_config(cfg: &NodeConfig) -> Result<SnapshotSpec, SpecError> {
        let strategy_name = cfg.get_str("strategy");
        let unique_key = string_or_list(cfg.get("unique_key"));
        let (Some(strategy_name), false) = (strategy_name, unique_key.is_empty()) else {
            let key = if strategy_name.is_none() { "strategy" } else { "unique_key" };
            return Err(spec_error(key, "Snapshots must be configured with a 'strategy' and 'unique_key'."));
        };
        let updated_at = cfg.get_str("updated_at").map(str::to_string);
        let strategy = match strategy_name {
            "timestamp" => {
                let Some(updated_at) = updated_at else {
                    return Err(spec_error("strategy", "A snapshot configured with the timestamp strategy must specify an updated_at configuration."));
                };
                if cfg.get("check_cols").is_some() {
                    return Err(spec_error("check_cols", "A 'timestamp' snapshot should not have 'check_cols'"));
                }
                Strategy::Timestamp { updated_at }
            }
            "check" => {
                let cols = match cfg.get("check_cols") {
                    Some(Value::String(s)) if s == "all" => None,
                    Some(Value::String(s)) => {
                        return Err(spec_error("check_cols", format!("Invalid value for 'check_cols': {s}. Expected 'all' or a list of strings.")));
                    }
                    Some(Value::Array(items)) if !items.is_empty() => Some(items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()),
                    _ => {
                        return Err(spec_error("strategy", "A snapshot configured with the check strategy must specify a check_cols configuration."));
                    }
                };
                Strategy::Check { cols, updated_at }
            }
            other => {
                return Err(spec_error(
                    "strategy",
                    format!("The specified strategy macro '{other}' was not found: rdbt snapshots support the 'timestamp' and 'check' strategies"),
                ));
            }
        };
        let invalidate = cfg.get_bool("invalidate_hard_deletes").unwrap_or(false);
        let hard_deletes = match (cfg.get_str("hard_deletes"), invalidate) {
            (Some(_), true) => {
                return Err(spec_error(
                    "hard_deletes",
                    "You cannot set both the invalidate_hard_deletes and hard_deletes config properties on the same snapshot.",
                ));
            }
            (None, true) | (Some("invalidate"), _) => HardDeletes::Invalidate,
            (None, false) | (Some("ignore"), _) => HardDeletes::Ignore,
            (Some("new_record"), _) => HardDeletes::NewRecord,
            (Some(other), _) => {
                return Err(spec_error("hard_deletes", format!("Invalid setting for property hard_deletes: '{other}' (expected ignore, invalidate or new_record)")));
            }
        };
        let names = cfg.get("snapshot_meta_column_names").and_then(Value::as_object);
        let name = |key: &str| names.and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or(key).to_string();
        Ok(SnapshotSpec {
            strategy,
            key_is_list: matches!(cfg.get("unique_key"), Some(Value::Array(_))),
            unique_key,
            hard_deletes,
            valid_to_current: cfg.get_str("dbt_valid_to_current").map(str::to_string),
            columns: MetaColumns {
                scd_id: name("dbt_scd_id"),
                updated_at: name("dbt_updated_at"),
                valid_from: name("dbt_valid_from"),
                valid_to: name("dbt_valid_to"),
                is_deleted: name("dbt_is_deleted"),
            },
        })
    }

    /// The version's time: the `updated_at` expression or the clock.
    fn version_time(&self) -> &str {
        match &self.strategy {
            Strategy::Timestamp { updated_at } | Strategy::Check { updated_at: Some(updated_at), .. } => updated_at,
            Strategy::Check { updated_at: None, .. } => NOW,
        }
    }

    /// Names of the helper columns holding the key in the staging CTEs.
    fn key_columns(&self) -> Vec<String> {
        if self.key_is_list { (1..=self.unique_key.len()).map(|i| format!("dbt_unique_key_{i}")).collect() } else { vec!["dbt_unique_key".to_string()] }
    }

    /// `<key expr> AS dbt_unique_key[_n], ...`
    fn key_fields(&self) -> String {
        self.unique_key.iter().zip(self.key_columns()).map(|(k, c)| format!("{k} AS {c}")).collect::<Vec<_>>().join(", ")
    }

    fn key_join(&self, a: &str, b: &str) -> String {
        self.key_columns().iter().map(|c| format!("{a}.{c} = {b}.{c}")).collect::<Vec<_>>().join(" AND ")
    }

    /// The first key column of `alias` is null (no match in an outer join).
    fn key_missing(&self, alias: &str) -> String {
        format!("{alias}.{} IS NULL", self.key_columns()[0])
    }

    /// dbt's scd id: md5 over the key columns and the version time, each cast
    /// to text (null as ''), joined with '|'.
    fn scd_hash(parts: &[String]) -> String {
        let texts: Vec<String> = parts.iter().map(|p| format!("coalesce(cast({p} AS varchar), '')")).collect();
        format!("md5({})", texts.join(" || '|' || "))
    }

    fn scd_id_expr(&self) -> String {
        let mut parts = self.unique_key.clone();
        parts.push(self.version_time().to_string());
        Self::scd_hash(&parts)
    }

    /// `dbt_valid_to` of a new current version: null of the version time's
    /// type, or `dbt_valid_to_current`.
    fn open_valid_to(&self) -> String {
        let t = self.version_time();
        format!("coalesce(nullif({t}, {t}), {})", self.valid_to_current.as_deref().unwrap_or("null"))
    }

    /// Rows of alias `a` that are the current version.
    fn is_current(&self, a: &str) -> String {
        let vt = format!("{a}.{}", quote(&self.columns.valid_to));
        match &self.valid_to_current {
            Some(cur) => format!("({vt} = {cur} OR {vt} IS NULL)"),
            None => format!("{vt} IS NULL"),
        }
    }

    /// The first build: the query's rows, each a current version.
    pub fn create_sql(&self, sql: &str) -> String {
        let c = &self.columns;
        let t = self.version_time();
        let mut cols = vec![
            format!("{} AS {}", self.scd_id_expr(), quote(&c.scd_id)),
            format!("{t} AS {}", quote(&c.updated_at)),
            format!("{t} AS {}", quote(&c.valid_from)),
            format!("{} AS {}", self.open_valid_to(), quote(&c.valid_to)),
        ];
        if self.hard_deletes == HardDeletes::NewRecord {
            cols.push(format!("'False' AS {}", quote(&c.is_deleted)));
        }
        format!("SELECT *,\n    {}\nFROM (\n{sql}\n) AS snapshot_query", cols.join(",\n    "))
    }

    /// The staging query (see the module docs). `changed` is the SQL
    /// condition telling that `cur` (the snapshotted row) differs from `src`
    /// (the query's row); `target_columns` are the table's columns and
    /// `source_columns` the query's.
    pub fn staging_sql(&self, sql: &str, target: &str, changed: &str, target_columns: &[String], source_columns: &[String]) -> String {
        let c = &self.columns;
        let q = |s: &str| quote(s);
        let t = self.version_time();
        let new_record = self.hard_deletes == HardDeletes::NewRecord;
        let marked_deleted = if new_record { format!(" OR cur.{} = 'True'", q(&c.is_deleted)) } else { String::new() };
        let changed = format!("({changed}{marked_deleted})");
        // The meta columns of a new version are computed on the query's rows
        // alone, before any join (the table has columns of the same names).
        let mut out = format!(
            "WITH snapshot_query AS (\n{sql}\n),\n\
             current_rows AS (\n    SELECT *, {keys} FROM {target} AS cur WHERE {current}\n),\n\
             source_rows AS (\n    SELECT *, {keys},\n        {t} AS {upd}, {t} AS {vf}, {open} AS {vt}, {scd} AS {scd_col}\n    FROM snapshot_query\n),\n",
            keys = self.key_fields(),
            current = self.is_current("cur"),
            upd = q(&c.updated_at),
            vf = q(&c.valid_from),
            vt = q(&c.valid_to),
            open = self.open_valid_to(),
            scd = self.scd_id_expr(),
            scd_col = q(&c.scd_id),
        );
        // New versions: unknown keys and changed rows.
        let is_deleted_col = if new_record { format!(", 'False' AS {}", q(&c.is_deleted)) } else { String::new() };
        out.push_str(&format!(
            "new_versions AS (\n    SELECT 'insert' AS dbt_change_type, src.*{is_deleted_col}\n    \
             FROM source_rows AS src LEFT JOIN current_rows AS cur ON {join}\n    WHERE {missing} OR {changed}\n),\n",
            join = self.key_join("src", "cur"),
            missing = self.key_missing("cur"),
        ));
        // Current versions closed by a new one, at the new one's time.
        out.push_str(&format!(
            "closed_versions AS (\n    SELECT 'update' AS dbt_change_type, cur.{scd_col}, src.{vf} AS {vt}\n    \
             FROM source_rows AS src JOIN current_rows AS cur ON {join}\n    WHERE {changed}\n)",
            scd_col = q(&c.scd_id),
            vf = q(&c.valid_from),
            vt = q(&c.valid_to),
            join = self.key_join("src", "cur"),
        ));
        let gone = format!(
            "FROM current_rows AS cur LEFT JOIN source_rows AS src ON {join}\n    WHERE {missing}{not_deleted}",
            join = self.key_join("cur", "src"),
            missing = self.key_missing("src"),
            // A key already marked deleted is not deleted again.
            not_deleted = if new_record { format!(" AND NOT (cur.{} = 'True')", q(&c.is_deleted)) } else { String::new() },
        );
        if self.hard_deletes != HardDeletes::Ignore {
            out.push_str(&format!(
                ",\ndeleted_versions AS (\n    SELECT 'delete' AS dbt_change_type, cur.{scd_col}, {NOW} AS {vt}\n    {gone}\n)",
                scd_col = q(&c.scd_id),
                vt = q(&c.valid_to),
            ));
        }
        if new_record {
            // The last known values (columns the table lacks stay null).
            let mut values: Vec<String> = source_columns
                .iter()
                .map(|col| if target_columns.iter().any(|t| t == col) { format!("cur.{}", q(col)) } else { format!("src.{}", q(col)) })
                .collect();
            values.extend(self.key_columns().iter().map(|k| format!("cur.{k}")));
            out.push_str(&format!(
                ",\ndeletion_records AS (\n    SELECT 'insert' AS dbt_change_type, {values},\n        {NOW} AS {upd}, {NOW} AS {vf}, cur.{vt} AS {vt}, {scd} AS {scd_col}, 'True' AS {del}\n    {gone}\n)",
                values = values.join(", "),
                upd = q(&c.updated_at),
                vf = q(&c.valid_from),
                vt = q(&c.valid_to),
                scd = Self::scd_hash(&[format!("cur.{}", q(&c.scd_id)), NOW.to_string()]),
                scd_col = q(&c.scd_id),
                del = q(&c.is_deleted),
            ));
        }
        out.push_str("\nSELECT * FROM new_versions\nUNION ALL BY NAME SELECT * FROM closed_versions");
        if self.hard_deletes != HardDeletes::Ignore {
            out.push_str("\nUNION ALL BY NAME SELECT * FROM deleted_versions");
        }
        if new_record {
            out.push_str("\nUNION ALL BY NAME SELECT * FROM deletion_records");
        }
        out
    }

    /// Helper columns of the staging table that are not copied to the target.
    fn helper_columns(&self) -> Vec<String> {
        let mut v = vec!["dbt_change_type".to_string(), "dbt_unique_key".to_string()];
        v.extend(self.key_columns());
        v
    }
}

pub(crate) fn snapshot(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> MaterializeResult<MaterializeOutcome> {
    let spec = SnapshotSpec::from_config(&req.node.config).map_err(|e| node_error(req.node, "snapshot-config", e.message))?;
    let target = &req.relation;
    conn.create_schema(&target.database, &target.schema)?;
    match conn.relation_kind(target)? {
        Some(RelationKind::View) => {
            return Err(node_error(req.node, "snapshot-target", format!("Trying to create snapshot {target}, but it currently exists as a view. Either drop {target} manually, or run dbt with `--full-refresh` and dbt will drop it for you.")).into());
        }
        None => {
            in_transaction(conn, |conn| {
                run_hooks(conn, &req.pre_hooks)?;
                let sql = conn.create_table_as_sql(target, &spec.create_sql(req.compiled_sql), false);
                conn.execute(&sql)?;
                run_hooks(conn, &req.post_hooks)
            })?;
        }
        Some(RelationKind::Table) => update(conn, req, &spec)?,
    }
    Ok(ok_outcome())
}

/// Column names of `sql`'s result.
fn query_columns(conn: &mut dyn Connection, sql: &str) -> MaterializeResult<Vec<String>> {
    Ok(conn.query(&format!("SELECT * FROM (\n{sql}\n) AS snapshot_columns LIMIT 0"))?.columns.into_iter().map(|c| c.name).collect())
}

fn update(conn: &mut dyn Connection, req: &MaterializeRequest<'_>, spec: &SnapshotSpec) -> MaterializeResult<()> {
    let target = &req.relation;
    let staging = suffixed(target, "__dbt_tmp");
    drop_if_exists(conn, &staging)?;
    let c = &spec.columns;
    in_transaction(conn, |conn| {
        run_hooks(conn, &req.pre_hooks)?;
        let target_columns: Vec<String> = conn.get_columns(target)?.into_iter().map(|c| c.name).collect();
        for needed in [&c.scd_id, &c.valid_from, &c.valid_to].into_iter().chain((spec.hard_deletes == HardDeletes::NewRecord).then_some(&c.is_deleted)) {
            if !target_columns.iter().any(|t| t.eq_ignore_ascii_case(needed)) {
                return Err(node_error(req.node, "snapshot-target", format!("Snapshot target {target} is missing the column {needed}; it was not created by this snapshot's configuration")).into());
            }
        }
        let source_columns = query_columns(conn, req.compiled_sql)?;
        let changed = match &spec.strategy {
            Strategy::Timestamp { updated_at } => format!("cur.{} < src.{updated_at}", quote(&c.valid_from)),
            Strategy::Check { cols, .. } => {
                let checked = match cols {
                    None => source_columns.clone(),
                    Some(list) => query_columns(conn, &format!("SELECT {} FROM (\n{}\n) AS subq", list.join(", "), req.compiled_sql))?,
                };
                // A checked column the table does not have yet changes every row.
                if checked.iter().any(|col| !target_columns.contains(col)) {
                    "TRUE".to_string()
                } else {
                    checked
                        .iter()
                        .map(|col| {
                            let (a, b) = (format!("cur.{}", quote(col)), format!("src.{}", quote(col)));
                            // Parenthesised: some SQL parsers bind `OR` tighter.
                            format!("({a} IS DISTINCT FROM {b})")
                        })
                        .collect::<Vec<_>>()
                        .join(" OR ")
                }
            }
        };
        let select = spec.staging_sql(req.compiled_sql, &target.render(), &changed, &target_columns, &source_columns);
        let sql = conn.create_table_as_sql(&staging, &select, false);
        conn.execute(&sql)?;
        // New columns of the query are added to the table.
        let helpers = spec.helper_columns();
        let staged: Vec<crate::adapter::Column> =
            conn.get_columns(&staging)?.into_iter().filter(|col| !helpers.iter().any(|h| h.eq_ignore_ascii_case(&col.name))).collect();
        for col in staged.iter().filter(|col| !target_columns.iter().any(|t| t.eq_ignore_ascii_case(&col.name))) {
            conn.execute(&format!("ALTER TABLE {target} ADD COLUMN {} {}", quote(&col.name), col.data_type))?;
        }
        let vt = quote(&c.valid_to);
        let scd = quote(&c.scd_id);
        conn.execute(&format!(
            "UPDATE {target} AS snap SET {vt} = staged.{vt}\nFROM {staging} AS staged\n\
             WHERE staged.{scd}::text = snap.{scd}::text AND staged.dbt_change_type IN ('update', 'delete') AND {current}",
            current = spec.is_current("snap"),
        ))?;
        let cols = staged.iter().map(|col| quote(&col.name)).collect::<Vec<_>>().join(", ");
        conn.execute(&format!("INSERT INTO {target} ({cols})\nSELECT {cols} FROM {staging} WHERE dbt_change_type = 'insert'"))?;
        conn.drop_relation(&staging, RelationKind::Table)?;
        run_hooks(conn, &req.post_hooks)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::manifest::ResourceType;
    use serde_json::json;

    fn cfg(pairs: Value) -> NodeConfig {
        NodeConfig(pairs.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn spec_from_config() {
        let s = SnapshotSpec::from_config(&cfg(json!({"strategy": "timestamp", "unique_key": ["a", "b"], "updated_at": "u", "invalidate_hard_deletes": true})))
            .expect("valid");
        assert_eq!(s.strategy, Strategy::Timestamp { updated_at: "u".into() });
        assert!(s.key_is_list);
        assert_eq!(s.hard_deletes, HardDeletes::Invalidate);
        assert_eq!(s.columns.valid_to, "dbt_valid_to");
        let s = SnapshotSpec::from_config(&cfg(json!({"strategy": "check", "unique_key": "id", "check_cols": "all", "snapshot_meta_column_names": {"dbt_valid_to": "vt"}})))
            .expect("valid");
        assert_eq!(s.strategy, Strategy::Check { cols: None, updated_at: None });
        assert_eq!((s.columns.valid_to.as_str(), s.columns.valid_from.as_str()), ("vt", "dbt_valid_from"));
        let err = |v: Value| SnapshotSpec::from_config(&cfg(v)).expect_err("invalid");
        assert_eq!(err(json!({"strategy": "timestamp", "updated_at": "u"})).key, "unique_key");
        assert_eq!(err(json!({"unique_key": "id"})).key, "strategy");
        assert!(err(json!({"strategy": "timestamp", "unique_key": "id"})).message.contains("updated_at"));
        assert!(err(json!({"strategy": "timestamp", "unique_key": "id", "updated_at": "u", "check_cols": ["a"]})).message.contains("check_cols"));
        assert_eq!(err(json!({"strategy": "check", "unique_key": "id", "check_cols": "some"})).key, "check_cols");
        assert_eq!(err(json!({"strategy": "check", "unique_key": "id", "check_cols": "all", "hard_deletes": "x"})).key, "hard_deletes");
        assert!(
            err(json!({"strategy": "check", "unique_key": "id", "check_cols": "all", "hard_deletes": "ignore", "invalidate_hard_deletes": true}))
                .message
                .contains("cannot set both")
        );
        assert!(err(json!({"strategy": "custom", "unique_key": "id"})).message.contains("'custom'"));
    }

    fn snap(name: &str, config: Value) -> crate::manifest::Node {
        let pairs: Vec<(String, Value)> = config.as_object().cloned().unwrap_or_default().into_iter().collect();
        let refs: Vec<(&str, Value)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        node(ResourceType::Snapshot, name, &refs)
    }

    #[test]
    fn timestamp_snapshot_versions_rows_and_invalidates_deletes() {
        let mut c = conn();
        let n = snap("s1", json!({"strategy": "timestamp", "unique_key": "id", "updated_at": "u", "hard_deletes": "invalidate"}));
        let v1 = "select 1 as id, 'a' as v, timestamp '2020-01-01' as u union all select 2, 'b', timestamp '2020-01-01'";
        run(&mut c, &n, v1).expect("first");
        // A second run without changes changes nothing.
        run(&mut c, &n, v1).expect("same");
        assert_eq!(rows(&mut c, "select count(*) from main.s1"), vec![vec![json!(2)]]);
        run(&mut c, &n, "select 1 as id, 'A' as v, timestamp '2020-02-01' as u").expect("second");
        assert_eq!(
            rows(&mut c, "select id, v, cast(dbt_valid_from as varchar), cast(dbt_valid_to as varchar), dbt_valid_to > timestamp '2025-01-01' from main.s1 order by all"),
            vec![
                vec![json!(1), json!("A"), json!("2020-02-01 00:00:00"), Value::Null, Value::Null],
                vec![json!(1), json!("a"), json!("2020-01-01 00:00:00"), json!("2020-02-01 00:00:00"), json!(false)],
                // Deleted: closed at the snapshot's clock.
                vec![json!(2), json!("b"), json!("2020-01-01 00:00:00"), rows(&mut c, "select cast(dbt_valid_to as varchar) from main.s1 where id = 2")[0][0].clone(), json!(true)],
            ]
        );
        // dbt's scd id: md5 of key and updated_at text.
        assert_eq!(
            rows(&mut c, "select count(*) from main.s1 where dbt_scd_id = md5(cast(id as varchar) || '|' || cast(dbt_updated_at as varchar))"),
            vec![vec![json!(3)]]
        );
        assert_eq!(relations(&mut c), vec!["s1"]);
    }

    #[test]
    fn failed_snapshot_changes_nothing() {
        let mut c = conn();
        let n = snap("s2", json!({"strategy": "check", "unique_key": "id", "check_cols": ["v"]}));
        run(&mut c, &n, "select 1 as id, 'a' as v").expect("first");
        let before = rows(&mut c, "select * from main.s2");
        run(&mut c, &n, "select 1 as id, 'b' as v, cast('x' as integer) as broken").expect_err("cast fails");
        assert_eq!(rows(&mut c, "select * from main.s2"), before);
        assert_eq!(relations(&mut c), vec!["s2"]);
        c.execute("create view main.s3 as select 1 as id").expect("view");
        let n = snap("s3", json!({"strategy": "check", "unique_key": "id", "check_cols": "all"}));
        match run(&mut c, &n, "select 1 as id") {
            Err(super::super::MaterializeError::Diagnostic(d)) => assert!(d.message.contains("as a view"), "{}", d.message),
            other => panic!("unexpected {other:?}"),
        }
    }
}
