//! Verdicts from threshold packs: one rule applied to one case's metrics, and the aggregates.
//!
//! [`judge`] applies one rule of a [`Pack`] to the metrics of one case (looked up by the rule's
//! `applies_to` name through a [`MetricSource`]) and explains the outcome: every outcome carries
//! reasons that quote the measured value, the limit, and the source (`pack vVERSION, rule ID`):
//!
//! ```text
//! relative impact speed 27.1 km/h > 25 km/h allowed at 50 km/h (un-r152-m1 v1.0.0, rule car-stationary)
//! relative impact speed 12.3 km/h at VUT 50 km/h: orange (euro-ncap-2026 v1.1.0, rule ccrs)
//! ```
//!
//! The aggregates are pure functions over outcomes: [`repeat_case`] and [`repeats_outcome`]
//! (UN R152: runs and retries per case, failure share per category) and [`euro_ncap_points`]
//! (Euro NCAP points per scenario from a colour grid, and the gates).
//!
//! Semantics settled here (see also `docs/thresholds-format.md`):
//! - A metric the source does not know ([`MetricSource::has_metric`] false) is an `error`: the
//!   evaluator cannot judge the case. A metric it knows but that is undefined in this run
//!   (`Some(None)` in a map) makes the rule `not_applicable`, with a reason.
//! - A rule restricted to vehicle categories is `not_applicable` to another category; a case
//!   whose category is unknown is judged by it.
//! - Speed tables and band rows are looked up at the case's nominal ego (VUT) speed
//!   ([`JudgeContext::ego_speed_kph`]); a speed within 1e-6 km/h of a listed speed is that row.
//!   A speed the table cannot judge (`not_allowed` between or outside rows) is an `error`.
//! - `max_by_speed_table`: the limit itself passes (`measured ≤ max`).
//! - `bands`: the measured value is rounded half-up to the pack's decimals exactly as Euro
//!   NCAP's rating code does it ([`round_half_up`]), then banded by the pack's edges. The
//!   colour is the outcome; the verdict is `fail` for red and `pass` for every other colour.
//! - `points` rules are judged like their `bands` rule (the reason names the `points` rule).
//! - `points_scheme`, `gates` and `repeats` apply to a set of cases, not to one: judging one
//!   case by them is `not_applicable`.
//! - `all_of`: `fail` if any member fails, else `error` if any member errors, else `pass` if
//!   any member passes, else `not_applicable`.

use std::collections::{BTreeMap, BTreeSet};

use crate::thresholds::{
    BandTable, BetweenRows, Check, Edge, Limit, OutsideTable, Pack, Rule, SpeedTable, colour_name,
};

pub use crate::thresholds::Colour;

/// Two speeds closer than this are the same table row, km/h.
const SPEED_EPS_KPH: f64 = 1e-6;

/// Guard precision of [`round_half_up`] (as the rating code's `GUARD_DIGITS`).
const GUARD_DIGITS: u32 = 9;

/// Where rules look up the metrics of a case, by the rule's `applies_to` name.
pub trait MetricSource {
    /// The value of the metric; `None` when it is unknown or undefined in this run.
    fn metric(&self, name: &str) -> Option<f64>;

    /// Whether the source knows the metric at all (it may still be undefined in this run).
    /// A rule on a metric the source does not know is an `error`; on a known metric that is
    /// undefined, `not_applicable`.
    fn has_metric(&self, name: &str) -> bool {
        self.metric(name).is_some()
    }
}

/// Key present with `None`: known but undefined in this run; key absent: unknown.
impl MetricSource for BTreeMap<String, Option<f64>> {
    fn metric(&self, name: &str) -> Option<f64> {
        self.get(name).copied().flatten()
    }

    fn has_metric(&self, name: &str) -> bool {
        self.contains_key(name)
    }
}

/// What rules need about a case besides its metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JudgeContext {
    /// Nominal speed of the ego vehicle (Euro NCAP: the VUT) in the case, km/h: picks speed
    /// table and band rows; the time gap rule needs it too.
    pub ego_speed_kph: f64,
    /// Vehicle category of the ego (`M1`, `N1`, …); `None`: unknown, judged by every rule.
    pub vehicle_category: Option<String>,
    /// The maker's predicted colour of this cell (Euro NCAP): a measured colour within the
    /// bands' `prediction_tolerance` of the predicted band is taken as the prediction.
    pub predicted_colour: Option<Colour>,
    /// Per reference driver model (`careful-driver`), whether it collided in the same case
    /// (`no_collision` with `unless_unavoidable_for`).
    pub reference_collided: BTreeMap<String, bool>,
}

impl JudgeContext {
    /// A context with the ego speed only.
    pub fn at_speed(ego_speed_kph: f64) -> Self {
        JudgeContext {
            ego_speed_kph,
            ..JudgeContext::default()
        }
    }
}

/// The verdict of one rule on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Pass,
    Fail,
    /// The rule does not apply to this case (another vehicle category, an undefined metric,
    /// an unavoidable collision, an aggregate rule).
    NotApplicable,
    /// The case cannot be judged by this rule (a metric missing, a speed the table cannot
    /// judge, a broken reference).
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "not_applicable",
            Verdict::Error => "error",
        }
    }
}

/// The outcome of one rule on one case, explained.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    /// The rule judged.
    pub rule: String,
    pub verdict: Verdict,
    /// The colour applied (bands and points rules).
    pub colour: Option<Colour>,
    /// Why, one sentence each, quoting values, limits and the source.
    pub reasons: Vec<String>,
    /// The value judged, in the metric's unit (bands: after rounding).
    pub measured: Option<f64>,
    /// The limit it was compared with (tables: at this speed).
    pub limit: Option<f64>,
    /// The members' outcomes (`all_of`), in the rule's order.
    pub members: Vec<RuleOutcome>,
}

impl RuleOutcome {
    fn new(rule: &Rule, verdict: Verdict, reason: String) -> Self {
        RuleOutcome {
            rule: rule.id.clone(),
            verdict,
            colour: None,
            reasons: vec![reason],
            measured: None,
            limit: None,
            members: Vec::new(),
        }
    }

    fn with_values(mut self, measured: Option<f64>, limit: Option<f64>) -> Self {
        self.measured = measured;
        self.limit = limit;
        self
    }
}

/// Errors of the aggregates (inputs that do not fit the pack).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("unknown rule `{rule}` in threshold pack `{pack}`")]
    UnknownRule { pack: String, rule: String },
    #[error("rule `{rule}` of threshold pack `{pack}` is not of type `{expected}`")]
    WrongRuleType {
        pack: String,
        rule: String,
        expected: &'static str,
    },
    #[error(
        "a cell of rule `{rule}` lacks parameter `{parameter}`, which gate `{zeroes}` selects by"
    )]
    GateParameterMissing {
        rule: String,
        parameter: String,
        zeroes: String,
    },
}

/// The source quoted in reasons: `(pack vVERSION, rule ID)`.
fn cite(pack: &Pack, rule: &Rule) -> String {
    format!("({} v{}, rule {})", pack.id, pack.version, rule.id)
}

/// Applies one rule of `pack` to one case. Never panics; every problem is an `error` outcome.
pub fn judge(
    pack: &Pack,
    rule: &Rule,
    metrics: &dyn MetricSource,
    ctx: &JudgeContext,
) -> RuleOutcome {
    if let Some(category) = &ctx.vehicle_category {
        if !rule.vehicle_categories.is_empty() && !rule.vehicle_categories.contains(category) {
            return RuleOutcome::new(
                rule,
                Verdict::NotApplicable,
                format!(
                    "applies to {} only, not {category} {}",
                    rule.vehicle_categories.join(", "),
                    cite(pack, rule)
                ),
            );
        }
    }
    match &rule.check {
        Check::AllOf(members) => judge_all_of(pack, rule, members, metrics, ctx),
        Check::PointsScheme { .. } | Check::Gates(_) | Check::Repeats { .. } => RuleOutcome::new(
            rule,
            Verdict::NotApplicable,
            format!("a rule on a set of cases, not on one {}", cite(pack, rule)),
        ),
        Check::Points { bands_rule, .. } => match pack.rule(bands_rule) {
            Some(Rule {
                check: Check::Bands(table),
                ..
            }) => with_metric(pack, rule, metrics, |v| {
                judge_bands(pack, rule, table, v, ctx)
            }),
            _ => RuleOutcome::new(
                rule,
                Verdict::Error,
                format!("bands rule `{bands_rule}` not found {}", cite(pack, rule)),
            ),
        },
        Check::Bands(table) => with_metric(pack, rule, metrics, |v| {
            judge_bands(pack, rule, table, v, ctx)
        }),
        Check::NoCollision {
            unless_unavoidable_for,
        } => with_metric(pack, rule, metrics, |v| {
            judge_no_collision(pack, rule, unless_unavoidable_for.as_deref(), v, ctx)
        }),
        Check::MaxBySpeedTable(table) => with_metric(pack, rule, metrics, |v| {
            judge_speed_table(pack, rule, table, v, ctx)
        }),
        Check::MinValue(limit) => with_metric(pack, rule, metrics, |v| {
            judge_limit(pack, rule, limit, v, true)
        }),
        Check::MaxValue(limit) => with_metric(pack, rule, metrics, |v| {
            judge_limit(pack, rule, limit, v, false)
        }),
        Check::MinTimeGap {
            base_s,
            per_kph_s,
            min_gap_m,
            from_speed_kph,
        } => {
            if ctx.ego_speed_kph < from_speed_kph - SPEED_EPS_KPH {
                return RuleOutcome::new(
                    rule,
                    Verdict::NotApplicable,
                    format!(
                        "ego speed {} km/h is below {} km/h, where the rule starts {}",
                        num(ctx.ego_speed_kph),
                        num(*from_speed_kph),
                        cite(pack, rule)
                    ),
                );
            }
            with_metric(pack, rule, metrics, |v| {
                judge_time_gap(pack, rule, (*base_s, *per_kph_s, *min_gap_m), v, ctx)
            })
        }
    }
}

/// Looks up the rule's metric; a missing one is an `error`, an undefined one `not_applicable`.
fn with_metric(
    pack: &Pack,
    rule: &Rule,
    metrics: &dyn MetricSource,
    f: impl FnOnce(f64) -> RuleOutcome,
) -> RuleOutcome {
    let name = &rule.applies_to;
    match metrics.metric(name) {
        Some(v) if v.is_finite() => f(v),
        Some(v) => RuleOutcome::new(
            rule,
            Verdict::Error,
            format!("metric `{name}` is not finite ({v}) {}", cite(pack, rule)),
        ),
        None if metrics.has_metric(name) => RuleOutcome::new(
            rule,
            Verdict::NotApplicable,
            format!(
                "metric `{name}` is undefined in this run {}",
                cite(pack, rule)
            ),
        ),
        None => RuleOutcome::new(
            rule,
            Verdict::Error,
            format!("metric `{name}` is missing {}", cite(pack, rule)),
        ),
    }
}

fn judge_all_of(
    pack: &Pack,
    rule: &Rule,
    members: &[String],
    metrics: &dyn MetricSource,
    ctx: &JudgeContext,
) -> RuleOutcome {
    let mut outcomes = Vec::new();
    for id in members {
        let outcome = match pack.rule(id) {
            // Members are not `all_of` (validated); refuse here too so nothing recurses.
            Some(r) if !matches!(r.check, Check::AllOf(_)) => judge(pack, r, metrics, ctx),
            _ => RuleOutcome {
                rule: id.clone(),
                verdict: Verdict::Error,
                colour: None,
                reasons: vec![format!(
                    "member `{id}` is not a rule that can be combined {}",
                    cite(pack, rule)
                )],
                measured: None,
                limit: None,
                members: Vec::new(),
            },
        };
        outcomes.push(outcome);
    }
    let any = |v: Verdict| outcomes.iter().any(|o| o.verdict == v);
    let verdict = if any(Verdict::Fail) {
        Verdict::Fail
    } else if any(Verdict::Error) {
        Verdict::Error
    } else if any(Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::NotApplicable
    };
    // Reasons: those of the members that decided the verdict (a fail also shows errors).
    let mut reasons: Vec<String> = outcomes
        .iter()
        .filter(|o| match verdict {
            Verdict::Fail => matches!(o.verdict, Verdict::Fail | Verdict::Error),
            v => o.verdict == v,
        })
        .flat_map(|o| o.reasons.iter().cloned())
        .collect();
    if reasons.is_empty() {
        reasons.push(format!("no member rule applies {}", cite(pack, rule)));
    }
    RuleOutcome {
        rule: rule.id.clone(),
        verdict,
        colour: None,
        reasons,
        measured: None,
        limit: None,
        members: outcomes,
    }
}

fn judge_no_collision(
    pack: &Pack,
    rule: &Rule,
    unless_unavoidable_for: Option<&str>,
    collision: f64,
    ctx: &JudgeContext,
) -> RuleOutcome {
    if let Some(model) = unless_unavoidable_for {
        match ctx.reference_collided.get(model) {
            None => {
                return RuleOutcome::new(
                    rule,
                    Verdict::Error,
                    format!(
                        "no result of reference driver `{model}` for this case {}",
                        cite(pack, rule)
                    ),
                );
            }
            Some(true) => {
                return RuleOutcome::new(
                    rule,
                    Verdict::NotApplicable,
                    format!(
                        "unavoidable: reference driver `{model}` collides too {}",
                        cite(pack, rule)
                    ),
                )
                .with_values(Some(collision), Some(0.0));
            }
            Some(false) => {}
        }
    }
    let also = match unless_unavoidable_for {
        Some(model) => format!(" (reference driver `{model}` avoids it)"),
        None => String::new(),
    };
    let (verdict, what) = if collision > 0.0 {
        (Verdict::Fail, "a collision, where none is allowed")
    } else {
        (Verdict::Pass, "no collision")
    };
    RuleOutcome::new(rule, verdict, format!("{what}{also} {}", cite(pack, rule)))
        .with_values(Some(collision), Some(0.0))
}

/// The maximum of a speed table at `speed_kph`, with how it was found, or why there is none.
fn table_max(table: &SpeedTable, speed_kph: f64) -> Result<(f64, Option<String>), String> {
    let rows = &table.rows;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Err("the table has no rows".into());
    };
    if let Some(row) = rows
        .iter()
        .find(|r| (r.0 - speed_kph).abs() <= SPEED_EPS_KPH)
    {
        return Ok((row.1, None));
    }
    let outside = |side: OutsideTable, row: (f64, f64), word: &str| match side {
        OutsideTable::NearestRow => Ok((
            row.1,
            Some(format!("nearest listed speed {} km/h", num(row.0))),
        )),
        OutsideTable::NotAllowed => Err(format!(
            "ego speed {} km/h is {word} the table ({}–{} km/h), which the pack does not allow",
            num(speed_kph),
            num(first.0),
            num(last.0)
        )),
    };
    if speed_kph < first.0 {
        return outside(table.below_table, *first, "below");
    }
    if speed_kph > last.0 {
        return outside(table.above_table, *last, "above");
    }
    let k = rows
        .iter()
        .position(|r| r.0 > speed_kph)
        .unwrap_or(rows.len() - 1);
    let (lo, hi) = (rows[k.saturating_sub(1)], rows[k]);
    let between = format!("between {} and {} km/h", num(lo.0), num(hi.0));
    match table.between_rows {
        BetweenRows::Linear => {
            let t = (speed_kph - lo.0) / (hi.0 - lo.0);
            Ok((
                lo.1 + t * (hi.1 - lo.1),
                Some(format!("interpolated {between}")),
            ))
        }
        BetweenRows::NextHigherRow => Ok((hi.1, Some(format!("row {} km/h", num(hi.0))))),
        BetweenRows::PreviousRow => Ok((lo.1, Some(format!("row {} km/h", num(lo.0))))),
        BetweenRows::NotAllowed => Err(format!(
            "ego speed {} km/h is {between}, which the pack does not allow",
            num(speed_kph)
        )),
    }
}

fn judge_speed_table(
    pack: &Pack,
    rule: &Rule,
    table: &SpeedTable,
    measured: f64,
    ctx: &JudgeContext,
) -> RuleOutcome {
    let (max, how) = match table_max(table, ctx.ego_speed_kph) {
        Ok(x) => x,
        Err(why) => {
            return RuleOutcome::new(rule, Verdict::Error, format!("{why} {}", cite(pack, rule)))
                .with_values(Some(measured), None);
        }
    };
    let (label, unit) = metric_label(&rule.applies_to);
    let (m, l) = num_pair(measured, max);
    let fail = measured > max;
    let how = how.map(|h| format!(", {h}")).unwrap_or_default();
    let reason = format!(
        "{label} {m}{unit} {} {l}{unit} allowed at {} km/h{how} {}",
        if fail { ">" } else { "≤" },
        num(ctx.ego_speed_kph),
        cite(pack, rule)
    );
    let verdict = if fail { Verdict::Fail } else { Verdict::Pass };
    RuleOutcome::new(rule, verdict, reason).with_values(Some(measured), Some(max))
}

fn judge_limit(pack: &Pack, rule: &Rule, limit: &Limit, measured: f64, min: bool) -> RuleOutcome {
    let (label, unit) = metric_label(&rule.applies_to);
    let l = limit.limit;
    let pass = match (min, limit.inclusive) {
        (true, true) => measured >= l,
        (true, false) => measured > l,
        (false, true) => measured <= l,
        (false, false) => measured < l,
    };
    let op = match (min, pass, limit.inclusive) {
        (true, true, true) => "≥",
        (true, true, false) => ">",
        (true, false, true) => "<",
        (true, false, false) => "≤",
        (false, true, true) => "≤",
        (false, true, false) => "<",
        (false, false, true) => ">",
        (false, false, false) => "≥",
    };
    let word = if min { "required" } else { "allowed" };
    let excl = if limit.inclusive {
        ""
    } else {
        " (the limit excluded)"
    };
    let window = limit
        .window_s
        .map(|w| format!(", averaged over {} s", num(w)))
        .unwrap_or_default();
    let (m, ls) = num_pair(measured, l);
    let reason = format!(
        "{label} {m}{unit} {op} {ls}{unit} {word}{excl}{window} {}",
        cite(pack, rule)
    );
    let verdict = if pass { Verdict::Pass } else { Verdict::Fail };
    RuleOutcome::new(rule, verdict, reason).with_values(Some(measured), Some(l))
}

/// Time gap: at least `base_s + per_kph_s × v`, and the gap in metres never required below
/// `min_gap_m` (so the time required is at least `min_gap_m / v`).
fn judge_time_gap(
    pack: &Pack,
    rule: &Rule,
    (base_s, per_kph_s, min_gap_m): (f64, f64, f64),
    gap_s: f64,
    ctx: &JudgeContext,
) -> RuleOutcome {
    let v_kph = ctx.ego_speed_kph;
    let v_mps = v_kph / 3.6;
    let by_speed_s = base_s + per_kph_s * v_kph;
    let by_distance_s = if v_mps > 0.0 { min_gap_m / v_mps } else { 0.0 };
    let (required_s, why) = if by_distance_s > by_speed_s {
        (by_distance_s, format!("{} m", num(min_gap_m)))
    } else {
        (
            by_speed_s,
            format!("{} + {} × {} km/h", num(base_s), num(per_kph_s), num(v_kph)),
        )
    };
    let (label, unit) = metric_label(&rule.applies_to);
    let pass = gap_s >= required_s;
    let (m, l) = num_pair(gap_s, required_s);
    let reason = format!(
        "{label} {m}{unit} {} {l}{unit} required at {} km/h ({why}) {}",
        if pass { "≥" } else { "<" },
        num(v_kph),
        cite(pack, rule)
    );
    let verdict = if pass { Verdict::Pass } else { Verdict::Fail };
    RuleOutcome::new(rule, verdict, reason).with_values(Some(gap_s), Some(required_s))
}

/// The bands of the row for `vut_speed_kph` (after the cap), or why there is none.
fn band_row(table: &BandTable, vut_speed_kph: f64) -> Result<&[crate::thresholds::Band], String> {
    let rows = &table.rows;
    if let [(None, bands)] = rows.as_slice() {
        return Ok(bands);
    }
    let mut v = vut_speed_kph;
    if let Some(cap) = table.vut_speed_cap_kph {
        if v > cap {
            v = cap;
        }
    }
    let speeds: Vec<f64> = rows.iter().filter_map(|r| r.0).collect();
    let listed = speeds
        .iter()
        .map(|s| num(*s))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some((_, bands)) = rows
        .iter()
        .find(|r| r.0.is_some_and(|s| (s - v).abs() <= SPEED_EPS_KPH))
    {
        return Ok(bands);
    }
    let lower = rows.iter().rev().find(|r| r.0.is_some_and(|s| s < v));
    let higher = rows.iter().find(|r| r.0.is_some_and(|s| s > v));
    let not_a_row = format!(
        "VUT speed {} km/h is not a row of the bands ({listed} km/h)",
        num(vut_speed_kph)
    );
    match (lower, higher, table.between_rows) {
        (Some(_), Some(h), BetweenRows::NextHigherRow) => Ok(&h.1),
        (Some(l), Some(_), BetweenRows::PreviousRow) => Ok(&l.1),
        (Some(_), Some(_), _) => Err(format!(
            "{not_a_row}, and the pack does not band speeds between rows"
        )),
        _ => Err(format!("{not_a_row}, and it is outside them")),
    }
}

/// The band `value` falls in: its index.
fn band_index(bands: &[crate::thresholds::Band], value: f64) -> usize {
    for (i, b) in bands.iter().enumerate() {
        match b.upper {
            Some(Edge::Below(x)) if value < x => return i,
            Some(Edge::AtMost(x)) if value <= x => return i,
            None => return i,
            _ => {}
        }
    }
    bands.len().saturating_sub(1)
}

/// Whether `value` lies in band `idx` widened by `tol` on both sides. The widened lower edge
/// stops at the first band's upper edge (the rating code stops it at 0 km/h: an impact speed
/// is never negative, and the first band is the single point 0).
fn within_tolerance(bands: &[crate::thresholds::Band], idx: usize, value: f64, tol: f64) -> bool {
    let upper_ok = match bands[idx].upper {
        None => true,
        Some(Edge::Below(x)) => value < x + tol,
        Some(Edge::AtMost(x)) => value <= x + tol,
    };
    let lower_ok = if idx == 0 {
        true
    } else {
        let floor = bands[0].upper;
        match (bands[idx - 1].upper, floor) {
            (Some(prev), Some(first)) => {
                let widened = prev.value() - tol;
                let edge = if idx > 1 && widened <= first.value() {
                    first
                } else if idx > 1 {
                    shift(prev, -tol)
                } else {
                    prev
                };
                match edge {
                    // A `below` edge starts the band above at the edge itself.
                    Edge::Below(x) => value >= x,
                    Edge::AtMost(x) => value > x,
                }
            }
            _ => true,
        }
    };
    upper_ok && lower_ok
}

fn shift(e: Edge, by: f64) -> Edge {
    match e {
        Edge::Below(x) => Edge::Below(x + by),
        Edge::AtMost(x) => Edge::AtMost(x + by),
    }
}

fn judge_bands(
    pack: &Pack,
    rule: &Rule,
    table: &BandTable,
    raw: f64,
    ctx: &JudgeContext,
) -> RuleOutcome {
    let bands = match band_row(table, ctx.ego_speed_kph) {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => {
            return RuleOutcome::new(
                rule,
                Verdict::Error,
                format!("the bands row is empty {}", cite(pack, rule)),
            );
        }
        Err(why) => {
            return RuleOutcome::new(rule, Verdict::Error, format!("{why} {}", cite(pack, rule)))
                .with_values(Some(raw), None);
        }
    };
    let value = round_half_up(raw, table.round_half_up_decimals);
    let idx = band_index(bands, value);
    let measured_colour = bands[idx].colour;
    let mut colour = measured_colour;
    let mut note = String::new();
    if let Some(p) = ctx.predicted_colour {
        if p != measured_colour && table.prediction_tolerance > 0.0 {
            if let Some(pi) = bands.iter().position(|b| b.colour == p) {
                if within_tolerance(bands, pi, value, table.prediction_tolerance) {
                    colour = p;
                    note = format!(
                        " (measured {}; predicted {} accepted within ±{})",
                        colour_name(measured_colour),
                        colour_name(p),
                        num(table.prediction_tolerance)
                    );
                }
            }
        }
    }
    let (label, unit) = metric_label(&rule.applies_to);
    let at = if table.rows.len() == 1 && table.rows[0].0.is_none() {
        String::new()
    } else {
        format!(" at VUT {} km/h", num(ctx.ego_speed_kph))
    };
    let reason = format!(
        "{label} {}{unit}{at}: {}{note} {}",
        num_decimals(value, table.round_half_up_decimals),
        colour_name(colour),
        cite(pack, rule)
    );
    let verdict = if colour == Colour::Red {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let limit = bands[idx].upper.map(Edge::value);
    let mut out = RuleOutcome::new(rule, verdict, reason).with_values(Some(value), limit);
    out.colour = Some(colour);
    out
}

/// Rounds half-up (ties away from zero) to `decimals`, exactly as Euro NCAP's rating code
/// (`numeric.round_half_up`): the exact binary value is first rounded half-up to
/// `max(9, decimals + 4)` decimals (absorbing 1-ulp artefacts: 9.995 → 9.995000000), then to
/// `decimals`. So 9.995 → 10.00, 0.005 → 0.01, 0.004 → 0.00. Exact integer arithmetic, no
/// binary rounding on the way; non-finite values pass through.
pub fn round_half_up(value: f64, decimals: u32) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let decimals = decimals.min(12);
    let guard = GUARD_DIGITS.max(decimals + 4);
    let bits = value.to_bits();
    let negative = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp2) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_bits - 1075)
    };
    if exp2 >= 0 {
        return value; // an integer
    }
    let k = exp2.unsigned_abs();
    // mant < 2^53 and 10^16 < 2^54: the product fits in 107 bits.
    let scaled = u128::from(mant) * 10u128.pow(guard);
    let q = if k >= 120 {
        0 // below 2^-13 of a unit of the guard digit
    } else {
        (scaled + (1u128 << (k - 1))) >> k
    };
    let d = 10u128.pow(guard - decimals);
    let r = (q + d / 2) / d;
    let magnitude = r as f64 / 10f64.powi(decimals as i32);
    if negative { -magnitude } else { magnitude }
}

// --- Formatting ------------------------------------------------------------------------------

/// `x` with up to 2 decimals, trailing zeros dropped (`27.1`, `25`, `11.67`).
fn num(x: f64) -> String {
    num_decimals(x, 2)
}

/// `x` with up to `d` decimals, trailing zeros dropped.
pub(crate) fn num_decimals(x: f64, d: u32) -> String {
    let s = format!("{:.*}", d as usize, x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// Two values with enough decimals (2 to 6) that different values read differently.
fn num_pair(a: f64, b: f64) -> (String, String) {
    for d in 2..=6 {
        let (x, y) = (num_decimals(a, d), num_decimals(b, d));
        if x != y || a == b {
            return (x, y);
        }
    }
    (num_decimals(a, 6), num_decimals(b, 6))
}

/// Words and unit of a metric name: `relative_impact_speed_kph` → ("relative impact speed",
/// " km/h"). The unit comes with its leading space; empty for counts and flags.
pub(crate) fn metric_label(name: &str) -> (String, &'static str) {
    const UNITS: [(&str, &str); 9] = [
        ("kph", " km/h"),
        ("mps3", " m/s³"),
        ("mps2", " m/s²"),
        ("mps", " m/s"),
        ("s", " s"),
        ("m", " m"),
        ("pct", " %"),
        ("deg", "°"),
        ("hz", " Hz"),
    ];
    let (stem, unit) = match name.rsplit_once('_') {
        Some((stem, last)) => match UNITS.iter().find(|(u, _)| *u == last) {
            Some((_, unit)) => (stem, *unit),
            None => (name, ""),
        },
        None => (name, ""),
    };
    let words: Vec<String> = stem
        .split('_')
        .map(|w| match w {
            "ttc" | "vut" | "thw" => w.to_uppercase(),
            "accel" => "acceleration".into(),
            "decel" => "deceleration".into(),
            _ => w.to_string(),
        })
        .collect();
    (words.join(" "), unit)
}

// --- Repeats (UN R152) -----------------------------------------------------------------------

/// The repeats rule's numbers.
fn repeats_of(pack: &Pack, rule: &Rule) -> Result<(u32, u32, f64, String), EvalError> {
    match &rule.check {
        Check::Repeats {
            runs,
            retries,
            max_failure_share,
            per,
        } => Ok((*runs, *retries, *max_failure_share, per.clone())),
        _ => Err(EvalError::WrongRuleType {
            pack: pack.id.clone(),
            rule: rule.id.clone(),
            expected: "repeats",
        }),
    }
}

/// Where one case stands after its runs so far.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRepeat {
    /// `Pass`: `runs` runs passed; `Fail`: more than `retries` runs failed; `Error`: a run
    /// errored; `NotApplicable`: undecided yet (see `runs_needed`).
    pub verdict: Verdict,
    /// Runs still needed to decide (0 once decided).
    pub runs_needed: u32,
    /// Runs that counted (the runs after the decision are ignored).
    pub runs_used: usize,
    pub reasons: Vec<String>,
}

/// One case under a `repeats` rule: runs in execution order must give `runs` passes with at
/// most `retries` failed runs (UN R152: 2 runs + 1 retry: pass-pass, fail-pass-pass and
/// pass-fail-pass pass; two failed runs fail). A run that errors makes the case an error.
/// Not-applicable runs do not count.
pub fn repeat_case(pack: &Pack, rule: &Rule, runs: &[Verdict]) -> Result<CaseRepeat, EvalError> {
    let (need, retries, _, _) = repeats_of(pack, rule)?;
    let (mut passed, mut failed) = (0u32, 0u32);
    for (i, v) in runs.iter().enumerate() {
        match v {
            Verdict::Pass => passed += 1,
            Verdict::Fail => failed += 1,
            Verdict::NotApplicable => continue,
            Verdict::Error => {
                return Ok(CaseRepeat {
                    verdict: Verdict::Error,
                    runs_needed: 0,
                    runs_used: i + 1,
                    reasons: vec![format!(
                        "run {} ended in an error {}",
                        i + 1,
                        cite(pack, rule)
                    )],
                });
            }
        }
        if failed > retries {
            return Ok(CaseRepeat {
                verdict: Verdict::Fail,
                runs_needed: 0,
                runs_used: i + 1,
                reasons: vec![format!(
                    "{failed} of {} runs failed, more than the {retries} retr{} allowed {}",
                    i + 1,
                    if retries == 1 { "y" } else { "ies" },
                    cite(pack, rule)
                )],
            });
        }
        if passed >= need {
            return Ok(CaseRepeat {
                verdict: Verdict::Pass,
                runs_needed: 0,
                runs_used: i + 1,
                reasons: vec![format!(
                    "{passed} of {} runs passed ({need} needed, {retries} retr{} allowed) {}",
                    i + 1,
                    if retries == 1 { "y" } else { "ies" },
                    cite(pack, rule)
                )],
            });
        }
    }
    Ok(CaseRepeat {
        verdict: Verdict::NotApplicable,
        runs_needed: need - passed,
        runs_used: runs.len(),
        reasons: vec![format!(
            "{passed} of {need} runs passed so far; {} more needed {}",
            need - passed,
            cite(pack, rule)
        )],
    })
}

/// The outcome of one group (e.g. one test category) under a `repeats` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupOutcome {
    pub group: String,
    pub verdict: Verdict,
    /// Cases judged (not-applicable cases left out).
    pub cases: usize,
    pub failed: usize,
    pub errors: usize,
    /// `failed / cases`.
    pub failure_share: f64,
    pub reasons: Vec<String>,
}

/// The outcome of a `repeats` rule over a suite: per group, and over all.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatsOutcome {
    pub verdict: Verdict,
    /// Sorted by group name.
    pub groups: Vec<GroupOutcome>,
}

/// Failure share per group (`per`, e.g. category) under a `repeats` rule. `cases` holds each
/// case's group and its verdict after its runs (from [`repeat_case`]). A group fails when the
/// share of failed cases exceeds `max_failure_share` (UN R152: ≤ 10 % passes); it is an error
/// when the errored cases could decide it either way; otherwise it passes. The suite's verdict:
/// `fail` if any group fails, else `error` if any errors, else `pass` (`not_applicable` with no
/// judged case).
pub fn repeats_outcome(
    pack: &Pack,
    rule: &Rule,
    cases: &[(String, Verdict)],
) -> Result<RepeatsOutcome, EvalError> {
    let mut by_group: BTreeMap<String, GroupCounts> = BTreeMap::new();
    for (group, verdict) in cases {
        by_group.entry(group.clone()).or_default().add(*verdict);
    }
    repeats_outcome_of_counts(pack, rule, &by_group)
}

/// Verdict counts of one group of cases under a `repeats` rule (not-applicable cases left out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Cases judged.
    pub cases: usize,
    pub failed: usize,
    pub errors: usize,
}

impl GroupCounts {
    /// Counts one case's verdict.
    pub fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Pass => self.cases += 1,
            Verdict::Fail => {
                self.cases += 1;
                self.failed += 1;
            }
            Verdict::Error => {
                self.cases += 1;
                self.errors += 1;
            }
            Verdict::NotApplicable => {}
        }
    }
}

/// [`repeats_outcome`] from the verdict counts of each group, for callers that count the cases
/// as they stream by rather than keeping them.
pub fn repeats_outcome_of_counts(
    pack: &Pack,
    rule: &Rule,
    by_group: &BTreeMap<String, GroupCounts>,
) -> Result<RepeatsOutcome, EvalError> {
    let (_, _, max_share, per) = repeats_of(pack, rule)?;
    let mut groups = Vec::new();
    for (group, counts) in by_group {
        let GroupCounts {
            cases: n,
            failed,
            errors,
        } = *counts;
        if n == 0 {
            continue;
        }
        let share = failed as f64 / n as f64;
        let worst = (failed + errors) as f64 / n as f64;
        let verdict = if share > max_share {
            Verdict::Fail
        } else if worst > max_share {
            Verdict::Error
        } else {
            Verdict::Pass
        };
        let op = if share > max_share { ">" } else { "≤" };
        let mut reasons = vec![format!(
            "{per} {group}: {failed} of {n} cases failed ({} %) {op} {} % allowed {}",
            num(share * 100.0),
            num(max_share * 100.0),
            cite(pack, rule)
        )];
        if errors > 0 {
            reasons.push(format!(
                "{per} {group}: {errors} of {n} cases ended in an error {}",
                cite(pack, rule)
            ));
        }
        groups.push(GroupOutcome {
            group: group.to_string(),
            verdict,
            cases: n,
            failed,
            errors,
            failure_share: share,
            reasons,
        });
    }
    let any = |v: Verdict| groups.iter().any(|g| g.verdict == v);
    let verdict = if any(Verdict::Fail) {
        Verdict::Fail
    } else if any(Verdict::Error) {
        Verdict::Error
    } else if groups.is_empty() {
        Verdict::NotApplicable
    } else {
        Verdict::Pass
    };
    Ok(RepeatsOutcome { verdict, groups })
}

// --- Euro NCAP points ------------------------------------------------------------------------

/// Which range of a scenario's grid a cell belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TestRange {
    Standard,
    Extended,
}

/// One cell of a colour grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridCell {
    /// The `points` rule of the scenario (`ccrs`).
    pub rule: String,
    pub vut_speed_kph: f64,
    /// The other sweep parameters that place the cell (`overlap_pct`, `impact_point_pct`).
    pub params: BTreeMap<String, f64>,
    pub range: TestRange,
    pub colour: Colour,
}

impl GridCell {
    /// The value of a parameter (`vut_speed_kph` or one of `params`).
    pub fn param(&self, name: &str) -> Option<f64> {
        if name == "vut_speed_kph" {
            Some(self.vut_speed_kph)
        } else {
            self.params.get(name).copied()
        }
    }
}

/// The points of one scenario (`points` rule).
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioPoints {
    pub rule: String,
    /// The scenario's name in the source (`CCRs`).
    pub scenario: String,
    /// Mean colour weight of the standard cells × the standard maximum, rounded.
    pub standard: f64,
    pub standard_max: f64,
    /// Share of extended cells not red, snapped down to a step, × the extended maximum,
    /// rounded.
    pub extended: f64,
    pub extended_max: f64,
    /// `standard + extended`, rounded (robustness is not assessed here).
    pub total: f64,
    pub reasons: Vec<String>,
}

/// A gate that zeroes a score.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOutcome {
    /// The `points` rule whose cells the gate checks.
    pub rule: String,
    /// The score zeroed when the gate is closed (`frontal-collisions`).
    pub zeroes: String,
    /// True when a selected cell misses the required colour.
    pub closed: bool,
    /// Cells that missed, one reason each; or why the gate passed.
    pub reasons: Vec<String>,
}

/// Euro NCAP points of a colour grid.
#[derive(Debug, Clone, PartialEq)]
pub struct NcapPoints {
    /// One entry per `points` rule of the pack with cells, in pack order.
    pub scenarios: Vec<ScenarioPoints>,
    /// Sum of the scenario totals, rounded, before gates (the pack does not say which
    /// scenarios make up a gated score; see `zeroed`).
    pub total: f64,
    pub gates: Vec<GateOutcome>,
    /// Scores set to 0 by a closed gate (`frontal-collisions`).
    pub zeroed: BTreeSet<String>,
}

impl NcapPoints {
    /// The points of a named score made of these scenarios' `points` rules: 0 when a gate
    /// zeroes it, else the sum of their totals (rounded as the scheme says).
    pub fn score(&self, name: &str, rules: &[&str]) -> f64 {
        if self.zeroed.contains(name) {
            return 0.0;
        }
        let sum: f64 = self
            .scenarios
            .iter()
            .filter(|s| rules.contains(&s.rule.as_str()))
            .map(|s| s.total)
            .sum();
        round_half_up(sum, 3)
    }
}

/// Points per scenario and in total from a colour grid, by the pack's `points` rules,
/// `points_scheme` and `gates`. Standard range: mean colour weight × the standard maximum;
/// extended range: the share of cells not red, snapped down to the largest step it reaches,
/// × the extended maximum; scores rounded half-up as the scheme says. Gates: any selected cell
/// (all listed parameters have one of the listed values) of the gate's rule whose colour is
/// not the required one zeroes the named score.
pub fn euro_ncap_points(pack: &Pack, cells: &[GridCell]) -> Result<NcapPoints, EvalError> {
    let unknown = |id: &str| EvalError::UnknownRule {
        pack: pack.id.clone(),
        rule: id.to_string(),
    };
    let wrong = |id: &str, expected| EvalError::WrongRuleType {
        pack: pack.id.clone(),
        rule: id.to_string(),
        expected,
    };
    for c in cells {
        let r = pack.rule(&c.rule).ok_or_else(|| unknown(&c.rule))?;
        if !matches!(r.check, Check::Points { .. }) {
            return Err(wrong(&c.rule, "points"));
        }
    }
    let mut scenarios = Vec::new();
    let mut decimals_all = 3;
    for rule in &pack.rules {
        let Check::Points {
            scenario,
            scheme_rule,
            standard_points,
            extended_points,
            ..
        } = &rule.check
        else {
            continue;
        };
        let mine: Vec<&GridCell> = cells.iter().filter(|c| c.rule == rule.id).collect();
        if mine.is_empty() {
            continue;
        }
        let scheme = pack.rule(scheme_rule).ok_or_else(|| unknown(scheme_rule))?;
        let Check::PointsScheme {
            colour_weights,
            extended_share_steps,
            score_round_half_up_decimals,
            ..
        } = &scheme.check
        else {
            return Err(wrong(scheme_rule, "points_scheme"));
        };
        let decimals = *score_round_half_up_decimals;
        decimals_all = decimals;
        let standard: Vec<&&GridCell> = mine
            .iter()
            .filter(|c| c.range == TestRange::Standard)
            .collect();
        let extended: Vec<&&GridCell> = mine
            .iter()
            .filter(|c| c.range == TestRange::Extended)
            .collect();
        let mut reasons = Vec::new();
        let standard_score = if standard.is_empty() {
            reasons.push(format!("{scenario}: no standard-range cells"));
            0.0
        } else {
            let weights: f64 = standard
                .iter()
                .map(|c| colour_weights.get(&c.colour).copied().unwrap_or(0.0))
                .sum();
            let mean = weights / standard.len() as f64;
            let s = round_half_up(mean * standard_points, decimals);
            reasons.push(format!(
                "{scenario} standard range: mean colour weight {} of {} cells × {} = {} points {}",
                num_decimals(mean, 4),
                standard.len(),
                num_decimals(*standard_points, 4),
                num_decimals(s, decimals),
                cite(pack, rule)
            ));
            s
        };
        let extended_score = if extended.is_empty() {
            0.0
        } else {
            let not_red = extended.iter().filter(|c| c.colour != Colour::Red).count();
            let share = not_red as f64 / extended.len() as f64;
            let step = extended_share_steps
                .iter()
                .copied()
                .filter(|s| *s <= share)
                .fold(0.0, f64::max);
            let s = round_half_up(step * extended_points, decimals);
            reasons.push(format!(
                "{scenario} extended range: {not_red} of {} cells not red ({} %), counted as {} % × {} = {} points {}",
                extended.len(),
                num(share * 100.0),
                num(step * 100.0),
                num_decimals(*extended_points, 4),
                num_decimals(s, decimals),
                cite(pack, rule)
            ));
            s
        };
        scenarios.push(ScenarioPoints {
            rule: rule.id.clone(),
            scenario: scenario.clone(),
            standard: standard_score,
            standard_max: *standard_points,
            extended: extended_score,
            extended_max: *extended_points,
            total: round_half_up(standard_score + extended_score, decimals),
            reasons,
        });
    }
    let total = round_half_up(scenarios.iter().map(|s| s.total).sum(), decimals_all);

    let mut gates = Vec::new();
    let mut zeroed = BTreeSet::new();
    for rule in &pack.rules {
        let Check::Gates(list) = &rule.check else {
            continue;
        };
        for gate in list {
            let mut reasons = Vec::new();
            let mut selected = 0usize;
            for c in cells.iter().filter(|c| c.rule == gate.points_rule) {
                let mut hit = true;
                for (name, values) in &gate.cells {
                    let v = c
                        .param(name)
                        .ok_or_else(|| EvalError::GateParameterMissing {
                            rule: gate.points_rule.clone(),
                            parameter: name.clone(),
                            zeroes: gate.zeroes.clone(),
                        })?;
                    if !values.iter().any(|x| (x - v).abs() <= SPEED_EPS_KPH) {
                        hit = false;
                    }
                }
                if !hit {
                    continue;
                }
                selected += 1;
                if c.colour != gate.required_colour {
                    reasons.push(format!(
                        "{} cell {}: {}, not {}: {} score is 0 {}",
                        gate.points_rule,
                        cell_label(c),
                        colour_name(c.colour),
                        colour_name(gate.required_colour),
                        gate.zeroes,
                        cite(pack, rule)
                    ));
                }
            }
            let closed = !reasons.is_empty();
            if closed {
                zeroed.insert(gate.zeroes.clone());
            } else if selected == 0 {
                let what = if cells.iter().any(|c| c.rule == gate.points_rule) {
                    "no selected cell"
                } else {
                    "no cell"
                };
                reasons.push(format!(
                    "{what} of `{}` in this run: the gate is not checked",
                    gate.points_rule
                ));
            } else {
                reasons.push(format!(
                    "{}: all {selected} selected cells {} {}",
                    gate.points_rule,
                    colour_name(gate.required_colour),
                    cite(pack, rule)
                ));
            }
            gates.push(GateOutcome {
                rule: gate.points_rule.clone(),
                zeroes: gate.zeroes.clone(),
                closed,
                reasons,
            });
        }
    }
    Ok(NcapPoints {
        scenarios,
        total,
        gates,
        zeroed,
    })
}

/// `VUT 20 km/h, overlap_pct 50`.
fn cell_label(c: &GridCell) -> String {
    let mut s = format!("VUT {} km/h", num(c.vut_speed_kph));
    for (k, v) in &c.params {
        s.push_str(&format!(", {k} {}", num(*v)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pack(name: &str) -> Pack {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/thresholds")
            .join(format!("{name}.toml"));
        thresholds::load_pack(&path).unwrap()
    }
    use crate::thresholds;

    fn metrics(pairs: &[(&str, Option<f64>)]) -> BTreeMap<String, Option<f64>> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn run(p: &Pack, rule: &str, m: &[(&str, Option<f64>)], ctx: &JudgeContext) -> RuleOutcome {
        judge(p, p.rule(rule).unwrap(), &metrics(m), ctx)
    }

    fn colour_at(p: &Pack, rule: &str, vut_kph: f64, value: f64) -> Option<Colour> {
        let metric = p.rule(rule).unwrap().applies_to.clone();
        run(
            p,
            rule,
            &[(&metric, Some(value))],
            &JudgeContext::at_speed(vut_kph),
        )
        .colour
    }

    #[test]
    fn round_half_up_matches_the_rating_code() {
        assert_eq!(round_half_up(9.995, 2), 10.0);
        assert_eq!(round_half_up(0.005, 2), 0.01);
        assert_eq!(round_half_up(0.004, 2), 0.0);
        assert_eq!(round_half_up(0.0049, 2), 0.0);
        assert_eq!(round_half_up(2.675, 2), 2.68);
        assert_eq!(round_half_up(0.075, 2), 0.08);
        assert_eq!(round_half_up(1.0049999, 2), 1.0);
        assert_eq!(round_half_up(-0.005, 2), -0.01);
        assert_eq!(round_half_up(-0.1049, 2), -0.1);
        assert_eq!(round_half_up(29.994999, 2), 29.99);
        assert_eq!(round_half_up(12.0, 2), 12.0);
        assert_eq!(round_half_up(1e-300, 2), 0.0);
        // The guard absorbs a 1-ulp artefact: 0.4749999999999999 is taken as 0.475.
        assert_eq!(round_half_up(0.4749999999999999, 2), 0.48);
        assert_eq!(round_half_up(0.47499, 2), 0.47);
        // Scores: 3 decimals, a sum 1 ulp below the midpoint.
        assert_eq!(round_half_up(0.1 + 0.2 + 0.0005 - 0.3, 3), 0.001);
        assert_eq!(round_half_up(1.2 * 0.8125, 3), 0.975);
        assert!(round_half_up(f64::NAN, 2).is_nan());
    }

    #[test]
    fn relative_impact_speed_bands_every_row_and_edge() {
        let p = pack("euro-ncap-2026");
        use Colour::*;
        let r = "relative-impact-speed-bands";
        // (VUT speed, value, colour) — edges as the pack states them for v5.4.9.
        let cases: &[(f64, f64, Colour)] = &[
            (10.0, 0.0, Green),
            (10.0, 0.004, Green),
            (10.0, 0.005, Red),
            (10.0, 5.0, Red),
            (20.0, 0.0, Green),
            (20.0, 0.004, Green),
            (20.0, 0.005, Red),
            (30.0, 0.0, Green),
            (30.0, 0.004, Green),
            (30.0, 0.005, Brown),
            (30.0, 9.99, Brown),
            (30.0, 9.994, Brown),
            (30.0, 9.995, Red),
            (30.0, 10.0, Red),
            (40.0, 0.0, Green),
            (40.0, 0.005, Orange),
            (40.0, 9.995, Brown),
            (40.0, 10.0, Brown),
            (40.0, 19.99, Brown),
            (40.0, 19.995, Red),
            (40.0, 20.0, Red),
            (50.0, 0.0, Green),
            (50.0, 0.004, Green),
            (50.0, 0.005, Yellow),
            (50.0, 9.99, Yellow),
            (50.0, 9.995, Orange),
            (50.0, 10.0, Orange),
            (50.0, 19.994, Orange),
            (50.0, 20.0, Brown),
            (50.0, 29.99, Brown),
            (50.0, 30.0, Red),
            (50.0, 45.0, Red),
            // Faster VUT speeds use the 50 km/h row.
            (60.0, 0.0, Green),
            (60.0, 9.995, Orange),
            (80.0, 30.0, Red),
            (80.0, 29.99, Brown),
        ];
        for &(vut, v, want) in cases {
            assert_eq!(colour_at(&p, r, vut, v), Some(want), "VUT {vut}, value {v}");
        }
    }

    #[test]
    fn bands_speed_between_rows_is_an_error() {
        // The library pack bands a speed between rows with the row below (since 1.1.0):
        // 3 km/h at VUT 45 km/h is orange as in the 40 km/h row (yellow in the 50 km/h row).
        let mut p = pack("euro-ncap-2026");
        let between = |p: &Pack, v: f64| {
            run(
                p,
                "relative-impact-speed-bands",
                &[("relative_impact_speed_kph", Some(v))],
                &JudgeContext::at_speed(45.0),
            )
        };
        assert_eq!(between(&p, 3.0).colour, Some(Colour::Orange));
        assert_eq!(between(&p, 15.0).colour, Some(Colour::Brown));
        assert_eq!(between(&p, 25.0).colour, Some(Colour::Red));
        // As the rating code has it (no row, no colour), such a speed is an error.
        let rule = p
            .rules
            .iter_mut()
            .find(|r| r.id == "relative-impact-speed-bands")
            .unwrap();
        let Check::Bands(table) = &mut rule.check else {
            panic!("bands")
        };
        table.between_rows = BetweenRows::NotAllowed;
        let o = between(&p, 3.0);
        assert_eq!(o.verdict, Verdict::Error);
        assert!(
            o.reasons[0].contains("45 km/h is not a row"),
            "{:?}",
            o.reasons
        );
        let below = run(
            &p,
            "relative-impact-speed-bands",
            &[("relative_impact_speed_kph", Some(3.0))],
            &JudgeContext::at_speed(5.0),
        );
        assert_eq!(below.verdict, Verdict::Error);
        // A speed a hair off a row is that row.
        let near = run(
            &p,
            "relative-impact-speed-bands",
            &[("relative_impact_speed_kph", Some(3.0))],
            &JudgeContext::at_speed(40.0 + 1e-9),
        );
        assert_eq!(near.colour, Some(Colour::Orange));
    }

    #[test]
    fn other_euro_ncap_bands_and_edges() {
        let p = pack("euro-ncap-2026");
        use Colour::*;
        let checks: &[(&str, f64, Colour)] = &[
            ("speed-reduction-bands", 0.0, Red),
            ("speed-reduction-bands", 10.0, Red),
            ("speed-reduction-bands", 10.004, Red),
            ("speed-reduction-bands", 10.005, Orange),
            ("speed-reduction-bands", 20.0, Orange),
            ("speed-reduction-bands", 20.005, Green),
            ("speed-reduction-bands", 30.0, Green),
            ("speed-reduction-bands", 30.004, Green),
            ("speed-reduction-bands", 30.005, Red),
            ("impact-speed-bands", 0.0, Green),
            ("impact-speed-bands", 0.004, Green),
            ("impact-speed-bands", 0.005, Red),
            ("warning-ttc-bands", 1.69, Red),
            ("warning-ttc-bands", 1.694, Red),
            ("warning-ttc-bands", 1.695, Green),
            ("warning-ttc-bands", 1.7, Green),
            ("road-edge-bands", -0.2, Red),
            ("road-edge-bands", -0.1, Red),
            // Ties away from zero: −0.095 → −0.10, which is red.
            ("road-edge-bands", -0.095, Red),
            ("road-edge-bands", -0.105, Red),
            ("road-edge-bands", -0.0949, Green),
            ("road-edge-bands", 0.3, Green),
            ("elk-target-bands", 0.0, Green),
            ("elk-target-bands", 1.0, Red),
        ];
        for &(rule, v, want) in checks {
            // Single-row tables hold at any VUT speed.
            assert_eq!(colour_at(&p, rule, 37.0, v), Some(want), "{rule} {v}");
        }
    }

    #[test]
    fn colour_reason_names_the_rule_judged() {
        let p = pack("euro-ncap-2026");
        let o = run(
            &p,
            "ccrs",
            &[("relative_impact_speed_kph", Some(12.3))],
            &JudgeContext::at_speed(50.0),
        );
        assert_eq!(o.colour, Some(Colour::Orange));
        assert_eq!(o.verdict, Verdict::Pass);
        assert_eq!(
            o.reasons,
            vec![
                "relative impact speed 12.3 km/h at VUT 50 km/h: orange (euro-ncap-2026 v1.1.0, rule ccrs)"
            ]
        );
        let red = run(
            &p,
            "ccrs",
            &[("relative_impact_speed_kph", Some(3.0))],
            &JudgeContext::at_speed(20.0),
        );
        assert_eq!(red.verdict, Verdict::Fail);
        assert_eq!(red.colour, Some(Colour::Red));
    }

    #[test]
    fn predicted_colour_within_tolerance() {
        let p = pack("euro-ncap-2026");
        let ctx = |c| JudgeContext {
            ego_speed_kph: 50.0,
            predicted_colour: Some(c),
            ..JudgeContext::default()
        };
        let m = |v| [("relative_impact_speed_kph", Some(v))];
        // Predicted yellow (0 < v < 10), measured 11: within 2 km/h, yellow applies.
        let o = run(&p, "ccrs", &m(11.0), &ctx(Colour::Yellow));
        assert_eq!(o.colour, Some(Colour::Yellow));
        assert!(o.reasons[0].contains("measured orange"), "{:?}", o.reasons);
        // 12.5 is outside the widened band.
        assert_eq!(
            run(&p, "ccrs", &m(12.5), &ctx(Colour::Yellow)).colour,
            Some(Colour::Orange)
        );
        // Predicted green (v ≤ 0), measured 1.5: accepted; 2.5: not.
        assert_eq!(
            run(&p, "ccrs", &m(1.5), &ctx(Colour::Green)).colour,
            Some(Colour::Green)
        );
        assert_eq!(
            run(&p, "ccrs", &m(2.5), &ctx(Colour::Green)).colour,
            Some(Colour::Yellow)
        );
        // The widened lower edge of yellow stops at 0: measured 0 stays green.
        assert_eq!(
            run(&p, "ccrs", &m(0.0), &ctx(Colour::Yellow)).colour,
            Some(Colour::Green)
        );
        // Predicted orange (10 ≤ v < 20), measured 8.5: widened down to 8.
        assert_eq!(
            run(&p, "ccrs", &m(8.5), &ctx(Colour::Orange)).colour,
            Some(Colour::Orange)
        );
    }

    #[test]
    fn r152_car_stationary_table() {
        let p = pack("un-r152-m1");
        let lim = |speed: f64| {
            run(
                &p,
                "car-stationary",
                &[("relative_impact_speed_kph", Some(0.0))],
                &JudgeContext::at_speed(speed),
            )
            .limit
        };
        assert_eq!(lim(10.0), Some(0.0));
        assert_eq!(lim(40.0), Some(0.0));
        assert_eq!(lim(42.0), Some(10.0));
        assert_eq!(lim(45.0), Some(15.0));
        assert_eq!(lim(50.0), Some(25.0));
        assert_eq!(lim(60.0), Some(35.0));
        // Linear between rows: 41 → 5, 43 → 10 + 5/3, 47.5 → 20.
        assert_eq!(lim(41.0), Some(5.0));
        assert!((lim(43.0).unwrap() - (10.0 + 5.0 / 3.0)).abs() < 1e-12);
        assert_eq!(lim(47.5), Some(20.0));
        assert_eq!(lim(30.0), Some(0.0));

        let o = run(
            &p,
            "car-stationary",
            &[("relative_impact_speed_kph", Some(27.1))],
            &JudgeContext::at_speed(50.0),
        );
        assert_eq!(o.verdict, Verdict::Fail);
        assert_eq!(
            o.reasons,
            vec![
                "relative impact speed 27.1 km/h > 25 km/h allowed at 50 km/h (un-r152-m1 v1.0.0, rule car-stationary)"
            ]
        );
        // The limit itself passes.
        let at = run(
            &p,
            "car-stationary",
            &[("relative_impact_speed_kph", Some(25.0))],
            &JudgeContext::at_speed(50.0),
        );
        assert_eq!(at.verdict, Verdict::Pass);
        // Interpolated limit is named in the reason.
        let between = run(
            &p,
            "car-stationary",
            &[("relative_impact_speed_kph", Some(12.0))],
            &JudgeContext::at_speed(43.0),
        );
        assert_eq!(between.verdict, Verdict::Fail);
        assert!(
            between.reasons[0]
                .starts_with("relative impact speed 12 km/h > 11.67 km/h allowed at 43 km/h, interpolated between 42 and 45 km/h"),
            "{:?}",
            between.reasons
        );
        // Outside the table: not allowed.
        for speed in [5.0, 65.0] {
            let o = run(
                &p,
                "car-stationary",
                &[("relative_impact_speed_kph", Some(0.0))],
                &JudgeContext::at_speed(speed),
            );
            assert_eq!(o.verdict, Verdict::Error, "{speed}");
            assert!(o.reasons[0].contains("which the pack does not allow"));
        }
    }

    #[test]
    fn r152_moving_and_pedestrian_tables() {
        let p = pack("un-r152-m1");
        let judge_at = |rule: &str, speed: f64, v: f64| {
            run(
                &p,
                rule,
                &[("relative_impact_speed_kph", Some(v))],
                &JudgeContext::at_speed(speed),
            )
        };
        for speed in [30.0, 42.0, 45.0, 50.0, 60.0] {
            assert_eq!(judge_at("car-moving", speed, 0.0).verdict, Verdict::Pass);
            let o = judge_at("car-moving", speed, 0.5);
            assert_eq!(o.verdict, Verdict::Fail);
            assert_eq!(o.limit, Some(0.0));
        }
        assert_eq!(judge_at("car-moving", 20.0, 0.0).verdict, Verdict::Error);
        let ped = |speed| judge_at("pedestrian", speed, 0.0).limit;
        assert_eq!(ped(20.0), Some(0.0));
        assert_eq!(ped(30.0), Some(0.0));
        assert_eq!(ped(35.0), Some(20.0));
        assert_eq!(ped(42.0), Some(27.0));
        assert_eq!(ped(45.0), Some(30.0));
        assert_eq!(ped(50.0), Some(35.0));
        assert_eq!(ped(32.5), Some(10.0));
        assert_eq!(ped(60.0), Some(45.0));
        assert_eq!(judge_at("pedestrian", 50.0, 35.01).verdict, Verdict::Fail);
        assert_eq!(judge_at("pedestrian", 15.0, 0.0).verdict, Verdict::Error);
    }

    #[test]
    fn speed_table_row_rules() {
        let table = |between, outside| SpeedTable {
            rows: vec![(40.0, 0.0), (50.0, 20.0)],
            between_rows: between,
            below_table: outside,
            above_table: outside,
        };
        let t = table(BetweenRows::NextHigherRow, OutsideTable::NearestRow);
        assert_eq!(table_max(&t, 41.0).unwrap().0, 20.0);
        assert_eq!(table_max(&t, 30.0).unwrap().0, 0.0);
        assert_eq!(table_max(&t, 70.0).unwrap().0, 20.0);
        let t = table(BetweenRows::PreviousRow, OutsideTable::NotAllowed);
        assert_eq!(table_max(&t, 49.0).unwrap().0, 0.0);
        assert!(table_max(&t, 39.0).is_err());
        let t = table(BetweenRows::NotAllowed, OutsideTable::NotAllowed);
        assert!(table_max(&t, 45.0).is_err());
        assert_eq!(table_max(&t, 50.0).unwrap().0, 20.0);
    }

    #[test]
    fn no_collision_and_reference_driver() {
        let r152 = pack("cn-cdas-draft-2025");
        let ctx = JudgeContext::at_speed(50.0);
        let o = run(&r152, "no-collision", &[("collision", Some(1.0))], &ctx);
        assert_eq!(o.verdict, Verdict::Fail);
        assert_eq!(
            o.reasons,
            vec![
                "a collision, where none is allowed (cn-cdas-draft-2025 v1.0.0, rule no-collision)"
            ]
        );
        let o = run(&r152, "no-collision", &[("collision", Some(0.0))], &ctx);
        assert_eq!(o.verdict, Verdict::Pass);

        let r157 = pack("un-r157");
        let with = |collided: Option<bool>| {
            let mut ctx = JudgeContext::at_speed(60.0);
            if let Some(c) = collided {
                ctx.reference_collided.insert("careful-driver".into(), c);
            }
            run(&r157, "no-collision", &[("collision", Some(1.0))], &ctx).verdict
        };
        assert_eq!(with(Some(false)), Verdict::Fail);
        assert_eq!(with(Some(true)), Verdict::NotApplicable);
        assert_eq!(with(None), Verdict::Error);
    }

    #[test]
    fn min_time_gap() {
        let p = pack("un-r157");
        let gap = |speed: f64, gap_s: f64| {
            run(
                &p,
                "min-time-gap",
                &[("time_gap_s", Some(gap_s))],
                &JudgeContext::at_speed(speed),
            )
        };
        // 60 km/h: 1.6 s.
        assert_eq!(gap(60.0, 1.6).verdict, Verdict::Pass);
        let o = gap(60.0, 1.5);
        assert_eq!(o.verdict, Verdict::Fail);
        assert_eq!(
            o.reasons,
            vec![
                "time gap 1.5 s < 1.6 s required at 60 km/h (1 + 0.01 × 60 km/h) (un-r157 v1.0.0, rule min-time-gap)"
            ]
        );
        // 100 km/h: 2.0 s.
        assert_eq!(gap(100.0, 1.99).verdict, Verdict::Fail);
        assert_eq!(gap(100.0, 2.0).verdict, Verdict::Pass);
        // 5 km/h: below 10 km/h the rule does not apply.
        assert_eq!(gap(5.0, 0.1).verdict, Verdict::NotApplicable);
        // 10 km/h: 1.1 s would be 3.06 m; 2 m floor does not bind.
        assert_eq!(gap(10.0, 1.1).verdict, Verdict::Pass);
        // At 10 km/h with a 0 s-per-km/h rule the 2 m floor binds: 2 / (10/3.6) = 0.72 s.
        let mut floor = p.clone();
        if let Some(r) = floor.rules.iter_mut().find(|r| r.id == "min-time-gap") {
            r.check = Check::MinTimeGap {
                base_s: 0.5,
                per_kph_s: 0.0,
                min_gap_m: 2.0,
                from_speed_kph: 0.0,
            };
        }
        let f = run(
            &floor,
            "min-time-gap",
            &[("time_gap_s", Some(0.7))],
            &JudgeContext::at_speed(10.0),
        );
        assert_eq!(f.verdict, Verdict::Fail);
        assert!((f.limit.unwrap() - 0.72).abs() < 1e-12);
        assert!(f.reasons[0].contains("(2 m)"), "{:?}", f.reasons);
    }

    #[test]
    fn min_and_max_values() {
        let p = pack("un-r152-m1");
        let ctx = JudgeContext::at_speed(50.0);
        let o = run(
            &p,
            "warning-timing",
            &[("warning_lead_time_s", Some(0.6))],
            &ctx,
        );
        assert_eq!(o.verdict, Verdict::Fail);
        assert_eq!(
            o.reasons,
            vec![
                "warning lead time 0.6 s < 0.8 s required (un-r152-m1 v1.0.0, rule warning-timing)"
            ]
        );
        let o = run(
            &p,
            "warning-timing",
            &[("warning_lead_time_s", Some(0.8))],
            &ctx,
        );
        assert_eq!(o.verdict, Verdict::Pass);
        let o = run(
            &p,
            "false-reaction",
            &[("emergency_braking_events", Some(1.0))],
            &ctx,
        );
        assert_eq!(o.verdict, Verdict::Fail);
        assert_eq!(
            o.reasons,
            vec!["emergency braking events 1 > 0 allowed (un-r152-m1 v1.0.0, rule false-reaction)"]
        );
        let cn = pack("cn-cdas-draft-2025");
        let o = run(&cn, "jerk", &[("jerk_mps3", Some(5.004))], &ctx);
        assert_eq!(o.verdict, Verdict::Fail);
        assert!(o.reasons[0].starts_with("jerk 5.004 m/s³ > 5 m/s³ allowed, averaged over 0.5 s"));
        // Exclusive limit.
        let lim = Limit {
            limit: 5.0,
            inclusive: false,
            window_s: None,
        };
        let rule = cn.rule("jerk").unwrap();
        assert_eq!(
            judge_limit(&cn, rule, &lim, 5.0, false).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge_limit(&cn, rule, &lim, 5.0, true).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge_limit(&cn, rule, &lim, 4.9, false).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn vehicle_categories() {
        let cn = pack("cn-cdas-draft-2025");
        let mut ctx = JudgeContext::at_speed(50.0);
        ctx.vehicle_category = Some("N1".into());
        let m = [("ttc_at_first_intervention_s", Some(2.0))];
        assert_eq!(
            run(&cn, "intervention-ttc-m1", &m, &ctx).verdict,
            Verdict::NotApplicable
        );
        assert_eq!(
            run(&cn, "intervention-ttc-other", &m, &ctx).verdict,
            Verdict::Fail
        );
        ctx.vehicle_category = None;
        assert_eq!(
            run(&cn, "intervention-ttc-other", &m, &ctx).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn missing_and_undefined_metrics() {
        let p = pack("un-r152-m1");
        let ctx = JudgeContext::at_speed(50.0);
        let o = run(&p, "car-stationary", &[], &ctx);
        assert_eq!(o.verdict, Verdict::Error);
        assert_eq!(
            o.reasons,
            vec![
                "metric `relative_impact_speed_kph` is missing (un-r152-m1 v1.0.0, rule car-stationary)"
            ]
        );
        let o = run(
            &p,
            "car-stationary",
            &[("relative_impact_speed_kph", None)],
            &ctx,
        );
        assert_eq!(o.verdict, Verdict::NotApplicable);
        let o = run(
            &p,
            "car-stationary",
            &[("relative_impact_speed_kph", Some(f64::NAN))],
            &ctx,
        );
        assert_eq!(o.verdict, Verdict::Error);
        // Aggregate rules do not judge one case.
        assert_eq!(
            run(&p, "repeats", &[], &ctx).verdict,
            Verdict::NotApplicable
        );
    }

    #[test]
    fn all_of_combines() {
        let cn = pack("cn-cdas-draft-2025");
        let ctx = JudgeContext {
            ego_speed_kph: 60.0,
            vehicle_category: Some("M1".into()),
            ..JudgeContext::default()
        };
        let good = [
            ("collision", Some(0.0)),
            ("ttc_at_first_intervention_s", Some(1.4)),
            ("lateral_accel_mps2", Some(2.0)),
            ("jerk_mps3", Some(3.0)),
        ];
        let o = run(&cn, "cut-in", &good, &ctx);
        assert_eq!(o.verdict, Verdict::Pass);
        assert_eq!(o.members.len(), 4);
        assert_eq!(o.reasons.len(), 4);

        let mut bad = good;
        bad[0].1 = Some(1.0);
        bad[2].1 = Some(3.5);
        let o = run(&cn, "cut-in", &bad, &ctx);
        assert_eq!(o.verdict, Verdict::Fail);
        assert_eq!(
            o.reasons,
            vec![
                "a collision, where none is allowed (cn-cdas-draft-2025 v1.0.0, rule no-collision)",
                "lateral acceleration 3.5 m/s² > 3 m/s² allowed (cn-cdas-draft-2025 v1.0.0, rule lateral-acceleration)",
            ]
        );
        // A missing metric: error, unless another member fails.
        let o = run(&cn, "cut-in", &good[..3], &ctx);
        assert_eq!(o.verdict, Verdict::Error);
        assert_eq!(o.reasons.len(), 1);
        let o = run(&cn, "cut-in", &bad[..3], &ctx);
        assert_eq!(o.verdict, Verdict::Fail);
        assert_eq!(o.reasons.len(), 3);
    }

    #[test]
    fn repeats_two_runs_one_retry() {
        let p = pack("un-r152-m1");
        let r = p.rule("repeats").unwrap();
        use Verdict::*;
        let case = |runs: &[Verdict]| repeat_case(&p, r, runs).unwrap();
        assert_eq!(case(&[Pass, Pass]).verdict, Pass);
        assert_eq!(case(&[Fail, Pass, Pass]).verdict, Pass);
        assert_eq!(case(&[Pass, Fail, Pass]).verdict, Pass);
        assert_eq!(case(&[Pass, Pass, Fail]).runs_used, 2);
        assert_eq!(case(&[Fail, Fail]).verdict, Fail);
        assert_eq!(case(&[Pass, Fail, Fail]).verdict, Fail);
        assert_eq!(case(&[Pass, Error]).verdict, Error);
        let open = case(&[Fail, Pass]);
        assert_eq!((open.verdict, open.runs_needed), (NotApplicable, 1));
        assert_eq!(case(&[]).runs_needed, 2);

        let mut cases: Vec<(String, Verdict)> = Vec::new();
        for i in 0..10 {
            cases.push(("car-target".into(), if i == 0 { Fail } else { Pass }));
            cases.push(("pedestrian".into(), if i < 2 { Fail } else { Pass }));
        }
        let out = repeats_outcome(&p, r, &cases).unwrap();
        assert_eq!(out.verdict, Fail);
        assert_eq!(out.groups[0].group, "car-target");
        assert_eq!(out.groups[0].verdict, Pass);
        assert_eq!(out.groups[0].failure_share, 0.1);
        assert_eq!(out.groups[1].verdict, Fail);
        assert_eq!(
            out.groups[1].reasons,
            vec![
                "category pedestrian: 2 of 10 cases failed (20 %) > 10 % allowed (un-r152-m1 v1.0.0, rule repeats)"
            ]
        );
        // An error that could tip the group: error.
        let mut tip = cases[..]
            .iter()
            .filter(|c| c.0 == "car-target")
            .cloned()
            .collect::<Vec<_>>();
        tip[5].1 = Error;
        let out = repeats_outcome(&p, r, &tip).unwrap();
        assert_eq!(out.verdict, Error);
        assert!(repeats_outcome(&p, p.rule("car-moving").unwrap(), &tip).is_err());
    }

    fn cell(rule: &str, vut: f64, params: &[(&str, f64)], range: TestRange, c: Colour) -> GridCell {
        GridCell {
            rule: rule.into(),
            vut_speed_kph: vut,
            params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            range,
            colour: c,
        }
    }

    #[test]
    fn points_and_gates() {
        let p = pack("euro-ncap-2026");
        use Colour::*;
        use TestRange::*;
        let o = |x| [("overlap_pct", x)];
        let mut cells = vec![
            cell("ccrs", 10.0, &o(100.0), Standard, Green),
            cell("ccrs", 20.0, &o(100.0), Standard, Green),
            cell("ccrs", 30.0, &o(100.0), Standard, Brown),
            cell("ccrs", 50.0, &o(100.0), Standard, Yellow),
            cell("ccrs", 60.0, &o(100.0), Extended, Red),
            cell("ccrs", 70.0, &o(100.0), Extended, Orange),
            cell("ccrs", 80.0, &o(100.0), Extended, Yellow),
            cell("cpna", 10.0, &[("impact_point_pct", 75.0)], Standard, Green),
            cell("cpna", 20.0, &[("impact_point_pct", 75.0)], Standard, Red),
        ];
        let pts = euro_ncap_points(&p, &cells).unwrap();
        let ccrs = &pts.scenarios[0];
        assert_eq!(ccrs.scenario, "CCRs");
        // (1 + 1 + 0.25 + 0.75) / 4 × 1.2 = 0.9
        assert_eq!(ccrs.standard, 0.9);
        // 2 of 3 not red = 66.7 % → 50 % × 0.15 = 0.075
        assert_eq!(ccrs.extended, 0.075);
        assert_eq!(ccrs.total, 0.975);
        let cpna = &pts.scenarios[1];
        assert_eq!(cpna.standard, 0.25);
        assert_eq!(cpna.extended, 0.0);
        assert_eq!(pts.total, 1.225);
        assert!(pts.zeroed.is_empty());
        assert!(pts.gates.iter().all(|g| !g.closed));
        assert_eq!(pts.score("frontal-collisions", &["ccrs", "cpna"]), 1.225);

        // A CCRs cell at 20 km/h not green closes the gate.
        cells[1].colour = Yellow;
        let pts = euro_ncap_points(&p, &cells).unwrap();
        assert!(pts.zeroed.contains("frontal-collisions"));
        assert_eq!(pts.score("frontal-collisions", &["ccrs", "cpna"]), 0.0);
        let gate = &pts.gates[0];
        assert!(gate.closed);
        assert_eq!(
            gate.reasons,
            vec![
                "ccrs cell VUT 20 km/h, overlap_pct 100: yellow, not green: frontal-collisions score is 0 (euro-ncap-2026 v1.1.0, rule frontal-collision-gates)"
            ]
        );
        // The CPNA gate selects the 75 % cell at 10 km/h only.
        cells[1].colour = Green;
        cells[7].colour = Orange;
        let pts = euro_ncap_points(&p, &cells).unwrap();
        assert!(!pts.gates[0].closed);
        assert!(pts.gates[1].closed);
        // A CPNA cell without the impact point cannot be gated.
        cells[7].params.clear();
        assert!(matches!(
            euro_ncap_points(&p, &cells),
            Err(EvalError::GateParameterMissing { .. })
        ));
        // Cells of a rule that is not a points rule.
        let bad = [cell("scoring", 10.0, &[], Standard, Green)];
        assert!(euro_ncap_points(&p, &bad).is_err());
    }

    #[test]
    fn extended_share_steps() {
        let p = pack("euro-ncap-2026");
        use Colour::*;
        let ext = |colours: &[Colour]| {
            let cells: Vec<GridCell> = colours
                .iter()
                .enumerate()
                .map(|(i, c)| cell("ccrm", 60.0 + i as f64, &[], TestRange::Extended, *c))
                .collect();
            euro_ncap_points(&p, &cells).unwrap().scenarios[0].extended
        };
        assert_eq!(ext(&[Red, Red, Red, Red]), 0.0);
        assert_eq!(ext(&[Green, Red, Red, Red]), 0.0);
        assert_eq!(ext(&[Green, Brown, Red, Red]), 0.15);
        assert_eq!(ext(&[Green, Brown, Yellow, Red]), 0.225);
        assert_eq!(ext(&[Green, Brown, Yellow, Orange]), 0.3);
    }
}
