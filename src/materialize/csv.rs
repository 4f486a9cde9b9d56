//! Seed CSV reading with the field-splitting rules of Python's `csv` module
//! (excel dialect, non-strict), which is what dbt uses through agate:
//! a field that starts with `"` is quoted, `""` inside it is a quote, text
//! after a closing quote is kept literally, a quote inside an unquoted field
//! is literal, `\n`, `\r\n` and `\r` end a record, and an empty line is an
//! empty record. Unlike Python, an unterminated quoted field is an error
//! (DuckDB's loader rejects it as well).

use crate::diag::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub fields: Vec<String>,
    /// Byte range of the record in the file, without its line terminator.
    pub span: Span,
}

impl Record {
    /// An empty line: Python's `csv` yields `[]` for it.
    pub fn is_blank(&self) -> bool {
        self.fields.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    pub message: String,
    pub span: Span,
}

/// Splits `text` into records. `delimiter` is one character.
pub fn parse(text: &str, delimiter: char) -> Result<Vec<Record>, CsvError> {
    let bytes = text.as_bytes();
    let len = text.len();
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < len {
        let start = pos;
        if bytes[pos] == b'\n' || bytes[pos] == b'\r' {
            records.push(Record { fields: Vec::new(), span: Span::new(pos, pos) });
            pos += terminator_len(bytes, pos);
            continue;
        }
        let mut fields = Vec::new();
        loop {
            // At the start of a field.
            if pos < len && bytes[pos] == b'"' {
                let quote_start = pos;
                pos += 1;
                let mut field = String::new();
                loop {
                    let Some(off) = text[pos..].find('"') else {
                        return Err(CsvError {
                            message: "unterminated quoted field".to_string(),
                            span: Span::new(quote_start, len),
                        });
                    };
                    field.push_str(&text[pos..pos + off]);
                    pos += off + 1;
                    if pos < len && bytes[pos] == b'"' {
                        field.push('"');
                        pos += 1;
                    } else {
                        break;
                    }
                }
                // Text after the closing quote is kept as is.
                let end = field_end(text, pos, delimiter);
                field.push_str(&text[pos..end]);
                pos = end;
                fields.push(field);
            } else {
                let end = field_end(text, pos, delimiter);
                fields.push(text[pos..end].to_string());
                pos = end;
            }
            if pos >= len {
                records.push(Record { fields, span: Span::new(start, len) });
                return Ok(records);
            }
            if text[pos..].starts_with(delimiter) {
                pos += delimiter.len_utf8();
                continue;
            }
            // A line terminator ends the record.
            records.push(Record { fields, span: Span::new(start, pos) });
            pos += terminator_len(bytes, pos);
            break;
        }
    }
    Ok(records)
}

/// Where the unquoted field starting at `pos` ends: the next delimiter or line
/// terminator, or the end of the text.
fn field_end(text: &str, pos: usize, delimiter: char) -> usize {
    let rest = &text.as_bytes()[pos..];
    let found = if delimiter.is_ascii() {
        let d = delimiter as u8;
        rest.iter().position(|&b| b == d || b == b'\n' || b == b'\r')
    } else {
        text[pos..].find([delimiter, '\n', '\r'])
    };
    found.map_or(text.len(), |o| pos + o)
}

fn terminator_len(bytes: &[u8], pos: usize) -> usize {
    if bytes[pos] == b'\r' && bytes.get(pos + 1) == Some(&b'\n') { 2 } else { 1 }
}

/// The byte range of the line containing `offset` (for diagnostics about
/// bytes that are not text).
pub fn line_span(bytes: &[u8], offset: usize) -> Span {
    let offset = offset.min(bytes.len());
    let start = bytes[..offset].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let end = bytes[offset..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(bytes.len(), |p| offset + p);
    Span::new(start, end)
}

/// agate's column names: an empty name becomes the spreadsheet letter of its
/// position (`a`, `b`, … `aa`), a repeated name gets `_2`, `_3`… appended
/// until it is unique.
pub fn column_names(header: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        let base = if name.is_empty() { letter_name(i) } else { name.clone() };
        let mut candidate = base.clone();
        let mut n = 0;
        while out.contains(&candidate) {
            candidate = format!("{base}_{}", n + 2);
            n += 1;
        }
        out.push(candidate);
    }
    out
}

fn letter_name(index: usize) -> String {
    let letter = (b'a' + (index % 26) as u8) as char;
    std::iter::repeat_n(letter, index / 26 + 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        parse(text, ',').expect("parse").into_iter().map(|r| r.fields).collect()
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_like_python_csv() {
        assert_eq!(fields("a,b\n1,x\n"), vec![v(&["a", "b"]), v(&["1", "x"])]);
        assert_eq!(fields("a,b\r\n1,x"), vec![v(&["a", "b"]), v(&["1", "x"])]);
        assert_eq!(fields("a,b\r1,x\r"), vec![v(&["a", "b"]), v(&["1", "x"])]);
        assert_eq!(fields("\"a,b\",\"say \"\"hi\"\"\"\n"), vec![v(&["a,b", "say \"hi\""])]);
        assert_eq!(fields("\"multi\nline\",2\n"), vec![v(&["multi\nline", "2"])]);
        assert_eq!(fields("ab\"c,\"x\"y\n"), vec![v(&["ab\"c", "xy"])]);
        assert_eq!(fields(",\n"), vec![v(&["", ""])]);
        assert_eq!(fields("\"\",x\n"), vec![v(&["", "x"])]);
        assert_eq!(fields("a\n\n1\n\n"), vec![v(&["a"]), v(&[]), v(&["1"]), v(&[])]);
        assert_eq!(fields("a\r\n\r\n"), vec![v(&["a"]), v(&[])]);
        assert!(fields("").is_empty());
        assert_eq!(parse("a;b\n", ';').expect("parse")[0].fields, v(&["a", "b"]));
    }

    #[test]
    fn record_spans_exclude_terminators() {
        let text = "a,b\r\n1,\"x\ny\"\n\n2,z";
        let recs = parse(text, ',').expect("parse");
        let spans: Vec<&str> = recs.iter().map(|r| &text[r.span.start..r.span.end]).collect();
        assert_eq!(spans, vec!["a,b", "1,\"x\ny\"", "", "2,z"]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let e = parse("a\n\"abc\n", ',').expect_err("unterminated");
        assert_eq!(e.span, Span::new(2, 7));
    }

    #[test]
    fn agate_column_names() {
        assert_eq!(column_names(&v(&["a", "a", "a_2", "", "b"])), v(&["a", "a_2", "a_2_2", "d", "b"]));
        assert_eq!(letter_name(0), "a");
        assert_eq!(letter_name(27), "bb");
    }

    #[test]
    fn line_span_of_offset() {
        let b = b"ab\ncd\xffe\nf";
        assert_eq!(line_span(b, 5), Span::new(3, 7));
    }
}
