//! `gauntlet merge`: the reports of the shards of one run into the report of the whole run,
//! byte-identical to an unsharded run's, after checking that the shards belong together and
//! cover every case exactly once.
//!
//! The shards' cases are read one at a time into a case store (a JSON-lines file next to the
//! output) and the merged reports are written from it (`report::write_reports`), so a merge
//! does not hold every case in memory either.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::report::{self, CaseSource, CaseStore, ReadReportError, RunHead, SavedReport};
use crate::shard::{Shard, shard_of};

/// Why reports cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The reports do not belong together or do not cover the run (exit 2, with the reason).
    #[error("{0}")]
    Refusal(String),
    /// A report could not be read.
    #[error(transparent)]
    Read(#[from] ReadReportError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The shards, checked: what the merged report says of the run, and the threshold pack files
/// (not built in) that the shards were judged by, to be read again.
#[derive(Debug)]
pub struct Merged {
    pub head: RunHead,
    pub pack_files: Vec<String>,
}

/// The report of `arg`: a `report.json` or a directory holding one.
pub fn report_path(arg: &Path) -> PathBuf {
    if arg.is_dir() {
        arg.join("report.json")
    } else {
        arg.to_path_buf()
    }
}

/// Reads the shards' reports (`report.json` files or run directories) case by case into
/// `store`, checks that they are all the shards of one run, each case once, and leaves `store`
/// sorted by case ID, ready for `report::write_reports`.
pub fn collect(reports: &[PathBuf], store: &mut CaseStore) -> Result<Merged, MergeError> {
    let refuse = |s: String| Err(MergeError::Refusal(s));
    if reports.is_empty() {
        return refuse("no reports to merge".to_string());
    }
    // A report without a shard is the whole run: shard 1 of 1.
    let shard = |r: &SavedReport| r.shard.unwrap_or(Shard { k: 1, n: 1 });
    let mut first: Option<(String, SavedReport)> = None;
    let mut seen: BTreeSet<u32> = BTreeSet::new();
    let mut pack_files: BTreeSet<String> = BTreeSet::new();
    for arg in reports {
        let path = report_path(arg);
        let name = path.display().to_string();
        let start = store.count();
        let r = report::read_report_with(&path, &mut |c| store.append(&c))?;
        let (first_name, a) = first.get_or_insert_with(|| (name.clone(), r.clone()));
        let differs = |what: &str, x: &dyn std::fmt::Display, y: &dyn std::fmt::Display| {
            MergeError::Refusal(format!(
                "{name} has {what} {y} but {first_name} has {x}: not shards of the same run"
            ))
        };
        if r.harness_version != a.harness_version {
            return Err(differs(
                "harness version",
                &a.harness_version,
                &r.harness_version,
            ));
        }
        if r.seed != a.seed {
            return Err(differs("seed", &a.seed, &r.seed));
        }
        if r.sut != a.sut {
            return Err(differs("system under test", &a.sut, &r.sut));
        }
        if r.inputs_hash != a.inputs_hash || r.inputs_hash.is_empty() {
            return Err(differs(
                "inputs hash",
                &format!("{:?}", a.inputs_hash),
                &format!(
                    "{:?} (scenario files, packs, --filter or cases differ)",
                    r.inputs_hash
                ),
            ));
        }
        if r.total_cases != a.total_cases {
            return Err(differs("total case count", &a.total_cases, &r.total_cases));
        }
        let (s, n) = (shard(&r), shard(a).n);
        if s.n != n {
            return refuse(format!(
                "{name} is shard {s} but {first_name} is shard {}: shards of different N",
                shard(a)
            ));
        }
        if !seen.insert(s.k) {
            return refuse(format!("shard {s} is given twice ({name})"));
        }
        if let Some(id) = store.ids().skip(start).find(|id| shard_of(id, n) != s.k) {
            return refuse(format!(
                "{name}: case {id} belongs to shard {}/{n}, not {s}",
                shard_of(id, n)
            ));
        }
        pack_files.extend(
            r.packs
                .iter()
                .filter(|p| !p.file.starts_with("builtin:"))
                .map(|p| p.file.clone()),
        );
    }
    let Some((_, a)) = first else {
        return refuse("no reports to merge".to_string());
    };
    let n = shard(&a).n;
    let missing: Vec<String> = (1..=n)
        .filter(|k| !seen.contains(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return refuse(format!(
            "shard(s) {} missing: a merge needs all {n}",
            missing.join(", ")
        ));
    }
    store.sort_by_id();
    let mut previous: Option<&str> = None;
    for id in store.ids() {
        if previous == Some(id) {
            return refuse(format!("case {id} appears twice"));
        }
        previous = Some(id);
    }
    if store.count() != a.total_cases {
        return refuse(format!(
            "the shards hold {} case(s) but the run has {}: a shard is incomplete",
            store.count(),
            a.total_cases
        ));
    }
    Ok(Merged {
        head: RunHead {
            shard: None,
            ..a.head()
        },
        pack_files: pack_files.into_iter().collect(),
    })
}
