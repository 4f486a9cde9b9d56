//! One diagnostic type for every stage: config, parse, compile, run.
//!
//! A `Diagnostic` names the file and a byte range; line, column and the snippet
//! are derived from the file's text when it is rendered, so producers never
//! compute line numbers themselves.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// Byte range into a file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end: end.max(start) }
    }
    /// The span of the 1-based `line` (and optional 1-based `col`) in `text`.
    pub fn from_line_col(text: &str, line: usize, col: usize) -> Span {
        let mut offset = 0;
        for (i, l) in text.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let trimmed = l.trim_end_matches(['\n', '\r']);
                let c = col.saturating_sub(1).min(trimmed.len());
                let start = offset + floor_char_boundary(trimmed, c);
                let end = if c < trimmed.len() {
                    start + trimmed[c..].chars().next().map_or(0, char::len_utf8)
                } else {
                    start
                };
                return Span::new(start, end);
            }
            offset += l.len();
        }
        Span::new(text.len(), text.len())
    }
    /// Span of the first occurrence of `needle` at or after `from`, if any.
    pub fn find(text: &str, needle: &str, from: usize) -> Option<Span> {
        let from = floor_char_boundary(text, from.min(text.len()));
        text[from..].find(needle).map(|i| Span::new(from + i, from + i + needle.len()))
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i.min(s.len())
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Stable machine-readable code, e.g. `yaml-syntax`, `unknown-ref`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub file: Option<PathBuf>,
    pub span: Option<Span>,
    /// Extra lines shown under the snippet (e.g. a cycle's path, a hint).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, severity: Severity::Error, message: message.into(), file: None, span: None, notes: vec![] }
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Diagnostic {
        self.file = Some(file.into());
        self
    }
    pub fn at(mut self, file: impl Into<PathBuf>, span: Span) -> Diagnostic {
        self.file = Some(file.into());
        self.span = Some(span);
        self
    }
    pub fn with_span(mut self, span: Option<Span>) -> Diagnostic {
        self.span = span;
        self
    }
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based (line, column) of the span start in `text`.
    pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// Renders `path:line:col: error[code]: message` with a source snippet.
    /// `root` makes the path relative for display.
    pub fn render(&self, root: Option<&Path>) -> String {
        // Lossy: a diagnostic about invalid UTF-8 still shows its line.
        let text = self.file.as_ref().and_then(|f| std::fs::read(f).ok()).map(|b| String::from_utf8_lossy(&b).into_owned());
        scrub_secrets(&self.render_with_source(root, text.as_deref())).into_owned()
    }

    pub fn render_with_source(&self, root: Option<&Path>, text: Option<&str>) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let location = self.location(root, text);
        if let Some(loc) = &location {
            let _ = write!(out, "{loc}: ");
        }
        let _ = writeln!(out, "{sev}[{}]: {}", self.code, self.message);
        if let (Some(text), Some(span)) = (text, self.span) {
            let (line, col) = Diagnostic::line_col(text, span.start);
            {
                let src_line = text.lines().nth(line - 1).unwrap_or("");
                let gutter = line.to_string().len();
                let width = if span.end > span.start {
                    let end = floor_char_boundary(text, span.end.min(text.len()));
                    let start = floor_char_boundary(text, span.start.min(text.len()));
                    text[start..end].split('\n').next().map_or(1, |s| s.chars().count().max(1))
                } else {
                    1
                };
                let _ = writeln!(out, "{:gutter$} |", "");
                let _ = writeln!(out, "{line} | {src_line}");
                let pad: String = src_line.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                let _ = writeln!(out, "{:gutter$} | {pad}{}", "", "^".repeat(width));
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "  = {n}");
        }
        out
    }

    /// `path:line:col` (or just `path`) for this diagnostic.
    pub fn location(&self, root: Option<&Path>, text: Option<&str>) -> Option<String> {
        let file = self.file.as_ref()?;
        let shown = root.and_then(|r| file.strip_prefix(r).ok()).unwrap_or(file);
        Some(match (text, self.span) {
            (Some(text), Some(span)) => {
                let (line, col) = Diagnostic::line_col(text, span.start);
                format!("{}:{line}:{col}", shown.display())
            }
            _ => shown.display().to_string(),
        })
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.render(None).trim_end())
    }
}

/// A batch of diagnostics returned by a stage that reports every problem it
/// found, not only the first.
#[derive(Debug, Clone, Default, thiserror::Error)]
#[error("{} error(s)", .0.iter().filter(|d| d.is_error()).count())]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_snippet_with_caret() {
        let text = "models:\n  - name: orders\n    bad: [\n";
        let d = Diagnostic::error("yaml-syntax", "unclosed sequence")
            .at("models/schema.yml", Span::from_line_col(text, 3, 10));
        let out = d.render_with_source(None, Some(text));
        assert_eq!(
            out,
            "models/schema.yml:3:10: error[yaml-syntax]: unclosed sequence\n  |\n3 |     bad: [\n  |          ^\n"
        );
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(Diagnostic::line_col("ab\ncd", 4), (2, 2));
        assert_eq!(Diagnostic::line_col("", 0), (1, 1));
    }
}

/// Environment variables whose values are secrets (dbt's convention).
pub const SECRET_ENV_PREFIX: &str = "DBT_ENV_SECRET_";

/// `text` with the value of every `DBT_ENV_SECRET_*` variable replaced by
/// `*****`, as dbt scrubs its logs: profiles may use them (a password) and
/// an error message may echo them back.
pub fn scrub_secrets(text: &str) -> std::borrow::Cow<'_, str> {
    static SECRETS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let secrets = SECRETS.get_or_init(|| {
        let mut v: Vec<String> = std::env::vars()
            .filter(|(k, v)| k.starts_with(SECRET_ENV_PREFIX) && !v.trim().is_empty())
            .map(|(_, v)| v)
            .collect();
        // Longest first, so a secret containing another is masked whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v
    });
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "*****");
    }
    std::borrow::Cow::Owned(out)
}
