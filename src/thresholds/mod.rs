//! Threshold packs (`kind = "thresholds"`): loading, validation and the domain model of a pack.
//!
//! Pipeline for one file, as for scenarios: bytes → TOML with spans (`scenario::source`) →
//! schema check against the pack schema generated from `format.rs` → serde types → domain types
//! with semantic checks ([`build`]). Every problem becomes a [`Diagnostic`] with file, line,
//! column and field path. Applying a pack to run results is the evaluator's job (not here).

pub mod format;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::scenario::schema::{self, field_path};
use crate::scenario::source::{self, SpanMap};

pub use format::{BetweenRows, Colour, OutsideTable, Status};

/// A threshold pack, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub id: String,
    pub version: String,
    pub status: Status,
    pub source: String,
    pub description: Option<String>,
    /// In file order; ids are unique.
    pub rules: Vec<Rule>,
}

impl Pack {
    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// One rule of a pack.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub source: String,
    /// The rule's own status, else the pack's.
    pub status: Status,
    /// The metric judged, unit last (`relative_impact_speed_kph`).
    pub applies_to: String,
    /// Vehicle categories the rule applies to; empty: all.
    pub vehicle_categories: Vec<String>,
    pub check: Check,
}

/// The rule types (see `docs/thresholds-format.md`).
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    NoCollision {
        unless_unavoidable_for: Option<String>,
    },
    MaxBySpeedTable(SpeedTable),
    Bands(BandTable),
    MinValue(Limit),
    MaxValue(Limit),
    MinTimeGap {
        base_s: f64,
        per_kph_s: f64,
        min_gap_m: f64,
        from_speed_kph: f64,
    },
    Repeats {
        runs: u32,
        retries: u32,
        max_failure_share: f64,
        per: String,
    },
    Points {
        scenario: String,
        bands_rule: String,
        scheme_rule: String,
        standard_points: f64,
        extended_points: f64,
        robustness_points: Option<f64>,
        /// VUT speeds (km/h, increasing) of the official grid: only cells at these speeds are
        /// scored; `None`: every cell is. See [`Check::points_range`].
        grid_vut_speeds_kph: Option<Vec<f64>>,
        /// Scored cells at or above this VUT speed are the extended range; `None`: none is.
        extended_from_vut_speed_kph: Option<f64>,
    },
    PointsScheme {
        colour_weights: BTreeMap<Colour, f64>,
        extended_share_steps: Vec<f64>,
        verification_percent_by_correct: Vec<f64>,
        score_round_half_up_decimals: u32,
    },
    Gates(Vec<Gate>),
    AllOf(Vec<String>),
}

/// Tolerance of speed matches in `Check::points_range`, km/h.
pub const GRID_SPEED_EPS_KPH: f64 = 1e-6;

impl Check {
    /// Where a cell at `vut_speed_kph` counts in a `points` rule: `None` when it is not scored
    /// (its speed is not one of `grid_vut_speeds_kph`, matched within
    /// [`GRID_SPEED_EPS_KPH`]) or this is not a `points` rule; else `Some(extended)`, true
    /// for the extended range (at or above `extended_from_vut_speed_kph`), false for the
    /// standard range. Cells that are not scored are still coloured and judged.
    pub fn points_range(&self, vut_speed_kph: f64) -> Option<bool> {
        let Check::Points {
            grid_vut_speeds_kph,
            extended_from_vut_speed_kph,
            ..
        } = self
        else {
            return None;
        };
        let on_grid = grid_vut_speeds_kph.as_ref().is_none_or(|speeds| {
            speeds
                .iter()
                .any(|s| (s - vut_speed_kph).abs() <= GRID_SPEED_EPS_KPH)
        });
        on_grid.then(|| {
            extended_from_vut_speed_kph
                .is_some_and(|from| vut_speed_kph >= from - GRID_SPEED_EPS_KPH)
        })
    }
}

/// A maximum by ego speed: rows sorted by speed, no speed twice.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedTable {
    /// `(ego speed km/h, maximum)`.
    pub rows: Vec<(f64, f64)>,
    pub between_rows: BetweenRows,
    pub below_table: OutsideTable,
    pub above_table: OutsideTable,
}

/// Colour bands by VUT speed row.
#[derive(Debug, Clone, PartialEq)]
pub struct BandTable {
    pub round_half_up_decimals: u32,
    pub vut_speed_cap_kph: Option<f64>,
    /// `NotAllowed` when there is one row only.
    pub between_rows: BetweenRows,
    pub prediction_tolerance: f64,
    /// Sorted by speed; `None` only for a single row that holds at every speed.
    pub rows: Vec<(Option<f64>, Vec<Band>)>,
}

/// One colour band: values up to its upper edge (the last band has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub colour: Colour,
    pub upper: Option<Edge>,
}

/// The upper edge of a band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edge {
    /// `value < x`: the edge belongs to the band above.
    Below(f64),
    /// `value ≤ x`: the edge belongs to this band.
    AtMost(f64),
}

impl Edge {
    pub fn value(self) -> f64 {
        match self {
            Edge::Below(x) | Edge::AtMost(x) => x,
        }
    }
}

/// A limit on a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub limit: f64,
    pub inclusive: bool,
    pub window_s: Option<f64>,
}

/// A gate: cells of a `points` rule that must have a colour, else a score is zeroed.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub points_rule: String,
    pub cells: BTreeMap<String, Vec<f64>>,
    pub required_colour: Colour,
    pub zeroes: String,
}

/// The JSON Schema of threshold packs, generated from `format.rs`.
pub fn pack_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let settings = schemars::generate::SchemaSettings::draft2020_12();
        let mut schema = settings
            .into_generator()
            .into_root_schema_for::<format::PackFile>()
            .to_value();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert(
                "$id".into(),
                Value::String("https://gauntlet.dev/schema/thresholds.schema.json".into()),
            );
        }
        schema
    })
}

/// Loads and validates one pack file.
pub fn load_pack(path: &Path) -> Result<Pack, Vec<Diagnostic>> {
    match std::fs::read(path) {
        Ok(bytes) => load_pack_bytes(path, &bytes),
        Err(e) => Err(vec![Diagnostic::error(
            path,
            "",
            format!("cannot read: {e}"),
        )]),
    }
}

/// Loads and validates one pack from its bytes (`file` names it in messages). Never panics.
pub fn load_pack_bytes(file: &Path, bytes: &[u8]) -> Result<Pack, Vec<Diagnostic>> {
    let text = match source::decode(bytes) {
        Ok(t) => t,
        Err(e) => return Err(vec![Diagnostic::error(file, "", e.to_string())]),
    };
    let (json, spans) = match source::parse(text) {
        Ok(x) => x,
        Err(source::SourceError::Syntax { message, span }) => {
            return Err(vec![
                Diagnostic::error(file, "", format!("TOML syntax error: {message}")).at(text, span),
            ]);
        }
        Err(e) => return Err(vec![Diagnostic::error(file, "", e.to_string())]),
    };
    load_pack_value(file, text, &json, &spans)
}

/// Validates a pack already parsed by `scenario::source::parse` (what `scenario::load_bytes`
/// calls for `kind = "thresholds"`).
pub fn load_pack_value(
    file: &Path,
    text: &str,
    json: &Value,
    spans: &SpanMap,
) -> Result<Pack, Vec<Diagnostic>> {
    crate::diag::with_line_index(text, || {
        static VALIDATOR: OnceLock<Validator> = OnceLock::new();
        let diags = schema::validate_against(pack_schema(), &VALIDATOR, json, file, text, spans);
        if !diags.is_empty() {
            return Err(diags);
        }
        let typed: format::PackFile = serde_json::from_value(json.clone())
            .map_err(|e| vec![Diagnostic::error(file, "", e.to_string()).at(text, Some(0..0))])?;
        build(&typed).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| {
                    Diagnostic::error(file, field_path(&p.pointer), p.message)
                        .at(text, spans.value(&p.pointer))
                })
                .collect()
        })
    })
}

/// A semantic problem, located by JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pointer: String,
    pub message: String,
}

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// Converts a schema-valid pack into domain types, with every semantic check.
pub fn build(file: &format::PackFile) -> Result<Pack, Vec<Problem>> {
    let mut problems = Vec::new();
    if file.version.trim().is_empty() {
        problems.push(problem("/version", "expected a version, found blank text"));
    }
    if file.source.trim().is_empty() {
        problems.push(problem(
            "/source",
            "expected the source document, found blank text",
        ));
    }
    let mut first_index: HashMap<&str, usize> = HashMap::new();
    for (i, r) in file.rules.iter().enumerate() {
        if let Some(j) = first_index.get(r.id.as_str()) {
            problems.push(problem(
                format!("/rules/{i}/id"),
                format!("rule id `{}` is already used by rules[{j}]", r.id),
            ));
        } else {
            first_index.insert(&r.id, i);
        }
    }
    let type_of = |id: &str| -> Option<&format::CheckFile> {
        first_index.get(id).map(|&i| &file.rules[i].check)
    };
    let ids: Vec<String> = file.rules.iter().map(|r| r.id.clone()).collect();
    let reference = |ptr: String, id: &str, want: &str, ok: bool, problems: &mut Vec<Problem>| {
        match type_of(id) {
            None => {
                let hint = match schema::suggest(id, &ids) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => String::new(),
                };
                problems.push(problem(ptr, format!("unknown rule `{id}`{hint}")));
            }
            Some(_) if !ok => {
                problems.push(problem(ptr, format!("rule `{id}` is not of type `{want}`")))
            }
            Some(_) => {}
        }
    };

    let mut rules = Vec::new();
    for (i, r) in file.rules.iter().enumerate() {
        let base = format!("/rules/{i}");
        for (k, c) in r.vehicle_categories.iter().enumerate() {
            if c.trim().is_empty() {
                problems.push(problem(
                    format!("{base}/vehicle_categories/{k}"),
                    "expected a vehicle category such as `M1`, found blank text",
                ));
            }
        }
        if let Some(p) = unknown_applies_to(&format!("{base}/applies_to"), r) {
            problems.push(p);
        }
        let ptr = format!("{base}/check");
        let check = match &r.check {
            format::CheckFile::NoCollision {
                unless_unavoidable_for,
            } => Check::NoCollision {
                unless_unavoidable_for: unless_unavoidable_for.clone(),
            },
            format::CheckFile::MaxBySpeedTable {
                rows,
                between_rows,
                below_table,
                above_table,
            } => {
                for k in 1..rows.len() {
                    if rows[k].ego_speed_kph <= rows[k - 1].ego_speed_kph {
                        problems.push(problem(
                            format!("{ptr}/rows/{k}/ego_speed_kph"),
                            format!(
                                "rows must be sorted by ego_speed_kph with no speed twice: {} follows {}",
                                rows[k].ego_speed_kph,
                                rows[k - 1].ego_speed_kph
                            ),
                        ));
                    }
                }
                Check::MaxBySpeedTable(SpeedTable {
                    rows: rows.iter().map(|r| (r.ego_speed_kph, r.max)).collect(),
                    between_rows: *between_rows,
                    below_table: *below_table,
                    above_table: *above_table,
                })
            }
            format::CheckFile::Bands {
                round_half_up_decimals,
                vut_speed_cap_kph,
                between_rows,
                prediction_tolerance,
                rows,
            } => {
                let table = build_bands(
                    &ptr,
                    *round_half_up_decimals,
                    *vut_speed_cap_kph,
                    *between_rows,
                    *prediction_tolerance,
                    rows,
                    &mut problems,
                );
                Check::Bands(table)
            }
            format::CheckFile::MinValue(l) => Check::MinValue(limit(l)),
            format::CheckFile::MaxValue(l) => Check::MaxValue(limit(l)),
            format::CheckFile::MinTimeGap {
                base_s,
                per_kph_s,
                min_gap_m,
                from_speed_kph,
            } => Check::MinTimeGap {
                base_s: *base_s,
                per_kph_s: *per_kph_s,
                min_gap_m: *min_gap_m,
                from_speed_kph: *from_speed_kph,
            },
            format::CheckFile::Repeats {
                runs,
                retries,
                max_failure_share,
                per,
            } => Check::Repeats {
                runs: *runs,
                retries: *retries,
                max_failure_share: *max_failure_share,
                per: per.clone(),
            },
            format::CheckFile::Points {
                scenario,
                bands,
                scheme,
                standard,
                extended,
                robustness,
                grid_vut_speeds_kph,
                extended_from_vut_speed_kph,
            } => {
                if let Some(speeds) = grid_vut_speeds_kph {
                    increasing(
                        &format!("{ptr}/grid_vut_speeds_kph"),
                        speeds,
                        None,
                        true,
                        &mut problems,
                    );
                }
                let is_bands = matches!(type_of(bands), Some(format::CheckFile::Bands { .. }));
                reference(
                    format!("{ptr}/bands"),
                    bands,
                    "bands",
                    is_bands,
                    &mut problems,
                );
                let is_scheme = matches!(
                    type_of(scheme),
                    Some(format::CheckFile::PointsScheme { .. })
                );
                reference(
                    format!("{ptr}/scheme"),
                    scheme,
                    "points_scheme",
                    is_scheme,
                    &mut problems,
                );
                Check::Points {
                    scenario: scenario.clone(),
                    bands_rule: bands.clone(),
                    scheme_rule: scheme.clone(),
                    standard_points: *standard,
                    extended_points: *extended,
                    robustness_points: *robustness,
                    grid_vut_speeds_kph: grid_vut_speeds_kph.clone(),
                    extended_from_vut_speed_kph: *extended_from_vut_speed_kph,
                }
            }
            format::CheckFile::PointsScheme {
                colour_weights,
                extended_share_steps,
                verification_percent_by_correct,
                score_round_half_up_decimals,
            } => {
                for c in [
                    Colour::Green,
                    Colour::Yellow,
                    Colour::Orange,
                    Colour::Brown,
                    Colour::Red,
                ] {
                    if !colour_weights.contains_key(&c) {
                        problems.push(problem(
                            format!("{ptr}/colour_weights"),
                            format!("missing the weight of colour `{}`", colour_name(c)),
                        ));
                    }
                }
                for (c, w) in colour_weights {
                    if !(0.0..=1.0).contains(w) {
                        problems.push(problem(
                            format!("{ptr}/colour_weights/{}", colour_name(*c)),
                            format!("expected a weight from 0 to 1, found {w}"),
                        ));
                    }
                }
                increasing(
                    &format!("{ptr}/extended_share_steps"),
                    extended_share_steps,
                    Some(1.0),
                    true,
                    &mut problems,
                );
                increasing(
                    &format!("{ptr}/verification_percent_by_correct"),
                    verification_percent_by_correct,
                    Some(100.0),
                    false,
                    &mut problems,
                );
                Check::PointsScheme {
                    colour_weights: colour_weights.clone(),
                    extended_share_steps: extended_share_steps.clone(),
                    verification_percent_by_correct: verification_percent_by_correct.clone(),
                    score_round_half_up_decimals: *score_round_half_up_decimals,
                }
            }
            format::CheckFile::Gates { gates } => {
                let mut out = Vec::new();
                for (g, gate) in gates.iter().enumerate() {
                    let gptr = format!("{ptr}/gates/{g}");
                    let is_points =
                        matches!(type_of(&gate.rule), Some(format::CheckFile::Points { .. }));
                    reference(
                        format!("{gptr}/rule"),
                        &gate.rule,
                        "points",
                        is_points,
                        &mut problems,
                    );
                    if gate.cells.is_empty() {
                        problems.push(problem(
                            format!("{gptr}/cells"),
                            "expected at least one parameter with its values, found an empty table",
                        ));
                    }
                    for (name, values) in &gate.cells {
                        if values.is_empty() {
                            problems.push(problem(
                                format!("{gptr}/cells/{}", source::pointer_segment(name)),
                                format!("expected at least one value of `{name}`, found none"),
                            ));
                        }
                    }
                    out.push(Gate {
                        points_rule: gate.rule.clone(),
                        cells: gate.cells.clone(),
                        required_colour: gate.required_colour,
                        zeroes: gate.zeroes.clone(),
                    });
                }
                Check::Gates(out)
            }
            format::CheckFile::AllOf { rules: members } => {
                for (k, m) in members.iter().enumerate() {
                    let mptr = format!("{ptr}/rules/{k}");
                    if *m == r.id {
                        problems.push(problem(mptr, format!("rule `{m}` cannot include itself")));
                        continue;
                    }
                    let not_composite =
                        !matches!(type_of(m), Some(format::CheckFile::AllOf { .. }));
                    reference(
                        mptr,
                        m,
                        "a check that is not `all_of`",
                        not_composite,
                        &mut problems,
                    );
                }
                Check::AllOf(members.clone())
            }
        };
        rules.push(Rule {
            id: r.id.clone(),
            description: r.description.clone(),
            source: r.source.clone(),
            status: r.status.unwrap_or(file.status),
            applies_to: r.applies_to.clone(),
            vehicle_categories: r.vehicle_categories.clone(),
            check,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Pack {
        id: file.id.clone(),
        version: file.version.clone(),
        status: file.status,
        source: file.source.clone(),
        description: file.description.clone(),
        rules,
    })
}

/// What a rule of a set-level type judges instead of one metric: `case_verdict` (the verdict
/// of a case, for `all_of` and `repeats`) or `scenario_points` (a scenario's points, for
/// `points_scheme` and `gates`); `None` for the rule types that judge a metric.
pub fn set_level_name(check: &format::CheckFile) -> Option<&'static str> {
    match check {
        format::CheckFile::AllOf { .. } | format::CheckFile::Repeats { .. } => Some("case_verdict"),
        format::CheckFile::PointsScheme { .. } | format::CheckFile::Gates { .. } => {
            Some("scenario_points")
        }
        _ => None,
    }
}

/// The rule type as written in files (`type = "…"`).
fn type_name(check: &format::CheckFile) -> &'static str {
    match check {
        format::CheckFile::NoCollision { .. } => "no_collision",
        format::CheckFile::MaxBySpeedTable { .. } => "max_by_speed_table",
        format::CheckFile::Bands { .. } => "bands",
        format::CheckFile::MinValue(_) => "min_value",
        format::CheckFile::MaxValue(_) => "max_value",
        format::CheckFile::MinTimeGap { .. } => "min_time_gap",
        format::CheckFile::Repeats { .. } => "repeats",
        format::CheckFile::Points { .. } => "points",
        format::CheckFile::PointsScheme { .. } => "points_scheme",
        format::CheckFile::Gates { .. } => "gates",
        format::CheckFile::AllOf { .. } => "all_of",
    }
}

/// Checks a rule's `applies_to`: a metric of `eval::metrics::METRIC_NAMES`, one of its
/// aliases (`METRIC_ALIASES`), or the set-level name of the rule's type.
fn unknown_applies_to(ptr: &str, r: &format::RuleFile) -> Option<Problem> {
    use crate::eval::localization::LOCALIZATION_METRIC_NAMES;
    use crate::eval::metrics::{METRIC_ALIASES, METRIC_NAMES};
    let name = r.applies_to.as_str();
    let set_level = set_level_name(&r.check);
    let is_metric = METRIC_NAMES.contains(&name)
        || LOCALIZATION_METRIC_NAMES.contains(&name)
        || METRIC_ALIASES.iter().any(|(alias, _)| *alias == name);
    if is_metric || set_level == Some(name) {
        return None;
    }
    let ty = type_name(&r.check);
    if let Some(other) = ["case_verdict", "scenario_points"]
        .into_iter()
        .find(|&n| n == name)
    {
        let goes_with = if other == "case_verdict" {
            "`all_of` and `repeats`"
        } else {
            "`points_scheme` and `gates`"
        };
        let expected = match set_level {
            Some(own) => format!("`{own}`"),
            None => "a metric (docs/metrics.md)".to_string(),
        };
        return Some(problem(
            ptr,
            format!(
                "`{other}` is judged by rules of type {goes_with}; rules of type `{ty}` judge {expected}"
            ),
        ));
    }
    let mut known: Vec<String> = METRIC_NAMES
        .iter()
        .chain(LOCALIZATION_METRIC_NAMES)
        .map(|n| n.to_string())
        .collect();
    known.extend(METRIC_ALIASES.iter().map(|(alias, _)| alias.to_string()));
    known.extend(set_level.map(str::to_string));
    let hint = match schema::suggest(name, &known) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    };
    let expected = match set_level {
        Some(own) => format!("`{own}` or a metric of docs/metrics.md"),
        None => "a metric of docs/metrics.md".to_string(),
    };
    Some(problem(
        ptr,
        format!("unknown metric `{name}`{hint}: rules of type `{ty}` judge {expected}"),
    ))
}

fn limit(l: &format::LimitFile) -> Limit {
    Limit {
        limit: l.limit,
        inclusive: l.inclusive,
        window_s: l.window_s,
    }
}

/// The colour as written in files.
pub fn colour_name(c: Colour) -> &'static str {
    match c {
        Colour::Green => "green",
        Colour::Yellow => "yellow",
        Colour::Orange => "orange",
        Colour::Brown => "brown",
        Colour::Red => "red",
    }
}

/// The colour named `name` (as [`colour_name`] writes it).
pub fn colour_from_name(name: &str) -> Option<Colour> {
    [
        Colour::Green,
        Colour::Yellow,
        Colour::Orange,
        Colour::Brown,
        Colour::Red,
    ]
    .into_iter()
    .find(|c| colour_name(*c) == name)
}

/// A status as packs and reports name it (`official`, `draft`, `unverified`).
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Official => "official",
        Status::Draft => "draft",
        Status::Unverified => "unverified",
    }
}

/// Checks that `values` increase (strictly, or allowing equal neighbours) and stay in
/// `0..=max`.
fn increasing(
    ptr: &str,
    values: &[f64],
    max: Option<f64>,
    strict: bool,
    problems: &mut Vec<Problem>,
) {
    for (k, v) in values.iter().enumerate() {
        if *v < 0.0 || max.is_some_and(|m| *v > m) {
            problems.push(problem(
                format!("{ptr}/{k}"),
                match max {
                    Some(m) => format!("expected a value from 0 to {m}, found {v}"),
                    None => format!("expected a value of at least 0, found {v}"),
                },
            ));
        }
        if k > 0 {
            let prev = values[k - 1];
            let bad = if strict { *v <= prev } else { *v < prev };
            if bad {
                problems.push(problem(
                    format!("{ptr}/{k}"),
                    if strict {
                        format!("values must increase: {v} follows {prev}")
                    } else {
                        format!("values must not decrease: {v} follows {prev}")
                    },
                ));
            }
        }
    }
}

fn build_bands(
    ptr: &str,
    round_half_up_decimals: u32,
    vut_speed_cap_kph: Option<f64>,
    between_rows: Option<BetweenRows>,
    prediction_tolerance: f64,
    rows: &[format::BandRow],
    problems: &mut Vec<Problem>,
) -> BandTable {
    let several = rows.len() > 1;
    if several && between_rows.is_none() {
        problems.push(problem(
            ptr.to_string(),
            "missing required field `between_rows`: a table with several rows says which row a speed between two listed speeds uses",
        ));
    }
    if between_rows == Some(BetweenRows::Linear) {
        problems.push(problem(
            format!("{ptr}/between_rows"),
            "colour bands cannot be interpolated: expected one of `next_higher_row`, `previous_row`, `not_allowed`, found `linear`",
        ));
    }
    let mut out_rows = Vec::new();
    let mut prev_speed: Option<f64> = None;
    for (k, row) in rows.iter().enumerate() {
        let rptr = format!("{ptr}/rows/{k}");
        match row.vut_speed_kph {
            None if several => problems.push(problem(
                rptr.clone(),
                "missing required field `vut_speed_kph`: every row of a table with several rows names its VUT speed",
            )),
            Some(s) => {
                if let Some(p) = prev_speed {
                    if s <= p {
                        problems.push(problem(
                            format!("{rptr}/vut_speed_kph"),
                            format!(
                                "rows must be sorted by vut_speed_kph with no speed twice: {s} follows {p}"
                            ),
                        ));
                    }
                }
                prev_speed = Some(s);
            }
            None => {}
        }
        let mut bands = Vec::new();
        let mut prev_edge: Option<Edge> = None;
        for (b, band) in row.bands.iter().enumerate() {
            let bptr = format!("{rptr}/bands/{b}");
            let last = b + 1 == row.bands.len();
            let edge = match (band.below, band.at_most) {
                (Some(_), Some(_)) => {
                    problems.push(problem(
                        bptr.clone(),
                        "a band has one upper edge: either `below` (the edge belongs to the band above) or `at_most` (it belongs to this band), not both",
                    ));
                    None
                }
                (Some(x), None) => Some(Edge::Below(x)),
                (None, Some(x)) => Some(Edge::AtMost(x)),
                (None, None) => None,
            };
            let both = band.below.is_some() && band.at_most.is_some();
            if !last && edge.is_none() && !both {
                problems.push(problem(
                    bptr.clone(),
                    "missing upper edge: every band but the last has `below` or `at_most`",
                ));
            }
            if last && (band.below.is_some() || band.at_most.is_some()) {
                problems.push(problem(
                    bptr.clone(),
                    "the last band holds every value above the others and has no upper edge; remove `below`/`at_most`",
                ));
            }
            if let (Some(e), Some(p)) = (edge, prev_edge) {
                if e.value() <= p.value() {
                    problems.push(problem(
                        format!(
                            "{bptr}/{}",
                            if matches!(e, Edge::Below(_)) {
                                "below"
                            } else {
                                "at_most"
                            }
                        ),
                        format!(
                            "band edges must increase: {} follows {}",
                            e.value(),
                            p.value()
                        ),
                    ));
                }
            }
            if edge.is_some() {
                prev_edge = edge;
            }
            bands.push(Band {
                colour: band.colour,
                upper: if last { None } else { edge },
            });
        }
        out_rows.push((row.vut_speed_kph, bands));
    }
    if let (Some(cap), Some(max)) = (vut_speed_cap_kph, prev_speed) {
        if !rows.iter().any(|r| r.vut_speed_kph == Some(cap)) {
            problems.push(problem(
                format!("{ptr}/vut_speed_cap_kph"),
                format!(
                    "the cap {cap} km/h must be the speed of a row (the last row is {max} km/h)"
                ),
            ));
        }
    }
    BandTable {
        round_half_up_decimals,
        vut_speed_cap_kph,
        between_rows: between_rows.unwrap_or(BetweenRows::NotAllowed),
        prediction_tolerance,
        rows: out_rows,
    }
}
