//! Project files → `Manifest`. Every `.sql` is rendered once with
//! `execute=false`, recording `ref`/`source`/`config` calls; YAML properties
//! patch nodes and declare sources, tests, exposures and groups. Every
//! problem is collected, not only the first.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{Config, Project, tree_for};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::jinja::blocks::{BlockKind, find_blocks};
use crate::jinja::{self, Globals, JinjaEnv, MacroDef, NodeCtx, Phase};
use crate::loader::{FileKind, SourceFile};
use crate::manifest::*;

pub mod properties;
pub mod test_names;

/// dbt's fully qualified name: the package, the folders of the resource's
/// path, the name.
fn fqn(package: &str, resource_path: &str, name: &str) -> Vec<String> {
    let dirs: Vec<&str> = resource_path.split('/').collect();
    let mut fqn = vec![package.to_string()];
    fqn.extend(dirs[..dirs.len().saturating_sub(1)].iter().map(|s| s.to_string()));
    fqn.push(name.to_string());
    fqn
}

/// The part of a YAML-declared node (`ingest:`, `ml:`) that comes from its
/// declaration alone.
fn decl_node(d: &properties::NodeDecl, unique_id: String, resource_type: ResourceType, fqn: Vec<String>) -> Node {
    Node {
        unique_id,
        resource_type,
        package_name: d.package.clone(),
        name: d.name.clone(),
        path: d.resource_path.clone(),
        original_file_path: d.original_file_path.clone(),
        file: d.file.clone(),
        span: Some(d.span),
        fqn,
        checksum: sha256_hex(&d.entry.to_string()),
        description: d.description.clone(),
        unrendered_config: d.config.clone(),
        ..Node::default()
    }
}

#[cfg(test)]
mod snapshot_tests;

/// The result of parsing: the manifest, the Jinja environment holding every
/// macro, and warnings.
pub struct Parsed {
    pub manifest: Manifest,
    pub jinja: Arc<JinjaEnv>,
    pub warnings: Vec<Diagnostic>,
}

/// sha256 of `text`, hex. dbt's file checksum is this over the file's
/// contents with surrounding whitespace stripped (see [`file_checksum`]).
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

/// dbt's `checksum.checksum` of a project file: it reads files with
/// surrounding whitespace stripped and hashes what it read.
pub fn file_checksum(text: &str) -> String {
    sha256_hex(text.trim())
}

/// Parses the root project and its installed packages.
pub fn parse(config: &Arc<Config>) -> Result<Parsed, Diagnostics> {
    let t = std::time::Instant::now();
    let mut diags = Diagnostics::default();
    let mut files: Vec<SourceFile> = Vec::new();
    for project in config.all_projects() {
        let (f, d) = crate::loader::load(project);
        files.extend(f);
        diags.0.extend(d);
    }
    let t = crate::timing::phase("parse: read files", t);
    let mut manifest = Manifest { project_name: config.root.name.clone(), quoting: config.quote_policy(), ..Default::default() };

    // 1. Macros (built-in, then every package's) and docs blocks.
    let mut env = JinjaEnv::new();
    for (name, text) in jinja::builtins::MACRO_FILES {
        let path = format!("rdbt/include/{name}");
        add_macros(&mut env, &mut manifest, jinja::INTERNAL_PACKAGE, Path::new(&path), &path, text, &mut diags);
    }
    for f in files.iter().filter(|f| f.kind == FileKind::Macros) {
        add_macros(&mut env, &mut manifest, &f.package, &f.path, &f.original_file_path, &f.text, &mut diags);
    }
    for f in files.iter().filter(|f| f.kind == FileKind::Docs) {
        add_docs(&mut manifest, f, &mut diags);
    }
    let mut dispatch = HashMap::new();
    for d in &config.root.dispatch {
        dispatch.insert(d.macro_namespace.clone(), d.search_order.clone());
    }
    env.set_packages(&config.root.name, dispatch);
    let env = Arc::new(env);
    let globals = Arc::new(Globals::new(config.clone(), String::new(), "parse"));

    let t = crate::timing::phase("parse: macros", t);
    // 2. Properties YAML.
    let props = properties::collect(&files, &mut diags);
    let t = crate::timing::phase("parse: properties", t);

    // 3. Models, seeds, singular tests, analyses.
    let mut p = NodeParser { config, env: &env, globals: &globals, props: &props, manifest: &mut manifest, diags: &mut diags, source_tests: Default::default(), node_tests: Default::default() };
    // Parse-rendering is independent per file: spread it over the cores.
    let sql_files: Vec<&SourceFile> =
        files.iter().filter(|f| matches!(f.kind, FileKind::Model | FileKind::Analysis | FileKind::SingularTest)).collect();
    let mut rendered = parallel_map(&sql_files, 64, |f| parse_render(&env, &globals, f)).into_iter();
    let t = crate::timing::phase("parse: render", t);
    for f in &files {
        let kind = match f.kind {
            FileKind::Model => ResourceType::Model,
            FileKind::Analysis => ResourceType::Analysis,
            FileKind::SingularTest => ResourceType::Test,
            FileKind::Seed => {
                p.seed(f);
                continue;
            }
            _ => continue,
        };
        match rendered.next() {
            Some(Ok(rec)) => p.sql_node(f, kind, rec),
            Some(Err(d)) => p.diags.push(d),
            None => {}
        }
    }
    // Snapshots: `{% snapshot %}` blocks in snapshot-paths, then YAML-defined ones.
    for f in files.iter().filter(|f| f.kind == FileKind::Snapshot) {
        p.snapshot_file(f);
    }
    p.yaml_snapshots();
    let t = crate::timing::phase("parse: nodes", t);
    // 4. Sources, ingest loads, generic tests, exposures, groups from YAML.
    p.sources();
    p.ingests();
    p.ml_nodes();
    p.generic_tests();
    let t = crate::timing::phase("parse: generic tests", t);
    p.exposures_and_groups();
    p.patch_macros();
    p.check_unpatched();
    let warnings = p.resolve_dependencies();
    render_descriptions(&mut manifest, &mut diags);
    crate::timing::phase("parse: dependencies", t);

    if diags.has_errors() {
        return Err(diags);
    }
    let mut warnings_all: Vec<Diagnostic> = diags.0.into_iter().filter(|d| !d.is_error()).collect();
    warnings_all.extend(warnings);
    Ok(Parsed { manifest, jinja: env, warnings: warnings_all })
}

/// Renders one SQL file with `execute=false`, recording its calls.
fn parse_render(env: &Arc<JinjaEnv>, globals: &Arc<Globals>, f: &SourceFile) -> Result<jinja::Recorded, Diagnostic> {
    let mut ctx = NodeCtx::new(globals.clone(), env.macros.clone(), Phase::Parse, &f.package);
    // dbt's parse context has the node being parsed as `model`.
    let name = stem(&f.resource_path);
    let kind = match f.kind {
        FileKind::SingularTest => "test",
        FileKind::Analysis => "analysis",
        _ => "model",
    };
    ctx.model = jinja::jv(serde_json::json!({
        "name": name,
        "unique_id": format!("{kind}.{}.{name}", f.package),
        "resource_type": kind,
        "package_name": f.package,
        "path": f.resource_path,
        "original_file_path": f.original_file_path,
        "config": {},
        "tags": [],
        "refs": [],
        "sources": [],
    }));
    let ctx = Arc::new(ctx);
    let name = format!("{}:{}", f.package, f.original_file_path);
    env.render(&name, &f.text, &ctx).map_err(|e| jinja::render_error_to_diagnostic(&e, &env.macros, &f.path, 0, "jinja"))?;
    Ok(ctx.recorded())
}

/// `f` over `items` on all cores, results in input order; on this thread
/// alone when there are fewer than `min_items` (too little work to be worth
/// a thread).
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], min_items: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len().max(1));
    if threads <= 1 || items.len() < min_items.max(2) {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>())).collect();
        // A panicking worker is a bug; re-raise it rather than lose its items.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

fn add_macros(env: &mut JinjaEnv, manifest: &mut Manifest, package: &str, file: &Path, rel: &str, text: &str, diags: &mut Diagnostics) {
    let blocks = match find_blocks(text) {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::error("jinja-syntax", e.message).at(file, e.span));
            return;
        }
    };
    for b in blocks {
        let name = match b.kind {
            BlockKind::Macro => b.name.clone(),
            BlockKind::Test => format!("test_{}", b.name),
            BlockKind::Materialization => jinja::blocks::materialization_macro_name(&b),
            BlockKind::Docs => {
                let uid = format!("doc.{package}.{}", b.name);
                manifest.docs.insert(
                    uid.clone(),
                    Documentation {
                        unique_id: uid,
                        package_name: package.to_string(),
                        name: b.name.clone(),
                        path: rel.to_string(),
                        original_file_path: rel.to_string(),
                        block_contents: text[b.body.start..b.body.end].trim().to_string(),
                    },
                );
                continue;
            }
            _ => continue,
        };
        let unique_id = format!("macro.{package}.{name}");
        if let Some(existing) = manifest.macros.get(&unique_id) {
            diags.push(
                Diagnostic::error("duplicate-macro", format!("macro '{name}' is defined twice in package '{package}'"))
                    .at(file, Span::new(b.span.start, b.body.start))
                    .note(format!("also defined in {}", existing.original_file_path)),
            );
            continue;
        }
        let source = jinja::blocks::as_macro_source(text, &b);
        let def = MacroDef { unique_id: unique_id.clone(), package: package.to_string(), name: name.clone(), file: file.to_path_buf(), offset: b.span.start };
        if let Err(d) = env.add_macro_template(def, source.clone()) {
            diags.push(d);
            continue;
        }
        manifest.macros.insert(
            unique_id.clone(),
            Macro {
                unique_id,
                package_name: package.to_string(),
                name,
                path: rel.to_string(),
                original_file_path: rel.to_string(),
                file: file.to_path_buf(),
                span: b.span,
                macro_sql: text[b.span.start..b.span.end].to_string(),
                description: String::new(),
                // dbt lists only arguments documented in YAML (`macros:`
                // properties), never the signature's.
                arguments: vec![],
                depends_on_macros: vec![],
                patch_path: None,
                meta: Map::new(),
            },
        );
    }
}

fn add_docs(manifest: &mut Manifest, f: &SourceFile, diags: &mut Diagnostics) {
    match find_blocks(&f.text) {
        Ok(blocks) => {
            for b in blocks.into_iter().filter(|b| b.kind == BlockKind::Docs) {
                let uid = format!("doc.{}.{}", f.package, b.name);
                if manifest.docs.contains_key(&uid) {
                    diags.push(Diagnostic::error("duplicate-doc", format!("docs block '{}' is defined twice", b.name)).at(&f.path, b.span));
                    continue;
                }
                manifest.docs.insert(
                    uid.clone(),
                    Documentation {
                        unique_id: uid,
                        package_name: f.package.clone(),
                        name: b.name.clone(),
                        path: f.resource_path.clone(),
                        original_file_path: f.original_file_path.clone(),
                        block_contents: f.text[b.body.start..b.body.end].trim().to_string(),
                    },
                );
            }
        }
        Err(e) => diags.push(Diagnostic::error("jinja-syntax", e.message).at(&f.path, e.span)),
    }
}

/// A generic test as [`NodeParser::prepare_generic_test`] built it: its
/// problems, and its node unless a problem prevents one.
struct PreparedTest {
    diags: Vec<Diagnostic>,
    test: Option<PreparedTestNode>,
}

struct PreparedTestNode {
    node: Node,
    /// The resolved config, for `finish_node`.
    cfg: Map<String, Value>,
    /// The tested model, seed or snapshot; `None` for a source table.
    tested: Option<RefCall>,
    /// The column's and the entry's tags.
    tags: Vec<String>,
}

struct NodeParser<'a> {
    config: &'a Arc<Config>,
    env: &'a Arc<JinjaEnv>,
    globals: &'a Arc<Globals>,
    props: &'a properties::Properties,
    manifest: &'a mut Manifest,
    diags: &'a mut Diagnostics,
    /// Generic tests declared on a model/seed/snapshot: the tested node.
    node_tests: HashMap<String, RefCall>,
    /// Generic tests declared on a source table (their attached resource is
    /// the source even when their arguments also `ref` a model).
    source_tests: std::collections::HashSet<String>,
}

fn stem(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file).to_string()
}

impl NodeParser<'_> {
    fn project(&self, package: &str) -> &Project {
        self.config.project(package).unwrap_or(&self.config.root)
    }

    /// Config from dbt_project.yml trees: the package's own, then the root
    /// project's (which wins).
    fn project_config(&self, package: &str, kind: ResourceType, fqn: &[String]) -> Map<String, Value> {
        let mut cfg = Map::new();
        if package != self.config.root.name {
            crate::config::tree::merge(&mut cfg, &crate::config::tree::resolve(tree_for(self.project(package), kind), fqn));
        }
        crate::config::tree::merge(&mut cfg, &crate::config::tree::resolve(tree_for(&self.config.root, kind), fqn));
        cfg
    }

    fn fqn_for(f: &SourceFile, name: &str) -> Vec<String> {
        fqn(&f.package, &f.resource_path, name)
    }

    fn new_node(&self, f: &SourceFile, kind: ResourceType, name: &str) -> Node {
        let fqn = Self::fqn_for(f, name);
        Node {
            unique_id: format!("{}.{}.{}", kind.as_str(), f.package, name),
            resource_type: kind,
            package_name: f.package.clone(),
            name: name.to_string(),
            path: f.resource_path.clone(),
            original_file_path: f.original_file_path.clone(),
            file: f.path.clone(),
            fqn,
            // dbt strips the file; only trailing whitespace is dropped here so
            // that render-error offsets still map onto the file.
            raw_code: if kind == ResourceType::Seed { String::new() } else { f.text.trim_end().to_string() },
            checksum: file_checksum(&f.text),
            database: String::new(),
            schema: String::new(),
            alias: String::new(),
            ..Node::default()
        }
    }

    /// Config values written in YAML may hold Jinja (`enabled: "{{
    /// target.type == 'duckdb' }}"`); dbt renders them at parse time.
    fn rendered_config(&mut self, package: &str, cfg: &Map<String, Value>, file: &Path, span: Span) -> Map<String, Value> {
        let (cfg, diag) = self.try_rendered_config(package, cfg, file, span);
        self.diags.0.extend(diag);
        cfg
    }

    /// [`Self::rendered_config`], with a rendering error returned beside the
    /// config as written.
    fn try_rendered_config(&self, package: &str, cfg: &Map<String, Value>, file: &Path, span: Span) -> (Map<String, Value>, Option<Diagnostic>) {
        if !cfg.values().any(jinja::yaml_has_jinja) {
            return (cfg.clone(), None);
        }
        let value = Value::Object(cfg.clone());
        let ctx = self.parse_ctx(package);
        let env = self.env;
        let rendered = jinja::render_yaml_strings(&value, &mut |text| {
            env.render("config", text, &ctx).map_err(|e| Diagnostic::error("jinja", format!("in a YAML config value: {}", jinja::describe_error(&e))).at(file, span))
        });
        match rendered {
            Ok(Value::Object(m)) => (m, None),
            Ok(_) => (cfg.clone(), None),
            Err(d) => (cfg.clone(), Some(d)),
        }
    }

    fn parse_ctx(&self, package: &str) -> Arc<NodeCtx> {
        Arc::new(NodeCtx::new(self.globals.clone(), self.env.macros.clone(), Phase::Parse, package))
    }

    fn sql_node(&mut self, f: &SourceFile, kind: ResourceType, rec: jinja::Recorded) {
        let name = stem(&f.resource_path);
        let mut node = self.new_node(f, kind, &name);
        node.refs = rec.refs;
        node.sources = rec.sources;
        node.depends_on.macros = rec.macros.into_iter().collect();
        let tree_kind = if kind == ResourceType::Analysis { ResourceType::Model } else { kind };
        let mut cfg = self.project_config(&f.package, tree_kind, &node.fqn);
        let patch = self.props.patch(kind, &f.package, &name);
        let empty = Map::new();
        node.unrendered_config = unrendered_config(&[&cfg, patch.map_or(&empty, |p| &p.config), &rec.config]);
        if let Some(p) = patch {
            let patch_cfg = self.rendered_config(&f.package, &p.config, &p.file, p.span);
            crate::config::tree::merge(&mut cfg, &patch_cfg);
        }
        crate::config::tree::merge(&mut cfg, &rec.config);
        if kind == ResourceType::Test {
            cfg.entry("materialized").or_insert(Value::from("test"));
            cfg.entry("schema").or_insert(Value::from(TEST_AUDIT_SCHEMA));
        }
        self.finish_node(node, cfg, patch.cloned());
    }

    fn seed(&mut self, f: &SourceFile) {
        let name = stem(&f.resource_path);
        let mut node = self.new_node(f, ResourceType::Seed, &name);
        node.seed_file = Some(f.path.clone());
        let mut cfg = self.project_config(&f.package, ResourceType::Seed, &node.fqn);
        let patch = self.props.patch(ResourceType::Seed, &f.package, &name);
        let empty = Map::new();
        node.unrendered_config = unrendered_config(&[&cfg, patch.map_or(&empty, |p| &p.config)]);
        if let Some(p) = patch {
            let patch_cfg = self.rendered_config(&f.package, &p.config, &p.file, p.span);
            crate::config::tree::merge(&mut cfg, &patch_cfg);
        }
        cfg.insert("materialized".into(), Value::from("seed"));
        node.config = NodeConfig(cfg.clone());
        if let Err(d) = crate::materialize::seed::validate(&node, f.text.as_bytes()) {
            self.diags.push(d);
            return;
        }
        self.finish_node(node, cfg, patch.cloned());
    }

    /// Applies config, YAML patch, naming; inserts the node (or records it as
    /// disabled, or reports a duplicate).
    fn finish_node(&mut self, mut node: Node, cfg: Map<String, Value>, patch: Option<properties::Patch>) {
        node.config = NodeConfig(cfg);
        if let Some(p) = &patch {
            node.description = p.description.clone();
            node.columns = p.columns.clone();
            node.patch_path = Some(format!("{}://{}", node.package_name, p.original_file_path));
            node.docs_show = p.docs_show;
        }
        node.tags = node.config.tags();
        node.config.set("tags", Value::from(node.tags.clone()));
        node.meta = node.config.get("meta").and_then(Value::as_object).cloned().unwrap_or_default();
        node.group = node.config.get_str("group").map(str::to_string);
        node.access = node.config.get_str("access").map(str::to_string).or_else(|| (node.resource_type == ResourceType::Model).then(|| "protected".to_string()));
        if !node.config.enabled() {
            self.manifest.disabled.entry(node.unique_id.clone()).or_default().push(node);
            return;
        }
        if let Err(d) = self.assign_names(&mut node) {
            self.diags.push(d);
            return;
        }
        if let Some(existing) = self.manifest.nodes.get(&node.unique_id) {
            self.diags.push(
                Diagnostic::error(
                    "duplicate-name",
                    format!("two {}s are named '{}' in package '{}'", node.resource_type.as_str(), node.name, node.package_name),
                )
                .in_file(&node.file)
                .note(format!("also defined in {}", existing.original_file_path)),
            );
            return;
        }
        self.manifest.nodes.insert(node.unique_id.clone(), Box::new(node));
    }

    /// database / schema / alias through generate_*_name (project overrides
    /// run through Jinja; the defaults are computed directly).
    fn assign_names(&self, node: &mut Node) -> Result<(), Diagnostic> {
        let custom_schema = node.config.get_str("schema").map(str::to_string);
        let custom_alias = node.config.get_str("alias").map(str::to_string);
        let custom_db = node.config.get_str("database").map(str::to_string);
        let target = &self.config.target;
        let overridden = |name: &str| {
            let root = &self.config.root.name;
            self.env.macros.get(root, name).is_some() || self.env.macros.get(&node.package_name, name).is_some()
        };
        let node_value = std::cell::OnceCell::new();
        let call = |name: &str, custom: &Option<String>| -> Result<String, Diagnostic> {
            let ctx = self.parse_ctx(&self.config.root.name);
            let Some(def) = self.env.macros.resolve(&node.package_name, name).cloned() else {
                return Err(Diagnostic::error("jinja", format!("macro {name} not found")));
            };
            let arg = match custom {
                Some(s) => minijinja::Value::from(s.clone()),
                None => minijinja::Value::from(()),
            };
            self.env
                .call_macro(&def, &ctx, &[arg, node_value.get_or_init(|| jinja::jv(&*node)).clone()])
                .map(|v| v.to_string().trim().to_string())
                .map_err(|e| jinja::render_error_to_diagnostic(&e, &self.env.macros, &node.file, 0, "jinja"))
        };
        let schema = if overridden("generate_schema_name") {
            call("generate_schema_name", &custom_schema)?
        } else {
            match &custom_schema {
                Some(s) if !s.trim().is_empty() => format!("{}_{}", target.schema, s.trim()),
                _ => target.schema.clone(),
            }
        };
        let alias = if overridden("generate_alias_name") {
            call("generate_alias_name", &custom_alias)?
        } else {
            match (&custom_alias, &node.version) {
                (Some(a), _) if !a.trim().is_empty() => a.trim().to_string(),
                (_, Some(v)) => format!("{}_v{}", node.name, v.replace('.', "_")),
                _ => node.name.clone(),
            }
        };
        let database = if overridden("generate_database_name") {
            call("generate_database_name", &custom_db)?
        } else {
            custom_db.filter(|d| !d.trim().is_empty()).unwrap_or_else(|| target.database.clone())
        };
        node.schema = schema;
        node.alias = alias;
        node.database = database;
        // A snapshot's legacy `target_schema` / `target_database` are used
        // as they are, not through generate_*_name.
        if node.resource_type == ResourceType::Snapshot {
            if let Some(s) = node.config.get_str("target_schema").filter(|s| !s.trim().is_empty()) {
                node.schema = s.to_string();
            }
            if let Some(d) = node.config.get_str("target_database").filter(|d| !d.trim().is_empty()) {
                node.database = d.to_string();
            }
        }
        Ok(())
    }

    fn sources(&mut self) {
        for s in &self.props.sources {
            let pkg = &s.package;
            let uid = format!("source.{pkg}.{}.{}", s.source_name, s.name);
            if self.manifest.sources.contains_key(&uid) {
                self.diags.push(Diagnostic::error("duplicate-source", format!("source '{}.{}' is defined twice", s.source_name, s.name)).at(&s.file, s.span));
                continue;
            }
            let fqn_dir: Vec<String> = s.resource_path.split('/').collect::<Vec<_>>().split_last().map(|(_, d)| d.iter().map(|x| x.to_string()).collect()).unwrap_or_default();
            let mut fqn = vec![pkg.clone()];
            fqn.extend(fqn_dir);
            fqn.push(s.source_name.clone());
            fqn.push(s.name.clone());
            let mut cfg = self.project_config(pkg, ResourceType::Source, &fqn);
            crate::config::tree::merge(&mut cfg, &s.config);
            if !NodeConfig(cfg.clone()).enabled() {
                continue;
            }
            let database = s.database.clone().unwrap_or_else(|| self.config.target.database.clone());
            let schema = s.schema.clone().unwrap_or_else(|| s.source_name.clone());
            let identifier = s.identifier.clone().unwrap_or_else(|| s.name.clone());
            let relation_name = self.config.quote_policy().overridden_by(&s.quoting).render(&database, &schema, &identifier);
            self.manifest.sources.insert(
                uid.clone(),
                SourceDefinition {
                    unique_id: uid,
                    package_name: pkg.clone(),
                    source_name: s.source_name.clone(),
                    name: s.name.clone(),
                    identifier,
                    database,
                    schema,
                    loader: s.loader.clone(),
                    description: s.description.clone(),
                    source_description: s.source_description.clone(),
                    columns: s.columns.clone(),
                    meta: s.meta.clone(),
                    source_meta: s.source_meta.clone(),
                    tags: crate::manifest::string_or_list(cfg.get("tags")),
                    config: NodeConfig(cfg),
                    quoting: s.quoting.clone(),
                    loaded_at_field: s.loaded_at_field.clone(),
                    freshness: s.freshness.clone(),
                    path: s.original_file_path.clone(),
                    original_file_path: s.original_file_path.clone(),
                    file: s.file.clone(),
                    span: Some(s.span),
                    fqn,
                    relation_name,
                    loaded_by: vec![],
                },
            );
        }
    }

    /// One node per `ingest:` entry; every table of the source it feeds
    /// depends on it, so `source()` readers run after the load.
    fn ingests(&mut self) {
        for ingest in &self.props.ingests {
            let (d, source) = (&ingest.decl, &ingest.source);
            let uid = format!("{}.{}.{}", ResourceType::Ingest.as_str(), d.package, d.name);
            if self.manifest.nodes.contains_key(&uid) {
                self.diags.push(Diagnostic::error("duplicate-ingest", format!("ingest '{}' is defined twice", d.name)).at(&d.file, d.span));
                continue;
            }
            let fed: Vec<&mut SourceDefinition> =
                self.manifest.sources.values_mut().filter(|s| s.package_name == d.package && &s.source_name == source).collect();
            let Some((database, schema)) = fed.first().map(|s| (s.database.clone(), s.schema.clone())) else {
                self.diags.push(
                    Diagnostic::error("ingest-source", format!("ingest '{}' feeds source '{source}', which is not defined (declare it under `sources:` with its tables)", d.name))
                        .at(&d.file, d.span),
                );
                continue;
            };
            let enabled = NodeConfig(d.config.clone()).enabled();
            if enabled {
                for s in fed {
                    s.loaded_by.push(uid.clone());
                }
            }
            let fqn = fqn(&d.package, &d.resource_path, &d.name);
            let mut cfg = Map::new();
            cfg.insert("materialized".into(), Value::from("ingest"));
            crate::config::tree::merge(&mut cfg, &d.config);
            let config = NodeConfig(cfg);
            let node = Node {
                raw_code: serde_yaml::to_string(&d.entry).unwrap_or_default(),
                language: "yaml".into(),
                tags: config.tags(),
                config,
                database,
                schema,
                alias: d.name.clone(),
                ..decl_node(d, uid.clone(), ResourceType::Ingest, fqn)
            };
            if enabled {
                // Rendered here only to report a wrong declaration or a
                // missing env var before anything runs; the node keeps the
                // unrendered text and renders it again when it runs.
                let ctx = self.parse_ctx(&d.package);
                let offset = d.span.start;
                let rendered = crate::ingest::node::render_strings(&d.entry, &mut |text| {
                    self.env.render(&uid, text, &ctx).map_err(|e| jinja::render_error_to_diagnostic(&e, &self.env.macros, &d.file, offset, "jinja"))
                });
                match rendered.and_then(|v| crate::ingest::node::spec_of(&node, &v)) {
                    Ok((_, warnings)) => self.diags.0.extend(warnings),
                    Err(e) => self.diags.push(e),
                }
                self.manifest.nodes.insert(uid, Box::new(node));
            } else {
                self.manifest.disabled.entry(uid).or_default().push(node);
            }
        }
    }

    /// One node per `ml:` entry. Its `raw_code` is the query of its input
    /// rows (`select * from {{ ref(..) }}` for a `ref`/`source` call, else
    /// the SQL as written, then the `where:` filter), parse-rendered like a
    /// model so that its refs become DAG edges; a predict node also depends
    /// on the train node whose model it uses.
    fn ml_nodes(&mut self) {
        for (i, d) in self.props.ml.iter().enumerate() {
            let spec = match crate::ml::spec::parse_spec(&d.entry, &format!("ml[{i}]")) {
                Ok(s) => s,
                Err(e) => {
                    let span = crate::ingest::node::span_of_path(&d.file, Some(d.span), &e.path);
                    self.diags.push(Diagnostic::error("ml-spec", format!("ML node '{}': {}: {}", d.name, e.path, e.message)).at(&d.file, span));
                    continue;
                }
            };
            let uid = format!("{}.{}.{}", ResourceType::Ml.as_str(), d.package, d.name);
            let data = if looks_like_function(&spec.data) { format!("select * from {{{{ {} }}}}", spec.data) } else { spec.data.clone() };
            let raw = match &spec.filter {
                Some(f) => format!("select * from (\n{data}\n) as ml_input\nwhere {f}"),
                None => data,
            };
            let ctx = self.parse_ctx(&d.package);
            if let Err(e) = self.env.render(&uid, &raw, &ctx) {
                self.diags.push(Diagnostic::error("jinja", format!("ML node '{}': `data`: {}", d.name, jinja::describe_error(&e))).at(&d.file, d.span));
                continue;
            }
            let rec = ctx.recorded();
            let fqn = fqn(&d.package, &d.resource_path, &d.name);
            let mut refs = rec.refs;
            if let Some(model) = &spec.model {
                refs.push(RefCall { name: model.clone(), package: None, version: None });
            }
            let node = Node { raw_code: raw, refs, sources: rec.sources, ..decl_node(d, uid, ResourceType::Ml, fqn) };
            let mut cfg = Map::new();
            cfg.insert("materialized".into(), Value::from("ml"));
            crate::config::tree::merge(&mut cfg, &d.config);
            // The declaration itself, read back when the node runs.
            cfg.insert("ml".into(), d.entry.clone());
            self.finish_node(node, cfg, None);
        }
    }

    /// A generic test's node, built from its YAML entry and what is parsed
    /// already (the project's config, macros, YAML properties); nothing is
    /// added to the manifest. At 15,000 tests this is most of their parsing,
    /// so it runs on every core.
    fn prepare_generic_test(&self, t: &properties::TestDecl) -> PreparedTest {
        let mut diags = Vec::new();
        let entry = match test_names::parse_test_entry(&t.entry) {
            Ok(e) => e,
            Err(msg) => return PreparedTest { diags: vec![Diagnostic::error("test-entry", msg).at(&t.file, t.span)], test: None },
        };
        let target = match &t.target {
            properties::TestOn::Node { name, version } => test_names::TestTarget::Node { name, version: version.as_deref() },
            properties::TestOn::Source { source, table } => test_names::TestTarget::Source { source, table },
        };
        let named = test_names::generic_test_name(&entry, target, t.column.as_deref());
        let fqn = fqn(&t.package, &t.resource_path, &named.name);
        let mut cfg = self.project_config(&t.package, ResourceType::Test, &fqn);
        let unrendered = unrendered_config(&[&cfg, &named.config]);
        let (test_cfg, diag) = self.try_rendered_config(&t.package, &named.config, &t.file, t.span);
        diags.extend(diag);
        crate::config::tree::merge(&mut cfg, &test_cfg);
        cfg.entry("materialized").or_insert(Value::from("test"));
        cfg.entry("severity").or_insert(Value::from("ERROR"));
        cfg.entry("schema").or_insert(Value::from(TEST_AUDIT_SCHEMA));
        let ctx = self.parse_ctx(&t.package);
        // Record refs/sources the arguments use (`to: ref('customers')`).
        // `model` and `column_name` are known already; other arguments
        // may call ref()/source().
        for (_, v) in named.kwargs.iter().filter(|(k, _)| *k != "model" && *k != "column_name") {
            if let Err(e) = record_arg_refs(self.env, &ctx, v) {
                diags.push(Diagnostic::error("jinja", format!("in test arguments: {}", jinja::describe_error(&e))).at(&t.file, t.span));
            }
        }
        let rec = ctx.recorded();
        let mut node = Node {
            unique_id: named.unique_id(&t.package),
            resource_type: ResourceType::Test,
            package_name: t.package.clone(),
            name: named.name,
            path: named.path,
            original_file_path: t.original_file_path.clone(),
            file: t.file.clone(),
            span: Some(t.span),
            fqn,
            raw_code: named.raw_code,
            checksum: String::new(), // dbt: {"name": "none", "checksum": ""}
            description: named.description,
            column_name: t.column.clone(),
            refs: rec.refs,
            sources: rec.sources,
            unrendered_config: unrendered,
            ..Node::default()
        };
        let tested = match &t.target {
            properties::TestOn::Node { name, version } => {
                // dbt lists refs from the arguments (`to: ref(..)`) first.
                let call = RefCall { name: name.clone(), package: None, version: version.clone() };
                if !node.refs.contains(&call) {
                    node.refs.push(call.clone());
                }
                Some(call)
            }
            properties::TestOn::Source { source, table } => {
                let pair = (source.clone(), table.clone());
                if !node.sources.contains(&pair) {
                    node.sources.insert(0, pair);
                }
                None
            }
        };
        let macro_uid = match &entry.namespace {
            Some(ns) => format!("macro.{ns}.test_{}", entry.test_name),
            None => self
                .env
                .macros
                .resolve(&t.package, &format!("test_{}", entry.test_name))
                .map(|d| d.unique_id.clone())
                .unwrap_or_else(|| format!("macro.dbt.test_{}", entry.test_name)),
        };
        if !self.manifest.macros.contains_key(&macro_uid) {
            diags.push(
                Diagnostic::error("unknown-test", format!("unknown generic test '{}'", entry.namespace.as_ref().map(|n| format!("{n}.{}", entry.test_name)).unwrap_or(entry.test_name.clone())))
                    .at(&t.file, t.span)
                    .note("define it with {% test name(model, column_name) %} in macros/ or tests/generic/, or install the package that provides it"),
            );
            return PreparedTest { diags, test: None };
        }
        node.depends_on.macros = vec![macro_uid];
        node.depends_on.macros.extend(rec.macros);
        node.depends_on.macros.dedup();
        let entry_tags = crate::manifest::string_or_list(named.config.get("tags"));
        node.test_metadata = Some(TestMetadata { name: entry.test_name, namespace: entry.namespace, kwargs: named.kwargs });
        // dbt: the column's tags and the entry's own `tags`, sorted and
        // deduplicated, then the other configured tags (dbt_project.yml;
        // added by `generic_tests`). Not the tags of the tested node.
        let mut tags: Vec<String> = self.test_column_tags(t).into_iter().chain(entry_tags).collect();
        tags.sort();
        tags.dedup();
        PreparedTest { diags, test: Some(PreparedTestNode { node, cfg, tested, tags }) }
    }

    fn generic_tests(&mut self) {
        let prepared = {
            let this = &*self;
            parallel_map(&self.props.tests, 64, |t| this.prepare_generic_test(t))
        };
        for PreparedTest { diags, test } in prepared {
            self.diags.0.extend(diags);
            let Some(PreparedTestNode { node, cfg, tested, tags }) = test else { continue };
            let uid = node.unique_id.clone();
            match tested {
                Some(call) => {
                    self.node_tests.insert(uid.clone(), call);
                }
                None => {
                    self.source_tests.insert(uid.clone());
                }
            }
            self.finish_node(node, cfg, None);
            let set_tags = |n: &mut Node| {
                let mut tags = tags;
                for tag in n.config.tags() {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                n.tags = tags;
            };
            if let Some(n) = self.manifest.nodes.get_mut(&uid) {
                set_tags(n);
            } else if let Some(n) = self.manifest.disabled.get_mut(&uid).and_then(|l| l.last_mut()) {
                set_tags(n);
            }
        }
    }

    /// Tags of the YAML column a generic test is declared under (none for
    /// model-level tests).
    fn test_column_tags(&self, t: &properties::TestDecl) -> Vec<String> {
        let Some(column) = t.column.as_deref() else { return vec![] };
        match &t.target {
            properties::TestOn::Node { name, .. } => [ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot, ResourceType::Analysis]
                .into_iter()
                .find_map(|k| self.props.patch(k, &t.package, name))
                .and_then(|p| p.columns.get(column))
                .map(|c| c.tags.clone())
                .unwrap_or_default(),
            properties::TestOn::Source { source, table } => self
                .props
                .sources
                .iter()
                .find(|s| s.package == t.package && &s.source_name == source && &s.name == table)
                .and_then(|s| s.columns.get(column))
                .map(|c| c.tags.clone())
                .unwrap_or_default(),
        }
    }

    fn exposures_and_groups(&mut self) {
        for g in &self.props.groups {
            let uid = format!("group.{}.{}", g.package, g.name);
            self.manifest.groups.insert(
                uid.clone(),
                Group { unique_id: uid, package_name: g.package.clone(), name: g.name.clone(), owner: g.owner.clone(), path: g.original_file_path.clone(), original_file_path: g.original_file_path.clone() },
            );
        }
        for e in &self.props.exposures {
            let uid = format!("exposure.{}.{}", e.package, e.name);
            let ctx = self.parse_ctx(&e.package);
            for dep in &e.depends_on {
                let src = format!("{{{{ {dep} }}}}");
                if let Err(err) = self.env.render(&uid, &src, &ctx) {
                    self.diags.push(Diagnostic::error("jinja", format!("exposure '{}': {}", e.name, jinja::describe_error(&err))).at(&e.file, e.span));
                }
            }
            let rec = ctx.recorded();
            let fqn = fqn(&e.package, &e.resource_path, &e.name);
            self.manifest.exposures.insert(
                uid.clone(),
                Exposure {
                    unique_id: uid,
                    package_name: e.package.clone(),
                    name: e.name.clone(),
                    r#type: e.kind.clone(),
                    owner: e.owner.clone(),
                    description: e.description.clone(),
                    label: e.label.clone(),
                    maturity: e.maturity.clone(),
                    url: e.url.clone(),
                    tags: e.tags.clone(),
                    meta: e.meta.clone(),
                    config: NodeConfig::default(),
                    path: e.original_file_path.clone(),
                    original_file_path: e.original_file_path.clone(),
                    fqn,
                    refs: rec.refs,
                    sources: rec.sources,
                    depends_on: DependsOn::default(),
                },
            );
        }
    }

    /// `macros:` entries document macros of their own package.
    fn patch_macros(&mut self) {
        for p in &self.props.macro_patches {
            let uid = format!("macro.{}.{}", p.package, p.name);
            let Some(m) = self.manifest.macros.get_mut(&uid) else {
                self.diags.push(
                    Diagnostic::warning("unknown-patch", format!("macro '{}' is described in YAML but not defined in package '{}'", p.name, p.package))
                        .in_file(self.config.project(&p.package).map_or_else(|| std::path::PathBuf::from(&p.original_file_path), |pr| pr.root.join(&p.original_file_path))),
                );
                continue;
            };
            m.description = p.description.clone();
            m.meta = p.meta.clone();
            m.patch_path = Some(format!("{}://{}", p.package, p.original_file_path));
            m.arguments = p.arguments.iter().map(|(name, ty, description)| MacroArgument { name: name.clone(), r#type: ty.clone(), description: description.clone() }).collect();
        }
    }

    /// YAML entries that name no existing node are warnings, as in dbt.
    fn check_unpatched(&mut self) {
        for p in self.props.patches.values() {
            let uid = format!("{}.{}.{}", p.kind.as_str(), p.package, p.name);
            if !self.manifest.nodes.contains_key(&uid) && !self.manifest.disabled.contains_key(&uid) {
                self.diags.push(
                    Diagnostic::warning("unknown-patch", format!("{} '{}' is described in YAML but no such file exists", p.kind.as_str(), p.name))
                        .at(&p.file, p.span),
                );
            }
        }
    }

    /// Turns recorded refs/sources into depends_on, reporting unknown ones.
    fn resolve_dependencies(&mut self) -> Vec<Diagnostic> {
        let mut by_name: HashMap<&str, Vec<&Node>> = HashMap::new();
        for n in self.manifest.nodes.values() {
            if n.resource_type.is_refable() {
                by_name.entry(n.name.as_str()).or_default().push(n);
            }
        }
        let mut errors = Vec::new();
        let source_ids: HashMap<(&str, &str), &str> =
            self.manifest.sources.values().map(|s| ((s.source_name.as_str(), s.name.as_str()), s.unique_id.as_str())).collect();
        let root = self.config.root.name.as_str();
        let diags = &mut *self.diags;
        // A test whose target does not exist is disabled with a warning, as
        // dbt does (a YAML entry may describe a model that was removed).
        let mut disabled_tests: Vec<String> = Vec::new();
        let mut resolve = |uid: &str, pkg: &str, refs: &[RefCall], sources: &[(String, String)], file: &Path, span: Option<Span>, rtype: ResourceType| {
            let mut deps: Vec<String> = Vec::new();
            let add = |deps: &mut Vec<String>, id: String| {
                if !deps.contains(&id) {
                    deps.push(id);
                }
            };
            for r in refs {
                match resolve_ref(&by_name, pkg, root, r) {
                    Some(target) => add(&mut deps, target),
                    None if rtype == ResourceType::Test => {
                        disabled_tests.push(uid.to_string());
                        diags.push(
                            Diagnostic::warning(
                                "test-target-missing",
                                format!("Test '{uid}' depends on a node named '{}' which was not found; the test is disabled", r.name),
                            )
                            .in_file(file)
                            .with_span(span),
                        );
                    }
                    None => {
                        let text = std::fs::read_to_string(file).unwrap_or_default();
                        let span = span.or_else(|| Span::find(&text, &format!("'{}'", r.name), 0)).or_else(|| Span::find(&text, &format!("\"{}\"", r.name), 0));
                        errors.push(
                            Diagnostic::error("unknown-ref", format!("'{uid}' depends on a node named '{}' which was not found", r.name))
                                .in_file(file)
                                .with_span(span),
                        );
                    }
                }
            }
            for (s, t) in sources {
                match source_ids.get(&(s.as_str(), t.as_str())) {
                    Some(id) => add(&mut deps, id.to_string()),
                    None if rtype == ResourceType::Test => {
                        disabled_tests.push(uid.to_string());
                        diags.push(
                            Diagnostic::warning(
                                "test-target-missing",
                                format!("Test '{uid}' depends on a source named '{s}.{t}' which was not found; the test is disabled"),
                            )
                            .in_file(file)
                            .with_span(span),
                        );
                    }
                    None => {
                        let text = std::fs::read_to_string(file).unwrap_or_default();
                        let span = span.or_else(|| Span::find(&text, &format!("'{t}'"), 0));
                        errors.push(
                            Diagnostic::error("unknown-source", format!("'{uid}' depends on a source named '{s}.{t}' which was not found"))
                                .in_file(file)
                                .with_span(span),
                        );
                    }
                }
            }
            deps
        };
        // Resolved in node order, then written back in the same order: no
        // lookup by unique_id per node.
        let resolved: Vec<(Vec<String>, Option<String>)> = self
            .manifest
            .nodes
            .values()
            .map(|n| {
                let deps = resolve(&n.unique_id, &n.package_name, &n.refs, &n.sources, &n.file, n.span, n.resource_type);
                // The tested resource of a generic test: generic_tests puts it
                // first in `sources` (a test declared on a source table) or
                // in `refs`.
                let attached = if n.resource_type != ResourceType::Test || n.test_metadata.is_none() {
                    None
                } else if self.source_tests.contains(&n.unique_id) {
                    n.sources.first().and_then(|(s, t)| source_ids.get(&(s.as_str(), t.as_str()))).map(|id| id.to_string())
                } else {
                    self.node_tests.get(&n.unique_id).and_then(|call| resolve_ref(&by_name, &n.package_name, root, call))
                };
                (deps, attached)
            })
            .collect();
        let exposure_deps: Vec<Vec<String>> = self
            .manifest
            .exposures
            .values()
            .map(|e| resolve(&e.unique_id, &e.package_name, &e.refs, &e.sources, &self.props.exposure_file(&e.name), None, ResourceType::Exposure))
            .collect();
        for (n, (deps, attached)) in self.manifest.nodes.values_mut().zip(resolved) {
            if attached.is_some() {
                n.attached_node = attached;
            }
            n.depends_on.nodes = deps;
        }
        for (e, deps) in self.manifest.exposures.values_mut().zip(exposure_deps) {
            e.depends_on.nodes = deps;
        }
        for uid in disabled_tests {
            if let Some(n) = self.manifest.nodes.get_mut(&uid) {
                n.config.0.insert("enabled".into(), Value::Bool(false));
            }
        }
        for e in errors {
            self.diags.push(e);
        }
        vec![]
    }
}

/// Generic and singular tests default to this custom schema (used when they
/// store failures).
const TEST_AUDIT_SCHEMA: &str = "dbt_test__audit";

/// dbt's `unrendered_config`: the config as written at each level
/// (dbt_project.yml, YAML properties, `config()` in the file), later levels
/// replacing earlier keys rather than merging them.
fn unrendered_config(levels: &[&Map<String, Value>]) -> Map<String, Value> {
    let mut out = Map::new();
    for level in levels {
        for (k, v) in level.iter() {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Renders `{{ doc('name') }}` in descriptions of nodes, columns and
/// sources; an unknown doc block is an error at the YAML file.
fn render_descriptions(manifest: &mut Manifest, diags: &mut Diagnostics) {
    let docs: HashMap<(String, String), String> =
        manifest.docs.values().map(|d| ((d.package_name.clone(), d.name.clone()), d.block_contents.clone())).collect();
    let mut env = minijinja::Environment::new();
    env.add_function("doc", move |args: minijinja::value::Rest<String>| -> Result<String, minijinja::Error> {
        let (pkg, name) = match args.as_slice() {
            [n] => (None, n.clone()),
            [p, n] => (Some(p.clone()), n.clone()),
            _ => return Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "doc() takes 1 or 2 names")),
        };
        docs.iter()
            .find(|((p, n), _)| *n == name && pkg.as_ref().is_none_or(|want| want == p))
            .map(|(_, text)| text.clone())
            .ok_or_else(|| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("documentation for '{name}' not found (no {{% docs {name} %}} block)")))
    });
    let mut render = |text: &mut String, file: &Path, span: Option<Span>| {
        if !text.contains("{{") && !text.contains("{%") {
            return;
        }
        match env.render_str(text, ()) {
            Ok(out) => *text = out,
            Err(e) => {
                let span = span.or_else(|| std::fs::read_to_string(file).ok().and_then(|t| Span::find(&t, "doc(", 0)));
                diags.push(Diagnostic::error("doc", jinja::describe_error(&e)).in_file(file).with_span(span));
            }
        }
    };
    for n in manifest.nodes.values_mut() {
        let file = n.patch_path.as_ref().and_then(|p| p.split_once("://")).map(|(_, p)| p.to_string());
        let file = match (&file, n.file.parent()) {
            _ if n.test_metadata.is_some() => n.file.clone(),
            (Some(rel), _) => {
                let root = n.file.to_string_lossy().strip_suffix(&n.original_file_path).map(std::path::PathBuf::from);
                root.map(|r| r.join(rel)).unwrap_or_else(|| n.file.clone())
            }
            _ => n.file.clone(),
        };
        render(&mut n.description, &file, None);
        for c in n.columns.values_mut() {
            render(&mut c.description, &file, None);
        }
    }
    for s in manifest.sources.values_mut() {
        let file = s.file.clone();
        render(&mut s.description, &file, s.span);
        render(&mut s.source_description, &file, s.span);
        for c in s.columns.values_mut() {
            render(&mut c.description, &file, s.span);
        }
    }
}

fn resolve_ref(by_name: &HashMap<&str, Vec<&Node>>, from_package: &str, root: &str, r: &RefCall) -> Option<String> {
    let candidates = by_name.get(r.name.as_str())?;
    let pick = |pkg: &str| candidates.iter().find(|n| n.package_name == pkg && (r.version.is_none() || n.version == r.version));
    let found = match &r.package {
        Some(p) => pick(p),
        None => pick(from_package).or_else(|| pick(root)).or_else(|| candidates.iter().find(|n| r.version.is_none() || n.version == r.version)),
    };
    found.map(|n| n.unique_id.clone())
}

/// Renders test-argument strings that call `ref`/`source` so the calls are
/// recorded at parse time.
fn record_arg_refs(env: &JinjaEnv, ctx: &Arc<NodeCtx>, v: &Value) -> Result<(), minijinja::Error> {
    match v {
        Value::String(s) => {
            if looks_like_function(s) {
                env.render("test-arg", &format!("{{{{ {s} }}}}"), ctx)?;
            } else if s.contains("{{") || s.contains("{%") {
                env.render("test-arg", s, ctx)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| record_arg_refs(env, ctx, i)),
        Value::Object(m) => m.values().try_for_each(|i| record_arg_refs(env, ctx, i)),
        _ => Ok(()),
    }
}

/// dbt treats a test argument written as `ref('x')`, `source(..)`,
/// `var(..)`, `env_var(..)` or `doc(..)` as a Jinja expression.
pub fn looks_like_function(s: &str) -> bool {
    let t = s.trim();
    ["ref", "source", "var", "env_var", "doc"].iter().any(|f| {
        t.strip_prefix(f).map(|rest| rest.trim_start().starts_with('(') && t.ends_with(')')).unwrap_or(false)
    })
}

/// Renders a snapshot's SQL with `execute=false`, recording its calls.
/// `offset` is where `text` starts in `file` (for error positions).
fn parse_render_snapshot(env: &JinjaEnv, globals: &Arc<Globals>, package: &str, node: &Node, text: &str, offset: usize) -> Result<jinja::Recorded, Diagnostic> {
    let mut ctx = NodeCtx::new(globals.clone(), env.macros.clone(), Phase::Parse, package);
    ctx.model = jinja::jv(serde_json::json!({
        "name": node.name,
        "unique_id": node.unique_id,
        "resource_type": "snapshot",
        "package_name": package,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "config": {},
        "tags": [],
        "refs": [],
        "sources": [],
    }));
    let ctx = Arc::new(ctx);
    env.render(&format!("{package}:{}#{}", node.original_file_path, node.name), text, &ctx)
        .map_err(|e| jinja::render_error_to_diagnostic(&e, &env.macros, &node.file, offset, "jinja"))?;
    Ok(ctx.recorded())
}

impl NodeParser<'_> {
    /// Every `{% snapshot name %}` block of a file under snapshot-paths.
    fn snapshot_file(&mut self, f: &SourceFile) {
        let blocks = match find_blocks(&f.text) {
            Ok(b) => b,
            Err(e) => {
                self.diags.push(Diagnostic::error("jinja-syntax", e.message).at(&f.path, e.span));
                return;
            }
        };
        for b in blocks {
            if b.kind != BlockKind::Snapshot {
                self.diags.push(
                    Diagnostic::error("snapshot-block", format!("a file in snapshot-paths may only hold {{% snapshot %}} blocks, found {{% {} %}}", b.kind.tag()))
                        .at(&f.path, Span::new(b.span.start, b.body.start)),
                );
                continue;
            }
            let tag = Span::new(b.span.start, b.body.start);
            if b.name.is_empty() {
                self.diags.push(Diagnostic::error("snapshot-block", "a {% snapshot %} block needs a name: {% snapshot my_snapshot %}").at(&f.path, tag));
                continue;
            }
            let mut node = self.new_node(f, ResourceType::Snapshot, &b.name);
            // dbt: a snapshot's fqn includes its file name.
            let stem_path = f.resource_path.rsplit_once('.').map_or(f.resource_path.as_str(), |(s, _)| s);
            node.fqn = std::iter::once(f.package.clone()).chain(stem_path.split('/').map(str::to_string)).chain(std::iter::once(b.name.clone())).collect();
            let body = &f.text[b.body.start..b.body.end];
            node.raw_code = body.to_string();
            node.span = Some(b.body);
            match parse_render_snapshot(self.env, self.globals, &f.package, &node, body, b.body.start) {
                Ok(rec) => self.snapshot_node(node, rec, &f.text, b.span, tag),
                Err(d) => self.diags.push(d),
            }
        }
    }

    /// `snapshots:` entries of properties YAML with a `relation:` (dbt >= 1.9).
    fn yaml_snapshots(&mut self) {
        let defined: Vec<properties::Patch> =
            self.props.patches.values().filter(|p| p.kind == ResourceType::Snapshot && p.relation.is_some()).cloned().collect();
        for p in defined {
            let relation = p.relation.clone().unwrap_or_default();
            let text = std::fs::read_to_string(&p.file).unwrap_or_default();
            let f = SourceFile {
                package: p.package.clone(),
                kind: FileKind::Properties,
                path: p.file.clone(),
                original_file_path: p.original_file_path.clone(),
                resource_path: p.resource_path.clone(),
                text: String::new(),
            };
            let mut node = self.new_node(&f, ResourceType::Snapshot, &p.name);
            node.path = format!("{}/{}.sql", p.resource_path, p.name);
            node.raw_code = format!("select * from {{{{ {relation} }}}}");
            // dbt: the checksum of the YAML file that defines it.
            node.checksum = file_checksum(&text);
            node.span = Some(p.span);
            let rec = match parse_render_snapshot(self.env, self.globals, &p.package, &node, &node.raw_code, 0) {
                Ok(rec) => rec,
                Err(mut d) => {
                    d.span = Some(p.span);
                    self.diags.push(d);
                    continue;
                }
            };
            // The entry: from its `name:` to the next entry (or the end).
            let entry = Span::new(p.span.start, text[p.span.end.min(text.len())..].find("\n  - ").map_or(text.len(), |i| p.span.end + i));
            self.snapshot_node(node, rec, &text, entry, p.span);
        }
    }

    /// Config (project tree, YAML, `config()`), validation, names.
    fn snapshot_node(&mut self, mut node: Node, rec: jinja::Recorded, text: &str, block: Span, tag: Span) {
        node.refs = rec.refs;
        node.sources = rec.sources;
        node.depends_on.macros = rec.macros.into_iter().collect();
        let mut cfg = self.project_config(&node.package_name, ResourceType::Snapshot, &node.fqn);
        let patch = self.props.patch(ResourceType::Snapshot, &node.package_name, &node.name).cloned();
        let empty = Map::new();
        node.unrendered_config = unrendered_config(&[&cfg, patch.as_ref().map_or(&empty, |p| &p.config), &rec.config]);
        if let Some(p) = &patch {
            crate::config::tree::merge(&mut cfg, &p.config);
        }
        crate::config::tree::merge(&mut cfg, &rec.config);
        cfg.insert("materialized".into(), Value::from("snapshot"));
        let config = NodeConfig(cfg.clone());
        if config.enabled() {
            if let Err(e) = crate::materialize::snapshot::SnapshotSpec::from_config(&config) {
                // Point at the key when the block names it, else at the block's opening.
                let inside = &text[block.start.min(text.len())..block.end.min(text.len())];
                let span = inside.find(e.key).map(|i| Span::new(block.start + i, block.start + i + e.key.len())).unwrap_or(tag);
                self.diags.push(
                    Diagnostic::error("snapshot-config", format!("Invalid config for snapshot '{}': {}", node.name, e.message)).at(&node.file, span),
                );
                return;
            }
        }
        self.finish_node(node, cfg, patch);
    }
}
