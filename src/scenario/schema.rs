//! The JSON Schema of scenario files, and validation against it with messages for people.
//!
//! One source of truth: the schema is generated from the serde types in `format.rs`.
//! [`editor_schema`] is what `gauntlet schema` prints (it also accepts `${…}` expressions
//! where numbers and words go); [`strict_schema`] checks each expanded case after substitution.

use std::path::Path;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::{Value, json};

use super::format::{self, ScenarioFile};
use super::source::SpanMap;
use crate::diag::Diagnostic;

/// Pattern of a string that is a single `${…}` expression (for the editor schema).
pub const EXPRESSION_PATTERN: &str = r"^\s*\$\{[^{}]*\}\s*$";

/// Pattern of a string with a `${…}` inside (text fields such as ODD tags).
pub const CONTAINS_EXPRESSION_PATTERN: &str = r"\$\{[^{}]*\}";

/// Definitions whose values are never substituted (the sweep itself).
const LITERAL_DEFS: &[&str] = &[
    "Sweep",
    "GridValues",
    "GridRange",
    "RandomSweep",
    "Distribution",
    "ParamValue",
];

/// The schema of a scenario after substitution: numbers are numbers.
pub fn strict_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let settings = schemars::generate::SchemaSettings::draft2020_12();
        let schema = settings
            .into_generator()
            .into_root_schema_for::<ScenarioFile>();
        schema.to_value()
    })
}

/// The schema as written by people and editors: numbers and enumerated words may also be
/// `${…}` expressions.
pub fn editor_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = strict_schema().clone();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert(
                "$id".into(),
                json!("https://gauntlet.dev/schema/scenario.schema.json"),
            );
            if let Some(props) = obj.get_mut("properties") {
                allow_expressions(props);
            }
            if let Some(Value::Object(defs)) = obj.get_mut("$defs") {
                for (name, def) in defs.iter_mut() {
                    if !LITERAL_DEFS.contains(&name.as_str()) {
                        allow_expressions(def);
                    }
                }
                // ODD tags may be built from parameters (`environment.illumination.${light}`);
                // the result is checked against the tag pattern after substitution.
                if let Some(tag) = defs.get_mut("OddTag") {
                    let original = tag.take();
                    *tag = json!({"anyOf": [original, {"type": "string", "pattern": CONTAINS_EXPRESSION_PATTERN}]});
                }
            }
        }
        schema
    })
}

/// The editor schema as pretty JSON, as `gauntlet schema` prints it.
pub fn editor_schema_text() -> String {
    let mut s =
        serde_json::to_string_pretty(editor_schema()).expect("a JSON value always serialises");
    s.push('\n');
    s
}

fn allow_expressions(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let is_numeric = match map.get("type") {
                Some(Value::String(t)) => t == "number" || t == "integer",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "number" || t == "integer"),
                _ => false,
            };
            if is_numeric {
                let mut types = match map.remove("type") {
                    Some(Value::Array(ts)) => ts,
                    Some(t) => vec![t],
                    None => vec![],
                };
                types.push(json!("string"));
                map.insert("type".into(), Value::Array(types));
                map.insert("pattern".into(), json!(EXPRESSION_PATTERN));
                return;
            }
            if map.contains_key("enum") {
                let original = Value::Object(std::mem::take(map));
                map.insert(
                    "anyOf".into(),
                    json!([original, {"type": "string", "pattern": EXPRESSION_PATTERN}]),
                );
                return;
            }
            for (key, child) in map.iter_mut() {
                // Tags of tagged unions (`type`, `on`, `dist`) stay literal: they pick the variant.
                if key == "const" {
                    continue;
                }
                allow_expressions(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(allow_expressions),
        _ => {}
    }
}

fn validator(schema: &'static Value) -> &'static Validator {
    static EDITOR: OnceLock<Validator> = OnceLock::new();
    static STRICT: OnceLock<Validator> = OnceLock::new();
    let cell = if std::ptr::eq(schema, editor_schema()) {
        &EDITOR
    } else {
        &STRICT
    };
    cell.get_or_init(|| jsonschema::validator_for(schema).expect("the generated schema is valid"))
}

/// Which schema to validate against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaKind {
    /// As written: expressions allowed.
    Editor,
    /// After substitution.
    Strict,
}

/// Validates `instance` and returns one diagnostic per problem, located with `spans` in `text`.
pub fn validate(
    kind: SchemaKind,
    instance: &Value,
    file: &Path,
    text: &str,
    spans: &SpanMap,
) -> Vec<Diagnostic> {
    let schema = match kind {
        SchemaKind::Editor => editor_schema(),
        SchemaKind::Strict => strict_schema(),
    };
    validate_with(schema, validator(schema), instance, file, text, spans)
}

/// Validates `instance` against another generated schema (e.g. the threshold pack schema),
/// with the same messages. `cell` keeps that schema's compiled validator.
pub fn validate_against(
    schema: &'static Value,
    cell: &'static OnceLock<Validator>,
    instance: &Value,
    file: &Path,
    text: &str,
    spans: &SpanMap,
) -> Vec<Diagnostic> {
    let validator = cell
        .get_or_init(|| jsonschema::validator_for(schema).expect("the generated schema is valid"));
    validate_with(schema, validator, instance, file, text, spans)
}

fn validate_with(
    schema: &Value,
    validator: &Validator,
    instance: &Value,
    file: &Path,
    text: &str,
    spans: &SpanMap,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for err in validator.iter_errors(instance) {
        describe(&err, schema, file, text, spans, &mut out);
    }
    out
}

/// Turns a JSON pointer into the field path users see: `/actors/0/speed_kph` → `actors[0].speed_kph`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out += &format!("[{seg}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out += &seg;
        }
    }
    out
}

/// A short description of a value as found in the file.
pub fn describe_value(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(s) if s.starts_with(super::source::NON_FINITE_MARK) => {
            format!(
                "{} (not a finite number)",
                &s[super::source::NON_FINITE_MARK.len()..]
            )
        }
        Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            let ellipsis = if s.chars().count() > 60 { "…" } else { "" };
            format!("string \"{shown}{ellipsis}\"")
        }
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "a table".into(),
    }
}

fn type_name(t: &str) -> &'static str {
    match t {
        "number" => "a number",
        "integer" => "a whole number",
        "string" => "a string",
        "boolean" => "true or false",
        "object" => "a table",
        "array" => "an array",
        "null" => "nothing",
        _ => "a value",
    }
}

fn describe(
    err: &ValidationError<'_>,
    schema: &Value,
    file: &Path,
    text: &str,
    spans: &SpanMap,
    out: &mut Vec<Diagnostic>,
) {
    let pointer = err.instance_path().as_str().to_string();
    let found = describe_value(err.instance());
    let at_value = |msg: String| {
        Diagnostic::error(file, field_path(&pointer), msg).at(text, spans.value(&pointer))
    };
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let known = known_fields(schema, err.schema_path().as_str());
            for name in unexpected {
                let child = format!("{pointer}/{}", super::source::pointer_segment(name));
                let hint = match suggest(name, &known) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None if known.is_empty() => String::new(),
                    None => format!("; expected one of {}", list(&known)),
                };
                out.push(
                    Diagnostic::error(
                        file,
                        field_path(&child),
                        format!("unknown field `{name}`{hint}"),
                    )
                    .at(text, spans.key(&child)),
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(at_value(format!("missing required field `{name}`")));
        }
        ValidationErrorKind::Type { kind } => {
            let types: Vec<String> = match kind {
                TypeKind::Single(t) => vec![t.to_string()],
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
            };
            let mut names: Vec<&str> = types.iter().map(|t| type_name(t)).collect();
            // In the editor schema, "number or string" means "a number or a ${…} expression".
            if names.contains(&"a string")
                && (names.contains(&"a number") || names.contains(&"a whole number"))
            {
                names.retain(|n| *n != "a string");
                names.push("a `${…}` expression");
            }
            out.push(at_value(format!(
                "expected {}, found {found}",
                names.join(" or ")
            )));
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o.as_str().map(String::from))
                .collect();
            let hint = match err.instance().as_str().and_then(|s| suggest(s, &opts)) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => String::new(),
            };
            out.push(at_value(format!(
                "expected one of {}, found {found}{hint}",
                list(&opts)
            )));
        }
        ValidationErrorKind::Constant { expected_value } => {
            out.push(at_value(format!(
                "expected {expected_value}, found {found}"
            )));
        }
        ValidationErrorKind::Minimum { limit } => out.push(at_value(format!(
            "expected a value ≥ {limit}, found {found}"
        ))),
        ValidationErrorKind::Maximum { limit } => out.push(at_value(format!(
            "expected a value ≤ {limit}, found {found}"
        ))),
        ValidationErrorKind::ExclusiveMinimum { limit } => out.push(at_value(format!(
            "expected a value > {limit}, found {found}"
        ))),
        ValidationErrorKind::ExclusiveMaximum { limit } => out.push(at_value(format!(
            "expected a value < {limit}, found {found}"
        ))),
        ValidationErrorKind::MinItems { limit } => out.push(at_value(format!(
            "expected at least {limit} item(s), found {found}"
        ))),
        ValidationErrorKind::MaxItems { limit } => out.push(at_value(format!(
            "expected at most {limit} item(s), found {found}"
        ))),
        ValidationErrorKind::MinLength { limit } => out.push(at_value(format!(
            "expected at least {limit} character(s), found {found}"
        ))),
        ValidationErrorKind::MaxLength { limit } => out.push(at_value(format!(
            "expected at most {limit} character(s), found {found}"
        ))),
        ValidationErrorKind::Pattern { pattern } => out.push(at_value(format!(
            "expected {}, found {found}",
            pattern_meaning(pattern)
        ))),
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            describe_alternatives(err, context, schema, file, text, spans, out);
        }
        _ => out.push(at_value(format!("{err}"))),
    }
}

/// Tagged unions (`type = …`, `on = …`, `dist = …`) and untagged alternatives: report the
/// problems of the alternative the user evidently meant.
fn describe_alternatives(
    err: &ValidationError<'_>,
    context: &[Vec<ValidationError<'static>>],
    schema: &Value,
    file: &Path,
    text: &str,
    spans: &SpanMap,
    out: &mut Vec<Diagnostic>,
) {
    let pointer = err.instance_path().as_str().to_string();
    let alts: Vec<&Value> = resolve(schema, err.schema_path().as_str())
        .and_then(|n| n.as_array())
        .map(|a| a.iter().map(|alt| follow_ref(schema, alt)).collect())
        .unwrap_or_default();
    // Tagged union: every alternative has one property with a `const`.
    let tags: Vec<Option<(String, String)>> = alts.iter().map(|alt| tag_of(alt)).collect();
    if !tags.is_empty() && tags.iter().all(Option::is_some) {
        let tag = tags[0].as_ref().map(|t| t.0.clone()).unwrap_or_default();
        let values: Vec<String> = tags.iter().flatten().map(|t| t.1.clone()).collect();
        let tag_pointer = format!("{pointer}/{}", super::source::pointer_segment(&tag));
        match err.instance().get(&tag) {
            None => out.push(
                Diagnostic::error(
                    file,
                    field_path(&pointer),
                    format!("missing required field `{tag}` (one of {})", list(&values)),
                )
                .at(text, spans.value(&pointer)),
            ),
            Some(v) => match values.iter().position(|x| Some(x.as_str()) == v.as_str()) {
                Some(i) if i < context.len() => {
                    for e in &context[i] {
                        describe(e, schema, file, text, spans, out);
                    }
                }
                _ => {
                    let hint = match v.as_str().and_then(|s| suggest(s, &values)) {
                        Some(s) => format!(" (did you mean `{s}`?)"),
                        None => String::new(),
                    };
                    out.push(
                        Diagnostic::error(
                            file,
                            field_path(&tag_pointer),
                            format!(
                                "expected one of {}, found {}{hint}",
                                list(&values),
                                describe_value(v)
                            ),
                        )
                        .at(text, spans.value(&tag_pointer)),
                    );
                }
            },
        }
        return;
    }
    // Untagged alternatives: the one whose JSON type fits is the one meant. A string without
    // `${` was not meant as an expression.
    let is_plain_string = err.instance().as_str().is_some_and(|s| !s.contains("${"));
    let meant: Vec<&Vec<ValidationError<'static>>> = context
        .iter()
        .filter(|branch| {
            !branch.iter().any(|e| {
                e.instance_path().as_str() == pointer
                    && match e.kind() {
                        ValidationErrorKind::Type { .. } => true,
                        ValidationErrorKind::Pattern { pattern } => {
                            is_plain_string
                                && (pattern == EXPRESSION_PATTERN
                                    || pattern == CONTAINS_EXPRESSION_PATTERN)
                        }
                        _ => false,
                    }
            })
        })
        .collect();
    if meant.len() == 1 && !meant[0].is_empty() {
        for e in meant[0] {
            describe(e, schema, file, text, spans, out);
        }
        return;
    }
    let found = describe_value(err.instance());
    out.push(
        Diagnostic::error(
            file,
            field_path(&pointer),
            format!(
                "expected {}, found {found}",
                alternatives_meaning(err, schema)
            ),
        )
        .at(text, spans.value(&pointer)),
    );
}

/// The tag property and its value in one alternative of a tagged union.
fn tag_of(alt: &Value) -> Option<(String, String)> {
    let props = alt.get("properties")?.as_object()?;
    props.iter().find_map(|(k, v)| {
        let c = v.get("const").or_else(|| {
            v.get("enum")
                .and_then(|e| e.as_array())
                .filter(|e| e.len() == 1)
                .and_then(|e| e.first())
        })?;
        Some((k.clone(), c.as_str()?.to_string()))
    })
}

fn alternatives_meaning(err: &ValidationError<'_>, schema: &Value) -> String {
    let node = resolve(schema, err.schema_path().as_str());
    let alts = node.and_then(|n| n.as_array());
    let mut names: Vec<String> = Vec::new();
    for alt in alts.into_iter().flatten() {
        let alt = follow_ref(schema, alt);
        let name = match alt.get("type") {
            Some(Value::String(t)) if t == "array" => "a list of values".to_string(),
            Some(Value::String(t)) if t == "object" => {
                let keys: Vec<String> = alt
                    .get("properties")
                    .and_then(|p| p.as_object())
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                format!("a table with {}", list(&keys))
            }
            Some(Value::String(t)) if t == "string" && alt.get("pattern").is_some() => {
                "a `${…}` expression".to_string()
            }
            Some(Value::String(t)) => type_name(t).to_string(),
            _ if alt.get("enum").is_some() => {
                let opts: Vec<String> = alt["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o.as_str().map(String::from))
                    .collect();
                format!("one of {}", list(&opts))
            }
            _ => "a value".to_string(),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        "a valid value".into()
    } else {
        names.join(" or ")
    }
}

fn pattern_meaning(pattern: &str) -> String {
    match pattern {
        p if p == format::NAME_PATTERN => {
            "a name of letters, digits and `._+-`, parts separated by `/`".into()
        }
        p if p == format::IDENT_PATTERN => {
            "an identifier (a letter or `_`, then letters, digits or `_`)".into()
        }
        p if p == format::PACK_ID_PATTERN => "an id of lower-case letters, digits and `._-`".into(),
        p if p == format::ODD_TAG_PATTERN => {
            "a dotted lower-case tag such as `scenery.road.motorway`".into()
        }
        p if p == EXPRESSION_PATTERN => "a number or a `${…}` expression".into(),
        p if p == crate::thresholds::format::METRIC_PATTERN => {
            "a metric name of lower-case letters, digits and `_`, unit last (e.g. `warning_lead_time_s`)"
                .into()
        }
        p => format!("text matching `{p}`"),
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest known name to a misspelt one, if close enough.
pub fn suggest(name: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

fn follow_ref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..16 {
        match node.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                Some(n) => node = n,
                None => return node,
            },
            None => return node,
        }
    }
    node
}

/// Walks a schema path (which may pass through `$ref`s) from the root schema.
fn resolve<'a>(root: &'a Value, schema_path: &str) -> Option<&'a Value> {
    let mut node = root;
    for seg in schema_path.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg == "$ref" {
            node = follow_ref(root, node);
            continue;
        }
        node = match node {
            Value::Object(m) => m.get(&seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The fields a table may have, from the schema node that reported unknown fields.
fn known_fields(root: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    let Some(node) = resolve(root, parent) else {
        return Vec::new();
    };
    let node = follow_ref(root, node);
    node.get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}
