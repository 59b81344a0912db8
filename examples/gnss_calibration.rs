//! Calibration of the BeiDou model, as `docs/gnss.md` reports it: prints the statistics table
//! (every profile × environment, 24 h at 1 Hz, seeds 0–2) and writes the SVG figures of
//! `docs/img/` (error over time, Stanford diagrams). Run:
//! `cargo run --release --example gnss_calibration -- docs/img`.

use std::fmt::Write as _;
use std::path::PathBuf;

use gauntlet::gnss::environment::EnvironmentKind;
use gauntlet::gnss::{self, EpochResult, FixType, GnssConfig, Profile};

fn run(profile: Profile, env: EnvironmentKind, seed: u64, duration_s: f64) -> Vec<EpochResult> {
    let mut cfg = GnssConfig::new(profile, env);
    cfg.seed = seed;
    gnss::simulate_static(cfg, &gnss::default_site(), duration_s)
}

const ENVS: [EnvironmentKind; 4] = [
    EnvironmentKind::OpenSky,
    EnvironmentKind::Suburban,
    EnvironmentKind::UrbanCanyon,
    EnvironmentKind::Tunnel,
];
const PROFILES: [Profile; 4] = [Profile::Spp, Profile::Sbas, Profile::PppB2b, Profile::Rtk];

fn main() -> std::io::Result<()> {
    let out_dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "docs/img".into()));
    std::fs::create_dir_all(&out_dir)?;
    let day_s = 86_400.0;

    println!(
        "| profile | environment | seed | H 50 % (m) | H 95 % (m) | H 99 % (m) | V 95 % (m) | availability | fix types | error ≤ HPL | misleading |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    for profile in PROFILES {
        for env in ENVS {
            for seed in 0..3 {
                let s = gnss::summarize(&run(profile, env, seed, day_s));
                let shares: Vec<String> = s
                    .fix_shares
                    .iter()
                    .map(|(t, x)| format!("{} {:.1} %", t.name(), 100.0 * x))
                    .collect();
                println!(
                    "| {} | {} | {seed} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} % | {} | {:.4} % | {} |",
                    profile.name(),
                    env.name(),
                    s.horiz_p50_m,
                    s.horiz_p95_m,
                    s.horiz_p99_m,
                    s.vert_p95_m,
                    100.0 * s.availability,
                    shares.join(", "),
                    100.0 * s.hpl_bound_rate,
                    s.n_misleading
                );
            }
        }
    }

    // Figure 1: SPP in open sky over 24 h, horizontal error and HPL (every 60th epoch).
    let open = run(Profile::Spp, EnvironmentKind::OpenSky, 0, day_s);
    let pick = |e: &[EpochResult],
                step: usize,
                f: &dyn Fn(&EpochResult) -> Option<f64>|
     -> Vec<(f64, f64)> {
        e.iter()
            .step_by(step)
            .filter_map(|x| f(x).map(|v| (x.t_s / 3600.0, v)))
            .collect()
    };
    let herr = |x: &EpochResult| x.fix.map(|f| f.horiz_err_m());
    let hpl = |x: &EpochResult| x.fix.map(|f| f.hpl_m);
    std::fs::write(
        out_dir.join("gnss-spp-open-sky-24h.svg"),
        line_chart(
            "SPP, open sky, Wuhan, 24 h from 2021-01-01 00:00 BDT (seed 0, every 60th epoch)",
            "time (h)",
            "metres",
            false,
            &[
                ("horizontal error", "#1f77b4", pick(&open, 60, &herr)),
                ("HPL", "#d62728", pick(&open, 60, &hpl)),
            ],
        ),
    )?;

    // Figure 2: horizontal error in the four environments, first 30 min, log scale.
    let colours = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd"];
    let series: Vec<Series> = ENVS
        .iter()
        .zip(colours)
        .map(|(env, c)| {
            let e = run(Profile::Spp, *env, 0, 1800.0);
            (
                env.name(),
                c,
                e.iter()
                    .filter_map(|x| x.fix.map(|f| (x.t_s / 60.0, f.horiz_err_m().max(1e-3))))
                    .collect(),
            )
        })
        .collect();
    std::fs::write(
        out_dir.join("gnss-spp-environments.svg"),
        line_chart(
            "SPP horizontal error, first 30 min, seed 0 (open sky lies under tunnel: same streams)",
            "time (min)",
            "metres (log)",
            true,
            &series,
        ),
    )?;

    // Figure 3: RTK through tunnels: fixed → dead reckoning → float → fixed.
    let rtk = run(Profile::Rtk, EnvironmentKind::Tunnel, 0, 1200.0);
    let by_type = |ft: FixType| -> Vec<(f64, f64)> {
        rtk.iter()
            .filter_map(|x| {
                x.fix
                    .filter(|f| f.fix_type == ft)
                    .map(|f| (x.t_s / 60.0, f.horiz_err_m().max(1e-4)))
            })
            .collect()
    };
    std::fs::write(
        out_dir.join("gnss-rtk-tunnel.svg"),
        scatter_chart(
            "RTK with a 30 s tunnel every 5 min: horizontal error by fix type (seed 0)",
            "time (min)",
            "metres (log)",
            &[
                ("rtk-fixed", "#2ca02c", by_type(FixType::RtkFixed)),
                ("rtk-float", "#ff7f0e", by_type(FixType::RtkFloat)),
                ("dead reckoning", "#7f7f7f", by_type(FixType::DeadReckoning)),
            ],
        ),
    )?;

    // Figures 4–5: Stanford diagrams (24 h, SPP) in open sky and in the urban canyon.
    std::fs::write(
        out_dir.join("gnss-stanford-spp-open-sky.svg"),
        stanford(
            &open,
            "Stanford diagram, SPP, open sky, 24 h (86,400 epochs)",
        ),
    )?;
    let canyon = run(Profile::Spp, EnvironmentKind::UrbanCanyon, 0, day_s);
    std::fs::write(
        out_dir.join("gnss-stanford-spp-urban-canyon.svg"),
        stanford(
            &canyon,
            "Stanford diagram, SPP, urban canyon, 24 h (86,400 epochs)",
        ),
    )?;
    eprintln!("figures written to {}", out_dir.display());
    Ok(())
}

/// A named, coloured series of (x, y) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

const W: f64 = 760.0;
const H: f64 = 420.0;
const L: f64 = 70.0;
const R: f64 = 160.0;
const T: f64 = 40.0;
const B: f64 = 50.0;

fn frame(title: &str, xlabel: &str, ylabel: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="13">{title}</text><text x="{}" y="{}" text-anchor="middle">{xlabel}</text><text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{ylabel}</text><rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        W / 2.0,
        L + (W - L - R) / 2.0,
        H - 12.0,
        T + (H - T - B) / 2.0,
        W - L - R,
        H - T - B
    );
    s
}

struct Axes {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    log_y: bool,
}

impl Axes {
    fn px(&self, x: f64) -> f64 {
        L + (x - self.x0) / (self.x1 - self.x0) * (W - L - R)
    }
    fn py(&self, y: f64) -> f64 {
        let (a, b, v) = if self.log_y {
            (self.y0.log10(), self.y1.log10(), y.max(self.y0).log10())
        } else {
            (self.y0, self.y1, y)
        };
        H - B - (v - a) / (b - a) * (H - T - B)
    }
    fn ticks(&self, s: &mut String) {
        for k in 0..=5 {
            let x = self.x0 + (self.x1 - self.x0) * f64::from(k) / 5.0;
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                self.px(x),
                H - B + 16.0,
                trim(x)
            );
        }
        let ys: Vec<f64> = if self.log_y {
            let mut v = Vec::new();
            let mut y = self.y0;
            while y <= self.y1 * 1.0001 {
                v.push(y);
                y *= 10.0;
            }
            v
        } else {
            (0..=5)
                .map(|k| self.y0 + (self.y1 - self.y0) * f64::from(k) / 5.0)
                .collect()
        };
        for y in ys {
            let (xr, yy, xt, yt, label) = (W - R, self.py(y), L - 6.0, self.py(y) + 4.0, trim(y));
            let _ = write!(
                s,
                r##"<line x1="{L}" x2="{xr}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{xt}" y="{yt:.1}" text-anchor="end">{label}</text>"##
            );
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn bounds(series: &[Series], log_y: bool) -> Axes {
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x1, mut y1) = (0.0f64, 0.0f64);
    for (x, y) in pts {
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    let x1 = (x1 / 5.0).ceil() * 5.0;
    if log_y {
        Axes {
            x0: 0.0,
            x1,
            y0: 1e-3,
            y1: 10f64.powf(y1.log10().ceil()),
            log_y,
        }
    } else {
        Axes {
            x0: 0.0,
            x1,
            y0: 0.0,
            y1: (y1 * 1.1).ceil(),
            log_y,
        }
    }
}

fn legend(s: &mut String, series: &[Series]) {
    for (k, (name, colour, _)) in series.iter().enumerate() {
        let y = T + 14.0 + 18.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="14" height="4" fill="{colour}"/><text x="{}" y="{}">{name}</text>"#,
            W - R + 10.0,
            y - 4.0,
            W - R + 30.0,
            y + 1.0
        );
    }
}

fn line_chart(title: &str, xlabel: &str, ylabel: &str, log_y: bool, series: &[Series]) -> String {
    let mut s = frame(title, xlabel, ylabel);
    let ax = bounds(series, log_y);
    ax.ticks(&mut s);
    for (_, colour, pts) in series {
        let mut d = String::new();
        let mut prev_x = f64::NEG_INFINITY;
        for (x, y) in pts {
            // A gap in time (no fix) breaks the line.
            let cmd = if *x - prev_x > 3.0 * (ax.x1 - ax.x0) / pts.len().max(1) as f64 {
                'M'
            } else {
                'L'
            };
            let _ = write!(d, "{cmd}{:.1},{:.1} ", ax.px(*x), ax.py(*y));
            prev_x = *x;
        }
        let _ = write!(
            s,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="0.8"/>"#
        );
    }
    legend(&mut s, series);
    s.push_str("</svg>\n");
    s
}

fn scatter_chart(title: &str, xlabel: &str, ylabel: &str, series: &[Series]) -> String {
    let mut s = frame(title, xlabel, ylabel);
    let mut ax = bounds(series, true);
    ax.y0 = 1e-3;
    ax.ticks(&mut s);
    for (_, colour, pts) in series {
        for (x, y) in pts {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="1.2" fill="{colour}"/>"#,
                ax.px(*x),
                ax.py(*y)
            );
        }
    }
    legend(&mut s, series);
    s.push_str("</svg>\n");
    s
}

/// A Stanford diagram: 2-D histogram of (HPL, horizontal error), logarithmic counts; the
/// diagonal separates nominal operation (below) from misleading information (above).
fn stanford(epochs: &[EpochResult], title: &str) -> String {
    let pts: Vec<(f64, f64)> = epochs
        .iter()
        .filter_map(|e| e.fix)
        .filter(|f| f.fix_type != FixType::DeadReckoning)
        .map(|f| (f.hpl_m, f.horiz_err_m()))
        .collect();
    let max = pts.iter().fold(0.0f64, |m, (a, b)| m.max(*a).max(*b));
    let lim = ((max * 1.02).max(1.0) / 5.0).ceil() * 5.0;
    let n_bins = 60usize;
    let mut grid = vec![0u32; n_bins * n_bins];
    for (hpl, err) in &pts {
        let i = ((hpl / lim) * n_bins as f64).min(n_bins as f64 - 1.0) as usize;
        let j = ((err / lim) * n_bins as f64).min(n_bins as f64 - 1.0) as usize;
        grid[j * n_bins + i] += 1;
    }
    let misleading = pts.iter().filter(|(h, e)| e > h).count();
    let mut s = frame(
        title,
        "horizontal protection level (m)",
        "horizontal error (m)",
    );
    let ax = Axes {
        x0: 0.0,
        x1: lim,
        y0: 0.0,
        y1: lim,
        log_y: false,
    };
    ax.ticks(&mut s);
    let cell_w = (W - L - R) / n_bins as f64;
    let cell_h = (H - T - B) / n_bins as f64;
    let max_count = f64::from(*grid.iter().max().unwrap_or(&1)).max(1.0);
    for j in 0..n_bins {
        for i in 0..n_bins {
            let c = grid[j * n_bins + i];
            if c == 0 {
                continue;
            }
            let t = (f64::from(c).ln() + 1.0) / (max_count.ln() + 1.0);
            let (r, g, b) = (
                (255.0 * t) as u8,
                (60.0 + 120.0 * (1.0 - t)) as u8,
                (255.0 * (1.0 - t)) as u8,
            );
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.2}" height="{:.2}" fill="rgb({r},{g},{b})"/>"#,
                L + i as f64 * cell_w,
                H - B - (j + 1) as f64 * cell_h,
                cell_w + 0.3,
                cell_h + 0.3
            );
        }
    }
    let _ = write!(
        s,
        r#"<line x1="{L}" y1="{}" x2="{}" y2="{T}" stroke="black" stroke-dasharray="4 3"/>"#,
        H - B,
        W - R
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}">fixes: {}</text><text x="{}" y="{}">error &gt; HPL: {misleading}</text><text x="{}" y="{}">colour: log count</text><text x="{}" y="{}">(blue 1 … red {max_count})</text>"#,
        W - R + 10.0,
        T + 20.0,
        pts.len(),
        W - R + 10.0,
        T + 40.0,
        W - R + 10.0,
        T + 60.0,
        W - R + 10.0,
        T + 76.0
    );
    s.push_str("</svg>\n");
    s
}
