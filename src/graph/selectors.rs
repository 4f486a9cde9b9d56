//! `selectors.yml`: named selections.
//!
//! ```yaml
//! selectors:
//!   - name: nightly
//!     description: optional
//!     default: true            # used when no --select/--exclude/--selector
//!     definition:              # one of:
//!       'tag:nightly +orders'  #   CLI syntax
//!       # tag: nightly         #   method: value
//!       # method: tag          #   full dict with graph-operator keywords
//!       # value: nightly
//!       # children: true
//!       # exclude: [...]
//!       # union: [...] / intersection: [...], items may be `exclude: [...]`
//! ```

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::select::{Criteria, IndirectSelection, Method, SelectExpr, parse_arg, referenced_selectors};
use crate::diag::{Diagnostic, Span};

/// The selectors of a project (empty when it has no selectors.yml).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selectors {
    /// The selectors.yml file, for diagnostics.
    pub file: Option<PathBuf>,
    pub selectors: Vec<SelectorDef>,
    /// Unknown keys and similar non-fatal findings.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectorDef {
    pub name: String,
    pub description: Option<String>,
    pub default: bool,
    pub definition: SelectExpr,
    /// Where the selector's name is written in the file.
    pub span: Option<Span>,
}

impl Selectors {
    pub fn get(&self, name: &str) -> Option<&SelectorDef> {
        self.selectors.iter().find(|s| s.name == name)
    }
    /// The selector marked `default: true`, if any.
    pub fn default_selector(&self) -> Option<&SelectorDef> {
        self.selectors.iter().find(|s| s.default)
    }
}

/// Parses selectors.yml. The text must already be Jinja-rendered if it uses
/// Jinja (dbt renders `default: "{{ target.name == 'dev' }}"`).
pub fn parse_selectors(text: &str, file: &Path) -> Result<Selectors, Diagnostic> {
    let err = |message: String, span: Option<Span>| Diagnostic::error("selection", message).in_file(file).with_span(span);
    let doc: Value = serde_yaml::from_str(text).map_err(|e| {
        let span = e.location().map(|l| Span::from_line_col(text, l.line(), l.column()));
        Diagnostic::error("yaml-syntax", format!("selectors.yml is not valid YAML: {e}")).in_file(file).with_span(span)
    })?;
    let mut out = Selectors { file: Some(file.to_path_buf()), ..Selectors::default() };
    let top = match &doc {
        Value::Null => return Ok(out),
        Value::Mapping(m) => m,
        _ => return Err(err("selectors.yml must be a mapping with a `selectors:` list".into(), None)),
    };
    for key in top.keys() {
        if key.as_str() != Some("selectors") {
            out.warnings.push(
                Diagnostic::warning("selection", format!("unknown key `{}` in selectors.yml is ignored", key_text(key))).in_file(file),
            );
        }
    }
    let items = match top.get("selectors") {
        None => return Err(err("selectors.yml has no top-level `selectors:` list".into(), None)),
        Some(Value::Null) => return Ok(out),
        Some(Value::Sequence(items)) => items,
        Some(_) => return Err(err("`selectors` must be a list".into(), Span::find(text, "selectors", 0))),
    };

    let mut search_from = 0;
    let mut seen: HashMap<String, Option<Span>> = HashMap::new();
    for (pos, item) in items.iter().enumerate() {
        let Some(map) = item.as_mapping() else {
            return Err(err(format!("selector #{} must be a mapping with `name` and `definition`", pos + 1), None));
        };
        let name = match map.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => scalar_text(v).unwrap_or_default(),
            _ => return Err(err(format!("selector #{} has no `name`", pos + 1), None)),
        };
        // The name as written after the next `name` key (a good enough
        // locator without a span-aware YAML parser).
        let span = Span::find(text, "name", search_from).and_then(|key| Span::find(text, &name, key.end));
        if let Some(s) = span {
            search_from = s.end;
        }
        let fail = |msg: String| err(format!("selector `{name}`: {msg}"), span);
        if seen.contains_key(&name) {
            return Err(fail("defined more than once".into()));
        }
        seen.insert(name.clone(), span);
        let description = match map.get("description") {
            None | Some(Value::Null) => None,
            Some(v) => Some(scalar_text(v).ok_or_else(|| fail("`description` must be a string".into()))?),
        };
        let default = match map.get("default") {
            None | Some(Value::Null) => false,
            Some(v) => as_bool(v).ok_or_else(|| fail("`default` must be true or false".into()))?,
        };
        let Some(def_value) = map.get("definition") else {
            return Err(fail("has no `definition`".into()));
        };
        let mut warnings = Vec::new();
        let definition = parse_definition(def_value, &mut warnings).map_err(&fail)?;
        for key in map.keys() {
            let k = key_text(key);
            if !matches!(k.as_str(), "name" | "description" | "default" | "definition") {
                warnings.push(format!("unknown key `{k}` is ignored"));
            }
        }
        for w in warnings {
            out.warnings.push(Diagnostic::warning("selection", format!("selector `{name}`: {w}")).in_file(file).with_span(span));
        }
        out.selectors.push(SelectorDef { name, description, default, definition, span });
    }

    let defaults: Vec<&SelectorDef> = out.selectors.iter().filter(|s| s.default).collect();
    if defaults.len() > 1 {
        let names: Vec<&str> = defaults.iter().map(|s| s.name.as_str()).collect();
        return Err(err(format!("only one selector may set `default: true`, found {}", names.join(", ")), defaults[1].span));
    }
    // References to other selectors must exist and must not loop.
    let mut refs: HashMap<&str, Vec<String>> = HashMap::new();
    for s in &out.selectors {
        let mut names = HashSet::new();
        referenced_selectors(&s.definition, &mut names);
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        for r in &names {
            if !seen.contains_key(r) {
                return Err(err(format!("selector `{}` refers to unknown selector `{r}`", s.name), s.span));
            }
        }
        refs.insert(s.name.as_str(), names);
    }
    for s in &out.selectors {
        if let Some(path) = find_loop(&s.name, &refs, &mut vec![s.name.clone()]) {
            return Err(err(format!("selector `{}` refers to itself", s.name), s.span).note(format!("cycle: {}", path.join(" -> "))));
        }
    }
    Ok(out)
}

fn find_loop(start: &str, refs: &HashMap<&str, Vec<String>>, path: &mut Vec<String>) -> Option<Vec<String>> {
    let current = path.last().cloned().unwrap_or_default();
    for next in refs.get(current.as_str()).into_iter().flatten() {
        if next == start {
            let mut p = path.clone();
            p.push(next.clone());
            return Some(p);
        }
        if path.contains(next) {
            continue;
        }
        path.push(next.clone());
        if let Some(p) = find_loop(start, refs, path) {
            return Some(p);
        }
        path.pop();
    }
    None
}

fn key_text(key: &Value) -> String {
    scalar_text(key).unwrap_or_else(|| "?".into())
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn as_depth(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One definition (or an item of `union`/`intersection`/`exclude`).
fn parse_definition(v: &Value, warnings: &mut Vec<String>) -> Result<SelectExpr, String> {
    match v {
        Value::String(s) => parse_arg(s),
        Value::Number(_) | Value::Bool(_) => parse_arg(&scalar_text(v).unwrap_or_default()),
        Value::Sequence(items) => {
            // Not dbt syntax, but the obvious reading: a union.
            let mut out = Vec::new();
            for item in items {
                out.push(parse_definition(item, warnings)?);
            }
            Ok(SelectExpr::Union(out))
        }
        Value::Mapping(m) => {
            if let Some(items) = m.get("union") {
                return parse_set(items, true, "union", warnings);
            }
            if let Some(items) = m.get("intersection") {
                return parse_set(items, false, "intersection", warnings);
            }
            if m.contains_key("method") {
                return parse_full(m, warnings);
            }
            if m.len() == 1
                && let Some((k, val)) = m.iter().next()
            {
                let key = key_text(k);
                if key == "exclude" {
                    return Err("`exclude` must be an item of a `union`/`intersection` list or a key of a `method:` dictionary".into());
                }
                let method = Method::parse(&key)?;
                let value = scalar_text(val).ok_or_else(|| format!("the value of `{key}` must be a string"))?;
                return Ok(SelectExpr::Criteria(Criteria::new(method, value)));
            }
            let keys: Vec<String> = m.keys().map(key_text).collect();
            Err(format!(
                "cannot read a definition with keys {}; expected `union`, `intersection`, `method` + `value`, or a single `method: value` pair",
                keys.join(", ")
            ))
        }
        Value::Null => Err("empty definition".into()),
        Value::Tagged(t) => parse_definition(&t.value, warnings),
    }
}

fn parse_set(items: &Value, union: bool, key: &str, warnings: &mut Vec<String>) -> Result<SelectExpr, String> {
    let Some(items) = items.as_sequence() else {
        return Err(format!("`{key}` must be a list"));
    };
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for item in items {
        match item.as_mapping().filter(|m| m.len() == 1).and_then(|m| m.get("exclude")) {
            Some(ex) => exclude.extend(parse_exclude(ex, warnings)?),
            None => include.push(parse_definition(item, warnings)?),
        }
    }
    let base = if union { SelectExpr::Union(include) } else { SelectExpr::Intersection(include) };
    Ok(with_exclusions(base, exclude))
}

fn parse_exclude(v: &Value, warnings: &mut Vec<String>) -> Result<Vec<SelectExpr>, String> {
    match v {
        Value::Sequence(items) => items.iter().map(|i| parse_definition(i, warnings)).collect(),
        other => Ok(vec![parse_definition(other, warnings)?]),
    }
}

fn with_exclusions(base: SelectExpr, exclude: Vec<SelectExpr>) -> SelectExpr {
    if exclude.is_empty() {
        base
    } else {
        SelectExpr::Difference(Box::new(base), Box::new(SelectExpr::Union(exclude)))
    }
}

/// `{method, value, children, parents, children_depth, parents_depth,
/// childrens_parents, indirect_selection, exclude}`.
fn parse_full(m: &Mapping, warnings: &mut Vec<String>) -> Result<SelectExpr, String> {
    let method_name = m.get("method").and_then(scalar_text).ok_or("`method` must be a string")?;
    let method = Method::parse(&method_name)?;
    let value = match m.get("value") {
        Some(v) => scalar_text(v).ok_or_else(|| format!("`value` of method `{method_name}` must be a string"))?,
        None => return Err(format!("method `{method_name}` has no `value`")),
    };
    let mut c = Criteria::new(method, value);
    let flag = |key: &str| -> Result<bool, String> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(v) => as_bool(v).ok_or_else(|| format!("`{key}` must be true or false")),
        }
    };
    let depth = |key: &str| -> Result<Option<usize>, String> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => as_depth(v).map(Some).ok_or_else(|| format!("`{key}` must be a non-negative integer")),
        }
    };
    c.parents = flag("parents")?;
    c.children = flag("children")?;
    c.childrens_parents = flag("childrens_parents")?;
    c.parents_depth = depth("parents_depth")?;
    c.children_depth = depth("children_depth")?;
    if c.childrens_parents && c.parents {
        return Err("`childrens_parents` (the `@` operator) cannot be combined with `parents`".into());
    }
    // A depth alone does not turn the operator on (as in dbt).
    if !c.parents {
        c.parents_depth = None;
    }
    if !c.children {
        c.children_depth = None;
    }
    if let Some(v) = m.get("indirect_selection") {
        let s = scalar_text(v).unwrap_or_default();
        c.indirect_selection = Some(
            IndirectSelection::parse(&s)
                .ok_or_else(|| format!("`indirect_selection: {s}` must be one of eager, cautious, buildable, empty"))?,
        );
    }
    c.raw = format!(
        "{}{}{}{}",
        if c.childrens_parents { "@" } else { "" },
        if c.parents { format!("{}+", c.parents_depth.map(|d| d.to_string()).unwrap_or_default()) } else { String::new() },
        c.raw,
        if c.children { format!("+{}", c.children_depth.map(|d| d.to_string()).unwrap_or_default()) } else { String::new() },
    );
    for key in m.keys() {
        let k = key_text(key);
        if !matches!(
            k.as_str(),
            "method"
                | "value"
                | "parents"
                | "children"
                | "childrens_parents"
                | "parents_depth"
                | "children_depth"
                | "indirect_selection"
                | "exclude"
                | "description"
        ) {
            warnings.push(format!("unknown key `{k}` in the `{method_name}` definition is ignored"));
        }
    }
    let exclude = match m.get("exclude") {
        None | Some(Value::Null) => Vec::new(),
        Some(ex) => parse_exclude(ex, warnings)?,
    };
    Ok(with_exclusions(SelectExpr::Criteria(c), exclude))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::select::{SelectionSpec, select, select_with};
    use crate::graph::test_support::*;
    use crate::graph::Graph;
    use crate::manifest::{Manifest, ResourceType};
    use std::collections::BTreeSet;

    fn project() -> Manifest {
        let mut a = test_node("model.p.a", &[]);
        a.tags = vec!["nightly".into()];
        let mut b = in_dir(test_node("model.p.b", &["model.p.a"]), "export");
        b.tags = vec!["nightly".into(), "daily".into()];
        let mut c = test_node("model.p.c", &["model.p.b"]);
        c.config.set("materialized", serde_json::json!("incremental"));
        let mut d = test_node("model.p.d", &["model.p.c"]);
        d.tags = vec!["daily".into()];
        manifest(vec![
            a,
            b,
            c,
            d,
            test_node("model.dep.e", &[]),
            generic_test("test.p.not_null_a_id", "not_null", &["model.p.a"]),
            generic_test("test.p.rel_b_d", "relationships", &["model.p.b", "model.p.d"]),
        ])
    }

    fn parse(yaml: &str) -> Selectors {
        match parse_selectors(yaml, Path::new("/proj/selectors.yml")) {
            Ok(s) => s,
            Err(d) => panic!("parse failed: {}", d.render_with_source(None, Some(yaml))),
        }
    }

    fn names(ids: BTreeSet<String>) -> Vec<String> {
        let mut out: Vec<String> = ids.into_iter().map(|id| id.rsplit('.').next().unwrap_or_default().to_string()).collect();
        out.sort();
        out
    }

    fn run_selector(sel: &Selectors, name: Option<&str>, types: &[ResourceType]) -> Result<Vec<String>, Diagnostic> {
        let m = project();
        let g = Graph::build(&m).expect("graph");
        let spec = SelectionSpec { selector: name.map(str::to_string), resource_types: types.to_vec(), ..Default::default() };
        select(&m, &g, &spec, sel).map(names)
    }

    fn one(definition: &str) -> Vec<String> {
        let yaml = format!("selectors:\n  - name: s\n    definition:\n{}\n", indent(definition, 6));
        run_selector(&parse(&yaml), Some("s"), &[ResourceType::Model]).expect("select")
    }

    fn indent(text: &str, n: usize) -> String {
        text.lines().map(|l| format!("{}{l}", " ".repeat(n))).collect::<Vec<_>>().join("\n")
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn definition_forms() {
        assert_eq!(one("'tag:nightly'"), v(&["a", "b"]));
        assert_eq!(one("'+c'"), v(&["a", "b", "c"]));
        assert_eq!(one("'tag:nightly,tag:daily a'"), v(&["a", "b"]));
        assert_eq!(one("tag: daily"), v(&["b", "d"]));
        assert_eq!(one("config.materialized: incremental"), v(&["c"]));
        assert_eq!(one("method: tag\nvalue: daily"), v(&["b", "d"]));
        assert_eq!(one("method: fqn\nvalue: c\nparents: true\nparents_depth: 1"), v(&["b", "c"]));
        assert_eq!(one("method: fqn\nvalue: b\nchildren: true"), v(&["b", "c", "d"]));
        assert_eq!(one("method: fqn\nvalue: b\nchildren: true\nchildren_depth: 1"), v(&["b", "c"]));
        assert_eq!(one("method: fqn\nvalue: b\nchildren_depth: 1"), v(&["b"]), "depth alone is no operator");
        assert_eq!(one("method: fqn\nvalue: c\nchildrens_parents: true"), v(&["a", "b", "c", "d"]));
        assert_eq!(one("method: fqn\nvalue: '*'"), v(&["a", "b", "c", "d", "e"]));
        assert_eq!(one("method: path\nvalue: models/export"), v(&["b"]));
        assert_eq!(one("method: fqn\nvalue: '*'\nexclude:\n  - '@tag:daily'"), v(&["e"]));
    }

    #[test]
    fn union_intersection_and_exclude() {
        assert_eq!(one("union:\n  - tag: nightly\n  - method: fqn\n    value: d"), v(&["a", "b", "d"]));
        assert_eq!(one("intersection:\n  - tag: nightly\n  - tag: daily"), v(&["b"]));
        assert_eq!(one("union:\n  - method: tag\n    value: nightly\n  - exclude:\n      - method: tag\n        value: daily"), v(&["a"]));
        assert_eq!(
            one("union:\n  - intersection:\n      - '+d'\n      - 'tag:nightly'\n  - c\n  - exclude:\n      - a"),
            v(&["b", "c"])
        );
        assert_eq!(one("intersection:\n  - '+d'\n  - exclude:\n      - tag: nightly"), v(&["c", "d"]));
        // Exclude is applied last within its scope only.
        assert_eq!(one("union:\n  - union:\n      - a\n      - exclude: [a]\n  - a"), v(&["a"]));
    }

    #[test]
    fn exclusion_drops_tests_and_indirect_selection_key() {
        let yaml = "selectors:\n  - name: s\n    definition:\n      union:\n        - '+d'\n        - exclude: [d]\n";
        let got = run_selector(&parse(yaml), Some("s"), &[ResourceType::Test]).expect("select");
        assert_eq!(got, v(&["not_null_a_id"]));
        let cautious = "selectors:\n  - name: s\n    definition:\n      method: fqn\n      value: b\n      indirect_selection: cautious\n";
        assert!(run_selector(&parse(cautious), Some("s"), &[ResourceType::Test]).expect("select").is_empty());
        let eager = "selectors:\n  - name: s\n    definition:\n      method: fqn\n      value: b\n";
        assert_eq!(run_selector(&parse(eager), Some("s"), &[ResourceType::Test]).expect("select"), v(&["rel_b_d"]));
    }

    #[test]
    fn selector_inheritance_and_cli_reference() {
        let yaml = r#"
selectors:
  - name: nightly_and_daily
    definition:
      intersection:
        - tag: nightly
        - tag: daily
  - name: upstream
    description: everything above d, minus the tagged pair
    definition:
      union:
        - '+d'
        - exclude:
            - method: selector
              value: nightly_and_daily
"#;
        let sel = parse(yaml);
        assert_eq!(sel.get("upstream").and_then(|s| s.description.as_deref()), Some("everything above d, minus the tagged pair"));
        assert_eq!(run_selector(&sel, Some("upstream"), &[ResourceType::Model]).expect("select"), v(&["a", "c", "d"]));
        // `selector:` also works inside --select, with graph operators.
        let m = project();
        let g = Graph::build(&m).expect("graph");
        let spec = SelectionSpec {
            select: vec!["selector:nightly_and_daily+".into()],
            resource_types: vec![ResourceType::Model],
            ..Default::default()
        };
        assert_eq!(names(select(&m, &g, &spec, &sel).expect("select")), v(&["b", "c", "d"]));
    }

    #[test]
    fn default_selector_applies_only_without_flags() {
        let yaml = "selectors:\n  - name: root_only\n    default: true\n    definition:\n      package: p\n  - name: other\n    definition: e\n";
        let sel = parse(yaml);
        assert_eq!(sel.default_selector().map(|s| s.name.as_str()), Some("root_only"));
        let m = project();
        let g = Graph::build(&m).expect("graph");
        let models = vec![ResourceType::Model];
        let spec = SelectionSpec { resource_types: models.clone(), ..Default::default() };
        assert_eq!(names(select(&m, &g, &spec, &sel).expect("select")), v(&["a", "b", "c", "d"]));
        let spec = SelectionSpec { select: vec!["e".into()], resource_types: models.clone(), ..Default::default() };
        assert_eq!(names(select(&m, &g, &spec, &sel).expect("select")), v(&["e"]));
        let spec = SelectionSpec { exclude: vec!["a".into()], resource_types: models.clone(), ..Default::default() };
        assert_eq!(names(select(&m, &g, &spec, &sel).expect("select")), v(&["b", "c", "d", "e"]));
        // --selector wins over --select.
        let spec = SelectionSpec { select: vec!["a".into()], selector: Some("other".into()), resource_types: models, ..Default::default() };
        let got = select_with(&m, &g, &spec, &sel, Default::default()).expect("select");
        assert_eq!(names(got.selected), v(&["e"]));
    }

    #[test]
    fn unknown_selector_is_a_diagnostic() {
        let sel = parse("selectors:\n  - name: one\n    definition: a\n");
        let d = run_selector(&sel, Some("two"), &[]).expect_err("unknown");
        assert_eq!(d.code, "selection");
        assert!(d.message.contains("`two`"));
        assert!(d.notes.iter().any(|n| n.contains("one")));
        assert_eq!(d.file.as_deref(), Some(Path::new("/proj/selectors.yml")));
        let d = run_selector(&Selectors::default(), Some("two"), &[]).expect_err("unknown");
        assert!(d.notes.iter().any(|n| n.contains("no selectors")));
    }

    #[test]
    fn file_level_errors() {
        let err = |yaml: &str| parse_selectors(yaml, Path::new("selectors.yml")).expect_err(yaml);
        let d = err("selectors:\n  - name: a\n    definition: [unclosed\n");
        assert_eq!(d.code, "yaml-syntax");
        assert!(d.span.is_some());
        assert!(err("selectors: 3").message.contains("must be a list"));
        assert!(err("other: 1").message.contains("no top-level"));
        assert!(err("selectors:\n  - definition: a\n").message.contains("no `name`"));
        assert!(err("selectors:\n  - name: a\n").message.contains("no `definition`"));
        let text = "selectors:\n  - name: a\n    definition: a\n  - name: a\n    definition: b\n";
        let d = err(text);
        assert!(d.message.contains("more than once"));
        assert_eq!(d.span.map(|s| Diagnostic::line_col(text, s.start)), Some((4, 11)));
        let d = err("selectors:\n  - name: a\n    default: true\n    definition: a\n  - name: b\n    default: true\n    definition: b\n");
        assert!(d.message.contains("only one selector"), "{}", d.message);
        assert!(err("selectors:\n  - name: a\n    default: maybe\n    definition: a\n").message.contains("true or false"));
        assert!(err("selectors:\n  - name: a\n    definition:\n      method: selector\n      value: nope\n").message.contains("unknown selector `nope`"));
        let d = err("selectors:\n  - name: a\n    definition:\n      selector: b\n  - name: b\n    definition:\n      union: ['x', {method: selector, value: a}]\n");
        assert!(d.notes.iter().any(|n| n == "cycle: a -> b -> a"), "{:?}", d.notes);
        assert!(err("selectors:\n  - name: a\n    definition:\n      bogus: x\n").message.contains("unknown selection method `bogus`"));
        assert!(err("selectors:\n  - name: a\n    definition:\n      method: tag\n").message.contains("no `value`"));
        assert!(err("selectors:\n  - name: a\n    definition:\n      exclude: [a]\n").message.contains("exclude"));
        assert!(err("selectors:\n  - name: a\n    definition:\n      union: a\n").message.contains("must be a list"));
        assert!(err("selectors:\n  - name: a\n    definition: 'a,,b'\n").message.contains("empty part"));
        assert!(err("selectors:\n  - name: a\n    definition:\n      method: fqn\n      value: a\n      indirect_selection: greedy\n").message.contains("indirect_selection"));
        assert!(err("selectors:\n  - name: a\n    definition:\n      method: fqn\n      value: a\n      parents: true\n      childrens_parents: true\n").message.contains("childrens_parents"));
    }

    #[test]
    fn lenient_parts() {
        let s = parse("");
        assert!(s.selectors.is_empty());
        let s = parse("selectors:\n");
        assert!(s.selectors.is_empty());
        let s = parse("selectors:\n  - name: a\n    owner: me\n    default: 'True'\n    definition:\n      method: tag\n      value: x\n      colour: red\n");
        assert_eq!(s.warnings.len(), 2);
        assert!(s.warnings.iter().all(|w| !w.is_error()));
        assert!(s.get("a").is_some_and(|d| d.default));
    }
}
