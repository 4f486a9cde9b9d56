//! dbt's node selection: `--select`/`--exclude` syntax, selection methods,
//! graph operators, set operators and indirect (test) selection.
//!
//! Grammar of one CLI argument: tokens separated by whitespace are a union;
//! inside a token, parts separated by `,` are an intersection; each part is
//! `[@][N+][method[.arg...]:]value[+N]`. Several `--select` arguments are a
//! union, and `--exclude` is subtracted from it at the end.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde_json::Value;

use super::glob::{Pattern, has_wildcard};
use super::selectors::Selectors;
use super::{Bits, Graph};
use crate::diag::Diagnostic;
use crate::manifest::{Exposure, Manifest, Node, NodeConfig, ResourceType, SourceDefinition};

/// What a command asked for on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectionSpec {
    /// One entry per `--select` argument; an entry may hold several
    /// space-separated tokens (a union).
    pub select: Vec<String>,
    /// One entry per `--exclude` argument.
    pub exclude: Vec<String>,
    /// `--selector name` from selectors.yml; when given, `select` and
    /// `exclude` are ignored, as in dbt.
    pub selector: Option<String>,
    /// The node types the command acts on; empty means every type.
    pub resource_types: Vec<ResourceType>,
}

/// How tests attached to selected nodes are pulled in (`--indirect-selection`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IndirectSelection {
    /// A test is selected when any of its parents is selected.
    #[default]
    Eager,
    /// Only when all of its parents are selected.
    Cautious,
    /// Only when all of its parents are selected or upstream of the selection.
    Buildable,
    /// Tests are never selected indirectly.
    Empty,
}

impl IndirectSelection {
    pub fn parse(s: &str) -> Option<IndirectSelection> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "eager" => IndirectSelection::Eager,
            "cautious" => IndirectSelection::Cautious,
            "buildable" => IndirectSelection::Buildable,
            "empty" => IndirectSelection::Empty,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            IndirectSelection::Eager => "eager",
            IndirectSelection::Cautious => "cautious",
            IndirectSelection::Buildable => "buildable",
            IndirectSelection::Empty => "empty",
        }
    }
}

/// A parsed selection.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectExpr {
    Criteria(Criteria),
    Union(Vec<SelectExpr>),
    Intersection(Vec<SelectExpr>),
    /// Members of the first, minus members of the second.
    Difference(Box<SelectExpr>, Box<SelectExpr>),
}

/// A selection method (the part before `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// No method written: `path`, `file` or `fqn`, decided by the value.
    Default,
    Fqn,
    Tag,
    Group,
    Access,
    Source,
    Path,
    File,
    Package,
    /// `config.<key>[.<subkey>...]`
    Config(Vec<String>),
    TestName,
    TestType,
    ResourceType,
    Exposure,
    Version,
    /// Another selector from selectors.yml.
    Selector,
    Metric,
    SemanticModel,
    SavedQuery,
    UnitTest,
    State,
    Result,
    SourceStatus,
}

const METHOD_NAMES: &[&str] = &[
    "fqn",
    "tag",
    "group",
    "access",
    "source",
    "path",
    "file",
    "package",
    "config",
    "test_name",
    "test_type",
    "resource_type",
    "exposure",
    "version",
    "selector",
    "metric",
    "semantic_model",
    "saved_query",
    "unit_test",
    "state",
    "result",
    "source_status",
];

impl Method {
    /// Parses `tag`, `config.materialized`, ...
    pub fn parse(name: &str) -> Result<Method, String> {
        let mut parts = name.split('.');
        let head = parts.next().unwrap_or_default();
        let args: Vec<String> = parts.map(str::to_string).collect();
        let method = match head {
            "fqn" => Method::Fqn,
            "tag" => Method::Tag,
            "group" => Method::Group,
            "access" => Method::Access,
            "source" => Method::Source,
            "path" => Method::Path,
            "file" => Method::File,
            "package" => Method::Package,
            "config" => {
                if args.is_empty() || args.iter().any(String::is_empty) {
                    return Err("the `config` method needs a key, as in `config.materialized:table`".into());
                }
                return Ok(Method::Config(args));
            }
            "test_name" => Method::TestName,
            "test_type" => Method::TestType,
            "resource_type" => Method::ResourceType,
            "exposure" => Method::Exposure,
            "version" => Method::Version,
            "selector" => Method::Selector,
            "metric" => Method::Metric,
            "semantic_model" => Method::SemanticModel,
            "saved_query" => Method::SavedQuery,
            "unit_test" => Method::UnitTest,
            "state" => Method::State,
            "result" => Method::Result,
            "source_status" => Method::SourceStatus,
            _ => {
                return Err(format!("unknown selection method `{head}`; expected one of: {}", METHOD_NAMES.join(", ")));
            }
        };
        if !args.is_empty() {
            return Err(format!("the `{head}` method takes no arguments (got `{name}`)"));
        }
        Ok(method)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Method::Default => "",
            Method::Fqn => "fqn",
            Method::Tag => "tag",
            Method::Group => "group",
            Method::Access => "access",
            Method::Source => "source",
            Method::Path => "path",
            Method::File => "file",
            Method::Package => "package",
            Method::Config(args) => return write!(f, "config.{}", args.join(".")),
            Method::TestName => "test_name",
            Method::TestType => "test_type",
            Method::ResourceType => "resource_type",
            Method::Exposure => "exposure",
            Method::Version => "version",
            Method::Selector => "selector",
            Method::Metric => "metric",
            Method::SemanticModel => "semantic_model",
            Method::SavedQuery => "saved_query",
            Method::UnitTest => "unit_test",
            Method::State => "state",
            Method::Result => "result",
            Method::SourceStatus => "source_status",
        };
        f.write_str(s)
    }
}

/// One selection criterion with its graph operators.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    /// The text it was parsed from (for messages); built for YAML dicts.
    pub raw: String,
    pub method: Method,
    pub value: String,
    /// `+x`: include ancestors (up to `parents_depth` generations).
    pub parents: bool,
    pub parents_depth: Option<usize>,
    /// `x+`: include descendants (up to `children_depth` generations).
    pub children: bool,
    pub children_depth: Option<usize>,
    /// `@x`: x, its descendants, and the ancestors of all of those.
    pub childrens_parents: bool,
    /// Overrides the command's indirect selection mode (selectors.yml).
    pub indirect_selection: Option<IndirectSelection>,
}

impl Criteria {
    pub fn new(method: Method, value: impl Into<String>) -> Criteria {
        let value = value.into();
        let raw = match method {
            Method::Default => value.clone(),
            ref m => format!("{m}:{value}"),
        };
        Criteria {
            raw,
            method,
            value,
            parents: false,
            parents_depth: None,
            children: false,
            children_depth: None,
            childrens_parents: false,
            indirect_selection: None,
        }
    }

    /// Parses one part of a token: `[@][N+][method:]value[+N]`.
    pub fn parse(raw: &str) -> Result<Criteria, String> {
        let mut s = raw;
        let childrens_parents = s.starts_with('@');
        if childrens_parents {
            s = &s[1..];
        }
        let lead = s.bytes().take_while(u8::is_ascii_digit).count();
        let (mut parents, mut parents_depth) = (false, None);
        if s[lead..].starts_with('+') {
            parents = true;
            if lead > 0 {
                parents_depth = Some(parse_depth(&s[..lead], raw)?);
            }
            s = &s[lead + 1..];
        }
        let trail = s.bytes().rev().take_while(u8::is_ascii_digit).count();
        let before = &s[..s.len() - trail];
        let (mut children, mut children_depth) = (false, None);
        if let Some(stripped) = before.strip_suffix('+') {
            children = true;
            if trail > 0 {
                children_depth = Some(parse_depth(&s[s.len() - trail..], raw)?);
            }
            s = stripped;
        }
        if childrens_parents && parents {
            return Err(format!("`{raw}`: the `@` operator cannot be combined with a leading `+`"));
        }
        let (method, value) = match s.find(':') {
            Some(i) if is_method_name(&s[..i]) => (Method::parse(&s[..i]).map_err(|e| format!("`{raw}`: {e}"))?, &s[i + 1..]),
            _ => (Method::Default, s),
        };
        if value.is_empty() {
            return Err(format!("`{raw}` has no value to select"));
        }
        Ok(Criteria {
            raw: raw.to_string(),
            method,
            value: value.to_string(),
            parents,
            parents_depth,
            children,
            children_depth,
            childrens_parents,
            indirect_selection: None,
        })
    }

    fn has_graph_operators(&self) -> bool {
        self.parents || self.children || self.childrens_parents
    }
}

fn parse_depth(digits: &str, raw: &str) -> Result<usize, String> {
    digits.parse().map_err(|_| format!("`{raw}`: depth `{digits}` is not a valid number"))
}

fn is_method_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Parses one `--select`/`--exclude` argument (spaces = union, commas =
/// intersection).
pub fn parse_cli_arg(arg: &str) -> Result<SelectExpr, Diagnostic> {
    parse_arg(arg).map_err(|e| selection_error(e, arg))
}

fn selection_error(message: String, arg: &str) -> Diagnostic {
    Diagnostic::error("selection", format!("invalid selection: {message}"))
        .note(format!("in `{arg}`"))
        .note("syntax: [@][N+][method:]value[+N], `,` intersects, a space unions; see https://docs.getdbt.com/reference/node-selection/syntax")
}

pub(crate) fn parse_arg(arg: &str) -> Result<SelectExpr, String> {
    let mut union = Vec::new();
    for token in arg.split_whitespace() {
        let mut parts = Vec::new();
        for part in token.split(',') {
            if part.is_empty() {
                return Err(format!("`{token}` has an empty part around `,`"));
            }
            parts.push(SelectExpr::Criteria(Criteria::parse(part)?));
        }
        union.push(if parts.len() == 1 { parts.remove(0) } else { SelectExpr::Intersection(parts) });
    }
    if union.is_empty() {
        return Err("empty selection argument".into());
    }
    Ok(if union.len() == 1 { union.remove(0) } else { SelectExpr::Union(union) })
}

/// Nodes selected, and what dbt would warn about on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub selected: BTreeSet<String>,
    /// A `--select` criterion that matched nothing (`selection-unmatched`).
    pub warnings: Vec<Diagnostic>,
}

/// Selected unique_ids, restricted to `spec.resource_types`, with dbt's
/// default (eager) indirect selection of tests.
pub fn select(manifest: &Manifest, graph: &Graph, spec: &SelectionSpec, selectors: &Selectors) -> Result<BTreeSet<String>, Diagnostic> {
    select_with(manifest, graph, spec, selectors, IndirectSelection::Eager).map(|s| s.selected)
}

/// [`select`] with an explicit `--indirect-selection` mode, also returning
/// warnings.
pub fn select_with(
    manifest: &Manifest,
    graph: &Graph,
    spec: &SelectionSpec,
    selectors: &Selectors,
    indirect: IndirectSelection,
) -> Result<Selection, Diagnostic> {
    let mut ev = Eval::new(manifest, graph, selectors);
    let (direct, _) = if let Some(name) = &spec.selector {
        ev.eval_selector(name, indirect)?
    } else if spec.select.is_empty() && spec.exclude.is_empty() && selectors.default_selector().is_some() {
        let name = selectors.default_selector().map(|d| d.name.clone()).unwrap_or_default();
        ev.eval_selector(&name, indirect)?
    } else {
        let include = if spec.select.is_empty() {
            SelectExpr::Criteria(Criteria::new(Method::Fqn, "*"))
        } else {
            let mut args = Vec::new();
            for arg in &spec.select {
                args.push(parse_cli_arg(arg)?);
            }
            SelectExpr::Union(args)
        };
        if spec.exclude.is_empty() {
            ev.eval(&include, indirect, !spec.select.is_empty())?
        } else {
            let mut args = Vec::new();
            for arg in &spec.exclude {
                args.push(parse_cli_arg(arg)?);
            }
            let expr = SelectExpr::Difference(Box::new(include), Box::new(SelectExpr::Union(args)));
            ev.eval(&expr, indirect, !spec.select.is_empty())?
        }
    };
    let mut selected = BTreeSet::new();
    for i in direct.iter() {
        let keep = spec.resource_types.is_empty() || ev.verts[i].resource_type().is_some_and(|t| spec.resource_types.contains(&t));
        if keep {
            selected.insert(graph.id_at(i).to_string());
        }
    }
    Ok(Selection { selected, warnings: ev.warnings })
}

// ---------------------------------------------------------------------------
// Evaluation

#[derive(Clone, Copy)]
pub(crate) enum Vertex<'a> {
    Node(&'a Node),
    Source(&'a SourceDefinition),
    Exposure(&'a Exposure),
    Missing,
}

impl<'a> Vertex<'a> {
    fn resource_type(&self) -> Option<ResourceType> {
        match self {
            Vertex::Node(n) => Some(n.resource_type),
            Vertex::Source(_) => Some(ResourceType::Source),
            Vertex::Exposure(_) => Some(ResourceType::Exposure),
            Vertex::Missing => None,
        }
    }
    fn fqn(&self) -> &'a [String] {
        match self {
            Vertex::Node(n) => &n.fqn,
            Vertex::Source(s) => &s.fqn,
            Vertex::Exposure(e) => &e.fqn,
            Vertex::Missing => &[],
        }
    }
    fn package(&self) -> &'a str {
        match self {
            Vertex::Node(n) => &n.package_name,
            Vertex::Source(s) => &s.package_name,
            Vertex::Exposure(e) => &e.package_name,
            Vertex::Missing => "",
        }
    }
    fn original_file_path(&self) -> &'a str {
        match self {
            Vertex::Node(n) => &n.original_file_path,
            Vertex::Source(s) => &s.original_file_path,
            Vertex::Exposure(e) => &e.original_file_path,
            Vertex::Missing => "",
        }
    }
    fn tags(&self) -> Vec<String> {
        let (own, config): (&[String], Option<&NodeConfig>) = match self {
            Vertex::Node(n) => (&n.tags, Some(&n.config)),
            Vertex::Source(s) => (&s.tags, Some(&s.config)),
            Vertex::Exposure(e) => (&e.tags, Some(&e.config)),
            Vertex::Missing => (&[], None),
        };
        let mut tags: Vec<String> = own.to_vec();
        if let Some(c) = config {
            tags.extend(c.tags());
        }
        tags
    }
    fn config(&self) -> Option<&'a NodeConfig> {
        match self {
            Vertex::Node(n) => Some(&n.config),
            Vertex::Source(s) => Some(&s.config),
            Vertex::Exposure(e) => Some(&e.config),
            Vertex::Missing => None,
        }
    }
    fn node(&self) -> Option<&'a Node> {
        match self {
            Vertex::Node(n) => Some(n),
            _ => None,
        }
    }
    fn is_test(&self) -> bool {
        matches!(self, Vertex::Node(n) if n.resource_type == ResourceType::Test)
    }
}

type Sets = (Bits, Bits);

struct Eval<'a> {
    manifest: &'a Manifest,
    graph: &'a Graph,
    selectors: &'a Selectors,
    verts: Vec<Vertex<'a>>,
    /// Selectors being evaluated, to stop reference cycles.
    stack: Vec<String>,
    warnings: Vec<Diagnostic>,
}

impl<'a> Eval<'a> {
    fn new(manifest: &'a Manifest, graph: &'a Graph, selectors: &'a Selectors) -> Eval<'a> {
        let verts = graph
            .ids()
            .map(|id| {
                if let Some(n) = manifest.nodes.get(id) {
                    Vertex::Node(n)
                } else if let Some(s) = manifest.sources.get(id) {
                    Vertex::Source(s)
                } else if let Some(e) = manifest.exposures.get(id) {
                    Vertex::Exposure(e)
                } else {
                    Vertex::Missing
                }
            })
            .collect();
        Eval { manifest, graph, selectors, verts, stack: Vec::new(), warnings: Vec::new() }
    }

    /// Returns (direct, indirect) like dbt: `direct` is what is selected;
    /// `indirect` holds tests that a cautious/buildable mode may still add
    /// once sets are combined.
    fn eval(&mut self, expr: &SelectExpr, mode: IndirectSelection, warn: bool) -> Result<Sets, Diagnostic> {
        match expr {
            SelectExpr::Criteria(c) => self.eval_criteria(c, mode, warn),
            SelectExpr::Union(items) | SelectExpr::Intersection(items) => {
                let is_union = matches!(expr, SelectExpr::Union(_));
                let mut direct: Option<Bits> = None;
                let mut indirect: Option<Bits> = None;
                for item in items {
                    let (d, i) = self.eval(item, mode, warn)?;
                    let both = d.union(&i);
                    match (&mut direct, &mut indirect) {
                        (Some(dd), Some(ii)) if is_union => {
                            dd.union_with(&d);
                            ii.union_with(&both);
                        }
                        (Some(dd), Some(ii)) => {
                            dd.intersect_with(&d);
                            ii.intersect_with(&both);
                        }
                        _ => {
                            direct = Some(d);
                            indirect = Some(both);
                        }
                    }
                }
                let direct = direct.unwrap_or_else(|| self.graph.empty_set());
                let indirect = indirect.unwrap_or_else(|| self.graph.empty_set());
                Ok((self.incorporate(direct, &indirect, mode), indirect))
            }
            SelectExpr::Difference(include, exclude) => {
                let (mut d, i) = self.eval(include, mode, warn)?;
                let (xd, xi) = self.eval(exclude, mode, false)?;
                d.subtract(&xd);
                let mut indirect = d.union(&i);
                indirect.subtract(&xd.union(&xi));
                Ok((self.incorporate(d, &indirect, mode), indirect))
            }
        }
    }

    fn eval_selector(&mut self, name: &str, mode: IndirectSelection) -> Result<Sets, Diagnostic> {
        let Some(def) = self.selectors.get(name) else {
            let known: Vec<&str> = self.selectors.selectors.iter().map(|s| s.name.as_str()).collect();
            let mut d = Diagnostic::error("selection", format!("unknown selector `{name}`"));
            d = if known.is_empty() {
                d.note("no selectors are defined (selectors.yml)")
            } else {
                d.note(format!("selectors defined in selectors.yml: {}", known.join(", ")))
            };
            if let Some(f) = &self.selectors.file {
                d = d.in_file(f);
            }
            return Err(d);
        };
        if self.stack.iter().any(|s| s == name) {
            let mut path = self.stack.clone();
            path.push(name.to_string());
            let mut d = Diagnostic::error("selection", format!("selector `{name}` refers to itself"))
                .note(format!("cycle: {}", path.join(" -> ")));
            if let Some(f) = &self.selectors.file {
                d = d.in_file(f).with_span(def.span);
            }
            return Err(d);
        }
        self.stack.push(name.to_string());
        let out = self.eval(&def.definition, mode, false);
        self.stack.pop();
        out
    }

    fn eval_criteria(&mut self, c: &Criteria, mode: IndirectSelection, warn: bool) -> Result<Sets, Diagnostic> {
        let mode = c.indirect_selection.unwrap_or(mode);
        let collected = if c.method == Method::Selector {
            let (d, i) = self.eval_selector(&c.value, mode)?;
            if !c.has_graph_operators() {
                return Ok((d, i));
            }
            d
        } else {
            self.collect(c).map_err(|e| selection_error(e, &c.raw))?
        };
        if warn && collected.is_empty() {
            self.warnings.push(Diagnostic::warning(
                "selection-unmatched",
                format!("the selection criterion `{}` does not match any enabled nodes", c.raw),
            ));
        }
        let mut selected = collected.clone();
        if c.childrens_parents {
            let down = self.graph.closure(&collected, None, false).union(&collected);
            selected.union_with(&down);
            selected.union_with(&self.graph.closure(&down, None, true));
        } else {
            if c.parents {
                selected.union_with(&self.graph.closure(&collected, c.parents_depth, true));
            }
            if c.children {
                selected.union_with(&self.graph.closure(&collected, c.children_depth, false));
            }
        }
        if mode == IndirectSelection::Empty {
            return Ok((selected, self.graph.empty_set()));
        }
        Ok(self.expand(selected, mode))
    }

    /// Adds the tests attached to `selected` (dbt's expand_selection).
    fn expand(&self, selected: Bits, mode: IndirectSelection) -> Sets {
        let mut direct = selected.clone();
        let mut indirect = self.graph.empty_set();
        let upstream = (mode == IndirectSelection::Buildable).then(|| self.graph.closure(&selected, None, true).union(&selected));
        for s in selected.iter() {
            for &t in self.graph.children_of(s) {
                if selected.contains(t) || !self.verts[t].is_test() {
                    continue;
                }
                let parents = self.graph.parents_of(t);
                let take = match mode {
                    IndirectSelection::Eager => true,
                    IndirectSelection::Cautious => parents.iter().all(|&p| selected.contains(p)),
                    IndirectSelection::Buildable => {
                        parents.iter().all(|&p| upstream.as_ref().is_some_and(|u| u.contains(p)))
                    }
                    IndirectSelection::Empty => false,
                };
                if take {
                    direct.insert(t);
                } else {
                    indirect.insert(t);
                }
            }
        }
        (direct, indirect)
    }

    /// After combining sets, cautious/buildable modes add the tests whose
    /// parents all ended up selected (dbt's incorporate_indirect_nodes).
    fn incorporate(&self, mut direct: Bits, indirect: &Bits, mode: IndirectSelection) -> Bits {
        let allowed = match mode {
            IndirectSelection::Eager | IndirectSelection::Empty => return direct,
            IndirectSelection::Cautious => direct.clone(),
            IndirectSelection::Buildable => self.graph.closure(&direct, None, true).union(&direct),
        };
        for t in indirect.iter() {
            if !direct.contains(t) && self.verts[t].is_test() && self.graph.parents_of(t).iter().all(|&p| allowed.contains(p)) {
                direct.insert(t);
            }
        }
        direct
    }

    /// The vertices a method matches, before graph operators.
    fn collect(&self, c: &Criteria) -> Result<Bits, String> {
        let value = c.value.as_str();
        let method = if c.method == Method::Default { self.default_method(value) } else { c.method.clone() };
        let mut out = self.graph.empty_set();
        let mut add_if = |f: &dyn Fn(&Vertex<'a>) -> bool| {
            for (i, v) in self.verts.iter().enumerate() {
                if f(v) {
                    out.insert(i);
                }
            }
        };
        match method {
            Method::Default | Method::Fqn => {
                let sel = FqnSelector::new(value)?;
                add_if(&|v| {
                    let versioned = v.node().is_some_and(|n| n.version.is_some());
                    sel.matches(v.fqn(), versioned)
                });
            }
            Method::Tag => {
                let p = Pattern::new(value, false)?;
                add_if(&|v| v.tags().iter().any(|t| p.matches(t)));
            }
            Method::Group => {
                let p = Pattern::new(value, false)?;
                add_if(&|v| {
                    v.node().and_then(|n| n.group.clone().or_else(|| n.config.get_str("group").map(str::to_string))).is_some_and(|g| p.matches(&g))
                });
            }
            Method::Access => {
                if !matches!(value, "public" | "protected" | "private") && !has_wildcard(value) {
                    return Err(format!("`access:{value}`: access must be one of public, protected, private"));
                }
                let p = Pattern::new(value, false)?;
                add_if(&|v| {
                    v.node().filter(|n| n.resource_type == ResourceType::Model).is_some_and(|n| {
                        let access = n.access.as_deref().or_else(|| n.config.get_str("access")).unwrap_or("protected");
                        p.matches(access)
                    })
                });
            }
            Method::Source => {
                let parts: Vec<&str> = value.split('.').collect();
                if parts.len() > 3 {
                    return Err(format!("`source:{value}`: expected `source_name`, `source_name.table` or `package.source_name.table`"));
                }
                let pats = parts.iter().map(|p| Pattern::new(p, false)).collect::<Result<Vec<_>, _>>()?;
                add_if(&|v| match v {
                    Vertex::Source(s) => match pats.as_slice() {
                        [src] => src.matches(&s.source_name),
                        [src, table] => src.matches(&s.source_name) && table.matches(&s.name),
                        [pkg, src, table] => pkg.matches(&s.package_name) && src.matches(&s.source_name) && table.matches(&s.name),
                        _ => false,
                    },
                    _ => false,
                });
            }
            Method::Path => {
                let wanted = normalize_path(value);
                if wanted.is_empty() {
                    add_if(&|v| !v.original_file_path().is_empty());
                } else {
                    let p = Pattern::new(&wanted, true)?;
                    add_if(&|v| path_matches(&p, v.original_file_path()));
                }
            }
            Method::File => {
                let p = Pattern::new(value, false)?;
                add_if(&|v| {
                    let ofp = v.original_file_path();
                    if ofp.is_empty() {
                        return false;
                    }
                    let name = ofp.rsplit(['/', '\\']).next().unwrap_or(ofp);
                    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
                    p.matches(name) || p.matches(stem)
                });
            }
            Method::Package => {
                let wanted = if value == "this" { self.manifest.project_name.as_str() } else { value };
                let p = Pattern::new(wanted, false)?;
                add_if(&|v| !matches!(v, Vertex::Missing) && p.matches(v.package()));
            }
            Method::Config(keys) => {
                add_if(&|v| v.config().is_some_and(|cfg| config_matches(v, cfg, &keys, value)));
            }
            Method::TestName => {
                let p = Pattern::new(value, false)?;
                add_if(&|v| {
                    v.node().and_then(|n| n.test_metadata.as_ref()).is_some_and(|tm| {
                        p.matches(&tm.name) || tm.namespace.as_ref().is_some_and(|ns| p.matches(&format!("{ns}.{}", tm.name)))
                    })
                });
            }
            Method::TestType => {
                let want: fn(&Node) -> bool = match value {
                    "generic" | "schema" => |n| n.test_metadata.is_some(),
                    "singular" => |n| n.test_metadata.is_none(),
                    "data" => |_| true,
                    "unit" => |_| false,
                    _ => {
                        return Err(format!(
                            "`test_type:{value}`: expected one of generic, singular, data, unit (or the older alias schema)"
                        ));
                    }
                };
                add_if(&|v| v.node().is_some_and(|n| n.resource_type == ResourceType::Test && want(n)));
            }
            Method::ResourceType => {
                const OTHER: &[&str] = &["metric", "semantic_model", "saved_query", "unit_test", "function", "rpc", "sql_operation"];
                match ResourceType::parse(value) {
                    Some(t) => add_if(&|v| v.resource_type() == Some(t)),
                    None if OTHER.contains(&value) => {}
                    None => {
                        return Err(format!(
                            "`resource_type:{value}`: unknown resource type; expected one of model, seed, snapshot, test, source, exposure, analysis, operation, ..."
                        ));
                    }
                }
            }
            Method::Exposure => {
                let parts: Vec<&str> = value.split('.').collect();
                let pats = parts.iter().map(|p| Pattern::new(p, false)).collect::<Result<Vec<_>, _>>()?;
                add_if(&|v| match v {
                    Vertex::Exposure(e) => match pats.as_slice() {
                        [name] => name.matches(&e.name),
                        [pkg, name] => pkg.matches(&e.package_name) && name.matches(&e.name),
                        _ => false,
                    },
                    _ => false,
                });
            }
            Method::Version => {
                if !matches!(value, "latest" | "prerelease" | "old" | "none") {
                    return Err(format!("`version:{value}`: expected one of latest, prerelease, old, none"));
                }
                add_if(&|v| {
                    v.node().filter(|n| n.resource_type == ResourceType::Model).is_some_and(|n| match (&n.version, value) {
                        (None, "none") => true,
                        (None, _) | (Some(_), "none") => false,
                        (Some(ver), _) => {
                            let latest = n.latest_version.as_deref().unwrap_or(ver);
                            let ord = compare_versions(ver, latest);
                            match value {
                                "latest" => ord.is_eq(),
                                "prerelease" => ord.is_gt(),
                                _ => ord.is_lt(),
                            }
                        }
                    })
                });
            }
            Method::Metric | Method::SemanticModel | Method::SavedQuery | Method::UnitTest => {
                // rdbt has no such resources: nothing to match.
            }
            Method::State | Method::Result | Method::SourceStatus => {
                return Err(format!(
                    "the `{method}` method compares against a previous run's artifacts (--state), which rdbt does not support yet"
                ));
            }
            Method::Selector => {
                // Handled by the caller.
            }
        }
        Ok(out)
    }

    /// dbt's rule for a value with no method: a path when it looks like one
    /// (has a separator, or names an existing top-level folder or file), a
    /// file name when it ends in .sql/.py/.csv, otherwise an fqn.
    fn default_method(&self, value: &str) -> Method {
        if value.contains('/') || value.contains('\\') {
            return Method::Path;
        }
        let lower = value.to_ascii_lowercase();
        if [".sql", ".py", ".csv"].iter().any(|ext| lower.ends_with(ext)) {
            return Method::File;
        }
        let exists = !has_wildcard(value)
            && self.verts.iter().any(|v| {
                let ofp = v.original_file_path();
                ofp == value || ofp.strip_prefix(value).is_some_and(|rest| rest.starts_with('/'))
            });
        if exists { Method::Path } else { Method::Fqn }
    }
}

/// fqn matching: the leaf name, a dotted prefix of the fqn (with or without
/// the package), or a wildcard pattern over the rest of it.
struct FqnSelector {
    value: String,
    parts: Vec<String>,
    /// Index of the first part with a wildcard and the pattern of the parts
    /// from there on.
    wildcard: Option<(usize, Pattern)>,
}

impl FqnSelector {
    fn new(value: &str) -> Result<FqnSelector, String> {
        let parts: Vec<String> = value.split('.').map(str::to_string).collect();
        let wildcard = match parts.iter().position(|p| has_wildcard(p)) {
            Some(i) => Some((i, Pattern::new(&parts[i..].join("."), false)?)),
            None => None,
        };
        Ok(FqnSelector { value: value.to_string(), parts, wildcard })
    }

    fn matches(&self, fqn: &[String], versioned: bool) -> bool {
        let n = fqn.len();
        if n == 0 {
            return false;
        }
        if versioned && n >= 2 {
            if fqn[n - 2] == self.value {
                return true;
            }
            // `model.v2` and `model_v2` both name version 2 of `model`.
            let tail = &self.parts[self.parts.len().saturating_sub(2)..];
            if format!("{}_{}", fqn[n - 2], fqn[n - 1]) == tail.join("_") {
                return true;
            }
        } else if fqn[n - 1] == self.value {
            return true;
        }
        let flat: Vec<&str> = fqn.iter().flat_map(|s| s.split('.')).collect();
        self.prefix_matches(&flat) || self.prefix_matches(&flat[1..])
    }

    fn prefix_matches(&self, flat: &[&str]) -> bool {
        if self.parts.len() > flat.len() {
            return false;
        }
        for (i, part) in self.parts.iter().enumerate() {
            if let Some((at, pattern)) = &self.wildcard
                && *at == i
            {
                return pattern.matches(&flat[i..].join("."));
            }
            if flat[i] != part {
                return false;
            }
        }
        true
    }
}

fn normalize_path(value: &str) -> String {
    let mut s = value.replace('\\', "/");
    while let Some(rest) = s.strip_prefix("./") {
        s = rest.to_string();
    }
    while s.ends_with('/') {
        s.pop();
    }
    if s == "." { String::new() } else { s }
}

/// The file itself, or any folder that contains it, matches.
fn path_matches(p: &Pattern, ofp: &str) -> bool {
    if ofp.is_empty() {
        return false;
    }
    let ofp = ofp.replace('\\', "/");
    if p.matches(&ofp) {
        return true;
    }
    ofp.match_indices('/').any(|(i, _)| p.matches(&ofp[..i]))
}

fn config_matches(v: &Vertex<'_>, cfg: &NodeConfig, keys: &[String], wanted: &str) -> bool {
    let mut cur: Option<&Value> = cfg.get(&keys[0]);
    if cur.is_none() && keys.len() == 1 && keys[0] == "materialized" {
        // The default materialization, when the parser left it implicit.
        let default = match v.resource_type() {
            Some(ResourceType::Model) => "view",
            Some(ResourceType::Seed) => "seed",
            Some(ResourceType::Snapshot) => "snapshot",
            Some(ResourceType::Test) => "test",
            _ => return false,
        };
        return default == wanted;
    }
    for key in &keys[1..] {
        cur = cur.and_then(|c| c.as_object()).and_then(|o| o.get(key.as_str()));
    }
    let Some(value) = cur else { return false };
    let Ok(pattern) = Pattern::new(wanted, false) else { return false };
    let scalar = |v: &Value| match v {
        Value::String(s) => pattern.matches(s),
        Value::Bool(b) => wanted.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == wanted || n.as_f64().zip(wanted.parse::<f64>().ok()).is_some_and(|(a, b)| a == b),
        _ => false,
    };
    match value {
        Value::Array(items) => items.iter().any(scalar),
        other => scalar(other),
    }
}

fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// The names of every selector a definition refers to (for validation).
pub(crate) fn referenced_selectors(expr: &SelectExpr, out: &mut HashSet<String>) {
    match expr {
        SelectExpr::Criteria(c) if c.method == Method::Selector => {
            out.insert(c.value.clone());
        }
        SelectExpr::Criteria(_) => {}
        SelectExpr::Union(items) | SelectExpr::Intersection(items) => {
            for i in items {
                referenced_selectors(i, out);
            }
        }
        SelectExpr::Difference(a, b) => {
            referenced_selectors(a, out);
            referenced_selectors(b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_support::*;
    use serde_json::json;

    /// A small jaffle-shop-like project:
    ///
    /// seed raw_customers -> stg_customers -> customers -> report -> exposure dashboard
    /// source jaffle.orders -> stg_orders -> customers;  stg_customers -> snapshot cust_snap
    /// source strava.activities -> stg_activities -> activity_summary
    pub(crate) fn project() -> Manifest {
        let mut customers = in_dir(test_node("model.p.customers", &["model.p.stg_customers", "model.p.stg_orders"]), "marts");
        customers.config.set("materialized", json!("table"));
        customers.config.set("unique_key", json!(["id", "email"]));
        customers.config.set("meta", json!({"owner": "alice", "pii": true}));
        customers.config.set("enabled", json!(true));
        customers.tags = vec!["nightly".into()];
        customers.group = Some("finance".into());
        customers.access = Some("public".into());
        let mut summary = in_dir(test_node("model.p.activity_summary", &["model.p.stg_activities"]), "marts");
        summary.config.set("materialized", json!("incremental"));
        summary.config.set("tags", json!(["hourly"]));
        let mut stg_customers = in_dir(test_node("model.p.stg_customers", &["seed.p.raw_customers"]), "staging");
        stg_customers.tags = vec!["staging".into()];
        let mut private = test_node("model.p.secret", &[]);
        private.access = Some("private".into());
        let mut pkg_model = test_node("model.other_pkg.pkg_model", &[]);
        pkg_model.original_file_path = "models/pkg_model.sql".into();
        let mut source_test = generic_test("test.p.source_not_null_strava_activities_id", "not_null", &["source.p.strava.activities"]);
        source_test.tags = vec!["source_tests".into()];
        let mut unique = generic_test("test.p.unique_stg_orders_id", "unique", &["model.p.stg_orders"]);
        unique.test_metadata = Some(crate::manifest::TestMetadata {
            name: "unique_combination".into(),
            namespace: Some("dbt_utils".into()),
            kwargs: Default::default(),
        });
        let mut m = manifest(vec![
            test_node("seed.p.raw_customers", &[]),
            stg_customers,
            in_dir(test_node("model.p.stg_orders", &["source.p.jaffle.orders"]), "staging"),
            in_dir(test_node("model.p.stg_activities", &["source.p.strava.activities"]), "staging"),
            customers,
            summary,
            in_dir(test_node("model.p.report", &["model.p.customers"]), "marts/finance"),
            test_node("snapshot.p.cust_snap", &["model.p.stg_customers"]),
            private,
            pkg_model,
            generic_test("test.p.not_null_customers_id", "not_null", &["model.p.customers"]),
            unique,
            generic_test("test.p.relationships_customers_activities", "relationships", &["model.p.customers", "model.p.stg_activities"]),
            generic_test("test.p.relationships_customers_stg_customers", "relationships", &["model.p.customers", "model.p.stg_customers"]),
            test_node("test.p.assert_positive", &["model.p.report"]),
            source_test,
        ]);
        add_source(&mut m, "jaffle", "orders");
        add_source(&mut m, "strava", "activities");
        add_source(&mut m, "strava", "athletes");
        add_exposure(&mut m, "dashboard", &["model.p.report"]);
        m
    }

    fn short(ids: BTreeSet<String>) -> Vec<String> {
        let mut v: Vec<String> = ids.into_iter().map(|id| id.rsplit('.').next().unwrap_or_default().to_string()).collect();
        v.sort();
        v
    }

    fn run(m: &Manifest, select: &[&str], exclude: &[&str], types: &[ResourceType], mode: IndirectSelection) -> Result<Selection, Diagnostic> {
        let g = Graph::build(m).expect("graph");
        let spec = SelectionSpec {
            select: select.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            selector: None,
            resource_types: types.to_vec(),
        };
        select_with(m, &g, &spec, &Selectors::default(), mode)
    }

    /// Short names of everything selected (all resource types, eager).
    fn all(select: &[&str]) -> Vec<String> {
        short(run(&project(), select, &[], &[], IndirectSelection::Eager).expect("select").selected)
    }
    fn of(select: &[&str], types: &[ResourceType]) -> Vec<String> {
        short(run(&project(), select, &[], types, IndirectSelection::Eager).expect("select").selected)
    }
    fn models(select: &[&str]) -> Vec<String> {
        of(select, &[ResourceType::Model])
    }
    fn tests(select: &[&str], mode: IndirectSelection) -> Vec<String> {
        short(run(&project(), select, &[], &[ResourceType::Test], mode).expect("select").selected)
    }
    fn err(select: &[&str]) -> Diagnostic {
        run(&project(), select, &[], &[], IndirectSelection::Eager).expect_err("should fail")
    }
    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bare_name_selects_model_and_its_tests() {
        assert_eq!(
            all(&["customers"]),
            v(&["customers", "not_null_customers_id", "relationships_customers_activities", "relationships_customers_stg_customers"])
        );
        assert_eq!(models(&["customers"]), v(&["customers"]));
    }

    #[test]
    fn fqn_paths_packages_and_wildcards() {
        assert_eq!(models(&["staging.stg_orders"]), v(&["stg_orders"]));
        assert_eq!(models(&["p.staging.stg_orders"]), v(&["stg_orders"]));
        assert_eq!(models(&["fqn:staging"]), v(&["stg_activities", "stg_customers", "stg_orders"]));
        assert_eq!(models(&["marts.finance"]), v(&["report"]));
        assert_eq!(models(&["other_pkg"]), v(&["pkg_model"]));
        assert_eq!(models(&["stg_*"]), Vec::<String>::new(), "a wildcard does not skip folders");
        assert_eq!(models(&["staging.stg_c*"]), v(&["stg_customers"]));
        assert_eq!(models(&["*.finance.*"]), v(&["report"]));
        assert_eq!(models(&["fqn:*"]).len(), 8);
        assert_eq!(models(&["*"]).len(), 8);
        assert_eq!(of(&["orders"], &[ResourceType::Source]), v(&["orders"]), "a source's fqn ends with its table");
        assert_eq!(models(&["fqn:p.marts.report"]), Vec::<String>::new());
    }

    #[test]
    fn versioned_models() {
        let mut v1 = test_node("model.p.dim.v1", &[]);
        v1.name = "dim".into();
        v1.fqn = vec!["p".into(), "dim".into(), "v1".into()];
        v1.version = Some("1".into());
        v1.latest_version = Some("2".into());
        let mut v2 = v1.clone();
        v2.unique_id = "model.p.dim.v2".into();
        v2.fqn[2] = "v2".into();
        v2.version = Some("2".into());
        let mut v3 = v1.clone();
        v3.unique_id = "model.p.dim.v3".into();
        v3.fqn[2] = "v3".into();
        v3.version = Some("3".into());
        let m = manifest(vec![v1, v2, v3, test_node("model.p.plain", &[])]);
        let pick = |s: &str| short(run(&m, &[s], &[], &[], IndirectSelection::Eager).expect("select").selected);
        assert_eq!(pick("dim"), v(&["v1", "v2", "v3"]));
        assert_eq!(pick("dim.v2"), v(&["v2"]));
        assert_eq!(pick("dim_v2"), v(&["v2"]));
        assert_eq!(pick("version:latest"), v(&["v2"]));
        assert_eq!(pick("version:old"), v(&["v1"]));
        assert_eq!(pick("version:prerelease"), v(&["v3"]));
        assert_eq!(pick("version:none"), v(&["plain"]));
        assert!(run(&m, &["version:newest"], &[], &[], IndirectSelection::Eager).is_err());
    }

    #[test]
    fn path_method_and_default_path_rules() {
        assert_eq!(models(&["path:models/staging"]), v(&["stg_activities", "stg_customers", "stg_orders"]));
        assert_eq!(models(&["models/staging/"]), v(&["stg_activities", "stg_customers", "stg_orders"]));
        assert_eq!(models(&["./models/marts/finance/report.sql"]), v(&["report"]));
        assert_eq!(models(&["path:models/marts/*"]), v(&["activity_summary", "customers", "report"]));
        assert_eq!(models(&["path:models/*/stg_o*.sql"]), v(&["stg_orders"]));
        assert_eq!(models(&["path:models/**/report.sql"]), v(&["report"]));
        // `seeds` exists as a top-level folder, so it is a path, not an fqn.
        assert_eq!(all(&["seeds"]), v(&["raw_customers"]));
        // Sources and generic tests live in YAML files under models/.
        assert_eq!(of(&["models"], &[ResourceType::Source]), v(&["activities", "athletes", "orders"]));
        assert_eq!(all(&["path:models/sources.yml"]), v(&["activities", "athletes", "orders", "source_not_null_strava_activities_id"]));
        assert_eq!(models(&["path:."]).len(), 8);
    }

    #[test]
    fn file_method() {
        assert_eq!(models(&["file:customers.sql"]), v(&["customers"]));
        assert_eq!(models(&["customers.sql"]), v(&["customers"]));
        assert_eq!(models(&["file:customers"]), v(&["customers"]));
        assert_eq!(models(&["file:stg_*.sql"]), v(&["stg_activities", "stg_customers", "stg_orders"]));
        assert_eq!(all(&["raw_customers.csv"]), v(&["raw_customers"]));
    }

    #[test]
    fn tag_config_and_resource_type() {
        assert_eq!(models(&["tag:nightly"]), v(&["customers"]));
        assert_eq!(models(&["tag:hourly"]), v(&["activity_summary"]), "tags from config");
        assert_eq!(models(&["tag:*ly"]), v(&["activity_summary", "customers"]));
        assert_eq!(tests(&["tag:source_tests"], IndirectSelection::Eager), v(&["source_not_null_strava_activities_id"]));
        assert_eq!(models(&["config.materialized:table"]), v(&["customers"]));
        assert_eq!(models(&["config.materialized:incremental"]), v(&["activity_summary"]));
        assert_eq!(models(&["config.materialized:view"]).len(), 6);
        assert_eq!(of(&["config.materialized:seed"], &[ResourceType::Seed]), v(&["raw_customers"]));
        assert_eq!(models(&["config.unique_key:email"]), v(&["customers"]));
        assert_eq!(models(&["config.meta.owner:alice"]), v(&["customers"]));
        assert_eq!(models(&["config.meta.pii:true"]), v(&["customers"]));
        assert_eq!(models(&["config.enabled:True"]), v(&["customers"]));
        assert_eq!(models(&["config.meta.owner:bob"]), Vec::<String>::new());
        assert_eq!(all(&["resource_type:snapshot"]), v(&["cust_snap"]));
        assert_eq!(all(&["resource_type:exposure"]), v(&["dashboard"]));
        assert_eq!(all(&["resource_type:semantic_model"]), Vec::<String>::new());
        assert_eq!(err(&["resource_type:modle"]).code, "selection");
    }

    #[test]
    fn source_exposure_package_group_access() {
        assert_eq!(all(&["source:strava"]), v(&["activities", "athletes", "source_not_null_strava_activities_id"]));
        assert_eq!(of(&["source:strava.activities"], &[ResourceType::Source]), v(&["activities"]));
        assert_eq!(of(&["source:p.strava.ath*"], &[ResourceType::Source]), v(&["athletes"]));
        assert_eq!(of(&["source:*"], &[ResourceType::Source]).len(), 3);
        assert_eq!(models(&["source:strava+"]), v(&["activity_summary", "stg_activities"]));
        assert_eq!(err(&["source:a.b.c.d"]).code, "selection");
        assert_eq!(all(&["exposure:dashboard"]), v(&["dashboard"]));
        assert_eq!(models(&["+exposure:*"]), v(&["customers", "report", "stg_customers", "stg_orders"]));
        assert_eq!(all(&["package:other_pkg"]), v(&["pkg_model"]));
        assert_eq!(models(&["package:this"]).len(), 7);
        assert_eq!(models(&["package:other_*"]), v(&["pkg_model"]));
        assert_eq!(models(&["group:finance"]), v(&["customers"]));
        assert_eq!(models(&["access:public"]), v(&["customers"]));
        assert_eq!(models(&["access:private"]), v(&["secret"]));
        assert_eq!(models(&["access:protected"]).len(), 6, "models default to protected");
        assert_eq!(err(&["access:open"]).code, "selection");
    }

    #[test]
    fn test_type_and_test_name() {
        let none = IndirectSelection::Eager;
        assert_eq!(tests(&["test_type:singular"], none), v(&["assert_positive"]));
        assert_eq!(tests(&["test_type:generic"], none).len(), 5);
        assert_eq!(tests(&["test_type:schema"], none).len(), 5);
        assert_eq!(tests(&["test_type:data"], none).len(), 6);
        assert_eq!(tests(&["test_type:unit"], none), Vec::<String>::new());
        assert_eq!(err(&["test_type:bogus"]).code, "selection");
        assert_eq!(tests(&["test_name:not_null"], none), v(&["not_null_customers_id", "source_not_null_strava_activities_id"]));
        assert_eq!(tests(&["test_name:rel*"], none), v(&["relationships_customers_activities", "relationships_customers_stg_customers"]));
        assert_eq!(tests(&["test_name:dbt_utils.unique_combination"], none), v(&["unique_stg_orders_id"]));
        assert_eq!(tests(&["test_name:unique_combination"], none), v(&["unique_stg_orders_id"]));
        // Intersection with a model: its singular tests only.
        assert_eq!(tests(&["report,test_type:singular"], none), v(&["assert_positive"]));
    }

    #[test]
    fn graph_operators() {
        assert_eq!(models(&["+customers"]), v(&["customers", "stg_customers", "stg_orders"]));
        assert_eq!(
            of(&["+customers"], &[ResourceType::Model, ResourceType::Seed, ResourceType::Source]),
            v(&["customers", "orders", "raw_customers", "stg_customers", "stg_orders"])
        );
        assert_eq!(models(&["1+report"]), v(&["customers", "report"]));
        assert_eq!(models(&["2+report"]), v(&["customers", "report", "stg_customers", "stg_orders"]));
        assert_eq!(models(&["stg_customers+"]), v(&["customers", "report", "stg_customers"]));
        assert_eq!(models(&["stg_customers+1"]), v(&["customers", "stg_customers"]));
        assert_eq!(of(&["stg_customers+1"], &[ResourceType::Snapshot]), v(&["cust_snap"]));
        assert_eq!(models(&["1+customers+1"]), v(&["customers", "report", "stg_customers", "stg_orders"]));
        assert_eq!(models(&["+report+"]), v(&["customers", "report", "stg_customers", "stg_orders"]));
        // @: descendants of stg_orders and every ancestor of those (including
        // stg_activities, a parent of a test on customers).
        assert_eq!(
            models(&["@stg_orders"]),
            v(&["customers", "report", "stg_activities", "stg_customers", "stg_orders"])
        );
        assert_eq!(err(&["@+customers"]).code, "selection");
        // Graph operators select tests directly too.
        assert_eq!(tests(&["report+"], IndirectSelection::Empty), v(&["assert_positive"]));
    }

    #[test]
    fn set_operators() {
        assert_eq!(models(&["stg_orders stg_customers"]), v(&["stg_customers", "stg_orders"]));
        assert_eq!(models(&["stg_orders", "stg_customers"]), v(&["stg_customers", "stg_orders"]));
        assert_eq!(models(&["tag:nightly,config.materialized:table"]), v(&["customers"]));
        assert_eq!(models(&["tag:nightly,config.materialized:view"]), Vec::<String>::new());
        assert_eq!(models(&["+customers,stg_customers+"]), v(&["customers", "stg_customers"]));
        assert_eq!(models(&["staging,tag:staging customers"]), v(&["customers", "stg_customers"]));
        let m = project();
        let r = run(&m, &["+report"], &["stg_orders customers"], &[ResourceType::Model], IndirectSelection::Eager).expect("select");
        assert_eq!(short(r.selected), v(&["report", "stg_customers"]));
        let r = run(&m, &["+report"], &["stg_orders", "staging,tag:staging"], &[ResourceType::Model], IndirectSelection::Eager).expect("select");
        assert_eq!(short(r.selected), v(&["customers", "report"]));
    }

    #[test]
    fn empty_select_means_everything_and_exclude_still_applies() {
        let m = project();
        let everything = run(&m, &[], &[], &[], IndirectSelection::Eager).expect("select").selected;
        assert_eq!(everything.len(), Graph::build(&m).expect("graph").len());
        let r = run(&m, &[], &["staging"], &[ResourceType::Model], IndirectSelection::Eager).expect("select");
        assert_eq!(short(r.selected), v(&["activity_summary", "customers", "pkg_model", "report", "secret"]));
        let seeds = run(&m, &[], &[], &[ResourceType::Seed], IndirectSelection::Eager).expect("select");
        assert_eq!(short(seeds.selected), v(&["raw_customers"]));
    }

    #[test]
    fn indirect_selection_modes() {
        let eager = tests(&["customers"], IndirectSelection::Eager);
        assert_eq!(eager, v(&["not_null_customers_id", "relationships_customers_activities", "relationships_customers_stg_customers"]));
        assert_eq!(tests(&["customers"], IndirectSelection::Cautious), v(&["not_null_customers_id"]));
        assert_eq!(
            tests(&["customers"], IndirectSelection::Buildable),
            v(&["not_null_customers_id", "relationships_customers_stg_customers"])
        );
        assert_eq!(tests(&["customers"], IndirectSelection::Empty), Vec::<String>::new());
        // Cautious: a test is added once all its parents are selected, even
        // through separate arguments.
        assert_eq!(
            tests(&["customers", "stg_customers"], IndirectSelection::Cautious),
            v(&["not_null_customers_id", "relationships_customers_stg_customers"])
        );
        assert_eq!(
            tests(&["customers stg_activities"], IndirectSelection::Cautious),
            v(&["not_null_customers_id", "relationships_customers_activities"])
        );
        // Tests on sources come along with the source.
        assert_eq!(tests(&["source:strava"], IndirectSelection::Eager), v(&["source_not_null_strava_activities_id"]));
    }

    #[test]
    fn excluding_a_node_excludes_its_tests() {
        let m = project();
        let r = run(&m, &[], &["customers"], &[ResourceType::Test], IndirectSelection::Eager).expect("select");
        assert_eq!(
            short(r.selected),
            v(&["assert_positive", "source_not_null_strava_activities_id", "unique_stg_orders_id"])
        );
        let r = run(&m, &["+report"], &["stg_customers"], &[ResourceType::Test, ResourceType::Model], IndirectSelection::Eager)
            .expect("select");
        assert_eq!(
            short(r.selected),
            v(&[
                "assert_positive",
                "customers",
                "not_null_customers_id",
                "relationships_customers_activities",
                "report",
                "stg_orders",
                "unique_stg_orders_id"
            ])
        );
    }

    #[test]
    fn syntax_errors_and_unknown_methods() {
        for bad in ["foo:bar", "a,,b", "config:table", "tag.x:y", "+", "@", "tag:", "99999999999999999999999+x"] {
            let d = err(&[bad]);
            assert_eq!(d.code, "selection", "{bad}");
            assert!(d.is_error());
        }
        let d = err(&["foo:bar"]);
        assert!(d.message.contains("unknown selection method `foo`"), "{}", d.message);
        assert!(err(&["state:modified"]).message.contains("--state"));
    }

    #[test]
    fn unmatched_criteria_warn() {
        let r = run(&project(), &["nothing_here customers"], &["also_nothing"], &[], IndirectSelection::Eager).expect("select");
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].code, "selection-unmatched");
        assert!(r.warnings[0].message.contains("nothing_here"));
    }

    #[test]
    fn criteria_parsing() {
        let c = Criteria::parse("@config.materialized:table").expect("parse");
        assert_eq!(c.method, Method::Config(vec!["materialized".into()]));
        assert!(c.childrens_parents && !c.parents && !c.children);
        let c = Criteria::parse("3+path:models/x+12").expect("parse");
        assert_eq!((c.parents, c.parents_depth, c.children, c.children_depth), (true, Some(3), true, Some(12)));
        assert_eq!(c.value, "models/x");
        let c = Criteria::parse("2020_orders").expect("parse");
        assert_eq!((c.method, c.value.as_str(), c.parents), (Method::Default, "2020_orders", false));
        assert!(matches!(parse_arg("a b,c").expect("parse"), SelectExpr::Union(items) if items.len() == 2));
    }
}
