//! The threshold pack format (`kind = "thresholds"`): the serde and JSON Schema types at the file edge.
//!
//! A pack is data, not code: it transcribes one source (a regulation, a rating protocol, a draft
//! standard) into rules of a few generic types, so that a committee can write its own draft pack
//! without touching the harness. These types are a compatibility promise like the scenario
//! format; `thresholds::build` converts them into plain domain types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::format::PACK_ID_PATTERN;

/// Pattern of a metric name (`applies_to`): lower-case words joined by `_`, unit last.
pub const METRIC_PATTERN: &str = r"^[a-z][a-z0-9_]*$";

/// A threshold pack: the rules of one source, versioned.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Gauntlet threshold pack")]
pub struct PackFile {
    /// What this file is. Always `"thresholds"` for threshold packs.
    pub kind: ThresholdsKind,
    /// Pack id, named by scenarios in `[judge] pack`, e.g. `un-r152-m1`.
    #[schemars(regex(pattern = PACK_ID_PATTERN), length(min = 1, max = 80))]
    pub id: String,
    /// Version of this pack (of the transcription, not of the source), e.g. `1.0.0`.
    #[schemars(length(min = 1, max = 40))]
    pub version: String,
    /// How far the numbers can be trusted: `official` (transcribed from the official text),
    /// `draft` (a draft standard or a committee's proposal), `unverified` (secondary sources).
    pub status: Status,
    /// The document this pack transcribes: title, version, sections.
    #[schemars(length(min = 1))]
    pub source: String,
    /// What the pack covers, in a sentence or two.
    #[serde(default)]
    pub description: Option<String>,
    /// The rules, each with its own id.
    #[schemars(length(min = 1))]
    pub rules: Vec<RuleFile>,
}

/// The `kind` of a threshold pack.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdsKind {
    Thresholds,
}

/// How far a pack or a rule can be trusted: `official` (transcribed from the official text),
/// `draft` (from a draft standard or a committee's own proposal), `unverified` (from secondary
/// sources or our own reading; to be confirmed).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Official,
    Draft,
    Unverified,
}

/// One rule of a pack.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Rule id, unique in the pack, named by scenarios in `[judge] rule`, e.g. `car-stationary`.
    #[schemars(regex(pattern = PACK_ID_PATTERN), length(min = 1, max = 80))]
    pub id: String,
    /// What the rule requires, in words.
    #[schemars(length(min = 1))]
    pub description: String,
    /// Where in the source the rule comes from (section, table, footnote).
    #[schemars(length(min = 1))]
    pub source: String,
    /// Overrides the pack's status for this rule (e.g. one column that is only our reading).
    #[serde(default)]
    pub status: Option<Status>,
    /// The metric the rule judges, unit last, e.g. `relative_impact_speed_kph`,
    /// `warning_lead_time_s`, `collision` (a name of `docs/metrics.md` or an alias). Composite
    /// and bookkeeping rules name what they judge as a whole: `case_verdict` (`all_of`,
    /// `repeats`), `scenario_points` (`points_scheme`, `gates`).
    #[schemars(regex(pattern = METRIC_PATTERN), length(min = 1, max = 80))]
    pub applies_to: String,
    /// Vehicle categories the rule applies to (`M1`, `N1`, …; matched against the scenario's
    /// `ego.category`); empty: all.
    #[serde(default)]
    pub vehicle_categories: Vec<String>,
    /// The check itself: a table whose `type` picks the rule type.
    pub check: CheckFile,
}

/// The rule types.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckFile {
    /// No contact between the vehicle under test and any actor.
    NoCollision {
        /// Only where this reference driver model avoids the collision in the same case
        /// (e.g. `careful-driver` for UN R157); omitted: always.
        #[serde(default)]
        unless_unavoidable_for: Option<String>,
    },
    /// A maximum of the metric that depends on the ego speed, by table rows.
    MaxBySpeedTable {
        /// Rows `{ ego_speed_kph, max }`, sorted by speed, no speed twice.
        #[schemars(length(min = 1))]
        rows: Vec<SpeedRow>,
        /// The maximum at an ego speed between two listed speeds.
        between_rows: BetweenRows,
        /// The maximum below the first listed speed.
        below_table: OutsideTable,
        /// The maximum above the last listed speed.
        above_table: OutsideTable,
    },
    /// Colour bands (Euro NCAP), in rows picked by the VUT speed.
    Bands {
        /// Measured values are rounded half-up (decimal, away from zero on ties) to this many
        /// decimals before banding.
        #[schemars(range(min = 0, max = 6))]
        round_half_up_decimals: u32,
        /// VUT speeds above this use the row of this speed (Euro NCAP caps at 50 km/h).
        #[serde(default)]
        #[schemars(extend("exclusiveMinimum" = 0))]
        vut_speed_cap_kph: Option<f64>,
        /// Which row a VUT speed between two listed speeds uses; required with several rows.
        #[serde(default)]
        between_rows: Option<BetweenRows>,
        /// Tolerance on a predicted colour, in the metric's unit: a value within this much of
        /// the predicted band counts as predicted. 0: none.
        #[serde(default)]
        #[schemars(range(min = 0))]
        prediction_tolerance: f64,
        /// The rows. With one row, `vut_speed_kph` may be omitted (bands for every speed).
        #[schemars(length(min = 1))]
        rows: Vec<BandRow>,
    },
    /// The metric must be at least `limit`.
    MinValue(LimitFile),
    /// The metric must be at most `limit`.
    MaxValue(LimitFile),
    /// Minimum time gap to the lead vehicle: `base_s + per_kph_s × v[km/h]`, and at least
    /// `min_gap_m` metres.
    MinTimeGap {
        /// Gap at 0 km/h, seconds.
        #[schemars(range(min = 0))]
        base_s: f64,
        /// Seconds added per km/h of ego speed.
        #[schemars(range(min = 0))]
        per_kph_s: f64,
        /// The gap in metres is never required below this.
        #[schemars(range(min = 0))]
        min_gap_m: f64,
        /// The rule applies from this ego speed on, km/h.
        #[serde(default)]
        #[schemars(range(min = 0))]
        from_speed_kph: f64,
    },
    /// Repeated runs of each case and the share of failures allowed.
    Repeats {
        /// Runs per case.
        #[schemars(range(min = 1, max = 100))]
        runs: u32,
        /// Extra runs allowed after a failed run.
        #[schemars(range(min = 0, max = 100))]
        retries: u32,
        /// Largest share of failed cases allowed per group, 0–1 (0.1 = 10 %).
        #[schemars(range(min = 0, max = 1))]
        max_failure_share: f64,
        /// What a group is, e.g. `category` (the test category: car target, pedestrian, …).
        #[schemars(length(min = 1))]
        per: String,
    },
    /// Euro NCAP points of one scenario: judged by a `bands` rule, scored by a
    /// `points_scheme` rule.
    Points {
        /// The scenario's name in the source, e.g. `CCRs`, `CPNA day`.
        #[schemars(length(min = 1))]
        scenario: String,
        /// Id of the `bands` rule that colours each cell.
        #[schemars(regex(pattern = PACK_ID_PATTERN))]
        bands: String,
        /// Id of the `points_scheme` rule.
        #[schemars(regex(pattern = PACK_ID_PATTERN))]
        scheme: String,
        /// Maximum points of the standard range.
        #[schemars(range(min = 0))]
        standard: f64,
        /// Maximum points of the extended range.
        #[schemars(range(min = 0))]
        extended: f64,
        /// Maximum points of the robustness layer; omitted: none.
        #[serde(default)]
        #[schemars(range(min = 0))]
        robustness: Option<f64>,
        /// VUT speeds of the official grid, km/h, increasing: cells at other speeds (a finer
        /// sweep) are coloured and judged but not scored. Omitted: every cell is scored.
        #[serde(default)]
        #[schemars(length(min = 1))]
        grid_vut_speeds_kph: Option<Vec<f64>>,
        /// Scored cells at or above this VUT speed, km/h, are the extended range, the others
        /// the standard range. Omitted: every scored cell is standard.
        #[serde(default)]
        #[schemars(range(min = 0, max = 400))]
        extended_from_vut_speed_kph: Option<f64>,
    },
    /// How colours become points (Euro NCAP).
    PointsScheme {
        /// Weight of each colour in the standard range, 0–1.
        colour_weights: BTreeMap<Colour, f64>,
        /// Extended range: the share of cells not red is snapped down to the largest of these
        /// shares (0–1, increasing) it reaches.
        #[schemars(length(min = 1))]
        extended_share_steps: Vec<f64>,
        /// Verification tests per scenario and the percentage of the prediction's points kept
        /// for 0, 1, 2, … correct tests (one entry per count, increasing).
        #[schemars(length(min = 1))]
        verification_percent_by_correct: Vec<f64>,
        /// Scores are rounded half-up to this many decimals.
        #[schemars(range(min = 0, max = 6))]
        score_round_half_up_decimals: u32,
    },
    /// Conditions that zero a score when any listed cell misses its colour.
    Gates {
        /// The gates.
        #[schemars(length(min = 1))]
        gates: Vec<GateFile>,
    },
    /// All the listed rules must pass.
    AllOf {
        /// Ids of rules of this pack.
        #[schemars(length(min = 1))]
        rules: Vec<String>,
    },
}

/// One row of a speed table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeedRow {
    /// Ego (subject vehicle) speed, km/h.
    #[schemars(range(min = 0, max = 400))]
    pub ego_speed_kph: f64,
    /// Largest value allowed at this speed, in the metric's unit.
    pub max: f64,
}

/// What a table gives between two listed speeds: `linear` (interpolation between the two
/// rows), `next_higher_row` (the row of the next higher listed speed), `previous_row` (the row
/// of the next lower listed speed), `not_allowed` (no value: such a speed cannot be judged).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BetweenRows {
    Linear,
    NextHigherRow,
    PreviousRow,
    NotAllowed,
}

/// What a table gives outside its listed speeds: `nearest_row` (the nearest row's value) or
/// `not_allowed` (no value: such a speed cannot be judged).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutsideTable {
    NearestRow,
    NotAllowed,
}

/// The bands of one VUT speed row.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BandRow {
    /// VUT speed of this row, km/h.
    #[serde(default)]
    #[schemars(range(min = 0, max = 400))]
    pub vut_speed_kph: Option<f64>,
    /// Bands from the lowest values up. Every band but the last has an upper edge: `below`
    /// (the edge belongs to the band above) or `at_most` (the edge belongs to this band).
    #[schemars(length(min = 1))]
    pub bands: Vec<BandFile>,
}

/// One colour band.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BandFile {
    /// The colour.
    pub colour: Colour,
    /// Upper edge, excluded: values `< below` (and not in a lower band).
    #[serde(default)]
    pub below: Option<f64>,
    /// Upper edge, included: values `≤ at_most` (and not in a lower band).
    #[serde(default)]
    pub at_most: Option<f64>,
}

/// Euro NCAP colours.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Green,
    Yellow,
    Orange,
    Brown,
    Red,
}

/// A limit on a metric.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitFile {
    /// The limit, in the unit of the metric.
    pub limit: f64,
    /// Whether the limit itself passes (`≥`/`≤`); false: strictly (`>`/`<`).
    #[serde(default = "default_true")]
    pub inclusive: bool,
    /// The metric is averaged over sliding windows of this length before the check, seconds
    /// (e.g. jerk over any 0.5 s).
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub window_s: Option<f64>,
}

fn default_true() -> bool {
    true
}

/// One gate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateFile {
    /// Id of the `points` rule whose cells are checked.
    #[schemars(regex(pattern = PACK_ID_PATTERN))]
    pub rule: String,
    /// The cells checked, by sweep parameter: each listed parameter must have one of the values.
    pub cells: BTreeMap<String, Vec<f64>>,
    /// The colour every such cell must have.
    pub required_colour: Colour,
    /// The score that becomes 0 when a cell misses, e.g. `frontal-collisions`.
    #[schemars(length(min = 1))]
    pub zeroes: String,
}
