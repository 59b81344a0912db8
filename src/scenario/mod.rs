//! Scenario files: loading, validation, sweep expansion and the domain model of every case.
//!
//! Pipeline for one file: bytes → TOML with spans (`source`) → schema check as written
//! (`schema`, expressions allowed) → sweep expansion (`sweep`) → per case: parameter
//! resolution and `${…}` substitution (`expr`) → schema check after substitution → serde
//! types (`format`) → domain model with semantic checks (`model`). Every problem becomes a
//! [`Diagnostic`] with file, line, column and field path; all problems of a file are reported.

pub mod expr;
pub mod format;
pub mod model;
pub mod schema;
pub mod source;
pub mod sweep;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::diag::{Diagnostic, Diagnostics};
use expr::Param;
use schema::{SchemaKind, field_path};
use source::SpanMap;

/// The kinds of TOML files Gauntlet reads (the top-level `kind` field).
pub const FILE_KINDS: &[&str] = &["scenario", "thresholds", "sut", "adapter"];

/// One expanded case, as a run holds it from loading to the end: its ID (to sort, filter and
/// shard by) and where it comes from (its file and its index in the file's sweep), from which
/// its parameters and model are made again on demand ([`Case::build`]). A case is about a
/// hundred bytes however big its scenario, so the memory of a run does not grow with its
/// models; every case was built and validated once when it was loaded.
#[derive(Clone)]
pub struct Case {
    /// `<scenario name>/<param>=<value>,...` (see `conventions.md`).
    pub id: String,
    file: Arc<ScenarioSource>,
    /// Index into the file's sweep ([`sweep::Expansion`]).
    index: u32,
}

/// What the cases of one scenario file share: the file as read and its sweep.
struct ScenarioSource {
    path: PathBuf,
    text: String,
    json: Value,
    spans: SpanMap,
    parameters: BTreeMap<String, format::ParamValue>,
    expansion: sweep::Expansion,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("scenario_path", &self.file.path)
            .field("sweep_index", &self.index)
            .finish()
    }
}

impl Case {
    /// The scenario file, as named on the command line (or found under a named directory).
    pub fn scenario_path(&self) -> &Path {
        &self.file.path
    }

    /// Names of the swept parameters (the ones in the ID), sorted.
    pub fn swept(&self) -> &[String] {
        self.file.expansion.names()
    }

    /// Every parameter value: swept ones and those of `[parameters]`.
    pub fn params(&self) -> BTreeMap<String, Param> {
        let swept = self.file.expansion.case(self.index as usize);
        let mut budget = sweep::MAX_EXPANSION_BYTES;
        match resolve_parameters(&self.file.parameters, &swept, &mut budget) {
            Ok(params) => params,
            Err(e) => self.invalid(&format!("{e:?}")),
        }
    }

    /// The case, ready to simulate (built from the file again: keep it while it is needed).
    pub fn model(&self) -> model::Scenario {
        self.build().model
    }

    /// The case with its parameters and model, built from its file as when it was loaded.
    pub fn build(&self) -> BuiltCase {
        let f = &*self.file;
        let swept = f.expansion.case(self.index as usize);
        // Each case gets the whole budget: the load shared one budget among all the cases of
        // the file and every case fit in it.
        let mut budget = sweep::MAX_EXPANSION_BYTES;
        let built = build_case(
            &f.json,
            &f.parameters,
            &swept,
            &f.path,
            &f.text,
            &f.spans,
            &mut budget,
        );
        match built {
            Ok((params, model)) => BuiltCase {
                id: self.id.clone(),
                scenario_path: f.path.clone(),
                params,
                swept: swept.into_keys().collect(),
                model,
            },
            Err(CaseProblems::Located(p)) => self.invalid(&format!("{p:?}")),
            Err(CaseProblems::Diagnostics(d)) => self.invalid(&format!("{d:?}")),
        }
    }

    /// A case is only made after it was built without problems, from the same bytes that
    /// build it again, by the same deterministic code: failing now is a harness bug.
    fn invalid(&self, problems: &str) -> ! {
        panic!(
            "internal: case {} was valid when loaded but not when built again: {problems}",
            self.id
        )
    }
}

/// One case with everything a run, a report or a render needs of it.
#[derive(Debug, Clone)]
pub struct BuiltCase {
    /// `<scenario name>/<param>=<value>,...` (see `conventions.md`).
    pub id: String,
    /// The scenario file, as named on the command line (or found under a named directory).
    pub scenario_path: PathBuf,
    /// Every parameter value: swept ones and those of `[parameters]`.
    pub params: BTreeMap<String, Param>,
    /// Names of the swept parameters (the ones in the ID).
    pub swept: Vec<String>,
    /// The case, ready to simulate.
    pub model: model::Scenario,
}

/// Everything loaded from a set of paths.
#[derive(Debug, Default)]
pub struct Loaded {
    /// All cases, sorted by ID.
    pub cases: Vec<Case>,
    /// The scenario files read, in the order found.
    pub scenario_files: Vec<PathBuf>,
    /// Files of other kinds that this version does not read yet.
    pub skipped_files: Vec<(PathBuf, String)>,
    /// The threshold packs read (valid ones only), in the order found.
    pub packs: Vec<(PathBuf, crate::thresholds::Pack)>,
    /// The system manifests (`kind = "sut"`) checked, in the order found (valid or not).
    pub sut_manifests: Vec<PathBuf>,
    pub diagnostics: Diagnostics,
}

/// Finds the TOML files under `paths` (directories are searched recursively, in name order).
pub fn discover(paths: &[PathBuf], diagnostics: &mut Diagnostics) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                // Hidden directories (`.git`, editor folders) are not searched.
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                })
                .filter_map(|entry| match entry {
                    Ok(e) => Some(e),
                    Err(e) => {
                        diagnostics.push(Diagnostic::error(
                            e.path().unwrap_or(path),
                            "",
                            format!("cannot read: {e}"),
                        ));
                        None
                    }
                })
                .filter(|e| {
                    e.file_type().is_file()
                        && e.path()
                            .extension()
                            .is_some_and(|x| x.eq_ignore_ascii_case("toml"))
                })
                .map(|e| e.into_path())
                .collect();
            if found.is_empty() {
                diagnostics.push(Diagnostic::error(
                    path,
                    "",
                    "directory contains no .toml files",
                ));
            }
            files.append(&mut found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            diagnostics.push(Diagnostic::error(path, "", "no such file or directory"));
        }
    }
    // A file named twice (directly and through its directory) is read once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    files
}

/// Loads and validates every file under `paths` and expands all scenarios into cases.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    let files = discover(paths, &mut loaded.diagnostics);
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    let mut judges: Vec<(PathBuf, String, JudgeSite)> = Vec::new();
    for file in files {
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                loaded
                    .diagnostics
                    .push(Diagnostic::error(&file, "", format!("cannot read: {e}")));
                continue;
            }
        };
        match load_bytes(&file, &bytes) {
            FileResult::Scenario {
                name,
                cases,
                diagnostics,
                name_span_text,
                judge,
            } => {
                loaded.diagnostics.extend(diagnostics);
                if let Some(j) = judge {
                    judges.push((file.clone(), name_span_text.0.clone(), j));
                }
                if let Some(name) = name {
                    if let Some(first) = names.get(&name) {
                        let (text, span) = name_span_text;
                        loaded.diagnostics.push(
                            Diagnostic::error(
                                &file,
                                "name",
                                format!(
                                    "scenario name `{name}` is already used by {}",
                                    first.display()
                                ),
                            )
                            .at(&text, span),
                        );
                        continue;
                    }
                    names.insert(name, file.clone());
                }
                loaded.scenario_files.push(file.clone());
                loaded.cases.extend(cases);
            }
            FileResult::Other {
                kind,
                diagnostics,
                pack,
            } => {
                loaded.diagnostics.extend(diagnostics);
                match pack {
                    Some(pack) => {
                        if let Some((first, _)) = loaded.packs.iter().find(|(_, p)| p.id == pack.id)
                        {
                            let text = String::from_utf8_lossy(&bytes);
                            let span = source::parse(&text).ok().and_then(|(_, s)| s.value("/id"));
                            loaded.diagnostics.push(
                                Diagnostic::error(
                                    &file,
                                    "id",
                                    format!(
                                        "threshold pack id `{}` is already used by {}",
                                        pack.id,
                                        first.display()
                                    ),
                                )
                                .at(&text, span),
                            );
                        } else {
                            loaded.packs.push((file.clone(), *pack));
                        }
                    }
                    None if kind == "thresholds" => {}
                    None if kind == "sut" => loaded.sut_manifests.push(file.clone()),
                    None => loaded.skipped_files.push((file.clone(), kind)),
                }
            }
            FileResult::Invalid { diagnostics } => loaded.diagnostics.extend(diagnostics),
        }
    }
    check_judges(&judges, &loaded.packs, &mut loaded.diagnostics);
    loaded.cases.sort_by(|a, b| a.id.cmp(&b.id));
    loaded.diagnostics.sort();
    loaded
}

/// Where a scenario names its threshold pack and rule (`[judge]`).
#[derive(Debug, Clone)]
pub struct JudgeSite {
    pub pack: String,
    pub rule: String,
    pub rule_span: Option<std::ops::Range<usize>>,
}

/// Each scenario's `[judge]` must name a rule of its pack, when that pack is among the inputs
/// (scenarios validated alone are not checked).
fn check_judges(
    judges: &[(PathBuf, String, JudgeSite)],
    packs: &[(PathBuf, crate::thresholds::Pack)],
    diagnostics: &mut Diagnostics,
) {
    for (file, text, j) in judges {
        let Some((pack_file, pack)) = packs.iter().find(|(_, p)| p.id == j.pack) else {
            continue;
        };
        if pack.rule(&j.rule).is_some() {
            continue;
        }
        let known: Vec<String> = pack.rules.iter().map(|r| r.id.clone()).collect();
        let hint = match schema::suggest(&j.rule, &known) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => String::new(),
        };
        diagnostics.push(
            Diagnostic::error(
                file,
                "judge.rule",
                format!(
                    "unknown rule `{}` in threshold pack `{}` ({}){hint}",
                    j.rule,
                    j.pack,
                    pack_file.display()
                ),
            )
            .at(text, j.rule_span.clone()),
        );
    }
}

/// What one file turned out to be.
pub enum FileResult {
    Scenario {
        name: Option<String>,
        cases: Vec<Case>,
        diagnostics: Vec<Diagnostic>,
        /// The text and the span of `name`, for messages about duplicate names.
        name_span_text: (String, Option<std::ops::Range<usize>>),
        /// The `[judge]` pack and rule, when both are words (checked against the packs loaded).
        judge: Option<JudgeSite>,
    },
    /// A file of another known kind: threshold packs are read (`pack` is the pack when it is
    /// valid), system manifests are checked; adapters are not read by this version.
    Other {
        kind: String,
        diagnostics: Vec<Diagnostic>,
        pack: Option<Box<crate::thresholds::Pack>>,
    },
    /// Unreadable or of unknown kind.
    Invalid { diagnostics: Vec<Diagnostic> },
}

/// Loads one file from its bytes. Never panics, whatever the bytes.
pub fn load_bytes(file: &Path, bytes: &[u8]) -> FileResult {
    let text = match source::decode(bytes) {
        Ok(t) => t,
        Err(e) => {
            let offset = match e {
                source::SourceError::NotUtf8(o) => Some(o..o + 1),
                _ => None,
            };
            let mut d = Diagnostic::error(file, "", e.to_string());
            if let Some(o) = offset {
                // Locate by line in the valid prefix.
                let prefix = String::from_utf8_lossy(&bytes[..o.start]).into_owned();
                d = d.at(&prefix, Some(prefix.len()..prefix.len()));
            }
            return FileResult::Invalid {
                diagnostics: vec![d],
            };
        }
    };
    let (json, spans) = match source::parse(text) {
        Ok(x) => x,
        Err(source::SourceError::Syntax { message, span }) => {
            return FileResult::Invalid {
                diagnostics: vec![
                    Diagnostic::error(file, "", format!("TOML syntax error: {message}"))
                        .at(text, span),
                ],
            };
        }
        Err(e) => {
            return FileResult::Invalid {
                diagnostics: vec![Diagnostic::error(file, "", e.to_string())],
            };
        }
    };
    match json.get("kind") {
        Some(Value::String(k)) if k == "scenario" => {
            // Files with many problems locate many diagnostics: index the lines once.
            let (name, cases, diagnostics) = crate::diag::with_line_index(text, || {
                load_scenario(file, text, &json, &spans)
            });
            let judge = match (
                json.pointer("/judge/pack").and_then(Value::as_str),
                json.pointer("/judge/rule").and_then(Value::as_str),
            ) {
                (Some(pack), Some(rule)) => Some(JudgeSite {
                    pack: pack.to_string(),
                    rule: rule.to_string(),
                    rule_span: spans.value("/judge/rule"),
                }),
                _ => None,
            };
            FileResult::Scenario { name, cases, diagnostics, name_span_text: (text.to_string(), spans.value("/name")), judge }
        }
        Some(Value::String(k)) if k == "thresholds" => {
            match crate::thresholds::load_pack_value(file, text, &json, &spans) {
                Ok(pack) => FileResult::Other {
                    kind: k.clone(),
                    diagnostics: Vec::new(),
                    pack: Some(Box::new(pack)),
                },
                Err(diagnostics) => FileResult::Other {
                    kind: k.clone(),
                    diagnostics,
                    pack: None,
                },
            }
        }
        Some(Value::String(k)) if k == "sut" => FileResult::Other {
            kind: k.clone(),
            pack: None,
            diagnostics: crate::sut::manifest::load_value(file, text, &json, &spans)
                .err()
                .unwrap_or_default(),
        },
        Some(Value::String(k)) if FILE_KINDS.contains(&k.as_str()) => FileResult::Other {
            kind: k.clone(),
            pack: None,
            diagnostics: vec![
                Diagnostic::warning(file, "kind", format!("files of kind `{k}` are not read by this version of gauntlet; skipped"))
                    .at(text, spans.value("/kind")),
            ],
        },
        Some(other) => {
            let known: Vec<String> = FILE_KINDS.iter().map(|s| s.to_string()).collect();
            let hint = match other.as_str().and_then(|s| schema::suggest(s, &known)) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => String::new(),
            };
            FileResult::Invalid {
                diagnostics: vec![
                    Diagnostic::error(
                        file,
                        "kind",
                        format!(
                            "expected one of {}, found {}{hint}",
                            FILE_KINDS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
                            schema::describe_value(other)
                        ),
                    )
                    .at(text, spans.value("/kind")),
                ],
            }
        }
        None => FileResult::Invalid {
            diagnostics: vec![
                Diagnostic::error(
                    file,
                    "",
                    format!(
                        "missing required field `kind`: every Gauntlet TOML file says what it is ({})",
                        FILE_KINDS.iter().map(|k| format!("kind = \"{k}\"")).collect::<Vec<_>>().join(", ")
                    ),
                )
                .at(text, Some(0..0)),
            ],
        },
    }
}

/// A problem located by JSON pointer (`/actors/0/speed_kph`), before it gets its place in the
/// text. Sweep expansion, parameter resolution and model building all report these.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

fn place(file: &Path, text: &str, spans: &SpanMap, l: &FieldError) -> Diagnostic {
    Diagnostic::error(file, field_path(&l.pointer), l.message.clone())
        .at(text, spans.value(&l.pointer))
}

fn load_scenario(
    file: &Path,
    text: &str,
    json: &Value,
    spans: &SpanMap,
) -> (Option<String>, Vec<Case>, Vec<Diagnostic>) {
    let mut diags = schema::validate(SchemaKind::Editor, json, file, text, spans);
    let name = json.get("name").and_then(Value::as_str).map(String::from);
    if diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        // The rest needs a well-formed file, but sweep problems can still be reported now.
        let sweep_ok = !diags.iter().any(|d| d.field.starts_with("sweep"));
        if let (true, Some(n), Some(Ok(s))) = (
            sweep_ok,
            &name,
            json.get("sweep")
                .map(|v| serde_json::from_value::<format::Sweep>(integral(v))),
        ) {
            if let Err(errors) = sweep::expand(n, Some(&s), text.len()) {
                for e in errors {
                    diags.push(place(file, text, spans, &e));
                }
            }
        }
        return (name, Vec::new(), diags);
    }
    let name = name.unwrap_or_default();

    // Sweep and parameters are literal (schema-checked above), so they deserialize directly.
    let sweep: Option<format::Sweep> = match json
        .get("sweep")
        .map(|v| serde_json::from_value(integral(v)))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            diags.push(place(
                file,
                text,
                spans,
                &FieldError {
                    pointer: "/sweep".into(),
                    message: e.to_string(),
                },
            ));
            return (Some(name), Vec::new(), diags);
        }
    };
    let parameters: BTreeMap<String, format::ParamValue> = match json
        .get("parameters")
        .map(|v| serde_json::from_value(v.clone()))
    {
        None => BTreeMap::new(),
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            diags.push(place(
                file,
                text,
                spans,
                &FieldError {
                    pointer: "/parameters".into(),
                    message: e.to_string(),
                },
            ));
            return (Some(name), Vec::new(), diags);
        }
    };

    // Parameter names: identifiers, not reserved, not both swept and constant.
    let mut swept_names: BTreeSet<String> = BTreeSet::new();
    if let Some(s) = &sweep {
        for (n, ptr) in s
            .grid
            .keys()
            .map(|n| (n, format!("/sweep/grid/{}", source::pointer_segment(n))))
            .chain(s.random.iter().flat_map(|r| {
                r.params.keys().map(|n| {
                    (
                        n,
                        format!("/sweep/random/params/{}", source::pointer_segment(n)),
                    )
                })
            }))
        {
            swept_names.insert(n.clone());
            check_param_name(n, &ptr, file, text, spans, &mut diags);
            if parameters.contains_key(n) {
                diags.push(
                    Diagnostic::error(
                        file,
                        field_path(&ptr),
                        format!("`{n}` is both swept and defined in [parameters]"),
                    )
                    .at(text, spans.key(&ptr)),
                );
            }
        }
    }
    for n in parameters.keys() {
        check_param_name(
            n,
            &format!("/parameters/{}", source::pointer_segment(n)),
            file,
            text,
            spans,
            &mut diags,
        );
    }
    if diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        return (Some(name), Vec::new(), diags);
    }

    let expansion = match sweep::expand(&name, sweep.as_ref(), text.len()) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                diags.push(place(file, text, spans, &e));
            }
            return (Some(name), Vec::new(), diags);
        }
    };
    // What every case of the file builds its model from again, when it runs.
    let source = Arc::new(ScenarioSource {
        path: file.to_path_buf(),
        text: text.to_string(),
        json: json.clone(),
        spans: spans.clone(),
        parameters,
        expansion,
    });

    // `sweep::expand` bounded cases × file size; text made by `${…}` substitution, over all
    // cases, is bounded the same way.
    let mut text_budget = sweep::MAX_EXPANSION_BYTES;

    // Per case: resolve, substitute, check, build (and drop: a case keeps only its ID and its
    // index in the sweep). The same problem in several cases is reported once, with the IDs of
    // the cases it shows in.
    let mut grouped: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    let mut group_of: HashMap<(String, String), usize> = HashMap::new();
    let mut cases: Vec<Case> = Vec::new();
    // Case IDs seen so far, by hash: the position of the first case with that hash.
    let mut seen_ids: HashMap<u64, usize> = HashMap::new();
    for index in 0..source.expansion.len() {
        let swept = source.expansion.case(index);
        let id = sweep::case_id(&name, &swept);
        let problems: Vec<Diagnostic> = match build_case(
            json,
            &source.parameters,
            &swept,
            file,
            text,
            spans,
            &mut text_budget,
        ) {
            Ok(_) => {
                let hash = crate::rng::fnv1a64(id.as_bytes());
                let duplicate = match seen_ids.get(&hash) {
                    None => false,
                    Some(&first) if cases[first].id == id => true,
                    // Two IDs with one hash: look at every case.
                    Some(_) => cases.iter().any(|c| c.id == id),
                };
                if !duplicate {
                    seen_ids.entry(hash).or_insert(cases.len());
                    cases.push(Case {
                        id: id.clone(),
                        file: source.clone(),
                        index: index as u32,
                    });
                    Vec::new()
                } else {
                    vec![place(
                        file,
                        text,
                        spans,
                        &FieldError::new(
                            "/sweep",
                            format!(
                                "two samples give the same case ID `{id}`; use a finer `round_to`"
                            ),
                        ),
                    )]
                }
            }
            Err(CaseProblems::Located(p)) => {
                p.iter().map(|e| place(file, text, spans, e)).collect()
            }
            Err(CaseProblems::Diagnostics(ds)) => ds,
        };
        for d in problems {
            let key = (d.field.clone(), d.message.clone());
            let slot = *group_of.entry(key).or_insert_with(|| {
                grouped.push((d, Vec::new()));
                grouped.len() - 1
            });
            grouped[slot].1.push(id.clone());
        }
    }
    let n_cases = cases.len()
        + grouped
            .iter()
            .flat_map(|(_, ids)| ids)
            .collect::<BTreeSet<_>>()
            .len();
    for (mut d, ids) in grouped {
        // Problems that show in every case do not depend on the sweep: no case list.
        if n_cases > 1 && ids.len() < n_cases {
            d.cases = ids;
        }
        diags.push(d);
    }
    if diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        return (Some(name), Vec::new(), diags);
    }
    (Some(name), cases, diags)
}

fn check_param_name(
    n: &str,
    pointer: &str,
    file: &Path,
    text: &str,
    spans: &SpanMap,
    diags: &mut Vec<Diagnostic>,
) {
    let ident = n
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        diags.push(
            Diagnostic::error(file, field_path(pointer), format!("parameter name `{n}` is not an identifier (a letter or `_`, then letters, digits or `_`)"))
                .at(text, spans.key(pointer)),
        );
    } else if expr::RESERVED_NAMES.contains(&n) {
        diags.push(
            Diagnostic::error(
                file,
                field_path(pointer),
                format!(
                    "parameter name `{n}` is reserved for expressions (a function or constant)"
                ),
            )
            .at(text, spans.key(pointer)),
        );
    }
}

enum CaseProblems {
    Located(Vec<FieldError>),
    Diagnostics(Vec<Diagnostic>),
}

fn build_case(
    json: &Value,
    parameters: &BTreeMap<String, format::ParamValue>,
    swept: &BTreeMap<String, Param>,
    file: &Path,
    text: &str,
    spans: &SpanMap,
    text_budget: &mut usize,
) -> Result<(BTreeMap<String, Param>, model::Scenario), CaseProblems> {
    let params =
        resolve_parameters(parameters, swept, text_budget).map_err(CaseProblems::Located)?;
    let mut doc = json.clone();
    let mut problems = Vec::new();
    if let Value::Object(map) = &mut doc {
        for (key, value) in map.iter_mut() {
            // Literal sections.
            if matches!(key.as_str(), "kind" | "name" | "parameters" | "sweep") {
                continue;
            }
            if key == "sensors" {
                if let Value::Object(sensors) = value {
                    for name in ["object_list", "camera", "gnss"] {
                        if let Some(o) = sensors.get_mut(name) {
                            substitute_tree(
                                o,
                                &format!("/sensors/{name}"),
                                &params,
                                &mut problems,
                                text_budget,
                            );
                        }
                    }
                }
                continue;
            }
            substitute_tree(
                value,
                &format!("/{}", source::pointer_segment(key)),
                &params,
                &mut problems,
                text_budget,
            );
        }
    }
    if !problems.is_empty() {
        return Err(CaseProblems::Located(problems));
    }
    let diags = schema::validate(SchemaKind::Strict, &doc, file, text, spans);
    if !diags.is_empty() {
        return Err(CaseProblems::Diagnostics(diags));
    }
    let typed: format::ScenarioFile = serde_json::from_value(integral(&doc)).map_err(|e| {
        CaseProblems::Located(vec![FieldError {
            pointer: String::new(),
            message: format!("internal: schema and format disagree: {e}"),
        }])
    })?;
    let model = model::build(&typed).map_err(CaseProblems::Located)?;
    Ok((params, model))
}

/// Resolves `[parameters]` in dependency order, with the swept values given.
fn resolve_parameters(
    parameters: &BTreeMap<String, format::ParamValue>,
    swept: &BTreeMap<String, Param>,
    text_budget: &mut usize,
) -> Result<BTreeMap<String, Param>, Vec<FieldError>> {
    let mut resolved: BTreeMap<String, Param> = swept.clone();
    let mut errors = Vec::new();
    let mut reported = HashSet::new();
    for name in parameters.keys() {
        let mut stack = Vec::new();
        if let Err(e) = resolve_one(name, parameters, &mut resolved, &mut stack, text_budget) {
            if reported.insert(e.pointer.clone()) {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(errors)
    }
}

fn resolve_one(
    name: &str,
    parameters: &BTreeMap<String, format::ParamValue>,
    resolved: &mut BTreeMap<String, Param>,
    stack: &mut Vec<String>,
    text_budget: &mut usize,
) -> Result<(), FieldError> {
    if resolved.contains_key(name) {
        return Ok(());
    }
    let pointer = format!("/parameters/{}", source::pointer_segment(name));
    if stack.iter().any(|s| s == name) {
        stack.push(name.to_string());
        return Err(FieldError {
            pointer,
            message: format!(
                "parameters depend on each other in a cycle: {}",
                stack.join(" → ")
            ),
        });
    }
    if stack.len() > 64 {
        return Err(FieldError {
            pointer,
            message: "parameters nest deeper than 64 levels".into(),
        });
    }
    let value = match parameters.get(name) {
        None => return Ok(()),
        Some(format::ParamValue::Number(x)) => Param::Number(*x),
        Some(format::ParamValue::Text(s)) if s.starts_with(source::NON_FINITE_MARK) => {
            return Err(FieldError {
                pointer,
                message: format!(
                    "{} is not a finite number",
                    &s[source::NON_FINITE_MARK.len()..]
                ),
            });
        }
        Some(format::ParamValue::Text(s)) if !expr::has_substitution(s) => Param::Word(s.clone()),
        Some(format::ParamValue::Text(s)) => {
            // Resolve what it refers to first.
            let exprs = expr::expressions(s).map_err(|e| FieldError {
                pointer: pointer.clone(),
                message: e.to_string(),
            })?;
            stack.push(name.to_string());
            for e in exprs {
                for word in expr::identifiers(e) {
                    if parameters.contains_key(word) {
                        resolve_one(word, parameters, resolved, stack, text_budget)?;
                    }
                }
            }
            stack.pop();
            let value = expr::substitute(s, resolved).map_err(|e| FieldError {
                pointer: pointer.clone(),
                message: e.to_string(),
            })?;
            let len = if let Param::Word(w) = &value {
                w.len()
            } else {
                0
            };
            spend_text(text_budget, len).map_err(|message| FieldError {
                pointer: pointer.clone(),
                message,
            })?;
            value
        }
    };
    resolved.insert(name.to_string(), value);
    Ok(())
}

fn substitute_tree(
    value: &mut Value,
    pointer: &str,
    params: &BTreeMap<String, Param>,
    problems: &mut Vec<FieldError>,
    text_budget: &mut usize,
) {
    match value {
        Value::String(s) if expr::has_substitution(s) => match expr::substitute(s, params) {
            Ok(Param::Number(x)) => {
                *value = if x.fract() == 0.0 && x.abs() < 9.0e15 {
                    Value::Number((x as i64).into())
                } else {
                    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
                };
            }
            Ok(Param::Word(w)) => match spend_text(text_budget, w.len()) {
                Ok(()) => *value = Value::String(w),
                Err(message) => problems.push(FieldError {
                    pointer: pointer.to_string(),
                    message,
                }),
            },
            Err(e) => problems.push(FieldError {
                pointer: pointer.to_string(),
                message: e.to_string(),
            }),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_tree(
                    item,
                    &format!("{pointer}/{i}"),
                    params,
                    problems,
                    text_budget,
                );
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute_tree(
                    v,
                    &format!("{pointer}/{}", source::pointer_segment(k)),
                    params,
                    problems,
                    text_budget,
                );
            }
        }
        _ => {}
    }
}

/// Takes `len` bytes of substituted text from the file's budget (see `sweep::MAX_EXPANSION_BYTES`).
fn spend_text(text_budget: &mut usize, len: usize) -> Result<(), String> {
    *text_budget = text_budget.checked_sub(len).ok_or_else(|| {
        format!(
            "substitution makes more than {} MiB of text over the cases of this file",
            sweep::MAX_EXPANSION_BYTES >> 20
        )
    })?;
    Ok(())
}

/// A copy in which floats with no fractional part are integers: the schema accepts `2.0` where
/// a whole number goes (JSON Schema's rule), and serde then needs an integer for `u32` fields.
fn integral(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() && x.fract() == 0.0 && x.abs() < 9.0e15 => {
                Value::Number((x as i64).into())
            }
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(integral).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), integral(x))).collect())
        }
        _ => v.clone(),
    }
}
