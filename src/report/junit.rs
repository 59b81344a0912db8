//! `junit.xml`: the results of a run in the JUnit XML dialect that GitLab, Jenkins and GitHub
//! read. One `<testsuite>` per scenario file (sorted by path), one `<testcase>` per case, in
//! report order.
//!
//! Only standard attributes are written and no times, so the file is byte-identical for the same
//! `report.json`. It is written case by case from a [`Digest`] and the cases (in memory or read
//! back from `cases.jsonl`), never built whole in memory for a run.

use std::borrow::Cow;
use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::escape::escape;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;

use super::store::CaseSource;
use super::tally::Digest;
use super::{CaseEntry, ReportFile, Summary};

/// Renders `junit.xml` for a report held in memory.
pub fn junit_xml(report: &ReportFile) -> io::Result<Vec<u8>> {
    let digest = Digest::of_entries(&report.cases, &|_, _| false);
    write_junit(Vec::new(), &report.sut, report.seed, &digest, &report.cases)
}

/// Writes `junit.xml` to `w` for the cases of `source` (in report order) and their digest;
/// returns `w`.
pub fn write_junit<W: Write>(
    w: W,
    sut: &str,
    seed: u64,
    digest: &Digest,
    source: &dyn CaseSource,
) -> io::Result<W> {
    let mut w = Writer::new_with_indent(w, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let name = format!("gauntlet {sut} seed {seed}");
    w.write_event(Event::Start(suite_start(
        "testsuites",
        &name,
        &digest.summary,
    )))?;
    for (scenario, group) in &digest.scenarios {
        w.write_event(Event::Start(suite_start(
            "testsuite",
            scenario,
            &group.counts,
        )))?;
        for &i in &group.cases {
            write_case(&mut w, &*source.case(i)?)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut inner = w.into_inner();
    inner.write_all(b"\n")?;
    Ok(inner)
}

fn suite_start<'a>(tag: &'a str, name: &str, counts: &Summary) -> BytesStart<'a> {
    let mut start = BytesStart::new(tag);
    start.push_attribute(attribute("name", name));
    start.push_attribute(("tests", counts.cases.to_string().as_str()));
    start.push_attribute(("failures", counts.fail.to_string().as_str()));
    start.push_attribute(("errors", counts.error.to_string().as_str()));
    start.push_attribute(("skipped", "0"));
    start
}

fn write_case<W: Write>(w: &mut Writer<W>, case: &CaseEntry) -> io::Result<()> {
    let mut start = BytesStart::new("testcase");
    start.push_attribute(attribute("classname", &case.scenario));
    start.push_attribute(attribute("name", &case.id));
    let tag = match case.verdict.as_str() {
        "pass" => return w.write_event(Event::Empty(start)),
        "fail" => "failure",
        _ => "error",
    };
    w.write_event(Event::Start(start))?;
    let message = if case.reasons.is_empty() {
        case.verdict.to_string()
    } else {
        case.reasons.join("; ")
    };
    let mut detail = BytesStart::new(tag);
    detail.push_attribute(attribute("message", &message));
    if case.reasons.is_empty() {
        w.write_event(Event::Empty(detail))?;
    } else {
        w.write_event(Event::Start(detail))?;
        let reasons = case.reasons.join("\n");
        let text = xml_chars(&reasons);
        w.write_event(Event::Text(BytesText::new(&text)))?;
        w.write_event(Event::End(BytesEnd::new(tag)))?;
    }
    w.write_event(Event::End(BytesEnd::new("testcase")))
}

/// An attribute escaped by quick-xml, with tabs and line breaks written as character references
/// so that they survive attribute-value normalisation, and characters that XML 1.0 forbids
/// replaced by U+FFFD.
fn attribute<'a>(key: &'a str, value: &str) -> Attribute<'a> {
    let escaped = escape(xml_chars(value).into_owned());
    let mut out = String::with_capacity(escaped.len());
    for ch in escaped.chars() {
        match ch {
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(ch),
        }
    }
    Attribute {
        key: QName(key.as_bytes()),
        value: Cow::Owned(out.into_bytes()),
    }
}

/// Replaces the characters that XML 1.0 cannot hold (most control characters, unpaired
/// surrogates cannot occur in a `str`, U+FFFE and U+FFFF) with U+FFFD.
fn xml_chars(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}
