//! File discovery: which files of a project are models, seeds, tests,
//! macros, properties YAML and docs. Reads them; interprets nothing.

use std::path::{Path, PathBuf};

use crate::config::Project;
use crate::diag::Diagnostic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Model,
    Seed,
    /// A singular data test (`.sql` under test-paths).
    SingularTest,
    /// `.sql` under macro-paths (and `tests/generic/`): macro, test,
    /// materialization blocks.
    Macros,
    Snapshot,
    Analysis,
    /// `.yml`/`.yaml` properties files.
    Properties,
    /// `.md` files with `{% docs %}` blocks.
    Docs,
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub package: String,
    pub kind: FileKind,
    pub path: PathBuf,
    /// Relative to the project root, `/`-separated.
    pub original_file_path: String,
    /// Relative to the resource folder (`models/`), `/`-separated.
    pub resource_path: String,
    pub text: String,
}

/// Every file of `project`, sorted by path; unreadable files (e.g. invalid
/// UTF-8) are reported as diagnostics.
pub fn load(project: &Project) -> (Vec<SourceFile>, Vec<Diagnostic>) {
    let mut wanted: Vec<(FileKind, PathBuf, PathBuf)> = Vec::new();
    let mut add = |dirs: &[String], exts: &[&str], kind: &dyn Fn(&Path) -> FileKind| {
        for d in dirs {
            let base = project.root.join(d);
            if !base.is_dir() {
                continue;
            }
            for entry in walkdir::WalkDir::new(&base).follow_links(true).sort_by_file_name().into_iter().filter_map(Result::ok) {
                let p = entry.path();
                if !entry.file_type().is_file() {
                    continue;
                }
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                if exts.contains(&ext) {
                    let rel = p.strip_prefix(&base).unwrap_or(p).to_path_buf();
                    wanted.push((kind(&rel), p.to_path_buf(), rel));
                }
            }
        }
    };
    add(&project.model_paths, &["sql"], &|_| FileKind::Model);
    add(&project.seed_paths, &["csv"], &|_| FileKind::Seed);
    add(&project.macro_paths, &["sql"], &|_| FileKind::Macros);
    add(&project.test_paths, &["sql"], &|rel| {
        if rel.components().next().is_some_and(|c| c.as_os_str() == "generic") {
            FileKind::Macros
        } else {
            FileKind::SingularTest
        }
    });
    add(&project.snapshot_paths, &["sql"], &|_| FileKind::Snapshot);
    add(&project.analysis_paths, &["sql"], &|_| FileKind::Analysis);
    let mut yaml_dirs: Vec<String> = Vec::new();
    for d in project
        .model_paths
        .iter()
        .chain(&project.seed_paths)
        .chain(&project.snapshot_paths)
        .chain(&project.analysis_paths)
        .chain(&project.macro_paths)
        .chain(&project.test_paths)
    {
        if !yaml_dirs.contains(d) {
            yaml_dirs.push(d.clone());
        }
    }
    add(&yaml_dirs, &["yml", "yaml"], &|_| FileKind::Properties);
    let docs_dirs = project.docs_paths.clone().unwrap_or(yaml_dirs);
    add(&docs_dirs, &["md"], &|_| FileKind::Docs);

    wanted.sort_by(|a, b| a.1.cmp(&b.1).then((a.0 as u8).cmp(&(b.0 as u8))));
    wanted.dedup_by(|a, b| a.1 == b.1 && a.0 == b.0);

    let read = |(kind, path, rel): &(FileKind, PathBuf, PathBuf)| -> Result<SourceFile, Diagnostic> {
        let bytes = std::fs::read(path).map_err(|e| Diagnostic::error("io", format!("cannot read file: {e}")).in_file(path))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            Diagnostic::error("encoding", format!("file is not valid UTF-8 (byte offset {at})")).at(path, crate::diag::Span::new(at, at + 1))
        })?;
        Ok(SourceFile {
            package: project.name.clone(),
            kind: *kind,
            path: path.clone(),
            original_file_path: slash(path.strip_prefix(&project.root).unwrap_or(path)),
            resource_path: slash(rel),
            text,
        })
    };
    // Reading is I/O-bound; two scoped threads halve it on cold caches.
    let half = wanted.len() / 2;
    let (a, b) = wanted.split_at(half);
    let (ra, rb) = std::thread::scope(|s| {
        let h = s.spawn(|| a.iter().map(read).collect::<Vec<_>>());
        let rb: Vec<_> = b.iter().map(read).collect();
        (h.join().unwrap_or_default(), rb)
    });
    let mut files = Vec::with_capacity(wanted.len());
    let mut diags = Vec::new();
    for r in ra.into_iter().chain(rb) {
        match r {
            Ok(f) => files.push(f),
            Err(d) => diags.push(d),
        }
    }
    (files, diags)
}

pub fn slash(p: &Path) -> String {
    p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}
