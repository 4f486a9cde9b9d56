//! The DAG of a project's unique_ids and dbt's node selection.
//!
//! Vertices are the manifest's nodes, sources and exposures; an edge runs from
//! each entry of a vertex's `depends_on.nodes` (the parent) to the vertex (the
//! child). [`Graph::build`] reports unknown dependencies and cycles; the
//! selection grammar (`--select`, `--exclude`, `--selector`, `selectors.yml`)
//! lives in [`select`] and [`selectors`].

mod bits;
mod glob;
pub mod select;
pub mod selectors;
#[cfg(test)]
pub(crate) mod test_support;

use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::cmp::Reverse;
use std::path::PathBuf;

use crate::diag::{Diagnostic, Span};
use crate::manifest::Manifest;

pub(crate) use bits::Bits;
pub use select::{IndirectSelection, SelectExpr, Selection, SelectionSpec, Criteria, Method, parse_cli_arg, select, select_with};
pub use selectors::{SelectorDef, Selectors, parse_selectors};

/// The dependency graph. Vertex indices follow the sorted order of the
/// unique_ids, so ordering by index is ordering by unique_id.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph; any unknown dependency or cycle is an error, every
    /// one of them reported.
    pub fn build(manifest: &Manifest) -> Result<Graph, Vec<Diagnostic>> {
        let (graph, diags) = Graph::build_lenient(manifest);
        if diags.iter().any(Diagnostic::is_error) { Err(diags) } else { Ok(graph) }
    }

    /// Builds the graph even when it is broken (for the language server):
    /// edges to unknown ids are dropped, cycles are kept; the problems are
    /// returned beside it.
    pub fn build_lenient(manifest: &Manifest) -> (Graph, Vec<Diagnostic>) {
        let mut ids: Vec<String> = manifest.vertex_ids().cloned().collect();
        ids.sort();
        ids.dedup();
        let index: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        let mut parents = vec![Vec::new(); ids.len()];
        let mut children = vec![Vec::new(); ids.len()];
        let mut diags = Vec::new();
        for (child, id) in ids.iter().enumerate() {
            for dep in manifest.depends_on(id) {
                match index.get(dep) {
                    Some(&parent) => {
                        parents[child].push(parent);
                        children[parent].push(child);
                    }
                    None => {
                        let (file, span) = vertex_location(manifest, id);
                        let mut d = Diagnostic::error(
                            "unknown-dependency",
                            format!("`{id}` depends on `{dep}`, which is not defined in the project"),
                        )
                        .with_span(span);
                        d.file = file;
                        diags.push(d);
                    }
                }
            }
        }
        for list in parents.iter_mut().chain(children.iter_mut()) {
            list.sort_unstable();
            list.dedup();
        }
        let graph = Graph { ids, index, parents, children };
        diags.extend(graph.cycle_diagnostics(manifest));
        (graph, diags)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }
    /// Every vertex, sorted by unique_id.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// Direct parents of `id`, sorted; empty for an unknown id.
    pub fn parents(&self, id: &str) -> Vec<&str> {
        self.idx(id).map(|i| self.parents[i].iter().map(|&p| self.ids[p].as_str()).collect()).unwrap_or_default()
    }
    /// Direct children of `id`, sorted; empty for an unknown id.
    pub fn children(&self, id: &str) -> Vec<&str> {
        self.idx(id).map(|i| self.children[i].iter().map(|&c| self.ids[c].as_str()).collect()).unwrap_or_default()
    }
    /// Everything upstream of `id` (not `id` itself), up to `depth`
    /// generations (`None` = unlimited).
    pub fn ancestors(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        self.walk_from(id, depth, true)
    }
    /// Everything downstream of `id` (not `id` itself), up to `depth`
    /// generations (`None` = unlimited).
    pub fn descendants(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        self.walk_from(id, depth, false)
    }

    /// The members of `subset` in dependency order: every member comes after
    /// all of its ancestors in `subset`, including those reached only through
    /// vertices outside `subset`. Ties are broken by unique_id. Ids not in
    /// the graph are placed last, sorted; members of a cycle likewise.
    pub fn topo_order(&self, subset: &BTreeSet<String>) -> Vec<String> {
        let n = self.ids.len();
        let mut wanted = Bits::new(n);
        let mut unknown = Vec::new();
        for id in subset {
            match self.idx(id) {
                Some(i) => wanted.insert(i),
                None => unknown.push(id.clone()),
            }
        }
        // Only the ancestors of the subset matter for its order.
        let relevant = self.closure(&wanted, None, true).union(&wanted);
        let mut pending: Vec<usize> = (0..n).map(|i| self.parents[i].iter().filter(|&&p| relevant.contains(p)).count()).collect();
        // Vertices outside the subset go first (key 0), so that a subset
        // member becomes ready as soon as its subset ancestors are done.
        let mut heap = BinaryHeap::new();
        for i in relevant.iter() {
            if pending[i] == 0 {
                heap.push(Reverse((wanted.contains(i), i)));
            }
        }
        let mut out = Vec::with_capacity(subset.len());
        let mut done = Bits::new(n);
        while let Some(Reverse((is_wanted, i))) = heap.pop() {
            done.insert(i);
            if is_wanted {
                out.push(self.ids[i].clone());
            }
            for &c in &self.children[i] {
                if relevant.contains(c) {
                    pending[c] -= 1;
                    if pending[c] == 0 {
                        heap.push(Reverse((wanted.contains(c), c)));
                    }
                }
            }
        }
        // Cycle members never become ready.
        for i in wanted.iter() {
            if !done.contains(i) {
                out.push(self.ids[i].clone());
            }
        }
        out.extend(unknown);
        out
    }

    /// Every cycle, one per strongly connected component, as its path
    /// (`a -> b -> a`), starting from the smallest unique_id in the cycle.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for comp in self.strongly_connected() {
            let start = comp[0];
            let cyclic = comp.len() > 1 || self.children[start].contains(&start);
            if !cyclic {
                continue;
            }
            let mut members = Bits::new(self.ids.len());
            for &c in &comp {
                members.insert(c);
            }
            let path = self.shortest_cycle(start, &members);
            out.push(path.into_iter().map(|i| self.ids[i].clone()).collect());
        }
        out.sort();
        out
    }

    // ---- crate-internal, index based ----

    pub(crate) fn idx(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
    pub(crate) fn id_at(&self, i: usize) -> &str {
        &self.ids[i]
    }
    pub(crate) fn parents_of(&self, i: usize) -> &[usize] {
        &self.parents[i]
    }
    pub(crate) fn children_of(&self, i: usize) -> &[usize] {
        &self.children[i]
    }
    pub(crate) fn empty_set(&self) -> Bits {
        Bits::new(self.ids.len())
    }
    pub(crate) fn to_ids(&self, set: &Bits) -> BTreeSet<String> {
        set.iter().map(|i| self.ids[i].clone()).collect()
    }

    /// Vertices reachable from `start` (excluding the start vertices unless
    /// reached again through a cycle), up to `depth` steps, walking parents
    /// (`up`) or children.
    pub(crate) fn closure(&self, start: &Bits, depth: Option<usize>, up: bool) -> Bits {
        let mut seen = self.empty_set();
        let mut frontier: Vec<usize> = start.iter().collect();
        let mut level = 0usize;
        while !frontier.is_empty() && depth.is_none_or(|d| level < d) {
            level += 1;
            let mut next = Vec::new();
            for v in frontier {
                let edges = if up { &self.parents[v] } else { &self.children[v] };
                for &w in edges {
                    if !seen.contains(w) {
                        seen.insert(w);
                        next.push(w);
                    }
                }
            }
            frontier = next;
        }
        seen
    }

    fn walk_from(&self, id: &str, depth: Option<usize>, up: bool) -> BTreeSet<String> {
        let Some(i) = self.idx(id) else { return BTreeSet::new() };
        let mut start = self.empty_set();
        start.insert(i);
        let mut reached = self.closure(&start, depth, up);
        reached.remove(i);
        self.to_ids(&reached)
    }

    fn cycle_diagnostics(&self, manifest: &Manifest) -> Vec<Diagnostic> {
        self.cycles()
            .into_iter()
            .map(|path| {
                let first = path.first().cloned().unwrap_or_default();
                let shown = path.join(" -> ");
                let (file, span) = vertex_location(manifest, &first);
                let mut d = Diagnostic::error("cycle", format!("found a dependency cycle through `{first}`"))
                    .with_span(span)
                    .note(format!("cycle: {shown}"));
                d.file = file;
                d
            })
            .collect()
    }

    /// Tarjan's algorithm, iterative. Each component is sorted.
    fn strongly_connected(&self) -> Vec<Vec<usize>> {
        let n = self.ids.len();
        const UNSEEN: usize = usize::MAX;
        let mut order = vec![UNSEEN; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut comps = Vec::new();
        let mut counter = 0usize;
        for root in 0..n {
            if order[root] != UNSEEN {
                continue;
            }
            // (vertex, next child position)
            let mut call: Vec<(usize, usize)> = vec![(root, 0)];
            order[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut pos)) = call.last_mut() {
                if let Some(&w) = self.children[v].get(*pos) {
                    *pos += 1;
                    if order[w] == UNSEEN {
                        order[w] = counter;
                        low[w] = counter;
                        counter += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        call.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(order[w]);
                    }
                } else {
                    call.pop();
                    if let Some(&(parent, _)) = call.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == order[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        comp.sort_unstable();
                        comps.push(comp);
                    }
                }
            }
        }
        comps
    }

    /// Shortest path `start -> ... -> start` inside `members` (BFS; ties go
    /// to the smaller unique_id since children lists are sorted).
    fn shortest_cycle(&self, start: usize, members: &Bits) -> Vec<usize> {
        let mut prev: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut end = None;
        'bfs: while let Some(v) = queue.pop_front() {
            for &w in &self.children[v] {
                if !members.contains(w) {
                    continue;
                }
                if w == start {
                    end = Some(v);
                    break 'bfs;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(w) {
                    e.insert(v);
                    queue.push_back(w);
                }
            }
        }
        let mut path = vec![start];
        let mut cur = end;
        let mut back = Vec::new();
        while let Some(v) = cur {
            if v == start {
                break;
            }
            back.push(v);
            cur = prev.get(&v).copied();
        }
        back.reverse();
        path.extend(back);
        path.push(start);
        path
    }
}

/// The file and span that define a vertex, for diagnostics.
fn vertex_location(manifest: &Manifest, id: &str) -> (Option<PathBuf>, Option<Span>) {
    if let Some(n) = manifest.nodes.get(id) {
        (Some(n.file.clone()), n.span)
    } else if let Some(s) = manifest.sources.get(id) {
        (Some(s.file.clone()), s.span)
    } else if let Some(e) = manifest.exposures.get(id) {
        (Some(PathBuf::from(&e.original_file_path)), None)
    } else {
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn chain() -> Manifest {
        // a -> b -> c -> d, a -> c, e alone
        manifest(vec![
            test_node("model.p.a", &[]),
            test_node("model.p.b", &["model.p.a"]),
            test_node("model.p.c", &["model.p.b", "model.p.a"]),
            test_node("model.p.d", &["model.p.c"]),
            test_node("model.p.e", &[]),
        ])
    }

    #[test]
    fn parents_children_and_walks() {
        let g = Graph::build(&chain()).expect("graph");
        assert_eq!(g.len(), 5);
        assert_eq!(g.parents("model.p.c"), vec!["model.p.a", "model.p.b"]);
        assert_eq!(g.children("model.p.a"), vec!["model.p.b", "model.p.c"]);
        assert!(g.parents("nope").is_empty());
        assert_eq!(g.ancestors("model.p.d", None), set(&["model.p.a", "model.p.b", "model.p.c"]));
        assert_eq!(g.ancestors("model.p.d", Some(1)), set(&["model.p.c"]));
        assert_eq!(g.ancestors("model.p.d", Some(2)), set(&["model.p.a", "model.p.b", "model.p.c"]));
        assert_eq!(g.descendants("model.p.a", Some(1)), set(&["model.p.b", "model.p.c"]));
        assert_eq!(g.descendants("model.p.b", None), set(&["model.p.c", "model.p.d"]));
        assert!(g.descendants("model.p.e", None).is_empty());
        assert!(g.ancestors("model.p.x", None).is_empty());
    }

    #[test]
    fn topo_order_is_deterministic_and_transitive() {
        let g = Graph::build(&chain()).expect("graph");
        let all: BTreeSet<String> = g.ids().map(str::to_string).collect();
        assert_eq!(g.topo_order(&all), vec!["model.p.a", "model.p.b", "model.p.c", "model.p.d", "model.p.e"]);
        // d depends on a only through b and c, which are not in the subset.
        assert_eq!(g.topo_order(&set(&["model.p.d", "model.p.a"])), vec!["model.p.a", "model.p.d"]);
        // z_first has no parents but sorts after; it is still ordered by id among ready ones.
        let m = manifest(vec![
            test_node("model.p.z", &[]),
            test_node("model.p.y", &["model.p.z"]),
            test_node("model.p.a", &["model.p.y"]),
            test_node("model.p.b", &[]),
        ]);
        let g = Graph::build(&m).expect("graph");
        let all: BTreeSet<String> = g.ids().map(str::to_string).collect();
        assert_eq!(g.topo_order(&all), vec!["model.p.b", "model.p.z", "model.p.y", "model.p.a"]);
        assert_eq!(g.topo_order(&set(&["model.p.a", "model.p.b", "model.p.z"])), vec!["model.p.b", "model.p.z", "model.p.a"]);
        assert_eq!(g.topo_order(&set(&["model.p.q"])), vec!["model.p.q"]);
    }

    #[test]
    fn sources_and_exposures_are_vertices() {
        let mut m = manifest(vec![test_node("model.p.a", &["source.p.raw.orders"])]);
        add_source(&mut m, "raw", "orders");
        add_exposure(&mut m, "dash", &["model.p.a"]);
        let g = Graph::build(&m).expect("graph");
        assert_eq!(g.children("source.p.raw.orders"), vec!["model.p.a"]);
        assert_eq!(g.children("model.p.a"), vec!["exposure.p.dash"]);
        assert_eq!(g.ancestors("exposure.p.dash", None), set(&["model.p.a", "source.p.raw.orders"]));
    }

    #[test]
    fn unknown_dependency_is_reported() {
        let m = manifest(vec![test_node("model.p.a", &["model.p.ghost"])]);
        let errs = Graph::build(&m).expect_err("must fail");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, "unknown-dependency");
        assert!(errs[0].message.contains("model.p.ghost"), "{}", errs[0].message);
        assert_eq!(errs[0].file.as_deref(), Some(std::path::Path::new("/proj/models/a.sql")));
        let (g, diags) = Graph::build_lenient(&m);
        assert_eq!(diags.len(), 1);
        assert!(g.parents("model.p.a").is_empty());
    }

    #[test]
    fn cycles_are_reported_as_paths() {
        let m = manifest(vec![
            test_node("model.p.a", &["model.p.c"]),
            test_node("model.p.b", &["model.p.a"]),
            test_node("model.p.c", &["model.p.b"]),
            test_node("model.p.d", &["model.p.c"]),
            test_node("model.p.x", &["model.p.y"]),
            test_node("model.p.y", &["model.p.x"]),
            test_node("model.p.self", &["model.p.self"]),
        ]);
        let errs = Graph::build(&m).expect_err("cycles");
        assert_eq!(errs.len(), 3);
        assert!(errs.iter().all(|d| d.code == "cycle"));
        let notes: Vec<&str> = errs.iter().map(|d| d.notes[0].as_str()).collect();
        assert_eq!(
            notes,
            vec![
                "cycle: model.p.a -> model.p.b -> model.p.c -> model.p.a",
                "cycle: model.p.self -> model.p.self",
                "cycle: model.p.x -> model.p.y -> model.p.x",
            ]
        );
        assert_eq!(errs[0].file.as_deref(), Some(std::path::Path::new("/proj/models/a.sql")));
        // topo_order still terminates with a cyclic graph.
        let (g, _) = Graph::build_lenient(&m);
        let order = g.topo_order(&set(&["model.p.a", "model.p.d"]));
        assert_eq!(order.len(), 2);
    }

    #[test]
    fn shortest_cycle_inside_a_larger_component() {
        // a <-> b and b -> c -> a: both in one component, shortest from a is a -> b -> a.
        let m = manifest(vec![
            test_node("model.p.a", &["model.p.b", "model.p.c"]),
            test_node("model.p.b", &["model.p.a"]),
            test_node("model.p.c", &["model.p.b"]),
        ]);
        let (g, _) = Graph::build_lenient(&m);
        assert_eq!(g.cycles(), vec![vec!["model.p.a", "model.p.b", "model.p.a"]]);
    }
}
