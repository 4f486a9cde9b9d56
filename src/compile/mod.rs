//! Execute-render of selected nodes with the full context: `ref`/`source`
//! resolve to relations, ephemeral models become injected CTEs, hooks are
//! rendered, generic tests call their test macro with rendered arguments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Value};

use crate::adapter::Relation;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::jinja::objects::SharedConnection;
use crate::jinja::{self, Globals, JinjaEnv, NodeCtx, Phase, ResolvedRef, Resolver};
use crate::manifest::{Manifest, Node, RefCall};

/// A node's SQL after execute-rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledNode {
    pub unique_id: String,
    /// The final SQL, with ephemeral CTEs injected.
    pub compiled_sql: String,
    /// Ephemeral models injected, as (unique_id, CTE SQL).
    pub extra_ctes: Vec<(String, String)>,
    pub pre_hooks: Vec<String>,
    pub post_hooks: Vec<String>,
    /// `config()` calls made while rendering at execution (a generic test
    /// macro's own `config(fail_calc=...)`); they apply on top of the node's.
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// Resolves refs against the manifest (same rules as the parser).
pub struct ManifestResolver {
    manifest: Arc<Manifest>,
    by_name: HashMap<String, Vec<String>>,
    root: String,
}

impl ManifestResolver {
    pub fn new(manifest: Arc<Manifest>) -> ManifestResolver {
        let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
        for n in manifest.nodes.values() {
            if n.resource_type.is_refable() {
                by_name.entry(n.name.clone()).or_default().push(n.unique_id.clone());
            }
        }
        let root = manifest.project_name.clone();
        ManifestResolver { manifest, by_name, root }
    }

    pub fn find(&self, from_package: &str, call: &RefCall) -> Option<&Node> {
        let ids = self.by_name.get(&call.name)?;
        let nodes: Vec<&Node> = ids.iter().filter_map(|i| self.manifest.nodes.get(i).map(|n| &**n)).filter(|n| call.version.is_none() || n.version == call.version).collect();
        let pick = |p: &str| nodes.iter().copied().find(|n| n.package_name == p);
        match &call.package {
            Some(p) => pick(p),
            None => pick(from_package).or_else(|| pick(&self.root)).or_else(|| nodes.first().copied()),
        }
    }
}

impl Resolver for ManifestResolver {
    fn resolve_ref(&self, from_package: &str, call: &RefCall) -> Result<ResolvedRef, String> {
        let node = self.find(from_package, call).ok_or_else(|| format!("ref('{}') does not name a model, seed or snapshot", call.name))?;
        if node.is_ephemeral() {
            return Ok(ResolvedRef::Ephemeral { unique_id: node.unique_id.clone(), cte_name: format!("__dbt__cte__{}", node.name) });
        }
        Ok(ResolvedRef::Relation(Relation::new(node.database.clone(), node.schema.clone(), node.alias.clone())))
    }
    fn resolve_source(&self, source: &str, table: &str) -> Result<(Relation, crate::manifest::QuotePolicy), String> {
        self.manifest
            .sources
            .values()
            .find(|s| s.source_name == source && s.name == table)
            .map(|s| (Relation::new(s.database.clone(), s.schema.clone(), s.identifier.clone()), self.manifest.quoting.overridden_by(&s.quoting)))
            .ok_or_else(|| format!("source('{source}', '{table}') is not defined"))
    }
}

/// Compiles nodes of one invocation; shared by all worker threads.
pub struct Compiler {
    pub config: Arc<Config>,
    pub manifest: Arc<Manifest>,
    pub jinja: Arc<JinjaEnv>,
    pub globals: Arc<Globals>,
    ephemerals: Mutex<HashMap<String, Arc<CompiledNode>>>,
}

impl Compiler {
    pub fn new(config: Arc<Config>, manifest: Arc<Manifest>, jinja: Arc<JinjaEnv>, globals: Arc<Globals>) -> Compiler {
        Compiler { config, manifest, jinja, globals, ephemerals: Mutex::new(HashMap::new()) }
    }

    pub fn relation_of(node: &Node) -> Relation {
        Relation::new(node.database.clone(), node.schema.clone(), node.alias.clone())
    }

    /// The execute context of `node`.
    pub fn context(&self, node: &Node, is_incremental: bool, conn: Option<SharedConnection>) -> Arc<NodeCtx> {
        self.context_with(node, is_incremental, conn, std::collections::BTreeMap::new())
    }

    fn context_with(&self, node: &Node, is_incremental: bool, conn: Option<SharedConnection>, extra: std::collections::BTreeMap<String, Value>) -> Arc<NodeCtx> {
        let mut ctx = NodeCtx::new(self.globals.clone(), self.jinja.macros.clone(), Phase::Execute, &node.package_name);
        ctx.extra = extra;
        ctx.this = Some(Self::relation_of(node));
        ctx.model = jinja::jv(node);
        ctx.node_config = node.config.0.clone();
        ctx.is_incremental = is_incremental;
        ctx.conn = conn;
        Arc::new(ctx)
    }

    fn diag(&self, node: &Node, e: &minijinja::Error) -> Diagnostic {
        let mut d = jinja::render_error_to_diagnostic(e, &self.jinja.macros, &node.file, node.span.map_or(0, |s| s.start), "compile");
        if node.span.is_some() && d.file.as_deref() == Some(node.file.as_path()) {
            d.span = node.span;
        }
        d.message = format!("Compilation Error in {} {} ({}): {}", node.resource_type.as_str(), node.name, node.original_file_path, d.message);
        d
    }

    pub fn compile(&self, node: &Node, is_incremental: bool, conn: Option<SharedConnection>) -> Result<CompiledNode, Diagnostic> {
        let ctx = self.context(node, is_incremental, conn.clone());
        let sql = if let Some(meta) = &node.test_metadata {
            self.render_generic_test(node, meta, &ctx).map_err(|e| self.diag(node, &e))?
        } else {
            self.jinja.render(&node.unique_id, &node.raw_code, &ctx).map_err(|e| self.diag(node, &e))?
        };
        let extra_ctes = self.ephemeral_ctes(&ctx.recorded().ephemerals, &conn)?;
        let compiled_sql = inject_ctes(&sql, &extra_ctes);
        let render_hooks = |key: &str| -> Result<Vec<String>, Diagnostic> {
            node.config.hooks(key).iter().map(|h| self.jinja.render(&node.unique_id, h, &ctx).map_err(|e| self.diag(node, &e))).collect()
        };
        Ok(CompiledNode {
            unique_id: node.unique_id.clone(),
            compiled_sql,
            extra_ctes,
            pre_hooks: render_hooks("pre-hook")?,
            post_hooks: render_hooks("post-hook")?,
            config: ctx.recorded().config,
        })
    }

    /// The project's or a package's `{% materialization %}` block for this
    /// model, when there is one (it replaces rdbt's native materialization).
    pub fn custom_materialization(&self, node: &Node) -> Option<Arc<jinja::MacroDef>> {
        if node.resource_type != crate::manifest::ResourceType::Model {
            return None;
        }
        self.jinja.macros.materialization(node.config.materialized(), &self.config.target.adapter_type).cloned()
    }

    /// Runs a `{% materialization %}` block for `node`: the block executes
    /// its statements itself (`statement('main')`, hooks via `run_hooks`).
    /// Returns the message of the `main` statement and its SQL.
    pub fn run_custom_materialization(
        &self,
        node: &Node,
        def: &Arc<jinja::MacroDef>,
        compiled: &CompiledNode,
        is_incremental: bool,
        conn: SharedConnection,
    ) -> Result<(String, Option<String>), Diagnostic> {
        let hooks = |list: &[String]| -> Value {
            jinja::pyvalues::PyList::new_value(
                list.iter()
                    .map(|h| {
                        let mut m = indexmap::IndexMap::new();
                        m.insert(Value::from("sql"), Value::from(h.clone()));
                        m.insert(Value::from("transaction"), Value::from(true));
                        jinja::pyvalues::PyDict::new_value(m)
                    })
                    .collect(),
            )
        };
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("sql".to_string(), Value::from(compiled.compiled_sql.clone()));
        extra.insert("compiled_code".to_string(), Value::from(compiled.compiled_sql.clone()));
        extra.insert("pre_hooks".to_string(), hooks(&compiled.pre_hooks));
        extra.insert("post_hooks".to_string(), hooks(&compiled.post_hooks));
        let ctx = self.context_with(node, is_incremental, Some(conn), extra);
        self.jinja.call_macro(def, &ctx, &[]).map_err(|e| {
            let mut d = self.diag(node, &e);
            d.notes.push(format!("in materialization '{}' ({})", node.config.materialized(), def.unique_id));
            d
        })?;
        let main = ctx.statements.lock().ok().and_then(|s| s.get("main").cloned());
        let message = main
            .as_ref()
            .and_then(|m| m.get_attr("response").ok())
            .and_then(|r| r.get_attr("_message").ok())
            .and_then(|m| m.as_str().map(str::to_string))
            .unwrap_or_else(|| "OK".to_string());
        let sql = main.and_then(|m| m.get_attr("sql").ok()).and_then(|s| s.as_str().map(str::to_string));
        Ok((message, sql))
    }

    /// The CTEs for `ephemerals` (in first-use order), each preceded by
    /// the ephemerals it uses itself, without duplicates.
    fn ephemeral_ctes(&self, ephemerals: &[String], conn: &Option<SharedConnection>) -> Result<Vec<(String, String)>, Diagnostic> {
        let mut ctes: Vec<(String, String)> = Vec::new();
        for eph in ephemerals {
            let compiled = self.compile_ephemeral(eph, conn.clone())?;
            for (id, cte) in compiled.extra_ctes.iter().cloned().chain(std::iter::once((eph.clone(), cte_sql(&compiled)))) {
                if !ctes.iter().any(|(i, _)| *i == id) {
                    ctes.push((id, cte));
                }
            }
        }
        Ok(ctes)
    }

    pub fn compile_ephemeral(&self, unique_id: &str, conn: Option<SharedConnection>) -> Result<Arc<CompiledNode>, Diagnostic> {
        if let Some(c) = self.ephemerals.lock().ok().and_then(|m| m.get(unique_id).cloned()) {
            return Ok(c);
        }
        let node = self.manifest.nodes.get(unique_id).ok_or_else(|| Diagnostic::error("compile", format!("unknown ephemeral model {unique_id}")))?;
        // Ephemeral models keep their CTEs separate; the caller flattens them.
        let ctx = self.context(node, false, conn.clone());
        let sql = self.jinja.render(&node.unique_id, &node.raw_code, &ctx).map_err(|e| self.diag(node, &e))?;
        let extra_ctes = self.ephemeral_ctes(&ctx.recorded().ephemerals, &conn)?;
        let compiled = Arc::new(CompiledNode { unique_id: unique_id.to_string(), compiled_sql: sql, extra_ctes, pre_hooks: vec![], post_hooks: vec![], config: Default::default() });
        if let Ok(mut m) = self.ephemerals.lock() {
            m.insert(unique_id.to_string(), compiled.clone());
        }
        Ok(compiled)
    }

    /// Calls the test macro with its rendered arguments.
    fn render_generic_test(&self, node: &Node, meta: &crate::manifest::TestMetadata, ctx: &Arc<NodeCtx>) -> Result<String, minijinja::Error> {
        let mut pairs: Vec<(String, Value)> = Vec::new();
        for (k, v) in &meta.kwargs {
            let value = match k.as_str() {
                "column_name" => Value::from(v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())),
                "model" => self.model_arg(node, ctx)?,
                _ => self.render_arg(v, ctx)?,
            };
            pairs.push((k.clone(), value));
        }
        let macro_name = format!("test_{}", meta.name);
        let def = match &meta.namespace {
            Some(ns) => self.jinja.macros.get(ns, &macro_name),
            None => self.jinja.macros.resolve(&node.package_name, &macro_name),
        }
        .cloned()
        .ok_or_else(|| minijinja::Error::new(minijinja::ErrorKind::UnknownFunction, format!("generic test macro '{macro_name}' not found")))?;
        let out = self.jinja.call_macro(&def, ctx, &[Value::from(Kwargs::from_iter(pairs))])?;
        Ok(out.to_string())
    }

    /// `model`: the tested relation, as a subquery when `where` is set.
    fn model_arg(&self, node: &Node, ctx: &Arc<NodeCtx>) -> Result<Value, minijinja::Error> {
        let attached = node.attached_node.as_deref().unwrap_or_default();
        let expr = if let Some(s) = self.manifest.sources.get(attached) {
            format!("source('{}', '{}')", s.source_name, s.name)
        } else if let Some(n) = self.manifest.nodes.get(attached) {
            match &n.version {
                Some(v) => format!("ref('{}', '{}', version='{v}')", n.package_name, n.name),
                None => format!("ref('{}', '{}')", n.package_name, n.name),
            }
        } else {
            return Ok(Value::from(""));
        };
        let relation = self.jinja.eval_expr(&expr, ctx)?;
        match node.config.get_str("where") {
            Some(w) if !w.trim().is_empty() => {
                let cond = self.jinja.render(&node.unique_id, w, ctx)?;
                Ok(Value::from(format!("(select * from {relation} where {cond}) dbt_subquery")))
            }
            _ => Ok(relation),
        }
    }

    fn render_arg(&self, v: &serde_json::Value, ctx: &Arc<NodeCtx>) -> Result<Value, minijinja::Error> {
        Ok(match v {
            serde_json::Value::String(s) => {
                if crate::parser::looks_like_function(s) {
                    self.jinja.eval_expr(s, ctx)?
                } else if let Some(expr) = single_expression(s) {
                    self.jinja.eval_expr(expr, ctx)?
                } else if s.contains("{{") || s.contains("{%") {
                    Value::from(self.jinja.render("test-arg", s, ctx)?)
                } else {
                    Value::from(s.clone())
                }
            }
            // Lists and dicts from YAML are Python's: test macros mutate them.
            serde_json::Value::Array(items) => {
                jinja::pyvalues::PyList::new_value(items.iter().map(|i| self.render_arg(i, ctx)).collect::<Result<Vec<_>, _>>()?)
            }
            serde_json::Value::Object(m) => {
                let mut out = indexmap::IndexMap::new();
                for (k, i) in m {
                    out.insert(Value::from(k.clone()), self.render_arg(i, ctx)?);
                }
                jinja::pyvalues::PyDict::new_value(out)
            }
            other => jinja::jv(other),
        })
    }

    /// Renders arbitrary SQL (`rdbt show --inline`, hooks, operations) in
    /// the root project's context.
    pub fn render_inline(&self, sql: &str, conn: Option<SharedConnection>) -> Result<CompiledNode, Diagnostic> {
        let mut ctx = NodeCtx::new(self.globals.clone(), self.jinja.macros.clone(), Phase::Execute, &self.config.root.name);
        ctx.conn = conn.clone();
        let ctx = Arc::new(ctx);
        let sql = self.jinja.render("inline", sql, &ctx).map_err(|e| Diagnostic::error("compile", jinja::describe_error(&e)))?;
        let extra_ctes = self.ephemeral_ctes(&ctx.recorded().ephemerals, &conn)?;
        Ok(CompiledNode { unique_id: "inline".into(), compiled_sql: inject_ctes(&sql, &extra_ctes), extra_ctes, pre_hooks: vec![], post_hooks: vec![], config: Default::default() })
    }

    /// Renders a string written in YAML (an ingest declaration's values)
    /// in `package`'s context; errors point into `file` near `offset`.
    pub fn render_text(&self, package: &str, text: &str, file: &std::path::Path, offset: usize, conn: Option<SharedConnection>) -> Result<String, Diagnostic> {
        let mut ctx = NodeCtx::new(self.globals.clone(), self.jinja.macros.clone(), Phase::Execute, package);
        ctx.conn = conn;
        let ctx = Arc::new(ctx);
        self.jinja.render("ingest declaration", text, &ctx).map_err(|e| jinja::render_error_to_diagnostic(&e, &self.jinja.macros, file, offset, "jinja"))
    }

    /// Renders `on-run-start`/`on-run-end` hooks.
    pub fn render_project_hook(&self, hook: &str, extra: Vec<(String, Value)>, conn: Option<SharedConnection>) -> Result<String, Diagnostic> {
        let mut ctx = NodeCtx::new(self.globals.clone(), self.jinja.macros.clone(), Phase::Execute, &self.config.root.name);
        ctx.conn = conn;
        ctx.extra.extend(extra);
        let ctx = Arc::new(ctx);
        self.jinja
            .render("hook", hook, &ctx)
            .map_err(|e| jinja::render_error_to_diagnostic(&e, &self.jinja.macros, &self.config.root.file, 0, "hook"))
    }
}

/// `{{ expr }}` alone (dbt renders such arguments natively, keeping objects).
fn single_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

fn cte_sql(c: &CompiledNode) -> String {
    let name = c.unique_id.rsplit('.').next().unwrap_or(&c.unique_id);
    format!("__dbt__cte__{name} as (\n{}\n)", c.compiled_sql)
}

/// Prepends ephemeral CTEs: merged into the query's own leading `with`, or
/// as a new `with` clause.
pub fn inject_ctes(sql: &str, ctes: &[(String, String)]) -> String {
    if ctes.is_empty() {
        return sql.to_string();
    }
    let joined = ctes.iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(pos) = leading_with(sql) {
        let (head, rest) = sql.split_at(pos + 4);
        format!("{head} {joined}, {}", rest.trim_start())
    } else {
        format!("with {joined}\n{sql}")
    }
}

/// Byte offset of a leading `with` keyword (after whitespace and comments).
fn leading_with(sql: &str) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if sql[i..].starts_with("--") {
            i = sql[i..].find('\n').map(|n| i + n + 1).unwrap_or(sql.len());
            continue;
        }
        if sql[i..].starts_with("/*") {
            i = sql[i..].find("*/").map(|n| i + n + 2).unwrap_or(sql.len());
            continue;
        }
        break;
    }
    let word = sql.get(i..i + 4)?;
    let after = bytes.get(i + 4).copied().unwrap_or(b' ');
    (word.eq_ignore_ascii_case("with") && !(after.is_ascii_alphanumeric() || after == b'_')).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_into_existing_with() {
        let ctes = vec![("model.p.e".to_string(), "__dbt__cte__e as (\nselect 1\n)".to_string())];
        assert_eq!(inject_ctes("-- c\nWITH a as (select 2) select * from a", &ctes), "-- c\nWITH __dbt__cte__e as (\nselect 1\n), a as (select 2) select * from a");
        assert_eq!(inject_ctes("select * from __dbt__cte__e", &ctes), "with __dbt__cte__e as (\nselect 1\n)\nselect * from __dbt__cte__e");
        assert_eq!(inject_ctes("select * from withdrawals", &[]), "select * from withdrawals");
        assert!(leading_with("withdrawals").is_none());
    }
}
