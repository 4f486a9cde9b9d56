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

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    QuoteInQuoted,
}

/// Splits `text` into records. `delimiter` is one character.
pub fn parse(text: &str, delimiter: char) -> Result<Vec<Record>, CsvError> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = State::StartRecord;
    let mut record_start = 0usize;
    let mut quote_start = 0usize;
    let mut chars = text.char_indices().peekable();

    let end_record = |fields: &mut Vec<String>, start: usize, end: usize, records: &mut Vec<Record>| {
        records.push(Record { fields: std::mem::take(fields), span: Span::new(start, end) });
    };

    while let Some((i, c)) = chars.next() {
        let newline = c == '\n' || c == '\r';
        // Length of the line terminator starting at `i`.
        let term_len = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| -> usize {
            if c == '\r' && matches!(chars.peek(), Some((_, '\n'))) {
                chars.next();
                2
            } else {
                1
            }
        };
        match state {
            State::StartRecord => {
                record_start = i;
                if newline {
                    let n = term_len(&mut chars);
                    end_record(&mut fields, i, i, &mut records);
                    record_start = i + n;
                    continue;
                }
                state = State::StartField;
                start_field(c, i, delimiter, &mut field, &mut fields, &mut state, &mut quote_start);
            }
            State::StartField => {
                if newline {
                    fields.push(std::mem::take(&mut field));
                    let n = term_len(&mut chars);
                    end_record(&mut fields, record_start, i, &mut records);
                    record_start = i + n;
                    state = State::StartRecord;
                } else {
                    start_field(c, i, delimiter, &mut field, &mut fields, &mut state, &mut quote_start);
                }
            }
            State::InField => {
                if newline {
                    fields.push(std::mem::take(&mut field));
                    let n = term_len(&mut chars);
                    end_record(&mut fields, record_start, i, &mut records);
                    record_start = i + n;
                    state = State::StartRecord;
                } else if c == delimiter {
                    fields.push(std::mem::take(&mut field));
                    state = State::StartField;
                } else {
                    field.push(c);
                }
            }
            State::InQuoted => {
                if c == '"' {
                    state = State::QuoteInQuoted;
                } else {
                    field.push(c);
                }
            }
            State::QuoteInQuoted => {
                if c == '"' {
                    field.push('"');
                    state = State::InQuoted;
                } else if c == delimiter {
                    fields.push(std::mem::take(&mut field));
                    state = State::StartField;
                } else if newline {
                    fields.push(std::mem::take(&mut field));
                    let n = term_len(&mut chars);
                    end_record(&mut fields, record_start, i, &mut records);
                    record_start = i + n;
                    state = State::StartRecord;
                } else {
                    field.push(c);
                    state = State::InField;
                }
            }
        }
    }
    match state {
        State::StartRecord => {}
        State::InQuoted => {
            return Err(CsvError {
                message: "unterminated quoted field".to_string(),
                span: Span::new(quote_start, text.len()),
            });
        }
        State::StartField | State::InField | State::QuoteInQuoted => {
            fields.push(field);
            end_record(&mut fields, record_start, text.len(), &mut records);
        }
    }
    Ok(records)
}

fn start_field(
    c: char,
    i: usize,
    delimiter: char,
    field: &mut String,
    fields: &mut Vec<String>,
    state: &mut State,
    quote_start: &mut usize,
) {
    if c == '"' {
        *quote_start = i;
        *state = State::InQuoted;
    } else if c == delimiter {
        fields.push(std::mem::take(field));
        *state = State::StartField;
    } else {
        field.push(c);
        *state = State::InField;
    }
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
