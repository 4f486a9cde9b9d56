//! A dbt-style relation cache. Asking the engine's catalog whether a
//! relation exists costs O(relations) in DuckDB (information_schema and
//! duckdb_tables() scan every entry), which made a 1,000-model build spend
//! most of its time in catalog scans. The cache lists each schema once and
//! is then kept current from the DDL the connections execute; statements it
//! cannot classify invalidate it.

use std::collections::HashMap;

use super::RelationKind;

type SchemaKey = (String, String);

#[derive(Debug, Default)]
pub struct RelationCache {
    /// Loaded schemas: (database, schema) → identifier → kind, lowercased.
    schemas: HashMap<SchemaKey, HashMap<String, RelationKind>>,
}

/// How a statement changes the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOp {
    Set { database: String, schema: String, name: String, kind: Option<RelationKind> },
    Rename { database: String, schema: String, from: String, to: String },
    DropSchema { database: String, schema: String },
    InvalidateAll,
}

fn key(database: &str, schema: &str) -> SchemaKey {
    (database.to_lowercase(), schema.to_lowercase())
}

impl RelationCache {
    /// `Some(kind)` when the schema is loaded (`kind` None: no such relation).
    pub fn get(&self, database: &str, schema: &str, name: &str) -> Option<Option<RelationKind>> {
        self.schemas.get(&key(database, schema)).map(|m| m.get(&name.to_lowercase()).copied())
    }

    pub fn load_schema(&mut self, database: &str, schema: &str, entries: impl IntoIterator<Item = (String, RelationKind)>) {
        let map = entries.into_iter().map(|(n, k)| (n.to_lowercase(), k)).collect();
        self.schemas.insert(key(database, schema), map);
    }

    pub fn apply(&mut self, op: &CacheOp) {
        match op {
            CacheOp::Set { database, schema, name, kind } => {
                if let Some(m) = self.schemas.get_mut(&key(database, schema)) {
                    match kind {
                        Some(k) => {
                            m.insert(name.to_lowercase(), *k);
                        }
                        None => {
                            m.remove(&name.to_lowercase());
                        }
                    }
                }
            }
            CacheOp::Rename { database, schema, from, to } => {
                if let Some(m) = self.schemas.get_mut(&key(database, schema)) {
                    match m.remove(&from.to_lowercase()) {
                        Some(k) => {
                            m.insert(to.to_lowercase(), k);
                        }
                        // Unknown source: the listing is stale.
                        None => {
                            self.schemas.remove(&key(database, schema));
                        }
                    }
                }
            }
            CacheOp::DropSchema { database, schema } => {
                self.schemas.remove(&key(database, schema));
            }
            CacheOp::InvalidateAll => self.schemas.clear(),
        }
    }
}

/// Answer from a connection's own uncommitted operations (newest first), if
/// they decide it; `Err(())` when they invalidate the cache.
pub fn pending_answer(pending: &[CacheOp], database: &str, schema: &str, name: &str) -> Result<Option<Option<RelationKind>>, ()> {
    for op in pending.iter().rev() {
        let same = |d: &str, s: &str| d.eq_ignore_ascii_case(database) && s.eq_ignore_ascii_case(schema);
        match op {
            CacheOp::InvalidateAll => return Err(()),
            CacheOp::DropSchema { database: d, schema: s } if same(d, s) => return Ok(Some(None)),
            CacheOp::Set { database: d, schema: s, name: n, kind } if same(d, s) && n.eq_ignore_ascii_case(name) => return Ok(Some(*kind)),
            CacheOp::Rename { database: d, schema: s, from, .. } if same(d, s) && from.eq_ignore_ascii_case(name) => return Ok(Some(None)),
            // A relation renamed *to* this name: its kind is not recorded here.
            CacheOp::Rename { database: d, schema: s, to, .. } if same(d, s) && to.eq_ignore_ascii_case(name) => return Err(()),
            _ => {}
        }
    }
    Ok(None)
}

/// Splits SQL into statements on `;` outside quotes and comments.
fn statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut start) = (0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                out.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&sql[start.min(sql.len())..]);
    out
}

/// Words and (possibly quoted, dotted) names of a statement, comments skipped.
fn tokens(stmt: &str) -> Vec<String> {
    let b = stmt.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < 12 {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if c == b'"' || c.is_ascii_alphanumeric() || c == b'_' {
            // A name: parts joined by '.', each bare or "quoted" ("" escapes).
            let mut tok = String::new();
            loop {
                if i < b.len() && b[i] == b'"' {
                    tok.push('"');
                    i += 1;
                    while i < b.len() {
                        if b[i] == b'"' {
                            if b.get(i + 1) == Some(&b'"') {
                                tok.push_str("\"\"");
                                i += 2;
                                continue;
                            }
                            break;
                        }
                        let ch_len = stmt[i..].chars().next().map_or(1, char::len_utf8);
                        tok.push_str(&stmt[i..i + ch_len]);
                        i += ch_len;
                    }
                    tok.push('"');
                    i += 1;
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                        tok.push(b[i] as char);
                        i += 1;
                    }
                }
                if i < b.len() && b[i] == b'.' {
                    tok.push('.');
                    i += 1;
                    continue;
                }
                break;
            }
            out.push(tok);
        } else {
            out.push((c as char).to_string());
            i += 1;
        }
    }
    out
}

/// Parts of a dotted name, unquoted.
fn name_parts(tok: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let chars: Vec<char> = tok.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            if quoted && chars.get(i + 1) == Some(&'"') {
                cur.push('"');
                i += 2;
                continue;
            }
            quoted = !quoted;
        } else if c == '.' && !quoted {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
        i += 1;
    }
    parts.push(cur);
    parts
}

/// The cache effect of `sql` (any number of statements).
pub fn ops_for_sql(sql: &str) -> Vec<CacheOp> {
    let mut ops = Vec::new();
    for stmt in statements(sql) {
        let t = tokens(stmt);
        let lower: Vec<String> = t.iter().map(|s| s.to_ascii_lowercase()).collect();
        let w = |i: usize| lower.get(i).map(String::as_str).unwrap_or("");
        let qualified = |tok: &str| -> Option<(String, String, String)> {
            match name_parts(tok).as_slice() {
                [d, s, n] => Some((d.clone(), s.clone(), n.clone())),
                _ => None,
            }
        };
        match w(0) {
            "create" => {
                let mut i = 1;
                if w(i) == "or" && w(i + 1) == "replace" {
                    i += 2;
                }
                if matches!(w(i), "temp" | "temporary") {
                    continue;
                }
                let kind = match w(i) {
                    "table" => RelationKind::Table,
                    "view" => RelationKind::View,
                    "schema" | "macro" | "function" | "sequence" | "type" | "index" | "unique" | "secret" | "persistent" => continue,
                    _ => {
                        ops.push(CacheOp::InvalidateAll);
                        continue;
                    }
                };
                i += 1;
                if w(i) == "if" && w(i + 1) == "not" && w(i + 2) == "exists" {
                    i += 3;
                }
                match t.get(i).and_then(|n| qualified(n)) {
                    Some((database, schema, name)) => ops.push(CacheOp::Set { database, schema, name, kind: Some(kind) }),
                    None => ops.push(CacheOp::InvalidateAll),
                }
            }
            "drop" => {
                let mut i = 2;
                match w(1) {
                    "table" | "view" => {
                        if w(i) == "if" && w(i + 1) == "exists" {
                            i += 2;
                        }
                        match t.get(i).and_then(|n| qualified(n)) {
                            Some((database, schema, name)) => ops.push(CacheOp::Set { database, schema, name, kind: None }),
                            None => ops.push(CacheOp::InvalidateAll),
                        }
                    }
                    "macro" | "function" | "sequence" | "type" | "index" | "secret" => {}
                    _ => ops.push(CacheOp::InvalidateAll),
                }
            }
            "alter" => {
                if !matches!(w(1), "table" | "view") {
                    ops.push(CacheOp::InvalidateAll);
                    continue;
                }
                let mut i = 2;
                if w(i) == "if" && w(i + 1) == "exists" {
                    i += 2;
                }
                let target = t.get(i).and_then(|n| qualified(n));
                if w(i + 1) == "rename" && w(i + 2) == "to" {
                    match (target, t.get(i + 3).map(|n| name_parts(n))) {
                        (Some((database, schema, from)), Some(to)) if to.len() == 1 => {
                            ops.push(CacheOp::Rename { database, schema, from, to: to[0].clone() })
                        }
                        _ => ops.push(CacheOp::InvalidateAll),
                    }
                } else if lower.iter().any(|x| x == "schema") || target.is_none() {
                    ops.push(CacheOp::InvalidateAll);
                }
            }
            "attach" | "detach" | "use" | "import" | "load" => ops.push(CacheOp::InvalidateAll),
            _ => {}
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(d: &str, s: &str, n: &str, kind: Option<RelationKind>) -> CacheOp {
        CacheOp::Set { database: d.into(), schema: s.into(), name: n.into(), kind }
    }

    #[test]
    fn classifies_ddl() {
        assert_eq!(ops_for_sql("CREATE TABLE \"db\".\"main\".\"t__dbt_tmp\" AS (\nselect ';' as x\n)"), vec![set("db", "main", "t__dbt_tmp", Some(RelationKind::Table))]);
        assert_eq!(ops_for_sql("create or replace view db.main.v as select 1"), vec![set("db", "main", "v", Some(RelationKind::View))]);
        assert_eq!(ops_for_sql("DROP VIEW IF EXISTS \"db\".\"main\".\"v\" CASCADE"), vec![set("db", "main", "v", None)]);
        assert_eq!(
            ops_for_sql("ALTER TABLE \"db\".\"main\".\"t\" RENAME TO \"t__dbt_backup\""),
            vec![CacheOp::Rename { database: "db".into(), schema: "main".into(), from: "t".into(), to: "t__dbt_backup".into() }]
        );
        assert!(ops_for_sql("-- c\ninsert into db.main.t select 1; select 2").is_empty());
        assert!(ops_for_sql("create temp table x as select 1").is_empty());
        assert_eq!(ops_for_sql("create table t as select 1"), vec![CacheOp::InvalidateAll]);
        assert_eq!(ops_for_sql("drop schema s cascade"), vec![CacheOp::InvalidateAll]);
        assert_eq!(ops_for_sql("alter table \"db\".\"main\".\"t\" add column y int"), vec![]);
    }

    #[test]
    fn applies_ops_to_loaded_schemas() {
        let mut c = RelationCache::default();
        assert_eq!(c.get("db", "main", "t"), None);
        c.load_schema("DB", "Main", vec![("T".to_string(), RelationKind::Table)]);
        assert_eq!(c.get("db", "main", "t"), Some(Some(RelationKind::Table)));
        c.apply(&CacheOp::Rename { database: "db".into(), schema: "main".into(), from: "t".into(), to: "t2".into() });
        assert_eq!(c.get("db", "main", "t"), Some(None));
        assert_eq!(c.get("db", "main", "t2"), Some(Some(RelationKind::Table)));
        c.apply(&CacheOp::InvalidateAll);
        assert_eq!(c.get("db", "main", "t2"), None);
    }

    #[test]
    fn pending_ops_decide_first() {
        let pending = vec![set("db", "main", "t", Some(RelationKind::View))];
        assert_eq!(pending_answer(&pending, "db", "main", "t"), Ok(Some(Some(RelationKind::View))));
        assert_eq!(pending_answer(&pending, "db", "main", "u"), Ok(None));
        assert_eq!(pending_answer(&[CacheOp::InvalidateAll], "db", "main", "u"), Err(()));
    }
}
