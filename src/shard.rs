//! Scale-out and crash safety: `--shard K/N` (a stable partition of the cases by FNV-1a 64 of
//! the case ID), the inputs hash that ties shards and resumed runs to the same inputs, and the
//! `resume` record of every `cases.jsonl` line, which `--resume` checks (reading the file back,
//! a torn last line ignored, is `report::store::read_lines`).
//!
//! See `conventions.md` (Sharding) and `docs/distributed.md`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::eval::judge::{PackOrigin, Packs};
use crate::report::CaseEntry;
use crate::rng::fnv1a64;
use crate::scenario::Case;

/// One shard of a run: `k` of `n`, `k` counting from 1.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The shard a case belongs to among `n`: `(fnv1a64(case ID) mod n) + 1`.
pub fn shard_of(case_id: &str, n: u32) -> u32 {
    (fnv1a64(case_id.as_bytes()) % u64::from(n.max(1))) as u32 + 1
}

impl Shard {
    /// Whether the case with this ID belongs to this shard.
    pub fn contains(&self, case_id: &str) -> bool {
        shard_of(case_id, self.n) == self.k
    }

    /// Parses `K/N` or `auto/N`; `env` looks up an environment variable (`auto` takes K from
    /// `JOB_COMPLETION_INDEX`, 0-based, or from `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN`).
    pub fn parse(spec: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let Some((k_text, n_text)) = spec.split_once('/') else {
            return Err(format!(
                "--shard {spec:?}: expected K/N or auto/N (for example 2/8)"
            ));
        };
        let n: u32 = match n_text.trim().parse() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(format!(
                    "--shard {spec:?}: N must be a whole number ≥ 1, got {n_text:?}"
                ));
            }
        };
        let k = if k_text == "auto" {
            auto_index(env)? + 1
        } else {
            match k_text.trim().parse::<u64>() {
                Ok(k) if k >= 1 => k,
                _ => {
                    return Err(format!(
                        "--shard {spec:?}: K must be a whole number from 1 to N, or `auto`, got {k_text:?}"
                    ));
                }
            }
        };
        if k > u64::from(n) {
            return Err(format!(
                "--shard {spec:?}: shard {k} does not exist among {n} (K counts from 1 to N)"
            ));
        }
        Ok(Shard { k: k as u32, n })
    }
}

/// The 0-based shard index of `--shard auto/N`, from the job engine's environment.
fn auto_index(env: &dyn Fn(&str) -> Option<String>) -> Result<u64, String> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("--shard auto: {name}={v:?} is not a whole number ≥ 0")),
        }
    };
    if let Some(i) = number("JOB_COMPLETION_INDEX")? {
        return Ok(i);
    }
    match (number("SLURM_ARRAY_TASK_ID")?, number("SLURM_ARRAY_TASK_MIN")?) {
        (Some(id), Some(min)) if id >= min => Ok(id - min),
        (Some(id), Some(min)) => Err(format!(
            "--shard auto: SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"
        )),
        (Some(_), None) => Err(
            "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN is not".to_string(),
        ),
        _ => Err("--shard auto/N needs JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_MIN (Slurm array) in the environment; neither is set (use --shard K/N elsewhere)".to_string()),
    }
}

/// FNV-1a 64 (hex) of what decides a run's results: the sorted case IDs, each scenario file's
/// bytes, the threshold packs (id, version, where from, and the bytes of pack files), the seed
/// and the system under test. Every part is length-prefixed so that no two inputs run together.
pub fn inputs_hash(cases: &[Case], packs: &Packs, seed: u64, sut: &str) -> io::Result<String> {
    let mut buf = suite_bytes(b"gauntlet inputs v1", cases, packs)?;
    put(&mut buf, &seed.to_le_bytes());
    put(&mut buf, sut.as_bytes());
    Ok(format!("{:016x}", fnv1a64(&buf)))
}

/// FNV-1a 64 (hex) of the test suite alone: the sorted case IDs, each scenario file's bytes and
/// the threshold packs, as in [`inputs_hash`], but neither the seed nor the system under test.
/// Two runs with the same suite hash ran the same cases judged by the same packs, whatever
/// system they tested: `gauntlet diff` compares such runs.
pub fn suite_hash(cases: &[Case], packs: &Packs) -> io::Result<String> {
    let buf = suite_bytes(b"gauntlet suite v1", cases, packs)?;
    Ok(format!("{:016x}", fnv1a64(&buf)))
}

/// Appends `bytes`, prefixed with their length.
fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// The hashed bytes of the case IDs, scenario files and packs, after a `tag`.
fn suite_bytes(tag: &[u8], cases: &[Case], packs: &Packs) -> io::Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::new();
    put(&mut buf, tag);
    let ids: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    put(&mut buf, &(ids.len() as u64).to_le_bytes());
    for id in ids {
        put(&mut buf, id.as_bytes());
    }
    let files: BTreeSet<&Path> = cases.iter().map(|c| c.scenario_path()).collect();
    for file in files {
        put(&mut buf, crate::report::display_path(file).as_bytes());
        put(&mut buf, &fs::read(file)?);
    }
    for (pack, origin) in packs.all() {
        put(&mut buf, pack.id.as_bytes());
        put(&mut buf, pack.version.as_bytes());
        put(&mut buf, origin.display().as_bytes());
        if let PackOrigin::Input(p) | PackOrigin::Override(p) = origin {
            put(&mut buf, &fs::read(p)?);
        }
    }
    Ok(buf)
}

/// FNV-1a 64 (hex) of each scenario file's bytes, by its path as reports show it.
pub fn scenario_file_hashes(cases: &[Case]) -> io::Result<BTreeMap<String, String>> {
    let files: BTreeSet<&Path> = cases.iter().map(|c| c.scenario_path()).collect();
    files
        .into_iter()
        .map(|f| {
            let bytes = fs::read(f)?;
            Ok((
                crate::report::display_path(f),
                format!("{:016x}", fnv1a64(&bytes)),
            ))
        })
        .collect()
}

/// The `resume` record of a `cases.jsonl` line: what the run was started with, which
/// `--resume` compares with its own (the system under test is the line's `sut`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResumeKey {
    pub harness_version: String,
    /// [`inputs_hash`] of the run.
    pub inputs_hash: String,
    pub seed: u64,
    pub shard: Option<Shard>,
    /// FNV-1a 64 (hex) of the bytes of the case's scenario file, so that a refusal can say
    /// which file changed.
    pub scenario_file_hash: String,
}

/// A run as `--resume` sees it: what every line of `cases.jsonl` must agree with.
pub struct ResumeCheck<'a> {
    pub harness_version: &'a str,
    pub inputs_hash: &'a str,
    pub seed: u64,
    pub sut: &'a str,
    pub shard: Option<Shard>,
    /// [`scenario_file_hashes`] of the run's inputs now.
    pub scenario_files: &'a BTreeMap<String, String>,
}

impl ResumeCheck<'_> {
    /// The `resume` record of a line for a case of the scenario file shown as `scenario`.
    pub fn key_for(&self, scenario: &str) -> ResumeKey {
        ResumeKey {
            harness_version: self.harness_version.to_string(),
            inputs_hash: self.inputs_hash.to_string(),
            seed: self.seed,
            shard: self.shard,
            scenario_file_hash: self
                .scenario_files
                .get(scenario)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Whether a finished case of `cases.jsonl` belongs to this run, whose cases (of this
    /// shard) have the IDs `case_ids`; if not, what changed.
    pub fn check(&self, e: &CaseEntry, case_ids: &HashSet<&str>) -> Result<(), String> {
        let Some(then) = &e.resume else {
            return Err(format!(
                "case {} has no `resume` record: not written by a run this harness can resume; start a new run instead (without --resume)",
                e.id
            ));
        };
        if then.harness_version != self.harness_version {
            return Err(format!(
                "case {} was run by harness version {}, this is {}; start a new run instead",
                e.id, then.harness_version, self.harness_version
            ));
        }
        let shard = |s: Option<Shard>| s.map_or("none".to_string(), |s| s.to_string());
        if then.seed != self.seed || e.sut != self.sut || then.shard != self.shard {
            return Err(format!(
                "case {} was run with seed {}, {}, shard {}; now seed {}, {}, shard {}",
                e.id,
                then.seed,
                e.sut,
                shard(then.shard),
                self.seed,
                self.sut,
                shard(self.shard)
            ));
        }
        if then.inputs_hash != self.inputs_hash {
            let what = match self.scenario_files.get(&e.scenario) {
                None => format!("{} is no longer among the scenario files", e.scenario),
                Some(now) if *now != then.scenario_file_hash => {
                    format!("{} was edited", e.scenario)
                }
                Some(_) if !case_ids.contains(e.id.as_str()) => format!(
                    "case {} is no longer among the cases (another --filter, or the scenario files differ)",
                    e.id
                ),
                Some(_) => "the threshold packs (a pack file or --thresholds), --filter or the set of scenario files differ".to_string(),
            };
            return Err(format!(
                "the inputs changed since the run began: {what} (inputs hash {} then, {} now); start a new run instead",
                then.inputs_hash, self.inputs_hash
            ));
        }
        if !case_ids.contains(e.id.as_str()) {
            return Err(format!("case {} is not among this run's cases", e.id));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FactsEntry;

    fn logged(id: &str, scenario: &str, key: ResumeKey) -> CaseEntry {
        CaseEntry {
            id: id.to_string(),
            scenario: scenario.to_string(),
            params: BTreeMap::new(),
            sut: "builtin:aeb".to_string(),
            verdict: "pass".to_string(),
            colour: None,
            reasons: Vec::new(),
            judged_by: None,
            facts: FactsEntry {
                judge: None,
                ego_speed_kph: 10.0,
                vehicle_category: None,
                runs_required: 1,
                reference_collision: BTreeMap::new(),
            },
            metrics: BTreeMap::new(),
            runs: Vec::new(),
            resume: Some(key),
        }
    }

    #[test]
    fn resume_says_what_changed() {
        let files = BTreeMap::from([
            ("a.toml".to_string(), "00000000000000aa".to_string()),
            ("b.toml".to_string(), "00000000000000bb".to_string()),
        ]);
        let now = ResumeCheck {
            harness_version: "0.2.0",
            inputs_hash: "1111111111111111",
            seed: 0,
            sut: "builtin:aeb",
            shard: Some(Shard { k: 1, n: 2 }),
            scenario_files: &files,
        };
        let ids: HashSet<&str> = ["a/x=1", "b/x=1"].into_iter().collect();
        let same = now.key_for("a.toml");
        assert_eq!(same.scenario_file_hash, "00000000000000aa");
        assert_eq!(
            now.check(&logged("a/x=1", "a.toml", same.clone()), &ids),
            Ok(())
        );
        let refused = |e: CaseEntry| now.check(&e, &ids).expect_err("refused");
        let mut none = logged("a/x=1", "a.toml", same.clone());
        none.resume = None;
        assert!(refused(none).contains("no `resume` record"));
        let old = ResumeKey {
            harness_version: "0.1.0".into(),
            ..same.clone()
        };
        assert!(
            refused(logged("a/x=1", "a.toml", old))
                .contains("harness version 0.1.0, this is 0.2.0")
        );
        let seed = ResumeKey {
            seed: 3,
            ..same.clone()
        };
        assert_eq!(
            refused(logged("a/x=1", "a.toml", seed)),
            "case a/x=1 was run with seed 3, builtin:aeb, shard 1/2; now seed 0, builtin:aeb, shard 1/2"
        );
        let unsharded = ResumeKey {
            shard: None,
            ..same.clone()
        };
        assert!(refused(logged("a/x=1", "a.toml", unsharded)).contains("shard none; now"));
        let mut other_sut = logged("a/x=1", "a.toml", same.clone());
        other_sut.sut = "builtin:none".into();
        assert!(refused(other_sut).contains("builtin:none, shard 1/2; now seed 0, builtin:aeb"));
        // Another inputs hash: which file changed, or which case is gone, or else what may have.
        let before = ResumeKey {
            inputs_hash: "2222222222222222".into(),
            ..same.clone()
        };
        let edited = ResumeKey {
            scenario_file_hash: "00000000000000ff".into(),
            ..before.clone()
        };
        let e = refused(logged("a/x=1", "a.toml", edited));
        assert!(e.starts_with("the inputs changed since the run began: a.toml was edited (inputs hash 2222222222222222 then, 1111111111111111 now)"), "{e}");
        let e = refused(logged("c/x=1", "c.toml", before.clone()));
        assert!(
            e.contains("c.toml is no longer among the scenario files"),
            "{e}"
        );
        let e = refused(logged("a/x=9", "a.toml", before.clone()));
        assert!(e.contains("case a/x=9 is no longer among the cases"), "{e}");
        let e = refused(logged("a/x=1", "a.toml", before));
        assert!(e.contains("the threshold packs"), "{e}");
        // Same inputs, a case of another shard.
        let e = refused(logged("a/x=2", "a.toml", same));
        assert_eq!(e, "case a/x=2 is not among this run's cases");
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_explicit_shards() {
        assert_eq!(Shard::parse("2/8", &no_env), Ok(Shard { k: 2, n: 8 }));
        assert_eq!(Shard::parse("1/1", &no_env), Ok(Shard { k: 1, n: 1 }));
        for bad in ["0/4", "5/4", "x/4", "1/0", "1/", "/3", "3", "1/-2"] {
            assert!(Shard::parse(bad, &no_env).is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_reads_kubernetes_then_slurm() {
        let k8s = |n: &str| (n == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert_eq!(Shard::parse("auto/4", &k8s), Ok(Shard { k: 4, n: 4 }));
        let slurm = |n: &str| match n {
            "SLURM_ARRAY_TASK_ID" => Some("12".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("10".to_string()),
            _ => None,
        };
        assert_eq!(Shard::parse("auto/4", &slurm), Ok(Shard { k: 3, n: 4 }));
        let e = Shard::parse("auto/4", &no_env).unwrap_err();
        assert!(e.contains("JOB_COMPLETION_INDEX"), "{e}");
        let e = Shard::parse("auto/2", &k8s).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let junk = |n: &str| (n == "JOB_COMPLETION_INDEX").then(|| "a".to_string());
        assert!(
            Shard::parse("auto/2", &junk)
                .unwrap_err()
                .contains("not a whole number")
        );
    }

    #[test]
    fn shards_partition_the_ids() {
        let ids: Vec<String> = (0..1000).map(|i| format!("s/x={i}")).collect();
        for n in [1, 2, 3, 7] {
            let mut counts = vec![0usize; n as usize];
            for id in &ids {
                let k = shard_of(id, n);
                assert!((1..=n).contains(&k));
                counts[(k - 1) as usize] += 1;
                let owners = (1..=n).filter(|&k| Shard { k, n }.contains(id)).count();
                assert_eq!(owners, 1);
            }
            assert!(
                counts.iter().all(|&c| c > 1000 / n as usize / 2),
                "{counts:?}"
            );
        }
        // Stable: FNV-1a 64 of the ID, not a per-process hash.
        assert_eq!(shard_of("a", 7), (0xaf63_dc4c_8601_ec8c_u64 % 7) as u32 + 1);
    }
}
