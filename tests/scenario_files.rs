//! Boundary tests of scenario loading: error messages of broken files, sweep expansion and
//! case IDs, substitution, the scenario library, the schema, and robustness against any input.
//!
//! Snapshots live in `tests/snapshots/`; refresh them with `INSTA_UPDATE=always cargo test`
//! (or `cargo insta review`) and read the diff before committing.

mod common;
use common::tempdir;

use std::path::{Path, PathBuf};

use gauntlet::scenario::{self, FileResult, schema};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new("tests/corpus").join(dir))
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Renders what `gauntlet validate` prints for one file.
fn validate_output(path: &Path) -> String {
    let loaded = scenario::load_paths(&[path.to_path_buf()]);
    loaded.diagnostics.to_string()
}

#[test]
fn broken_files_get_located_messages() {
    let files = corpus("invalid");
    assert!(
        files.len() >= 25,
        "the corpus of broken files shrank to {}",
        files.len()
    );
    for file in files {
        let out = validate_output(&file);
        let loaded = scenario::load_paths(std::slice::from_ref(&file));
        assert!(
            loaded.diagnostics.has_errors(),
            "{} should be rejected",
            file.display()
        );
        assert!(
            loaded.cases.is_empty(),
            "{}: no cases may come out of an invalid file",
            file.display()
        );
        // Every error names the file and, where the file has content, a line and column.
        for d in &loaded.diagnostics.items {
            assert_eq!(d.file, file);
            if std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) > 0 {
                assert!(
                    d.line_col.is_some(),
                    "{}: diagnostic without a position: {}",
                    file.display(),
                    d.headline()
                );
            }
        }
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        insta::assert_snapshot!(format!("invalid__{name}"), out);
    }
}

#[test]
fn sweep_expansion_and_case_ids() {
    for file in corpus("valid") {
        let loaded = scenario::load_paths(std::slice::from_ref(&file));
        assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
        let mut out = String::new();
        for case in &loaded.cases {
            let params: Vec<String> = case
                .params()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out += &format!("{}\t{}\n", case.id, params.join(" "));
        }
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        insta::assert_snapshot!(format!("cases__{name}"), out);
    }
}

#[test]
fn resolved_geometry_of_a_curve_with_crossing_and_cut_in() {
    let loaded =
        scenario::load_paths(&[PathBuf::from("tests/corpus/valid/curve-and-crossing.toml")]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    let m = &loaded.cases[0].model();
    let mut out = format!(
        "curvature_per_m={:.6} n_steps={} sut_every_n_steps={} sut_latency_steps={}\n",
        m.road.curvature_per_m,
        m.timing.n_steps,
        m.timing.sut_every_n_steps,
        m.timing.sut_latency_steps
    );
    for a in &m.actors {
        out += &format!(
            "{} station_m={:.3} y_m={:.3} heading_rad={:.4} speed_mps={:.3} behaviour={:?}\n",
            a.id, a.pose.station_m, a.pose.y_m, a.pose.heading_rad, a.speed_mps, a.behaviour
        );
    }
    insta::assert_snapshot!(out);
}

#[test]
fn crossing_actor_would_hit_the_impact_point() {
    // If the ego keeps its speed, the pedestrian's centre reaches the impact line exactly when
    // the ego's front reaches the pedestrian's near edge.
    let loaded =
        scenario::load_paths(&[PathBuf::from("tests/corpus/valid/curve-and-crossing.toml")]);
    let m = &loaded.cases[0].model();
    let ped = &m.actors[0];
    let scenario::model::Behaviour::Crossing {
        speed_mps,
        accel_distance_m,
        impact_y_m,
        impact_time_s,
        ..
    } = ped.behaviour
    else {
        panic!("expected a crossing");
    };
    // Walk: accelerate over accel_distance_m, then constant speed.
    let t_acc = 2.0 * accel_distance_m / speed_mps;
    let walked = accel_distance_m + speed_mps * (impact_time_s - t_acc);
    assert!((ped.pose.y_m + walked - impact_y_m).abs() < 1e-9);
    // The child comes from the right; 50 % is the centre of the ego's front.
    assert!((impact_y_m - m.ego.pose.y_m).abs() < 1e-9);
    let ego_front = m.ego.pose.station_m + m.ego.length_m / 2.0 + m.ego.speed_mps * impact_time_s;
    assert!((ped.pose.station_m - ped.width_m / 2.0 - ego_front).abs() < 1e-9);
}

#[test]
fn cut_in_ends_at_the_requested_ttc() {
    let loaded =
        scenario::load_paths(&[PathBuf::from("tests/corpus/valid/curve-and-crossing.toml")]);
    let m = &loaded.cases[0].model();
    let cutter = &m.actors[1];
    let scenario::model::Behaviour::LaneChange {
        trigger: scenario::model::Trigger::Time { at_s },
        duration_s,
        to_lane,
        ..
    } = cutter.behaviour.clone()
    else {
        panic!("expected a time-triggered lane change");
    };
    assert_eq!(to_lane, 1);
    // Lateral distance 3.75 m at 1.5 m/s² peak, sinusoidal: T = sqrt(2π·d/a).
    assert!((duration_s - (std::f64::consts::TAU * 3.75 / 1.5).sqrt()).abs() < 1e-12);
    let t_end = at_s + duration_s;
    let gap_end = (cutter.pose.station_m - cutter.length_m / 2.0)
        - (m.ego.pose.station_m + m.ego.length_m / 2.0)
        - (m.ego.speed_mps - cutter.speed_mps) * t_end;
    let ttc_end = gap_end / (m.ego.speed_mps - cutter.speed_mps);
    assert!((ttc_end - 1.5).abs() < 1e-4, "ttc at end {ttc_end}");
}

#[test]
fn euro_ncap_overlap_places_the_target() {
    let loaded = scenario::load_paths(&[PathBuf::from("scenarios/euro-ncap/ccrs.toml")]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    for case in &loaded.cases {
        let scenario::expr::Param::Number(overlap) = case.params()["overlap_pct"] else {
            panic!()
        };
        let m = &case.model();
        let (ego, gvt) = (&m.ego, &m.actors[0]);
        // Overlapping width, measured: intersection of the two lateral intervals.
        let lo = (ego.pose.y_m - ego.width_m / 2.0).max(gvt.pose.y_m - gvt.width_m / 2.0);
        let hi = (ego.pose.y_m + ego.width_m / 2.0).min(gvt.pose.y_m + gvt.width_m / 2.0);
        let measured_pct = 100.0 * (hi - lo) / ego.width_m;
        // 100 % means centred: a narrower target then covers only its own width.
        let expected_pct = if overlap.abs() >= 100.0 {
            100.0 * gvt.width_m.min(ego.width_m) / ego.width_m
        } else {
            overlap.abs()
        };
        assert!(
            (measured_pct - expected_pct).abs() < 1e-9,
            "{}: {measured_pct}",
            case.id
        );
        // Positive overlap: target to the ego's left.
        if overlap.abs() < 100.0 {
            assert_eq!(gvt.pose.y_m > ego.pose.y_m, overlap > 0.0, "{}", case.id);
        }
        // TTC 4 s placement at the initial speeds.
        let gap =
            gvt.pose.station_m - gvt.length_m / 2.0 - (ego.pose.station_m + ego.length_m / 2.0);
        assert!((gap / ego.speed_mps - 4.0).abs() < 1e-9, "{}", case.id);
    }
}

/// A one-lane scenario whose `[ego]` table ends with `ego_extra`.
fn minimal_scenario(ego_extra: &str) -> String {
    format!(
        "kind = \"scenario\"\nname = \"t/category\"\n[parameters]\ncat = \"N3\"\n\
         [timing]\nduration_s = 5\n[road]\nlanes = [{{ width_m = 3.5 }}]\n\
         markings = [\"solid\", \"solid\"]\n[ego]\nspeed_kph = 50\n{ego_extra}\n"
    )
}

#[test]
fn ego_category_defaults_to_m1_and_is_read() {
    use gauntlet::scenario::format::VehicleCategory;
    let category = |extra: &str| match scenario::load_bytes(
        Path::new("input.toml"),
        minimal_scenario(extra).as_bytes(),
    ) {
        FileResult::Scenario {
            cases, diagnostics, ..
        } => {
            assert!(diagnostics.is_empty(), "{extra}: {diagnostics:?}");
            assert_eq!(cases.len(), 1);
            cases[0].model().ego.category
        }
        _ => panic!("{extra}: not read as a scenario"),
    };
    assert_eq!(category(""), VehicleCategory::M1);
    assert_eq!(category("category = \"N1\""), VehicleCategory::N1);
    assert_eq!(category("category = \"M3\""), VehicleCategory::M3);
    // Like every enumerated word, it may come from a parameter.
    assert_eq!(category("category = \"${cat}\""), VehicleCategory::N3);
    assert_eq!(VehicleCategory::N3.as_str(), "N3");
    // Not a UN category (they are upper case): located, with the choices.
    let errors = load(minimal_scenario("category = \"m2\"").as_bytes());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("input.toml:12:12:")
            && errors[0]
                .contains("ego.category: expected one of `M1`, `N1`, `M2`, `M3`, `N2`, `N3`"),
        "{errors:?}"
    );
}

#[test]
fn library_validates_without_warnings() {
    let loaded = scenario::load_paths(&[PathBuf::from("scenarios")]);
    assert_eq!(loaded.diagnostics.items.len(), 0, "{}", loaded.diagnostics);
    assert!(!loaded.scenario_files.is_empty());
    let mut ids: Vec<&str> = loaded.cases.iter().map(|c| c.id.as_str()).collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "case IDs must be unique");
    for id in ids {
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._=,/+-".contains(&b)),
            "case ID {id} has characters outside [A-Za-z0-9._=,/+-]"
        );
    }
}

/// Cases keep only their ID and where they come from; whatever is built from them again (the
/// parameters, the model) is the same every time and agrees with the ID.
#[test]
fn cases_build_again_the_same() {
    let loaded = scenario::load_paths(&[
        PathBuf::from("scenarios"),
        PathBuf::from("tests/corpus/valid"),
    ]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    assert!(loaded.cases.len() > 400);
    for case in &loaded.cases {
        let built = case.build();
        assert_eq!(built.id, case.id);
        assert_eq!(built.scenario_path, case.scenario_path());
        assert_eq!(built.swept, case.swept());
        assert_eq!(built.params, case.params());
        assert_eq!(built.model, case.model(), "{}", case.id);
        let swept: Vec<String> = built
            .swept
            .iter()
            .map(|name| format!("{name}={}", built.params[name]))
            .collect();
        if !swept.is_empty() {
            assert!(
                case.id.ends_with(&format!("/{}", swept.join(","))),
                "{} vs {swept:?}",
                case.id
            );
        }
    }
}

#[test]
fn duplicate_scenario_names_across_files_are_refused() {
    let dir = tempdir("dup-names");
    let text = std::fs::read_to_string("tests/corpus/valid/expressions.toml").expect("read");
    std::fs::write(dir.join("a.toml"), &text).expect("write");
    std::fs::write(dir.join("b.toml"), &text).expect("write");
    let loaded = scenario::load_paths(std::slice::from_ref(&dir));
    let out = loaded.diagnostics.to_string();
    assert!(
        out.contains(
            "b.toml:3:8: error: name: scenario name `corpus/expressions` is already used by"
        ),
        "{out}"
    );
}

#[test]
fn schema_file_is_in_sync() {
    let path = Path::new("docs/scenario.schema.json");
    let current = schema::editor_schema_text();
    if std::env::var_os("GAUNTLET_UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &current).expect("write schema");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == current,
        "docs/scenario.schema.json is out of date; regenerate it with `GAUNTLET_UPDATE_SCHEMA=1 cargo test schema_file_is_in_sync`"
    );
    // The schema accepts every library scenario as written (what an editor would check).
    let validator = jsonschema::validator_for(schema::editor_schema()).expect("valid schema");
    for file in corpus("valid").into_iter().chain(walk("scenarios")) {
        let text = std::fs::read_to_string(&file).expect("read");
        let (json, _) = scenario::source::parse(&text).expect("parse");
        if json.get("kind").and_then(|k| k.as_str()) != Some("scenario") {
            continue;
        }
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

fn walk(dir: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .map(|e| e.into_path())
        .collect()
}

fn load(bytes: &[u8]) -> Vec<String> {
    match scenario::load_bytes(Path::new("input.toml"), bytes) {
        FileResult::Scenario { diagnostics, .. }
        | FileResult::Other { diagnostics, .. }
        | FileResult::Invalid { diagnostics } => diagnostics.iter().map(|d| d.headline()).collect(),
    }
}

#[test]
fn hostile_inputs_are_errors_not_panics() {
    // Binary.
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    assert!(
        load(&binary)[0].contains("not UTF-8"),
        "{:?}",
        load(&binary)
    );
    // Huge.
    let huge = vec![b'#'; scenario::source::MAX_FILE_BYTES + 1];
    assert!(load(&huge)[0].contains("limit"));
    // Deeply nested arrays and inline tables.
    let deep_array = format!(
        "kind = \"scenario\"\nx = {}{}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(!load(deep_array.as_bytes()).is_empty());
    let deep_table = format!(
        "kind = \"scenario\"\nx = {}1{}",
        "{a=".repeat(10_000),
        "}".repeat(10_000)
    );
    assert!(!load(deep_table.as_bytes()).is_empty());
    // A sweep that would expand to billions of cases.
    let text = std::fs::read_to_string("tests/corpus/valid/expressions.toml").expect("read").replace(
        "vut_speed_kph = [20, 50.5]",
        "vut_speed_kph = { from = 0, to = 100, step = 0.001 }\nb = { from = 0, to = 100, step = 0.001 }",
    );
    let out = load(text.as_bytes());
    assert!(
        out.iter().any(|m| m.contains("the limit is 1000000")),
        "{out:?}"
    );
    // Expressions: nonsense, deep parentheses, huge numbers.
    for e in [
        "${(((((((((((1",
        "${1e400}",
        "${",
        "${}}}",
        "${ ${x} }",
        "${sqrt(-1)}",
        &format!("${{{}1{}}}", "(".repeat(300), ")".repeat(300)),
    ] {
        let text = std::fs::read_to_string("tests/corpus/valid/expressions.toml")
            .expect("read")
            .replace("\"${ttc_start_s * vut_speed_mps}\"", &format!("{e:?}"));
        let out = load(text.as_bytes());
        assert!(out.iter().any(|m| m.contains("error")), "{e}: {out:?}");
    }
}

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = std::fs::read_dir("tests/fuzz_regressions").expect("tests/fuzz_regressions");
    let mut n = 0;
    for entry in dir {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let _ = load(&bytes);
        n += 1;
    }
    assert!(n >= 8, "the fuzz regressions are gone ({n} left)");
}

#[test]
fn perturbation_chains_are_read_per_camera_and_checked() {
    let with = |sections: &str| {
        minimal_scenario("")
            + "[[sensors.camera]]\nid = \"front\"\n[[sensors.camera]]\nid = \"rear\"\nyaw_deg = 180\n"
            + sections
    };
    let text = with(
        "[perturbations]\nchain = [\"fog:2\", \"none\"]\n\
         [[perturbations.camera]]\nid = \"rear\"\nchain = [\"gaussian_noise:sigma=0.05\", \"pixelate:4\"]\n",
    );
    match scenario::load_bytes(Path::new("input.toml"), text.as_bytes()) {
        FileResult::Scenario {
            cases, diagnostics, ..
        } => {
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            let model = cases[0].model();
            let specs = |k: usize| -> Vec<String> {
                model.camera_chain(k).iter().map(|p| p.spec()).collect()
            };
            // `none` is dropped; the rear camera's own chain replaces the default.
            assert_eq!(specs(0), ["fog:2"]);
            assert_eq!(specs(1), ["gaussian_noise:sigma=0.05", "pixelate:4"]);
            assert!(model.is_perturbed());
        }
        _ => panic!("not read as a scenario"),
    }
    let errors = load(with("[perturbations]\nchain = [\"fog:7\"]\n").as_bytes());
    assert!(
        errors.len() == 1
            && errors[0].contains("perturbations.chain[0]")
            && errors[0].contains("SEVERITY (1 to 5)"),
        "{errors:?}"
    );
    let errors =
        load(with("[[perturbations.camera]]\nid = \"side\"\nchain = [\"fog:1\"]\n").as_bytes());
    assert!(
        errors.len() == 1
            && errors[0].contains("no camera `side`")
            && errors[0].contains("front, rear"),
        "{errors:?}"
    );
    let tiny = minimal_scenario("")
        + "[[sensors.camera]]\nwidth_px = 16\nheight_px = 16\n[perturbations]\nchain = [\"fog:1\"]\n";
    let errors = load(tiny.as_bytes());
    assert!(
        errors.len() == 1 && errors[0].contains("at least 32 px"),
        "{errors:?}"
    );
}
