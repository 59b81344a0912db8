//! The `gauntlet` command line: parses arguments, runs one command, maps outcomes to exit codes.
//!
//! Exit codes (see `conventions.md`): 0 success, 1 a case failed, 2 the harness could not do
//! what was asked (invalid input, missing file, …).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gauntlet::scenario::{self, schema};

/// Gauntlet: test driving-assistance systems against protocol scenarios.
#[derive(Parser, Debug)]
#[command(name = "gauntlet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check scenario files (and directories of them) without running anything.
    Validate {
        /// Files or directories (searched recursively for .toml files).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
    /// Print every expanded case: its ID, then all parameter values.
    List {
        /// Files or directories (searched recursively for .toml files).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of scenario files (for editor completion).
    Schema,
    /// Run scenarios in closed loop against a system under test and write reports.
    Run(RunArgs),
    /// Render camera frames of one case (closed loop with `builtin:none`): colour and KITTI depth
    /// PNGs, KITTI labels, one COCO JSON and a contact sheet; `--dataset NAME` adds the case to
    /// a labelled dataset with a manifest.
    Render(RenderArgs),
    /// Corrupt camera frames: every PNG and JPEG under a directory (recursively) through a chain
    /// of ImageNet-C corruptions (`-p NAME:SEVERITY` or `-p NAME:PARAM=VALUE`, applied in
    /// order), written as `OUT/<same relative path>.png`.
    Perturb(PerturbArgs),
    /// Print the device that renders with `--device auto|gpu|cpu` (adapter name, backend,
    /// driver, or `cpu`).
    Devices {
        #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
        device: String,
    },
    /// Judge a finished run again from its saved metrics (no simulation) and rewrite its
    /// reports: after editing a threshold pack, or to compare a draft (`--thresholds`).
    Judge {
        /// The output directory of a run (holding `report.json`).
        dir: PathBuf,
        /// Judge by this threshold pack instead of the packs each scenario names.
        #[arg(long, value_name = "PACK.toml")]
        thresholds: Option<PathBuf>,
    },
    /// Simulate a BeiDou receiver (static at a site) and write its fixes as CSV and NMEA.
    Gnss(GnssArgs),
    /// Compare two runs of the same suite (e.g. two releases of a system under test): verdict
    /// changes, new collisions, pass rate per pack with McNemar's exact test, Euro NCAP colours
    /// and points, metric changes. Exit 0: no significant regression; 1: regression; 2: the
    /// reports cannot be compared.
    Diff {
        /// The earlier run: its `report.json` or output directory.
        base: PathBuf,
        /// The later run: its `report.json` or output directory.
        new: PathBuf,
        /// Also write the Markdown (for a pull-request comment) to this file.
        #[arg(long, value_name = "FILE")]
        md: Option<PathBuf>,
        /// One-sided significance level of a pass-rate drop, split over the groups tested.
        #[arg(long, default_value_t = gauntlet::diff::DEFAULT_ALPHA)]
        alpha: f64,
    },
    /// Pass rate of each system in the reports as a function of a candidate threshold of one
    /// rule, re-judged from the saved metrics (no simulation): a table, a CSV and an SVG curve,
    /// and the strictest value at which a share of the systems passes.
    Calibrate(CalibrateArgs),
    /// Merge the reports of all shards of a run (`run --shard K/N`) into the report of the
    /// whole run: the same bytes as an unsharded run.
    Merge {
        /// `report.json` files or the output directories holding them, one per shard.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Arguments of `gauntlet calibrate`.
#[derive(clap::Args, Debug)]
struct CalibrateArgs {
    /// The rule whose threshold is varied, `PACK:RULE` (for example `un-r152-m1:pedestrian`).
    #[arg(long, value_name = "PACK:RULE")]
    rule: String,
    /// Candidate values `A..B` (for tables and bands: the offset added to every entry).
    #[arg(long, value_name = "A..B", allow_hyphen_values = true)]
    range: String,
    /// Step between candidate values.
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    step: String,
    /// The share of systems that must pass, `0.8` or `80%` (default: all of them).
    #[arg(long, value_name = "P", default_value = "1")]
    share: String,
    /// A system passes a candidate when at least this share of its cases pass, `0.9` or `90%`
    /// (default: every case).
    #[arg(long, value_name = "R", default_value = "1")]
    min_pass_rate: String,
    /// Output directory: `calibration.md`, `calibration.csv`, `calibration.svg`.
    #[arg(long, default_value = "gauntlet-calibrate")]
    out: PathBuf,
    /// `report.json` files or run directories, one or more per system under test.
    #[arg(required = true)]
    reports: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario files or directories (searched recursively for .toml files).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The system under test: `builtin:NAME` (none, aeb, aeb-vision, acc, lka, lka-gnss, careful-driver, rss,
    /// always-brake), `exec:PATH` (a program speaking the process protocol of
    /// docs/sut-protocol.md, started without arguments) or a manifest `FILE.toml`
    /// (`kind = "sut"`: command, arguments, environment, time-outs).
    #[arg(long, default_value = "builtin:none")]
    sut: String,
    /// Output directory.
    #[arg(long, default_value = "gauntlet-out")]
    out: PathBuf,
    /// Seed of all noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Keep the cases whose ID matches this case-insensitive glob (`*` any run, `?` one char).
    #[arg(long)]
    filter: Option<String>,
    /// Write `traces/<case-id>.csv` for every case.
    #[arg(long)]
    traces: bool,
    /// Judge by this threshold pack instead of the packs each scenario names (rules are
    /// looked up by the id the scenario's `[judge] rule` gives).
    #[arg(long, value_name = "PACK.toml")]
    thresholds: Option<PathBuf>,
    /// Run only shard K of N (K from 1; `auto/N` takes K from `JOB_COMPLETION_INDEX` or
    /// `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN`). Merge the shards with `gauntlet merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Go on with an interrupted run in `--out`: run only the cases missing from its
    /// `cases.jsonl` (refused if the inputs changed).
    #[arg(long)]
    resume: bool,
    /// Which device renders the camera frames of systems that see through cameras
    /// (`builtin:aeb-vision`); other systems render nothing.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    device: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A closed pipe (`gauntlet list … | head`) is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gauntlet: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Schema => {
            out.write_all(schema::editor_schema_text().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { paths, strict } => {
            let loaded = scenario::load_paths(&paths);
            eprint!("{}", loaded.diagnostics);
            let errors = loaded.diagnostics.n_errors();
            let warnings = loaded.diagnostics.n_warnings();
            let failed = errors > 0 || (strict && warnings > 0);
            writeln!(
                out,
                "{}: {} scenario file(s), {} case(s), {} threshold pack(s), {} system manifest(s), {} other file(s) skipped; {errors} error(s), {warnings} warning(s){}",
                if failed { "invalid" } else { "ok" },
                loaded.scenario_files.len(),
                loaded.cases.len(),
                loaded.packs.len(),
                loaded.sut_manifests.len(),
                loaded.skipped_files.len(),
                if strict && warnings > 0 && errors == 0 {
                    " (--strict: warnings count as errors)"
                } else {
                    ""
                },
            )?;
            Ok(if failed {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Run(args) => run_command(args),
        Command::Render(args) => render_command(args),
        Command::Perturb(args) => perturb_command(args),
        Command::Devices { device } => {
            let choice = gauntlet::gpu::DeviceChoice::parse(&device).unwrap_or_default();
            match gauntlet::gpu::FrameRenderer::new(choice) {
                Ok(r) => {
                    writeln!(out, "{}", r.describe())?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("gauntlet: error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Judge { dir, thresholds } => judge_command(&dir, thresholds.as_deref()),
        Command::Gnss(args) => gnss_command(args),
        Command::Merge { reports, out } => merge_command(&reports, &out),
        Command::Diff {
            base,
            new,
            md,
            alpha,
        } => diff_command(&base, &new, md.as_deref(), alpha),
        Command::Calibrate(args) => calibrate_command(args),
        Command::List { paths } => {
            let loaded = scenario::load_paths(&paths);
            eprint!("{}", loaded.diagnostics);
            if loaded.diagnostics.has_errors() {
                eprintln!(
                    "gauntlet: {} error(s); nothing listed",
                    loaded.diagnostics.n_errors()
                );
                return Ok(ExitCode::from(2));
            }
            for case in &loaded.cases {
                let params: Vec<String> = case
                    .params()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                writeln!(out, "{}\t{}", case.id, params.join(" "))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_command(args: RunArgs) -> anyhow::Result<ExitCode> {
    use gauntlet::report::CaseSource;
    use gauntlet::{report, run, sim, sut};
    use std::io::IsTerminal;
    use std::sync::Mutex;

    let started = std::time::SystemTime::now();
    let clock = std::time::Instant::now();
    let sut_spec = match sut::SutSpec::parse(&args.sut) {
        // Per-case logs of a process system's failed runs go under `--out`.
        Ok(s) => s.with_log_dir(&args.out.join("sut-logs")),
        Err(sut::SutSpecError::Manifest(diags)) => {
            for d in &diags {
                eprint!("{d}");
            }
            eprintln!(
                "gauntlet: error: --sut {}: invalid system manifest",
                args.sut
            );
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("gauntlet: error: --sut: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let loaded = scenario::load_paths(&args.paths);
    eprint!("{}", loaded.diagnostics);
    if loaded.diagnostics.has_errors() {
        eprintln!(
            "gauntlet: {} error(s) in the inputs; nothing was run",
            loaded.diagnostics.n_errors()
        );
        return Ok(ExitCode::from(2));
    }
    let mut packs = match builtin_packs() {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    for (file, pack) in &loaded.packs {
        packs.add_input(file, pack.clone());
    }
    if let Some(file) = &args.thresholds {
        match gauntlet::thresholds::load_pack(file) {
            Ok(pack) => packs.set_override(file, pack),
            Err(diags) => return Ok(pack_errors(&diags)),
        }
    }
    let mut cases = loaded.cases;
    if let Some(pattern) = &args.filter {
        let glob = globset::GlobBuilder::new(pattern)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .map_err(|e| anyhow::anyhow!("--filter {pattern:?}: {e}"));
        let matcher = match glob {
            Ok(g) => g.compile_matcher(),
            Err(e) => {
                eprintln!("gauntlet: error: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        cases.retain(|c| matcher.is_match(&c.id));
        if cases.is_empty() {
            eprintln!("gauntlet: error: --filter {pattern:?} matches no case");
            return Ok(ExitCode::from(2));
        }
    }
    let shard = match args
        .shard
        .as_deref()
        .map(|spec| gauntlet::shard::Shard::parse(spec, &|name| std::env::var(name).ok()))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("gauntlet: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if cases.is_empty() {
        eprintln!("gauntlet: error: no cases to run");
        return Ok(ExitCode::from(2));
    }
    if let Some(code) = check_sut_rate(&sut_spec, &cases) {
        return Ok(code);
    }
    if let Some(code) = check_cameras(&sut_spec, &cases) {
        return Ok(code);
    }
    // Frames are rendered only for systems that see through cameras; the first renderer is
    // made here so that `--device gpu` without an adapter stops the run before it starts.
    let (renderers, device) = if sut_spec.wants_frames() {
        let choice = gauntlet::gpu::DeviceChoice::parse(&args.device).unwrap_or_default();
        let renderer = match gauntlet::gpu::FrameRenderer::new(choice) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("gauntlet: error: --device {}: {e}", args.device);
                return Ok(ExitCode::from(2));
            }
        };
        let device = renderer.describe();
        eprintln!("gauntlet: rendering on {device}");
        (
            std::sync::Arc::new(run::Renderers::starting_with(choice, renderer)),
            device,
        )
    } else {
        (std::sync::Arc::default(), "cpu".to_string())
    };
    let total_cases = cases.len();
    let inputs_hash =
        gauntlet::shard::inputs_hash(&cases, &packs, args.seed, &sut_spec.identity())?;
    let suite_hash = gauntlet::shard::suite_hash(&cases, &packs)?;
    if let Some(shard) = shard {
        // A shard with no cases is a valid, empty result.
        cases.retain(|c| shard.contains(&c.id));
    }
    std::fs::create_dir_all(&args.out)?;
    let sut_name = sut_spec.to_string();
    let scenario_files = gauntlet::shard::scenario_file_hashes(&cases)?;
    let resume_check = gauntlet::shard::ResumeCheck {
        harness_version: report::HARNESS_VERSION,
        inputs_hash: &inputs_hash,
        seed: args.seed,
        sut: &sut_name,
        shard,
        scenario_files: &scenario_files,
    };
    let log_path = args.out.join("cases.jsonl");
    let mut store: Option<report::CaseStore> = None;
    if args.resume {
        let ids: std::collections::HashSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let read =
            match report::store::read_lines(&log_path, &mut |_, e| resume_check.check(e, &ids)) {
                Ok(read) => read,
                Err(e) => {
                    eprintln!("gauntlet: error: --resume: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
        if read.torn_tail {
            eprintln!(
                "gauntlet: {}: ignoring a torn last line (its case runs again)",
                log_path.display()
            );
        }
        if read.slots.is_empty() {
            eprintln!(
                "gauntlet: nothing to resume in {}; starting the run",
                args.out.display()
            );
        } else {
            store = Some(report::CaseStore::reopen(
                &log_path,
                read.valid_len,
                read.slots,
            )?);
        }
    }
    let store = match store {
        Some(s) => s,
        None => report::CaseStore::create(&log_path)?,
    };
    let already_done = store.count();
    if already_done > 0 {
        let done: std::collections::HashSet<&str> = store.ids().collect();
        cases.retain(|c| !done.contains(c.id.as_str()));
    }
    let jobs = args.jobs.unwrap_or(0);
    let config = run::RunConfig {
        sut: sut_spec.clone(),
        sim: sim::SimOptions {
            seed: args.seed,
            record_trace: args.traces,
            sut_rate_hz: sut_spec.rate_hz(),
            ..sim::SimOptions::default()
        },
        jobs,
        batch_size: 16,
        packs: packs.clone(),
        metrics: gauntlet::eval::metrics::MetricsConfig::default(),
        detection: gauntlet::eval::detection::DetectionConfig::default(),
        renderers,
    };
    eprintln!(
        "gauntlet: running {} case(s) with {sut_name} on {device}{}{}",
        cases.len(),
        shard.map_or(String::new(), |s| format!(
            ", shard {s} of {total_cases} case(s)"
        )),
        if already_done == 0 {
            String::new()
        } else {
            format!(", {already_done} already done")
        }
    );

    // Each finished case's entry goes to `cases.jsonl` and nowhere else: the reports are
    // written from that file at the end.
    let log = Mutex::new(store);
    let log_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        let bar = indicatif::ProgressBar::new(cases.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} cases  {elapsed} elapsed, {eta} left  {msg}",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let n_cases = cases.len();
    let on_done = |case: &scenario::BuiltCase, r: &run::CaseResult| {
        let mut entry = report::case_entry(case, r, &sut_name);
        entry.resume = Some(resume_check.key_for(&entry.scenario));
        if let Ok(mut log) = log.lock() {
            if let Err(e) = log.append(&entry) {
                if let Ok(mut slot) = log_error.lock() {
                    slot.get_or_insert(e);
                }
            }
        }
        if args.traces {
            if let Err(e) = report::write_trace(&args.out, case, r) {
                if let Ok(mut slot) = log_error.lock() {
                    slot.get_or_insert(e);
                }
            }
        }
        let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        match &bar {
            Some(bar) => {
                bar.inc(1);
                if r.verdict != run::Verdict::Pass {
                    bar.set_message(format!("last {}: {}", r.verdict.as_str(), case.id));
                }
            }
            None => eprintln!("[{k}/{n_cases}] {} {}", r.verdict.as_str(), case.id),
        }
    };
    run::run_suite_streamed(&cases, &config, &on_done);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(e) = log_error.into_inner().ok().flatten() {
        return Err(anyhow::anyhow!(
            "writing results to {}: {e}",
            args.out.display()
        ));
    }

    let mut store = log
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
    if store.count() != already_done + cases.len() {
        anyhow::bail!(
            "{} of {} case(s) finished: a worker thread stopped early",
            store.count() - already_done,
            cases.len()
        );
    }
    drop(cases);
    store.sort_by_id();
    store.dedup_ids();
    let head = report::RunHead {
        seed: args.seed,
        sut: sut_name.clone(),
        inputs_hash: inputs_hash.clone(),
        suite_hash,
        shard,
        total_cases,
    };
    let totals = report::write_reports(&args.out, &head, &store, &packs)?;
    let wall_s = clock.elapsed().as_secs_f64();
    report::write_run_info(
        &args.out,
        &report::RunInfo {
            harness_version: report::HARNESS_VERSION,
            git_commit: env!("GAUNTLET_GIT_COMMIT"),
            device,
            host: report::host_name(),
            jobs: if jobs == 0 {
                rayon::current_num_threads()
            } else {
                jobs
            },
            started_utc: report::utc_string(started),
            finished_utc: report::utc_string(std::time::SystemTime::now()),
            wall_s: (wall_s * 1000.0).round() / 1000.0,
            command_line: std::env::args().collect(),
        },
    )?;
    print_summary(&totals, wall_s);
    writeln!(std::io::stdout(), "reports in {}", args.out.display())?;
    Ok(exit_code(totals.summary()))
}

/// A system that sees through cameras needs a camera in every case: otherwise exit 2 with the
/// cases that have none, before anything runs (never a silent fallback).
fn check_cameras(sut: &gauntlet::sut::SutSpec, cases: &[scenario::Case]) -> Option<ExitCode> {
    if !sut.wants_frames() {
        return None;
    }
    let without: Vec<&str> = cases
        .iter()
        .filter(|c| c.model().cameras.is_empty())
        .map(|c| c.id.as_str())
        .collect();
    let first = without.first()?;
    let needs = match sut {
        gauntlet::sut::SutSpec::Process(_) => {
            "asks for camera frames (its manifest's `[receive] camera`)"
        }
        gauntlet::sut::SutSpec::Builtin(_) => "sees the road only through a camera",
    };
    eprintln!(
        "gauntlet: error: --sut {sut} {needs}, but {} case(s) have no `[[sensors.camera]]`: {first}{}",
        without.len(),
        if without.len() > 1 {
            format!(" and {} more", without.len() - 1)
        } else {
            String::new()
        }
    );
    Some(ExitCode::from(2))
}

/// A system manifest's `rate_hz` must divide the physics rate of every case: otherwise exit 2
/// (located in the manifest) before anything runs.
fn check_sut_rate(sut: &gauntlet::sut::SutSpec, cases: &[scenario::Case]) -> Option<ExitCode> {
    let gauntlet::sut::SutSpec::Process(p) = sut else {
        return None;
    };
    let rate = p.rate_hz?;
    let bad: Vec<(&str, String)> = cases
        .iter()
        .filter_map(|c| {
            gauntlet::sim::sut_every_n_steps(&c.model(), Some(rate))
                .err()
                .map(|e| (c.id.as_str(), e))
        })
        .collect();
    let (first_id, message) = bad.first()?;
    let mut d = gauntlet::sut::manifest::diagnostic_at(
        std::path::Path::new(&p.label),
        "/rate_hz",
        message.clone(),
    );
    d.cases = bad.iter().map(|(id, _)| id.to_string()).collect();
    eprint!("{d}");
    eprintln!(
        "gauntlet: error: --sut {}: rate_hz does not fit case {first_id}",
        p.label
    );
    Some(ExitCode::from(2))
}

/// 0 when every case passes, else 1.
fn exit_code(s: &gauntlet::report::Summary) -> ExitCode {
    if s.fail + s.error == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `gauntlet merge`: reads each shard's report case by case, checks that they belong together
/// and cover the run, and writes the whole run's reports.
fn merge_command(reports: &[PathBuf], out: &std::path::Path) -> anyhow::Result<ExitCode> {
    use gauntlet::merge::{self, MergeError};
    use gauntlet::report;
    let created = !out.exists();
    std::fs::create_dir_all(out)?;
    let mut store = report::CaseStore::create(&out.join(".merge-cases.jsonl.tmp"))?;
    // On a refusal nothing is left behind: not the scratch file, not a directory made for it.
    let give_up = |store: report::CaseStore| {
        let _ = store.remove();
        if created {
            let _ = std::fs::remove_dir(out);
        }
    };
    let merged = match merge::collect(reports, &mut store) {
        Ok(m) => m,
        Err(e) => {
            give_up(store);
            match e {
                MergeError::Refusal(why) => eprintln!("gauntlet: error: cannot merge: {why}"),
                MergeError::Read(e) => print_read_error(&e),
                MergeError::Io(e) => return Err(e.into()),
            }
            return Ok(ExitCode::from(2));
        }
    };
    // Packs the runs read from files (not built in) are read again from those files.
    let files: Vec<&str> = merged.pack_files.iter().map(String::as_str).collect();
    let packs = match packs_with_files(&files) {
        Ok(p) => p,
        Err(code) => {
            give_up(store);
            return Ok(code);
        }
    };
    let totals = report::write_reports(out, &merged.head, &store, &packs);
    let _ = store.remove();
    let totals = totals?;
    print_summary(&totals, 0.0);
    println!("merged {} shard(s) into {}", reports.len(), out.display());
    Ok(exit_code(totals.summary()))
}

/// The built-in threshold packs; a broken one (a harness bug) is reported like bad input.
fn builtin_packs() -> Result<gauntlet::eval::judge::Packs, ExitCode> {
    gauntlet::eval::judge::Packs::builtin().map_err(|diags| pack_errors(&diags))
}

/// Prints a pack's diagnostics; exit code 2.
fn pack_errors(diags: &[gauntlet::diag::Diagnostic]) -> ExitCode {
    for d in diags {
        eprint!("{d}");
    }
    eprintln!(
        "gauntlet: {} error(s) in the threshold pack; nothing was judged",
        diags.len()
    );
    ExitCode::from(2)
}

/// Prints why a saved `report.json` cannot be read (exit 2 follows).
fn print_read_error(e: &gauntlet::report::ReadReportError) {
    use gauntlet::report::ReadReportError;
    match e {
        ReadReportError::Io { .. } | ReadReportError::Case { .. } => {
            eprintln!("gauntlet: error: {e}")
        }
        _ => eprintln!("{e}"),
    }
}

/// The built-in packs plus the packs read again from `files` (packs a saved run read from files).
fn packs_with_files(files: &[&str]) -> Result<gauntlet::eval::judge::Packs, ExitCode> {
    let mut packs = builtin_packs()?;
    for file in files {
        let path = std::path::Path::new(file);
        match gauntlet::thresholds::load_pack(path) {
            Ok(pack) => packs.add_input(path, pack),
            Err(diags) => return Err(pack_errors(&diags)),
        }
    }
    Ok(packs)
}

/// The packs saved runs were judged by: the built-in packs plus the pack files the reports name,
/// read again. A pack file that is gone is warned about; its cases fall back to the built-in
/// pack of that id.
fn saved_packs<'a>(
    reports: impl IntoIterator<Item = &'a [gauntlet::report::PackEntry]>,
) -> Result<gauntlet::eval::judge::Packs, ExitCode> {
    let mut files: Vec<&str> = Vec::new();
    for p in reports
        .into_iter()
        .flatten()
        .filter(|p| !p.file.starts_with("builtin:"))
    {
        if files.contains(&p.file.as_str()) {
            continue;
        }
        if std::path::Path::new(&p.file).exists() {
            files.push(p.file.as_str());
        } else {
            eprintln!(
                "gauntlet: warning: threshold pack `{}` was read from {}, which no longer exists; its cases are judged by the built-in pack of that id, if any",
                p.id, p.file
            );
        }
    }
    files.sort_unstable();
    packs_with_files(&files)
}

/// A whole saved `report.json` in memory (`diff` and `calibrate` compare and re-judge whole
/// reports), or exit 2 with the reason.
fn read_saved_report(path: &std::path::Path) -> Result<gauntlet::report::ReportFile, ExitCode> {
    gauntlet::report::read_report(path).map_err(|e| {
        print_read_error(&e);
        ExitCode::from(2)
    })
}

/// `gauntlet diff BASE NEW`: compares two saved runs; prints the Markdown (and writes it to
/// `--md`). Exit 0: no significant regression, 1: regression, 2: unusable input.
fn diff_command(
    base: &std::path::Path,
    new: &std::path::Path,
    md: Option<&std::path::Path>,
    alpha: f64,
) -> anyhow::Result<ExitCode> {
    use gauntlet::diff;
    if !(alpha > 0.0 && alpha < 1.0) {
        eprintln!(
            "gauntlet: error: --alpha {alpha}: expected a level between 0 and 1, such as 0.05"
        );
        return Ok(ExitCode::from(2));
    }
    let (base_path, new_path) = (
        gauntlet::merge::report_path(base),
        gauntlet::merge::report_path(new),
    );
    let (a, b) = match (read_saved_report(&base_path), read_saved_report(&new_path)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(code), _) | (_, Err(code)) => return Ok(code),
    };
    let (base_name, new_name) = (
        base_path.display().to_string(),
        new_path.display().to_string(),
    );
    let result = diff::diff(
        &diff::Side {
            name: &base_name,
            report: &a,
        },
        &diff::Side {
            name: &new_name,
            report: &b,
        },
        &diff::DiffConfig { alpha },
    );
    let d = match result {
        Ok(d) => d,
        Err(e) => {
            eprintln!("gauntlet: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let text = diff::markdown(&d);
    if let Some(file) = md {
        std::fs::write(file, &text)
            .map_err(|e| anyhow::anyhow!("cannot write --md {}: {e}", file.display()))?;
    }
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(if d.regression() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A share written `0.8` or `80%`, in (0, 1].
fn parse_share(flag: &str, s: &str) -> Result<f64, String> {
    let t = s.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    };
    match value {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(format!(
            "{flag} {s:?}: expected a share above 0 and at most 1, such as 0.8 or 80%"
        )),
    }
}

/// `gauntlet calibrate`: re-judges the reports' cases for each candidate value of one rule and
/// writes the table, CSV and SVG.
fn calibrate_command(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    use gauntlet::calibrate::{self, CalibrateConfig, Candidates, RuleRef};
    let usage = |msg: String| {
        eprintln!("gauntlet: error: {msg}");
        Ok(ExitCode::from(2))
    };
    let rule = match RuleRef::parse(&args.rule) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let candidates = match Candidates::parse(&args.range, &args.step) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let config = match (
        parse_share("--share", &args.share),
        parse_share("--min-pass-rate", &args.min_pass_rate),
    ) {
        (Ok(share), Ok(min_pass_rate)) => CalibrateConfig {
            share,
            min_pass_rate,
        },
        (Err(e), _) | (_, Err(e)) => return usage(e),
    };
    let mut reports = Vec::new();
    for arg in &args.reports {
        let path = gauntlet::merge::report_path(arg);
        match read_saved_report(&path) {
            Ok(r) => reports.push((path.display().to_string(), r)),
            Err(code) => return Ok(code),
        }
    }
    let packs = match saved_packs(reports.iter().map(|(_, r)| r.packs.as_slice())) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let result = calibrate::systems(&reports).and_then(|systems| {
        calibrate::calibrate(&systems, &packs, &rule, &candidates.values(), &config)
    });
    let calibration = match result {
        Ok(c) => c,
        Err(e) => return usage(e.to_string()),
    };
    let md = calibrate::markdown(&calibration);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create --out {}: {e}", args.out.display()))?;
    for (name, body) in [
        ("calibration.md", md.clone()),
        ("calibration.csv", calibrate::csv(&calibration)),
        ("calibration.svg", calibrate::svg(&calibration)),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, body)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    std::io::stdout().write_all(md.as_bytes())?;
    println!(
        "\ncalibration.md, calibration.csv and calibration.svg in {}",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `gauntlet judge DIR`: re-judges `DIR/report.json` and rewrites the reports. The report is
/// read twice, case by case: once to check it and learn its packs, once to judge each case
/// into a scratch case store that the new reports are written from.
fn judge_command(
    dir: &std::path::Path,
    thresholds: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use gauntlet::report;
    let path = dir.join("report.json");
    let saved = match report::read_report_with(&path, &mut |_| Ok(())) {
        Ok(r) => r,
        Err(e) => {
            print_read_error(&e);
            return Ok(ExitCode::from(2));
        }
    };
    let mut packs = match saved_packs([saved.packs.as_slice()]) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    if let Some(file) = thresholds {
        match gauntlet::thresholds::load_pack(file) {
            Ok(pack) => packs.set_override(file, pack),
            Err(diags) => return Ok(pack_errors(&diags)),
        }
    }
    let clock = std::time::Instant::now();
    let mut store = report::CaseStore::create(&dir.join(".judge-cases.jsonl.tmp"))?;
    let mut changed = 0usize;
    let read = report::read_report_with(&path, &mut |case| {
        let rejudged = report::rejudge_case(&case, &packs);
        if rejudged.verdict != case.verdict || rejudged.colour != case.colour {
            changed += 1;
        }
        store.append(&rejudged)
    });
    let written = match read {
        Ok(_) => {
            store.sort_by_id();
            report::write_reports(dir, &saved.head(), &store, &packs).map(Some)
        }
        Err(e) => {
            print_read_error(&e);
            Ok(None)
        }
    };
    let _ = store.remove();
    let Some(totals) = written? else {
        return Ok(ExitCode::from(2));
    };
    print_summary(&totals, clock.elapsed().as_secs_f64());
    println!(
        "re-judged {} case(s) without simulating; {changed} changed verdict or colour; reports in {}",
        totals.summary().cases,
        dir.display()
    );
    Ok(exit_code(totals.summary()))
}

/// The summary table: per scenario file and in total, per threshold pack, the aggregates, then
/// the failing cases with reasons.
fn print_summary(totals: &gauntlet::report::Totals, wall_s: f64) {
    let digest = &totals.digest;
    let width = digest
        .scenarios
        .keys()
        .map(|k| k.len())
        .max()
        .unwrap_or(8)
        .max(24);
    println!(
        "{:width$}  {:>6} {:>6} {:>6}",
        "scenario", "pass", "fail", "error"
    );
    for (k, group) in &digest.scenarios {
        let c = &group.counts;
        println!("{k:width$}  {:>6} {:>6} {:>6}", c.pass, c.fail, c.error);
    }
    let s = totals.summary();
    println!(
        "{:width$}  {:>6} {:>6} {:>6}",
        "total", s.pass, s.fail, s.error
    );
    for p in &totals.aggregates.packs {
        let name = match (&p.pack, &p.version) {
            (Some(id), Some(v)) => format!("pack {id} v{v}"),
            _ => "harness default (no collision)".to_string(),
        };
        println!("{name:width$}  {:>6} {:>6} {:>6}", p.pass, p.fail, p.error);
    }
    for r in &totals.aggregates.repeats {
        for g in &r.groups {
            println!(
                "{} {} {}: {} of {} cases failed ({:.1} %): {}",
                r.pack,
                r.rule,
                g.group,
                g.failed,
                g.cases,
                g.failure_share * 100.0,
                g.verdict
            );
        }
    }
    for p in &totals.aggregates.euro_ncap {
        let parts: Vec<String> = p
            .scenarios
            .iter()
            .map(|s| format!("{} {}", s.scenario, s.total))
            .collect();
        println!(
            "{} v{} points: {} (total {}){}",
            p.pack,
            p.version,
            parts.join(", "),
            p.total,
            if p.zeroed.is_empty() {
                String::new()
            } else {
                format!("; gate closed, zeroes {}", p.zeroed.join(", "))
            }
        );
    }
    const LISTED: usize = 20;
    for c in digest.not_passed.iter().take(LISTED) {
        println!("{} {}: {}", c.verdict, c.id, c.reasons.join("; "));
    }
    let not_passed = s.fail + s.error;
    if not_passed > LISTED {
        println!("… and {} more (see report.json)", not_passed - LISTED);
    }
    println!("{} case(s) in {:.2} s", s.cases, wall_s);
}

/// Arguments of `gauntlet gnss` (conventions.md).
#[derive(clap::Args, Debug)]
struct GnssArgs {
    /// Receiver profile.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(gauntlet::gnss::Profile::NAMES))]
    profile: String,
    /// Reception environment.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(gauntlet::gnss::environment::EnvironmentKind::NAMES))]
    environment: String,
    /// Simulated duration (s).
    #[arg(long, default_value_t = 3600.0)]
    duration: f64,
    /// Epochs per second (Hz).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Seed of all noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Receiver site `LAT,LON,H` (degrees, degrees, metres above the ellipsoid); default
    /// Wuhan, 30.52,114.36,40.
    #[arg(long, value_name = "LAT,LON,H", allow_hyphen_values = true)]
    site: Option<String>,
    /// `nominal` (the BDS-3 constellation from elements, starting 2021-01-01 00:00 BDT) or a
    /// RINEX 3/4 navigation file (plain or .gz; the run starts at its first BDS toe).
    #[arg(long, default_value = "nominal", value_name = "nominal|FILE.rnx")]
    ephemeris: String,
    /// Output CSV, one row per epoch.
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
    /// Also write NMEA 0183 (GGA, RMC, GSA, GSV) to this file.
    #[arg(long, value_name = "FILE.nmea")]
    nmea: Option<PathBuf>,
}

/// `gauntlet gnss`: validate every argument first (exit 2 on any problem), simulate, write the
/// CSV (and NMEA), print the statistics.
fn gnss_command(args: GnssArgs) -> anyhow::Result<ExitCode> {
    use anyhow::{Context, bail};
    use gauntlet::gnss::{
        self, Ephemeris, GnssConfig, Profile, environment::EnvironmentKind, geodesy::Geodetic,
        rinex,
    };

    let profile = Profile::parse(&args.profile).context("unknown profile")?;
    let env = EnvironmentKind::parse(&args.environment).context("unknown environment")?;
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 7.0 * 86_400.0) {
        bail!(
            "--duration must be a number of seconds in (0, 604800], got {}",
            args.duration
        );
    }
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100.0) {
        bail!("--rate must be in (0, 100] Hz, got {}", args.rate);
    }
    if args.duration * args.rate > 20_000_000.0 {
        bail!(
            "--duration × --rate gives {:.0} epochs; at most 20,000,000",
            args.duration * args.rate
        );
    }
    let site = match &args.site {
        None => gnss::default_site(),
        Some(text) => {
            let parts: Vec<f64> = text
                .split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()
                .filter(|v: &Vec<f64>| v.len() == 3 && v.iter().all(|x| x.is_finite()))
                .with_context(|| {
                    format!("--site must be LAT,LON,H (three numbers), got {text:?}")
                })?;
            if parts[0].abs() > 90.0
                || parts[1].abs() > 180.0
                || !(-500.0..=9000.0).contains(&parts[2])
            {
                bail!(
                    "--site {text:?}: latitude must be within ±90°, longitude ±180°, height −500…9000 m"
                );
            }
            Geodetic::from_deg(parts[0], parts[1], parts[2])
        }
    };
    let mut config = GnssConfig::new(profile, env);
    config.rate_hz = args.rate;
    config.seed = args.seed;
    if args.ephemeris != "nominal" {
        let path = PathBuf::from(&args.ephemeris);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read --ephemeris {}", path.display()))?;
        let nav = rinex::parse_nav(&bytes, &path.display().to_string())?;
        let Some(start) = nav
            .bds_ephemerides
            .iter()
            .map(|e| e.toe_bdt_s)
            .min_by(f64::total_cmp)
        else {
            bail!(
                "{}: no BDS ephemerides in this navigation file",
                path.display()
            );
        };
        config.start_bdt_s = start;
        if let Some(k) = nav.bds_klobuchar {
            config.klobuchar = k;
        }
        config.ephemeris = Ephemeris::Broadcast {
            records: nav.bds_ephemerides,
            max_age_s: 4.0 * 3600.0,
        };
    }
    let create = |p: &PathBuf| {
        std::fs::File::create(p)
            .map(std::io::BufWriter::new)
            .with_context(|| format!("cannot create {}", p.display()))
    };
    let mut csv = create(&args.out)?;
    let mut nmea = args.nmea.as_ref().map(create).transpose()?;

    let epochs = gnss::simulate_static(config, &site, args.duration);
    csv.write_all(gnss::CSV_HEADER.as_bytes())?;
    for e in &epochs {
        csv.write_all(gnss::csv_row(e).as_bytes())?;
        if let Some(w) = nmea.as_mut() {
            for s in gnss::nmea_sentences(e) {
                w.write_all(s.as_bytes())?;
            }
        }
    }
    csv.flush()
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some(w) = nmea.as_mut() {
        w.flush().context("cannot write the NMEA file")?;
    }
    let s = gnss::summarize(&epochs);
    let shares: Vec<String> = s
        .fix_shares
        .iter()
        .map(|(t, share)| format!("{} {:.1} %", t.name(), 100.0 * share))
        .collect();
    if s.availability == 0.0 {
        println!(
            "gnss: {} {} · {} epochs · no position in any epoch (fewer than 4 satellites tracked)",
            args.profile, args.environment, s.n_epochs
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "gnss: {} {} · {} epochs · horizontal error 50/95/99 %: {:.3} / {:.3} / {:.3} m · vertical 95 %: {:.3} m",
        args.profile,
        args.environment,
        s.n_epochs,
        s.horiz_p50_m,
        s.horiz_p95_m,
        s.horiz_p99_m,
        s.vert_p95_m
    );
    println!(
        "gnss: availability {:.2} % · fix types: {} · error within HPL on {:.4} % of fixes ({} misleading)",
        100.0 * s.availability,
        shares.join(", "),
        100.0 * s.hpl_bound_rate,
        s.n_misleading
    );
    Ok(ExitCode::SUCCESS)
}

/// `gauntlet render`.
#[derive(clap::Args, Debug)]
struct RenderArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// The case to render (its ID, as `gauntlet list` prints it); default: the first case.
    #[arg(long)]
    case: Option<String>,
    /// Times to render, seconds, comma-separated; default: every whole second of the run.
    #[arg(long, value_delimiter = ',')]
    times: Option<Vec<String>>,
    /// Which device renders.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    device: String,
    /// Output directory (with `--dataset`: the directory holding `datasets/NAME/`; default: the
    /// current directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Add the case to the dataset `datasets/NAME/` (with `manifest.json`).
    #[arg(long, value_name = "NAME")]
    dataset: Option<String>,
    /// Override every camera's size, `WIDTHxHEIGHT` (the field of view stays).
    #[arg(long, value_name = "WxH")]
    size: Option<String>,
    /// Override the scenario's light: `day` or `night`.
    #[arg(long, value_parser = ["day", "night"])]
    light: Option<String>,
}

/// `gauntlet render`: simulates one case with `builtin:none`, renders every camera at every time
/// in one batch, writes the frames, labels and contact sheet (and the dataset manifest).
fn render_command(args: RenderArgs) -> anyhow::Result<ExitCode> {
    use gauntlet::gpu;
    use gauntlet::render::{self, Camera, Light, output};

    let usage = |msg: String| {
        eprintln!("gauntlet: error: {msg}");
        Ok(ExitCode::from(2))
    };
    let loaded = scenario::load_paths(std::slice::from_ref(&args.scenario));
    eprint!("{}", loaded.diagnostics);
    if loaded.diagnostics.has_errors() {
        eprintln!(
            "gauntlet: {} error(s) in the inputs; nothing was rendered",
            loaded.diagnostics.n_errors()
        );
        return Ok(ExitCode::from(2));
    }
    let case = match &args.case {
        None => loaded.cases.first(),
        Some(id) => loaded.cases.iter().find(|c| &c.id == id),
    };
    let Some(case) = case else {
        return usage(match &args.case {
            None => format!("{}: no cases", args.scenario.display()),
            Some(id) => format!(
                "--case {id:?}: no such case in {} (`gauntlet list` prints the IDs)",
                args.scenario.display()
            ),
        });
    };
    // The one case rendered, with its model built.
    let case = &case.build();
    let model = &case.model;
    let duration_s = model.timing.duration_s;
    let times_s: Vec<f64> = match &args.times {
        None => (0..=(duration_s + 1e-9).floor() as u64)
            .map(|t| t as f64)
            .collect(),
        Some(list) => {
            let mut out = Vec::new();
            for t in list {
                match t.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() && (0.0..=duration_s + 1e-9).contains(&v) => out.push(v),
                    _ => {
                        return usage(format!(
                            "--times: {t:?} is not a time between 0 and the run's {duration_s} s"
                        ));
                    }
                }
            }
            out.sort_by(f64::total_cmp);
            out.dedup();
            if out.is_empty() {
                return usage("--times: no times given".into());
            }
            out
        }
    };
    let mut cameras: Vec<Camera> = if model.cameras.is_empty() {
        vec![Camera::front(model.ego.length_m)]
    } else {
        model.cameras.clone()
    };
    if let Some(size) = &args.size {
        let parsed = size
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .filter(|&(w, h)| {
                (1..=render::MAX_FRAME_EDGE_PX).contains(&w)
                    && (1..=render::MAX_FRAME_EDGE_PX).contains(&h)
            });
        let Some((w, h)) = parsed else {
            return usage(format!(
                "--size {size:?}: expected WIDTHxHEIGHT, each 1 to {}",
                render::MAX_FRAME_EDGE_PX
            ));
        };
        for c in &mut cameras {
            c.width_px = w;
            c.height_px = h;
        }
    }
    let mut lighting = model.lighting;
    match args.light.as_deref() {
        Some("night") => lighting.light = Light::Night,
        Some(_) => lighting.light = Light::Day,
        None => {}
    }
    let choice = gpu::DeviceChoice::parse(&args.device).unwrap_or_default();
    let mut renderer = match gpu::FrameRenderer::new(choice) {
        Ok(r) => r,
        Err(e) => return usage(format!("--device {}: {e}", args.device)),
    };
    let device = renderer.describe();
    eprintln!("gauntlet: rendering on {device}");

    let states = render::scene::test_driver_states(model, &case.id, &times_s);
    let mut scenes = Vec::new();
    let mut slots = Vec::new();
    for (ci, camera) in cameras.iter().enumerate() {
        for (state, &t) in states.iter().zip(&times_s) {
            scenes.push(render::build_frame(model, &lighting, camera, state));
            slots.push((ci, t));
        }
    }
    let clock = std::time::Instant::now();
    let frames = renderer.render(&scenes)?;
    eprintln!(
        "gauntlet: rendered {} frame(s) in {:.2} s",
        frames.len(),
        clock.elapsed().as_secs_f64()
    );
    let rendered: Vec<output::RenderedFrame> = frames
        .into_iter()
        .zip(&scenes)
        .zip(&slots)
        .map(
            |((frame, scene), &(camera_index, time_s))| output::RenderedFrame {
                camera_index,
                time_s,
                labels: render::labels(scene, &frame),
                frame,
            },
        )
        .collect();
    let case_frames = output::CaseFrames {
        case_id: case.id.clone(),
        scenario: case.scenario_path.display().to_string(),
        cameras,
        lighting,
        device,
        frames: rendered,
    };
    let (dir, dataset_root) = match (&args.dataset, &args.out) {
        (Some(name), out) => {
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && !name.starts_with('.');
            if !name_ok {
                return usage(format!(
                    "--dataset {name:?}: a name is letters, digits and `._-`, not starting with `.`"
                ));
            }
            let root = match out {
                Some(out) => out.join("datasets").join(name),
                None => PathBuf::from("datasets").join(name),
            };
            (root.join(output::case_dir(&case.id)), Some((root, name)))
        }
        (None, Some(out)) => (out.clone(), None),
        (None, None) => return usage("give --out DIR or --dataset NAME".into()),
    };
    if let Some((root, _)) = &dataset_root {
        output::remove_case_files(root, &case.id)?;
    }
    let files = output::write_case(&dir, &case_frames)?;
    if let Some((root, name)) = dataset_root {
        let rel = output::case_dir(&case.id)
            .to_string_lossy()
            .replace('\\', "/");
        let entry = output::manifest_case(&case_frames, &rel, &times_s);
        let manifest = output::update_manifest(&root, name, entry, &files)?;
        let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
        println!(
            "{}: {} frame(s) of {}; dataset {name}: {} case(s), {} file(s), {:.1} MB",
            dir.display(),
            case_frames.frames.len(),
            case.id,
            manifest.cases.len(),
            manifest.files.len(),
            bytes as f64 / 1e6
        );
    } else {
        println!(
            "{}: {} frame(s) of {}, {} file(s)",
            dir.display(),
            case_frames.frames.len(),
            case.id,
            files.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `gauntlet perturb`.
#[derive(clap::Args, Debug)]
struct PerturbArgs {
    /// Directory of PNG and JPEG frames (searched recursively, e.g. a KITTI sequence).
    input: PathBuf,
    /// Output directory: each frame is written as `OUT/<its relative path>.png`.
    #[arg(long)]
    out: PathBuf,
    /// A corruption: `NAME:SEVERITY` (1–5), `NAME:PARAM=VALUE[,PARAM=VALUE…]` or both
    /// (`motion_blur:3,angle_deg=0`). Repeat to chain them, applied in the order given.
    #[arg(
        short = 'p',
        long = "perturbation",
        value_name = "SPEC",
        required = true
    )]
    specs: Vec<String>,
    /// Seed of all noise (with each file's relative path, it keys the frame's randomness).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which device perturbs.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    device: String,
    /// Also write `OUT/grid.png`: the first frame under each named corruption (rows, in the
    /// order given) at severities 1–5 (columns, after the clean frame).
    #[arg(long)]
    grid: bool,
}

/// Frames read and perturbed at a time (bounds memory; results do not depend on it).
const PERTURB_BATCH: usize = 16;

/// `gauntlet perturb`: validate the specs and the input directory (exit 2), perturb every
/// readable frame, report each unreadable one by name and exit 2 at the end if there was any.
fn perturb_command(args: PerturbArgs) -> anyhow::Result<ExitCode> {
    use gauntlet::gpu;
    use gauntlet::perturb::{self, FrameIn, FrameKey, files};

    let usage = |msg: String| {
        eprintln!("gauntlet: error: {msg}");
        Ok(ExitCode::from(2))
    };
    let mut chain = Vec::new();
    for spec in &args.specs {
        match perturb::parse_spec(spec) {
            Ok(p) => chain.push(p),
            Err(e) => return usage(format!("-p {e}")),
        }
    }
    let mut images = match files::find_images(&args.input) {
        Ok(i) => i,
        Err(e) => return usage(e.to_string()),
    };
    // Earlier outputs written inside the input directory are not inputs.
    if let Ok(out) = args.out.canonicalize() {
        images.retain(|i| !i.path.canonicalize().is_ok_and(|p| p.starts_with(&out)));
    }
    if images.is_empty() {
        return usage(format!(
            "{}: no PNG or JPEG files (searched recursively)",
            args.input.display()
        ));
    }
    let choice = gpu::DeviceChoice::parse(&args.device).unwrap_or_default();
    let mut engine = match gpu::Perturber::new(choice) {
        Ok(e) => e,
        Err(e) => return usage(format!("--device {}: {e}", args.device)),
    };
    eprintln!("gauntlet: perturbing on {}", engine.describe());
    let clock = std::time::Instant::now();
    let (mut written, mut failed) = (0usize, 0usize);
    let mut first: Option<files::Image> = None;
    let mut outputs = Vec::new();
    for batch in images.chunks(PERTURB_BATCH) {
        let mut read = Vec::new();
        for input in batch {
            match files::read_image(&input.path) {
                Ok(img) => read.push((input, img)),
                Err(e) => {
                    eprintln!("gauntlet: error: {e}");
                    failed += 1;
                }
            }
        }
        let frames: Vec<FrameIn> = read
            .iter()
            .map(|(input, img)| FrameIn {
                width_px: img.width_px,
                height_px: img.height_px,
                rgba: &img.rgba,
                depth_m: None,
                chain: &chain,
                key: FrameKey::new(args.seed, &input.relative),
            })
            .collect();
        engine.apply_into(&frames, &mut outputs)?;
        for ((input, img), rgba) in read.iter().zip(&outputs) {
            let path = files::output_path(&args.out, &input.relative);
            match files::write_png(&path, img.width_px, img.height_px, rgba) {
                Ok(()) => written += 1,
                Err(e) => {
                    eprintln!("gauntlet: error: {e}");
                    failed += 1;
                }
            }
        }
        if first.is_none() {
            first = read.into_iter().next().map(|(_, img)| img);
        }
    }
    eprintln!(
        "gauntlet: perturbed {written} frame(s) in {:.2} s",
        clock.elapsed().as_secs_f64()
    );
    if args.grid {
        if let Some(img) = &first {
            let mut names = Vec::new();
            for p in &chain {
                if !names.contains(&p.corruption) {
                    names.push(p.corruption);
                }
            }
            let mut cells = Vec::new();
            let mut grid_chains = Vec::new();
            for &c in &names {
                for s in 1..=5u8 {
                    grid_chains.push(vec![perturb::Perturbation::at_severity(c, s)]);
                }
            }
            let frames: Vec<FrameIn> = grid_chains
                .iter()
                .map(|ch| FrameIn {
                    width_px: img.width_px,
                    height_px: img.height_px,
                    rgba: &img.rgba,
                    depth_m: None,
                    chain: ch,
                    key: FrameKey::new(args.seed, "grid"),
                })
                .collect();
            let outs = engine.apply(&frames)?;
            for (row, _) in names.iter().enumerate() {
                cells.push(img.clone());
                for s in 0..5 {
                    cells.push(files::Image {
                        width_px: img.width_px,
                        height_px: img.height_px,
                        rgba: outs[row * 5 + s].clone(),
                    });
                }
            }
            let sheet = files::contact_sheet(&cells, 6, 320.min(img.width_px));
            let path = args.out.join("grid.png");
            match files::write_png(&path, sheet.width_px, sheet.height_px, &sheet.rgba) {
                Ok(()) => println!(
                    "{}: {} corruption(s) × clean and severities 1–5",
                    path.display(),
                    names.len()
                ),
                Err(e) => {
                    eprintln!("gauntlet: error: {e}");
                    failed += 1;
                }
            }
        }
    }
    println!(
        "{}: {written} frame(s) written, {failed} failed",
        args.out.display()
    );
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
