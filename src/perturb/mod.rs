//! Image corruptions of ImageNet-C (`imagecorruptions` 1.1.2) as a batch engine: every frame of
//! a batch carries its own ordered chain of perturbations, and one plan ([`plan::build`]) turns
//! the batch into dispatches that the GPU (`shaders/perturb_*.wgsl` through `crate::gpu`) and
//! the CPU reference ([`cpu::run_plan`]) execute alike.
//!
//! Names, severity tables and formulas follow `imagecorruptions`; pixel sizes that the original
//! tuned for 224-pixel images are scaled by `frame width / 224`. Randomness is counter-based
//! (`crate::rng`): a frame's key is (seed, FNV-1a 64 of the frame's name), and each perturbation
//! draws from the stream `perturb/<position in the chain>/<name>`, so results do not depend on
//! batching, order or device. `docs/perturbations.md` documents every corruption.
//!
//! Everything here is plain data and pure functions except [`files`], which reads and writes
//! the images of `gauntlet perturb`; only `crate::gpu` touches wgpu.

pub mod blur;
pub mod colour;
pub mod common;
pub mod cpu;
pub mod digital;
pub mod files;
pub mod noise;
pub mod plan;
pub mod weather;

use crate::rng::{StreamKey, fnv1a64};

/// Frame width the original severity tables were tuned for, pixels.
pub const REFERENCE_WIDTH_PX: f32 = 224.0;

/// The 19 corruptions of `imagecorruptions`, in its order (the first 15 are the benchmark set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Corruption {
    GaussianNoise,
    ShotNoise,
    ImpulseNoise,
    DefocusBlur,
    GlassBlur,
    MotionBlur,
    ZoomBlur,
    Snow,
    Frost,
    Fog,
    Brightness,
    Contrast,
    ElasticTransform,
    Pixelate,
    JpegCompression,
    SpeckleNoise,
    GaussianBlur,
    Spatter,
    Saturate,
}

/// One named parameter of a corruption.
#[derive(Clone, Copy, Debug)]
pub struct ParamDef {
    pub name: &'static str,
    /// A length in pixels: severity values (tuned at 224 px) are scaled by `width / 224`; a
    /// value given by name is taken in the frame's own pixels.
    pub pixels: bool,
    /// Values at severities 1–5.
    pub severity: [f32; 5],
    /// Smallest and largest accepted value.
    pub range: (f32, f32),
}

const fn p(name: &'static str, severity: [f32; 5], range: (f32, f32)) -> ParamDef {
    ParamDef {
        name,
        pixels: false,
        severity,
        range,
    }
}

const fn px(name: &'static str, severity: [f32; 5], range: (f32, f32)) -> ParamDef {
    ParamDef {
        name,
        pixels: true,
        severity,
        range,
    }
}

const BIG: f32 = 1e6;

/// `elastic_transform`'s default `working_sigma_px`: the displacement field is smoothed on
/// cells of s pixels where its σ is at least s times this (`plan::elastic_reduction`).
const WORKING_SIGMA: f32 = 3.0;

/// `motion_blur`'s default `pair_min_sigma_px`: from this σ (in pixels of the frame) on, its
/// taps are read in pairs (`plan::motion_pairs`).
const PAIR_MIN_SIGMA: f32 = 6.0;

impl Corruption {
    /// All 19, in `imagecorruptions`' order.
    pub const ALL: [Corruption; 19] = [
        Corruption::GaussianNoise,
        Corruption::ShotNoise,
        Corruption::ImpulseNoise,
        Corruption::DefocusBlur,
        Corruption::GlassBlur,
        Corruption::MotionBlur,
        Corruption::ZoomBlur,
        Corruption::Snow,
        Corruption::Frost,
        Corruption::Fog,
        Corruption::Brightness,
        Corruption::Contrast,
        Corruption::ElasticTransform,
        Corruption::Pixelate,
        Corruption::JpegCompression,
        Corruption::SpeckleNoise,
        Corruption::GaussianBlur,
        Corruption::Spatter,
        Corruption::Saturate,
    ];

    /// The 15 corruptions of the ImageNet-C benchmark.
    pub fn benchmark() -> &'static [Corruption] {
        &Self::ALL[..15]
    }

    /// The name `imagecorruptions` uses.
    pub fn name(self) -> &'static str {
        match self {
            Corruption::GaussianNoise => "gaussian_noise",
            Corruption::ShotNoise => "shot_noise",
            Corruption::ImpulseNoise => "impulse_noise",
            Corruption::DefocusBlur => "defocus_blur",
            Corruption::GlassBlur => "glass_blur",
            Corruption::MotionBlur => "motion_blur",
            Corruption::ZoomBlur => "zoom_blur",
            Corruption::Snow => "snow",
            Corruption::Frost => "frost",
            Corruption::Fog => "fog",
            Corruption::Brightness => "brightness",
            Corruption::Contrast => "contrast",
            Corruption::ElasticTransform => "elastic_transform",
            Corruption::Pixelate => "pixelate",
            Corruption::JpegCompression => "jpeg_compression",
            Corruption::SpeckleNoise => "speckle_noise",
            Corruption::GaussianBlur => "gaussian_blur",
            Corruption::Spatter => "spatter",
            Corruption::Saturate => "saturate",
        }
    }

    pub fn from_name(name: &str) -> Option<Corruption> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The parameters, with their severity tables (those of `imagecorruptions`).
    pub fn params(self) -> &'static [ParamDef] {
        match self {
            Corruption::GaussianNoise => {
                const { &[p("sigma", [0.08, 0.12, 0.18, 0.26, 0.38], (0.0, 10.0))] }
            }
            Corruption::ShotNoise => {
                const { &[p("lambda", [60.0, 25.0, 12.0, 5.0, 3.0], (0.1, 4096.0))] }
            }
            Corruption::ImpulseNoise => {
                const { &[p("amount", [0.03, 0.06, 0.09, 0.17, 0.27], (0.0, 1.0))] }
            }
            Corruption::SpeckleNoise => {
                const { &[p("sigma", [0.15, 0.2, 0.35, 0.45, 0.6], (0.0, 10.0))] }
            }
            Corruption::DefocusBlur => {
                const {
                    &[
                        px("radius_px", [3.0, 4.0, 6.0, 8.0, 10.0], (0.0, 512.0)),
                        // Not a table value: a disk of a larger radius is drawn on the frame
                        // reduced by an integer factor (`plan::defocus_reduction`; 8 until
                        // 2026-12-07, docs/perturbations.md).
                        p("working_radius_px", [5.0; 5], (1.0, 4096.0)),
                    ]
                }
            }
            Corruption::GlassBlur => {
                const {
                    &[
                        px("sigma_px", [0.7, 0.9, 1.0, 1.1, 1.5], (0.0, 256.0)),
                        px("shift_px", [1.0, 2.0, 2.0, 3.0, 4.0], (0.0, 256.0)),
                        p("iterations", [2.0, 1.0, 3.0, 2.0, 2.0], (0.0, 16.0)),
                    ]
                }
            }
            Corruption::MotionBlur => {
                const {
                    &[
                        px("radius_px", [10.0, 15.0, 15.0, 15.0, 20.0], (0.0, 1024.0)),
                        px("sigma_px", [3.0, 5.0, 8.0, 12.0, 15.0], (0.01, 1024.0)),
                        // Not a table value: NaN draws the angle uniformly in ±45° as the original.
                        p("angle_deg", [f32::NAN; 5], (-360.0, 360.0)),
                        // Not a table value: from this σ on, neighbouring taps are read in pairs
                        // from sums of neighbouring pixels at their mean weight
                        // (`plan::motion_pairs`; docs/perturbations.md).
                        p("pair_min_sigma_px", [PAIR_MIN_SIGMA; 5], (0.0, 1e9)),
                    ]
                }
            }
            Corruption::ZoomBlur => {
                const {
                    &[
                        p("max_zoom", [1.11, 1.16, 1.21, 1.26, 1.31], (1.0, 4.0)),
                        p("step", [0.01, 0.01, 0.02, 0.02, 0.03], (0.001, 1.0)),
                    ]
                }
            }
            Corruption::GaussianBlur => {
                const { &[px("sigma_px", [1.0, 2.0, 3.0, 4.0, 6.0], (0.0, 256.0))] }
            }
            Corruption::Snow => {
                const {
                    &[
                        p("mean", [0.1, 0.2, 0.55, 0.55, 0.55], (-BIG, BIG)),
                        p("sigma", [0.3, 0.3, 0.3, 0.3, 0.3], (0.0, BIG)),
                        px("zoom", [3.0, 2.0, 4.0, 4.5, 2.5], (1.0, 1024.0)),
                        p("threshold", [0.5, 0.5, 0.9, 0.85, 0.85], (-BIG, BIG)),
                        px("radius_px", [10.0, 12.0, 12.0, 12.0, 12.0], (0.0, 1024.0)),
                        px("sigma_px", [4.0, 4.0, 8.0, 8.0, 12.0], (0.01, 1024.0)),
                        p("blend", [0.8, 0.7, 0.7, 0.65, 0.55], (0.0, 1.0)),
                        // Not a table value: as `motion_blur`'s, for the layer's motion taps.
                        p("pair_min_sigma_px", [PAIR_MIN_SIGMA; 5], (0.0, 1e9)),
                    ]
                }
            }
            Corruption::Frost => {
                const {
                    &[
                        p("image_weight", [1.0, 0.8, 0.7, 0.65, 0.6], (0.0, 4.0)),
                        p("frost_weight", [0.4, 0.6, 0.7, 0.7, 0.75], (0.0, 4.0)),
                    ]
                }
            }
            Corruption::Fog => {
                const {
                    &[
                        p("strength", [1.5, 2.0, 2.5, 2.5, 3.0], (0.0, 100.0)),
                        p("decay", [2.0, 2.0, 1.7, 1.5, 1.4], (1.01, 100.0)),
                    ]
                }
            }
            Corruption::Spatter => {
                const {
                    &[
                        p("mean", [0.65, 0.65, 0.65, 0.65, 0.67], (-BIG, BIG)),
                        p("sigma", [0.3, 0.3, 0.3, 0.3, 0.4], (0.0, BIG)),
                        px("blur_sigma_px", [4.0, 3.0, 2.0, 1.0, 1.0], (0.0, 256.0)),
                        p("threshold", [0.69, 0.68, 0.68, 0.65, 0.65], (-BIG, BIG)),
                        // Water: blend strength; mud: the Gaussian σ (at 224 px) of the mud mask.
                        p("strength", [0.6, 0.6, 0.5, 1.5, 1.5], (0.0, 256.0)),
                        p("mud", [0.0, 0.0, 0.0, 1.0, 1.0], (0.0, 1.0)),
                    ]
                }
            }
            Corruption::Brightness => {
                const { &[p("delta", [0.1, 0.2, 0.3, 0.4, 0.5], (-1.0, 1.0))] }
            }
            Corruption::Contrast => {
                const { &[p("factor", [0.4, 0.3, 0.2, 0.1, 0.05], (0.0, 100.0))] }
            }
            Corruption::Saturate => {
                const {
                    &[
                        p("scale", [0.3, 0.1, 2.0, 5.0, 20.0], (0.0, 1000.0)),
                        p("offset", [0.0, 0.0, 0.0, 0.1, 0.2], (-1.0, 1.0)),
                    ]
                }
            }
            Corruption::ElasticTransform => {
                const {
                    &[
                        p("alpha", [12.5, 16.25, 21.25, 25.0, 30.0], (0.0, 1000.0)),
                        // Not a table value: the field is smoothed on cells of a few pixels
                        // where its σ allows (`plan::elastic_reduction`).
                        p("working_sigma_px", [WORKING_SIGMA; 5], (0.5, 4096.0)),
                    ]
                }
            }
            Corruption::Pixelate => {
                const { &[p("factor", [0.6, 0.5, 0.4, 0.3, 0.25], (0.001, 1.0))] }
            }
            Corruption::JpegCompression => {
                const { &[p("quality", [25.0, 18.0, 15.0, 10.0, 7.0], (1.0, 100.0))] }
            }
        }
    }
}

/// Most parameters a corruption has.
pub const MAX_PARAMS: usize = 8;

/// One perturbation of a chain: a corruption and its parameters (severity values or values
/// given by name).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Perturbation {
    pub corruption: Corruption,
    /// In the order of [`Corruption::params`].
    pub values: [f32; MAX_PARAMS],
    /// Bit i: parameter i was given by name (pixel lengths then are not scaled).
    pub given: u32,
    /// The severity the values came from (1–5), if any was given.
    pub severity: Option<u8>,
}

impl Perturbation {
    /// The corruption at a severity (1–5).
    pub fn at_severity(corruption: Corruption, severity: u8) -> Perturbation {
        let s = usize::from(severity.clamp(1, 5)) - 1;
        let mut values = [0.0; MAX_PARAMS];
        for (v, d) in values.iter_mut().zip(corruption.params()) {
            *v = d.severity[s];
        }
        Perturbation {
            corruption,
            values,
            given: 0,
            severity: Some(severity.clamp(1, 5)),
        }
    }

    /// Parameter `i` for a frame `width_px` wide: pixel lengths from the severity table are
    /// scaled by `width / 224`.
    pub fn value(&self, i: usize, width_px: u32) -> f32 {
        let d = &self.corruption.params()[i];
        if d.pixels && self.given & (1 << i) == 0 {
            self.values[i] * width_px as f32 / REFERENCE_WIDTH_PX
        } else {
            self.values[i]
        }
    }

    /// The spec that parses back to this perturbation (`gaussian_noise:3`, `…:sigma=0.1`).
    pub fn spec(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.severity {
            parts.push(s.to_string());
        }
        for (i, d) in self.corruption.params().iter().enumerate() {
            if self.given & (1 << i) != 0 {
                parts.push(format!("{}={}", d.name, self.values[i]));
            }
        }
        format!("{}:{}", self.corruption.name(), parts.join(","))
    }
}

/// A perturbation spec that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    #[error("{spec:?}: unknown corruption {name:?}{hint}; known: {known}")]
    UnknownCorruption {
        spec: String,
        name: String,
        hint: String,
        known: String,
    },
    #[error(
        "{spec:?}: expected NAME:SEVERITY (1 to 5) or NAME:PARAM=VALUE[,PARAM=VALUE…] (parameters of {name}: {params})"
    )]
    Syntax {
        spec: String,
        name: String,
        params: String,
    },
    #[error("{spec:?}: {name} has no parameter {param:?}{hint}; its parameters: {params}")]
    UnknownParam {
        spec: String,
        name: String,
        param: String,
        hint: String,
        params: String,
    },
    #[error("{spec:?}: {param} = {value} is outside {lo} to {hi}")]
    OutOfRange {
        spec: String,
        param: String,
        value: String,
        lo: f32,
        hi: f32,
    },
}

fn did_you_mean<'a>(word: &str, options: impl Iterator<Item = &'a str>) -> String {
    options
        .map(|o| (strsim::jaro_winkler(word, o), o))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| format!(" (did you mean {o:?}?)"))
        .unwrap_or_default()
}

/// Parses `NAME:SEVERITY`, `NAME:PARAM=VALUE[,…]` or `NAME:SEVERITY,PARAM=VALUE[,…]`; a
/// parameter not given by name takes its value at the severity (3 when none is given).
pub fn parse_spec(spec: &str) -> Result<Perturbation, SpecError> {
    let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let name = name.trim();
    let corruption = Corruption::from_name(name).ok_or_else(|| SpecError::UnknownCorruption {
        spec: spec.into(),
        name: name.into(),
        hint: did_you_mean(name, Corruption::ALL.iter().map(|c| c.name())),
        known: Corruption::ALL.map(|c| c.name()).join(", "),
    })?;
    let defs = corruption.params();
    let param_list = defs.iter().map(|d| d.name).collect::<Vec<_>>().join(", ");
    let syntax = || SpecError::Syntax {
        spec: spec.into(),
        name: name.into(),
        params: param_list.clone(),
    };
    let items: Vec<&str> = rest.split(',').map(str::trim).collect();
    if rest.trim().is_empty() {
        return Err(syntax());
    }
    let mut severity = None;
    let mut named = Vec::new();
    for (k, item) in items.iter().enumerate() {
        match item.split_once('=') {
            None if k == 0 => match item.parse::<u8>() {
                Ok(s @ 1..=5) => severity = Some(s),
                _ => return Err(syntax()),
            },
            None => return Err(syntax()),
            Some((key, value)) => {
                let key = key.trim();
                let Some(i) = defs.iter().position(|d| d.name == key) else {
                    return Err(SpecError::UnknownParam {
                        spec: spec.into(),
                        name: name.into(),
                        param: key.into(),
                        hint: did_you_mean(key, defs.iter().map(|d| d.name)),
                        params: param_list.clone(),
                    });
                };
                let v: f32 = value.trim().parse().map_err(|_| syntax())?;
                let (lo, hi) = defs[i].range;
                if !(lo..=hi).contains(&v) {
                    return Err(SpecError::OutOfRange {
                        spec: spec.into(),
                        param: key.into(),
                        value: value.trim().into(),
                        lo,
                        hi,
                    });
                }
                named.push((i, v));
            }
        }
    }
    let mut p = Perturbation::at_severity(corruption, severity.unwrap_or(3));
    p.severity = severity;
    for (i, v) in named {
        p.values[i] = v;
        p.given |= 1 << i;
    }
    Ok(p)
}

/// What keys a frame's randomness: the run's seed and the frame's name (for `gauntlet perturb`
/// the file's path relative to the input directory; in a run, camera and step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameKey {
    pub seed: u64,
    /// FNV-1a 64 of the frame's name.
    pub name_hash: u64,
}

impl FrameKey {
    pub fn new(seed: u64, name: &str) -> FrameKey {
        FrameKey {
            seed,
            name_hash: fnv1a64(name.as_bytes()),
        }
    }

    /// The stream of the perturbation at `position` in the chain.
    pub fn stream(&self, position: usize, corruption: Corruption) -> StreamKey {
        StreamKey::new(
            self.seed,
            self.name_hash,
            &format!("perturb/{position}/{}", corruption.name()),
            0,
        )
    }
}

/// One frame to perturb: RGBA8 pixels (row-major, alpha ignored and written as 255), its
/// depth if the renderer made it, the chain and the key of its randomness.
#[derive(Clone, Copy, Debug)]
pub struct FrameIn<'a> {
    pub width_px: u32,
    pub height_px: u32,
    pub rgba: &'a [u8],
    /// Depth along the optical axis, m, one per pixel (rendered frames). No corruption of this
    /// set reads it; depth-aware perturbations will.
    pub depth_m: Option<&'a [f32]>,
    pub chain: &'a [Perturbation],
    pub key: FrameKey,
}

/// Largest frame edge the engine accepts, pixels.
pub const MAX_FRAME_EDGE_PX: u32 = 4096;
/// Smallest frame edge, pixels (as `imagecorruptions`).
pub const MIN_FRAME_EDGE_PX: u32 = 32;

/// Frames the engine cannot take.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("frame {index} is {width}×{height} px; frames must be {min} to {max} px on each side")]
    Size {
        index: usize,
        width: u32,
        height: u32,
        min: u32,
        max: u32,
    },
    #[error("frame {index}: {got} depth values for {width}×{height} pixels")]
    Depth {
        index: usize,
        width: u32,
        height: u32,
        got: usize,
    },
    #[error(
        "frame {index}: {got} bytes of pixels for {width}×{height} RGBA8 (expected {expected})"
    )]
    Bytes {
        index: usize,
        width: u32,
        height: u32,
        got: usize,
        expected: usize,
    },
}

/// Checks the frames of a batch.
pub fn check_frames(frames: &[FrameIn]) -> Result<(), FrameError> {
    for (index, f) in frames.iter().enumerate() {
        let (w, h) = (f.width_px, f.height_px);
        let ok = |v: u32| (MIN_FRAME_EDGE_PX..=MAX_FRAME_EDGE_PX).contains(&v);
        if !ok(w) || !ok(h) {
            return Err(FrameError::Size {
                index,
                width: w,
                height: h,
                min: MIN_FRAME_EDGE_PX,
                max: MAX_FRAME_EDGE_PX,
            });
        }
        let depth_len = f.depth_m.map_or(w as usize * h as usize, <[f32]>::len);
        if depth_len != w as usize * h as usize {
            return Err(FrameError::Depth {
                index,
                width: w,
                height: h,
                got: depth_len,
            });
        }
        let expected = 4 * w as usize * h as usize;
        if f.rgba.len() != expected {
            return Err(FrameError::Bytes {
                index,
                width: w,
                height: h,
                got: f.rgba.len(),
                expected,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        let p = parse_spec("gaussian_noise:3").unwrap();
        assert_eq!(p.values[0], 0.18);
        assert_eq!(p.spec(), "gaussian_noise:3");
        let p = parse_spec("gaussian_noise:sigma=0.1").unwrap();
        assert_eq!(p.values[0], 0.1);
        assert_eq!(p.spec(), "gaussian_noise:sigma=0.1");
        let p = parse_spec("motion_blur:5,angle_deg=30").unwrap();
        assert_eq!(p.values[0], 20.0);
        assert_eq!(p.values[2], 30.0);
        // Severity lengths scale with the frame; named ones do not.
        let p = parse_spec("defocus_blur:1").unwrap();
        assert_eq!(p.value(0, 448), 6.0);
        let p = parse_spec("defocus_blur:radius_px=3").unwrap();
        assert_eq!(p.value(0, 448), 3.0);
    }

    #[test]
    fn bad_specs_are_explained() {
        let e = parse_spec("gausian_noise:3").unwrap_err().to_string();
        assert!(e.contains("did you mean \"gaussian_noise\""), "{e}");
        let e = parse_spec("gaussian_noise:6").unwrap_err().to_string();
        assert!(e.contains("SEVERITY (1 to 5)"), "{e}");
        let e = parse_spec("gaussian_noise").unwrap_err().to_string();
        assert!(e.contains("sigma"), "{e}");
        let e = parse_spec("gaussian_noise:sigma=-1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside"), "{e}");
        let e = parse_spec("gaussian_noise:sgma=1").unwrap_err().to_string();
        assert!(e.contains("did you mean \"sigma\""), "{e}");
    }
}
