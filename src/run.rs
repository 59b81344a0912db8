//! Running a suite: cases in batches across threads, repeats and retries, verdicts.
//!
//! Until the evaluator lands, a run fails on any collision and errors when the system under
//! test misbehaves; a case passes when at least `runs` of its runs pass, using up to `retries`
//! extra runs (UN R152: 2 runs + 1 retry).

use rayon::prelude::*;

use crate::scenario::Case;
use crate::sim::{self, EndReason, RunResult, RunSpec, SimOptions};
use crate::sut::SutSpec;

/// How to run a suite.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub sut: SutSpec,
    pub sim: SimOptions,
    /// Worker threads (0: one per core).
    pub jobs: usize,
    /// Cases stepped together in one lockstep batch.
    pub batch_size: usize,
}

/// Verdict of a case or a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
    Fail,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

/// A judged run.
#[derive(Clone, Debug)]
pub struct JudgedRun {
    pub result: RunResult,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Index into the suite's cases.
    pub case_index: usize,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub runs: Vec<JudgedRun>,
}

/// Judges one run (until the evaluator: collisions fail, system errors are errors).
pub fn judge_run(result: RunResult) -> JudgedRun {
    let mut reasons = Vec::new();
    let verdict = match (&result.end_reason, &result.collision, &result.sut_error) {
        (EndReason::SutError, _, err) => {
            reasons.push(format!(
                "system under test error at {:.2} s: {}",
                result.end_time_s,
                err.as_deref().unwrap_or("unknown")
            ));
            Verdict::Error
        }
        (_, Some(c), _) => {
            let (ego_kph, rel_kph) = sim::impact_speeds_kph(c);
            reasons.push(format!(
                "collision with `{}` at {:.2} s: relative impact speed {:.1} km/h (ego {:.1} km/h)",
                c.actor_id, c.time_s, rel_kph, ego_kph
            ));
            Verdict::Fail
        }
        _ => Verdict::Pass,
    };
    JudgedRun {
        result,
        verdict,
        reasons,
    }
}

fn specs<'a>(cases: &'a [Case], sut: &SutSpec, wanted: &[(usize, u32)]) -> Vec<RunSpec<'a>> {
    wanted
        .iter()
        .map(|&(i, run_index)| RunSpec {
            scenario: &cases[i].model,
            case_id: &cases[i].id,
            run_index,
            system: sut.instantiate(),
        })
        .collect()
}

/// Runs one batch of cases to their verdicts, retries included.
fn run_cases(cases: &[Case], indices: &[usize], config: &RunConfig) -> Vec<CaseResult> {
    // Runs are listed by slot (position in `indices`), so results go back without searching.
    let by_case = |wanted: &[(usize, u32)]| -> Vec<(usize, u32)> {
        wanted
            .iter()
            .map(|&(slot, run)| (indices[slot], run))
            .collect()
    };
    let first: Vec<(usize, u32)> = indices
        .iter()
        .enumerate()
        .flat_map(|(slot, &i)| (0..cases[i].model.runs).map(move |r| (slot, r)))
        .collect();
    let results = sim::run_batch(specs(cases, &config.sut, &by_case(&first)), &config.sim);
    let mut per_case: Vec<Vec<JudgedRun>> = vec![Vec::new(); indices.len()];
    for (&(slot, _), r) in first.iter().zip(results) {
        per_case[slot].push(judge_run(r));
    }
    // Retries for failed runs, as many as allowed.
    let mut retry: Vec<(usize, u32)> = Vec::new();
    for (slot, &i) in indices.iter().enumerate() {
        let m = &cases[i].model;
        let failed = per_case[slot]
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .count() as u32;
        let errored = per_case[slot].iter().any(|r| r.verdict == Verdict::Error);
        if !errored {
            for k in 0..failed.min(m.retries) {
                retry.push((slot, m.runs + k));
            }
        }
    }
    if !retry.is_empty() {
        let results = sim::run_batch(specs(cases, &config.sut, &by_case(&retry)), &config.sim);
        for (&(slot, _), r) in retry.iter().zip(results) {
            per_case[slot].push(judge_run(r));
        }
    }
    indices
        .iter()
        .zip(per_case)
        .map(|(&i, runs)| {
            let needed = cases[i].model.runs as usize;
            let passes = runs.iter().filter(|r| r.verdict == Verdict::Pass).count();
            let verdict = if runs.iter().any(|r| r.verdict == Verdict::Error) {
                Verdict::Error
            } else if passes >= needed {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let mut reasons = Vec::new();
            for r in runs.iter().filter(|r| r.verdict != Verdict::Pass) {
                for reason in &r.reasons {
                    reasons.push(if runs.len() > 1 {
                        format!("run {}: {reason}", r.result.run_index + 1)
                    } else {
                        reason.clone()
                    });
                }
            }
            if verdict == Verdict::Pass && !reasons.is_empty() {
                reasons.insert(
                    0,
                    format!("passed {passes} of {} runs ({needed} required)", runs.len()),
                );
            }
            CaseResult {
                case_index: i,
                verdict,
                reasons,
                runs,
            }
        })
        .collect()
}

/// Runs every case; `on_done` is called as each batch of cases finishes (from worker threads).
/// The returned results are in case order whatever the thread count.
pub fn run_suite(
    cases: &[Case],
    config: &RunConfig,
    on_done: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    let indices: Vec<usize> = (0..cases.len()).collect();
    let batch = config.batch_size.max(1);
    let work = || -> Vec<CaseResult> {
        let mut all: Vec<CaseResult> = indices
            .par_chunks(batch)
            .flat_map_iter(|chunk| {
                let results = run_cases(cases, chunk, config);
                for r in &results {
                    on_done(r);
                }
                results
            })
            .collect();
        all.sort_by_key(|r| r.case_index);
        all
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(config.jobs)
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}
