//! Reading a TOML file into a JSON tree while remembering where every value sits in the text.
//!
//! Validation works on JSON (the schema language), messages point into the TOML: the
//! [`SpanMap`] connects the two by JSON pointer.

use std::collections::HashMap;
use std::ops::Range;

use serde_json::{Map, Number, Value};
use toml_edit::{Document, Item, Key, Table, TableLike};

/// Largest input file accepted, in bytes. Scenario files are a few kilobytes; the limit also
/// bounds the work of files with very many problems (each diagnostic finds its line).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Prefix of the string that stands in for a non-finite TOML float (`inf`, `nan`), which JSON
/// cannot hold; messages show it as the number it was.
pub const NON_FINITE_MARK: &str = "\u{1}non-finite:";

/// Where a value and its key are in the file, by JSON pointer (`/actors/0/speed_kph`).
#[derive(Clone, Debug, Default)]
pub struct SpanMap {
    values: HashMap<String, Range<usize>>,
    keys: HashMap<String, Range<usize>>,
}

impl SpanMap {
    /// The span of the value at `pointer`, else of its closest ancestor that has one.
    pub fn value(&self, pointer: &str) -> Option<Range<usize>> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.values.get(p) {
                return Some(s.clone());
            }
            if p.is_empty() {
                return None;
            }
            p = &p[..p.rfind('/').unwrap_or(0)];
        }
    }
    /// The span of the key naming `pointer` (falls back to the value's span).
    pub fn key(&self, pointer: &str) -> Option<Range<usize>> {
        self.keys
            .get(pointer)
            .cloned()
            .or_else(|| self.value(pointer))
    }
}

/// Why a file could not be read as TOML at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("file is {0} bytes; the limit is {MAX_FILE_BYTES} bytes")]
    TooLarge(usize),
    #[error("file is not UTF-8 text (invalid byte at offset {0})")]
    NotUtf8(usize),
    #[error("TOML syntax error: {message}")]
    Syntax {
        message: String,
        span: Option<Range<usize>>,
    },
}

/// Checks size and encoding.
pub fn decode(bytes: &[u8]) -> Result<&str, SourceError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(SourceError::TooLarge(bytes.len()));
    }
    std::str::from_utf8(bytes).map_err(|e| SourceError::NotUtf8(e.valid_up_to()))
}

/// Parses TOML text into a JSON value and the span of everything in it.
pub fn parse(text: &str) -> Result<(Value, SpanMap), SourceError> {
    let doc = Document::parse(text).map_err(|e| SourceError::Syntax {
        // The parser's message repeats the position and a snippet; keep the description only.
        message: e.message().trim().to_string(),
        span: e.span(),
    })?;
    let mut spans = SpanMap::default();
    let value = table_to_json(doc.as_table(), "", &mut spans);
    spans.values.insert(String::new(), 0..0);
    Ok((value, spans))
}

/// Escapes one JSON-pointer segment.
pub fn pointer_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn table_to_json(table: &dyn TableLike, pointer: &str, spans: &mut SpanMap) -> Value {
    let mut map = Map::new();
    for (k, item) in table.iter() {
        let child = format!("{pointer}/{}", pointer_segment(k));
        if let Some(key) = table.key(k).and_then(Key::span) {
            spans.keys.insert(child.clone(), key);
        }
        map.insert(k.to_string(), item_to_json(item, &child, spans));
    }
    Value::Object(map)
}

fn item_to_json(item: &Item, pointer: &str, spans: &mut SpanMap) -> Value {
    if let Some(span) = item.span() {
        spans.values.insert(pointer.to_string(), span);
    }
    match item {
        Item::None => Value::Null,
        Item::Value(v) => value_to_json(v, pointer, spans),
        Item::Table(t) => {
            if let Some(span) = Table::span(t) {
                spans.values.entry(pointer.to_string()).or_insert(span);
            }
            table_to_json(t, pointer, spans)
        }
        Item::ArrayOfTables(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, t)| {
                    let child = format!("{pointer}/{i}");
                    if let Some(span) = t.span() {
                        spans.values.insert(child.clone(), span);
                    }
                    table_to_json(t, &child, spans)
                })
                .collect(),
        ),
    }
}

fn value_to_json(v: &toml_edit::Value, pointer: &str, spans: &mut SpanMap) -> Value {
    use toml_edit::Value as T;
    if let Some(span) = v.span() {
        spans.values.insert(pointer.to_string(), span);
    }
    match v {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::Number(Number::from(*i.value())),
        // Non-finite floats (inf, nan) are not JSON numbers; they become strings so that the
        // schema rejects them with a type error instead of silently accepting them.
        T::Float(f) => Number::from_f64(*f.value())
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(format!("{NON_FINITE_MARK}{}", f.value()))),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| value_to_json(x, &format!("{pointer}/{i}"), spans))
                .collect(),
        ),
        T::InlineTable(t) => table_to_json(t, pointer, spans),
    }
}
