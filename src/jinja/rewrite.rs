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

// ---------------------------------------------------------------------------
// Date arithmetic: `date - timedelta(days=1)`.
//
// minijinja's `+`/`-` cannot be extended to objects, so in templates that use
// Python dates (their text mentions `datetime`/`timedelta`), every binary `+`
// and `-` becomes a call to a function with Python's semantics
// (`pyvalues::py_add`/`py_sub`). Found with minijinja's parser, so precedence
// and parentheses are exactly the compiler's.

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};

/// Function names the arithmetic rewrite calls.
pub const ADD_FN: &str = "__py_add";
pub const SUB_FN: &str = "__py_sub";

struct ArithOp {
    start: usize,
    end: usize,
    left: (usize, usize),
    right: (usize, usize),
    add: bool,
}

/// The byte range an expression covers in the source: its own span joined
/// with its operands' (minijinja's span of `a.b(c)` starts at the `.`).
fn span_of(e: &Expr<'_>) -> (usize, usize) {
    let s = e.span();
    let mut range = (s.start_offset as usize, s.end_offset as usize);
    let mut join = |x: &Expr<'_>| {
        let (a, b) = span_of(x);
        range = (range.0.min(a), range.1.max(b));
    };
    match e {
        Expr::BinOp(b) => {
            join(&b.left);
            join(&b.right);
        }
        Expr::Slice(x) => join(&x.expr),
        Expr::UnaryOp(u) => join(&u.expr),
        Expr::Compare(c) => join(&c.expr),
        Expr::IfExpr(i) => {
            join(&i.test_expr);
            join(&i.true_expr);
        }
        Expr::Filter(f) => {
            if let Some(x) = &f.expr {
                join(x);
            }
        }
        Expr::Test(t) => join(&t.expr),
        Expr::GetAttr(g) => join(&g.expr),
        Expr::GetItem(g) => join(&g.expr),
        Expr::Call(c) => join(&c.expr),
        _ => {}
    }
    range
}

fn walk_expr(e: &Expr<'_>, out: &mut Vec<ArithOp>) {
    match e {
        Expr::BinOp(b) => {
            if matches!(b.op, ast::BinOpKind::Add | ast::BinOpKind::Sub) {
                let (start, end) = span_of(e);
                out.push(ArithOp { start, end, left: span_of(&b.left), right: span_of(&b.right), add: matches!(b.op, ast::BinOpKind::Add) });
            }
            walk_expr(&b.left, out);
            walk_expr(&b.right, out);
        }
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            walk_expr(&s.expr, out);
            for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                walk_expr(x, out);
            }
        }
        Expr::UnaryOp(u) => walk_expr(&u.expr, out),
        Expr::Compare(c) => {
            walk_expr(&c.expr, out);
            for op in &c.ops {
                walk_expr(&op.expr, out);
            }
        }
        Expr::IfExpr(i) => {
            walk_expr(&i.test_expr, out);
            walk_expr(&i.true_expr, out);
            if let Some(f) = &i.false_expr {
                walk_expr(f, out);
            }
        }
        Expr::Filter(f) => {
            if let Some(x) = &f.expr {
                walk_expr(x, out);
            }
            walk_args(&f.args, out);
        }
        Expr::Test(t) => {
            walk_expr(&t.expr, out);
            walk_args(&t.args, out);
        }
        Expr::GetAttr(g) => walk_expr(&g.expr, out),
        Expr::GetItem(g) => {
            walk_expr(&g.expr, out);
            walk_expr(&g.subscript_expr, out);
        }
        Expr::Call(c) => {
            walk_expr(&c.expr, out);
            walk_args(&c.args, out);
        }
        Expr::List(l) => l.items.iter().for_each(|x| walk_expr(x, out)),
        Expr::Tuple(t) => t.items.iter().for_each(|x| walk_expr(x, out)),
        Expr::Map(m) => m.keys.iter().chain(m.values.iter()).for_each(|x| walk_expr(x, out)),
    }
}

fn walk_args(args: &[CallArg<'_>], out: &mut Vec<ArithOp>) {
    for a in args {
        match a {
            CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e) => walk_expr(e, out),
        }
    }
}

fn walk_stmts(stmts: &[Stmt<'_>], out: &mut Vec<ArithOp>) {
    stmts.iter().for_each(|s| walk_stmt(s, out));
}

fn walk_stmt(s: &Stmt<'_>, out: &mut Vec<ArithOp>) {
    match s {
        Stmt::Template(t) => walk_stmts(&t.children, out),
        Stmt::EmitExpr(e) => walk_expr(&e.expr, out),
        Stmt::EmitRaw(_) => {}
        Stmt::ForLoop(f) => {
            walk_expr(&f.iter, out);
            if let Some(x) = &f.filter_expr {
                walk_expr(x, out);
            }
            walk_stmts(&f.body, out);
            walk_stmts(&f.else_body, out);
        }
        Stmt::IfCond(i) => {
            walk_expr(&i.expr, out);
            walk_stmts(&i.true_body, out);
            walk_stmts(&i.false_body, out);
        }
        Stmt::WithBlock(w) => {
            for (_, v) in &w.assignments {
                walk_expr(v, out);
            }
            walk_stmts(&w.body, out);
        }
        Stmt::Set(st) => walk_expr(&st.expr, out),
        Stmt::SetBlock(b) => {
            if let Some(f) = &b.filter {
                walk_expr(f, out);
            }
            walk_stmts(&b.body, out);
        }
        Stmt::AutoEscape(a) => walk_stmts(&a.body, out),
        Stmt::FilterBlock(f) => {
            walk_expr(&f.filter, out);
            walk_stmts(&f.body, out);
        }
        Stmt::Block(b) => walk_stmts(&b.body, out),
        Stmt::Import(_) | Stmt::FromImport(_) | Stmt::Extends(_) | Stmt::Include(_) => {}
        Stmt::Macro(m) => {
            m.defaults.iter().for_each(|d| walk_expr(d, out));
            walk_stmts(&m.body, out);
        }
        Stmt::CallBlock(c) => {
            walk_expr(&c.call.expr, out);
            walk_args(&c.call.args, out);
            walk_stmts(&c.macro_decl.body, out);
        }
        Stmt::Continue(_) | Stmt::Break(_) => {}
        Stmt::Do(d) => {
            walk_expr(&d.call.expr, out);
            walk_args(&d.call.args, out);
        }
    }
}

/// Rewrites `a + b` / `a - b` into Python-semantics calls, in templates that
/// use Python dates. `None` when the template has no such use, or does not
/// parse (the compiler then reports the error on the original text).
pub fn rewrite_date_arithmetic(source: &str, in_expr: bool) -> Option<String> {
    if !(source.contains("timedelta") || source.contains("datetime")) {
        return None;
    }
    let mut ops = Vec::new();
    if in_expr {
        let e = minijinja::machinery::parse_expr(source).ok()?;
        walk_expr(&e, &mut ops);
    } else {
        let t = minijinja::machinery::parse(source, "<template>", SyntaxConfig::default()).ok()?;
        walk_stmt(&t, &mut ops);
    }
    if ops.is_empty() {
        return None;
    }
    ops.sort_by_key(|o| (o.start, std::cmp::Reverse(o.end)));
    Some(splice(source, 0, source.len(), &ops))
}

/// `source[start..end]` with the outermost operations inside it replaced.
fn splice(source: &str, start: usize, end: usize, ops: &[ArithOp]) -> String {
    let mut out = String::new();
    let mut pos = start;
    for op in ops {
        if op.start < pos || op.end > end || op.start < start {
            continue;
        }
        out.push_str(&source[pos..op.start]);
        let inner: Vec<&ArithOp> = ops.iter().filter(|o| o.start >= op.start && o.end <= op.end && !(o.start == op.start && o.end == op.end)).collect();
        let inner: Vec<ArithOp> = inner.iter().map(|o| ArithOp { start: o.start, end: o.end, left: o.left, right: o.right, add: o.add }).collect();
        out.push_str(if op.add { ADD_FN } else { SUB_FN });
        out.push('(');
        out.push_str(&splice(source, op.left.0, op.left.1, &inner));
        out.push_str(", ");
        out.push_str(&splice(source, op.right.0, op.right.1, &inner));
        out.push(')');
        pos = op.end;
    }
    out.push_str(&source[pos..end]);
    out
}

#[cfg(test)]
mod arith_tests {
    use super::*;

    #[test]
    fn date_arithmetic_becomes_calls() {
        let src = "{% set d = (end - modules.datetime.timedelta(days=1 + n)) %}{{ a + b - c }}";
        assert_eq!(
            rewrite_date_arithmetic(src, false).as_deref(),
            Some("{% set d = (__py_sub(end, modules.datetime.timedelta(days=__py_add(1, n)))) %}{{ __py_sub(__py_add(a, b), c) }}")
        );
        assert_eq!(rewrite_date_arithmetic("{{ a + b }}", false), None);
    }
}
