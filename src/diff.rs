//! `gauntlet diff`: two runs of the same suite — usually the previous and the new release of a
//! system under test — compared case by case, with a statistical test so that noise is not
//! called a regression (`docs/ci.md`).
//!
//! What it finds: the cases whose verdict changed (newly failing, new errors, newly passing), new
//! collisions, per threshold pack the change in pass rate with McNemar's exact test on the paired
//! cases, Euro NCAP colour and points changes, and per metric how much it moved. It reads only
//! the saved reports: nothing is simulated or judged again.
//!
//! The test: for each group of paired cases (each threshold pack, and all cases together when
//! there are several packs), `b` cases pass in BASE and not in NEW, `c` the other way round.
//! Under "no change" each of the `b + c` discordant pairs goes either way with probability 1/2,
//! so the one-sided p-value of a regression is P(X ≥ b) for X ~ Binomial(b + c, 1/2) (McNemar's
//! exact test). A regression is significant when p < α / m (Bonferroni over the m groups tested;
//! α = 0.05 unless `--alpha` says otherwise).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use statrs::distribution::{Binomial, DiscreteCDF};

use crate::eval::rules::MetricSource;
use crate::report::summary::{code, colour_square, text};
use crate::report::{CaseEntry, PointsEntry, ReportFile, Summary, metrics_from_json, tally};
use crate::thresholds::colour_from_name;

/// The significance level of `gauntlet diff` unless `--alpha` says otherwise (one-sided).
pub const DEFAULT_ALPHA: f64 = 0.05;

/// At most this many cases are listed per section; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// Values closer than this are the same (reports round to 1e-6).
const SAME_EPS: f64 = 5e-7;

/// One side of the comparison: a report and the name it is quoted by (its path).
pub struct Side<'a> {
    pub name: &'a str,
    pub report: &'a ReportFile,
}

/// How `diff` decides.
#[derive(Debug, Clone, Copy)]
pub struct DiffConfig {
    /// One-sided significance level of the whole comparison (split over the groups tested).
    pub alpha: f64,
}

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig {
            alpha: DEFAULT_ALPHA,
        }
    }
}

/// Why two reports cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Incomparable(pub String);

/// How a case's verdict changed from BASE to NEW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// `pass` → `fail`.
    NewlyFailing,
    /// `pass` or `fail` → `error`.
    NewError,
    /// `error` → `fail`.
    ErrorNowFails,
    /// `fail` or `error` → `pass`.
    NewlyPassing,
}

impl ChangeKind {
    fn of(base: &str, new: &str) -> Option<ChangeKind> {
        match (base, new) {
            (b, n) if b == n => None,
            ("pass", "fail") => Some(ChangeKind::NewlyFailing),
            (_, "pass") => Some(ChangeKind::NewlyPassing),
            ("error", "fail") => Some(ChangeKind::ErrorNowFails),
            _ => Some(ChangeKind::NewError),
        }
    }

    fn title(self) -> &'static str {
        match self {
            ChangeKind::NewlyFailing => "Newly failing",
            ChangeKind::NewError => "New errors",
            ChangeKind::ErrorNowFails => "No longer errors, now fail",
            ChangeKind::NewlyPassing => "Newly passing",
        }
    }
}

/// A case whose verdict changed.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictChange {
    pub id: String,
    pub kind: ChangeKind,
    pub base: String,
    pub new: String,
    /// NEW's reasons.
    pub reasons: Vec<String>,
}

/// A case that collides in NEW (in any run) and did not in BASE (in no run).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCollision {
    pub id: String,
    /// NEW's verdict and reasons (a collision may be within a rule's limits).
    pub verdict: String,
    pub reasons: Vec<String>,
}

/// The pass-rate change of a group of paired cases and its test.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupTest {
    /// `pack vVERSION`, `harness default (no collision)` or `all cases`.
    pub label: String,
    pub cases: usize,
    pub base_pass: usize,
    pub new_pass: usize,
    /// Pass in BASE, not in NEW (`b`).
    pub lost: usize,
    /// Not pass in BASE, pass in NEW (`c`).
    pub gained: usize,
    /// One-sided p-value of a regression: P(X ≥ b), X ~ Binomial(b + c, 1/2).
    pub p_value: f64,
    pub significant: bool,
}

/// How one metric moved over the paired cases (first run of each case).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    pub metric: String,
    /// Cases where the value differs (including defined ↔ undefined).
    pub changed: usize,
    /// Cases where it is defined in both and differs.
    pub moved: usize,
    /// Mean of NEW − BASE over the cases where it is defined in both (all of them, unchanged
    /// ones included).
    pub mean_change: Option<f64>,
    /// The largest |NEW − BASE|: case, BASE value, NEW value.
    pub largest: Option<(String, f64, f64)>,
    pub became_defined: usize,
    pub became_undefined: usize,
}

/// A case whose Euro NCAP colour changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ColourChange {
    pub id: String,
    pub base: Option<String>,
    pub new: Option<String>,
}

impl ColourChange {
    /// Whether NEW's colour is worse (a missing colour — an error — is worst).
    pub fn worse(&self) -> bool {
        colour_rank(self.new.as_deref()) > colour_rank(self.base.as_deref())
    }
}

fn colour_rank(c: Option<&str>) -> u8 {
    c.and_then(colour_from_name).map_or(u8::MAX, |c| c as u8)
}

/// Euro NCAP points of one pack in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsChange {
    pub pack: String,
    pub version: String,
    /// Per scenario (rule): name, BASE total, NEW total (`None` when that run has no cell).
    pub scenarios: Vec<(String, Option<f64>, Option<f64>)>,
    pub base_total: Option<f64>,
    pub new_total: Option<f64>,
    /// Gates whose state changed: rule, closed in BASE, closed in NEW.
    pub gates: Vec<(String, bool, bool)>,
    pub base_zeroed: Vec<String>,
    pub new_zeroed: Vec<String>,
}

/// The comparison of two reports.
#[derive(Debug, Clone)]
pub struct Diff {
    pub base_name: String,
    pub new_name: String,
    pub base_sut: String,
    pub new_sut: String,
    pub seed: u64,
    pub alpha: f64,
    /// Things a reader should know that do not prevent the comparison.
    pub warnings: Vec<String>,
    pub base_summary: Summary,
    pub new_summary: Summary,
    /// Sorted by kind, then case ID.
    pub changes: Vec<VerdictChange>,
    pub new_collisions: Vec<NewCollision>,
    /// Per pack (the harness default last), then `all cases` when there are several groups.
    pub groups: Vec<GroupTest>,
    /// Metrics that changed, by name.
    pub metrics: Vec<MetricChange>,
    pub colours: Vec<ColourChange>,
    pub points: Vec<PointsChange>,
}

impl Diff {
    /// α / m: the level each group's p-value is compared with.
    pub fn level_per_group(&self) -> f64 {
        self.alpha / self.groups.len().max(1) as f64
    }

    /// Whether NEW is a regression: a significant drop in pass rate, or a new collision.
    pub fn regression(&self) -> bool {
        !self.new_collisions.is_empty() || self.groups.iter().any(|g| g.significant)
    }
}

/// Checks that the reports can be compared; returns what a reader should know besides.
pub fn check_comparable(base: &Side<'_>, new: &Side<'_>) -> Result<Vec<String>, Incomparable> {
    let (a, b) = (base.report, new.report);
    let refuse = |why: String| {
        Err(Incomparable(format!(
            "cannot compare {} with {}: {why}",
            base.name, new.name
        )))
    };
    let mut warnings = Vec::new();
    if a.seed != b.seed {
        return refuse(format!(
            "BASE was run with seed {}, NEW with seed {}; run both with the same --seed",
            a.seed, b.seed
        ));
    }
    if !a.suite_hash.is_empty() && !b.suite_hash.is_empty() {
        if a.suite_hash != b.suite_hash {
            return refuse(format!(
                "they ran different suites (suite hash {} and {}): the scenario files, the cases or the threshold packs differ",
                a.suite_hash, b.suite_hash
            ));
        }
    } else {
        warnings.push(
            "a report has no suite hash (written before `gauntlet diff` existed): only the case IDs, parameters and threshold packs were checked, not the bytes of the scenario files".to_string(),
        );
        if a.sut == b.sut
            && !a.inputs_hash.is_empty()
            && !b.inputs_hash.is_empty()
            && a.inputs_hash != b.inputs_hash
        {
            return refuse(format!(
                "the same system under test with different inputs (inputs hash {} and {}): the scenario files, the cases or the threshold packs differ",
                a.inputs_hash, b.inputs_hash
            ));
        }
    }
    let packs = |r: &ReportFile| -> BTreeSet<(String, String)> {
        r.packs
            .iter()
            .map(|p| (p.id.clone(), p.version.clone()))
            .collect()
    };
    let (pa, pb) = (packs(a), packs(b));
    if pa != pb {
        let show = |s: &BTreeSet<(String, String)>| {
            s.iter()
                .map(|(id, v)| format!("{id} v{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return refuse(format!(
            "they were judged by different threshold packs (BASE: {}; NEW: {}); judge both by the same packs first (`gauntlet judge DIR`, with --thresholds if need be)",
            show(&pa),
            show(&pb)
        ));
    }
    let ids =
        |r: &ReportFile| -> BTreeSet<String> { r.cases.iter().map(|c| c.id.clone()).collect() };
    let (ia, ib) = (ids(a), ids(b));
    if ia != ib {
        let list = |v: Vec<&String>| {
            let mut s: Vec<String> = v.iter().take(5).map(|x| x.to_string()).collect();
            if v.len() > 5 {
                s.push(format!("… and {} more", v.len() - 5));
            }
            s.join(", ")
        };
        let only_a: Vec<&String> = ia.difference(&ib).collect();
        let only_b: Vec<&String> = ib.difference(&ia).collect();
        let mut parts = Vec::new();
        if !only_a.is_empty() {
            parts.push(format!(
                "{} case(s) only in BASE ({})",
                only_a.len(),
                list(only_a)
            ));
        }
        if !only_b.is_empty() {
            parts.push(format!(
                "{} case(s) only in NEW ({})",
                only_b.len(),
                list(only_b)
            ));
        }
        return refuse(format!(
            "they hold different cases: {}; diff compares runs of the same cases (same scenario files, --filter and --shard)",
            parts.join("; ")
        ));
    }
    let by_id: BTreeMap<&str, &CaseEntry> = b.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    for ca in &a.cases {
        let Some(cb) = by_id.get(ca.id.as_str()) else {
            continue;
        };
        let field = if ca.scenario != cb.scenario {
            Some("scenario file")
        } else if ca.params != cb.params {
            Some("parameters")
        } else if ca.facts.judge != cb.facts.judge {
            Some("[judge] rule")
        } else if ca.facts.ego_speed_kph != cb.facts.ego_speed_kph
            || ca.facts.vehicle_category != cb.facts.vehicle_category
            || ca.facts.runs_required != cb.facts.runs_required
        {
            Some("test conditions (ego speed, vehicle category or runs required)")
        } else {
            None
        };
        if let Some(field) = field {
            return refuse(format!(
                "case {} has other {field} in BASE and NEW: not the same test",
                ca.id
            ));
        }
    }
    if a.harness_version != b.harness_version {
        warnings.push(format!(
            "the runs used different harness versions (BASE {}, NEW {}): a change may come from the harness, not the system",
            a.harness_version, b.harness_version
        ));
    }
    Ok(warnings)
}

/// Verdicts of `cases` counted (anything but `pass` and `fail` is an error).
fn summarize(cases: &[CaseEntry]) -> Summary {
    let mut s = Summary::default();
    for c in cases {
        tally::count(&mut s, &c.verdict);
    }
    s
}

/// Compares two reports that [`check_comparable`] accepts.
pub fn diff(base: &Side<'_>, new: &Side<'_>, config: &DiffConfig) -> Result<Diff, Incomparable> {
    let warnings = check_comparable(base, new)?;
    let (a, b) = (base.report, new.report);
    let new_by_id: BTreeMap<&str, &CaseEntry> =
        b.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let pairs: Vec<(&CaseEntry, &CaseEntry)> = a
        .cases
        .iter()
        .filter_map(|ca| new_by_id.get(ca.id.as_str()).map(|cb| (ca, *cb)))
        .collect();

    let mut changes: Vec<VerdictChange> = pairs
        .iter()
        .filter_map(|(ca, cb)| {
            ChangeKind::of(&ca.verdict, &cb.verdict).map(|kind| VerdictChange {
                id: ca.id.clone(),
                kind,
                base: ca.verdict.clone(),
                new: cb.verdict.clone(),
                reasons: cb.reasons.clone(),
            })
        })
        .collect();
    changes.sort_by(|x, y| (x.kind, &x.id).cmp(&(y.kind, &y.id)));

    let new_collisions = pairs
        .iter()
        .filter(|(ca, cb)| !collided(ca) && collided(cb))
        .map(|(_, cb)| NewCollision {
            id: cb.id.clone(),
            verdict: cb.verdict.clone(),
            reasons: cb.reasons.clone(),
        })
        .collect();

    let groups = group_tests(&pairs, config.alpha);
    let colours = pairs
        .iter()
        .filter(|(ca, cb)| ca.colour != cb.colour)
        .map(|(ca, cb)| ColourChange {
            id: ca.id.clone(),
            base: ca.colour.clone(),
            new: cb.colour.clone(),
        })
        .collect();
    Ok(Diff {
        base_name: base.name.to_string(),
        new_name: new.name.to_string(),
        base_sut: a.sut.clone(),
        new_sut: b.sut.clone(),
        seed: a.seed,
        alpha: config.alpha,
        warnings,
        base_summary: summarize(&a.cases),
        new_summary: summarize(&b.cases),
        changes,
        new_collisions,
        groups,
        metrics: metric_changes(&pairs),
        colours,
        points: points_changes(&a.aggregates.euro_ncap, &b.aggregates.euro_ncap),
    })
}

/// Whether any run of the case collided.
fn collided(c: &CaseEntry) -> bool {
    c.runs
        .iter()
        .any(|r| r.sim.collision_actor.is_some() || metrics_from_json(&r.metrics).collision())
}

/// One-sided p-value of McNemar's exact test for a regression: P(X ≥ lost) for
/// X ~ Binomial(lost + gained, 1/2) (statrs: the survival function P(X > lost − 1)).
pub fn mcnemar_p_regression(lost: usize, gained: usize) -> f64 {
    let n = (lost + gained) as u64;
    if lost == 0 || n == 0 {
        return 1.0;
    }
    match Binomial::new(0.5, n) {
        Ok(dist) => dist.sf(lost as u64 - 1).clamp(0.0, 1.0),
        // Unreachable: p = 0.5 is always a valid probability.
        Err(_) => 1.0,
    }
}

/// The group of a case: its judging pack and version, else the harness default.
fn group_label(c: &CaseEntry) -> (u8, String) {
    match &c.judged_by {
        Some(j) => (0, format!("{} v{}", j.pack, j.version)),
        None => (1, "harness default (no collision)".to_string()),
    }
}

fn group_tests(pairs: &[(&CaseEntry, &CaseEntry)], alpha: f64) -> Vec<GroupTest> {
    let mut by_group: BTreeMap<(u8, String), Vec<(&CaseEntry, &CaseEntry)>> = BTreeMap::new();
    for &(ca, cb) in pairs {
        by_group.entry(group_label(ca)).or_default().push((ca, cb));
    }
    let several = by_group.len() > 1;
    let mut groups: Vec<(String, Vec<(&CaseEntry, &CaseEntry)>)> = by_group
        .into_iter()
        .map(|((_, label), v)| (label, v))
        .collect();
    if several {
        groups.push(("all cases".to_string(), pairs.to_vec()));
    }
    let level = alpha / groups.len().max(1) as f64;
    groups
        .into_iter()
        .map(|(label, v)| {
            let pass = |c: &CaseEntry| c.verdict == "pass";
            let lost = v.iter().filter(|(a, b)| pass(a) && !pass(b)).count();
            let gained = v.iter().filter(|(a, b)| !pass(a) && pass(b)).count();
            let p_value = mcnemar_p_regression(lost, gained);
            GroupTest {
                label,
                cases: v.len(),
                base_pass: v.iter().filter(|(a, _)| pass(a)).count(),
                new_pass: v.iter().filter(|(_, b)| pass(b)).count(),
                lost,
                gained,
                p_value,
                significant: p_value < level,
            }
        })
        .collect()
}

fn metric_changes(pairs: &[(&CaseEntry, &CaseEntry)]) -> Vec<MetricChange> {
    let mut out: BTreeMap<String, MetricChange> = BTreeMap::new();
    // Per metric: the cases where it is defined in both runs.
    let mut both: BTreeMap<String, usize> = BTreeMap::new();
    for (ca, cb) in pairs {
        let (ma, mb) = (
            metrics_from_json(&ca.metrics),
            metrics_from_json(&cb.metrics),
        );
        let names: BTreeSet<&String> = ma.0.keys().chain(mb.0.keys()).collect();
        for name in names {
            // The collision itself has its own section.
            if name == "collision" {
                continue;
            }
            // As judged: an impact speed without a collision is 0 km/h.
            let (va, vb) = (ma.metric(name), mb.metric(name));
            let entry = out.entry(name.clone()).or_insert_with(|| MetricChange {
                metric: name.clone(),
                changed: 0,
                moved: 0,
                mean_change: None,
                largest: None,
                became_defined: 0,
                became_undefined: 0,
            });
            match (va, vb) {
                (Some(x), Some(y)) => {
                    *both.entry(name.clone()).or_default() += 1;
                    let d = y - x;
                    entry.mean_change = Some(entry.mean_change.unwrap_or(0.0) + d);
                    if d.abs() > SAME_EPS {
                        entry.changed += 1;
                        entry.moved += 1;
                        let bigger = entry
                            .largest
                            .as_ref()
                            .is_none_or(|(_, bx, by)| d.abs() > (by - bx).abs());
                        if bigger {
                            entry.largest = Some((ca.id.clone(), x, y));
                        }
                    }
                }
                (None, Some(_)) => {
                    entry.changed += 1;
                    entry.became_defined += 1;
                }
                (Some(_), None) => {
                    entry.changed += 1;
                    entry.became_undefined += 1;
                }
                (None, None) => {}
            }
        }
    }
    // Mean over the cases where the metric is defined in both runs.
    for (name, entry) in &mut out {
        let n = both.get(name).copied().unwrap_or(0).max(1);
        entry.mean_change = entry.mean_change.map(|sum| sum / n as f64);
    }
    out.into_values().filter(|m| m.changed > 0).collect()
}

fn points_changes(base: &[PointsEntry], new: &[PointsEntry]) -> Vec<PointsChange> {
    let keys: BTreeSet<(&str, &str)> = base
        .iter()
        .chain(new)
        .map(|p| (p.pack.as_str(), p.version.as_str()))
        .collect();
    keys.into_iter()
        .map(|(pack, version)| {
            let find = |v: &'_ [PointsEntry]| -> Option<PointsEntry> {
                v.iter()
                    .find(|p| p.pack == pack && p.version == version)
                    .cloned()
            };
            let (pa, pb) = (find(base), find(new));
            let mut names: Vec<String> = Vec::new();
            for p in pa.iter().chain(&pb) {
                for s in &p.scenarios {
                    if !names.contains(&s.scenario) {
                        names.push(s.scenario.clone());
                    }
                }
            }
            let total_of = |p: &Option<PointsEntry>, name: &str| {
                p.as_ref().and_then(|p| {
                    p.scenarios
                        .iter()
                        .find(|s| s.scenario == name)
                        .map(|s| s.total)
                })
            };
            let scenarios = names
                .iter()
                .map(|n| (n.clone(), total_of(&pa, n), total_of(&pb, n)))
                .collect();
            let closed = |p: &Option<PointsEntry>, rule: &str| {
                p.as_ref()
                    .is_some_and(|p| p.gates.iter().any(|g| g.rule == rule && g.closed))
            };
            let mut gate_rules: BTreeSet<String> = BTreeSet::new();
            for p in pa.iter().chain(&pb) {
                gate_rules.extend(p.gates.iter().map(|g| g.rule.clone()));
            }
            let gates = gate_rules
                .into_iter()
                .filter(|r| closed(&pa, r) != closed(&pb, r))
                .map(|r| {
                    let (x, y) = (closed(&pa, &r), closed(&pb, &r));
                    (r, x, y)
                })
                .collect();
            PointsChange {
                pack: pack.to_string(),
                version: version.to_string(),
                scenarios,
                base_total: pa.as_ref().map(|p| p.total),
                new_total: pb.as_ref().map(|p| p.total),
                gates,
                base_zeroed: pa.map(|p| p.zeroed).unwrap_or_default(),
                new_zeroed: pb.map(|p| p.zeroed).unwrap_or_default(),
            }
        })
        .collect()
}

/// A number as reports print it: at most 6 decimals, trailing zeros dropped.
fn num(x: f64) -> String {
    crate::eval::rules::num_decimals(x, 6)
}

/// A signed change: `+1.5`, `−2`, `0`.
fn signed(x: f64) -> String {
    if x.abs() <= SAME_EPS {
        "0".to_string()
    } else if x > 0.0 {
        format!("+{}", num(x))
    } else {
        format!("−{}", num(-x))
    }
}

/// A metric value in the change table: up to 3 decimals.
fn num3(x: f64) -> String {
    crate::eval::rules::num_decimals(x, 3)
}

/// A signed metric change: up to 3 decimals, `0` when it rounds to nothing.
fn signed3(x: f64) -> String {
    if x.abs() < 5e-4 {
        "0".to_string()
    } else if x > 0.0 {
        format!("+{}", num3(x))
    } else {
        format!("−{}", num3(-x))
    }
}

/// A p-value with 3 significant digits.
fn p_text(p: f64) -> String {
    if p >= 0.9995 {
        "1".to_string()
    } else if p >= 1e-3 {
        crate::eval::rules::num_decimals(p, 4)
    } else {
        format!("{p:.2e}")
    }
}

fn percent(k: usize, n: usize) -> String {
    if n == 0 {
        "–".to_string()
    } else {
        format!("{:.1} %", 100.0 * k as f64 / n as f64)
    }
}

/// The comparison as Markdown, fit for a pull-request comment; `gauntlet diff` prints the same.
pub fn markdown(d: &Diff) -> String {
    let mut md = String::new();
    let verdict = if d.regression() {
        "❌ regression"
    } else {
        "✅ no significant regression"
    };
    let suts = if d.base_sut == d.new_sut {
        code(&d.new_sut)
    } else {
        format!("{} → {}", code(&d.base_sut), code(&d.new_sut))
    };
    // Writing to a String cannot fail.
    let _ = writeln!(md, "## Gauntlet diff: {suts}, seed {}: {verdict}\n", d.seed);
    let _ = writeln!(
        md,
        "BASE {} · NEW {} · {} paired cases\n",
        code(&d.base_name),
        code(&d.new_name),
        d.base_summary.cases
    );
    for w in &d.warnings {
        let _ = writeln!(md, "> ⚠️ {}\n", text(w));
    }
    md.push_str("| | cases | pass | fail | error |\n|---|---:|---:|---:|---:|\n");
    for (name, s) in [("BASE", &d.base_summary), ("NEW", &d.new_summary)] {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} |",
            s.cases, s.pass, s.fail, s.error
        );
    }

    let level = d.level_per_group();
    let _ = writeln!(
        md,
        "\n### Pass rate per threshold pack\n\nMcNemar's exact test on the paired cases: p is the one-sided probability of at least this many pass → not-pass flips among the discordant pairs if NEW were no worse than BASE. Significant: p < {} ({}, one-sided).\n",
        p_text(level),
        if d.groups.len() > 1 {
            format!(
                "α = {} over {} groups, Bonferroni",
                num(d.alpha),
                d.groups.len()
            )
        } else {
            format!("α = {}", num(d.alpha))
        }
    );
    md.push_str("| group | cases | BASE pass | NEW pass | change | pass → not | not → pass | p | significant |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for g in &d.groups {
        let change = if g.cases == 0 {
            "–".to_string()
        } else {
            let pp = 100.0 * (g.new_pass as f64 - g.base_pass as f64) / g.cases as f64;
            format!("{} pp", signed((pp * 10.0).round() / 10.0))
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} ({}) | {} ({}) | {change} | {} | {} | {} | {} |",
            text(&g.label),
            g.cases,
            g.base_pass,
            percent(g.base_pass, g.cases),
            g.new_pass,
            percent(g.new_pass, g.cases),
            g.lost,
            g.gained,
            p_text(g.p_value),
            if g.significant { "❌ yes" } else { "no" }
        );
    }

    if !d.new_collisions.is_empty() {
        let _ = writeln!(
            md,
            "\n### New collisions ({}): a collision where BASE had none\n",
            d.new_collisions.len()
        );
        for c in d.new_collisions.iter().take(MAX_LISTED) {
            let _ = writeln!(
                md,
                "- {} ({}): {}",
                code(&c.id),
                c.verdict,
                text(&c.reasons.join("; "))
            );
        }
        more(&mut md, d.new_collisions.len());
    }

    let _ = writeln!(md, "\n### Verdict changes ({})", d.changes.len());
    if d.changes.is_empty() {
        md.push_str("\nNo case changed its verdict.\n");
    }
    for kind in [
        ChangeKind::NewlyFailing,
        ChangeKind::NewError,
        ChangeKind::ErrorNowFails,
        ChangeKind::NewlyPassing,
    ] {
        let of_kind: Vec<&VerdictChange> = d.changes.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = writeln!(md, "\n#### {} ({})\n", kind.title(), of_kind.len());
        for c in of_kind.iter().take(MAX_LISTED) {
            let reasons = if c.reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", text(&c.reasons.join("; ")))
            };
            let _ = writeln!(md, "- {} {} → **{}**{reasons}", code(&c.id), c.base, c.new);
        }
        more(&mut md, of_kind.len());
    }

    for p in &d.points {
        let _ = writeln!(
            md,
            "\n### {} v{}: Euro NCAP points\n\n| scenario | BASE | NEW | change |\n|---|---:|---:|---:|",
            p.pack, p.version
        );
        let opt = |x: Option<f64>| x.map_or("–".to_string(), num);
        let delta = |x: Option<f64>, y: Option<f64>| signed(y.unwrap_or(0.0) - x.unwrap_or(0.0));
        for (name, x, y) in &p.scenarios {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                text(name),
                opt(*x),
                opt(*y),
                delta(*x, *y)
            );
        }
        let _ = writeln!(
            md,
            "| **total before gates** | **{}** | **{}** | **{}** |",
            opt(p.base_total),
            opt(p.new_total),
            delta(p.base_total, p.new_total)
        );
        for (rule, x, y) in &p.gates {
            let state = |c: bool| if c { "closed" } else { "open" };
            let _ = writeln!(
                md,
                "\n- gate on {}: {} → **{}**",
                code(rule),
                state(*x),
                state(*y)
            );
        }
        if p.base_zeroed != p.new_zeroed {
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    text(&v.join(", "))
                }
            };
            let _ = writeln!(
                md,
                "- scores set to 0: {} → **{}**",
                list(&p.base_zeroed),
                list(&p.new_zeroed)
            );
        }
    }
    if !d.colours.is_empty() {
        let worse = d.colours.iter().filter(|c| c.worse()).count();
        let _ = writeln!(
            md,
            "\n### Colour changes ({}: {worse} worse, {} better)\n",
            d.colours.len(),
            d.colours.len() - worse
        );
        for c in d.colours.iter().take(MAX_LISTED) {
            let name = |x: &Option<String>| x.clone().unwrap_or_else(|| "no colour".into());
            let _ = writeln!(
                md,
                "- {} {} {} → {} {}",
                code(&c.id),
                colour_square(c.base.as_deref()),
                name(&c.base),
                colour_square(c.new.as_deref()),
                name(&c.new)
            );
        }
        more(&mut md, d.colours.len());
    }

    let _ = writeln!(md, "\n### Metric changes ({} metrics)\n", d.metrics.len());
    if d.metrics.is_empty() {
        md.push_str("No metric changed.\n");
    } else {
        md.push_str("First run of each case; an impact speed without a collision counts as 0 km/h, as it is judged. Mean change over the cases where the metric is defined in both runs.\n\n| metric | cases changed | mean change | largest change | defined → undefined | undefined → defined |\n|---|---:|---:|---|---:|---:|\n");
        for m in &d.metrics {
            let largest = m.largest.as_ref().map_or("–".to_string(), |(id, x, y)| {
                format!(
                    "{} in {} ({} → {})",
                    signed3(y - x),
                    code(id),
                    num3(*x),
                    num3(*y)
                )
            });
            let _ = writeln!(
                md,
                "| {} | {} | {} | {largest} | {} | {} |",
                code(&m.metric),
                m.changed,
                m.mean_change.map_or("–".to_string(), signed3),
                m.became_undefined,
                m.became_defined
            );
        }
    }
    md
}

fn more(md: &mut String, n: usize) {
    if n > MAX_LISTED {
        let _ = writeln!(md, "- … and {} more, see the reports", n - MAX_LISTED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_exact_values() {
        // P(X ≥ 5 | n = 5) = 1/32.
        assert!((mcnemar_p_regression(5, 0) - 1.0 / 32.0).abs() < 1e-12);
        // P(X ≥ 3 | n = 4) = 5/16.
        assert!((mcnemar_p_regression(3, 1) - 5.0 / 16.0).abs() < 1e-12);
        // P(X ≥ 1 | n = 2) = 3/4.
        assert!((mcnemar_p_regression(1, 1) - 0.75).abs() < 1e-12);
        assert_eq!(mcnemar_p_regression(0, 7), 1.0);
        assert_eq!(mcnemar_p_regression(0, 0), 1.0);
        // P(X ≥ 10 | n = 12) = (1 + 12 + 66) / 4096.
        assert!((mcnemar_p_regression(10, 2) - 79.0 / 4096.0).abs() < 1e-12);
    }

    #[test]
    fn change_kinds() {
        assert_eq!(ChangeKind::of("pass", "pass"), None);
        assert_eq!(
            ChangeKind::of("pass", "fail"),
            Some(ChangeKind::NewlyFailing)
        );
        assert_eq!(ChangeKind::of("fail", "error"), Some(ChangeKind::NewError));
        assert_eq!(
            ChangeKind::of("error", "pass"),
            Some(ChangeKind::NewlyPassing)
        );
        assert_eq!(
            ChangeKind::of("error", "fail"),
            Some(ChangeKind::ErrorNowFails)
        );
    }

    #[test]
    fn signed_numbers() {
        assert_eq!(signed(1.5), "+1.5");
        assert_eq!(signed(-2.0), "−2");
        assert_eq!(signed(1e-9), "0");
    }
}
