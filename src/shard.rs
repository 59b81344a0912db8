//! Scale-out and crash safety: `--shard K/N` (a stable partition of the cases by FNV-1a 64 of
//! the case ID), the inputs hash that ties shards and resumed runs to the same inputs,
//! `resume.json`, and reading back `cases.jsonl` (a torn last line ignored) for `--resume`.
//!
//! See `conventions.md` (Sharding) and `docs/distributed.md`.

use std::collections::BTreeSet;
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
    let files: BTreeSet<&Path> = cases.iter().map(|c| c.scenario_path.as_path()).collect();
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

/// `resume.json`: what a run was started with, compared by `--resume`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResumeInfo {
    pub inputs_hash: String,
    pub seed: u64,
    pub sut: String,
    pub shard: Option<Shard>,
}

pub const RESUME_FILE: &str = "resume.json";

/// Writes `dir/resume.json`.
pub fn write_resume_info(dir: &Path, info: &ResumeInfo) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(info).map_err(io::Error::other)?;
    text.push('\n');
    fs::write(dir.join(RESUME_FILE), text)
}

/// Reads `dir/resume.json`; `Ok(None)` when there is none.
pub fn read_resume_info(dir: &Path) -> Result<Option<ResumeInfo>, String> {
    let path = dir.join(RESUME_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: not a Gauntlet resume file: {e}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
    }
}

/// What `--resume` found in `cases.jsonl`.
#[derive(Debug, Default)]
pub struct CasesRead {
    /// Finished cases, first line of each ID kept.
    pub entries: Vec<CaseEntry>,
    /// Byte length of the complete, valid lines: the file is cut back to it before appending.
    pub valid_len: u64,
    /// Whether a torn (unterminated or unreadable) last line was dropped.
    pub torn_tail: bool,
}

/// Reads `cases.jsonl`: every complete line must be a case entry, except that a last line that
/// is unterminated or does not parse (a write cut short by a kill) is ignored.
pub fn read_cases_log(path: &Path) -> Result<CasesRead, String> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(CasesRead::default()),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let mut out = CasesRead::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < bytes.len() {
        line_no += 1;
        let Some(len) = bytes[start..].iter().position(|&b| b == b'\n') else {
            out.torn_tail = true;
            break;
        };
        let end = start + len + 1;
        let is_last = end == bytes.len();
        match serde_json::from_slice::<CaseEntry>(&bytes[start..end - 1]) {
            Ok(entry) => {
                if seen.insert(entry.id.clone()) {
                    out.entries.push(entry);
                }
                out.valid_len = end as u64;
            }
            Err(_) if is_last => {
                out.torn_tail = true;
                break;
            }
            Err(e) => {
                return Err(format!(
                    "{}:{line_no}: not a case entry ({e}); only the last line may be torn",
                    path.display()
                ));
            }
        }
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
