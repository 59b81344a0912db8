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
                "{}: {} scenario file(s), {} case(s), {} other file(s) skipped; {errors} error(s), {warnings} warning(s){}",
                if failed { "invalid" } else { "ok" },
                loaded.scenario_files.len(),
                loaded.cases.len(),
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
