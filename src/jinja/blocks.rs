//! Finds dbt's top-level blocks in a file: `{% macro %}`, `{% test %}`,
//! `{% materialization %}`, `{% docs %}`, `{% snapshot %}`, with byte spans,
//! so that each macro becomes its own template (and `return()` can end just
//! that macro).

use crate::diag::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Macro,
    Test,
    Materialization,
    Docs,
    Snapshot,
}

impl BlockKind {
    fn from_tag(tag: &str) -> Option<BlockKind> {
        Some(match tag {
            "macro" => BlockKind::Macro,
            "test" => BlockKind::Test,
            "materialization" => BlockKind::Materialization,
            "docs" => BlockKind::Docs,
            "snapshot" => BlockKind::Snapshot,
            _ => return None,
        })
    }
    pub fn tag(self) -> &'static str {
        match self {
            BlockKind::Macro => "macro",
            BlockKind::Test => "test",
            BlockKind::Materialization => "materialization",
            BlockKind::Docs => "docs",
            BlockKind::Snapshot => "snapshot",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    /// The block's name (`generate_schema_name`, test `not_null`, ...).
    pub name: String,
    /// Parameter names of a macro/test block, in order.
    pub args: Vec<String>,
    /// Text after the name in the opening tag (`(model, column_name)`,
    /// `, adapter='duckdb'`).
    pub header_rest: String,
    /// The whole block, opening tag through closing tag.
    pub span: Span,
    /// Between the opening and the closing tag.
    pub body: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockError {
    pub message: String,
    pub span: Span,
}

struct Tag<'a> {
    start: usize,
    end: usize,
    inner: &'a str,
}

/// Iterates over `{% ... %}` tags, skipping comments and raw blocks.
fn tags(text: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_raw = false;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'#' {
            match text[i + 2..].find("#}") {
                Some(j) => i = i + 2 + j + 2,
                None => break,
            }
            continue;
        }
        if bytes[i] == b'{' && bytes[i + 1] == b'%' {
            let Some(j) = text[i + 2..].find("%}") else { break };
            let end = i + 2 + j + 2;
            let inner = text[i + 2..i + 2 + j].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
            let word = inner.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
            if in_raw {
                if word == "endraw" {
                    in_raw = false;
                }
            } else if word == "raw" {
                in_raw = true;
            } else {
                out.push(Tag { start: i, end, inner });
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// Splits `text` into its top-level blocks. Text outside blocks is ignored
/// (as dbt ignores it in macro files).
pub fn find_blocks(text: &str) -> Result<Vec<Block>, BlockError> {
    let mut blocks = Vec::new();
    let mut open: Option<(BlockKind, Tag<'_>, String, String, usize)> = None;
    let mut depth = 0usize;
    for tag in tags(text) {
        let word = tag.inner.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
        if let Some(kind) = BlockKind::from_tag(word) {
            if let Some((okind, _, _, _, _)) = &open {
                if *okind == kind {
                    depth += 1;
                }
                continue;
            }
            let rest = tag.inner[word.len()..].trim_start();
            let name_end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let name = rest[..name_end].to_string();
            if name.is_empty() {
                return Err(BlockError { message: format!("`{{% {word} %}}` block without a name"), span: Span::new(tag.start, tag.end) });
            }
            let header_rest = rest[name_end..].to_string();
            let body_start = tag.end;
            open = Some((kind, tag, name, header_rest, body_start));
            depth = 0;
            continue;
        }
        if let Some(kind_word) = word.strip_prefix("end") {
            if let Some(kind) = BlockKind::from_tag(kind_word) {
                match open.take() {
                    Some((okind, otag, name, header_rest, body_start)) if okind == kind => {
                        if depth > 0 {
                            depth -= 1;
                            open = Some((okind, otag, name, header_rest, body_start));
                            continue;
                        }
                        let args = if matches!(kind, BlockKind::Macro | BlockKind::Test) { parse_params(&header_rest) } else { vec![] };
                        blocks.push(Block {
                            kind,
                            name,
                            args,
                            header_rest,
                            span: Span::new(otag.start, tag.end),
                            body: Span::new(body_start, tag.start),
                        });
                    }
                    Some(o) => {
                        let (okind, ..) = &o;
                        if *okind == BlockKind::Macro || kind != BlockKind::Macro {
                            // an `endX` for a block type we are not in: let Jinja report it
                        }
                        open = Some(o);
                    }
                    None => {
                        return Err(BlockError { message: format!("`{{% end{} %}}` without an opening block", kind.tag()), span: Span::new(tag.start, tag.end) })
                    }
                }
            }
        }
    }
    if let Some((kind, tag, name, ..)) = open {
        return Err(BlockError {
            message: format!("`{{% {} {name} %}}` is never closed (missing `{{% end{} %}}`)", kind.tag(), kind.tag()),
            span: Span::new(tag.start, tag.end),
        });
    }
    Ok(blocks)
}

/// Parameter names from `(a, b=1, c='x,y')`.
fn parse_params(header: &str) -> Vec<String> {
    let Some(open) = header.find('(') else { return vec![] };
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    for c in header[open + 1..].chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            current.push(c);
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                current.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .filter_map(|p| {
            let name = p.split('=').next().unwrap_or("").trim().to_string();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// The block as a plain minijinja macro template: `{% test x(..) %}` becomes
/// `{% macro test_x(..) %}`, and its closing tag `{% endmacro %}`.
/// The macro name dbt gives a `{% materialization name, adapter='x' %}`
/// block: `materialization_<name>_<adapter>` (`default` when the header says
/// `default` or names no adapter).
pub fn materialization_macro_name(block: &Block) -> String {
    let rest = &block.header_rest;
    let adapter = rest
        .find("adapter")
        .and_then(|i| {
            let after = &rest[i + "adapter".len()..];
            let after = after.trim_start().strip_prefix('=')?.trim_start();
            let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            let inner = &after[1..];
            inner.find(quote).map(|end| inner[..end].to_string())
        })
        .unwrap_or_else(|| "default".to_string());
    format!("materialization_{}_{adapter}", block.name)
}

pub fn as_macro_source(text: &str, block: &Block) -> String {
    let src = &text[block.span.start..block.span.end];
    match block.kind {
        BlockKind::Macro => src.to_string(),
        BlockKind::Materialization => {
            // The opening tag's own whitespace control is kept; the header
            // (name, adapter, supported_languages) becomes an empty signature.
            let open = &text[block.span.start..block.body.start];
            let close = &text[block.body.end..block.span.end];
            let trim_open = if open.starts_with("{%-") { "{%-" } else { "{%" };
            let trim_close = if open.trim_end().ends_with("-%}") { "-%}" } else { "%}" };
            let close = close.replacen("endmaterialization", "endmacro", 1);
            format!("{trim_open} macro {}() {trim_close}{}{close}", materialization_macro_name(block), &text[block.body.start..block.body.end])
        }
        BlockKind::Test => {
            let body = &text[block.body.start..block.body.end];
            let open = &text[block.span.start..block.body.start];
            let close = &text[block.body.end..block.span.end];
            let open = open.replacen("test", "macro", 1).replacen(&block.name, &format!("test_{}", block.name), 1);
            let close = close.replacen("endtest", "endmacro", 1);
            format!("{open}{body}{close}")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_macros_tests_docs() {
        let text = "{# {% macro hidden() %}{% endmacro %} #}\n{% macro a(x, y=1, z='p,q') -%}\n{{ x }}\n{%- endmacro %}\n\n{% test positive(model, column_name) %}select 1{% endtest %}\n{% docs d %}hello{% enddocs %}";
        let blocks = find_blocks(text).unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].name, "a");
        assert_eq!(blocks[0].args, vec!["x", "y", "z"]);
        assert_eq!(blocks[1].kind, BlockKind::Test);
        assert_eq!(as_macro_source(text, &blocks[1]), "{% macro test_positive(model, column_name) %}select 1{% endmacro %}");
        assert_eq!(&text[blocks[2].body.start..blocks[2].body.end], "hello");
        let text = "{%- materialization insert_only, adapter='duckdb' -%}x{% endmaterialization %}\n{% materialization m, default %}y{% endmaterialization %}";
        let blocks = find_blocks(text).unwrap();
        assert_eq!(materialization_macro_name(&blocks[0]), "materialization_insert_only_duckdb");
        assert_eq!(as_macro_source(text, &blocks[0]), "{%- macro materialization_insert_only_duckdb() -%}x{% endmacro %}");
        assert_eq!(materialization_macro_name(&blocks[1]), "materialization_m_default");
    }

    #[test]
    fn unclosed_block_is_an_error() {
        let e = find_blocks("{% macro a() %}x").unwrap_err();
        assert!(e.message.contains("never closed"));
    }

    #[test]
    fn raw_blocks_are_skipped() {
        let blocks = find_blocks("{% raw %}{% macro x() %}{% endraw %}{% macro y() %}{% endmacro %}").unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].name, "y");
    }
}
