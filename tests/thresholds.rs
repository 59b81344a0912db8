//! Threshold packs: the library packs load, broken packs get located messages (snapshots in
//! `tests/snapshots/`), and scenarios' `[judge]` rules are checked against the packs loaded.

use std::path::{Path, PathBuf};

use gauntlet::scenario;
use gauntlet::thresholds::{self, BetweenRows, Check, Colour, Edge, Status};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new("tests/corpus").join(dir))
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn library_packs_load() {
    let mut ids = Vec::new();
    for file in corpus("../../scenarios/thresholds") {
        let pack = thresholds::load_pack(&file).unwrap_or_else(|ds| {
            panic!(
                "{}: {}",
                file.display(),
                ds.iter().map(|d| d.to_string()).collect::<String>()
            )
        });
        ids.push(pack.id.clone());
    }
    ids.sort();
    assert_eq!(
        ids,
        [
            "cn-cdas-draft-2025",
            "euro-ncap-2026",
            "lane-level-positioning",
            "un-r152-m1",
            "un-r157"
        ]
    );
}

#[test]
fn packs_transcribe_their_sources() {
    let r152 = thresholds::load_pack(Path::new("scenarios/thresholds/un-r152-m1.toml"))
        .expect("un-r152-m1 loads");
    assert_eq!(r152.status, Status::Official);
    let moving = r152.rule("car-moving").expect("car-moving");
    assert_eq!(
        moving.status,
        Status::Unverified,
        "the moving column is our reading"
    );
    let Check::MaxBySpeedTable(t) = &r152.rule("car-stationary").expect("rule").check else {
        panic!("car-stationary is a speed table");
    };
    assert_eq!(t.between_rows, BetweenRows::Linear);
    assert_eq!(
        t.rows,
        [
            (10.0, 0.0),
            (40.0, 0.0),
            (42.0, 10.0),
            (45.0, 15.0),
            (50.0, 25.0),
            (55.0, 30.0),
            (60.0, 35.0)
        ]
    );
    assert!(matches!(
        r152.rule("repeats").expect("repeats").check,
        Check::Repeats {
            runs: 2,
            retries: 1,
            ..
        }
    ));

    // Reid et al. 2019 (gnss.md): 95 % values 0.20 m lateral, 0.48 m longitudinal (freeway),
    // 0.10 m lateral (local streets); a draft pack.
    let lane = thresholds::load_pack(Path::new(
        "scenarios/thresholds/lane-level-positioning.toml",
    ))
    .expect("lane-level-positioning loads");
    assert_eq!(lane.status, Status::Draft);
    for (rule, metric, value) in [
        ("freeway-lateral-95", "loc_lateral_p95_m", 0.20),
        ("freeway-longitudinal-95", "loc_longitudinal_p95_m", 0.48),
        ("local-street-lateral-95", "loc_lateral_p95_m", 0.10),
        ("no-hazardously-misleading", "loc_stanford_hazardous", 0.0),
    ] {
        let r = lane.rule(rule).expect(rule);
        assert_eq!(r.applies_to, metric);
        let Check::MaxValue(l) = &r.check else {
            panic!("{rule} is a max_value");
        };
        assert_eq!(l.limit, value, "{rule}");
    }

    let ncap = thresholds::load_pack(Path::new("scenarios/thresholds/euro-ncap-2026.toml"))
        .expect("euro-ncap-2026 loads");
    let Check::Bands(b) = &ncap
        .rule("relative-impact-speed-bands")
        .expect("bands")
        .check
    else {
        panic!("bands");
    };
    assert_eq!(b.vut_speed_cap_kph, Some(50.0));
    assert_eq!(b.round_half_up_decimals, 2);
    assert_eq!(b.prediction_tolerance, 2.0);
    let row50 = &b.rows.last().expect("rows").1;
    let edges: Vec<(Colour, Option<Edge>)> = row50.iter().map(|b| (b.colour, b.upper)).collect();
    assert_eq!(
        edges,
        [
            (Colour::Green, Some(Edge::AtMost(0.0))),
            (Colour::Yellow, Some(Edge::Below(10.0))),
            (Colour::Orange, Some(Edge::Below(20.0))),
            (Colour::Brown, Some(Edge::Below(30.0))),
            (Colour::Red, None),
        ]
    );
    assert!(matches!(
        ncap.rule("ccrs").expect("ccrs").check,
        Check::Points { standard_points, .. } if standard_points == 1.2
    ));
    assert_eq!(ncap.version, "1.1.0");
    // Speeds between the rating code's rows use the row below (our choice since 1.1.0).
    assert_eq!(b.between_rows, BetweenRows::PreviousRow);
    // Points: the official grid in 10 km/h steps; CCR extended range from 60 km/h.
    for id in ["ccrs", "ccrm", "ccrb"] {
        let check = &ncap.rule(id).expect(id).check;
        assert!(
            matches!(check, Check::Points { grid_vut_speeds_kph: Some(g), extended_from_vut_speed_kph: Some(x), .. }
                if g == &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0] && *x == 60.0),
            "{id}"
        );
        assert_eq!(check.points_range(10.0), Some(false), "{id}");
        assert_eq!(check.points_range(50.0), Some(false), "{id}");
        assert_eq!(check.points_range(50.0 + 1e-9), Some(false), "{id}");
        assert_eq!(check.points_range(60.0 - 1e-9), Some(true), "{id}");
        assert_eq!(check.points_range(80.0), Some(true), "{id}");
        assert_eq!(check.points_range(15.0), None, "{id}");
        assert_eq!(check.points_range(55.0), None, "{id}");
        assert_eq!(check.points_range(50.001), None, "{id}");
    }
    let cbla = &ncap.rule("cbla").expect("cbla").check;
    assert_eq!(cbla.points_range(25.0), None);
    assert_eq!(cbla.points_range(30.0), Some(false));
    assert_eq!(cbla.points_range(60.0), Some(false));
    for id in ["cpna", "cpfa", "cpnco", "cbna"] {
        let check = &ncap.rule(id).expect(id).check;
        assert_eq!(check.points_range(10.0), Some(false), "{id}");
        assert_eq!(check.points_range(60.0), Some(false), "{id}");
        assert_eq!(check.points_range(35.0), None, "{id}");
    }
    // ELK scenarios hold the VUT at 72 km/h: no grid, every cell scored as standard.
    let elk = &ncap.rule("elk-road-edge").expect("elk").check;
    assert_eq!(elk.points_range(72.0), Some(false));
    // Not a points rule: no range.
    assert_eq!(
        ncap.rule("scoring")
            .expect("scoring")
            .check
            .points_range(10.0),
        None
    );

    let cn = thresholds::load_pack(Path::new("scenarios/thresholds/cn-cdas-draft-2025.toml"))
        .expect("cn pack loads");
    assert_eq!(cn.status, Status::Draft);
    let r157 =
        thresholds::load_pack(Path::new("scenarios/thresholds/un-r157.toml")).expect("r157 loads");
    assert!(matches!(
        r157.rule("min-time-gap").expect("gap").check,
        Check::MinTimeGap { base_s, per_kph_s, min_gap_m, .. }
            if base_s == 1.0 && per_kph_s == 0.01 && min_gap_m == 2.0
    ));
}

#[test]
fn library_validates_with_packs_and_judges() {
    let loaded = scenario::load_paths(&[PathBuf::from("scenarios")]);
    assert!(
        loaded.diagnostics.items.is_empty(),
        "{}",
        loaded.diagnostics
    );
    assert_eq!(loaded.packs.len(), 5);
    assert!(loaded.skipped_files.is_empty());
}

#[test]
fn broken_packs_get_located_messages() {
    let files = corpus("invalid-thresholds");
    assert!(
        files.len() >= 10,
        "the corpus of broken packs shrank to {}",
        files.len()
    );
    for file in files {
        let loaded = scenario::load_paths(std::slice::from_ref(&file));
        assert!(
            loaded.diagnostics.has_errors(),
            "{} should be rejected",
            file.display()
        );
        assert!(
            loaded.packs.is_empty(),
            "{}: no pack from an invalid file",
            file.display()
        );
        for d in &loaded.diagnostics.items {
            assert_eq!(d.file, file);
            assert!(
                d.line_col.is_some(),
                "{}: diagnostic without a position: {}",
                file.display(),
                d.headline()
            );
        }
        // The library function gives the same messages.
        let direct = thresholds::load_pack(&file).expect_err("rejected");
        assert_eq!(
            direct.len(),
            loaded.diagnostics.items.len(),
            "{}",
            file.display()
        );
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        insta::assert_snapshot!(
            format!("invalid_thresholds__{name}"),
            loaded.diagnostics.to_string()
        );
    }
}

#[test]
fn dangling_judge_rule_is_reported_when_its_pack_is_loaded() {
    let scenario_file = PathBuf::from("tests/corpus/judge/dangling-rule.toml");
    let loaded = scenario::load_paths(&[
        PathBuf::from("scenarios/thresholds/euro-ncap-2026.toml"),
        scenario_file.clone(),
    ]);
    assert_eq!(loaded.diagnostics.n_errors(), 1, "{}", loaded.diagnostics);
    let d = &loaded.diagnostics.items[0];
    assert_eq!(d.file, scenario_file);
    assert_eq!(d.field, "judge.rule");
    assert!(d.line_col.is_some());
    insta::assert_snapshot!("judge__dangling_rule", loaded.diagnostics.to_string());

    // Validated alone (no pack among the inputs), the scenario is fine.
    let alone = scenario::load_paths(std::slice::from_ref(&scenario_file));
    assert!(alone.diagnostics.items.is_empty(), "{}", alone.diagnostics);
}

#[test]
fn duplicate_pack_ids_are_reported() {
    let dir = std::env::temp_dir().join(format!("gauntlet-packs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let copy = dir.join("copy.toml");
    std::fs::copy("scenarios/thresholds/un-r157.toml", &copy).expect("copy");
    let loaded = scenario::load_paths(&[
        PathBuf::from("scenarios/thresholds/un-r157.toml"),
        copy.clone(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(loaded.diagnostics.n_errors(), 1, "{}", loaded.diagnostics);
    let d = &loaded.diagnostics.items[0];
    assert!(
        d.message
            .contains("threshold pack id `un-r157` is already used"),
        "{}",
        d.message
    );
    assert!(d.line_col.is_some());
}

#[test]
fn pack_loading_never_panics_on_mutations() {
    // Every truncation of a valid pack returns diagnostics or a pack, never a panic.
    let text = std::fs::read("scenarios/thresholds/euro-ncap-2026.toml").expect("pack");
    for cut in (0..text.len()).step_by(97) {
        let _ = thresholds::load_pack_bytes(Path::new("cut.toml"), &text[..cut]);
    }
}
