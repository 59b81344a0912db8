//! System manifests (`kind = "sut"`): how to start an out-of-process system under test — its
//! program, arguments, environment and working directory, its time-outs, batch size and rate,
//! and what it wants to receive — read with the scenario machinery (same diagnostics, exit 2).
//!
//! `--sut exec:PATH` is the manifest-free form: the program alone, with every default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use jsonschema::Validator;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::protocol::{FrameDelivery, FrameFormat, Offer};
use crate::diag::Diagnostic;
use crate::scenario::schema::{self, field_path};
use crate::scenario::source::{self, SpanMap};

/// Default time the program has to answer `hello`, s.
pub const DEFAULT_STARTUP_TIMEOUT_S: f64 = 10.0;
/// Default time the program has to answer one `step`, s.
pub const DEFAULT_STEP_TIMEOUT_S: f64 = 1.0;
/// Default wall-clock time one run of a case may take, s.
pub const DEFAULT_CASE_TIMEOUT_S: f64 = 120.0;
/// The largest batch a manifest may ask for.
pub const MAX_BATCH_SIZE: usize = 1024;

/// A system manifest as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Gauntlet system-under-test manifest")]
pub struct ManifestFile {
    /// What this file is. Always `"sut"` for system manifests.
    pub kind: SutKind,
    /// A short name for messages and logs (the report names the system by `--sut` as given).
    #[serde(default)]
    #[schemars(length(min = 1, max = 80))]
    pub name: Option<String>,
    /// The program to start, never through a shell. A path with a `/` is relative to this
    /// file's directory; a bare name is looked up in `PATH`.
    #[schemars(length(min = 1))]
    pub command: String,
    /// Arguments passed to the program as they are (no shell expansion).
    #[serde(default)]
    pub args: Vec<String>,
    /// Variables added to the harness's environment for the program.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Directory the program starts in, relative to this file's directory (default: this
    /// file's directory).
    #[serde(default)]
    pub working_dir: Option<String>,
    /// How many runs one process holds at once; each `step` carries the observations of all of
    /// them that are due (default 1: one run at a time).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1024))]
    pub batch_size: usize,
    /// The rate at which the system is stepped, in Hz, instead of each scenario's
    /// `timing.sut_rate_hz`; must divide every case's physics rate.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1000))]
    pub rate_hz: Option<f64>,
    #[serde(default)]
    pub timeouts: TimeoutsFile,
    #[serde(default)]
    pub receive: ReceiveFile,
}

fn one() -> usize {
    1
}

/// The `kind` of a system manifest.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SutKind {
    Sut,
}

/// `[timeouts]`: a system that takes longer ends the case in an `error` verdict.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    /// Time to answer `hello` after being started, s (default 10).
    #[serde(default = "default_startup_s")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 600))]
    pub startup_s: f64,
    /// Time to answer one `step`, s (default 1).
    #[serde(default = "default_step_s")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 600))]
    pub step_s: f64,
    /// Wall-clock time of one run of a case, s (default 120).
    #[serde(default = "default_case_s")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 86400))]
    pub case_s: f64,
}

impl Default for TimeoutsFile {
    fn default() -> Self {
        TimeoutsFile {
            startup_s: DEFAULT_STARTUP_TIMEOUT_S,
            step_s: DEFAULT_STEP_TIMEOUT_S,
            case_s: DEFAULT_CASE_TIMEOUT_S,
        }
    }
}

fn default_startup_s() -> f64 {
    DEFAULT_STARTUP_TIMEOUT_S
}
fn default_step_s() -> f64 {
    DEFAULT_STEP_TIMEOUT_S
}
fn default_case_s() -> f64 {
    DEFAULT_CASE_TIMEOUT_S
}

/// `[receive]`: what the observations carry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveFile {
    /// The object list (default true).
    #[serde(default = "yes")]
    pub object_list: bool,
    /// The lane observation (default true).
    #[serde(default = "yes")]
    pub lane: bool,
    /// Camera frames: `{ format = "rgb8" | "rgba8", transport = "inline" | "shm" }`: the
    /// latest frame of every camera of the scenario at every step (every case then needs a
    /// `[[sensors.camera]]`). Default: no frames.
    #[serde(default)]
    pub camera: Option<CameraFile>,
    /// The newest satellite-positioning fix, in scenarios with `[sensors.gnss]` (default
    /// true).
    #[serde(default = "yes")]
    pub gnss: bool,
}

impl Default for ReceiveFile {
    fn default() -> Self {
        ReceiveFile {
            object_list: true,
            lane: true,
            camera: None,
            gnss: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// `[receive] camera`: how frames reach the system (its `ready` may pick another offered
/// format and transport).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraFile {
    /// Pixel format: `rgb8` (3 bytes a pixel) or `rgba8` (4).
    pub format: CameraFormatFile,
    /// `inline` (raw bytes after the step line) or `shm` (a shared-memory file).
    pub transport: CameraTransport,
}

/// Pixel formats a manifest may ask for.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CameraFormatFile {
    Rgb8,
    Rgba8,
}

/// How frames travel.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CameraTransport {
    Inline,
    Shm,
}

/// An out-of-process system under test, ready to start.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessSut {
    /// How `--sut` named it (`exec:PATH` or the manifest's path); reports use this.
    pub label: String,
    /// The manifest's `name`, else the program's file name.
    pub name: String,
    /// The program, resolved (absolute, or as found in `PATH`).
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `None`: the directory gauntlet runs in.
    pub working_dir: Option<PathBuf>,
    pub startup_timeout: Duration,
    pub step_timeout: Duration,
    pub case_timeout: Duration,
    pub batch_size: usize,
    pub rate_hz: Option<f64>,
    /// What observations carry.
    pub offer: Offer,
    /// Frames as the manifest asks for them (`[receive] camera`); `None`: no frames are
    /// offered.
    pub frames: Option<FrameDelivery>,
    /// Where per-case logs of failed runs go (`--out`/`sut-logs`); `None`: no logs.
    pub log_dir: Option<PathBuf>,
    /// FNV-1a 64 of the manifest's bytes (0 for `exec:`), for the inputs hash of `--resume`.
    pub manifest_hash: u64,
}

/// Everything a system is offered when its manifest does not say otherwise.
pub fn default_offer() -> Offer {
    Offer {
        object_list: true,
        lane: true,
        camera: Vec::new(),
        camera_transports: Vec::new(),
        gnss: true,
    }
}

/// The offer to a system whose manifest asks for frames: every format and transport (its
/// `ready` may pick any of them; the manifest's choice is the default).
pub fn camera_offer() -> Offer {
    Offer {
        camera: FrameFormat::ALL
            .iter()
            .map(|f| f.name().to_string())
            .collect(),
        camera_transports: vec!["inline".into(), "shm".into()],
        ..default_offer()
    }
}

/// Why a program cannot be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    #[error("`{0}`: no such file")]
    Missing(String),
    #[error("`{0}` is not a file")]
    NotAFile(String),
    #[error("`{0}` is not executable (chmod +x)")]
    NotExecutable(String),
    #[error("`{0}` is not found in PATH")]
    NotInPath(String),
}

/// Checks that `path` is an executable file.
pub fn check_executable(path: &Path) -> Result<(), ProgramError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|_| ProgramError::Missing(shown.clone()))?;
    if !meta.is_file() {
        return Err(ProgramError::NotAFile(shown));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(ProgramError::NotExecutable(shown));
        }
    }
    Ok(())
}

/// The program of `command`: a path with a separator is relative to `base`; a bare name is
/// looked up in `PATH` (the way a shell would find it, without a shell).
pub fn resolve_program(command: &str, base: &Path) -> Result<PathBuf, ProgramError> {
    let as_path = Path::new(command);
    if as_path.components().count() > 1 || as_path.is_absolute() {
        let path = base.join(as_path);
        check_executable(&path)?;
        return Ok(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path_var) {
        let candidate = dir.join(command);
        if check_executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(ProgramError::NotInPath(command.to_string()))
}

/// `exec:PATH`: the program alone (relative to the directory gauntlet runs in), with every
/// default.
pub fn exec_sut(path: &str) -> Result<ProcessSut, ProgramError> {
    let program = Path::new(path);
    check_executable(program)?;
    let program = std::path::absolute(program).unwrap_or_else(|_| program.to_path_buf());
    let name = program
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
    Ok(ProcessSut {
        label: format!("exec:{path}"),
        name,
        program,
        args: Vec::new(),
        env: Vec::new(),
        working_dir: None,
        startup_timeout: Duration::from_secs_f64(DEFAULT_STARTUP_TIMEOUT_S),
        step_timeout: Duration::from_secs_f64(DEFAULT_STEP_TIMEOUT_S),
        case_timeout: Duration::from_secs_f64(DEFAULT_CASE_TIMEOUT_S),
        batch_size: 1,
        rate_hz: None,
        offer: default_offer(),
        frames: None,
        log_dir: None,
        manifest_hash: 0,
    })
}

/// The JSON Schema of system manifests, generated from [`ManifestFile`].
pub fn manifest_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let settings = schemars::generate::SchemaSettings::draft2020_12();
        let mut schema = settings
            .into_generator()
            .into_root_schema_for::<ManifestFile>()
            .to_value();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert(
                "$id".into(),
                Value::String("https://gauntlet.dev/schema/sut.schema.json".into()),
            );
        }
        schema
    })
}

/// Loads and checks a manifest file (the program must exist and be executable).
pub fn load(path: &Path) -> Result<ProcessSut, Vec<Diagnostic>> {
    let bytes = std::fs::read(path)
        .map_err(|e| vec![Diagnostic::error(path, "", format!("cannot read: {e}"))])?;
    let text =
        source::decode(&bytes).map_err(|e| vec![Diagnostic::error(path, "", e.to_string())])?;
    let (json, spans) = match source::parse(text) {
        Ok(x) => x,
        Err(source::SourceError::Syntax { message, span }) => {
            return Err(vec![
                Diagnostic::error(path, "", format!("TOML syntax error: {message}")).at(text, span),
            ]);
        }
        Err(e) => return Err(vec![Diagnostic::error(path, "", e.to_string())]),
    };
    if json.get("kind").and_then(Value::as_str) != Some("sut") {
        let found = json
            .get("kind")
            .map_or("no `kind`".to_string(), schema::describe_value);
        return Err(vec![
            Diagnostic::error(
                path,
                "kind",
                format!("expected a system manifest (`kind = \"sut\"`), found {found}"),
            )
            .at(text, spans.value("/kind").or(Some(0..0))),
        ]);
    }
    load_value(path, text, &json, &spans)
}

/// Checks a manifest already parsed by `scenario::source::parse` (what `scenario::load_bytes`
/// calls for `kind = "sut"`, so that `gauntlet validate` checks manifests too).
pub fn load_value(
    file: &Path,
    text: &str,
    json: &Value,
    spans: &SpanMap,
) -> Result<ProcessSut, Vec<Diagnostic>> {
    crate::diag::with_line_index(text, || {
        static VALIDATOR: OnceLock<Validator> = OnceLock::new();
        let diags =
            schema::validate_against(manifest_schema(), &VALIDATOR, json, file, text, spans);
        if !diags.is_empty() {
            return Err(diags);
        }
        let typed: ManifestFile = serde_json::from_value(json.clone())
            .map_err(|e| vec![Diagnostic::error(file, "", e.to_string()).at(text, Some(0..0))])?;
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        build(file, &typed, base, text).map_err(|problems| {
            problems
                .into_iter()
                .map(|(pointer, message)| {
                    Diagnostic::error(file, field_path(&pointer), message)
                        .at(text, spans.value(&pointer))
                })
                .collect()
        })
    })
}

/// An error at a field of a manifest file (located when the file still parses).
pub fn diagnostic_at(file: &Path, pointer: &str, message: String) -> Diagnostic {
    let d = Diagnostic::error(file, field_path(pointer), message);
    let Ok(bytes) = std::fs::read(file) else {
        return d;
    };
    let Ok(text) = source::decode(&bytes) else {
        return d;
    };
    match source::parse(text) {
        Ok((_, spans)) => d.at(text, spans.value(pointer)),
        Err(_) => d,
    }
}

fn build(
    file: &Path,
    m: &ManifestFile,
    base: &Path,
    text: &str,
) -> Result<ProcessSut, Vec<(String, String)>> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let program = match resolve_program(&m.command, base) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(("/command".into(), format!("cannot start the system: {e}")));
            None
        }
    };
    let working_dir = m
        .working_dir
        .as_deref()
        .map_or(base.to_path_buf(), |d| base.join(d));
    if !working_dir.is_dir() {
        problems.push((
            "/working_dir".into(),
            format!("`{}` is not a directory", working_dir.display()),
        ));
    }
    for key in m.env.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            problems.push((
                format!("/env/{}", source::pointer_segment(key)),
                format!("`{key}` is not a valid environment variable name"),
            ));
        }
    }
    if m.args
        .iter()
        .chain(m.env.values())
        .any(|a| a.contains('\0'))
    {
        problems.push((
            "/args".into(),
            "arguments and values cannot hold NUL".into(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let program = program.unwrap_or_default();
    let frames = m.receive.camera.as_ref().map(|c| FrameDelivery {
        format: match c.format {
            CameraFormatFile::Rgb8 => FrameFormat::Rgb8,
            CameraFormatFile::Rgba8 => FrameFormat::Rgba8,
        },
        transport: c.transport,
    });
    let base_offer = if frames.is_some() {
        camera_offer()
    } else {
        default_offer()
    };
    let name = m.name.clone().unwrap_or_else(|| {
        program
            .file_name()
            .map_or_else(|| m.command.clone(), |n| n.to_string_lossy().into_owned())
    });
    Ok(ProcessSut {
        label: file.display().to_string(),
        name,
        program: std::path::absolute(&program).unwrap_or(program),
        args: m.args.clone(),
        env: m.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        working_dir: Some(std::path::absolute(&working_dir).unwrap_or(working_dir)),
        startup_timeout: Duration::from_secs_f64(m.timeouts.startup_s),
        step_timeout: Duration::from_secs_f64(m.timeouts.step_s),
        case_timeout: Duration::from_secs_f64(m.timeouts.case_s),
        batch_size: m.batch_size.clamp(1, MAX_BATCH_SIZE),
        rate_hz: m.rate_hz,
        offer: Offer {
            object_list: m.receive.object_list,
            lane: m.receive.lane,
            gnss: m.receive.gnss,
            ..base_offer
        },
        frames,
        log_dir: None,
        manifest_hash: crate::rng::fnv1a64(text.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<ProcessSut, Vec<String>> {
        // One directory per call: the tests run on parallel threads of one process, and a
        // shared file would be rewritten under another test's feet.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("gauntlet-manifest-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("sut.toml");
        std::fs::write(&file, text).expect("write");
        let loaded = load(&file).map_err(|d| d.iter().map(|d| d.headline()).collect());
        let _ = std::fs::remove_dir_all(&dir);
        loaded
    }

    #[test]
    fn a_full_manifest_loads_with_its_values() {
        let sut = check(
            r#"kind = "sut"
name = "shell"
command = "sh"
args = ["-c", "true"]
env = { A = "1" }
batch_size = 4
rate_hz = 20
[timeouts]
step_s = 0.5
[receive]
lane = false
"#,
        )
        .expect("valid");
        assert_eq!(sut.name, "shell");
        assert!(sut.program.ends_with("sh"));
        assert_eq!(sut.args, ["-c", "true"]);
        assert_eq!(sut.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(sut.batch_size, 4);
        assert_eq!(sut.rate_hz, Some(20.0));
        assert_eq!(sut.step_timeout, Duration::from_millis(500));
        assert_eq!(
            sut.startup_timeout,
            Duration::from_secs_f64(DEFAULT_STARTUP_TIMEOUT_S)
        );
        assert!(sut.offer.object_list && !sut.offer.lane);
        assert!(sut.frames.is_none() && sut.offer.camera.is_empty());
    }

    #[test]
    fn a_manifest_asks_for_frames_and_bad_formats_are_located() {
        let sut = check(
            "kind = \"sut\"\ncommand = \"sh\"\n[receive]\ncamera = { format = \"rgb8\", transport = \"shm\" }\n",
        )
        .expect("valid");
        assert_eq!(
            sut.frames,
            Some(FrameDelivery {
                format: FrameFormat::Rgb8,
                transport: CameraTransport::Shm
            })
        );
        assert_eq!(sut.offer.camera, ["rgb8", "rgba8"]);
        assert_eq!(sut.offer.camera_transports, ["inline", "shm"]);
        let errs = check(
            "kind = \"sut\"\ncommand = \"sh\"\n[receive]\ncamera = { format = \"yuv420\", transport = \"shm\" }\n",
        )
        .unwrap_err();
        assert!(
            errs[0].contains(
                "sut.toml:4:21: error: receive.camera.format: expected one of `rgb8`, `rgba8`"
            ),
            "{errs:?}"
        );
        let errs = check(
            "kind = \"sut\"\ncommand = \"sh\"\n[receive]\ncamera = { format = \"rgb8\", transport = \"tcp\" }\n",
        )
        .unwrap_err();
        assert!(errs[0].contains("receive.camera.transport"), "{errs:?}");
    }

    #[test]
    fn bad_manifests_name_line_and_column() {
        let errs = check("kind = \"sut\"\ncommand = \"./no-such-program\"\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].contains("sut.toml:2:11: error: command: cannot start the system")
                && errs[0].contains("no such file"),
            "{errs:?}"
        );
        let errs =
            check("kind = \"sut\"\ncommand = \"sh\"\n[timeouts]\nstep_s = -1\n").unwrap_err();
        assert!(
            errs[0].contains("sut.toml:4:10: error: timeouts.step_s"),
            "{errs:?}"
        );
        let errs = check("kind = \"sut\"\ncommand = \"sh\"\ncomand = 1\n").unwrap_err();
        assert!(errs[0].contains("sut.toml:3:1"), "{errs:?}");
        let errs = check("kind = \"sut\"\ncommand = \"sh\"\n[receive]\ngnss = 1\n").unwrap_err();
        assert!(
            errs[0].contains("sut.toml:4:8: error: receive.gnss"),
            "{errs:?}"
        );
        let errs =
            check("kind = \"sut\"\ncommand = \"sh\"\nworking_dir = \"nowhere\"\n").unwrap_err();
        assert!(
            errs[0].contains("sut.toml:3:15: error: working_dir"),
            "{errs:?}"
        );
        let errs = check("kind = \"scenario\"\n").unwrap_err();
        assert!(errs[0].contains("expected a system manifest"), "{errs:?}");
    }
}
