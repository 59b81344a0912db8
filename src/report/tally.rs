//! One pass over a run's cases in report order, gathering all that `report.json`, `junit.xml`,
//! `summary.md` and the printed summary need besides the cases themselves: verdict counts (in
//! total, per scenario file, per pack, per `repeats` group), the cases that did not pass (the
//! first few, with reasons), the threshold packs used, and the cells of Euro NCAP grids.
//!
//! What is kept grows with the number of cases only by a position per case and a small record
//! per case judged by a `points` rule (the points scheme and the colour grid need every cell);
//! the entries themselves, with their runs and metrics, are not kept.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use crate::eval::detection::SuiteDetection;
use crate::eval::judge::Packs;
use crate::eval::robustness::{self, CaseOutcome, Cell, Sweep};
use crate::eval::rules::{self, GridCell, GroupCounts};
use crate::thresholds::{Check, Pack, colour_from_name, status_name};

use super::store::CaseSource;
use super::{
    Aggregates, CaseEntry, DetectionEntry, GateEntry, GroupEntry, PackCount, PackEntry,
    PointsEntry, RepeatsEntry, RobustnessCell, RobustnessEntry, RobustnessScore,
    ScenarioPointsEntry, Summary, cell_range, cell_vut_speed_kph, r6,
};

/// At most this many cases that did not pass are kept with their reasons (`summary.md` lists
/// them; the rest are counted).
pub const MAX_LISTED: usize = 50;

/// The cases of one scenario file.
#[derive(Clone, Debug, Default)]
pub struct ScenarioCases {
    pub counts: Summary,
    /// Positions of its cases in report order.
    pub cases: Vec<usize>,
}

/// A case that did not pass, as summaries list it.
#[derive(Clone, Debug)]
pub struct NotPassed {
    pub id: String,
    pub verdict: String,
    pub reasons: Vec<String>,
}

/// A case judged by a `points` rule: a cell of a Euro NCAP grid.
#[derive(Clone, Debug)]
pub struct PointsCase {
    pub pack: String,
    pub rule: String,
    pub id: String,
    pub colour: Option<String>,
    pub vut_speed_kph: f64,
    /// The case's numeric parameters.
    pub params: Vec<(String, f64)>,
}

/// What the summaries need besides the counts of `report.json`.
#[derive(Clone, Debug, Default)]
pub struct Digest {
    pub summary: Summary,
    /// Per scenario file (sorted by path).
    pub scenarios: BTreeMap<String, ScenarioCases>,
    /// The first [`MAX_LISTED`] cases that did not pass, in report order (how many there are in
    /// all: `summary.fail + summary.error`).
    pub not_passed: Vec<NotPassed>,
    /// Every case judged by a `points` rule, in report order.
    pub points_cases: Vec<PointsCase>,
    /// The first [`MAX_LISTED`] cases with a satellite receiver, in report order, with the
    /// localization metrics of their first run.
    pub localization: Vec<LocalizationCase>,
    /// How many cases have a receiver in all.
    pub localization_cases: usize,
}

/// A case with a satellite receiver, as `summary.md` lists it: metric name → value of the
/// first run (`loc_*` and `lane_departures`).
#[derive(Clone, Debug)]
pub struct LocalizationCase {
    pub id: String,
    pub metrics: BTreeMap<String, Option<f64>>,
}

impl Digest {
    /// Counts the case at `position` (report order); `points`: it was judged by a `points` rule.
    pub fn add(&mut self, position: usize, e: &CaseEntry, points: bool) {
        count(&mut self.summary, &e.verdict);
        let group = self.scenarios.entry(e.scenario.clone()).or_default();
        count(&mut group.counts, &e.verdict);
        group.cases.push(position);
        if e.verdict != "pass" && self.not_passed.len() < MAX_LISTED {
            self.not_passed.push(NotPassed {
                id: e.id.clone(),
                verdict: e.verdict.clone(),
                reasons: e.reasons.clone(),
            });
        }
        if e.metrics.contains_key("loc_epochs") {
            self.localization_cases += 1;
            if self.localization.len() < MAX_LISTED {
                self.localization.push(LocalizationCase {
                    id: e.id.clone(),
                    metrics: e
                        .metrics
                        .iter()
                        .filter(|(k, _)| k.starts_with("loc_") || *k == "lane_departures")
                        .map(|(k, v)| (k.clone(), v.as_f64()))
                        .collect(),
                });
            }
        }
        if let (true, Some(j)) = (points, &e.judged_by) {
            self.points_cases.push(PointsCase {
                pack: j.pack.clone(),
                rule: j.rule.clone(),
                id: e.id.clone(),
                colour: e.colour.clone(),
                vut_speed_kph: cell_vut_speed_kph(e),
                params: e
                    .params
                    .iter()
                    .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                    .collect(),
            });
        }
    }

    /// The digest of cases held in memory, in report order; `points(pack, rule)` says whether a
    /// rule is a `points` rule.
    pub fn of_entries(entries: &[CaseEntry], points: &dyn Fn(&str, &str) -> bool) -> Digest {
        let mut d = Digest::default();
        for (i, e) in entries.iter().enumerate() {
            let is_points = e
                .judged_by
                .as_ref()
                .is_some_and(|j| points(&j.pack, &j.rule));
            d.add(i, e, is_points);
        }
        d
    }
}

/// Counts a verdict: anything but `pass` and `fail` is an error.
pub fn count(s: &mut Summary, verdict: &str) {
    s.cases += 1;
    match verdict {
        "pass" => s.pass += 1,
        "fail" => s.fail += 1,
        _ => s.error += 1,
    }
}

/// Everything of a report but its cases.
#[derive(Clone, Debug)]
pub struct Totals {
    /// The packs that judged at least one case.
    pub packs: Vec<PackEntry>,
    pub aggregates: Aggregates,
    pub digest: Digest,
}

impl Totals {
    pub fn summary(&self) -> &Summary {
        &self.digest.summary
    }
}

/// Whether some pack of `packs` with this id has a `points` rule of this id.
fn is_points_rule(packs: &Packs, pack: &str, rule: &str) -> bool {
    packs.all().any(|(p, _)| {
        p.id == pack
            && p.rule(rule)
                .is_some_and(|r| matches!(r.check, Check::Points { .. }))
    })
}

/// Counts cases given one by one in report order: summary, aggregates by its packs, digest.
pub struct Tally<'p> {
    packs: &'p Packs,
    digest: Digest,
    /// Per (pack, version) that judged (`None`: the harness default): verdict counts.
    per_pack: BTreeMap<Option<(String, String)>, Summary>,
    /// Per pack id, per rule that judged: verdict counts (the groups of `repeats` rules).
    per_rule: BTreeMap<String, BTreeMap<String, GroupCounts>>,
    /// Detection scoring summed over the runs that have it.
    detection: SuiteDetection,
    /// Per scenario swept over `corruption` × `severity`.
    robustness: BTreeMap<String, Sweep>,
}

impl<'p> Tally<'p> {
    pub fn new(packs: &'p Packs) -> Tally<'p> {
        Tally {
            packs,
            digest: Digest::default(),
            per_pack: BTreeMap::new(),
            per_rule: BTreeMap::new(),
            detection: SuiteDetection::default(),
            robustness: BTreeMap::new(),
        }
    }

    /// Counts the next case in report order.
    pub fn add(&mut self, e: &CaseEntry) {
        let key = e
            .judged_by
            .as_ref()
            .map(|j| (j.pack.clone(), j.version.clone()));
        count(self.per_pack.entry(key).or_default(), &e.verdict);
        if let Some(j) = &e.judged_by {
            self.per_rule
                .entry(j.pack.clone())
                .or_default()
                .entry(j.rule.clone())
                .or_default()
                .add(to_rule_verdict(&e.verdict));
        }
        let points = e
            .judged_by
            .as_ref()
            .is_some_and(|j| is_points_rule(self.packs, &j.pack, &j.rule));
        let position = self.digest.summary.cases;
        self.digest.add(position, e, points);
        for run in &e.runs {
            self.detection
                .add(&|name| run.metrics.get(name).and_then(serde_json::Value::as_f64));
        }
        if let (Some(c), Some(s)) = (
            e.params.get(robustness::CORRUPTION_PARAM),
            e.params.get(robustness::SEVERITY_PARAM),
        ) {
            let word = |v: &serde_json::Value| match v {
                serde_json::Value::String(w) => w.clone(),
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => (x as i64).to_string(),
                    _ => n.to_string(),
                },
                other => other.to_string(),
            };
            self.robustness.entry(e.scenario.clone()).or_default().add(
                &word(c),
                &word(s),
                &case_outcome(e),
            );
        }
    }

    /// The packs used, the aggregates and the digest of the cases counted.
    pub fn finish(self) -> Totals {
        let used: Vec<(&Pack, String)> = self
            .packs
            .all()
            .filter(|(p, _)| self.per_rule.contains_key(&p.id))
            .map(|(p, o)| (p, o.display()))
            .collect();
        let mut aggregates = aggregates(
            self.per_pack,
            &self.per_rule,
            &self.digest.points_cases,
            &used,
        );
        aggregates.detection = detection_entry(&self.detection);
        aggregates.robustness = self
            .robustness
            .iter()
            .map(|(scenario, sweep)| robustness_entry(scenario, sweep))
            .collect();
        Totals {
            packs: used
                .iter()
                .map(|(p, file)| PackEntry {
                    id: p.id.clone(),
                    version: p.version.clone(),
                    status: status_name(p.status).to_string(),
                    source: p.source.clone(),
                    file: file.clone(),
                })
                .collect(),
            aggregates,
            digest: self.digest,
        }
    }
}

/// One pass over the cases of `source` in report order (see [`Tally`]).
pub fn tally(source: &dyn CaseSource, packs: &Packs) -> io::Result<Totals> {
    let mut t = Tally::new(packs);
    for i in 0..source.count() {
        t.add(&*source.case(i)?);
    }
    Ok(t.finish())
}

/// What a case contributes to its scenario's corruption sweep.
fn case_outcome(e: &CaseEntry) -> CaseOutcome {
    let mut o = CaseOutcome {
        passed: e.verdict == "pass",
        ..CaseOutcome::default()
    };
    for run in &e.runs {
        let m = |name: &str| run.metrics.get(name).and_then(serde_json::Value::as_f64);
        o.runs += 1;
        o.tp += m("detection_tp").unwrap_or(0.0) as u64;
        o.fp += m("detection_fp").unwrap_or(0.0) as u64;
        o.fn_ += m("detection_fn").unwrap_or(0.0) as u64;
        if let Some(ap) = m("detection_ap50") {
            o.ap50_sum += ap;
            o.ap50_runs += 1;
        }
        o.impact_speed_sum_kph += m("relative_impact_speed_kph").unwrap_or(0.0);
    }
    o
}

/// A scenario's corruption sweep as `report.json` has it.
fn robustness_entry(scenario: &str, sweep: &Sweep) -> RobustnessEntry {
    let cell = |corruption: &str, severity: Option<&str>, c: &Cell| RobustnessCell {
        corruption: corruption.to_string(),
        severity: severity.map(String::from),
        cases: c.cases,
        runs: c.runs,
        pass_rate: c.pass_rate().map(r6),
        recall: c.recall().map(r6),
        precision: c.precision().map(r6),
        ap50: c.ap50().map(r6),
        mean_impact_speed_kph: c.mean_impact_speed_kph().map(r6),
    };
    let mut cells = Vec::new();
    if sweep.clean.cases > 0 {
        cells.push(cell(robustness::CLEAN, None, &sweep.clean));
    }
    for ((c, s), v) in &sweep.cells {
        cells.push(cell(c, Some(s), v));
    }
    type Measure = fn(&Cell) -> Option<f64>;
    let measures: [(&str, Measure); 4] = [
        ("recall", Cell::recall),
        ("precision", Cell::precision),
        ("ap50", Cell::ap50),
        ("pass_rate", Cell::pass_rate),
    ];
    RobustnessEntry {
        scenario: scenario.to_string(),
        scores: measures
            .iter()
            .map(|(name, p)| {
                let s = sweep.score(p);
                RobustnessScore {
                    measure: (*name).to_string(),
                    clean: s.clean.map(r6),
                    mpc: s.mpc.map(r6),
                    rpc: s.rpc.map(r6),
                }
            })
            .collect(),
        cells,
    }
}

/// The suite's detection scoring as `report.json` has it (`None`: no run was scored).
fn detection_entry(d: &SuiteDetection) -> Option<DetectionEntry> {
    (d.runs > 0).then(|| {
        let t = &d.totals;
        DetectionEntry {
            runs: d.runs,
            frames: t.frames,
            tp: t.true_positives,
            fp: t.false_positives,
            fn_: t.false_negatives,
            recall: t.recall().map(r6),
            precision: t.precision().map(r6),
            distance_error_m: t.distance_error_m().map(r6),
            ranged_runs: d.ranged_runs,
            mean_range_m: d.mean_range_m().map(r6),
        }
    })
}

fn to_rule_verdict(v: &str) -> rules::Verdict {
    match v {
        "pass" => rules::Verdict::Pass,
        "fail" => rules::Verdict::Fail,
        _ => rules::Verdict::Error,
    }
}

/// The aggregates from the counts and the grid cells gathered in report order.
fn aggregates(
    per_pack: BTreeMap<Option<(String, String)>, Summary>,
    per_rule: &BTreeMap<String, BTreeMap<String, GroupCounts>>,
    points_cases: &[PointsCase],
    packs: &[(&Pack, String)],
) -> Aggregates {
    let mut agg = Aggregates::default();
    // Verdict counts per pack, the harness default last.
    let mut default = None;
    for (key, s) in per_pack {
        let entry = PackCount {
            pack: key.as_ref().map(|k| k.0.clone()),
            version: key.as_ref().map(|k| k.1.clone()),
            cases: s.cases,
            pass: s.pass,
            fail: s.fail,
            error: s.error,
        };
        if key.is_none() {
            default = Some(entry);
        } else {
            agg.packs.push(entry);
        }
    }
    agg.packs.extend(default);

    let no_counts = BTreeMap::new();
    for (pack, _) in packs {
        // Repeats rules: the category of a case is the rule that judged it.
        let groups = per_rule.get(&pack.id).unwrap_or(&no_counts);
        for rule in pack
            .rules
            .iter()
            .filter(|r| matches!(r.check, Check::Repeats { .. }))
        {
            if let Ok(out) = rules::repeats_outcome_of_counts(pack, rule, groups) {
                agg.repeats.push(RepeatsEntry {
                    pack: pack.id.clone(),
                    version: pack.version.clone(),
                    rule: rule.id.clone(),
                    verdict: out.verdict.as_str().to_string(),
                    groups: out
                        .groups
                        .into_iter()
                        .map(|g| GroupEntry {
                            group: g.group,
                            verdict: g.verdict.as_str().to_string(),
                            cases: g.cases,
                            failed: g.failed,
                            errors: g.errors,
                            failure_share: r6(g.failure_share),
                            reasons: g.reasons,
                        })
                        .collect(),
                });
            }
        }
        // Euro NCAP points: the cells of the pack's `points` rules.
        let mut cells = Vec::new();
        let mut coloured: BTreeMap<String, usize> = BTreeMap::new();
        for c in points_cases.iter().filter(|c| c.pack == pack.id) {
            let Some(rule) = pack.rule(&c.rule) else {
                continue;
            };
            if !matches!(rule.check, Check::Points { .. }) {
                continue;
            }
            let Some(colour) = c.colour.as_deref().and_then(colour_from_name) else {
                continue;
            };
            *coloured.entry(rule.id.clone()).or_default() += 1;
            let Some(range) = cell_range(&rule.check, c.vut_speed_kph) else {
                continue;
            };
            cells.push(GridCell {
                rule: rule.id.clone(),
                vut_speed_kph: c.vut_speed_kph,
                params: c.params.iter().cloned().collect(),
                range,
                colour,
            });
        }
        if coloured.is_empty() {
            continue;
        }
        if let Ok(points) = rules::euro_ncap_points(pack, &cells) {
            agg.euro_ncap.push(PointsEntry {
                pack: pack.id.clone(),
                version: pack.version.clone(),
                scenarios: points
                    .scenarios
                    .into_iter()
                    .map(|s| ScenarioPointsEntry {
                        cells: coloured.get(&s.rule).copied().unwrap_or(0),
                        scored_cells: cells.iter().filter(|c| c.rule == s.rule).count(),
                        rule: s.rule,
                        scenario: s.scenario,
                        standard: s.standard,
                        standard_max: s.standard_max,
                        extended: s.extended,
                        extended_max: s.extended_max,
                        total: s.total,
                        reasons: s.reasons,
                    })
                    .collect(),
                total: points.total,
                gates: points
                    .gates
                    .into_iter()
                    .map(|g| GateEntry {
                        rule: g.rule,
                        zeroes: g.zeroes,
                        closed: g.closed,
                        reasons: g.reasons,
                    })
                    .collect(),
                zeroed: points.zeroed.into_iter().collect(),
            });
        }
    }
    agg
}

/// The `(pack, rule)` of every `points` rule in a report's Euro NCAP aggregates: which cases
/// are grid cells, for the summaries of a report held in memory.
pub fn points_rules_of(aggregates: &Aggregates) -> BTreeSet<(String, String)> {
    aggregates
        .euro_ncap
        .iter()
        .flat_map(|p| p.scenarios.iter().map(|s| (p.pack.clone(), s.rule.clone())))
        .collect()
}
