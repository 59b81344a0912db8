//! Sweep expansion: grid × random samples → the parameter values of every case, and case IDs.

use std::collections::{BTreeMap, HashSet};

use super::expr::Param;
use super::format::{Distribution, GridValues, ParamValue, Sweep};
use crate::rng::{StreamKey, fnv1a64};

/// Most cases one scenario file may expand to. Fuzzing (`cfg(fuzzing)`, see `fuzz/README.md`)
/// uses small limits here and below, so that the fuzzer explores instead of waiting on big,
/// valid sweeps.
#[allow(unexpected_cfgs)]
pub const MAX_CASES_PER_FILE: usize = if cfg!(fuzzing) { 1_000 } else { 1_000_000 };

/// Most bytes one file may expand to, counting each case as its own copy of what the file says:
/// the cases of a file times the bytes of each are bounded (256 MiB: 250 000 cases of a 1 KiB
/// file). Cases are no longer held that way (their models are built one at a time), but the
/// limit stays, so that the same files are accepted and the same text is bounded.
#[allow(unexpected_cfgs)]
pub const MAX_EXPANSION_BYTES: usize = if cfg!(fuzzing) { 1 << 20 } else { 256 << 20 };

/// Checks that `n_cases` cases of `bytes_per_case` bytes each stay within [`MAX_EXPANSION_BYTES`].
fn check_expansion_size(n_cases: usize, bytes_per_case: usize) -> Result<(), SweepError> {
    let total = n_cases.saturating_mul(bytes_per_case);
    if total > MAX_EXPANSION_BYTES {
        return Err(SweepError {
            pointer: "/sweep".into(),
            message: format!(
                "expands to {n_cases} cases of about {bytes_per_case} bytes each; the limit is {} MiB per file",
                MAX_EXPANSION_BYTES >> 20
            ),
        });
    }
    Ok(())
}

/// A problem with the sweep, located by JSON pointer.
pub use super::FieldError as SweepError;

/// The swept values of every case of a file, made on demand from the grid and the random
/// samples: a file of a million cases holds its grid values and samples, not a million maps.
/// Case `i` is grid point `i / samples` crossed with sample `i % samples`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    /// The swept names, sorted (the order of case IDs).
    names: Vec<String>,
    /// Grid dimensions in name order: the slot of the name in `names`, and its values.
    dims: Vec<(usize, Vec<Param>)>,
    n_grid: usize,
    /// The slot in `names` of each randomly sampled parameter, in name order.
    sample_slots: Vec<usize>,
    /// Each random sample's values, in the order of `sample_slots` (one empty sample when the
    /// sweep has no random part).
    samples: Vec<Vec<Param>>,
}

impl Expansion {
    /// The expansion of a file without a sweep: one case, nothing swept.
    fn single() -> Expansion {
        Expansion {
            names: Vec::new(),
            dims: Vec::new(),
            n_grid: 1,
            sample_slots: Vec::new(),
            samples: vec![Vec::new()],
        }
    }

    /// The number of cases.
    pub fn len(&self) -> usize {
        self.n_grid * self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The swept names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The swept values of case `index` (< `len()`), in the order of [`Expansion::names`].
    pub fn values(&self, index: usize) -> Vec<Param> {
        let samples = self.samples.len();
        let mut out: Vec<Option<Param>> = vec![None; self.names.len()];
        // Grid dimensions vary in name order, the last name fastest.
        let mut rest = index / samples;
        for (slot, values) in self.dims.iter().rev() {
            out[*slot] = Some(values[rest % values.len()].clone());
            rest /= values.len();
        }
        for (slot, value) in self.sample_slots.iter().zip(&self.samples[index % samples]) {
            out[*slot] = Some(value.clone());
        }
        out.into_iter()
            .map(|v| v.unwrap_or(Param::Number(f64::NAN)))
            .collect()
    }

    /// The swept values of case `index` (< `len()`), by name.
    pub fn case(&self, index: usize) -> BTreeMap<String, Param> {
        self.names.iter().cloned().zip(self.values(index)).collect()
    }
}

/// Expands a sweep. Grid dimensions vary in name order (the last name fastest); each grid
/// point is crossed with every random sample. `file_bytes`, the size of the scenario file,
/// counts towards the size of each case (see [`MAX_EXPANSION_BYTES`]).
pub fn expand(
    scenario_name: &str,
    sweep: Option<&Sweep>,
    file_bytes: usize,
) -> Result<Expansion, Vec<SweepError>> {
    let Some(sweep) = sweep else {
        return Ok(Expansion::single());
    };
    let mut errors = Vec::new();
    let mut dims: Vec<(String, Vec<Param>)> = Vec::new();
    let mut n_grid: usize = 1;
    for (name, values) in &sweep.grid {
        let pointer = format!("/sweep/grid/{name}");
        match grid_values(values) {
            Ok(v) if v.is_empty() => errors.push(SweepError {
                pointer,
                message: "expands to no values".into(),
            }),
            Ok(v) => {
                n_grid = n_grid.saturating_mul(v.len());
                dims.push((name.clone(), v));
            }
            Err(message) => errors.push(SweepError { pointer, message }),
        }
        // Stop before the values of further dimensions take memory for nothing.
        if n_grid > MAX_CASES_PER_FILE {
            errors.push(SweepError {
                pointer: "/sweep/grid".into(),
                message: format!(
                    "expands to more than {MAX_CASES_PER_FILE} cases; the limit is {MAX_CASES_PER_FILE} per file"
                ),
            });
            break;
        }
    }
    let mut samples: Vec<Vec<Param>> = vec![Vec::new()];
    if let Some(random) = &sweep.random {
        if random.params.is_empty() {
            errors.push(SweepError {
                pointer: "/sweep/random/params".into(),
                message: "no parameters to sample".into(),
            });
        }
        for name in random.params.keys() {
            if sweep.grid.contains_key(name) {
                errors.push(SweepError {
                    pointer: format!("/sweep/random/params/{name}"),
                    message: format!("`{name}` is also a grid dimension"),
                });
            }
        }
        let sample_bytes = random.params.keys().map(|n| n.len() + 64).sum::<usize>();
        let size = check_expansion_size(random.count as usize, sample_bytes);
        match size
            .map_err(|e| vec![e])
            .and_then(|()| sample(scenario_name, random.seed, random.count, &random.params))
        {
            Ok(s) => samples = s,
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let total = n_grid.saturating_mul(samples.len());
    if total > MAX_CASES_PER_FILE {
        return Err(vec![SweepError {
            pointer: "/sweep".into(),
            message: format!(
                "expands to {total} cases; the limit is {MAX_CASES_PER_FILE} per file"
            ),
        }]);
    }
    // The limit counts each case as holding every swept name and value (long names make big
    // cases) and its own copy of what the file says, as cases did before they were made on
    // demand; the limit stays, so that the same files are accepted.
    let random_names: Vec<&String> = sweep.random.iter().flat_map(|r| r.params.keys()).collect();
    let names = dims
        .iter()
        .map(|(n, _)| n)
        .chain(random_names.iter().copied());
    let case_bytes = names.map(|n| n.len() + 64).sum::<usize>() + file_bytes;
    check_expansion_size(total, case_bytes).map_err(|e| vec![e])?;
    let mut names: Vec<String> = dims
        .iter()
        .map(|(n, _)| n.clone())
        .chain(random_names.iter().map(|n| n.to_string()))
        .collect();
    names.sort();
    names.dedup();
    let slot = |n: &str| names.iter().position(|m| m == n).unwrap_or(0);
    let dims = dims.into_iter().map(|(n, v)| (slot(&n), v)).collect();
    let sample_slots = random_names.iter().map(|n| slot(n)).collect();
    Ok(Expansion {
        dims,
        n_grid,
        sample_slots,
        samples,
        names,
    })
}

fn grid_values(values: &GridValues) -> Result<Vec<Param>, String> {
    match values {
        GridValues::List(list) => {
            let mut out = Vec::with_capacity(list.len());
            // Words and numbers as written in case IDs (`Param` is not `Hash`).
            let mut seen: HashSet<(bool, String)> = HashSet::with_capacity(list.len());
            for v in list {
                let p = match v {
                    ParamValue::Number(x) => Param::Number(*x),
                    ParamValue::Text(s) => {
                        if !is_id_word(s) {
                            return Err(format!(
                                "grid value \"{s}\" is not a number or a word of letters, digits and `._+-` (it goes into case IDs)"
                            ));
                        }
                        Param::Word(s.clone())
                    }
                };
                if !seen.insert((matches!(p, Param::Word(_)), p.to_string())) {
                    return Err(format!("value {p} is listed twice"));
                }
                out.push(p);
            }
            Ok(out)
        }
        GridValues::Range(r) => {
            if r.step.is_nan() || r.step <= 0.0 {
                return Err(format!("step must be > 0, found {}", r.step));
            }
            if r.to < r.from {
                return Err(format!(
                    "range from {} to {} is empty (to < from)",
                    r.from, r.to
                ));
            }
            let n = ((r.to - r.from) / r.step + 1e-9).floor() + 1.0;
            if n > MAX_CASES_PER_FILE as f64 {
                return Err(format!(
                    "range has {n} values; the limit is {MAX_CASES_PER_FILE}"
                ));
            }
            Ok((0..n as usize)
                .map(|i| Param::Number(round_to(r.from + i as f64 * r.step, 1e-9)))
                .collect())
        }
    }
}

/// Whether a word may appear in a case ID.
pub fn is_id_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

/// Rounds to a multiple of `quantum`, avoiding `0.30000000000000004`-style tails.
pub fn round_to(x: f64, quantum: f64) -> f64 {
    let r = (x / quantum).round() * quantum;
    // Print with as many decimals as the quantum has in its shortest form (0.25 → 2,
    // 2.5 → 1, 1e-9 → 9), so that 0.30000000000000004 becomes 0.3.
    let shown = format!("{quantum}");
    let decimals = shown
        .split_once('.')
        .map_or(0, |(_, frac)| frac.len())
        .min(15);
    let s = format!("{r:.decimals$}");
    let v: f64 = s.parse().unwrap_or(r);
    if v == 0.0 { 0.0 } else { v }
}

fn sample(
    scenario_name: &str,
    seed: u64,
    count: u32,
    params: &BTreeMap<String, Distribution>,
) -> Result<Vec<Vec<Param>>, Vec<SweepError>> {
    let mut errors = Vec::new();
    for (name, dist) in params {
        let pointer = format!("/sweep/random/params/{name}");
        match dist {
            Distribution::Uniform { min, max, .. } if max < min => errors.push(SweepError {
                pointer,
                message: format!("max {max} is below min {min}"),
            }),
            Distribution::Normal {
                min: Some(lo),
                max: Some(hi),
                ..
            } if hi < lo => errors.push(SweepError {
                pointer,
                message: format!("max {hi} is below min {lo}"),
            }),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let case_hash = fnv1a64(scenario_name.as_bytes());
    // Each sample's values in name order (the order of `params`).
    let mut out = vec![Vec::with_capacity(params.len()); count as usize];
    for (name, dist) in params {
        let key = StreamKey::new(seed, case_hash, &format!("sweep/{name}"), 0);
        // Redraws are bounded per parameter too, not only per sample: at least 1 draw in 20
        // must fall in a truncation interval.
        let mut draws_left = 1000 + 20 * u64::from(count);
        for (i, sample) in out.iter_mut().enumerate() {
            let value = match dist {
                Distribution::Uniform {
                    min,
                    max,
                    round_to: q,
                } => {
                    round_to(min + (max - min) * key.uniform_f64(0, i as u32), *q).clamp(*min, *max)
                }
                Distribution::Normal {
                    mean,
                    sd,
                    min,
                    max,
                    round_to: q,
                } => {
                    // Truncation by redrawing: draw `attempt` uses step = attempt.
                    let mut drawn = None;
                    for attempt in 0..1000u32 {
                        if draws_left == 0 {
                            break;
                        }
                        draws_left -= 1;
                        let x = round_to(mean + sd * key.normal_f64(attempt, i as u32), *q);
                        if min.is_none_or(|lo| x >= lo) && max.is_none_or(|hi| x <= hi) {
                            drawn = Some(x);
                            break;
                        }
                    }
                    match drawn {
                        Some(x) => x,
                        None => {
                            return Err(vec![SweepError {
                                pointer: format!("/sweep/random/params/{name}"),
                                message: if draws_left == 0 {
                                    "the truncation interval is too far from the mean to sample (fewer than 1 draw in 20 falls in it)".into()
                                } else {
                                    "the truncation interval is too far from the mean to sample (1000 draws missed it)".into()
                                },
                            }]);
                        }
                    }
                }
            };
            sample.push(Param::Number(value));
        }
    }
    Ok(out)
}

/// The case ID: `<scenario name>/<param>=<value>,...` over the swept parameters, sorted by name.
pub fn case_id(scenario_name: &str, swept: &BTreeMap<String, Param>) -> String {
    if swept.is_empty() {
        return scenario_name.to_string();
    }
    let parts: Vec<String> = swept.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{scenario_name}/{}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_ids_short() {
        assert_eq!(round_to(0.1 + 0.2, 1e-9), 0.3);
        assert_eq!(round_to(12.3456, 0.1), 12.3);
        assert_eq!(round_to(-0.0000001, 0.001), 0.0);
        assert_eq!(round_to(0.75, 0.25), 0.75);
        assert_eq!(round_to(3.7, 2.5), 2.5);
        assert_eq!(round_to(0.1 + 0.2, 0.025), 0.3);
        assert_eq!(round_to(17.0, 5.0), 15.0);
        assert_eq!(
            format!("{}", Param::Number(round_to(10.0 + 7.0 * 5.0, 1e-9))),
            "45"
        );
    }

    #[test]
    fn cases_are_grid_points_crossed_with_samples_in_id_order() {
        let sweep: Sweep = serde_json::from_value(serde_json::json!({
            "grid": { "b": [1, 2, 3], "a": ["x", "y"] },
            "random": { "count": 2, "seed": 1, "params": {
                "m": { "dist": "uniform", "min": 0, "max": 1, "round_to": 0.001 }
            } }
        }))
        .expect("sweep");
        let e = expand("s", Some(&sweep), 100).expect("expands");
        assert_eq!(e.len(), 12);
        assert_eq!(e.names(), ["a", "b", "m"]);
        let ids: Vec<String> = (0..e.len()).map(|i| case_id("s", &e.case(i))).collect();
        // Grid dimensions in name order, the last fastest; each point crossed with every sample.
        let grid: Vec<String> = ids
            .iter()
            .step_by(2)
            .map(|id| id.rsplit_once(",m=").expect("m").0.to_string())
            .collect();
        assert_eq!(
            grid,
            [
                "s/a=x,b=1",
                "s/a=x,b=2",
                "s/a=x,b=3",
                "s/a=y,b=1",
                "s/a=y,b=2",
                "s/a=y,b=3"
            ]
        );
        let m_of = |i: usize| e.case(i)["m"].clone();
        for i in 0..e.len() {
            assert_eq!(m_of(i), m_of(i % 2), "case {i} has sample {}", i % 2);
            assert_eq!(e.values(i), e.case(i).into_values().collect::<Vec<_>>());
        }
        assert_ne!(m_of(0), m_of(1));
        let single = expand("s", None, 100).expect("expands");
        assert_eq!(single.len(), 1);
        assert!(single.case(0).is_empty());
    }
}
