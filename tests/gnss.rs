//! BeiDou model: known-answer tests for every reference value of `shared/reference/gnss.md`,
//! the real RINEX files (through `GAUNTLET_REFERENCE_DATA`), determinism and calibration
//! sanity checks.

use std::path::PathBuf;

use gauntlet::gnss::environment::EnvironmentKind;
use gauntlet::gnss::errors::{
    F_B3I_HZ, GaussMarkov, KlobucharParams, code_sigma_m, iono_scale_from_b1i, klobuchar_bds,
    klobuchar_gps_m, saastamoinen,
};
use gauntlet::gnss::geodesy::{Geodetic, ecef_from_geodetic, geodetic_from_ecef};
use gauntlet::gnss::receiver::dops_from_azimuth_elevation;
use gauntlet::gnss::{self, FixType, GnssConfig, Profile, rinex};

fn deg(x: f64) -> f64 {
    x.to_radians()
}

fn close(name: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{name}: got {got:.9}, want {want:.9} (tolerance {tol:e})"
    );
}

#[test]
fn klobuchar_gps_reference() {
    let got = klobuchar_gps_m(
        &KlobucharParams::GPS_2021_001,
        deg(52.0),
        deg(5.0),
        deg(180.0),
        deg(30.0),
        475_200.0,
    );
    close("GPS Klobuchar", got, 3.218747, 1e-5);
}

#[test]
fn klobuchar_bds_reference() {
    let k = klobuchar_bds(
        &KlobucharParams::BDS_2021_001,
        deg(30.0),
        deg(114.0),
        deg(180.0),
        deg(30.0),
        453_600.0,
    );
    close("BDS B1I delay", k.delay_b1i_m, 7.304688, 1e-5);
    close(
        "BDS B3I delay",
        k.delay_b1i_m * iono_scale_from_b1i(F_B3I_HZ),
        11.062858,
        1e-5,
    );
    close(
        "pierce latitude (deg)",
        k.pierce_lat_rad.to_degrees(),
        24.878536,
        1e-6,
    );
    close("A2 (s)", k.a2_s, 9.055783e-9, 1e-14);
    close("A4 (s)", k.a4_s, 98_933.063, 1e-3);
    close("F", k.obliquity, 1.738188, 1e-6);
}

#[test]
fn saastamoinen_reference() {
    let zenith = saastamoinen(0.0, 0.0, deg(90.0));
    close("dry zenith", zenith.dry_m, 2.313121, 1e-5);
    close("wet zenith", zenith.wet_m, 0.120488, 1e-5);
    close("total zenith", zenith.total_m(), 2.433608, 1e-5);
    close(
        "total 30°",
        saastamoinen(0.0, 0.0, deg(30.0)).total_m(),
        4.867216,
        1e-5,
    );
}

#[test]
fn code_sigma_reference() {
    for (el, want) in [
        (90.0, 0.4243),
        (30.0, 0.5196),
        (15.0, 0.6616),
        (5.0, 1.0595),
        (2.0, 1.0595),
    ] {
        close(
            &format!("code σ at {el}°"),
            code_sigma_m(deg(el)),
            want,
            5e-5,
        );
    }
}

#[test]
fn dop_reference() {
    let geometry = [
        (0.0, 90.0),
        (0.0, 30.0),
        (90.0, 30.0),
        (180.0, 30.0),
        (270.0, 30.0),
    ];
    let d = dops_from_azimuth_elevation(geometry.iter().map(|(a, e)| (deg(*a), deg(*e))))
        .expect("geometry");
    close("GDOP", d.gdop, 2.8868, 5e-5);
    close("PDOP", d.pdop, 2.5166, 5e-5);
    close("HDOP", d.hdop, 1.1547, 5e-5);
    close("VDOP", d.vdop, 2.2361, 5e-5);
}

#[test]
fn gauss_markov_reference() {
    let (phi, sigma_w) = GaussMarkov {
        sigma: 0.5,
        tau_s: 600.0,
    }
    .coefficients(1.0);
    close("φ", phi, 0.998334721, 1e-9);
    close("σ_w", sigma_w, 0.028843, 1e-6);
}

fn reference_data() -> PathBuf {
    match std::env::var_os("GAUNTLET_REFERENCE_DATA") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "GAUNTLET_REFERENCE_DATA is not set: point it at the shared `data` folder (the one holding \
             `rinex/`); `scripts/test.sh` sets it when `../shared/data` exists"
        ),
    }
}

#[test]
fn rinex_reference_files() {
    let dir = reference_data().join("rinex");
    let read = |name: &str| {
        let path = dir.join(name);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        rinex::parse_nav(&bytes, name).unwrap_or_else(|e| panic!("{e}"))
    };
    let cbw = read("CBW100NLD_R_20210010000_01D_MN.rnx");
    assert_eq!(cbw.version, 3.04);
    assert_eq!(cbw.bds_klobuchar, Some(KlobucharParams::BDS_2021_001));
    assert_eq!(cbw.gps_klobuchar, Some(KlobucharParams::GPS_2021_001));
    assert_eq!(
        cbw.bds_ephemerides
            .iter()
            .map(|e| e.prn)
            .collect::<Vec<_>>(),
        vec![5, 19]
    );
    let kms = read("KMS300DNK_R_20221591000_01H_MN.rnx.gz");
    assert_eq!(kms.version, 4.0);
    assert_eq!(kms.bds_ephemerides.len(), 36);
    assert!(kms.bds_klobuchar.is_some());
    let nya = read("NYA100NOR_S_20241240000_01D_CN.rnx.gz");
    assert_eq!(nya.bds_ephemerides.len(), 194);
    // Every ephemeris puts its satellite on a plausible orbit at toe.
    for eph in cbw
        .bds_ephemerides
        .iter()
        .chain(&kms.bds_ephemerides)
        .chain(&nya.bds_ephemerides)
    {
        let p = gnss::orbits::broadcast_position_ecef_m(eph, eph.toe_bdt_s);
        let r_km = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() / 1e3;
        assert!(
            (27_000.0..28_500.0).contains(&r_km) || (41_500.0..42_800.0).contains(&r_km),
            "C{:02}: r {r_km} km",
            eph.prn
        );
        if gnss::orbits::is_geo_prn(eph.prn) {
            // A GEO stays over the equator.
            let g = geodetic_from_ecef(&p);
            assert!(
                g.lat_rad.to_degrees().abs() < 3.0,
                "C{:02} lat {}",
                eph.prn,
                g.lat_rad.to_degrees()
            );
        }
    }
    // C05 (GEO, 58.75°E nominal) from the RINEX 3.04 file sits near its slot.
    let c05 = cbw.bds_ephemerides[0];
    let g = geodetic_from_ecef(&gnss::orbits::broadcast_position_ecef_m(
        &c05,
        c05.toe_bdt_s,
    ));
    assert!(
        (g.lon_rad.to_degrees() - 58.75).abs() < 1.5,
        "C05 lon {}",
        g.lon_rad.to_degrees()
    );
}

#[test]
fn ecef_of_the_default_site() {
    let site = gnss::default_site();
    let back = geodetic_from_ecef(&ecef_from_geodetic(&site));
    close("lat", back.lat_rad, site.lat_rad, 1e-12);
    let _ = Geodetic::from_deg(0.0, 0.0, 0.0);
}

fn run(
    profile: Profile,
    env: EnvironmentKind,
    seed: u64,
    duration_s: f64,
) -> Vec<gnss::EpochResult> {
    let mut cfg = GnssConfig::new(profile, env);
    cfg.seed = seed;
    gnss::simulate_static(cfg, &gnss::default_site(), duration_s)
}

#[test]
fn same_seed_same_csv_other_seed_other_csv() {
    let csv = |seed| {
        run(Profile::Spp, EnvironmentKind::UrbanCanyon, seed, 300.0)
            .iter()
            .map(gnss::csv_row)
            .collect::<String>()
    };
    let a = csv(7);
    assert_eq!(a, csv(7));
    assert_ne!(a, csv(8));
}

#[test]
fn simulations_in_parallel_threads_match_sequential() {
    let seq: Vec<String> = (0..4)
        .map(|s| {
            run(Profile::Rtk, EnvironmentKind::Tunnel, s, 400.0)
                .iter()
                .map(gnss::csv_row)
                .collect()
        })
        .collect();
    let par: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|s| {
                scope.spawn(move || {
                    run(Profile::Rtk, EnvironmentKind::Tunnel, s, 400.0)
                        .iter()
                        .map(gnss::csv_row)
                        .collect::<String>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(seq, par);
}

#[test]
fn open_sky_spp_is_metre_level_and_canyon_is_worse() {
    let open = gnss::summarize(&run(Profile::Spp, EnvironmentKind::OpenSky, 0, 1800.0));
    assert!(open.availability > 0.999, "{open:?}");
    assert!(open.horiz_p95_m > 0.5 && open.horiz_p95_m < 4.0, "{open:?}");
    let canyon = gnss::summarize(&run(Profile::Spp, EnvironmentKind::UrbanCanyon, 0, 1800.0));
    assert!(
        canyon.horiz_p95_m > 2.0 * open.horiz_p95_m,
        "open {open:?} canyon {canyon:?}"
    );
}

#[test]
fn rtk_fixed_is_centimetres_and_tunnels_interrupt_it() {
    let epochs = run(Profile::Rtk, EnvironmentKind::Tunnel, 1, 900.0);
    let fixed: Vec<f64> = epochs
        .iter()
        .filter_map(|e| e.fix)
        .filter(|f| f.fix_type == FixType::RtkFixed)
        .map(|f| f.horiz_err_m())
        .collect();
    assert!(fixed.len() > 500);
    let mut sorted = fixed.clone();
    sorted.sort_by(f64::total_cmp);
    assert!(
        gnss::percentile(&sorted, 95.0) < 0.05,
        "{}",
        gnss::percentile(&sorted, 95.0)
    );
    // Inside the first tunnel (120–150 s) there is no GNSS fix, only dead reckoning.
    for e in epochs.iter().filter(|e| e.t_s >= 121.0 && e.t_s < 150.0) {
        assert_eq!(
            e.fix.map(|f| f.fix_type),
            Some(FixType::DeadReckoning),
            "t {}",
            e.t_s
        );
    }
    // After the tunnel a fix resumes within 3–5 s (then float until fixed).
    let first = epochs
        .iter()
        .find(|e| e.t_s >= 150.0 && e.fix.is_some_and(|f| f.fix_type != FixType::DeadReckoning))
        .expect("fix after tunnel");
    assert!(
        (153.0..=155.0).contains(&first.t_s),
        "first fix {}",
        first.t_s
    );
}

#[test]
fn nmea_output_is_valid() {
    let epochs = run(Profile::Spp, EnvironmentKind::OpenSky, 0, 3.0);
    for e in &epochs {
        for s in gnss::nmea_sentences(e) {
            assert!(s.ends_with("\r\n"));
            let (body, cs) = s
                .trim_end()
                .trim_start_matches('$')
                .split_once('*')
                .expect("star");
            assert_eq!(
                u8::from_str_radix(cs, 16).expect("hex"),
                gnss::nmea::checksum(body),
                "{s}"
            );
        }
    }
    // UTC = BDT − 4 s: the default start 2021-01-01 00:00:00 BDT is 2020-12-31 23:59:56 UTC.
    let gga = &gnss::nmea_sentences(&epochs[0])[0];
    assert!(gga.starts_with("$GNGGA,235956.00,3031."), "{gga}");
}

mod common;

fn out_str(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn cli_writes_csv_and_nmea_and_prints_statistics() {
    let dir = common::tempdir("gnss-cli");
    let csv = dir.join("a.csv");
    let nmea = dir.join("a.nmea");
    fn args<'a>(csv: &'a std::path::Path, nmea: &'a std::path::Path) -> Vec<&'a str> {
        vec![
            "gnss",
            "--profile",
            "spp",
            "--environment",
            "tunnel",
            "--duration",
            "200",
            "--rate",
            "2",
            "--seed",
            "3",
            "--out",
            csv.to_str().expect("utf8"),
            "--nmea",
            nmea.to_str().expect("utf8"),
        ]
    }
    let o = common::gauntlet(&args(&csv, &nmea));
    assert_eq!(o.status.code(), Some(0), "{}", out_str(&o));
    let text = out_str(&o);
    assert!(
        text.contains("horizontal error 50/95/99 %")
            && text.contains("availability")
            && text.contains("dr "),
        "{text}"
    );
    let body = std::fs::read_to_string(&csv).expect("csv");
    assert!(body.starts_with("t_s,lat_deg,lon_deg,h_m,east_err_m,north_err_m,up_err_m,horiz_err_m,hpl_m,vpl_m,fix_type,n_sats,hdop"));
    assert_eq!(body.lines().count(), 401);
    let sentences = std::fs::read_to_string(&nmea).expect("nmea");
    assert!(
        sentences.lines().any(|l| l.starts_with("$GNGGA,"))
            && sentences.lines().any(|l| l.starts_with("$GBGSV,"))
    );
    for l in sentences.lines() {
        let (b, cs) = l.trim_start_matches('$').split_once('*').expect("star");
        assert_eq!(
            u8::from_str_radix(cs, 16).expect("hex"),
            gnss::nmea::checksum(b),
            "{l}"
        );
    }
    // Same seed, same bytes.
    let csv2 = dir.join("b.csv");
    assert_eq!(common::gauntlet(&args(&csv2, &nmea)).status.code(), Some(0));
    assert_eq!(body, std::fs::read_to_string(&csv2).expect("csv2"));
}

#[test]
fn cli_rejects_bad_input_with_exit_2() {
    let dir = common::tempdir("gnss-cli-bad");
    let out = dir.join("x.csv");
    let out = out.to_str().expect("utf8");
    let broken = dir.join("broken.rnx");
    std::fs::write(&broken, "     3.04           NAVIGATION DATA     MIXED               RINEX VERSION / TYPE\n                                                            END OF HEADER\nC05 2021 01 01 00 00 00 1.0\n").expect("write");
    let broken = broken.to_str().expect("utf8");
    for (extra, needle) in [
        (vec!["--profile", "gps"], "possible values"),
        (
            vec!["--profile", "spp", "--environment", "space"],
            "possible values",
        ),
        (
            vec![
                "--profile",
                "spp",
                "--environment",
                "open-sky",
                "--duration=-5",
            ],
            "--duration",
        ),
        (
            vec![
                "--profile",
                "spp",
                "--environment",
                "open-sky",
                "--rate",
                "0",
            ],
            "--rate",
        ),
        (
            vec![
                "--profile",
                "spp",
                "--environment",
                "open-sky",
                "--site",
                "30,500,0",
            ],
            "--site",
        ),
        (
            vec![
                "--profile",
                "spp",
                "--environment",
                "open-sky",
                "--site",
                "north",
            ],
            "--site",
        ),
        (
            vec![
                "--profile",
                "spp",
                "--environment",
                "open-sky",
                "--ephemeris",
                "/nonexistent.rnx",
            ],
            "cannot read",
        ),
        (
            vec![
                "--profile",
                "spp",
                "--environment",
                "open-sky",
                "--ephemeris",
                broken,
            ],
            "broken.rnx:4: file ends inside",
        ),
    ] {
        let mut args = vec!["gnss", "--out", out];
        if extra[0] == "--profile" && extra.len() == 2 {
            args.extend(["--environment", "open-sky"]);
        }
        args.extend(extra.iter().copied());
        let o = common::gauntlet(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", out_str(&o));
        assert!(out_str(&o).contains(needle), "{args:?}: {}", out_str(&o));
    }
}

#[test]
fn cli_runs_on_a_real_broadcast_file() {
    let dir = common::tempdir("gnss-cli-rinex");
    let csv = dir.join("r.csv");
    let nav = reference_data().join("rinex/NYA100NOR_S_20241240000_01D_CN.rnx.gz");
    let o = common::gauntlet(&[
        "gnss",
        "--profile",
        "spp",
        "--environment",
        "open-sky",
        "--duration",
        "600",
        "--ephemeris",
        nav.to_str().expect("utf8"),
        "--site",
        "78.93,11.86,50",
        "--out",
        csv.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out_str(&o));
    let body = std::fs::read_to_string(&csv).expect("csv");
    let with_fix = body.lines().skip(1).filter(|l| l.contains(",spp,")).count();
    assert!(with_fix > 500, "{with_fix} fixes of 600\n{}", out_str(&o));
}

#[test]
fn a_moving_receiver_is_a_loop_over_positions() {
    // 20 m/s due east from the default site for 10 min: the error stays metre-level and is
    // measured against the moving truth.
    let cfg = GnssConfig::new(Profile::Spp, EnvironmentKind::OpenSky);
    let start = cfg.start_bdt_s;
    let site = gnss::default_site();
    let mut sim = gnss::Simulator::new(cfg);
    let mut worst_m: f64 = 0.0;
    for k in 0..600 {
        let east_m = 20.0 * f64::from(k);
        let truth = Geodetic {
            lon_rad: site.lon_rad + east_m / (6_378_137.0 * site.lat_rad.cos()),
            ..site
        };
        let e = sim.step(start + f64::from(k), &truth);
        let fix = e.fix.expect("fix");
        assert_eq!(e.truth, truth);
        worst_m = worst_m.max(fix.horiz_err_m());
    }
    assert!(worst_m < 6.0, "worst horizontal error {worst_m} m");
}
