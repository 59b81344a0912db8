//! `gauntlet merge`: the reports of the shards of one run into the report of the whole run,
//! byte-identical to an unsharded run's, after checking that the shards belong together and
//! cover every case exactly once.

use std::collections::BTreeSet;

use crate::eval::judge::Packs;
use crate::report::{self, ReportFile};
use crate::shard::{Shard, shard_of};

/// One report to merge, with the name it is quoted by in refusals (its path).
pub struct Part {
    pub name: String,
    pub report: ReportFile,
}

/// Why reports cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Merges the shards' reports; `packs` are those the run judged by (for the aggregates).
pub fn merge(parts: &[Part], packs: &Packs) -> Result<ReportFile, Refusal> {
    let refuse = |s: String| Err(Refusal(s));
    let Some(first) = parts.first() else {
        return refuse("no reports to merge".to_string());
    };
    let a = &first.report;
    for p in parts {
        let r = &p.report;
        if r.schema_version != report::SCHEMA_VERSION {
            return refuse(format!(
                "{}: schema version {}, this harness merges version {}",
                p.name,
                r.schema_version,
                report::SCHEMA_VERSION
            ));
        }
        let differs = |what: &str, x: &dyn std::fmt::Display, y: &dyn std::fmt::Display| {
            Refusal(format!(
                "{} has {what} {y} but {} has {x}: not shards of the same run",
                p.name, first.name
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
    }
    // A report without a shard is the whole run: shard 1 of 1.
    let shard = |r: &ReportFile| r.shard.unwrap_or(Shard { k: 1, n: 1 });
    let n = shard(a).n;
    let mut seen: BTreeSet<u32> = BTreeSet::new();
    for p in parts {
        let s = shard(&p.report);
        if s.n != n {
            return refuse(format!(
                "{} is shard {s} but {} is shard {}: shards of different N",
                p.name,
                first.name,
                shard(a)
            ));
        }
        if !seen.insert(s.k) {
            return refuse(format!("shard {s} is given twice ({})", p.name));
        }
        if let Some(c) = p.report.cases.iter().find(|c| shard_of(&c.id, n) != s.k) {
            return refuse(format!(
                "{}: case {} belongs to shard {}/{n}, not {s}",
                p.name,
                c.id,
                shard_of(&c.id, n)
            ));
        }
    }
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
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    for p in parts {
        for c in &p.report.cases {
            if !ids.insert(c.id.as_str()) {
                return refuse(format!("case {} appears twice ({})", c.id, p.name));
            }
        }
    }
    if ids.len() != a.total_cases {
        return refuse(format!(
            "the shards hold {} case(s) but the run has {}: a shard is incomplete",
            ids.len(),
            a.total_cases
        ));
    }
    let entries = parts
        .iter()
        .flat_map(|p| p.report.cases.iter().cloned())
        .collect();
    Ok(ReportFile {
        inputs_hash: a.inputs_hash.clone(),
        suite_hash: a.suite_hash.clone(),
        shard: None,
        total_cases: a.total_cases,
        ..report::build_report(a.seed, &a.sut, entries, packs)
    })
}
