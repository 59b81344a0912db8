//! Judging cases: every run's metrics by the threshold-pack rule its scenario names, explained;
//! runs and retries into a case verdict. Used by `gauntlet run` as runs finish and by
//! `gauntlet judge` on the metrics a finished run saved, so both give the same verdicts.
//!
//! Which rule judges a case ([`Packs::resolve`]): with `--thresholds PACK.toml`, the rule of
//! that pack with the id the scenario's `[judge] rule` names (a committee's draft uses the same
//! rule ids with other values); otherwise the scenario's `[judge] pack` among the packs found in
//! the inputs, then among the packs built into the harness (`scenarios/thresholds/`). A
//! scenario without `[judge]` is judged by the harness default: any collision fails.
//!
//! Metrics are judged as the report prints them (rounded to 1e-6, [`MetricMap`]), so that
//! re-judging a saved report reproduces every verdict. A run without a collision has no impact
//! speed (`null` in reports); rules on an impact speed judge it as 0 km/h, as Euro NCAP's test
//! data records an avoided impact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::eval::metrics::{METRIC_ALIASES, METRIC_NAMES, Metrics};
use crate::eval::rules::{self, JudgeContext, MetricSource, RuleOutcome};
use crate::run::Verdict;
use crate::scenario::model::JudgeRef;
use crate::thresholds::{self, Check, Colour, Pack, Rule};

/// The threshold packs built into the harness: `(file, text)`.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    (
        "scenarios/thresholds/cn-cdas-draft-2025.toml",
        include_str!("../../scenarios/thresholds/cn-cdas-draft-2025.toml"),
    ),
    (
        "scenarios/thresholds/euro-ncap-2026.toml",
        include_str!("../../scenarios/thresholds/euro-ncap-2026.toml"),
    ),
    (
        "scenarios/thresholds/lane-level-positioning.toml",
        include_str!("../../scenarios/thresholds/lane-level-positioning.toml"),
    ),
    (
        "scenarios/thresholds/un-r152-m1.toml",
        include_str!("../../scenarios/thresholds/un-r152-m1.toml"),
    ),
    (
        "scenarios/thresholds/un-r157.toml",
        include_str!("../../scenarios/thresholds/un-r157.toml"),
    ),
];

/// Metrics that are an impact speed: 0 km/h when there was no collision.
const IMPACT_SPEEDS: &[&str] = &["relative_impact_speed_kph", "impact_speed_kph"];

/// Where a pack came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackOrigin {
    /// Built into the harness (a copy of this file of the repository).
    Builtin(&'static str),
    /// A file among the inputs.
    Input(PathBuf),
    /// `--thresholds FILE`.
    Override(PathBuf),
}

impl PackOrigin {
    /// As reports show it: `builtin:scenarios/thresholds/x.toml` or the file's path.
    pub fn display(&self) -> String {
        match self {
            PackOrigin::Builtin(f) => format!("builtin:{f}"),
            PackOrigin::Input(p) | PackOrigin::Override(p) => crate::report::display_path(p),
        }
    }
}

/// The threshold packs a run judges by.
#[derive(Debug, Clone, Default)]
pub struct Packs {
    /// By id; inputs replace built-in packs of the same id.
    by_id: BTreeMap<String, (Pack, PackOrigin)>,
    /// `--thresholds`: judges every case that names a rule.
    override_pack: Option<(Pack, PackOrigin)>,
}

/// How one case is judged.
#[derive(Debug, Clone, Copy)]
pub enum Judging<'a> {
    /// No `[judge]`: the harness default, any collision fails.
    Default,
    Rule {
        pack: &'a Pack,
        rule: &'a Rule,
    },
    /// The rule cannot be found: the case is an `error`.
    Unresolved,
}

impl Packs {
    /// The packs built into the harness.
    pub fn builtin() -> Result<Packs, Vec<Diagnostic>> {
        let mut packs = Packs::default();
        for (file, text) in BUILTIN_PACKS {
            let pack = thresholds::load_pack_bytes(Path::new(file), text.as_bytes())?;
            packs
                .by_id
                .insert(pack.id.clone(), (pack, PackOrigin::Builtin(file)));
        }
        Ok(packs)
    }

    /// Adds a pack found among the inputs (it replaces a built-in pack of the same id).
    pub fn add_input(&mut self, file: &Path, pack: Pack) {
        self.by_id.insert(
            pack.id.clone(),
            (pack, PackOrigin::Input(file.to_path_buf())),
        );
    }

    /// Judges by this pack instead (`--thresholds`).
    pub fn set_override(&mut self, file: &Path, pack: Pack) {
        self.override_pack = Some((pack, PackOrigin::Override(file.to_path_buf())));
    }

    /// Every pack, override first, then by id.
    pub fn all(&self) -> impl Iterator<Item = (&Pack, &PackOrigin)> {
        self.override_pack
            .iter()
            .chain(self.by_id.values())
            .map(|(p, o)| (p, o))
    }

    /// The rule that judges a case naming `judge`, and why it cannot be found.
    pub fn resolve(&self, judge: Option<&JudgeRef>) -> (Judging<'_>, Option<String>) {
        let Some(j) = judge else {
            return (Judging::Default, None);
        };
        if let Some((pack, origin)) = &self.override_pack {
            return match pack.rule(&j.rule) {
                Some(rule) => (Judging::Rule { pack, rule }, None),
                None => (
                    Judging::Unresolved,
                    Some(format!(
                        "threshold pack `{}` ({}) given with --thresholds has no rule `{}`, which the scenario names",
                        pack.id,
                        origin.display(),
                        j.rule
                    )),
                ),
            };
        }
        match self.by_id.get(&j.pack) {
            Some((pack, origin)) => match pack.rule(&j.rule) {
                Some(rule) => (Judging::Rule { pack, rule }, None),
                None => (
                    Judging::Unresolved,
                    Some(format!(
                        "threshold pack `{}` ({}) has no rule `{}`",
                        pack.id,
                        origin.display(),
                        j.rule
                    )),
                ),
            },
            None => (
                Judging::Unresolved,
                Some(format!(
                    "threshold pack `{}` is neither among the inputs nor built in",
                    j.pack
                )),
            ),
        }
    }
}

/// The reference driver models a rule needs results of (`no_collision` with
/// `unless_unavoidable_for`, directly or as a member of `all_of`).
pub fn reference_models(pack: &Pack, rule: &Rule) -> Vec<String> {
    let mut out = Vec::new();
    let mut visit = |r: &Rule| {
        if let Check::NoCollision {
            unless_unavoidable_for: Some(m),
        } = &r.check
        {
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
    };
    visit(rule);
    if let Check::AllOf(members) = &rule.check {
        for id in members {
            if let Some(r) = pack.rule(id) {
                visit(r);
            }
        }
    }
    out
}

/// Rounds to 1e-6, as reports print numbers (and `-0` to `0`).
pub fn r6(x: f64) -> f64 {
    let r = (x * 1e6).round() / 1e6;
    if r == 0.0 { 0.0 } else { r }
}

/// The metrics of one run by name, as reports print them: rounded to 1e-6; `None` where a
/// metric does not apply to the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricMap(pub BTreeMap<String, Option<f64>>);

impl MetricMap {
    /// Every metric of `metrics`, rounded.
    pub fn from_metrics(metrics: &Metrics) -> MetricMap {
        MetricMap(
            METRIC_NAMES
                .iter()
                .map(|&name| (name.to_string(), metrics.value(name).map(r6)))
                .collect(),
        )
    }

    /// Whether the run collided.
    pub fn collision(&self) -> bool {
        self.0.get("collision").copied().flatten().unwrap_or(0.0) > 0.0
    }

    fn canonical(name: &str) -> &str {
        METRIC_ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, metric)| metric)
    }
}

impl MetricSource for MetricMap {
    fn metric(&self, name: &str) -> Option<f64> {
        let name = Self::canonical(name);
        if IMPACT_SPEEDS.contains(&name) && !self.collision() {
            return Some(0.0);
        }
        self.0.get(name).copied().flatten()
    }

    fn has_metric(&self, name: &str) -> bool {
        self.0.contains_key(Self::canonical(name))
    }
}

/// What a run's judgement needs besides its metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFacts {
    pub run_index: u32,
    /// The system under test's error, when it misbehaved (panic, NaN, time-out).
    pub sut_error: Option<String>,
    pub end_time_s: f64,
    pub collision_actor: Option<String>,
    pub collision_time_s: Option<f64>,
}

/// What a case's judgement needs besides its runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseFacts {
    /// Nominal ego (VUT) speed, km/h (rounded to 1e-6).
    pub ego_speed_kph: f64,
    /// The ego's vehicle category (`M1`, …).
    pub vehicle_category: Option<String>,
    /// Runs that must pass.
    pub runs_required: u32,
    /// Per reference driver model: whether it collided in this case.
    pub reference_collided: BTreeMap<String, bool>,
}

/// One run, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct RunJudgement {
    pub verdict: Verdict,
    /// The colour of a banded rule (Euro NCAP).
    pub colour: Option<Colour>,
    pub reasons: Vec<String>,
}

/// Judges one run. Never panics: anything that prevents judging is an `error` with a reason.
pub fn judge_run(
    judging: Judging<'_>,
    unresolved: Option<&str>,
    facts: &RunFacts,
    metrics: &MetricMap,
    case: &CaseFacts,
) -> RunJudgement {
    if let Some(err) = &facts.sut_error {
        return RunJudgement {
            verdict: Verdict::Error,
            colour: None,
            reasons: vec![format!(
                "system under test error at {} s: {err}",
                rules::num_decimals(facts.end_time_s, 2)
            )],
        };
    }
    let collision_note = || {
        facts.collision_actor.as_ref().map(|actor| {
            let rel = metrics
                .0
                .get("relative_impact_speed_kph")
                .copied()
                .flatten();
            let ego = metrics.0.get("impact_speed_kph").copied().flatten();
            format!(
                "collision with `{actor}` at {} s: relative impact speed {} km/h (ego {} km/h)",
                rules::num_decimals(facts.collision_time_s.unwrap_or(facts.end_time_s), 2),
                rel.map_or("?".into(), |v| rules::num_decimals(v, 1)),
                ego.map_or("?".into(), |v| rules::num_decimals(v, 1)),
            )
        })
    };
    match judging {
        Judging::Unresolved => RunJudgement {
            verdict: Verdict::Error,
            colour: None,
            reasons: vec![format!(
                "cannot judge: {}",
                unresolved.unwrap_or("no threshold rule")
            )],
        },
        Judging::Default => match collision_note() {
            Some(note) => RunJudgement {
                verdict: Verdict::Fail,
                colour: None,
                reasons: vec![format!("{note} (harness default: no collision)")],
            },
            None => RunJudgement {
                verdict: Verdict::Pass,
                colour: None,
                reasons: vec!["no collision (harness default)".into()],
            },
        },
        Judging::Rule { pack, rule } => {
            let ctx = JudgeContext {
                ego_speed_kph: case.ego_speed_kph,
                vehicle_category: case.vehicle_category.clone(),
                predicted_colour: None,
                reference_collided: case.reference_collided.clone(),
            };
            let outcome: RuleOutcome = rules::judge(pack, rule, metrics, &ctx);
            let mut reasons = Vec::new();
            let on_impact = impact_metric_used(pack, rule);
            if !metrics.collision() && on_impact {
                reasons.push("no collision: the impact speed is judged as 0 km/h".to_string());
            }
            // A collision is always told, also when the rule lets it pass (Euro NCAP yellow).
            let mut told: Vec<String> = collision_note().into_iter().collect();
            told.extend(outcome.reasons.iter().cloned());
            let verdict = match outcome.verdict {
                rules::Verdict::Pass => Verdict::Pass,
                rules::Verdict::Fail => Verdict::Fail,
                rules::Verdict::Error => Verdict::Error,
                rules::Verdict::NotApplicable => {
                    const NOT_FAILED: &str = "not applicable, so not failed:";
                    match told.first_mut() {
                        Some(first) => *first = format!("{NOT_FAILED} {first}"),
                        None => told.push(NOT_FAILED.to_string()),
                    }
                    Verdict::Pass
                }
            };
            reasons.extend(told);
            RunJudgement {
                verdict,
                colour: outcome
                    .colour
                    .or_else(|| outcome.members.iter().find_map(|m| m.colour)),
                reasons,
            }
        }
    }
}

/// Whether the rule (or a member of it) judges an impact speed.
fn impact_metric_used(pack: &Pack, rule: &Rule) -> bool {
    let uses = |r: &Rule| IMPACT_SPEEDS.contains(&r.applies_to.as_str());
    uses(rule)
        || matches!(&rule.check, Check::AllOf(members)
            if members.iter().filter_map(|id| pack.rule(id)).any(uses))
}

/// A case's verdict from its judged runs, in execution order: `error` if a run errored, `pass`
/// when at least `runs_required` runs passed, else `fail`. Reasons: those of the runs that did
/// not pass (prefixed `run N:` when there are several runs); for a passing case, the first
/// run's reasons.
pub fn case_verdict(
    runs: &[(u32, &RunJudgement)],
    runs_required: u32,
) -> (Verdict, Option<Colour>, Vec<String>) {
    let needed = runs_required as usize;
    let passes = runs
        .iter()
        .filter(|(_, r)| r.verdict == Verdict::Pass)
        .count();
    let verdict = if runs.iter().any(|(_, r)| r.verdict == Verdict::Error) {
        Verdict::Error
    } else if passes >= needed {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let several = runs.len() > 1;
    let prefix = |i: u32, s: &str| {
        if several {
            format!("run {}: {s}", i + 1)
        } else {
            s.to_string()
        }
    };
    let mut reasons: Vec<String> = runs
        .iter()
        .filter(|(_, r)| r.verdict != Verdict::Pass)
        .flat_map(|(i, r)| r.reasons.iter().map(move |s| prefix(*i, s)))
        .collect();
    if verdict == Verdict::Pass {
        if reasons.is_empty() {
            if let Some((i, r)) = runs.first() {
                reasons = r.reasons.iter().map(|s| prefix(*i, s)).collect();
            }
        } else {
            reasons.insert(
                0,
                format!("passed {passes} of {} runs ({needed} required)", runs.len()),
            );
        }
    } else if runs.len() < needed {
        reasons.push(format!(
            "only {} of the {needed} required runs were simulated",
            runs.len()
        ));
    }
    // The colour of a case: the worst colour of its runs (Euro NCAP cases have one run).
    let colour = runs.iter().filter_map(|(_, r)| r.colour).max();
    (verdict, colour, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Option<f64>)]) -> MetricMap {
        let mut m = MetricMap::from_metrics(&Metrics::default());
        for (k, v) in pairs {
            m.0.insert(k.to_string(), *v);
        }
        m
    }

    fn facts(speed: f64) -> CaseFacts {
        CaseFacts {
            ego_speed_kph: speed,
            vehicle_category: Some("M1".into()),
            runs_required: 1,
            reference_collided: BTreeMap::new(),
        }
    }

    fn judge_ref(pack: &str, rule: &str) -> JudgeRef {
        JudgeRef {
            pack: pack.into(),
            rule: rule.into(),
        }
    }

    #[test]
    fn builtin_packs_load() {
        let packs = Packs::builtin().expect("built-in packs are valid");
        for id in [
            "un-r152-m1",
            "euro-ncap-2026",
            "cn-cdas-draft-2025",
            "un-r157",
        ] {
            assert!(packs.all().any(|(p, _)| p.id == id), "{id}");
        }
    }

    #[test]
    fn r152_table_fail_quotes_value_limit_and_source() {
        let packs = Packs::builtin().unwrap();
        let (j, why) = packs.resolve(Some(&judge_ref("un-r152-m1", "car-stationary")));
        assert!(why.is_none());
        let m = map(&[
            ("collision", Some(1.0)),
            ("relative_impact_speed_kph", Some(27.1)),
            ("impact_speed_kph", Some(27.1)),
        ]);
        let f = RunFacts {
            collision_actor: Some("target".into()),
            collision_time_s: Some(3.2),
            ..RunFacts::default()
        };
        let out = judge_run(j, None, &f, &m, &facts(50.0));
        assert_eq!(out.verdict, Verdict::Fail);
        let all = out.reasons.join(" | ");
        assert!(all.contains("27.1 km/h"), "{all}");
        assert!(all.contains("un-r152-m1 v"), "{all}");
        assert!(all.contains("rule car-stationary"), "{all}");
        assert!(all.contains("collision with `target` at 3.2 s"), "{all}");
    }

    #[test]
    fn no_collision_is_impact_speed_zero_and_green() {
        let packs = Packs::builtin().unwrap();
        let (j, _) = packs.resolve(Some(&judge_ref("euro-ncap-2026", "ccrs")));
        let m = map(&[("collision", Some(0.0))]);
        let out = judge_run(j, None, &RunFacts::default(), &m, &facts(40.0));
        assert_eq!(out.verdict, Verdict::Pass);
        assert_eq!(out.colour, Some(Colour::Green));
        assert!(out.reasons[0].contains("no collision"), "{:?}", out.reasons);
    }

    #[test]
    fn euro_ncap_red_fails_and_brown_passes() {
        let packs = Packs::builtin().unwrap();
        let (j, _) = packs.resolve(Some(&judge_ref("euro-ncap-2026", "ccrs")));
        let hit = |v: f64| {
            map(&[
                ("collision", Some(1.0)),
                ("relative_impact_speed_kph", Some(v)),
            ])
        };
        let brown = judge_run(j, None, &RunFacts::default(), &hit(15.0), &facts(40.0));
        assert_eq!(
            (brown.verdict, brown.colour),
            (Verdict::Pass, Some(Colour::Brown))
        );
        let red = judge_run(j, None, &RunFacts::default(), &hit(20.0), &facts(40.0));
        assert_eq!(
            (red.verdict, red.colour),
            (Verdict::Fail, Some(Colour::Red))
        );
    }

    #[test]
    fn unknown_pack_and_rule_are_errors_with_reasons() {
        let packs = Packs::builtin().unwrap();
        let (j, why) = packs.resolve(Some(&judge_ref("no-such-pack", "x")));
        let out = judge_run(
            j,
            why.as_deref(),
            &RunFacts::default(),
            &map(&[]),
            &facts(50.0),
        );
        assert_eq!(out.verdict, Verdict::Error);
        assert!(out.reasons[0].contains("no-such-pack"), "{:?}", out.reasons);
        let (j, why) = packs.resolve(Some(&judge_ref("un-r152-m1", "nope")));
        let out = judge_run(
            j,
            why.as_deref(),
            &RunFacts::default(),
            &map(&[]),
            &facts(50.0),
        );
        assert_eq!(out.verdict, Verdict::Error);
        assert!(
            out.reasons[0].contains("no rule `nope`"),
            "{:?}",
            out.reasons
        );
    }

    #[test]
    fn sut_error_is_an_error_whatever_the_rule() {
        let packs = Packs::builtin().unwrap();
        let (j, _) = packs.resolve(Some(&judge_ref("un-r152-m1", "car-stationary")));
        let f = RunFacts {
            sut_error: Some("panicked: boom".into()),
            end_time_s: 1.25,
            ..RunFacts::default()
        };
        let out = judge_run(j, None, &f, &map(&[("collision", Some(0.0))]), &facts(50.0));
        assert_eq!(out.verdict, Verdict::Error);
        assert!(out.reasons[0].contains("1.25 s: panicked: boom"));
    }

    #[test]
    fn r157_collision_unavoidable_for_careful_driver_is_not_failed() {
        let packs = Packs::builtin().unwrap();
        let (j, _) = packs.resolve(Some(&judge_ref("un-r157", "cut-in")));
        let m = map(&[
            ("collision", Some(1.0)),
            ("relative_impact_speed_kph", Some(12.0)),
        ]);
        let mut c = facts(60.0);
        c.reference_collided.insert("careful-driver".into(), true);
        let out = judge_run(j, None, &RunFacts::default(), &m, &c);
        assert_eq!(out.verdict, Verdict::Pass, "{:?}", out.reasons);
        assert!(out.reasons.join(" ").contains("unavoidable"));
        c.reference_collided.insert("careful-driver".into(), false);
        let out = judge_run(j, None, &RunFacts::default(), &m, &c);
        assert_eq!(out.verdict, Verdict::Fail, "{:?}", out.reasons);
        assert!(out.reasons.join(" ").contains("avoids it"));
    }

    #[test]
    fn case_verdict_counts_runs_and_retries() {
        let run = |v| RunJudgement {
            verdict: v,
            colour: None,
            reasons: vec![format!("{v:?}")],
        };
        let (p, f) = (run(Verdict::Pass), run(Verdict::Fail));
        let (v, _, reasons) = case_verdict(&[(0, &f), (1, &p), (2, &p)], 2);
        assert_eq!(v, Verdict::Pass);
        assert_eq!(reasons[0], "passed 2 of 3 runs (2 required)");
        assert_eq!(reasons[1], "run 1: Fail");
        let (v, _, _) = case_verdict(&[(0, &f), (1, &p), (2, &f)], 2);
        assert_eq!(v, Verdict::Fail);
        let e = run(Verdict::Error);
        let (v, _, _) = case_verdict(&[(0, &p), (1, &e)], 2);
        assert_eq!(v, Verdict::Error);
    }
}
