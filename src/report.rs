//! Report files of a run: `report.json` (results only, byte-identical for the same inputs,
//! seed and device kind), `junit.xml` and `summary.md` (rendered from it, just as
//! deterministic), `cases.jsonl` (one line per finished case, appended), `run.json`
//! (provenance that legitimately differs between machines) and `traces/<case-id>.csv` (with
//! `traces/<case-id>.gnss.csv` for a case with a receiver).
//!
//! A run's reports are written from `cases.jsonl` (`store`), reading the cases back in ID order
//! after one pass that counts them (`tally`), so that memory does not grow with the entries;
//! `merge` and `judge` read saved reports case by case ([`read_report_with`]) the same way.
//!
//! The serde types here are the file format (`docs/report-format.md`): a compatibility promise.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::eval::judge::{self, CaseFacts, MetricMap, Packs, RunFacts, r6};
use crate::eval::rules::TestRange;
use crate::run::{CaseResult, JudgedRun, Verdict};
use crate::scenario::BuiltCase;
use crate::scenario::expr::Param;
use crate::scenario::model::JudgeRef;
use crate::shard::{ResumeKey, Shard};
use crate::thresholds::{Check, colour_name};

pub mod junit;
pub mod store;
pub mod summary;
pub mod tally;

pub use junit::junit_xml;
pub use store::{CaseSource, CaseStore};
pub use summary::summary_md;
pub use tally::{Digest, Totals};

/// Version of the `report.json` format (2: metrics, rules, reasons, colours, aggregates).
pub const SCHEMA_VERSION: u32 = 2;
/// Version of this harness.
pub const HARNESS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `report.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    pub schema_version: u32,
    pub harness_version: String,
    pub seed: u64,
    pub sut: String,
    /// FNV-1a 64 (hex) of the inputs: case IDs, scenario and pack files, seed, system under
    /// test (`shard::inputs_hash`). `merge` and `--resume` refuse what differs.
    #[serde(default)]
    pub inputs_hash: String,
    /// FNV-1a 64 (hex) of the suite alone: case IDs, scenario and pack files, without the seed
    /// and the system under test (`shard::suite_hash`). `diff` refuses runs of other suites.
    #[serde(default)]
    pub suite_hash: String,
    /// The shard this report covers (`--shard K/N`); `null` for a whole run or a merge.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// Cases of the whole run, before sharding.
    #[serde(default)]
    pub total_cases: usize,
    /// The threshold packs that judged the cases, by id.
    pub packs: Vec<PackEntry>,
    pub cases: Vec<CaseEntry>,
    pub summary: Summary,
    pub aggregates: Aggregates,
}

/// A threshold pack that judged cases.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PackEntry {
    pub id: String,
    pub version: String,
    pub status: String,
    pub source: String,
    /// `builtin:scenarios/thresholds/….toml` or the pack file's path.
    pub file: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct CaseEntry {
    pub id: String,
    pub scenario: String,
    pub params: BTreeMap<String, Value>,
    pub sut: String,
    /// `pass`, `fail` or `error`.
    pub verdict: String,
    /// Colour of a banded rule (Euro NCAP): the worst of the runs.
    pub colour: Option<String>,
    pub reasons: Vec<String>,
    /// The pack and rule that judged the case; `null`: the harness default (no collision) or a
    /// rule that could not be found (then the case is an `error` saying why).
    pub judged_by: Option<JudgedByEntry>,
    /// What judging needs besides the metrics (`gauntlet judge` reads it).
    pub facts: FactsEntry,
    /// Metrics of the first run (all runs are in `runs`).
    pub metrics: BTreeMap<String, Value>,
    pub runs: Vec<RunEntry>,
    /// Only in `cases.jsonl`, never in `report.json`: the run the line belongs to, which
    /// `--resume` checks against its own inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeKey>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JudgedByEntry {
    pub pack: String,
    pub version: String,
    /// Status of the rule (`official`, `draft`, `unverified`).
    pub status: String,
    pub rule: String,
}

impl From<crate::run::JudgedBy> for JudgedByEntry {
    fn from(j: crate::run::JudgedBy) -> Self {
        JudgedByEntry {
            pack: j.pack,
            version: j.version,
            status: j.status,
            rule: j.rule,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FactsEntry {
    /// The scenario's `[judge]` (pack and rule), as written.
    pub judge: Option<JudgeEntry>,
    pub ego_speed_kph: f64,
    pub vehicle_category: Option<String>,
    pub runs_required: u32,
    /// Per reference driver model run on the same case: whether it collided.
    pub reference_collision: BTreeMap<String, bool>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JudgeEntry {
    pub pack: String,
    pub rule: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct RunEntry {
    pub run: u32,
    pub verdict: String,
    pub colour: Option<String>,
    pub reasons: Vec<String>,
    /// What the simulation saw.
    pub sim: SimEntry,
    /// Every metric (`docs/metrics.md`); `null` where it does not apply.
    pub metrics: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimEntry {
    pub end_reason: String,
    pub end_time_s: f64,
    pub collision_actor: Option<String>,
    pub collision_time_s: Option<f64>,
    /// Contact point on the ego: x forward of the front bumper, y left of its centre.
    pub impact_point_in_ego_m: Option<[f64; 2]>,
    pub first_warning_s: Option<f64>,
    pub first_brake_s: Option<f64>,
    pub ego_speed_end_kph: f64,
    pub sut_error: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Default, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub cases: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
}

/// Results over sets of cases.
#[derive(Serialize, Deserialize, Clone, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Aggregates {
    /// Per threshold pack (and the harness default, `pack: null`): verdict counts.
    pub packs: Vec<PackCount>,
    /// `repeats` rules (UN R152): failure share per category.
    pub repeats: Vec<RepeatsEntry>,
    /// Euro NCAP points from the colour grid the run produced.
    pub euro_ncap: Vec<PointsEntry>,
    /// Detection scoring over every run that was handed camera frames (absent when none was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<DetectionEntry>,
    /// Per scenario swept over `corruption` × `severity`: the outcome per corruption and
    /// severity and the robustness scores mPC / rPC (`docs/metrics.md`; absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub robustness: Vec<RobustnessEntry>,
}

/// One scenario's corruption sweep (`docs/metrics.md`, robustness).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RobustnessEntry {
    pub scenario: String,
    /// P_clean, mPC and rPC of `recall`, `precision`, `ap50` and `pass_rate`.
    pub scores: Vec<RobustnessScore>,
    /// The clean partner (`corruption` `none`) first, then every corruption × severity.
    pub cells: Vec<RobustnessCell>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RobustnessScore {
    pub measure: String,
    pub clean: Option<f64>,
    pub mpc: Option<f64>,
    pub rpc: Option<f64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RobustnessCell {
    pub corruption: String,
    /// `null` for the clean partner.
    pub severity: Option<String>,
    pub cases: u64,
    pub runs: u64,
    pub pass_rate: Option<f64>,
    pub recall: Option<f64>,
    pub precision: Option<f64>,
    /// Mean over the cell's runs of their average precision at IoU 0.5 (`detection_ap50`).
    pub ap50: Option<f64>,
    /// Mean relative impact speed over the runs, km/h (0 for a run without impact).
    pub mean_impact_speed_kph: Option<f64>,
}

/// Detection scoring over a suite (`docs/metrics.md`): the runs' counts summed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetectionEntry {
    /// Runs scored, and the frames they were handed.
    pub runs: u64,
    pub frames: u64,
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub recall: Option<f64>,
    pub precision: Option<f64>,
    /// Mean absolute distance error over the true positives, m.
    pub distance_error_m: Option<f64>,
    /// Runs whose in-path target was detected stably, and their mean detection range, m.
    pub ranged_runs: u64,
    pub mean_range_m: Option<f64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PackCount {
    pub pack: Option<String>,
    pub version: Option<String>,
    pub cases: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RepeatsEntry {
    pub pack: String,
    pub version: String,
    pub rule: String,
    pub verdict: String,
    pub groups: Vec<GroupEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    /// The category: the rule that judged the group's cases.
    pub group: String,
    pub verdict: String,
    pub cases: usize,
    pub failed: usize,
    pub errors: usize,
    pub failure_share: f64,
    pub reasons: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PointsEntry {
    pub pack: String,
    pub version: String,
    pub scenarios: Vec<ScenarioPointsEntry>,
    /// Sum of the scenario totals, before gates.
    pub total: f64,
    pub gates: Vec<GateEntry>,
    /// Scores a closed gate sets to 0.
    pub zeroed: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioPointsEntry {
    pub rule: String,
    pub scenario: String,
    /// Cells with a colour, and how many of them the points scheme scores.
    pub cells: usize,
    pub scored_cells: usize,
    pub standard: f64,
    pub standard_max: f64,
    pub extended: f64,
    pub extended_max: f64,
    pub total: f64,
    pub reasons: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GateEntry {
    pub rule: String,
    pub zeroes: String,
    pub closed: bool,
    pub reasons: Vec<String>,
}

/// Metrics that are counts (written as integers).
const COUNT_METRICS: &[&str] = &[
    "lane_departures",
    "false_activations",
    "emergency_braking_events",
    "loc_outages",
    "loc_epochs",
    "loc_stanford_nominal",
    "loc_stanford_unavailable",
    "loc_stanford_misleading",
    "loc_stanford_hazardous",
    "detection_frames",
    "detection_tp",
    "detection_fp",
    "detection_fn",
];

/// A run's metrics as `report.json` writes them: `collision` as a boolean, counts as integers.
pub fn metrics_json(m: &MetricMap) -> BTreeMap<String, Value> {
    m.0.iter()
        .map(|(k, v)| {
            let value = match v {
                None => Value::Null,
                Some(x) if k == "collision" => Value::Bool(*x > 0.0),
                Some(x) if COUNT_METRICS.contains(&k.as_str()) && x.fract() == 0.0 && *x >= 0.0 => {
                    Value::from(*x as u64)
                }
                Some(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            };
            (k.clone(), value)
        })
        .collect()
}

/// The metrics of a saved run, as they were judged.
pub fn metrics_from_json(m: &BTreeMap<String, Value>) -> MetricMap {
    MetricMap(
        m.iter()
            .map(|(k, v)| {
                let x = match v {
                    Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
                    Value::Number(n) => n.as_f64(),
                    _ => None,
                };
                (k.clone(), x)
            })
            .collect(),
    )
}

fn sim_entry(r: &crate::sim::RunResult) -> SimEntry {
    SimEntry {
        end_reason: r.end_reason.as_str().to_string(),
        end_time_s: r6(r.end_time_s),
        collision_actor: r.collision.as_ref().map(|c| c.actor_id.clone()),
        collision_time_s: r.collision.as_ref().map(|c| r6(c.time_s)),
        impact_point_in_ego_m: r
            .collision
            .as_ref()
            .map(|c| [r6(c.impact_point_in_ego_m.0), r6(c.impact_point_in_ego_m.1)]),
        first_warning_s: r.first_warning_s.map(r6),
        first_brake_s: r.first_brake_s.map(r6),
        ego_speed_end_kph: r6(r.ego_speed_end_mps * 3.6),
        sut_error: r.sut_error.clone(),
    }
}

fn param_json(p: &Param) -> Value {
    match p {
        Param::Number(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        Param::Word(w) => Value::String(w.clone()),
    }
}

/// The path of a scenario as reports show it: relative to the working directory when possible.
pub fn display_path(path: &Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    rel.unwrap_or_else(|| path.to_path_buf())
        .to_string_lossy()
        .replace('\\', "/")
}

fn run_entry(r: &JudgedRun) -> RunEntry {
    RunEntry {
        run: r.result.run_index,
        verdict: r.verdict().as_str().to_string(),
        colour: r.judgement.colour.map(|c| colour_name(c).to_string()),
        reasons: r.judgement.reasons.clone(),
        sim: sim_entry(&r.result),
        metrics: metrics_json(&r.metrics),
    }
}

fn facts_entry(case: &BuiltCase, facts: &CaseFacts) -> FactsEntry {
    FactsEntry {
        judge: case.model.judge.as_ref().map(|j| JudgeEntry {
            pack: j.pack.clone(),
            rule: j.rule.clone(),
        }),
        ego_speed_kph: facts.ego_speed_kph,
        vehicle_category: facts.vehicle_category.clone(),
        runs_required: facts.runs_required,
        reference_collision: facts.reference_collided.clone(),
    }
}

pub fn case_entry(case: &BuiltCase, result: &CaseResult, sut: &str) -> CaseEntry {
    let runs: Vec<RunEntry> = result.runs.iter().map(run_entry).collect();
    CaseEntry {
        id: case.id.clone(),
        scenario: display_path(&case.scenario_path),
        params: case
            .params
            .iter()
            .map(|(k, v)| (k.clone(), param_json(v)))
            .collect(),
        sut: sut.to_string(),
        verdict: result.verdict.as_str().to_string(),
        colour: result.colour.map(|c| colour_name(c).to_string()),
        reasons: result.reasons.clone(),
        judged_by: result.judged_by.clone().map(JudgedByEntry::from),
        facts: facts_entry(case, &result.facts),
        // Every case has at least one run (`repeats.runs` ≥ 1 is checked on input).
        metrics: runs.first().map(|r| r.metrics.clone()).unwrap_or_default(),
        runs,
        resume: None,
    }
}

/// A saved case judged again: each run's judgement and the case's verdict.
#[derive(Debug, Clone)]
pub struct SavedJudgement {
    /// Per run, in the saved order: its index and judgement.
    pub runs: Vec<(u32, judge::RunJudgement)>,
    pub verdict: Verdict,
    pub colour: Option<crate::thresholds::Colour>,
    pub reasons: Vec<String>,
    pub judged_by: Option<JudgedByEntry>,
}

/// Judges a saved case again by `packs`, from its saved metrics and facts (no simulation). The
/// one judging path of `gauntlet judge` and `gauntlet calibrate`.
pub fn judge_saved_case(entry: &CaseEntry, packs: &Packs) -> SavedJudgement {
    let judge_ref = entry.facts.judge.as_ref().map(|j| JudgeRef {
        pack: j.pack.clone(),
        rule: j.rule.clone(),
    });
    let (judging, why) = packs.resolve(judge_ref.as_ref());
    let facts = CaseFacts {
        ego_speed_kph: entry.facts.ego_speed_kph,
        vehicle_category: entry.facts.vehicle_category.clone(),
        runs_required: entry.facts.runs_required,
        reference_collided: entry.facts.reference_collision.clone(),
    };
    let runs: Vec<(u32, judge::RunJudgement)> = entry
        .runs
        .iter()
        .map(|run| {
            let run_facts = RunFacts {
                run_index: run.run,
                sut_error: run.sim.sut_error.clone(),
                end_time_s: run.sim.end_time_s,
                collision_actor: run.sim.collision_actor.clone(),
                collision_time_s: run.sim.collision_time_s,
            };
            let j = judge::judge_run(
                judging,
                why.as_deref(),
                &run_facts,
                &metrics_from_json(&run.metrics),
                &facts,
            );
            (run.run, j)
        })
        .collect();
    let refs: Vec<(u32, &judge::RunJudgement)> = runs.iter().map(|(i, j)| (*i, j)).collect();
    let (verdict, colour, reasons) = judge::case_verdict(&refs, facts.runs_required);
    SavedJudgement {
        runs,
        verdict,
        colour,
        reasons,
        judged_by: crate::run::judged_by(judging).map(JudgedByEntry::from),
    }
}

/// Judges a saved case again by `packs`, from its saved metrics and facts (no simulation).
pub fn rejudge_case(entry: &CaseEntry, packs: &Packs) -> CaseEntry {
    let judged = judge_saved_case(entry, packs);
    let mut out = entry.clone();
    for (run, (_, j)) in out.runs.iter_mut().zip(judged.runs) {
        run.verdict = j.verdict.as_str().to_string();
        run.colour = j.colour.map(|c| colour_name(c).to_string());
        run.reasons = j.reasons;
    }
    out.verdict = judged.verdict.as_str().to_string();
    out.colour = judged.colour.map(|c| colour_name(c).to_string());
    out.reasons = judged.reasons;
    out.judged_by = judged.judged_by;
    out
}

/// Builds a report held in memory: cases sorted by ID, summary and aggregates computed after
/// sorting. `inputs_hash`, `suite_hash`, `shard` and `total_cases` are left for the caller to
/// set (empty, empty, `null`, and the number of entries). Runs, `merge` and `judge` write their reports with
/// [`write_reports`] instead, without holding the entries.
pub fn build_report(
    seed: u64,
    sut: &str,
    mut entries: Vec<CaseEntry>,
    packs: &Packs,
) -> ReportFile {
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let mut t = tally::Tally::new(packs);
    for e in &entries {
        t.add(e);
    }
    let totals = t.finish();
    ReportFile {
        schema_version: SCHEMA_VERSION,
        harness_version: HARNESS_VERSION.to_string(),
        seed,
        sut: sut.to_string(),
        inputs_hash: String::new(),
        suite_hash: String::new(),
        shard: None,
        total_cases: entries.len(),
        packs: totals.packs,
        cases: entries,
        summary: totals.digest.summary,
        aggregates: totals.aggregates,
    }
}

/// The swept parameters of a case, from its ID (`name/a=1,b=x` → `[(a, 1), (b, x)]`).
pub fn swept_params(id: &str) -> Vec<(String, String)> {
    let tail = id.rsplit('/').next().unwrap_or("");
    tail.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The VUT speed of a cell: the `vut_speed_kph` parameter, else the ego's nominal speed.
pub fn cell_vut_speed_kph(entry: &CaseEntry) -> f64 {
    entry
        .params
        .get("vut_speed_kph")
        .and_then(Value::as_f64)
        .unwrap_or(entry.facts.ego_speed_kph)
}

/// Whether a cell of a `points` rule is scored, and in which range.
pub fn cell_range(check: &Check, vut_speed_kph: f64) -> Option<TestRange> {
    check.points_range(vut_speed_kph).map(|extended| {
        if extended {
            TestRange::Extended
        } else {
            TestRange::Standard
        }
    })
}

/// Why a saved `report.json` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadReportError {
    #[error("{path}: cannot read: {source}")]
    Io { path: String, source: io::Error },
    #[error(
        "{path}:1:1: error: schema_version: this harness reads reports of schema version {}, found {found}",
        SCHEMA_VERSION
    )]
    Version { path: String, found: String },
    #[error("{path}:{line}:{column}: error: not a Gauntlet report: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// What was done with a case as it was read failed (writing it elsewhere).
    #[error("{path}: while keeping its cases: {source}")]
    Case { path: String, source: io::Error },
}

/// A saved `report.json` without its cases, which [`read_report_with`] hands over one by one.
#[derive(Clone, Debug)]
pub struct SavedReport {
    pub harness_version: String,
    pub seed: u64,
    pub sut: String,
    pub inputs_hash: String,
    /// `shard::suite_hash`; empty for reports written before it existed.
    pub suite_hash: String,
    pub shard: Option<Shard>,
    pub total_cases: usize,
    pub packs: Vec<PackEntry>,
    pub summary: Summary,
    pub aggregates: Aggregates,
    /// How many cases it holds.
    pub cases: usize,
}

impl SavedReport {
    /// What the report says of its run besides the results.
    pub fn head(&self) -> RunHead {
        RunHead {
            seed: self.seed,
            sut: self.sut.clone(),
            inputs_hash: self.inputs_hash.clone(),
            suite_hash: self.suite_hash.clone(),
            shard: self.shard,
            total_cases: self.total_cases,
        }
    }
}

/// Reads a saved `report.json` of this harness's schema version (`judge`, `merge`) one case at
/// a time, handing each case to `on_case` in file order, so that a report of any size reads in
/// little memory. The file is checked as `ReportFile` would check it (unknown fields refused).
pub fn read_report_with(
    path: &Path,
    on_case: &mut dyn FnMut(CaseEntry) -> io::Result<()>,
) -> Result<SavedReport, ReadReportError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| ReadReportError::Io {
        path: shown.clone(),
        source,
    })?;
    let failure: RefCell<Option<Failure>> = RefCell::new(None);
    let mut json = serde_json::Deserializer::from_reader(BufReader::new(file));
    let visitor = ReportVisitor {
        on_case,
        failure: &failure,
    };
    let read =
        de::Deserializer::deserialize_map(&mut json, visitor).and_then(|r| json.end().map(|()| r));
    match (read, failure.into_inner()) {
        (Ok(r), _) => Ok(r),
        (Err(_), Some(Failure::Version(found))) => {
            Err(ReadReportError::Version { path: shown, found })
        }
        (Err(_), Some(Failure::Case(source))) => Err(ReadReportError::Case {
            path: shown,
            source,
        }),
        (Err(e), None) if e.is_io() => Err(ReadReportError::Io {
            path: shown,
            source: e.into(),
        }),
        (Err(e), None) => Err(ReadReportError::Parse {
            path: shown,
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }),
    }
}

/// Reads a whole saved `report.json` into memory (see [`read_report_with`]).
pub fn read_report(path: &Path) -> Result<ReportFile, ReadReportError> {
    let mut cases = Vec::new();
    let r = read_report_with(path, &mut |c| {
        cases.push(c);
        Ok(())
    })?;
    Ok(ReportFile {
        schema_version: SCHEMA_VERSION,
        harness_version: r.harness_version,
        seed: r.seed,
        sut: r.sut,
        inputs_hash: r.inputs_hash,
        suite_hash: r.suite_hash,
        shard: r.shard,
        total_cases: r.total_cases,
        packs: r.packs,
        cases,
        summary: r.summary,
        aggregates: r.aggregates,
    })
}

/// Why the streamed reading of a report stopped, besides the JSON itself.
enum Failure {
    Version(String),
    Case(io::Error),
}

/// The fields of `report.json`, in order.
const REPORT_FIELDS: &[&str] = &[
    "schema_version",
    "harness_version",
    "seed",
    "sut",
    "inputs_hash",
    "suite_hash",
    "shard",
    "total_cases",
    "packs",
    "cases",
    "summary",
    "aggregates",
];

struct ReportVisitor<'a, 'f> {
    on_case: &'a mut dyn FnMut(CaseEntry) -> io::Result<()>,
    failure: &'f RefCell<Option<Failure>>,
}

impl<'de> Visitor<'de> for ReportVisitor<'_, '_> {
    type Value = SavedReport;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("struct ReportFile")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SavedReport, A::Error> {
        fn once<T, E: de::Error>(slot: &Option<T>, name: &'static str) -> Result<(), E> {
            match slot {
                Some(_) => Err(E::duplicate_field(name)),
                None => Ok(()),
            }
        }
        let ReportVisitor { on_case, failure } = self;
        let mut schema_version: Option<()> = None;
        let mut harness_version: Option<String> = None;
        let mut seed: Option<u64> = None;
        let mut sut: Option<String> = None;
        let mut inputs_hash: Option<String> = None;
        let mut suite_hash: Option<String> = None;
        let mut shard: Option<Option<Shard>> = None;
        let mut total_cases: Option<usize> = None;
        let mut packs: Option<Vec<PackEntry>> = None;
        let mut cases: Option<usize> = None;
        let mut summary: Option<Summary> = None;
        let mut aggregates: Option<Aggregates> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "schema_version" => {
                    once(&schema_version, "schema_version")?;
                    let v: Value = map.next_value()?;
                    if v.as_u64() != Some(u64::from(SCHEMA_VERSION)) {
                        *failure.borrow_mut() = Some(Failure::Version(v.to_string()));
                        return Err(de::Error::custom("schema version"));
                    }
                    schema_version = Some(());
                }
                "harness_version" => {
                    once(&harness_version, "harness_version")?;
                    harness_version = Some(map.next_value()?);
                }
                "seed" => {
                    once(&seed, "seed")?;
                    seed = Some(map.next_value()?);
                }
                "sut" => {
                    once(&sut, "sut")?;
                    sut = Some(map.next_value()?);
                }
                "inputs_hash" => {
                    once(&inputs_hash, "inputs_hash")?;
                    inputs_hash = Some(map.next_value()?);
                }
                "suite_hash" => {
                    once(&suite_hash, "suite_hash")?;
                    suite_hash = Some(map.next_value()?);
                }
                "shard" => {
                    once(&shard, "shard")?;
                    shard = Some(map.next_value()?);
                }
                "total_cases" => {
                    once(&total_cases, "total_cases")?;
                    total_cases = Some(map.next_value()?);
                }
                "packs" => {
                    once(&packs, "packs")?;
                    packs = Some(map.next_value()?);
                }
                "cases" => {
                    once(&cases, "cases")?;
                    cases = Some(map.next_value_seed(CasesSeed {
                        on_case: &mut *on_case,
                        failure,
                    })?);
                }
                "summary" => {
                    once(&summary, "summary")?;
                    summary = Some(map.next_value()?);
                }
                "aggregates" => {
                    once(&aggregates, "aggregates")?;
                    aggregates = Some(map.next_value()?);
                }
                other => return Err(de::Error::unknown_field(other, REPORT_FIELDS)),
            }
        }
        if schema_version.is_none() {
            *failure.borrow_mut() = Some(Failure::Version("none".to_string()));
            return Err(de::Error::missing_field("schema_version"));
        }
        Ok(SavedReport {
            harness_version: harness_version
                .ok_or_else(|| de::Error::missing_field("harness_version"))?,
            seed: seed.ok_or_else(|| de::Error::missing_field("seed"))?,
            sut: sut.ok_or_else(|| de::Error::missing_field("sut"))?,
            inputs_hash: inputs_hash.unwrap_or_default(),
            suite_hash: suite_hash.unwrap_or_default(),
            shard: shard.unwrap_or_default(),
            total_cases: total_cases.unwrap_or_default(),
            packs: packs.ok_or_else(|| de::Error::missing_field("packs"))?,
            cases: cases.ok_or_else(|| de::Error::missing_field("cases"))?,
            summary: summary.ok_or_else(|| de::Error::missing_field("summary"))?,
            aggregates: aggregates.ok_or_else(|| de::Error::missing_field("aggregates"))?,
        })
    }
}

/// `cases`, handed over one by one; the value is how many there were.
struct CasesSeed<'a, 'f> {
    on_case: &'a mut dyn FnMut(CaseEntry) -> io::Result<()>,
    failure: &'f RefCell<Option<Failure>>,
}

impl<'de> DeserializeSeed<'de> for CasesSeed<'_, '_> {
    type Value = usize;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CasesSeed<'_, '_> {
    type Value = usize;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence of case entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0usize;
        while let Some(entry) = seq.next_element::<CaseEntry>()? {
            if let Err(e) = (self.on_case)(entry) {
                *self.failure.borrow_mut() = Some(Failure::Case(e));
                return Err(de::Error::custom("a case could not be kept"));
            }
            n += 1;
        }
        Ok(n)
    }
}

/// What a report says of its run besides the results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunHead {
    pub seed: u64,
    pub sut: String,
    /// `shard::inputs_hash`; empty for reports written before it existed.
    pub inputs_hash: String,
    /// `shard::suite_hash`; empty for reports written before it existed.
    pub suite_hash: String,
    pub shard: Option<Shard>,
    /// Cases of the whole run, before sharding.
    pub total_cases: usize,
}

/// `report.json` as it is written: the same fields, in the same order, as [`ReportFile`], with
/// the cases streamed from wherever they are kept.
#[derive(Serialize)]
struct ReportOut<'a> {
    schema_version: u32,
    harness_version: &'a str,
    seed: u64,
    sut: &'a str,
    inputs_hash: &'a str,
    suite_hash: &'a str,
    shard: Option<Shard>,
    total_cases: usize,
    packs: &'a [PackEntry],
    cases: CasesOut<'a>,
    summary: &'a Summary,
    aggregates: &'a Aggregates,
}

/// The cases of a source, serialized one by one as they are read.
struct CasesOut<'a>(&'a dyn CaseSource);

impl Serialize for CasesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0.count();
        let mut seq = s.serialize_seq(Some(n))?;
        for i in 0..n {
            let case = self.0.case(i).map_err(serde::ser::Error::custom)?;
            if case.resume.is_some() {
                let mut plain = case.into_owned();
                plain.resume = None;
                seq.serialize_element(&plain)?;
            } else {
                seq.serialize_element(&*case)?;
            }
        }
        seq.end()
    }
}

/// Streams `report.json` to `dir` atomically (temporary file, then rename).
fn write_report_json(dir: &Path, out: &ReportOut<'_>) -> io::Result<PathBuf> {
    write_atomically_with(dir, "report.json", &mut |w| {
        serde_json::to_writer_pretty(&mut *w, out).map_err(io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// Writes `report.json`, `junit.xml` and `summary.md` of a run (or of a merge or a re-judged
/// run) into `dir`, each atomically, from the cases of `source` in report order (sorted by
/// ID), judged by `packs`. One pass counts the cases (summary, aggregates, digest), then the
/// cases are read again as each file is written: nothing holds all the entries. Returns the
/// totals for the printed summary.
pub fn write_reports(
    dir: &Path,
    head: &RunHead,
    source: &dyn CaseSource,
    packs: &Packs,
) -> io::Result<Totals> {
    let totals = tally::tally(source, packs)?;
    write_report_json(
        dir,
        &ReportOut {
            schema_version: SCHEMA_VERSION,
            harness_version: HARNESS_VERSION,
            seed: head.seed,
            sut: &head.sut,
            inputs_hash: &head.inputs_hash,
            suite_hash: &head.suite_hash,
            shard: head.shard,
            total_cases: head.total_cases,
            packs: &totals.packs,
            cases: CasesOut(source),
            summary: totals.summary(),
            aggregates: &totals.aggregates,
        },
    )?;
    write_atomically_with(dir, "junit.xml", &mut |w| {
        junit::write_junit(w, &head.sut, head.seed, &totals.digest, source).map(|_| ())
    })?;
    let md = summary::render(&summary::SummaryView {
        sut: &head.sut,
        seed: head.seed,
        packs: &totals.packs,
        aggregates: &totals.aggregates,
        digest: &totals.digest,
    });
    write_atomically(dir, "summary.md", md.as_bytes())?;
    Ok(totals)
}

/// Writes a report held in memory as `report.json`, atomically (temporary file, then rename).
pub fn write_report(dir: &Path, report: &ReportFile) -> io::Result<PathBuf> {
    write_report_json(
        dir,
        &ReportOut {
            schema_version: report.schema_version,
            harness_version: &report.harness_version,
            seed: report.seed,
            sut: &report.sut,
            inputs_hash: &report.inputs_hash,
            suite_hash: &report.suite_hash,
            shard: report.shard,
            total_cases: report.total_cases,
            packs: &report.packs,
            cases: CasesOut(&report.cases),
            summary: &report.summary,
            aggregates: &report.aggregates,
        },
    )
}

/// Writes `junit.xml` atomically (temporary file, then rename).
pub fn write_junit(dir: &Path, report: &ReportFile) -> io::Result<PathBuf> {
    write_atomically(dir, "junit.xml", &junit_xml(report)?)
}

/// Writes `summary.md` atomically (temporary file, then rename).
pub fn write_summary(dir: &Path, report: &ReportFile) -> io::Result<PathBuf> {
    write_atomically(dir, "summary.md", summary_md(report).as_bytes())
}

/// Writes `dir/name` through `dir/.name.tmp` and a rename, so that readers never see half a file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    write_atomically_with(dir, name, &mut |w| w.write_all(bytes))
}

/// Like [`write_atomically`], with the bytes streamed by `write` through a buffer.
fn write_atomically_with(
    dir: &Path,
    name: &str,
    write: &mut dyn FnMut(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut w = BufWriter::new(File::create(&tmp)?);
    write(&mut w)?;
    w.flush()?;
    drop(w);
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Provenance of a run (`run.json`).
#[derive(Serialize)]
pub struct RunInfo {
    pub harness_version: &'static str,
    pub git_commit: &'static str,
    pub device: String,
    pub host: String,
    pub jobs: usize,
    pub started_utc: String,
    pub finished_utc: String,
    pub wall_s: f64,
    pub command_line: Vec<String>,
}

pub fn write_run_info(dir: &Path, info: &RunInfo) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(info).map_err(io::Error::other)?;
    text.push('\n');
    fs::write(dir.join("run.json"), text)
}

/// The host name, for provenance.
pub fn host_name() -> String {
    fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time since the Unix epoch.
pub fn utc_string(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes `traces/<case-id>.csv` with every run of the case.
pub fn write_trace(dir: &Path, case: &BuiltCase, result: &CaseResult) -> io::Result<()> {
    let path = dir.join("traces").join(format!("{}.csv", case.id));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut w = BufWriter::new(File::create(path)?);
    let actor_ids: Vec<String> = case.model.actors.iter().map(|a| a.id.clone()).collect();
    write!(
        w,
        "run,time_s,ego_station_m,ego_y_m,ego_heading_rad,ego_speed_mps,ego_accel_mps2,ego_steer_rad"
    )?;
    for id in &actor_ids {
        write!(w, ",{id}_station_m,{id}_y_m,{id}_speed_mps")?;
    }
    writeln!(
        w,
        ",gap_m,ttc_s,cmd_accel_mps2,cmd_steer_rad,warning,ego_yaw_rate_radps,ego_lat_accel_mps2,lead,closing_mps,lead_accel_mps2"
    )?;
    let opt = |x: Option<f64>| x.map(|v| format!("{}", r6(v))).unwrap_or_default();
    for run in &result.runs {
        let Some(trace) = &run.result.trace else {
            continue;
        };
        for row in &trace.rows {
            write!(
                w,
                "{},{},{},{},{},{},{},{}",
                run.result.run_index,
                r6(row.time_s),
                r6(row.ego_station_m),
                r6(row.ego_y_m),
                r6(row.ego_heading_rad),
                r6(row.ego_speed_mps),
                r6(row.ego_accel_mps2),
                r6(row.ego_steer_rad)
            )?;
            for (s, y, v) in &row.actors {
                write!(w, ",{},{},{}", r6(*s), r6(*y), r6(*v))?;
            }
            writeln!(
                w,
                ",{},{},{},{},{},{},{},{},{},{}",
                opt(row.gap_m),
                opt(row.ttc_s),
                opt(row.cmd_accel_mps2),
                opt(row.cmd_steer_rad),
                u8::from(row.warning),
                r6(row.ego_yaw_rate_radps),
                r6(row.ego_lat_accel_mps2),
                row.lead
                    .and_then(|i| actor_ids.get(i))
                    .map_or("", String::as_str),
                opt(row.closing_mps),
                opt(row.lead_accel_mps2)
            )?;
        }
    }
    w.flush()?;
    write_gnss_trace(dir, case, result)
}

/// Writes `traces/<case-id>.gnss.csv`, one row per fix epoch of every run, when the case has
/// a receiver: the error in the road frame, the protection level and the Stanford region.
fn write_gnss_trace(dir: &Path, case: &BuiltCase, result: &CaseResult) -> io::Result<()> {
    use crate::eval::localization::{StanfordRegion, stanford_region};
    let Some(receiver) = &case.model.gnss else {
        return Ok(());
    };
    if result.runs.iter().all(|r| r.result.localization.is_none()) {
        return Ok(());
    }
    let path = dir.join("traces").join(format!("{}.gnss.csv", case.id));
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(
        w,
        "run,time_s,environment,fix_type,along_err_m,lateral_err_m,horizontal_err_m,hpl_m,alert_limit_m,stanford,sats_received"
    )?;
    for run in &result.runs {
        for s in run.result.localization.iter().flatten() {
            let (fix_type, errors, region) = match s.error {
                None => ("none", String::from(",,,"), ""),
                Some(e) => (
                    e.fix_type.name(),
                    format!(
                        "{},{},{},{}",
                        r6(e.along_m),
                        r6(e.lateral_m),
                        r6(e.horizontal_m),
                        r6(e.hpl_m)
                    ),
                    match stanford_region(e.horizontal_m, e.hpl_m, receiver.alert_limit_m) {
                        StanfordRegion::Nominal => "nominal",
                        StanfordRegion::Unavailable => "unavailable",
                        StanfordRegion::Misleading => "misleading",
                        StanfordRegion::Hazardous => "hazardous",
                    },
                ),
            };
            writeln!(
                w,
                "{},{},{},{},{},{},{},{}",
                run.result.run_index,
                r6(s.t_s),
                s.environment.name(),
                fix_type,
                errors,
                r6(receiver.alert_limit_m),
                region,
                s.sats_received
            )?;
        }
    }
    w.flush()
}

/// Whether every case passed.
pub fn all_passed(results: &[CaseResult]) -> bool {
    results.iter().all(|r| r.verdict == Verdict::Pass)
}
