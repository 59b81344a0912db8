//! `summary.md`: a short Markdown summary of a run, fit for a pull-request comment: the system
//! under test and seed, the totals, a table per scenario file and the cases that did not pass
//! with their reasons.
//!
//! It holds no times, so it is byte-identical for the same `report.json`.

use std::fmt::Write;

use super::{ReportFile, by_scenario, count_verdicts};

/// At most this many failing or erroring cases are listed; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// Renders `summary.md` for a report.
pub fn summary_md(report: &ReportFile<'_>) -> String {
    let s = &report.summary;
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
        code(&report.sut),
        report.seed
    );
    md.push_str("| cases | pass | fail | error |\n|---:|---:|---:|---:|\n");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} |\n",
        s.cases, s.pass, s.fail, s.error
    );
    md.push_str("| scenario | cases | pass | fail | error |\n|---|---:|---:|---:|---:|\n");
    for (scenario, cases) in by_scenario(&report.cases) {
        let c = count_verdicts(cases.iter().map(|c| c.verdict));
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
    let failing: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict != "pass")
        .collect();
    if !failing.is_empty() {
        let _ = writeln!(md, "\n### Cases that did not pass ({})\n", failing.len());
        for c in failing.iter().take(MAX_LISTED) {
            let reasons = if c.reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", text(&c.reasons.join("; ")))
            };
            let _ = writeln!(md, "- **{}** {}{reasons}", c.verdict, code(&c.id));
        }
        if failing.len() > MAX_LISTED {
            let _ = writeln!(
                md,
                "- … and {} more, see report.json",
                failing.len() - MAX_LISTED
            );
        }
    }
    md
}

/// `s` as an inline code span, whatever backticks it holds.
fn code(s: &str) -> String {
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
fn text(s: &str) -> String {
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
