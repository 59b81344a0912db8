//! Counter-based randomness: every random number is a pure function of its key.
//!
//! Key = (seed, hash of the case ID, stream, step or frame, element), as
//! `conventions.md` defines it. The generator is Philox-4x32-10 (Salmon et al., SC'11), which
//! needs only 32-bit multiplies, so WGSL shaders compute the same numbers as this CPU code.
//! Strings (case IDs, stream names) are hashed with FNV-1a 64, which is stable across
//! platforms and Rust versions (Rust's `DefaultHasher` is neither).

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// FNV-1a 64 folded to 32 bits (for stream ids).
pub fn fnv1a32_fold(bytes: &[u8]) -> u32 {
    let h = fnv1a64(bytes);
    (h ^ (h >> 32)) as u32
}

/// 2⁵³, the number of values `unit53` takes.
const TWO_53: f64 = (1u64 << 53) as f64;

/// A uniform number in [0, 1) from 53 bits of two random words.
fn unit53(hi: u32, lo: u32) -> f64 {
    let bits = (u64::from(hi) << 21) ^ u64::from(lo >> 11);
    (bits & ((1u64 << 53) - 1)) as f64 / TWO_53
}

const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
const PHILOX_W0: u32 = 0x9E37_79B9;
const PHILOX_W1: u32 = 0xBB67_AE85;

fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// Philox-4x32 with 10 rounds: four 32-bit outputs for a 128-bit counter and a 64-bit key.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(PHILOX_W0);
            k[1] = k[1].wrapping_add(PHILOX_W1);
        }
        let (hi0, lo0) = mulhilo(PHILOX_M0, c[0]);
        let (hi1, lo1) = mulhilo(PHILOX_M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The key of one random stream: which run, which case, which sensor or perturbation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamKey {
    /// Philox key, derived from the seed and the case.
    pub key: [u32; 2],
    /// Stream id (hash of the stream name), mixed with the repeat index.
    pub stream: u32,
}

impl StreamKey {
    /// `seed`: the run's `--seed` (or a sweep's seed); `case_hash`: FNV-1a 64 of the case ID
    /// (or of the scenario name for sweep sampling); `stream`: the stream's name, e.g.
    /// `sweep/target_speed_kph` or `perturb/0/gaussian_noise`; `repeat`: the run index.
    pub fn new(seed: u64, case_hash: u64, stream: &str, repeat: u32) -> StreamKey {
        // Mix seed and case hash into the 64-bit key with one Philox call, so that nearby seeds
        // and nearby hashes give unrelated keys.
        let mixed = philox4x32_10(
            [
                case_hash as u32,
                (case_hash >> 32) as u32,
                0x6761_756e,
                0x746c_6574,
            ],
            [seed as u32, (seed >> 32) as u32],
        );
        StreamKey {
            key: [mixed[0], mixed[1]],
            stream: fnv1a32_fold(stream.as_bytes()) ^ repeat.wrapping_mul(0x9E37_79B9),
        }
    }

    /// Four random words for (step, element).
    pub fn words(&self, step: u32, element: u32) -> [u32; 4] {
        philox4x32_10([self.stream, step, element, 0], self.key)
    }

    /// A uniform number in [0, 1) with 53 random bits, for (step, element).
    pub fn uniform_f64(&self, step: u32, element: u32) -> f64 {
        let w = self.words(step, element);
        unit53(w[0], w[1])
    }

    /// Two independent standard normal numbers for (step, element) (both Box–Muller outputs).
    pub fn normal_pair_f64(&self, step: u32, element: u32) -> (f64, f64) {
        let w = self.words(step, element);
        // u1 in (0, 1] so that ln(u1) is finite; u2 in [0, 1).
        let u1 = (unit53(w[0], w[1]) * TWO_53 + 1.0) / (TWO_53 + 1.0);
        let u2 = unit53(w[2], w[3]);
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        (r * c, r * s)
    }

    /// A standard normal number for (step, element), by Box–Muller on two uniforms.
    pub fn normal_f64(&self, step: u32, element: u32) -> f64 {
        self.normal_pair_f64(step, element).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_known_answers() {
        // Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32_10).
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([0xffff_ffff; 4], [0xffff_ffff; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn fnv_known_answers() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn uniform_is_in_range_and_roughly_uniform() {
        let k = StreamKey::new(7, fnv1a64(b"case"), "test", 0);
        let n = 20000;
        let mean: f64 = (0..n)
            .map(|i| k.uniform_f64(0, i))
            .inspect(|u| assert!((0.0..1.0).contains(u)))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn normal_has_unit_variance() {
        let k = StreamKey::new(1, 2, "normal", 0);
        let n = 20000;
        let xs: Vec<f64> = (0..n).map(|i| k.normal_f64(0, i)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "mean {mean} var {var}"
        );
    }
}
