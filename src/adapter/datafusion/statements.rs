//! Statements DataFusion does not run itself, run on the store: schemas,
//! CREATE TABLE/VIEW, DROP, ALTER, INSERT, DELETE, UPDATE, MERGE and
//! transactions. Queries go to DataFusion.
//!
//! DELETE, UPDATE and MERGE number the target's rows (`__rdbt_row`), ask
//! DataFusion which rows the statement touches (and their new values) with
//! an ordinary query over that numbered copy, then build the new table
//! contents with Arrow kernels (filter, take, zip). Every statement keeps
//! DuckDB's meaning, including NULL handling: a row whose WHERE is NULL is
//! neither deleted nor updated.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, UInt32Array, UInt64Array};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, take};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::sql::sqlparser::ast::{
    AlterTableOperation, AssignmentTarget, ColumnDef, FromTable, MergeAction, MergeClauseKind, MergeInsertKind, ObjectName,
    ObjectType, RenameTableNameKind, SchemaName, Statement, TableFactor, TableObject, TableWithJoins, UpdateTableFromKind,
};

use super::store::{Entry, Op, Segment, TableData};
use super::{DataFusionConnection, Outcome, values};
use crate::adapter::{AdapterError, AdapterResult};

const ROW: &str = "__rdbt_row";
const SRC: &str = "__rdbt_src";

fn err(msg: impl Into<String>) -> AdapterError {
    AdapterError::new(msg)
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0.iter().map(|p| p.as_ident().map_or_else(|| p.to_string(), |i| i.value.clone())).collect()
}

/// The name parts of a table factor and, as SQL written the way the
/// statement wrote it (quoted or not, so that references to it normalise
/// alike), its alias or else its bare name.
fn factor_name(f: &TableFactor) -> Option<(Vec<String>, String)> {
    match f {
        TableFactor::Table { name, alias, .. } => {
            let p = parts(name);
            let a = alias.as_ref().map_or_else(|| name.0.last().map(ToString::to_string).unwrap_or_default(), |a| a.name.to_string());
            Some((p, a))
        }
        _ => None,
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn one_table(tables: &[TableWithJoins], what: &str) -> AdapterResult<(Vec<String>, String)> {
    match tables {
        [t] if t.joins.is_empty() => factor_name(&t.relation).ok_or_else(|| err(format!("{what}: the target must be a table"))),
        _ => Err(err(format!("{what} of several tables is not supported on DataFusion"))),
    }
}

/// `(column index, value SQL)` of each `SET column = value`.
fn assignments(table: &TableData, name: &str, list: &[datafusion::sql::sqlparser::ast::Assignment]) -> AdapterResult<Vec<(usize, String)>> {
    list.iter()
        .map(|a| {
            let AssignmentTarget::ColumnName(c) = &a.target else { return Err(err("UPDATE of a column tuple is not supported on DataFusion")) };
            let col = parts(c).pop().unwrap_or_default();
            let i = column_index(table, &col).ok_or_else(|| err(format!("Binder Error: Referenced update column {col} not found in table {name}!")))?;
            Ok((i, a.value.to_string()))
        })
        .collect()
}

/// The position of `column` (any case) in the table.
fn column_index(table: &TableData, column: &str) -> Option<usize> {
    table.schema.fields().iter().position(|f| f.name().eq_ignore_ascii_case(column))
}

/// Positions of the named columns (INSERT's column list), or all of them.
fn insert_targets(table: &TableData, name: &str, columns: &[ObjectName]) -> AdapterResult<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..table.schema.fields().len()).collect());
    }
    columns
        .iter()
        .map(|c| {
            let n = parts(c).pop().unwrap_or_default();
            column_index(table, &n).ok_or_else(|| err(format!("Binder Error: Table \"{name}\" does not have a column with name \"{n}\"")))
        })
        .collect()
}

impl DataFusionConnection {
    pub(crate) fn run_statement(&mut self, stmt: Statement) -> AdapterResult<Outcome> {
        match stmt {
            Statement::Query(_) => {
                let (schema, batches) = self.collect(stmt)?;
                Ok(Outcome::Rows(schema, batches))
            }
            Statement::StartTransaction { .. } => {
                crate::adapter::Connection::begin(self)?;
                Ok(Outcome::Done(None))
            }
            Statement::Commit { .. } => {
                crate::adapter::Connection::commit(self)?;
                Ok(Outcome::Done(None))
            }
            Statement::Rollback { .. } => {
                crate::adapter::Connection::rollback(self)?;
                Ok(Outcome::Done(None))
            }
            Statement::CreateSchema { schema_name, if_not_exists, .. } => {
                let name = match &schema_name {
                    SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => parts(n).pop().unwrap_or_default(),
                    SchemaName::UnnamedAuthorization(i) => i.value.clone(),
                };
                if self.state.schema_exists(&name) {
                    if if_not_exists {
                        return Ok(Outcome::Done(None));
                    }
                    return Err(err(format!("Catalog Error: Schema with name \"{name}\" already exists!")));
                }
                self.record(Op::CreateSchema(name))?;
                Ok(Outcome::Done(None))
            }
            Statement::CreateTable(ct) => {
                let (schema, name) = self.resolve(&parts(&ct.name))?;
                if self.state.lookup(&schema, &name).is_some() {
                    if ct.if_not_exists {
                        return Ok(Outcome::Done(None));
                    }
                    if !ct.or_replace {
                        return Err(err(format!("Catalog Error: Table with name \"{name}\" already exists!")));
                    }
                }
                self.require_schema(&schema)?;
                let (table_schema, batches) = match ct.query {
                    Some(q) => {
                        let (s, b) = self.collect(Statement::Query(q))?;
                        values::normalize(&s, b)?
                    }
                    None => (self.schema_of_columns(&ct.columns)?, Vec::new()),
                };
                let rows = batches.iter().map(|b| b.num_rows() as i64).sum();
                self.put_table(&schema, &name, table_schema, batches)?;
                Ok(Outcome::Done(Some(rows)))
            }
            Statement::CreateView(cv) => {
                let (schema, name) = self.resolve(&parts(&cv.name))?;
                if self.state.lookup(&schema, &name).is_some() && !cv.or_replace {
                    if cv.if_not_exists {
                        return Ok(Outcome::Done(None));
                    }
                    return Err(err(format!("Catalog Error: View with name \"{name}\" already exists!")));
                }
                self.require_schema(&schema)?;
                // Stored as DataFusion will plan it (types mapped, text casts).
                let mut query = Statement::Query(cv.query);
                super::prepare(&mut query);
                let sql = query.to_string();
                // A view reading itself would recurse without end when used.
                let mut self_reference = false;
                let _ = datafusion::sql::sqlparser::ast::visit_relations(&query, |r| {
                    if let Ok((s2, n2)) = self.resolve(&parts(r))
                        && s2.eq_ignore_ascii_case(&schema)
                        && n2.eq_ignore_ascii_case(&name)
                    {
                        self_reference = true;
                    }
                    std::ops::ControlFlow::<()>::Continue(())
                });
                if self_reference {
                    return Err(err(format!("Catalog Error: view \"{name}\" cannot read from itself")));
                }
                // Planned now so that a broken view fails where it is created.
                self.plan_schema(query)?;
                self.record(Op::Put { schema, name, entry: Entry::View(Arc::new(sql)) })?;
                Ok(Outcome::Done(None))
            }
            Statement::Drop { object_type, if_exists, names, cascade, .. } => {
                for n in &names {
                    let p = parts(n);
                    if object_type == ObjectType::Schema {
                        let s = p.last().cloned().unwrap_or_default();
                        if !self.state.schema_exists(&s) {
                            if if_exists {
                                continue;
                            }
                            return Err(err(format!("Catalog Error: Schema with name {s} does not exist!")));
                        }
                        if !cascade && !self.state.relations(&s).is_empty() {
                            return Err(err(format!(
                                "Dependency Error: Cannot drop schema \"{s}\" because there are entries that depend on it (use DROP SCHEMA … CASCADE)"
                            )));
                        }
                        self.record(Op::DropSchema(s))?;
                        continue;
                    }
                    let (schema, name) = self.resolve(&p)?;
                    match self.state.lookup(&schema, &name) {
                        None if if_exists => {}
                        None => return Err(err(format!("Catalog Error: Table with name {name} does not exist!"))),
                        Some(r) => {
                            let wanted = match object_type {
                                ObjectType::Table => Some(crate::adapter::RelationKind::Table),
                                ObjectType::View => Some(crate::adapter::RelationKind::View),
                                _ => None,
                            };
                            if let Some(k) = wanted
                                && k != r.entry.kind()
                            {
                                return Err(err(format!(
                                    "Catalog Error: Existing object {name} is of type {}, trying to drop type {}",
                                    r.entry.kind().as_str(),
                                    k.as_str()
                                )));
                            }
                            self.record(Op::Remove { schema, name })?;
                        }
                    }
                }
                Ok(Outcome::Done(None))
            }
            Statement::AlterTable(at) => {
                let (schema, name) = self.resolve(&parts(&at.name))?;
                for op in at.operations {
                    self.alter(&schema, &name, op)?;
                }
                Ok(Outcome::Done(None))
            }
            Statement::Insert(ins) => self.insert(ins),
            Statement::Delete(d) => self.delete(d),
            Statement::Update(u) => self.update(u),
            Statement::Merge(m) => self.merge(m),
            // Comments are documentation; DataFusion keeps none.
            Statement::Comment { .. } => Ok(Outcome::Done(None)),
            other => {
                let text = other.to_string();
                let head: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                Err(err(format!("rdbt's DataFusion engine does not run `{head}` statements")))
            }
        }
    }

    fn require_schema(&self, schema: &str) -> AdapterResult<()> {
        if self.state.schema_exists(schema) {
            Ok(())
        } else {
            Err(err(format!("Catalog Error: Schema with name {schema} does not exist!")))
        }
    }

    /// The table `schema.name`, or an error naming what is there instead.
    pub(crate) fn table(&self, schema: &str, name: &str) -> AdapterResult<Arc<TableData>> {
        match self.state.lookup(schema, name).map(|r| r.entry) {
            Some(Entry::Table(t)) => Ok(t),
            Some(Entry::View(_)) => Err(err(format!("Catalog Error: {name} is a view, not a table"))),
            None => Err(err(format!("Catalog Error: Table with name {name} does not exist!"))),
        }
    }

    fn put_table(&mut self, schema: &str, name: &str, table_schema: SchemaRef, batches: Vec<RecordBatch>) -> AdapterResult<()> {
        let entry = Entry::Table(Arc::new(TableData { schema: table_schema, segments: vec![Arc::new(Segment::in_memory(batches))] }));
        self.record(Op::Put { schema: schema.to_string(), name: name.to_string(), entry })
    }

    /// Adds `batches` (already of the table's schema) as a new segment.
    /// Every `MAX_SEGMENTS` appends (an ingest appends page by page) the
    /// segments are merged into one, so that a table is never thousands of
    /// small Parquet files.
    pub(crate) fn append(&mut self, schema: &str, name: &str, table: &TableData, batches: Vec<RecordBatch>) -> AdapterResult<()> {
        const MAX_SEGMENTS: usize = 32;
        let mut segments = table.segments.clone();
        if segments.len() + 1 >= MAX_SEGMENTS {
            let mut all = Vec::new();
            for seg in &table.segments {
                all.extend(self.state.store.batches(seg)?.iter().cloned());
            }
            all.extend(batches);
            let merged = concat_batches(&table.schema, &all).map_err(|e| err(e.to_string()))?;
            segments = vec![Arc::new(Segment::in_memory(vec![merged]))];
        } else {
            segments.push(Arc::new(Segment::in_memory(batches)));
        }
        let entry = Entry::Table(Arc::new(TableData { schema: table.schema.clone(), segments }));
        self.record(Op::Put { schema: schema.to_string(), name: name.to_string(), entry })
    }

    /// All rows of a table in one batch.
    fn table_batch(&self, table: &TableData) -> AdapterResult<RecordBatch> {
        let mut all = Vec::new();
        for seg in &table.segments {
            all.extend(self.state.store.batches(seg)?.iter().cloned());
        }
        concat_batches(&table.schema, &all).map_err(|e| err(e.to_string()))
    }

    fn schema_of_columns(&self, columns: &[ColumnDef]) -> AdapterResult<SchemaRef> {
        if columns.is_empty() {
            return Err(err("Parser Error: a table needs at least one column"));
        }
        let select: Vec<String> = columns
            .iter()
            .map(|c| {
                let t = super::storage_sql_type(&c.data_type).unwrap_or_else(|| c.data_type.clone());
                format!("CAST(NULL AS {t}) AS {}", quoted(&c.name.value))
            })
            .collect();
        let schema = self.plan_schema(super::parse(&format!("SELECT {}", select.join(", ")))?.remove(0))?;
        let fields: Vec<Field> = schema.fields().iter().map(|f| Field::new(f.name(), values::storage_type(f.data_type()), true)).collect();
        Ok(Arc::new(Schema::new(fields)))
    }

    /// Registers a statement-local table visible to the next queries.
    fn scratch(&self, name: &str, batch: RecordBatch) -> AdapterResult<()> {
        let t = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(super::df_err)?;
        self.state.txn().scratch.insert(name.to_string(), Arc::new(t));
        Ok(())
    }

    fn clear_scratch(&self) {
        self.state.txn().scratch.clear();
    }

    /// The table's rows with a row number column appended.
    fn numbered(&self, table: &TableData, column: &str) -> AdapterResult<RecordBatch> {
        let b = self.table_batch(table)?;
        with_row_numbers(&b, column)
    }

    fn alter(&mut self, schema: &str, name: &str, op: AlterTableOperation) -> AdapterResult<()> {
        let table = self.table(schema, name)?;
        if let AlterTableOperation::RenameTable { table_name } = &op {
            let to = match table_name {
                RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => parts(n).pop().unwrap_or_default(),
            };
            let rel = crate::adapter::Relation::new(self.state.database.clone(), schema, name);
            return crate::adapter::Connection::rename_relation(self, &rel, crate::adapter::RelationKind::Table, &to);
        }
        // The other changes rewrite the rows.
        let batch = self.table_batch(&table)?;
        let (new_schema, new_batch) = match op {
            AlterTableOperation::AddColumn { column_def, if_not_exists, .. } => {
                if table.schema.fields().iter().any(|f| f.name().eq_ignore_ascii_case(&column_def.name.value)) {
                    if if_not_exists {
                        return Ok(());
                    }
                    return Err(err(format!("Catalog Error: Column with name {} already exists!", column_def.name.value)));
                }
                let added = self.schema_of_columns(std::slice::from_ref(&column_def))?;
                let mut fields: Vec<Field> = table.schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.push(added.field(0).clone());
                let s: SchemaRef = Arc::new(Schema::new(fields));
                let mut sources: Vec<Option<usize>> = (0..batch.num_columns()).map(Some).collect();
                sources.push(None);
                let b = values::cast_batch(&batch, &s, &sources)?;
                (s, b)
            }
            AlterTableOperation::DropColumn { column_names, if_exists, .. } => {
                let mut keep: Vec<usize> = (0..table.schema.fields().len()).collect();
                for c in &column_names {
                    match column_index(&table, &c.value) {
                        Some(i) => keep.retain(|k| *k != i),
                        None if if_exists => {}
                        None => return Err(err(format!("Catalog Error: table {name} does not have a column named \"{}\"", c.value))),
                    }
                }
                if keep.is_empty() {
                    return Err(err("Catalog Error: cannot drop every column of a table"));
                }
                let b = batch.project(&keep).map_err(|e| err(e.to_string()))?;
                (b.schema(), b)
            }
            AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                let Some(i) = column_index(&table, &old_column_name.value) else {
                    return Err(err(format!("Catalog Error: table {name} does not have a column named \"{}\"", old_column_name.value)));
                };
                let mut fields: Vec<Field> = table.schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                fields[i] = fields[i].clone().with_name(new_column_name.value.clone());
                let s: SchemaRef = Arc::new(Schema::new(fields));
                let b = RecordBatch::try_new(s.clone(), batch.columns().to_vec()).map_err(|e| err(e.to_string()))?;
                (s, b)
            }
            other => return Err(err(format!("rdbt's DataFusion engine does not run `ALTER TABLE … {other}`"))),
        };
        self.put_table(schema, name, new_schema, vec![new_batch])
    }

    fn insert(&mut self, ins: datafusion::sql::sqlparser::ast::Insert) -> AdapterResult<Outcome> {
        let TableObject::TableName(tname) = &ins.table else { return Err(err("INSERT INTO a table function is not supported")) };
        let (schema, name) = self.resolve(&parts(tname))?;
        let table = self.table(&schema, &name)?;
        if ins.on.is_some() || ins.returning.is_some() {
            return Err(err("INSERT … ON CONFLICT / RETURNING is not supported on DataFusion"));
        }
        let Some(source) = ins.source else { return Err(err("INSERT without a query or VALUES is not supported on DataFusion")) };
        // VALUES rows take the table's column types, as DuckDB's do.
        let (qschema, batches) = self.collect(Statement::Query(source))?;
        let targets = insert_targets(&table, &name, &ins.columns)?;
        if qschema.fields().len() != targets.len() {
            return Err(err(format!(
                "Binder Error: table {name} has {} columns but {} values were supplied",
                targets.len(),
                qschema.fields().len()
            )));
        }
        let mut sources = vec![None; table.schema.fields().len()];
        for (qi, ti) in targets.iter().enumerate() {
            sources[*ti] = Some(qi);
        }
        let mut out = Vec::with_capacity(batches.len());
        let mut rows = 0i64;
        for b in &batches {
            rows += b.num_rows() as i64;
            out.push(values::cast_batch(b, &table.schema, &sources)?);
        }
        self.append(&schema, &name, &table, out)?;
        Ok(Outcome::Done(Some(rows)))
    }

    fn delete(&mut self, d: datafusion::sql::sqlparser::ast::Delete) -> AdapterResult<Outcome> {
        let tables = match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
        };
        if d.returning.is_some() || !d.tables.is_empty() {
            return Err(err("DELETE … RETURNING and multi-table DELETE are not supported on DataFusion"));
        }
        let (p, alias) = one_table(tables, "DELETE")?;
        let (schema, name) = self.resolve(&p)?;
        let table = self.table(&schema, &name)?;
        let Some(selection) = d.selection else {
            let rows = table.rows() as i64;
            self.put_table(&schema, &name, table.schema.clone(), Vec::new())?;
            return Ok(Outcome::Done(Some(rows)));
        };
        let numbered = self.numbered(&table, ROW)?;
        self.scratch("__rdbt_target", numbered.clone())?;
        let using = d.using.as_ref().map(|u| format!(", {}", u.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))).unwrap_or_default();
        let a = &alias;
        let hits = self.row_ids(&format!("SELECT {a}.{ROW} FROM __rdbt_target AS {a}{using} WHERE {selection}"));
        self.clear_scratch();
        let hits = hits?;
        let keep: BooleanArray = (0..numbered.num_rows()).map(|i| Some(!hits.contains_key(&(i as u64)))).collect();
        let kept = filter_record_batch(&numbered, &keep).map_err(|e| err(e.to_string()))?;
        let kept = drop_last_column(&kept)?;
        let rows = (numbered.num_rows() - kept.num_rows()) as i64;
        self.put_table(&schema, &name, table.schema.clone(), vec![kept])?;
        Ok(Outcome::Done(Some(rows)))
    }

    /// Row numbers (first column of the query) → index of their first
    /// result row.
    fn row_ids(&self, sql: &str) -> AdapterResult<HashMap<u64, usize>> {
        let (_, batches) = self.collect_sql(sql)?;
        let mut out = HashMap::new();
        let mut offset = 0usize;
        for b in &batches {
            let ids = b.column(0).as_primitive::<UInt64Type>();
            for i in 0..ids.len() {
                out.entry(ids.value(i)).or_insert(offset + i);
            }
            offset += b.num_rows();
        }
        Ok(out)
    }

    fn update(&mut self, u: datafusion::sql::sqlparser::ast::Update) -> AdapterResult<Outcome> {
        if u.returning.is_some() {
            return Err(err("UPDATE … RETURNING is not supported on DataFusion"));
        }
        let (p, alias) = one_table(std::slice::from_ref(&u.table), "UPDATE")?;
        let (schema, name) = self.resolve(&p)?;
        let table = self.table(&schema, &name)?;
        let assigned = assignments(&table, &name, &u.assignments)?;
        let from = match &u.from {
            Some(UpdateTableFromKind::BeforeSet(t)) | Some(UpdateTableFromKind::AfterSet(t)) => {
                format!(", {}", t.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
            }
            None => String::new(),
        };
        let filter = u.selection.as_ref().map(|s| format!(" WHERE {s}")).unwrap_or_default();
        let numbered = self.numbered(&table, ROW)?;
        self.scratch("__rdbt_target", numbered.clone())?;
        let a = &alias;
        let exprs: Vec<String> = assigned.iter().enumerate().map(|(k, (_, e))| format!("{e} AS __rdbt_v{k}")).collect();
        let sql = format!("SELECT {a}.{ROW}, {} FROM __rdbt_target AS {a}{from}{filter}", exprs.join(", "));
        let result = self.collect_sql(&sql);
        self.clear_scratch();
        let (rschema, rbatches) = result?;
        let updates = concat_batches(&rschema, &rbatches).map_err(|e| err(e.to_string()))?;
        let base = drop_last_column(&numbered)?;
        let columns: Vec<(usize, usize)> = assigned.iter().enumerate().map(|(k, (i, _))| (*i, k + 1)).collect();
        let (new, n) = apply_updates(&base, &updates, &columns, &table.schema)?;
        self.put_table(&schema, &name, table.schema.clone(), vec![new])?;
        Ok(Outcome::Done(Some(n as i64)))
    }

    fn merge(&mut self, m: datafusion::sql::sqlparser::ast::Merge) -> AdapterResult<Outcome> {
        let (p, alias) = factor_name(&m.table).ok_or_else(|| err("MERGE: the target must be a table"))?;
        let (schema, name) = self.resolve(&p)?;
        let table = self.table(&schema, &name)?;
        let (matched, not_matched) = {
            let mut matched = None;
            let mut not_matched = None;
            for c in &m.clauses {
                let slot = match c.clause_kind {
                    MergeClauseKind::Matched => &mut matched,
                    MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget => &mut not_matched,
                    MergeClauseKind::NotMatchedBySource => return Err(err("MERGE … WHEN NOT MATCHED BY SOURCE is not supported on DataFusion")),
                };
                if slot.is_some() {
                    return Err(err("MERGE with two WHEN MATCHED (or two WHEN NOT MATCHED) clauses is not supported on DataFusion"));
                }
                *slot = Some(c);
            }
            (matched, not_matched)
        };
        // The source, materialized and numbered, under its alias.
        let (src_alias, src_sql) = match &m.source {
            TableFactor::Table { name, alias, .. } => {
                (alias.as_ref().map_or_else(|| name.0.last().map(ToString::to_string).unwrap_or_default(), |a| a.name.to_string()), format!("SELECT * FROM {name}"))
            }
            TableFactor::Derived { subquery, alias, .. } => {
                (alias.as_ref().map(|a| a.name.to_string()).unwrap_or_else(|| "__rdbt_source".into()), subquery.to_string())
            }
            other => return Err(err(format!("MERGE source {other} is not supported on DataFusion"))),
        };
        let (sschema, sbatches) = self.collect_sql(&src_sql)?;
        let source = with_row_numbers(&concat_batches(&sschema, &sbatches).map_err(|e| err(e.to_string()))?, SRC)?;
        let numbered = self.numbered(&table, ROW)?;
        self.scratch("__rdbt_target", numbered.clone())?;
        self.scratch("__rdbt_source", source.clone())?;
        let (t, s) = (&alias, &src_alias);
        let on = &m.on;
        let result = (|| -> AdapterResult<(RecordBatch, Vec<RecordBatch>, usize)> {
            // Source rows with a match in the target get no INSERT.
            let matched_src = self.row_ids(&format!(
                "SELECT {s}.{SRC} FROM __rdbt_target AS {t} JOIN __rdbt_source AS {s} ON ({on})"
            ))?;
            let base = drop_last_column(&numbered)?;
            let mut affected = 0usize;
            let mut current = base;
            if let Some(c) = matched {
                let pred = c.predicate.as_ref().map(|p| format!(" WHERE {p}")).unwrap_or_default();
                match &c.action {
                    MergeAction::Update(upd) => {
                        let assigned = assignments(&table, &name, &upd.assignments)?;
                        let exprs: Vec<String> = assigned.iter().enumerate().map(|(k, (_, e))| format!("{e} AS __rdbt_v{k}")).collect();
                        let sql = format!(
                            "SELECT {t}.{ROW}, {} FROM __rdbt_target AS {t} JOIN __rdbt_source AS {s} ON ({on}){pred}",
                            exprs.join(", ")
                        );
                        let (us, ub) = self.collect_sql(&sql)?;
                        let updates = concat_batches(&us, &ub).map_err(|e| err(e.to_string()))?;
                        let columns: Vec<(usize, usize)> = assigned.iter().enumerate().map(|(k, (i, _))| (*i, k + 1)).collect();
                        let (new, n) = apply_updates(&current, &updates, &columns, &table.schema)?;
                        current = new;
                        affected += n;
                    }
                    MergeAction::Delete { .. } => {
                        let hits = self.row_ids(&format!("SELECT {t}.{ROW} FROM __rdbt_target AS {t} JOIN __rdbt_source AS {s} ON ({on}){pred}"))?;
                        let keep: BooleanArray = (0..current.num_rows()).map(|i| Some(!hits.contains_key(&(i as u64)))).collect();
                        affected += hits.len();
                        current = filter_record_batch(&current, &keep).map_err(|e| err(e.to_string()))?;
                    }
                    MergeAction::Insert(_) => return Err(err("WHEN MATCHED THEN INSERT is not valid")),
                }
            }
            let mut inserted = Vec::new();
            if let Some(c) = not_matched {
                let MergeAction::Insert(ins) = &c.action else { return Err(err("WHEN NOT MATCHED takes INSERT")) };
                let keep: BooleanArray = (0..source.num_rows()).map(|i| Some(!matched_src.contains_key(&(i as u64)))).collect();
                let unmatched = filter_record_batch(&source, &keep).map_err(|e| err(e.to_string()))?;
                self.scratch("__rdbt_source", unmatched)?;
                let targets = insert_targets(&table, &name, &ins.columns)?;
                let exprs: Vec<String> = match &ins.kind {
                    MergeInsertKind::Values(v) if v.rows.len() == 1 => v.rows[0].content.iter().map(ToString::to_string).collect(),
                    MergeInsertKind::Values(_) => return Err(err("MERGE INSERT takes one row of VALUES")),
                    MergeInsertKind::Row => return Err(err("MERGE INSERT ROW is not supported on DataFusion")),
                };
                if exprs.len() != targets.len() {
                    return Err(err(format!("MERGE INSERT names {} columns but gives {} values", targets.len(), exprs.len())));
                }
                let pred = c.predicate.as_ref().map(|p| format!(" WHERE {p}")).unwrap_or_default();
                let sql = format!("SELECT {} FROM __rdbt_source AS {s}{pred}", exprs.iter().enumerate().map(|(k, e)| format!("{e} AS __rdbt_v{k}")).collect::<Vec<_>>().join(", "));
                let (_, ib) = self.collect_sql(&sql)?;
                let mut sources = vec![None; table.schema.fields().len()];
                for (k, ti) in targets.iter().enumerate() {
                    sources[*ti] = Some(k);
                }
                for b in &ib {
                    affected += b.num_rows();
                    inserted.push(values::cast_batch(b, &table.schema, &sources)?);
                }
            }
            Ok((current, inserted, affected))
        })();
        self.clear_scratch();
        let (current, inserted, affected) = result?;
        let mut batches = vec![current];
        batches.extend(inserted);
        self.put_table(&schema, &name, table.schema.clone(), batches)?;
        Ok(Outcome::Done(Some(affected as i64)))
    }
}

fn with_row_numbers(b: &RecordBatch, column: &str) -> AdapterResult<RecordBatch> {
    let ids: ArrayRef = Arc::new(UInt64Array::from_iter_values(0..b.num_rows() as u64));
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(column, DataType::UInt64, false));
    let mut cols = b.columns().to_vec();
    cols.push(ids);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| err(e.to_string()))
}

fn drop_last_column(b: &RecordBatch) -> AdapterResult<RecordBatch> {
    let keep: Vec<usize> = (0..b.num_columns() - 1).collect();
    b.project(&keep).map_err(|e| err(e.to_string()))
}

/// `base` with the rows named in `updates` (row number in column 0, new
/// values in the listed columns) replaced; the first update of a row wins.
fn apply_updates(base: &RecordBatch, updates: &RecordBatch, columns: &[(usize, usize)], schema: &SchemaRef) -> AdapterResult<(RecordBatch, usize)> {
    let ids = updates.column(0).as_primitive::<UInt64Type>();
    let mut first: HashMap<u64, u32> = HashMap::new();
    for i in 0..ids.len() {
        first.entry(ids.value(i)).or_insert(i as u32);
    }
    let index: UInt32Array = (0..base.num_rows() as u64).map(|r| first.get(&r).copied()).collect();
    let mask: BooleanArray = (0..base.num_rows() as u64).map(|r| Some(first.contains_key(&r))).collect();
    let mut cols = base.columns().to_vec();
    for (target, from) in columns {
        let field = schema.field(*target);
        let values = updates.column(*from);
        let values = if values.data_type() == field.data_type() {
            values.clone()
        } else {
            datafusion::arrow::compute::cast_with_options(values, field.data_type(), &datafusion::arrow::compute::CastOptions { safe: false, ..Default::default() })
                .map_err(|e| err(format!("Conversion Error: cannot cast the new value of \"{}\" to {}: {e}", field.name(), values::type_name(field.data_type()))))?
        };
        let aligned = take(values.as_ref(), &index, None).map_err(|e| err(e.to_string()))?;
        cols[*target] = zip(&mask, &aligned, &cols[*target]).map_err(|e| err(e.to_string()))?;
    }
    let b = RecordBatch::try_new(schema.clone(), cols).map_err(|e| err(e.to_string()))?;
    Ok((b, first.len()))
}
