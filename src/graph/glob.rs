//! Unix shell-style wildcards for selector values: `*`, `?`, `[abc]`,
//! `[a-z]`, `[!abc]`. Plain values compare exactly. In path mode `*` and `?`
//! stop at `/` and `**` crosses directories, as with a filesystem glob.

use regex::Regex;

#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    Exact(String),
    Glob(Regex),
}

pub(crate) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Pattern {
    /// `Err` carries a description of why the pattern is unusable.
    pub(crate) fn new(pattern: &str, path_mode: bool) -> Result<Pattern, String> {
        if !has_wildcard(pattern) {
            return Ok(Pattern::Exact(pattern.to_string()));
        }
        let re = to_regex(pattern, path_mode);
        Regex::new(&re).map(Pattern::Glob).map_err(|e| format!("invalid wildcard pattern `{pattern}`: {e}"))
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Exact(s) => s == text,
            Pattern::Glob(re) => re.is_match(text),
        }
    }
}

fn to_regex(pattern: &str, path_mode: bool) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                if path_mode && chars.get(i + 1) == Some(&'*') {
                    // `**/` also matches zero directories.
                    if chars.get(i + 2) == Some(&'/') {
                        out.push_str("(?:.*/)?");
                        i += 3;
                    } else {
                        out.push_str(".*");
                        i += 2;
                    }
                    continue;
                }
                out.push_str(if path_mode { "[^/]*" } else { ".*" });
            }
            '?' => out.push_str(if path_mode { "[^/]" } else { "." }),
            '[' => {
                if let Some((class, next)) = bracket(&chars, i) {
                    out.push_str(&class);
                    i = next;
                    continue;
                }
                out.push_str("\\[");
            }
            _ => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
        i += 1;
    }
    out.push_str(")$");
    out
}

/// A `[...]` class starting at `start`; None when unclosed (then `[` is literal).
fn bracket(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut j = start + 1;
    let negate = matches!(chars.get(j), Some('!') | Some('^'));
    if negate {
        j += 1;
    }
    let body_start = j;
    // A `]` right after the opening is a member, not the end.
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while j < chars.len() && chars[j] != ']' {
        j += 1;
    }
    if j >= chars.len() {
        return None;
    }
    let mut class = String::from(if negate { "[^" } else { "[" });
    for &c in &chars[body_start..j] {
        match c {
            '-' => class.push('-'),
            '\\' | ']' | '[' | '^' | '&' | '~' => {
                class.push('\\');
                class.push(c);
            }
            _ => class.push(c),
        }
    }
    class.push(']');
    Some((class, j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p, false).expect("pattern").matches(t)
    }
    fn pm(p: &str, t: &str) -> bool {
        Pattern::new(p, true).expect("pattern").matches(t)
    }

    #[test]
    fn fnmatch_style() {
        assert!(m("stg_*", "stg_orders"));
        assert!(m("*", "a.b/c"));
        assert!(!m("stg_*", "int_orders"));
        assert!(m("s?g", "stg"));
        assert!(m("[abc]x", "bx"));
        assert!(!m("[!abc]x", "bx"));
        assert!(m("[a-c]x", "cx"));
        assert!(m("[]]", "]"));
        assert!(m("a[", "a["));
        assert!(m("a.b*", "a.bc"));
        assert!(!m("a.b*", "aXbc"));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exactly"));
        assert!(m("(x)*", "(x)yz"));
    }

    #[test]
    fn path_mode() {
        assert!(pm("models/*", "models/staging"));
        assert!(!pm("models/*", "models/staging/a.sql"));
        assert!(pm("models/**", "models/staging/a.sql"));
        assert!(pm("models/**/a.sql", "models/a.sql"));
        assert!(pm("models/**/a.sql", "models/x/y/a.sql"));
        assert!(pm("models/*/a.sql", "models/x/a.sql"));
    }
}
