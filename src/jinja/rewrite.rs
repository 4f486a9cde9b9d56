//! Template rewriting that gives list and dict literals Python semantics.
//!
//! minijinja compiles `[a, b]` and `{'k': v}` to immutable values, but dbt
//! code mutates literals (`{% set cols = [] %}{% do cols.append(c) %}`). Before
//! a template is compiled, each literal is wrapped in a call that builds a
//! mutable container: `[a, b]` → `__py_list([a, b])`, `{..}` → `__py_dict({..})`
//! (see `pyvalues.rs`). Literals are found with minijinja's own lexer, so
//! strings, comments and `{% raw %}` are skipped exactly as the compiler skips
//! them. A `[` is a literal unless it follows an operand (a name, a literal,
//! or a closing bracket), where it is a subscript.
//!
//! No newline is ever inserted, so line numbers in errors stay right; byte
//! ranges are mapped back to the original text with [`original_range`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;

use super::pyvalues::{DICT_FN, DISCARD_FN, LIST_FN};

/// Insertions made by a rewrite: (byte offset in the original, inserted length).
type Inserts = Vec<(usize, usize)>;

/// Rewrites the literals of a template (`in_expr`: of a bare expression, as
/// for `compile_expression`). Returns `None` when nothing changes, or when the
/// source does not lex (the compiler then reports the error on the original).
pub fn rewrite_literals(source: &str, in_expr: bool) -> Option<String> {
    if !might_have_literal(source) {
        return None;
    }
    let mut inserts: Vec<(usize, &'static str)> = Vec::new();
    // What the previous token was, to tell a literal `[` from a subscript.
    #[derive(PartialEq)]
    enum Prev {
        Operand,
        Operator,
        BlockStart,
    }
    let mut prev = Prev::Operator;
    // One entry per open bracket: does its closer get a `)`?
    let mut open: Vec<bool> = Vec::new();
    // Inside `{% do ... %}`: Jinja2 takes any expression there, minijinja
    // only a call, so the expression becomes the argument of a call.
    let mut in_do = false;
    let mut last_end = 0;
    for token in tokenize(source, in_expr, SyntaxConfig::default()) {
        let (token, span) = token.ok()?;
        let (start, end) = (span.start_offset as usize, span.end_offset as usize);
        if matches!(token, Token::BlockEnd) && in_do {
            inserts.push((last_end, ")"));
            in_do = false;
        }
        if prev == Prev::BlockStart && matches!(token, Token::Ident("do")) {
            inserts.push((end, DISCARD_FN));
            in_do = true;
        }
        last_end = end;
        prev = match token {
            Token::TemplateData(_) | Token::VariableStart | Token::VariableEnd | Token::BlockEnd => {
                open.clear();
                Prev::Operator
            }
            Token::BlockStart => {
                open.clear();
                Prev::BlockStart
            }
            // The tag name (`if`, `set`, `for`, `elif`, `do`) precedes an expression.
            Token::Ident(_) if prev == Prev::BlockStart => Prev::Operator,
            Token::Ident("and" | "or" | "not" | "in" | "is" | "if" | "else") => Prev::Operator,
            Token::Ident(_) | Token::Str(_) | Token::String(_) | Token::Int(_) | Token::Int128(_) | Token::Float(_) => {
                Prev::Operand
            }
            Token::BracketOpen => {
                let literal = prev != Prev::Operand;
                if literal {
                    inserts.push((start, LIST_FN));
                }
                open.push(literal);
                Prev::Operator
            }
            Token::BraceOpen => {
                inserts.push((start, DICT_FN));
                open.push(true);
                Prev::Operator
            }
            Token::ParenOpen => {
                open.push(false);
                Prev::Operator
            }
            Token::BracketClose | Token::BraceClose | Token::ParenClose => {
                if open.pop() == Some(true) {
                    inserts.push((end, ")"));
                }
                Prev::Operand
            }
            _ => Prev::Operator,
        };
    }
    if inserts.is_empty() {
        return None;
    }
    let extra: usize = inserts.iter().map(|(_, s)| s.len() + 1).sum();
    let mut out = String::with_capacity(source.len() + extra);
    let mut recorded: Inserts = Vec::with_capacity(inserts.len());
    let mut at = 0;
    for (pos, text) in inserts {
        out.push_str(&source[at..pos]);
        let before = out.len();
        if text == DISCARD_FN {
            out.push(' ');
        }
        out.push_str(text);
        if text != ")" {
            out.push('(');
        }
        recorded.push((pos, out.len() - before));
        at = pos;
    }
    out.push_str(&source[at..]);
    registry().lock().unwrap_or_else(|e| e.into_inner()).insert(text_key(&out), Arc::new(recorded));
    Some(out)
}

/// Cheap pre-check: most model files have no literal at all.
fn might_have_literal(source: &str) -> bool {
    let b = source.as_bytes();
    if source.contains(" do ") || source.contains("-do ") || source.contains("%do ") {
        return true;
    }
    b.contains(&b'[') || b.windows(2).enumerate().any(|(i, w)| w[0] == b'{' && !matches!(w[1], b'{' | b'%' | b'#') && (i == 0 || b[i - 1] != b'{'))
        || b.windows(3).any(|w| w == b"{{{")
}

/// Rewritten texts and their insertions, so that errors raised in a
/// rewritten template (which carry its text) map back to the original.
fn registry() -> &'static Mutex<HashMap<u64, Arc<Inserts>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u64, Arc<Inserts>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn text_key(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Maps a byte range in a template's compiled text (`template_source`) back
/// to the text the user wrote. Ranges in templates that were not rewritten
/// come back unchanged.
pub fn original_range(template_source: Option<&str>, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let Some(text) = template_source else { return range };
    let Some(inserts) = registry().lock().unwrap_or_else(|e| e.into_inner()).get(&text_key(text)).cloned() else {
        return range;
    };
    let map = |pos: usize| {
        let mut shift = 0;
        for &(orig, len) in inserts.iter() {
            let at = orig + shift;
            if pos < at {
                break;
            }
            if pos < at + len {
                return orig;
            }
            shift += len;
        }
        pos - shift
    };
    map(range.start)..map(range.end).max(map(range.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(s: &str) -> String {
        rewrite_literals(s, false).unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn literals_are_wrapped_and_subscripts_are_not() {
        assert_eq!(rw("{% set x = [] %}"), "{% set x = __py_list([]) %}");
        assert_eq!(rw("{{ a[0] ~ b['k'] }}"), "{{ a[0] ~ b['k'] }}");
        assert_eq!(rw("{{ f([1, [2]])[0] }}"), "{{ f(__py_list([1, __py_list([2])]))[0] }}");
        assert_eq!(rw("{% for x in [1] %}{% endfor %}"), "{% for x in __py_list([1]) %}{% endfor %}");
        assert_eq!(rw("{% if x in ['a'] %}{% endif %}"), "{% if x in __py_list(['a']) %}{% endif %}");
        assert_eq!(rw("{{ {'a': {'b': []}} }}"), "{{ __py_dict({'a': __py_dict({'b': __py_list([])})}) }}");
        assert_eq!(rw("{% do d.update({'k': 1}) %}"), "{% do __py_discard( d.update(__py_dict({'k': 1}))) %}");
        assert_eq!(rw("{%- do x -%}"), "{%- do __py_discard( x) -%}");
        assert_eq!(rw("{% macro m(a=[]) %}{% endmacro %}"), "{% macro m(a=__py_list([])) %}{% endmacro %}");
    }

    #[test]
    fn text_strings_comments_and_raw_are_left_alone() {
        for s in [
            "select [1] from t",
            "{{ '[1]' }}",
            "{# [1] #}",
            "{% raw %}{{ [1] }}{% endraw %}",
            "select {a} from t",
            "{{ x }}",
        ] {
            assert_eq!(rewrite_literals(s, false), None, "{s}");
        }
    }

    #[test]
    fn error_ranges_map_back_to_the_original() {
        let src = "{% set x = [1] %}{{ x.nope() }}";
        let out = rw(src);
        let pos = out.find("x.nope").unwrap_or(0);
        let orig = original_range(Some(&out), pos..pos + 6);
        assert_eq!(&src[orig], "x.nope");
        // A range inside the inserted text maps to the literal it wraps.
        let inside = out.find("__py_list").unwrap_or(0);
        assert_eq!(original_range(Some(&out), inside..inside + 3).start, src.find('[').unwrap_or(0));
    }
}
