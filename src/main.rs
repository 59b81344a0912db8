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

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario files or directories (searched recursively for .toml files).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The system under test: `builtin:NAME` (none, aeb, acc, lka, careful-driver, rss, always-brake).
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
                "{}: {} scenario file(s), {} case(s), {} threshold pack(s), {} other file(s) skipped; {errors} error(s), {warnings} warning(s){}",
                if failed { "invalid" } else { "ok" },
                loaded.scenario_files.len(),
                loaded.cases.len(),
                loaded.packs.len(),
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
                    .params
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
    use gauntlet::{report, run, sim, sut};
    use std::io::IsTerminal;
    use std::sync::Mutex;

    let started = std::time::SystemTime::now();
    let clock = std::time::Instant::now();
    let sut_spec = match sut::SutSpec::parse(&args.sut) {
        Ok(s) => s,
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
    let total_cases = cases.len();
    let inputs_hash =
        gauntlet::shard::inputs_hash(&cases, &packs, args.seed, &sut_spec.to_string())?;
    if let Some(shard) = shard {
        // A shard with no cases is a valid, empty result.
        cases.retain(|c| shard.contains(&c.id));
    }
    std::fs::create_dir_all(&args.out)?;
    let resume_info = gauntlet::shard::ResumeInfo {
        inputs_hash: inputs_hash.clone(),
        seed: args.seed,
        sut: sut_spec.to_string(),
        shard,
    };
    let mut done_entries: Vec<report::CaseEntry> = Vec::new();
    let mut log_from: Option<u64> = None;
    if args.resume {
        match resume_state(&args.out, &resume_info, &cases) {
            Ok(Some((entries, valid_len))) => {
                done_entries = entries;
                log_from = Some(valid_len);
            }
            Ok(None) => eprintln!(
                "gauntlet: nothing to resume in {}; starting the run",
                args.out.display()
            ),
            Err(e) => {
                eprintln!("gauntlet: error: --resume: {e}");
                return Ok(ExitCode::from(2));
            }
        }
        let done: std::collections::HashSet<&str> =
            done_entries.iter().map(|e| e.id.as_str()).collect();
        cases.retain(|c| !done.contains(c.id.as_str()));
    }
    if log_from.is_none() {
        gauntlet::shard::write_resume_info(&args.out, &resume_info)?;
    }
    let jobs = args.jobs.unwrap_or(0);
    let config = run::RunConfig {
        sut: sut_spec.clone(),
        sim: sim::SimOptions {
            seed: args.seed,
            record_trace: args.traces,
            ..sim::SimOptions::default()
        },
        jobs,
        batch_size: 16,
        packs: packs.clone(),
        metrics: gauntlet::eval::metrics::MetricsConfig::default(),
    };
    let sut_name = sut_spec.to_string();
    eprintln!(
        "gauntlet: running {} case(s) with {sut_name} on cpu{}{}",
        cases.len(),
        shard.map_or(String::new(), |s| format!(
            ", shard {s} of {total_cases} case(s)"
        )),
        if done_entries.is_empty() {
            String::new()
        } else {
            format!(", {} already done", done_entries.len())
        }
    );

    let log = Mutex::new(match log_from {
        Some(len) => report::CasesLog::append_from(&args.out, len)?,
        None => report::CasesLog::create(&args.out)?,
    });
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
    // The finished cases' entries: all the final report needs (the results are not kept).
    let finished: Mutex<Vec<report::CaseEntry>> = Mutex::new(Vec::with_capacity(cases.len()));
    let on_done = |r: &run::CaseResult| {
        let case = &cases[r.case_index];
        let entry = report::case_entry(case, r, &sut_name);
        if let Ok(mut log) = log.lock() {
            if let Err(e) = log.append(&entry) {
                if let Ok(mut slot) = log_error.lock() {
                    slot.get_or_insert(e);
                }
            }
        }
        if let Ok(mut all) = finished.lock() {
            all.push(entry);
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

    let mut entries = finished
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
    if entries.len() != cases.len() {
        anyhow::bail!(
            "{} of {} case(s) finished: a worker thread stopped early",
            entries.len(),
            cases.len()
        );
    }
    entries.append(&mut done_entries);
    let report_file = report::ReportFile {
        inputs_hash,
        shard,
        total_cases,
        ..report::build_report(args.seed, &sut_name, entries, &packs)
    };
    report::write_report(&args.out, &report_file)?;
    report::write_junit(&args.out, &report_file)?;
    report::write_summary(&args.out, &report_file)?;
    let wall_s = clock.elapsed().as_secs_f64();
    report::write_run_info(
        &args.out,
        &report::RunInfo {
            harness_version: report::HARNESS_VERSION,
            git_commit: env!("GAUNTLET_GIT_COMMIT"),
            device: "cpu".into(),
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
    print_summary(&report_file, wall_s);
    writeln!(std::io::stdout(), "reports in {}", args.out.display())?;
    Ok(
        if report_file.summary.fail + report_file.summary.error == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// For `--resume`: the finished cases of `dir/cases.jsonl` and the length of its valid lines,
/// after checking that `dir/resume.json` describes the same inputs; `None` when `dir` holds no
/// run to resume.
fn resume_state(
    dir: &std::path::Path,
    now: &gauntlet::shard::ResumeInfo,
    cases: &[scenario::Case],
) -> Result<Option<(Vec<gauntlet::report::CaseEntry>, u64)>, String> {
    let log = dir.join("cases.jsonl");
    let Some(before) = gauntlet::shard::read_resume_info(dir)? else {
        if std::fs::metadata(&log).is_ok_and(|m| m.len() > 0) {
            return Err(format!(
                "{} has a cases.jsonl but no resume.json: not a run this harness can resume",
                dir.display()
            ));
        }
        return Ok(None);
    };
    if before.seed != now.seed || before.sut != now.sut || before.shard != now.shard {
        return Err(format!(
            "{} was run with seed {}, {}, shard {}; now seed {}, {}, shard {}",
            dir.display(),
            before.seed,
            before.sut,
            before.shard.map_or("none".to_string(), |s| s.to_string()),
            now.seed,
            now.sut,
            now.shard.map_or("none".to_string(), |s| s.to_string()),
        ));
    }
    if before.inputs_hash != now.inputs_hash {
        return Err(format!(
            "the inputs changed since the run in {} began (inputs hash {} then, {} now: scenario files, threshold packs, --filter or --thresholds differ); start a new run instead",
            dir.display(),
            before.inputs_hash,
            now.inputs_hash
        ));
    }
    let read = gauntlet::shard::read_cases_log(&log)?;
    let ids: std::collections::HashSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    if let Some(e) = read.entries.iter().find(|e| !ids.contains(e.id.as_str())) {
        return Err(format!(
            "{}: case {} is not among this run's cases",
            log.display(),
            e.id
        ));
    }
    if read.torn_tail {
        eprintln!(
            "gauntlet: {}: ignoring a torn last line (its case runs again)",
            log.display()
        );
    }
    Ok(Some((read.entries, read.valid_len)))
}

/// `gauntlet merge`: reads each shard's report, checks that they belong together and cover the
/// run, and writes the whole run's reports.
fn merge_command(reports: &[PathBuf], out: &std::path::Path) -> anyhow::Result<ExitCode> {
    use gauntlet::{merge, report};
    let mut parts = Vec::new();
    for arg in reports {
        let path = if arg.is_dir() {
            arg.join("report.json")
        } else {
            arg.clone()
        };
        let parsed = match read_saved_report(&path) {
            Ok(r) => r,
            Err(code) => return Ok(code),
        };
        parts.push(merge::Part {
            name: path.display().to_string(),
            report: parsed,
        });
    }
    // Packs the runs read from files (not built in) are read again from those files.
    let mut files: Vec<&str> = parts
        .iter()
        .flat_map(|p| p.report.packs.iter())
        .filter(|p| !p.file.starts_with("builtin:"))
        .map(|p| p.file.as_str())
        .collect();
    files.sort_unstable();
    files.dedup();
    let packs = match packs_with_files(&files) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let merged = match merge::merge(&parts, &packs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gauntlet: error: cannot merge: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    std::fs::create_dir_all(out)?;
    report::write_report(out, &merged)?;
    report::write_junit(out, &merged)?;
    report::write_summary(out, &merged)?;
    print_summary(&merged, 0.0);
    println!("merged {} shard(s) into {}", parts.len(), out.display());
    Ok(if merged.summary.fail + merged.summary.error == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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

/// A saved `report.json`, or exit 2 with the reason.
fn read_saved_report(path: &std::path::Path) -> Result<gauntlet::report::ReportFile, ExitCode> {
    use gauntlet::report::ReadReportError;
    gauntlet::report::read_report(path).map_err(|e| {
        match e {
            ReadReportError::Io { .. } => eprintln!("gauntlet: error: {e}"),
            _ => eprintln!("{e}"),
        }
        ExitCode::from(2)
    })
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

/// `gauntlet judge DIR`: re-judges `DIR/report.json` and rewrites the reports.
fn judge_command(
    dir: &std::path::Path,
    thresholds: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use gauntlet::report;
    let saved = match read_saved_report(&dir.join("report.json")) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    // Pack files that are gone: their cases fall back to the built-in pack of that id.
    let mut files = Vec::new();
    for p in saved
        .packs
        .iter()
        .filter(|p| !p.file.starts_with("builtin:"))
    {
        if std::path::Path::new(&p.file).exists() {
            files.push(p.file.as_str());
        } else {
            eprintln!(
                "gauntlet: warning: threshold pack `{}` was read from {}, which no longer exists; its cases are judged by the built-in pack of that id, if any",
                p.id, p.file
            );
        }
    }
    let mut packs = match packs_with_files(&files) {
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
    let rejudged = report::rejudge(&saved, &packs);
    report::write_report(dir, &rejudged)?;
    report::write_junit(dir, &rejudged)?;
    report::write_summary(dir, &rejudged)?;
    let changed = saved
        .cases
        .iter()
        .zip(&rejudged.cases)
        .filter(|(a, b)| a.verdict != b.verdict || a.colour != b.colour)
        .count();
    print_summary(&rejudged, clock.elapsed().as_secs_f64());
    println!(
        "re-judged {} case(s) without simulating; {changed} changed verdict or colour; reports in {}",
        rejudged.cases.len(),
        dir.display()
    );
    Ok(if rejudged.summary.fail + rejudged.summary.error == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The summary table: per scenario file and in total, per threshold pack, the aggregates, then
/// the failing cases with reasons.
fn print_summary(report: &gauntlet::report::ReportFile, wall_s: f64) {
    use std::collections::BTreeMap;
    let mut per: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for c in &report.cases {
        let slot = per.entry(c.scenario.as_str()).or_default();
        match c.verdict.as_str() {
            "pass" => slot[0] += 1,
            "fail" => slot[1] += 1,
            _ => slot[2] += 1,
        }
    }
    let width = per.keys().map(|k| k.len()).max().unwrap_or(8).max(24);
    println!(
        "{:width$}  {:>6} {:>6} {:>6}",
        "scenario", "pass", "fail", "error"
    );
    for (k, [p, f, e]) in &per {
        println!("{k:width$}  {p:>6} {f:>6} {e:>6}");
    }
    let s = &report.summary;
    println!(
        "{:width$}  {:>6} {:>6} {:>6}",
        "total", s.pass, s.fail, s.error
    );
    for p in &report.aggregates.packs {
        let name = match (&p.pack, &p.version) {
            (Some(id), Some(v)) => format!("pack {id} v{v}"),
            _ => "harness default (no collision)".to_string(),
        };
        println!("{name:width$}  {:>6} {:>6} {:>6}", p.pass, p.fail, p.error);
    }
    for r in &report.aggregates.repeats {
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
    for p in &report.aggregates.euro_ncap {
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
    let failing: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict != "pass")
        .collect();
    for c in failing.iter().take(20) {
        println!("{} {}: {}", c.verdict, c.id, c.reasons.join("; "));
    }
    if failing.len() > 20 {
        println!("… and {} more (see report.json)", failing.len() - 20);
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
        let outputs = engine.apply(&frames)?;
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
