//! `gauntlet calibrate`: where a candidate threshold would put the systems a committee knows.
//! For each system under test in the given reports, the pass rate of the cases a rule judges as
//! a function of the rule's threshold, re-judged from the saved metrics by the one judging path
//! ([`crate::report::judge_saved_case`]) — nothing is simulated — and the strictest candidate at
//! which a stated share of the systems passes (`docs/calibration.md`).
//!
//! What the candidate value is, per rule type: the limit of `min_value` and `max_value`; the
//! constant term `base_s` of `min_time_gap`; for tables (`max_by_speed_table`, such as UN R152's
//! impact-speed tables, and Euro NCAP's `bands`) a uniform offset added to every entry (every
//! row's maximum, every band edge). Other rule types have no single threshold and are refused.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use crate::eval::judge::Packs;
use crate::report::summary::{code, text};
use crate::report::{CaseEntry, ReportFile, judge_saved_case};
use crate::run::Verdict;
use crate::thresholds::{Check, Edge, Pack, Rule};

/// At most this many candidate values.
pub const MAX_CANDIDATES: usize = 10_000;

/// Candidate values closer than this are the same value.
const VALUE_EPS: f64 = 1e-9;

/// `PACK:RULE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub pack: String,
    pub rule: String,
}

impl RuleRef {
    /// Parses `PACK:RULE`.
    pub fn parse(s: &str) -> Result<RuleRef, String> {
        match s.split_once(':') {
            Some((pack, rule)) if !pack.trim().is_empty() && !rule.trim().is_empty() => {
                Ok(RuleRef {
                    pack: pack.trim().to_string(),
                    rule: rule.trim().to_string(),
                })
            }
            _ => Err(format!(
                "--rule {s:?}: expected PACK:RULE, for example un-r152-m1:pedestrian"
            )),
        }
    }
}

impl std::fmt::Display for RuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.pack, self.rule)
    }
}

/// The candidate values: `from`, `from + step`, … up to `to` (included when on the grid).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidates {
    pub from: f64,
    pub to: f64,
    pub step: f64,
}

impl Candidates {
    /// From `--range A..B` and `--step S`.
    pub fn parse(range: &str, step: &str) -> Result<Candidates, String> {
        let bad_range = || {
            format!(
                "--range {range:?}: expected A..B with numbers A ≤ B, for example -5..20 or 0.5..3"
            )
        };
        let (a, b) = range.split_once("..").ok_or_else(bad_range)?;
        let number = |t: &str| t.trim().parse::<f64>().ok().filter(|x| x.is_finite());
        let (Some(from), Some(to)) = (number(a), number(b)) else {
            return Err(bad_range());
        };
        if from > to {
            return Err(format!("--range {range:?}: A must not be above B"));
        }
        let step = number(step)
            .filter(|s| *s > 0.0)
            .ok_or_else(|| format!("--step {step:?}: expected a number above 0"))?;
        let c = Candidates { from, to, step };
        let n = c.count_f64();
        if n > MAX_CANDIDATES as f64 {
            return Err(format!(
                "--range {range:?} with --step {step} gives {n:.0} candidate values; at most {MAX_CANDIDATES}"
            ));
        }
        Ok(c)
    }

    fn count_f64(&self) -> f64 {
        ((self.to - self.from) / self.step + 1e-9).floor() + 1.0
    }

    /// The values, each rounded to 1e-9 so that `0.1 × 3` reads `0.3`.
    pub fn values(&self) -> Vec<f64> {
        let n = self.count_f64().max(1.0) as usize;
        (0..n.min(MAX_CANDIDATES))
            .map(|i| round9(self.from + i as f64 * self.step))
            .collect()
    }
}

fn round9(x: f64) -> f64 {
    let r = (x * 1e9).round() / 1e9;
    if r == 0.0 { 0.0 } else { r }
}

/// Which number of a rule the candidate replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// The `limit` of `min_value` / `max_value`.
    Limit,
    /// `base_s` of `min_time_gap`.
    TimeGapBase,
    /// An offset added to every maximum of a `max_by_speed_table`.
    TableOffset,
    /// An offset added to every band edge of a `bands` rule.
    BandsOffset,
}

/// Which way a candidate lets more cases pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Looser {
    Higher,
    Lower,
    /// Not monotone (bands with red at both ends): no strictest value is named.
    Unknown,
}

/// What the candidate value means for a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub knob: Knob,
    /// The value the pack has now (0 for an offset).
    pub current: f64,
    pub looser: Looser,
    /// The unit, with its leading space (` km/h`), or empty.
    pub unit: &'static str,
    /// What the candidate is, for headings and the x axis (`minimum TTC at first intervention`).
    pub what: String,
}

/// Why a calibration cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalibrateError {
    #[error(
        "--rule {rule}: threshold pack `{pack}` is neither built in nor read by these runs{hint}"
    )]
    UnknownPack {
        rule: String,
        pack: String,
        hint: String,
    },
    #[error("--rule {rule}: threshold pack `{pack}` v{version} has no rule `{name}`{hint}")]
    UnknownRule {
        rule: String,
        pack: String,
        version: String,
        name: String,
        hint: String,
    },
    #[error("--rule {rule}: {why}")]
    NoThreshold { rule: String, why: String },
    #[error(
        "--rule {rule}: no case of these reports is judged by it (no scenario names pack `{pack}` with rule `{name}` or a rule made of it)"
    )]
    NoCases {
        rule: String,
        pack: String,
        name: String,
    },
    #[error("{0}")]
    Reports(String),
}

/// The number a candidate replaces in `rule`, and which way is looser.
pub fn target(pack: &Pack, rule: &Rule) -> Result<Target, String> {
    let (label, unit) = crate::eval::rules::metric_label(&rule.applies_to);
    let t = |knob, current, looser, what: String| {
        Ok(Target {
            knob,
            current,
            looser,
            unit,
            what,
        })
    };
    match &rule.check {
        Check::MaxValue(l) => t(
            Knob::Limit,
            l.limit,
            Looser::Higher,
            format!("maximum {label}"),
        ),
        Check::MinValue(l) => t(
            Knob::Limit,
            l.limit,
            Looser::Lower,
            format!("minimum {label}"),
        ),
        Check::MinTimeGap { base_s, .. } => Ok(Target {
            knob: Knob::TimeGapBase,
            current: *base_s,
            looser: Looser::Lower,
            unit: " s",
            what: "constant term base_s of the minimum time gap".to_string(),
        }),
        Check::MaxBySpeedTable(_) => t(
            Knob::TableOffset,
            0.0,
            Looser::Higher,
            format!("offset added to every maximum {label} of the table"),
        ),
        Check::Bands(table) => {
            let red = |b: &crate::thresholds::Band| b.colour == crate::thresholds::Colour::Red;
            let looser = if table.rows.iter().all(|(_, bands)| {
                bands.last().is_some_and(red) && !bands[..bands.len() - 1].iter().any(red)
            }) {
                Looser::Higher
            } else if table
                .rows
                .iter()
                .all(|(_, bands)| bands.first().is_some_and(red) && !bands[1..].iter().any(red))
            {
                Looser::Lower
            } else {
                Looser::Unknown
            };
            t(
                Knob::BandsOffset,
                0.0,
                looser,
                format!("offset added to every {label} band edge"),
            )
        }
        Check::Points { bands_rule, .. } => Err(format!(
            "rule `{}` is of type `points`; its colours come from the bands rule `{bands_rule}`: calibrate `{}:{bands_rule}`",
            rule.id, pack.id
        )),
        Check::NoCollision { .. }
        | Check::Repeats { .. }
        | Check::PointsScheme { .. }
        | Check::Gates(_)
        | Check::AllOf(_) => Err(format!(
            "rule `{}` has no single threshold to calibrate; calibrate a rule of type min_value, max_value, min_time_gap, max_by_speed_table or bands",
            rule.id
        )),
    }
}

/// `pack` with the candidate `value` put into rule `rule_id`.
pub fn with_candidate(pack: &Pack, rule_id: &str, knob: Knob, value: f64) -> Pack {
    let mut out = pack.clone();
    let Some(rule) = out.rules.iter_mut().find(|r| r.id == rule_id) else {
        return out;
    };
    match (&mut rule.check, knob) {
        (Check::MaxValue(l) | Check::MinValue(l), Knob::Limit) => l.limit = value,
        (Check::MinTimeGap { base_s, .. }, Knob::TimeGapBase) => *base_s = value,
        (Check::MaxBySpeedTable(table), Knob::TableOffset) => {
            for (_, max) in &mut table.rows {
                *max += value;
            }
        }
        (Check::Bands(table), Knob::BandsOffset) => {
            for (_, bands) in &mut table.rows {
                for band in bands {
                    band.upper = band.upper.map(|edge| match edge {
                        Edge::Below(x) => Edge::Below(x + value),
                        Edge::AtMost(x) => Edge::AtMost(x + value),
                    });
                }
            }
        }
        _ => {}
    }
    out
}

/// Whether a case judged by `case_rule` depends on `rule_id`: it is that rule, an `all_of` with
/// it among its members, or a `points` rule whose bands it is.
fn depends_on(pack: &Pack, case_rule: &str, rule_id: &str) -> bool {
    if case_rule == rule_id {
        return true;
    }
    match pack.rule(case_rule).map(|r| &r.check) {
        Some(Check::AllOf(members)) => members.iter().any(|m| m == rule_id),
        Some(Check::Points { bands_rule, .. }) => bands_rule == rule_id,
        _ => false,
    }
}

/// The cases of one system under test, from one report or several (a suite run in parts).
#[derive(Debug, Clone)]
pub struct SystemRuns {
    pub sut: String,
    pub cases: Vec<CaseEntry>,
}

/// Groups the cases of the reports by system under test, in order of first appearance; a case
/// given twice for the same system is refused.
pub fn systems(reports: &[(String, ReportFile)]) -> Result<Vec<SystemRuns>, CalibrateError> {
    let mut out: Vec<SystemRuns> = Vec::new();
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (name, report) in reports {
        for case in &report.cases {
            if let Some(first) = seen.insert((report.sut.clone(), case.id.clone()), name.clone()) {
                return Err(CalibrateError::Reports(format!(
                    "{name}: case {} of {} is also in {first}: give each system's cases once",
                    case.id, report.sut
                )));
            }
        }
        match out.iter_mut().find(|s| s.sut == report.sut) {
            Some(s) => s.cases.extend(report.cases.iter().cloned()),
            None => out.push(SystemRuns {
                sut: report.sut.clone(),
                cases: report.cases.clone(),
            }),
        }
    }
    Ok(out)
}

/// How the systems are counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrateConfig {
    /// The share of systems that must pass (0 < share ≤ 1).
    pub share: f64,
    /// A system passes a candidate when at least this share of its cases pass (0 < r ≤ 1).
    pub min_pass_rate: f64,
}

impl Default for CalibrateConfig {
    fn default() -> Self {
        CalibrateConfig {
            share: 1.0,
            min_pass_rate: 1.0,
        }
    }
}

/// One system's passes per candidate value.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub sut: String,
    /// Cases that depend on the rule.
    pub cases: usize,
    /// Passing cases, per candidate value.
    pub passes: Vec<usize>,
    /// Passing cases with the pack as it is.
    pub passes_now: usize,
}

impl Curve {
    pub fn rate(&self, i: usize) -> f64 {
        self.passes[i] as f64 / self.cases.max(1) as f64
    }
}

/// The result of a calibration.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub rule: RuleRef,
    pub pack_version: String,
    pub target: Target,
    pub config: CalibrateConfig,
    pub values: Vec<f64>,
    /// Systems with at least one case that depends on the rule.
    pub curves: Vec<Curve>,
    /// Systems without such a case.
    pub skipped: Vec<String>,
    /// Per candidate value: how many systems pass it.
    pub systems_passing: Vec<usize>,
    /// The strictest candidate at which at least `share` of the systems pass.
    pub crossing: Option<f64>,
    /// Every candidate at which at least `share` of the systems pass (for `Looser::Unknown`).
    pub passing_values: Vec<f64>,
}

impl Calibration {
    /// How many systems `share` asks for.
    pub fn systems_needed(&self) -> usize {
        systems_needed(self.config.share, self.curves.len())
    }
}

/// ⌈share × n⌉ (at least 1), with a tolerance so that 0.8 × 5 is 4.
fn systems_needed(share: f64, n: usize) -> usize {
    ((share * n as f64 - 1e-9).ceil().max(1.0)) as usize
}

fn system_passes(passes: usize, cases: usize, min_pass_rate: f64) -> bool {
    cases > 0 && passes as f64 >= min_pass_rate * cases as f64 - 1e-9
}

/// Calibrates `rule` over `values`. `packs` are the packs the runs were judged by (built in,
/// and the pack files the reports name).
pub fn calibrate(
    systems: &[SystemRuns],
    packs: &Packs,
    rule_ref: &RuleRef,
    values: &[f64],
    config: &CalibrateConfig,
) -> Result<Calibration, CalibrateError> {
    let all: Vec<(&Pack, String)> = packs
        .all()
        .map(|(p, o)| (p, o.display()))
        .collect::<Vec<_>>();
    let Some((pack, origin)) = all.iter().find(|(p, _)| p.id == rule_ref.pack).cloned() else {
        let ids: Vec<String> = all.iter().map(|(p, _)| p.id.clone()).collect();
        return Err(CalibrateError::UnknownPack {
            rule: rule_ref.to_string(),
            pack: rule_ref.pack.clone(),
            hint: hint(&rule_ref.pack, &ids),
        });
    };
    let Some(rule) = pack.rule(&rule_ref.rule) else {
        let ids: Vec<String> = pack.rules.iter().map(|r| r.id.clone()).collect();
        return Err(CalibrateError::UnknownRule {
            rule: rule_ref.to_string(),
            pack: pack.id.clone(),
            version: pack.version.clone(),
            name: rule_ref.rule.clone(),
            hint: hint(&rule_ref.rule, &ids),
        });
    };
    let target = target(pack, rule).map_err(|why| CalibrateError::NoThreshold {
        rule: rule_ref.to_string(),
        why,
    })?;
    // The cases each system has that the rule decides.
    let mut selected: Vec<(&str, Vec<&CaseEntry>)> = Vec::new();
    let mut skipped = Vec::new();
    for s in systems {
        let cases: Vec<&CaseEntry> = s
            .cases
            .iter()
            .filter(|c| {
                c.facts.judge.as_ref().is_some_and(|j| {
                    j.pack == rule_ref.pack && depends_on(pack, &j.rule, &rule_ref.rule)
                })
            })
            .collect();
        if cases.is_empty() {
            skipped.push(s.sut.clone());
        } else {
            selected.push((&s.sut, cases));
        }
    }
    if selected.is_empty() {
        return Err(CalibrateError::NoCases {
            rule: rule_ref.to_string(),
            pack: rule_ref.pack.clone(),
            name: rule_ref.rule.clone(),
        });
    }
    let origin = PathBuf::from(origin);
    let passes_with = |value: f64| -> Vec<usize> {
        let mut candidate = packs.clone();
        candidate.add_input(
            &origin,
            with_candidate(pack, &rule_ref.rule, target.knob, value),
        );
        selected
            .iter()
            .map(|(_, cases)| {
                cases
                    .iter()
                    .filter(|c| judge_saved_case(c, &candidate).verdict == Verdict::Pass)
                    .count()
            })
            .collect()
    };
    let per_value: Vec<Vec<usize>> = values.iter().map(|&v| passes_with(v)).collect();
    let now = passes_with(target.current);
    let curves: Vec<Curve> = selected
        .iter()
        .enumerate()
        .map(|(k, (sut, cases))| Curve {
            sut: sut.to_string(),
            cases: cases.len(),
            passes: per_value.iter().map(|p| p[k]).collect(),
            passes_now: now[k],
        })
        .collect();
    let systems_passing: Vec<usize> = (0..values.len())
        .map(|i| {
            curves
                .iter()
                .filter(|c| system_passes(c.passes[i], c.cases, config.min_pass_rate))
                .count()
        })
        .collect();
    let needed = systems_needed(config.share, curves.len());
    let passing_values: Vec<f64> = values
        .iter()
        .zip(&systems_passing)
        .filter(|(_, n)| **n >= needed)
        .map(|(v, _)| *v)
        .collect();
    let crossing = match target.looser {
        Looser::Higher => passing_values.first().copied(),
        Looser::Lower => passing_values.last().copied(),
        Looser::Unknown => None,
    };
    Ok(Calibration {
        rule: rule_ref.clone(),
        pack_version: pack.version.clone(),
        target,
        config: *config,
        values: values.to_vec(),
        curves,
        skipped,
        systems_passing,
        crossing,
        passing_values,
    })
}

fn hint(name: &str, known: &[String]) -> String {
    match crate::scenario::schema::suggest(name, known) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => format!(" (known: {})", known.join(", ")),
    }
}

/// A value as tables print it: up to 6 decimals, `−` for negatives.
pub fn num(x: f64) -> String {
    let s = crate::eval::rules::num_decimals(x, 6);
    match s.strip_prefix('-') {
        Some(rest) if rest != "0" => format!("−{rest}"),
        Some(_) => "0".to_string(),
        None => s,
    }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// The sentence that names the crossing value.
pub fn crossing_sentence(c: &Calibration) -> String {
    let needed = c.systems_needed();
    let n = c.curves.len();
    let share = format!(
        "{} of the {n} systems ({} %)",
        needed,
        crate::eval::rules::num_decimals(100.0 * c.config.share, 1)
    );
    let passes = if c.config.min_pass_rate >= 1.0 {
        "pass every case".to_string()
    } else {
        format!(
            "pass at least {} of their cases",
            pct(c.config.min_pass_rate)
        )
    };
    match (c.crossing, c.target.looser) {
        (Some(v), looser) => format!(
            "The strictest candidate at which at least {share} {passes}: **{}{}** ({} on this grid, step {}).",
            num(v),
            c.target.unit,
            match looser {
                Looser::Higher => "the lowest such value",
                _ => "the highest such value",
            },
            num(c.values.get(1).map_or(0.0, |b| round9(b - c.values[0])))
        ),
        (None, Looser::Unknown) if !c.passing_values.is_empty() => format!(
            "At least {share} {passes} at: {} (the bands of this rule have red at both ends, so no single strictest value is named).",
            c.passing_values
                .iter()
                .map(|v| format!("{}{}", num(*v), c.target.unit))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("No candidate of the range lets at least {share} {passes}."),
    }
}

/// The table as Markdown (also what `gauntlet calibrate` prints).
pub fn markdown(c: &Calibration) -> String {
    let mut md = String::new();
    let unit = c.target.unit.trim();
    // Writing to a String cannot fail.
    let _ = writeln!(
        md,
        "## Gauntlet calibrate: {} v{}, rule {}\n",
        code(&c.rule.pack),
        c.pack_version,
        code(&c.rule.rule)
    );
    let _ = writeln!(
        md,
        "Candidate: the {}{} (now {}{}). Pass rate of each system's cases that the rule decides, re-judged from the saved metrics (no simulation). A system passes a candidate when {}.\n",
        c.target.what,
        if unit.is_empty() {
            String::new()
        } else {
            format!(", {unit}")
        },
        num(c.target.current),
        c.target.unit,
        if c.config.min_pass_rate >= 1.0 {
            "every one of its cases passes".to_string()
        } else {
            format!("at least {} of its cases pass", pct(c.config.min_pass_rate))
        }
    );
    let header: Vec<String> = c
        .curves
        .iter()
        .map(|k| format!("{} ({})", code(&k.sut), k.cases))
        .collect();
    let _ = writeln!(
        md,
        "| candidate{} | {} | systems passing |",
        if unit.is_empty() {
            String::new()
        } else {
            format!(" ({unit})")
        },
        header.join(" | ")
    );
    let _ = writeln!(md, "|---:|{}---:|", "---:|".repeat(c.curves.len()));
    for (i, v) in c.values.iter().enumerate() {
        let mut marks = Vec::new();
        if (v - c.target.current).abs() < VALUE_EPS {
            marks.push("now");
        }
        if c.crossing.is_some_and(|x| (x - v).abs() < VALUE_EPS) {
            marks.push("crossing");
        }
        let label = if marks.is_empty() {
            num(*v)
        } else {
            format!("{} ({})", num(*v), marks.join(", "))
        };
        let cells: Vec<String> = c.curves.iter().map(|k| pct(k.rate(i))).collect();
        let _ = writeln!(
            md,
            "| {label} | {} | {} of {} |",
            cells.join(" | "),
            c.systems_passing[i],
            c.curves.len()
        );
    }
    let _ = writeln!(md, "\n{}", crossing_sentence(c));
    let now: Vec<String> = c
        .curves
        .iter()
        .map(|k| format!("{} {}/{}", code(&k.sut), k.passes_now, k.cases))
        .collect();
    let _ = writeln!(
        md,
        "\nWith the pack as it is ({}{}): {}.",
        num(c.target.current),
        c.target.unit,
        now.join(", ")
    );
    if !c.skipped.is_empty() {
        let _ = writeln!(
            md,
            "\nNot counted (no case decided by this rule): {}.",
            text(&c.skipped.join(", "))
        );
    }
    md
}

/// The curves as CSV: `value,sut,cases,pass,pass_rate`, one row per candidate and system.
pub fn csv(c: &Calibration) -> String {
    let mut out = String::from("value,sut,cases,pass,pass_rate\n");
    for (i, v) in c.values.iter().enumerate() {
        for k in &c.curves {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                crate::eval::rules::num_decimals(*v, 9),
                csv_field(&k.sut),
                k.cases,
                k.passes[i],
                crate::eval::rules::num_decimals(k.rate(i), 6)
            );
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Line colours (Okabe–Ito, readable by colour-blind readers), then dash patterns.
const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
const DASHES: [&str; 4] = ["", "6 3", "2 3", "8 3 2 3"];

/// Tick positions for `[lo, hi]`: steps of 1, 2 or 5 × 10^k, about six ticks.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi - lo <= 0.0 {
        return vec![lo];
    }
    let raw = (hi - lo) / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() * step;
    let mut out = Vec::new();
    let mut k = 0;
    while first + k as f64 * step <= hi + 1e-9 * step && k < 100 {
        out.push(round9(first + k as f64 * step));
        k += 1;
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The curves as an SVG: pass rate (%) against the candidate, one line per system, a legend,
/// the current value and the crossing marked.
pub fn svg(c: &Calibration) -> String {
    const W: f64 = 760.0;
    const H: f64 = 420.0;
    let (left, right, top, bottom) = (64.0, 200.0, 40.0, 56.0);
    let (pw, ph) = (W - left - right, H - top - bottom);
    let (lo, hi) = match (c.values.first(), c.values.last()) {
        (Some(a), Some(b)) if b > a => (*a, *b),
        (Some(a), _) => (*a - 0.5, *a + 0.5),
        _ => (0.0, 1.0),
    };
    let x = |v: f64| left + (v - lo) / (hi - lo) * pw;
    let y = |rate: f64| top + (1.0 - rate) * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="14" font-weight="bold">{} v{}, rule {}: pass rate per system</text>"#,
        xml(&c.rule.pack),
        xml(&c.pack_version),
        xml(&c.rule.rule)
    );
    // Grid and y axis: 0 … 100 %.
    for k in 0..=5 {
        let rate = k as f64 / 5.0;
        let yy = y(rate);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#dddddd"/>"##,
            left + pw
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{} %</text>"#,
            left - 6.0,
            yy + 4.0,
            k * 20
        );
    }
    for t in ticks(lo, hi) {
        let xx = x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#333333"/>"##,
            top + ph,
            top + ph + 5.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            top + ph + 18.0,
            xml(&num(t))
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#333333"/>"##
    );
    let unit = c.target.unit.trim();
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">candidate: {}{}</text>"#,
        left + pw / 2.0,
        H - 14.0,
        xml(&c.target.what),
        if unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", xml(unit))
        }
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">pass rate of the cases</text>"#,
        top + ph / 2.0
    );
    // The value the pack has now, and the crossing.
    let mut marker = |v: f64, colour: &str, label: String, row: f64| {
        if v < lo - VALUE_EPS || v > hi + VALUE_EPS {
            return;
        }
        let xx = x(v);
        let _ = writeln!(
            s,
            r#"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="{colour}" stroke-dasharray="4 4"/>"#,
            top + ph
        );
        // Labels near the right edge go to the left of their line.
        let (tx, anchor) = if xx > left + 0.6 * pw {
            (xx - 4.0, "end")
        } else {
            (xx + 4.0, "start")
        };
        let _ = writeln!(
            s,
            r#"<text x="{tx:.1}" y="{:.1}" fill="{colour}" text-anchor="{anchor}">{}</text>"#,
            top + 14.0 + row * 14.0,
            xml(&label)
        );
    };
    marker(
        c.target.current,
        "#666666",
        format!("now {}{}", num(c.target.current), c.target.unit),
        0.0,
    );
    if let Some(v) = c.crossing {
        marker(
            v,
            "#B00020",
            format!(
                "{} % of systems pass: {}{}",
                crate::eval::rules::num_decimals(100.0 * c.config.share, 1),
                num(v),
                c.target.unit
            ),
            1.0,
        );
    }
    // One line per system.
    for (k, curve) in c.curves.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let dash = DASHES[(k / COLOURS.len() + k) % DASHES.len()];
        let points: Vec<String> = (0..c.values.len())
            .map(|i| format!("{:.1},{:.1}", x(c.values[i]), y(curve.rate(i))))
            .collect();
        let dash_attr = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash_attr} points="{}"/>"#,
            points.join(" ")
        );
        if c.values.len() <= 60 {
            for i in 0..c.values.len() {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#,
                    x(c.values[i]),
                    y(curve.rate(i))
                );
            }
        }
        let ly = top + 10.0 + k as f64 * 20.0;
        let lx = left + pw + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"{dash_attr}/>"#,
            lx + 28.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{} ({})</text>"#,
            lx + 34.0,
            ly + 4.0,
            xml(&curve.sut),
            curve.cases
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_parse_and_list() {
        let c = Candidates::parse("-1..1", "0.5").unwrap();
        assert_eq!(c.values(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        let c = Candidates::parse("0..0.3", "0.1").unwrap();
        assert_eq!(c.values(), vec![0.0, 0.1, 0.2, 0.3]);
        let c = Candidates::parse("0..1", "0.3").unwrap();
        assert_eq!(c.values(), vec![0.0, 0.3, 0.6, 0.9]);
        assert!(Candidates::parse("5..1", "1").is_err());
        assert!(Candidates::parse("1-5", "1").is_err());
        assert!(Candidates::parse("a..5", "1").is_err());
        assert!(Candidates::parse("0..5", "0").is_err());
        assert!(Candidates::parse("0..5", "nan").is_err());
        assert!(Candidates::parse("0..1e9", "1e-3").is_err());
    }

    #[test]
    fn rule_refs() {
        assert_eq!(
            RuleRef::parse("un-r152-m1:pedestrian").unwrap(),
            RuleRef {
                pack: "un-r152-m1".into(),
                rule: "pedestrian".into()
            }
        );
        assert!(RuleRef::parse("un-r152-m1").is_err());
        assert!(RuleRef::parse(":x").is_err());
    }

    #[test]
    fn needed_systems() {
        assert_eq!(systems_needed(0.8, 5), 4);
        assert_eq!(systems_needed(1.0, 5), 5);
        assert_eq!(systems_needed(0.5, 5), 3);
        assert_eq!(systems_needed(0.01, 5), 1);
    }

    #[test]
    fn tick_steps() {
        assert_eq!(
            ticks(0.0, 30.0),
            vec![0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
        );
        assert_eq!(ticks(-10.0, 10.0), vec![-10.0, -5.0, 0.0, 5.0, 10.0]);
        assert_eq!(ticks(0.5, 3.0), vec![0.5, 1.0, 1.5, 2.0, 2.5, 3.0]);
    }

    #[test]
    fn candidates_go_into_the_rule() {
        let packs = Packs::builtin().unwrap();
        let (pack, _) = packs.all().find(|(p, _)| p.id == "un-r152-m1").unwrap();
        let shifted = with_candidate(pack, "pedestrian", Knob::TableOffset, 5.0);
        let Check::MaxBySpeedTable(t) = &shifted.rule("pedestrian").unwrap().check else {
            panic!("table")
        };
        assert_eq!(t.rows[0], (20.0, 5.0));
        assert_eq!(t.rows.last(), Some(&(60.0, 50.0)));
        let limit = with_candidate(pack, "warning-timing", Knob::Limit, 1.2);
        let Check::MinValue(l) = &limit.rule("warning-timing").unwrap().check else {
            panic!("min_value")
        };
        assert_eq!(l.limit, 1.2);
        let rule = pack.rule("repeats").unwrap();
        assert!(target(pack, rule).is_err());
    }
}
