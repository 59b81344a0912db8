//! `summary.md`: a short Markdown summary of a run, fit for a pull-request comment: the system
//! under test and seed, the totals, a table per scenario file and per threshold pack, UN R152
//! categories, Euro NCAP points and colour grids, localization per case with a receiver, and
//! the cases that did not pass with their reasons.
//!
//! It holds no times, so it is byte-identical for the same `report.json`. It is rendered from a
//! [`Digest`] of the cases (gathered in one pass, whether the cases are in memory or read back
//! from `cases.jsonl`) and the report's packs and aggregates.

use std::fmt::Write;

use std::collections::{BTreeMap, BTreeSet};

use super::tally::{Digest, PointsCase, points_rules_of};
use super::{Aggregates, PackEntry, ReportFile, swept_params};

pub use super::tally::MAX_LISTED;

/// What `summary.md` shows.
pub struct SummaryView<'a> {
    pub sut: &'a str,
    pub seed: u64,
    /// The packs that judged cases (for their status).
    pub packs: &'a [PackEntry],
    pub aggregates: &'a Aggregates,
    pub digest: &'a Digest,
}

/// Renders `summary.md` for a report held in memory.
pub fn summary_md(report: &ReportFile) -> String {
    let grid_rules = points_rules_of(&report.aggregates);
    let digest = Digest::of_entries(&report.cases, &|pack, rule| {
        grid_rules.contains(&(pack.to_string(), rule.to_string()))
    });
    render(&SummaryView {
        sut: &report.sut,
        seed: report.seed,
        packs: &report.packs,
        aggregates: &report.aggregates,
        digest: &digest,
    })
}

/// Renders `summary.md`.
pub fn render(view: &SummaryView<'_>) -> String {
    let s = &view.digest.summary;
    let mut md = String::new();
    let outcome = if s.fail + s.error == 0 {
        format!("✅ all {} cases pass", s.cases)
    } else {
        format!("❌ {} of {} cases do not pass", s.fail + s.error, s.cases)
    };
    // Writing to a String cannot fail.
    let _ = writeln!(
        md,
        "## Gauntlet: {}, seed {}: {outcome}\n",
        code(view.sut),
        view.seed
    );
    md.push_str("| cases | pass | fail | error |\n|---:|---:|---:|---:|\n");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} |\n",
        s.cases, s.pass, s.fail, s.error
    );
    md.push_str("| scenario | cases | pass | fail | error |\n|---|---:|---:|---:|---:|\n");
    for (scenario, group) in &view.digest.scenarios {
        let c = &group.counts;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            code(scenario).replace('|', "\\|"),
            c.cases,
            c.pass,
            c.fail,
            c.error
        );
    }
    packs_md(&mut md, view);
    localization_md(&mut md, view.digest);
    detection_md(&mut md, view);
    robustness_md(&mut md, view);
    let not_passed = s.fail + s.error;
    if not_passed > 0 {
        let _ = writeln!(md, "\n### Cases that did not pass ({not_passed})\n");
        for c in view.digest.not_passed.iter().take(MAX_LISTED) {
            let reasons = if c.reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", text(&c.reasons.join("; ")))
            };
            let _ = writeln!(md, "- **{}** {}{reasons}", c.verdict, code(&c.id));
        }
        if not_passed > MAX_LISTED {
            let _ = writeln!(
                md,
                "- … and {} more, see report.json",
                not_passed - MAX_LISTED
            );
        }
    }
    md
}

/// The localization table: one row per case with a receiver (first run), metres and seconds.
fn localization_md(md: &mut String, digest: &Digest) {
    if digest.localization.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### Localization ({} cases with a receiver)\n",
        digest.localization_cases
    );
    md.push_str(
        "| case | horizontal p95 | lateral p50/95/99 | longitudinal p95 | availability | TTFF after outage | Stanford N/U/M/H | lane departures |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let num = |c: &super::tally::LocalizationCase, k: &str, d: usize| {
        c.metrics
            .get(k)
            .copied()
            .flatten()
            .map_or("–".to_string(), |v| format!("{v:.d$}"))
    };
    for c in &digest.localization {
        let _ = writeln!(
            md,
            "| {} | {} | {}/{}/{} | {} | {} | {} | {}/{}/{}/{} | {} |",
            code(&c.id).replace('|', "\\|"),
            num(c, "loc_horizontal_p95_m", 2),
            num(c, "loc_lateral_p50_m", 2),
            num(c, "loc_lateral_p95_m", 2),
            num(c, "loc_lateral_p99_m", 2),
            num(c, "loc_longitudinal_p95_m", 2),
            num(c, "loc_availability", 3),
            num(c, "loc_ttff_after_outage_s", 1),
            num(c, "loc_stanford_nominal", 0),
            num(c, "loc_stanford_unavailable", 0),
            num(c, "loc_stanford_misleading", 0),
            num(c, "loc_stanford_hazardous", 0),
            num(c, "lane_departures", 0),
        );
    }
    if digest.localization_cases > digest.localization.len() {
        let _ = writeln!(
            md,
            "- … and {} more, see report.json",
            digest.localization_cases - digest.localization.len()
        );
    }
}

/// Detection scoring over the suite, when runs were handed camera frames.
fn detection_md(md: &mut String, view: &SummaryView<'_>) {
    let Some(d) = &view.aggregates.detection else {
        return;
    };
    let opt =
        |x: Option<f64>, digits: usize| x.map_or("–".to_string(), |v| format!("{v:.digits$}"));
    let _ = writeln!(
        md,
        "\n### Detection (IoU ≥ 0.5 against the renderer's labels)\n"
    );
    md.push_str("| runs | frames | recall | precision | distance error | detection range |\n|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        md,
        "| {} | {} | {} ({}/{}) | {} ({}/{}) | {} m | {} m ({} of {} runs) |",
        d.runs,
        d.frames,
        opt(d.recall, 3),
        d.tp,
        d.tp + d.fn_,
        opt(d.precision, 3),
        d.tp,
        d.tp + d.fp,
        opt(d.distance_error_m, 2),
        opt(d.mean_range_m, 1),
        d.ranged_runs,
        d.runs
    );
}

/// Per scenario swept over `corruption` × `severity`: mPC / rPC and the outcome per cell.
fn robustness_md(md: &mut String, view: &SummaryView<'_>) {
    let opt =
        |x: Option<f64>, digits: usize| x.map_or("–".to_string(), |v| format!("{v:.digits$}"));
    for r in &view.aggregates.robustness {
        let _ = writeln!(
            md,
            "\n### Robustness of {} (mPC / rPC, Michaelis et al.; P = recall, precision, AP at IoU 0.5 per run, or pass rate)\n",
            code(&r.scenario).replace('|', "\\|")
        );
        md.push_str("| measure | P_clean | mPC | rPC |\n|---|---:|---:|---:|\n");
        for s in &r.scores {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                s.measure,
                opt(s.clean, 3),
                opt(s.mpc, 3),
                opt(s.rpc, 3)
            );
        }
        md.push_str("\n| corruption | severity | cases | pass rate | recall | precision | AP50 | mean impact speed |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for c in &r.cells {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} km/h |",
                text(&c.corruption).replace('|', "\\|"),
                text(c.severity.as_deref().unwrap_or("–")).replace('|', "\\|"),
                c.cases,
                opt(c.pass_rate, 3),
                opt(c.recall, 3),
                opt(c.precision, 3),
                opt(c.ap50, 3),
                opt(c.mean_impact_speed_kph, 1)
            );
        }
    }
}

/// Per-pack counts, UN R152 categories, Euro NCAP points and colour grids.
fn packs_md(md: &mut String, view: &SummaryView<'_>) {
    let agg = view.aggregates;
    if agg.packs.iter().any(|p| p.pack.is_some()) {
        md.push_str("\n### Threshold packs\n\n| pack | version | status | cases | pass | fail | error |\n|---|---|---|---:|---:|---:|---:|\n");
        for p in &agg.packs {
            let (name, version, status) = match &p.pack {
                Some(id) => (
                    code(id),
                    p.version.clone().unwrap_or_default(),
                    view.packs
                        .iter()
                        .find(|e| &e.id == id)
                        .map_or(String::new(), |e| e.status.clone()),
                ),
                None => (
                    "harness default (no collision)".to_string(),
                    String::new(),
                    String::new(),
                ),
            };
            let _ = writeln!(
                md,
                "| {name} | {version} | {status} | {} | {} | {} | {} |",
                p.cases, p.pass, p.fail, p.error
            );
        }
    }
    for r in &agg.repeats {
        let _ = writeln!(
            md,
            "\n### {} v{}: failure share per category (rule {})\n\n| category | cases | failed | errors | share | verdict |\n|---|---:|---:|---:|---:|---|",
            r.pack,
            r.version,
            code(&r.rule)
        );
        for g in &r.groups {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.1} % | {} |",
                code(&g.group),
                g.cases,
                g.failed,
                g.errors,
                g.failure_share * 100.0,
                g.verdict
            );
        }
    }
    for p in &agg.euro_ncap {
        let _ = writeln!(
            md,
            "\n### {} v{}: points from the simulated grid\n\n| scenario | cells | scored | standard | extended | total |\n|---|---:|---:|---:|---:|---:|",
            p.pack, p.version
        );
        for s in &p.scenarios {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} / {} | {} / {} | {} |",
                text(&s.scenario),
                s.cells,
                s.scored_cells,
                s.standard,
                s.standard_max,
                s.extended,
                s.extended_max,
                s.total
            );
        }
        let _ = writeln!(md, "| **total** | | | | | **{}** |", p.total);
        for g in &p.gates {
            let _ = writeln!(
                md,
                "\n- gate on {} ({}): {}",
                code(&g.rule),
                if g.closed { "closed" } else { "open" },
                text(&g.reasons.join("; "))
            );
        }
        if !p.zeroed.is_empty() {
            let _ = writeln!(md, "- scores set to 0: {}", text(&p.zeroed.join(", ")));
        }
        for s in &p.scenarios {
            grid_md(md, view.digest, &p.pack, &s.rule, &s.scenario);
        }
        md.push_str(
            "\n🟩 green · 🟨 yellow · 🟧 orange · 🟫 brown · 🟥 red · ⬜ no colour (error)\n",
        );
    }
}

pub(crate) fn colour_square(c: Option<&str>) -> &'static str {
    match c {
        Some("green") => "🟩",
        Some("yellow") => "🟨",
        Some("orange") => "🟧",
        Some("brown") => "🟫",
        Some("red") => "🟥",
        _ => "⬜",
    }
}

/// The colour grid of one scenario: VUT speed down, the other swept parameters across.
fn grid_md(md: &mut String, digest: &Digest, pack: &str, rule: &str, scenario: &str) {
    let cases: Vec<&PointsCase> = digest
        .points_cases
        .iter()
        .filter(|c| c.pack == pack && c.rule == rule)
        .collect();
    if cases.is_empty() {
        return;
    }
    let column = |c: &PointsCase| -> String {
        swept_params(&c.id)
            .into_iter()
            .filter(|(k, _)| k != "vut_speed_kph")
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let columns: BTreeSet<String> = cases.iter().map(|c| column(c)).collect();
    let mut columns: Vec<String> = columns.into_iter().collect();
    // Numeric parameter values in numeric order.
    columns.sort_by(|a, b| {
        let num = |s: &str| s.rsplit('=').next().and_then(|v| v.parse::<f64>().ok());
        match (num(a), num(b)) {
            (Some(x), Some(y)) if a.split('=').next() == b.split('=').next() => x.total_cmp(&y),
            _ => a.cmp(b),
        }
    });
    let mut rows: BTreeMap<i64, BTreeMap<String, Option<&str>>> = BTreeMap::new();
    for c in &cases {
        let speed = (c.vut_speed_kph * 1000.0).round() as i64;
        rows.entry(speed)
            .or_default()
            .insert(column(c), c.colour.as_deref());
    }
    let _ = writeln!(md, "\n**{}** (rule {})\n", text(scenario), code(rule));
    let header: Vec<String> = columns
        .iter()
        .map(|c| {
            if c.is_empty() {
                "colour".to_string()
            } else {
                code(c)
            }
        })
        .collect();
    let _ = writeln!(md, "| VUT km/h | {} |", header.join(" | "));
    let _ = writeln!(md, "|---:|{}", ":---:|".repeat(columns.len()));
    for (speed, cells) in rows {
        let line: Vec<&str> = columns
            .iter()
            .map(|c| match cells.get(c) {
                Some(colour) => colour_square(*colour),
                None => " ",
            })
            .collect();
        let _ = writeln!(md, "| {} | {} |", speed as f64 / 1000.0, line.join(" | "));
    }
}

/// `s` as an inline code span, whatever backticks it holds.
pub(crate) fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Free text on one line: code spans (pairs of backticks) kept, HTML and Markdown markup outside
/// them escaped; an unpaired backtick is escaped too.
pub(crate) fn text(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let paired = s.matches('`').count() % 2 == 0;
    let mut out = String::with_capacity(s.len());
    let mut in_code = false;
    for ch in s.chars() {
        match ch {
            '`' if paired => {
                in_code = !in_code;
                out.push(ch);
            }
            _ if in_code => out.push(ch),
            '`' | '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            '&' => out.push_str("&amp;"),
            _ => out.push(ch),
        }
    }
    out
}
