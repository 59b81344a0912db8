//! Running a suite: cases in batches across threads, reference-driver runs, repeats and
//! retries, and each run judged by its threshold-pack rule as it finishes (`eval::judge`).
//!
//! A case passes when at least `runs` of its runs pass, using up to `retries` extra runs after
//! failed ones (UN R152: 2 runs + 1 retry); a run that ends in an error makes the case an error.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::eval::detection::{self, DetectionConfig};
use crate::eval::judge::{self, CaseFacts, Judging, MetricMap, Packs, RunFacts, RunJudgement};
use crate::eval::localization;
use crate::eval::metrics::{self, MetricsConfig};
use crate::gpu::{DeviceChoice, FrameRenderer, GpuError};
use crate::scenario::{BuiltCase, Case};
use crate::sim::{self, RunResult, RunSpec, SimOptions};
use crate::sut::{SutSpec, Systems};
use crate::thresholds::Colour;

/// How to run a suite.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub sut: SutSpec,
    /// `record_trace` here only decides whether traces are kept for `--traces`: every run is
    /// simulated with a trace, since the metrics need it.
    pub sim: SimOptions,
    /// Worker threads (0: one per core).
    pub jobs: usize,
    /// Cases stepped together in one lockstep batch.
    pub batch_size: usize,
    /// The packs that judge the cases.
    pub packs: Packs,
    pub metrics: MetricsConfig,
    pub detection: DetectionConfig,
    /// What renders camera frames for systems that see through cameras.
    pub renderers: std::sync::Arc<Renderers>,
}

/// The renderers of a suite's workers: one per worker that needs frames, made on first use
/// with the suite's `--device` and kept for the next batch (only systems that see through
/// cameras ever ask for one).
pub struct Renderers {
    device: DeviceChoice,
    idle: Mutex<Vec<FrameRenderer>>,
}

impl std::fmt::Debug for Renderers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderers")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Default for Renderers {
    fn default() -> Self {
        Renderers::new(DeviceChoice::Cpu)
    }
}

impl Renderers {
    pub fn new(device: DeviceChoice) -> Renderers {
        Renderers {
            device,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A pool that starts with `first` (made by the caller to check the device and name it).
    pub fn starting_with(device: DeviceChoice, first: FrameRenderer) -> Renderers {
        Renderers {
            device,
            idle: Mutex::new(vec![first]),
        }
    }

    /// An idle renderer, or a new one.
    fn take(&self) -> Result<FrameRenderer, GpuError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(r) => Ok(r),
            None => FrameRenderer::new(self.device),
        }
    }

    fn give_back(&self, renderer: FrameRenderer) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(renderer);
        }
    }
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

    /// The verdict named `s` (`pass`, `fail`, `error`).
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "pass" => Some(Verdict::Pass),
            "fail" => Some(Verdict::Fail),
            "error" => Some(Verdict::Error),
            _ => None,
        }
    }
}

/// A judged run.
#[derive(Clone, Debug)]
pub struct JudgedRun {
    /// The simulation's outcome (its trace only with `--traces`).
    pub result: RunResult,
    pub metrics: MetricMap,
    pub judgement: RunJudgement,
}

impl JudgedRun {
    pub fn verdict(&self) -> Verdict {
        self.judgement.verdict
    }
}

/// The pack and rule that judged a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgedBy {
    pub pack: String,
    pub version: String,
    pub status: String,
    pub rule: String,
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Index into the suite's cases.
    pub case_index: usize,
    pub verdict: Verdict,
    pub colour: Option<Colour>,
    pub reasons: Vec<String>,
    pub runs: Vec<JudgedRun>,
    pub facts: CaseFacts,
    /// `None`: the harness default (no collision), or a rule that could not be found.
    pub judged_by: Option<JudgedBy>,
}

/// The facts of a run that its judgement needs.
pub fn run_facts(r: &RunResult) -> RunFacts {
    RunFacts {
        run_index: r.run_index,
        sut_error: r.sut_error.clone(),
        end_time_s: judge::r6(r.end_time_s),
        collision_actor: r.collision.as_ref().map(|c| c.actor_id.clone()),
        collision_time_s: r.collision.as_ref().map(|c| judge::r6(c.time_s)),
    }
}

/// Who judges a case, as reports name it.
pub fn judged_by(judging: Judging<'_>) -> Option<JudgedBy> {
    match judging {
        Judging::Rule { pack, rule } => Some(JudgedBy {
            pack: pack.id.clone(),
            version: pack.version.clone(),
            status: crate::thresholds::status_name(rule.status).to_string(),
            rule: rule.id.clone(),
        }),
        _ => None,
    }
}

/// Simulates the wanted runs (case index, run index) in lockstep batches of as many runs as
/// the systems allow at once (a process system: its batch size), results in the order wanted.
/// A batch whose process faulted ends its runs in errors; the next batch gets a fresh process.
fn simulate(
    cases: &[BuiltCase],
    systems: &Systems,
    wanted: &[(usize, u32)],
    options: &SimOptions,
    renderers: &Renderers,
) -> Vec<RunResult> {
    let mut results = Vec::with_capacity(wanted.len());
    // A renderer only for systems that see through cameras; if none can be made, the
    // CPU reference renders (a `--device gpu` without an adapter is refused before the run).
    let mut renderer = systems
        .wants_frames()
        .then(|| renderers.take().unwrap_or(FrameRenderer::Cpu));
    for batch in wanted.chunks(systems.runs_at_once()) {
        let mut group = systems.group();
        let specs = batch
            .iter()
            .map(|&(i, run_index)| RunSpec {
                scenario: &cases[i].model,
                case_id: &cases[i].id,
                run_index,
                system: group.system(&cases[i].id, run_index),
            })
            .collect();
        let batch_results = match &mut renderer {
            Some(r) => sim::run_batch_rendering(specs, options, r),
            None => sim::run_batch(specs, options),
        };
        group.finish(&batch_results);
        results.extend(batch_results);
    }
    if let Some(r) = renderer {
        renderers.give_back(r);
    }
    results
}

/// Runs one batch of cases to their verdicts, reference runs and retries included.
fn run_cases(
    cases: &[BuiltCase],
    indices: &[usize],
    config: &RunConfig,
    systems: &Systems,
) -> Vec<CaseResult> {
    let sim_options = SimOptions {
        record_trace: true,
        ..config.sim.clone()
    };
    let keep_traces = config.sim.record_trace;
    let by_case = |wanted: &[(usize, u32)]| -> Vec<(usize, u32)> {
        wanted
            .iter()
            .map(|&(slot, run)| (indices[slot], run))
            .collect()
    };
    let resolved: Vec<_> = indices
        .iter()
        .map(|&i| config.packs.resolve(cases[i].model.judge.as_ref()))
        .collect();
    let mut facts: Vec<CaseFacts> = indices
        .iter()
        .map(|&i| {
            let m = &cases[i].model;
            CaseFacts {
                ego_speed_kph: judge::r6(m.ego.speed_mps * 3.6),
                vehicle_category: Some(m.ego.category.as_str().to_string()),
                runs_required: m.runs,
                reference_collided: Default::default(),
            }
        })
        .collect();

    // Reference driver models (UN R157's careful driver) on the same cases, first run only.
    let mut models: Vec<String> = Vec::new();
    for (judging, _) in &resolved {
        if let Judging::Rule { pack, rule } = judging {
            for m in judge::reference_models(pack, rule) {
                if !models.contains(&m) {
                    models.push(m);
                }
            }
        }
    }
    for model in &models {
        let wanted: Vec<(usize, u32)> = resolved
            .iter()
            .enumerate()
            .filter(|(_, (j, _))| match j {
                Judging::Rule { pack, rule } => judge::reference_models(pack, rule).contains(model),
                _ => false,
            })
            .map(|(slot, _)| (slot, 0))
            .collect();
        // An unknown model leaves the case without a reference result: the rule says so.
        let Ok(spec) = SutSpec::parse(&format!("builtin:{model}")) else {
            continue;
        };
        // Reference models run at the scenario's own rate, whatever the system under test asks.
        let plain = SimOptions {
            record_trace: false,
            sut_rate_hz: None,
            ..config.sim.clone()
        };
        let results = simulate(
            cases,
            &Systems::new(&spec),
            &by_case(&wanted),
            &plain,
            &config.renderers,
        );
        for (&(slot, _), r) in wanted.iter().zip(results) {
            if r.sut_error.is_none() {
                facts[slot]
                    .reference_collided
                    .insert(model.clone(), r.collision.is_some());
            }
        }
    }

    let judge_one = |slot: usize, mut result: RunResult| -> JudgedRun {
        let case = &cases[indices[slot]];
        let m = metrics::compute(&case.model, &result, &config.metrics);
        let mut metrics = MetricMap::from_metrics(&m);
        if let (Some(samples), Some(receiver)) = (&result.localization, &case.model.gnss) {
            let loc = localization::compute(samples, receiver.alert_limit_m);
            localization::insert_metrics(&mut metrics, &loc);
        }
        // Runs that were handed camera frames are scored on their detections too.
        if let Some(frames) = result.frames_scored.take() {
            detection::run_metrics(&frames, &config.detection).insert_into(&mut metrics);
        }
        let (judging, why) = &resolved[slot];
        let judgement = judge::judge_run(
            *judging,
            why.as_deref(),
            &run_facts(&result),
            &metrics,
            &facts[slot],
        );
        if !keep_traces {
            result.trace = None;
            result.localization = None;
        }
        JudgedRun {
            result,
            metrics,
            judgement,
        }
    };

    let first: Vec<(usize, u32)> = indices
        .iter()
        .enumerate()
        .flat_map(|(slot, &i)| (0..cases[i].model.runs).map(move |r| (slot, r)))
        .collect();
    let results = simulate(
        cases,
        systems,
        &by_case(&first),
        &sim_options,
        &config.renderers,
    );
    let mut per_case: Vec<Vec<JudgedRun>> = vec![Vec::new(); indices.len()];
    for (&(slot, _), r) in first.iter().zip(results) {
        per_case[slot].push(judge_one(slot, r));
    }
    // Retries for failed runs, as many as allowed.
    let mut retry: Vec<(usize, u32)> = Vec::new();
    for (slot, &i) in indices.iter().enumerate() {
        let m = &cases[i].model;
        let failed = per_case[slot]
            .iter()
            .filter(|r| r.verdict() == Verdict::Fail)
            .count() as u32;
        let errored = per_case[slot].iter().any(|r| r.verdict() == Verdict::Error);
        if !errored {
            for k in 0..failed.min(m.retries) {
                retry.push((slot, m.runs + k));
            }
        }
    }
    if !retry.is_empty() {
        let results = simulate(
            cases,
            systems,
            &by_case(&retry),
            &sim_options,
            &config.renderers,
        );
        for (&(slot, _), r) in retry.iter().zip(results) {
            per_case[slot].push(judge_one(slot, r));
        }
    }
    indices
        .iter()
        .enumerate()
        .zip(per_case)
        .zip(facts)
        .map(|(((slot, &i), runs), facts)| {
            let judged: Vec<(u32, &RunJudgement)> = runs
                .iter()
                .map(|r| (r.result.run_index, &r.judgement))
                .collect();
            let (verdict, colour, reasons) = judge::case_verdict(&judged, facts.runs_required);
            CaseResult {
                case_index: i,
                verdict,
                colour,
                reasons,
                runs,
                facts,
                judged_by: judged_by(resolved[slot].0),
            }
        })
        .collect()
}

/// Runs every case; `on_done` is called as each case finishes (from worker threads), with the
/// case as built for its run, and is the only one to see the traces (with `record_trace`). The
/// returned results are in case order whatever the thread count, without traces.
pub fn run_suite(
    cases: &[Case],
    config: &RunConfig,
    on_done: &(dyn Fn(&BuiltCase, &CaseResult) + Sync),
) -> Vec<CaseResult> {
    let mut all = drive(cases, config, on_done, true);
    all.sort_by_key(|r| r.case_index);
    all
}

/// Runs every case like `run_suite` but keeps nothing: `on_done` is the only consumer of the
/// results, so memory does not grow with the number of cases.
pub fn run_suite_streamed(
    cases: &[Case],
    config: &RunConfig,
    on_done: &(dyn Fn(&BuiltCase, &CaseResult) + Sync),
) {
    drive(cases, config, on_done, false);
}

fn drive(
    cases: &[Case],
    config: &RunConfig,
    on_done: &(dyn Fn(&BuiltCase, &CaseResult) + Sync),
    keep: bool,
) -> Vec<CaseResult> {
    let indices: Vec<usize> = (0..cases.len()).collect();
    let batch = config.batch_size.max(1);
    // One process per worker for a process system (kept in a pool and restarted after a
    // fault); every process is closed when the suite ends.
    let systems = Systems::new(&config.sut);
    let work = || -> Vec<CaseResult> {
        indices
            .par_chunks(batch)
            .flat_map_iter(|chunk| {
                // Models are built here, for this batch only, and dropped with it.
                let built: Vec<BuiltCase> = chunk.iter().map(|&i| cases[i].build()).collect();
                let slots: Vec<usize> = (0..chunk.len()).collect();
                let mut results = run_cases(&built, &slots, config, &systems);
                for r in &mut results {
                    let slot = r.case_index;
                    r.case_index = chunk[slot];
                    on_done(&built[slot], r);
                    // Traces go to `on_done` (`--traces` writes them) and no further, so that
                    // memory does not grow with the number of cases.
                    for run in &mut r.runs {
                        run.result.trace = None;
                        run.result.localization = None;
                    }
                }
                if !keep {
                    results.clear();
                }
                results
            })
            .collect()
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(config.jobs)
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}
