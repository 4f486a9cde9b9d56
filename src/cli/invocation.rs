//! What every command does first: load config, parse, build the graph,
//! open the engine. Errors come back as diagnostics (exit code 2).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use crate::adapter::Adapter;
use crate::artifacts::ArtifactMeta;
use crate::compile::{Compiler, ManifestResolver};
use crate::config::{Config, Flags};
use crate::diag::{Diagnostic, Diagnostics};
use crate::graph::{Graph, SelectionSpec, Selectors};
use crate::jinja::{Globals, JinjaEnv};
use crate::manifest::{Manifest, ResourceType};
use crate::run::output::{LogFormat, Output};

pub struct Invocation {
    pub config: Arc<Config>,
    pub manifest: Arc<Manifest>,
    pub jinja: Arc<JinjaEnv>,
    pub graph: Graph,
    pub selectors: Selectors,
    pub output: Arc<Output>,
    pub invocation_id: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub parse_seconds: f64,
}

impl Invocation {
    /// Loads and parses the project; prints warnings.
    pub fn load(flags: &Flags, format: LogFormat) -> Result<Invocation, (Diagnostics, Option<std::path::PathBuf>)> {
        let started_at = chrono::Utc::now();
        let t0 = Instant::now();
        let config = crate::config::load(flags).map_err(|d| (d, flags.project_dir.clone()))?;
        crate::deps::check_installed(&config).map_err(|d| (d, Some(config.root.root.clone())))?;
        let root = config.root.root.clone();
        let config = Arc::new(config);
        let output = Arc::new(Output::new(format, Some(root.clone())));
        let phase = crate::timing::phase;
        let t = phase("config", t0);
        let parsed = crate::parser::parse(&config).map_err(|d| (d, Some(root.clone())))?;
        let t = phase("parse", t);
        for w in &parsed.warnings {
            output.diagnostic(w);
        }
        let graph = Graph::build(&parsed.manifest).map_err(|d| (Diagnostics(d), Some(root.clone())))?;
        phase("graph", t);
        let selectors_file = root.join("selectors.yml");
        let selectors = match std::fs::read_to_string(&selectors_file) {
            Ok(text) => crate::graph::parse_selectors(&text, &selectors_file).map_err(|d| (Diagnostics(vec![d]), Some(root.clone())))?,
            Err(_) => Selectors::default(),
        };
        for w in &selectors.warnings {
            output.diagnostic(w);
        }
        Ok(Invocation {
            config,
            manifest: Arc::new(parsed.manifest),
            jinja: parsed.jinja,
            graph,
            selectors,
            output,
            invocation_id: uuid::Uuid::new_v4().to_string(),
            started_at,
            parse_seconds: t0.elapsed().as_secs_f64(),
        })
    }

    pub fn select(&self, sel: &super::Selection, resource_types: Vec<ResourceType>) -> Result<Vec<String>, Diagnostic> {
        let mut types = resource_types;
        if !sel.resource_type.is_empty() {
            let asked: Vec<ResourceType> = sel
                .resource_type
                .iter()
                .map(|t| ResourceType::parse(t).ok_or_else(|| Diagnostic::error("selection", format!("unknown resource type '{t}'"))))
                .collect::<Result<_, _>>()?;
            types = if types.is_empty() { asked } else { types.into_iter().filter(|t| asked.contains(t)).collect() };
        }
        let spec = SelectionSpec { select: sel.select.clone(), exclude: sel.exclude.clone(), selector: sel.selector.clone(), resource_types: types };
        let selected: BTreeSet<String> = crate::graph::select(&self.manifest, &self.graph, &spec, &self.selectors)?;
        Ok(self.graph.topo_order(&selected))
    }

    pub fn open_adapter(&self) -> Result<Arc<dyn Adapter>, Diagnostic> {
        let t = &self.config.target;
        let engine = if t.adapter_type == "datafusion" { "DataFusion" } else { "DuckDB" };
        crate::adapter::open(t)
            .map_err(|e| Diagnostic::error("connection", format!("could not open {engine} database '{}': {}", t.path, e.message)))
    }

    pub fn compiler(&self, which: &str, adapter: Option<Arc<dyn Adapter>>, selected: &[String]) -> Arc<Compiler> {
        let mut globals = Globals::new(self.config.clone(), self.invocation_id.clone(), which);
        globals.run_started_at = self.started_at;
        globals.adapter = adapter;
        globals.resolver = Some(Arc::new(ManifestResolver::new(self.manifest.clone())));
        globals.manifest = Some(self.manifest.clone());
        globals.selected = selected.to_vec();
        Arc::new(Compiler::new(self.config.clone(), self.manifest.clone(), self.jinja.clone(), Arc::new(globals)))
    }

    pub fn meta(&self) -> ArtifactMeta {
        ArtifactMeta::new(&self.config.root.name, &self.config.target.adapter_type, &self.invocation_id, self.started_at)
    }

    /// target/manifest.json.
    pub fn write_manifest(&self, runs: &BTreeMap<String, crate::artifacts::NodeRunInfo>) {
        let selectors = serde_json::Map::new();
        let t = Instant::now();
        let path = self.config.target_dir().join("manifest.json");
        let meta = self.meta().generated_now(chrono::Utc::now());
        if let Err(e) = crate::artifacts::write_manifest_atomic(&path, &self.manifest, &meta, runs, &selectors) {
            self.output.warn(&format!("could not write {}: {e}", path.display()));
        }
        crate::timing::phase("manifest.json", t);
    }
}
