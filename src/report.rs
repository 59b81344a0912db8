//! Report files of a run: `report.json` (results only, byte-identical for the same inputs,
//! seed and device kind), `junit.xml` and `summary.md` (rendered from it, just as
//! deterministic), `cases.jsonl` (one line per finished case, appended), `run.json`
//! (provenance that legitimately differs between machines) and `traces/<case-id>.csv`.
//!
//! The serde types here are the file format (`docs/report-format.md`): a compatibility promise.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::run::{CaseResult, JudgedRun, Verdict};
use crate::scenario::Case;
use crate::scenario::expr::Param;
use crate::sim::{self, RunResult};

pub mod junit;
pub mod summary;

pub use junit::junit_xml;
pub use summary::summary_md;

/// Version of the `report.json` format.
pub const SCHEMA_VERSION: u32 = 1;
/// Version of this harness.
pub const HARNESS_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
pub struct ReportFile<'a> {
    pub schema_version: u32,
    pub harness_version: &'a str,
    pub seed: u64,
    pub sut: String,
    pub cases: Vec<CaseEntry>,
    pub summary: Summary,
}

#[derive(Serialize, Clone)]
pub struct CaseEntry {
    pub id: String,
    pub scenario: String,
    pub params: BTreeMap<String, serde_json::Value>,
    pub sut: String,
    pub verdict: &'static str,
    pub reasons: Vec<String>,
    /// Metrics of the first run (all runs are in `runs`).
    pub metrics: Metrics,
    pub runs: Vec<RunEntry>,
}

#[derive(Serialize, Clone)]
pub struct RunEntry {
    pub run: u32,
    pub verdict: &'static str,
    pub reasons: Vec<String>,
    pub metrics: Metrics,
}

#[derive(Serialize, Clone)]
pub struct Metrics {
    pub collision: bool,
    pub collision_actor: Option<String>,
    pub collision_time_s: Option<f64>,
    pub impact_speed_kph: Option<f64>,
    pub relative_impact_speed_kph: Option<f64>,
    /// Contact point on the ego: x forward of the front bumper, y left of its centre.
    pub impact_point_in_ego_m: Option<[f64; 2]>,
    pub end_reason: &'static str,
    pub end_time_s: f64,
    pub min_ttc_s: Option<f64>,
    pub min_gap_m: Option<f64>,
    pub first_warning_s: Option<f64>,
    pub first_brake_s: Option<f64>,
    pub max_decel_mps2: f64,
    pub ego_speed_end_kph: f64,
    pub sut_error: Option<String>,
}

#[derive(Serialize, Clone, Default, PartialEq, Eq, Debug)]
pub struct Summary {
    pub cases: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
}

/// Rounds to 1e-6 so that reports do not show floating-point noise.
fn r6(x: f64) -> f64 {
    let r = (x * 1e6).round() / 1e6;
    if r == 0.0 { 0.0 } else { r }
}

fn metrics_of(r: &RunResult) -> Metrics {
    let speeds = r.collision.as_ref().map(sim::impact_speeds_kph);
    Metrics {
        collision: r.collision.is_some(),
        collision_actor: r.collision.as_ref().map(|c| c.actor_id.clone()),
        collision_time_s: r.collision.as_ref().map(|c| r6(c.time_s)),
        impact_speed_kph: speeds.map(|s| r6(s.0)),
        relative_impact_speed_kph: speeds.map(|s| r6(s.1)),
        impact_point_in_ego_m: r
            .collision
            .as_ref()
            .map(|c| [r6(c.impact_point_in_ego_m.0), r6(c.impact_point_in_ego_m.1)]),
        end_reason: r.end_reason.as_str(),
        end_time_s: r6(r.end_time_s),
        min_ttc_s: r.min_ttc_s.map(r6),
        min_gap_m: r.min_gap_m.map(r6),
        first_warning_s: r.first_warning_s.map(r6),
        first_brake_s: r.first_brake_s.map(r6),
        max_decel_mps2: r6(r.max_decel_mps2),
        ego_speed_end_kph: r6(r.ego_speed_end_mps * 3.6),
        sut_error: r.sut_error.clone(),
    }
}

fn param_json(p: &Param) -> serde_json::Value {
    match p {
        Param::Number(x) => serde_json::Number::from_f64(*x)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Param::Word(w) => serde_json::Value::String(w.clone()),
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
        verdict: r.verdict.as_str(),
        reasons: r.reasons.clone(),
        metrics: metrics_of(&r.result),
    }
}

pub fn case_entry(case: &Case, result: &CaseResult, sut: &str) -> CaseEntry {
    CaseEntry {
        id: case.id.clone(),
        scenario: display_path(&case.scenario_path),
        params: case
            .params
            .iter()
            .map(|(k, v)| (k.clone(), param_json(v)))
            .collect(),
        sut: sut.to_string(),
        verdict: result.verdict.as_str(),
        reasons: result.reasons.clone(),
        metrics: result
            .runs
            .first()
            .map(|r| metrics_of(&r.result))
            // Every case has at least one run (`repeats.runs` ≥ 1 is checked on input).
            .expect("a case has at least one run"),
        runs: result.runs.iter().map(run_entry).collect(),
    }
}

pub fn summarize(entries: &[CaseEntry]) -> Summary {
    count_verdicts(entries.iter().map(|e| e.verdict))
}

/// Cases grouped by scenario file (sorted by path), each group in report order.
pub fn by_scenario(cases: &[CaseEntry]) -> BTreeMap<&str, Vec<&CaseEntry>> {
    let mut groups: BTreeMap<&str, Vec<&CaseEntry>> = BTreeMap::new();
    for case in cases {
        groups.entry(case.scenario.as_str()).or_default().push(case);
    }
    groups
}

/// Counts verdicts: anything but `pass` and `fail` is an error.
fn count_verdicts<'a>(verdicts: impl IntoIterator<Item = &'a str>) -> Summary {
    let mut s = Summary::default();
    for v in verdicts {
        s.cases += 1;
        match v {
            "pass" => s.pass += 1,
            "fail" => s.fail += 1,
            _ => s.error += 1,
        }
    }
    s
}

/// Builds the report: cases sorted by ID, summary computed after sorting.
pub fn build_report(seed: u64, sut: &str, mut entries: Vec<CaseEntry>) -> ReportFile<'static> {
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let summary = summarize(&entries);
    ReportFile {
        schema_version: SCHEMA_VERSION,
        harness_version: HARNESS_VERSION,
        seed,
        sut: sut.to_string(),
        cases: entries,
        summary,
    }
}

/// Writes `report.json` atomically (temporary file, then rename).
pub fn write_report(dir: &Path, report: &ReportFile<'_>) -> io::Result<PathBuf> {
    let mut text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    text.push('\n');
    write_atomically(dir, "report.json", text.as_bytes())
}

/// Writes `junit.xml` atomically (temporary file, then rename).
pub fn write_junit(dir: &Path, report: &ReportFile<'_>) -> io::Result<PathBuf> {
    write_atomically(dir, "junit.xml", &junit_xml(report)?)
}

/// Writes `summary.md` atomically (temporary file, then rename).
pub fn write_summary(dir: &Path, report: &ReportFile<'_>) -> io::Result<PathBuf> {
    write_atomically(dir, "summary.md", summary_md(report).as_bytes())
}

/// Writes `dir/name` through `dir/.name.tmp` and a rename, so that readers never see half a file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Appends one line per finished case to `cases.jsonl`, flushed as it is written.
pub struct CasesLog {
    file: File,
}

impl CasesLog {
    pub fn create(dir: &Path) -> io::Result<CasesLog> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(dir.join("cases.jsonl"))?;
        Ok(CasesLog { file })
    }
    pub fn append(&mut self, entry: &CaseEntry) -> io::Result<()> {
        let mut line = serde_json::to_string(entry).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }
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
pub fn write_trace(dir: &Path, case: &Case, result: &CaseResult) -> io::Result<()> {
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
    w.flush()
}

/// Whether every case passed.
pub fn all_passed(results: &[CaseResult]) -> bool {
    results.iter().all(|r| r.verdict == Verdict::Pass)
}
