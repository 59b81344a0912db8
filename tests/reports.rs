//! `junit.xml` and `summary.md`: what `gauntlet run` writes, that JUnit consumers can read it,
//! that both are byte-identical for any thread count, and that awkward text is escaped.

mod common;
use common::{gauntlet, tempdir};

use std::collections::BTreeMap;

use gauntlet::eval::judge::Packs;
use gauntlet::report::{self, CaseEntry, FactsEntry};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// A `<testcase>` as a JUnit consumer sees it.
#[derive(Debug, Default)]
struct TestCase {
    classname: String,
    name: String,
    /// `failure` or `error`, with its message attribute and its text.
    outcome: Option<(String, String, String)>,
}

/// A parsed `junit.xml`: suite attributes (`testsuites` first) and test cases.
#[derive(Debug, Default)]
struct Junit {
    suites: Vec<(String, BTreeMap<String, String>)>,
    cases: Vec<TestCase>,
}

fn attributes(e: &BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("attribute");
            (
                String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key"),
                a.normalized_value(XmlVersion::Explicit1_0)
                    .expect("value")
                    .into_owned(),
            )
        })
        .collect()
}

/// The text of the `<failure>` or `<error>` element being read, if one is open.
fn outcome_text<'a>(junit: &'a mut Junit, stack: &[String]) -> Option<&'a mut String> {
    if !matches!(stack.last().map(String::as_str), Some("failure" | "error")) {
        return None;
    }
    let (_, _, text) = junit.cases.last_mut()?.outcome.as_mut()?;
    Some(text)
}

/// Parses `junit.xml` with quick-xml's reader; panics on anything malformed.
fn parse_junit(xml: &str) -> Junit {
    let mut reader = Reader::from_str(xml);
    let mut junit = Junit::default();
    let mut stack: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let tag = String::from_utf8(e.name().as_ref().to_vec()).expect("tag");
                let attrs = attributes(e);
                match tag.as_str() {
                    "testsuites" | "testsuite" => junit.suites.push((tag.clone(), attrs)),
                    "testcase" => {
                        assert_eq!(stack.last().map(String::as_str), Some("testsuite"));
                        junit.cases.push(TestCase {
                            classname: attrs["classname"].clone(),
                            name: attrs["name"].clone(),
                            outcome: None,
                        });
                    }
                    "failure" | "error" => {
                        assert_eq!(stack.last().map(String::as_str), Some("testcase"));
                        let case = junit.cases.last_mut().expect("case");
                        assert!(case.outcome.is_none(), "one outcome per case");
                        case.outcome = Some((tag.clone(), attrs["message"].clone(), String::new()));
                    }
                    other => panic!("unexpected element <{other}>"),
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(tag);
                }
            }
            Event::End(_) => {
                stack.pop().expect("balanced");
            }
            Event::Text(t) => {
                let t = t.xml10_content().expect("text");
                match outcome_text(&mut junit, &stack) {
                    Some(text) => text.push_str(&t),
                    None => assert!(t.trim().is_empty(), "stray text {t:?}"),
                }
            }
            Event::GeneralRef(r) => {
                let text = outcome_text(&mut junit, &stack)
                    .expect("references only inside failure and error texts");
                match r.resolve_char_ref().expect("char ref") {
                    Some(ch) => text.push(ch),
                    None => {
                        let name = r.decode().expect("name");
                        text.push_str(
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .expect("predefined entity"),
                        );
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(stack.is_empty());
    junit
}

#[test]
fn junit_and_summary_of_a_failing_run() {
    let dir = tempdir("ccrs");
    let mut outputs = Vec::new();
    for jobs in ["1", "2"] {
        let out = dir.join(format!("out-{jobs}"));
        let o = gauntlet(&[
            "run",
            "scenarios/euro-ncap/ccrs.toml",
            "--sut",
            "builtin:none",
            "--jobs",
            jobs,
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let junit = std::fs::read(out.join("junit.xml")).expect("junit.xml");
        let summary = std::fs::read(out.join("summary.md")).expect("summary.md");
        // No temporary file is left behind.
        assert!(!out.join(".junit.xml.tmp").exists() && !out.join(".summary.md.tmp").exists());
        outputs.push((junit, summary));
    }
    assert!(
        outputs[0].0 == outputs[1].0,
        "junit.xml differs between --jobs 1 and 2"
    );
    assert!(
        outputs[0].1 == outputs[1].1,
        "summary.md differs between --jobs 1 and 2"
    );

    let xml = String::from_utf8(outputs[0].0.clone()).expect("utf-8");
    let junit = parse_junit(&xml);
    let counts = |attrs: &BTreeMap<String, String>| {
        ["tests", "failures", "errors", "skipped"].map(|k| attrs[k].clone())
    };
    assert_eq!(junit.suites.len(), 2);
    assert_eq!(junit.suites[0].0, "testsuites");
    assert_eq!(counts(&junit.suites[0].1), ["75", "75", "0", "0"]);
    assert_eq!(junit.suites[1].0, "testsuite");
    assert_eq!(junit.suites[1].1["name"], "scenarios/euro-ncap/ccrs.toml");
    assert_eq!(counts(&junit.suites[1].1), ["75", "75", "0", "0"]);
    assert!(
        !xml.contains("time="),
        "no times: the file must be deterministic"
    );
    assert_eq!(junit.cases.len(), 75);
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("out-1").join("report.json")).expect("report"),
    )
    .expect("JSON");
    for (case, entry) in junit
        .cases
        .iter()
        .zip(report["cases"].as_array().expect("cases"))
    {
        assert_eq!(case.classname, "scenarios/euro-ncap/ccrs.toml");
        assert_eq!(case.name, entry["id"].as_str().expect("id"), "report order");
        let (kind, message, text) = case.outcome.as_ref().expect("a failure");
        assert_eq!(kind, "failure");
        assert!(message.starts_with("collision with `gvt`"), "{message}");
        assert!(message.contains("red (euro-ncap-2026 v"), "{message}");
        assert!(message.ends_with("rule ccrs)"), "{message}");
        assert_eq!(
            text.replace('\n', "; "),
            *message,
            "the reasons, one per line"
        );
    }

    let summary = String::from_utf8(outputs[0].1.clone()).expect("utf-8");
    assert!(
        summary.starts_with("## Gauntlet: `builtin:none`, seed 0"),
        "{summary}"
    );
    assert!(summary.contains("| 75 | 0 | 75 | 0 |"), "{summary}");
    assert!(
        summary.contains("| `scenarios/euro-ncap/ccrs.toml` | 75 | 0 | 75 | 0 |"),
        "{summary}"
    );
    assert_eq!(
        summary
            .lines()
            .filter(|l| l.starts_with("- **fail**"))
            .count(),
        report::summary::MAX_LISTED
    );
    assert!(
        summary.contains("… and 25 more, see report.json"),
        "{summary}"
    );
}

#[test]
fn summary_and_junit_snapshot_of_a_small_run() {
    let out = tempdir("small").join("out");
    let o = gauntlet(&[
        "run",
        "scenarios/euro-ncap/ccrs.toml",
        "--sut",
        "builtin:none",
        "--filter",
        "*vut_speed_kph=1?",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    insta::assert_snapshot!("summary_md_ccrs_10_15", summary);
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    insta::assert_snapshot!("junit_xml_ccrs_10_15", junit);
}

fn entry(id: &str, scenario: &str, verdict: &'static str, reasons: &[&str]) -> CaseEntry {
    CaseEntry {
        id: id.into(),
        scenario: scenario.into(),
        params: BTreeMap::new(),
        sut: "exec:./my <sut>".into(),
        verdict: verdict.into(),
        colour: None,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        judged_by: None,
        facts: FactsEntry {
            judge: None,
            ego_speed_kph: 50.0,
            vehicle_category: Some("M1".into()),
            runs_required: 1,
            reference_collision: BTreeMap::new(),
        },
        metrics: BTreeMap::new(),
        runs: Vec::new(),
        resume: None,
    }
}

#[test]
fn awkward_text_is_escaped_in_both_files() {
    let nasty = "sut error: `<panic>` & \"quotes\" 'apos' ]]> tab\there\nline two\r\u{1}\u{fffe} <b>bold</b> | *x*";
    let entries = vec![
        entry("b/x=2", "dir/b & c.toml", "error", &[nasty]),
        entry("a/x=1", "dir/a.toml", "fail", &["run 0: one", "run 1: two"]),
        entry("a/x=3", "dir/a.toml", "pass", &[]),
        entry("b/x=1", "dir/b & c.toml", "fail", &[]),
    ];
    let report_file = report::build_report(
        7,
        "exec:./my <sut>",
        entries,
        &Packs::builtin().expect("packs"),
    );
    let xml = String::from_utf8(report::junit_xml(&report_file).expect("junit")).expect("utf-8");
    assert_eq!(
        report::junit_xml(&report_file).expect("junit"),
        xml.as_bytes()
    );
    let junit = parse_junit(&xml);
    assert_eq!(junit.suites[0].1["name"], "gauntlet exec:./my <sut> seed 7");
    let names: Vec<&str> = junit.suites[1..]
        .iter()
        .map(|(_, a)| a["name"].as_str())
        .collect();
    assert_eq!(names, ["dir/a.toml", "dir/b & c.toml"]);
    assert_eq!(junit.suites[2].1["errors"], "1");
    assert_eq!(junit.suites[2].1["failures"], "1");
    let ids: Vec<&str> = junit.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(ids, ["a/x=1", "a/x=3", "b/x=1", "b/x=2"]);
    assert_eq!(
        junit.cases[0].outcome,
        Some((
            "failure".into(),
            "run 0: one; run 1: two".into(),
            "run 0: one\nrun 1: two".into()
        ))
    );
    assert!(junit.cases[1].outcome.is_none());
    assert_eq!(
        junit.cases[2].outcome,
        Some(("failure".into(), "fail".into(), String::new()))
    );
    // Characters XML 1.0 cannot hold become U+FFFD; everything else survives, line breaks and
    // tabs in attributes included.
    let expected = nasty.replace(['\u{1}', '\u{fffe}'], "\u{fffd}");
    let (kind, message, text) = junit.cases[3].outcome.clone().expect("error");
    assert_eq!(kind, "error");
    assert_eq!(message, expected);
    // Text content: a parser turns the lone `\r` into `\n`, as XML requires.
    assert_eq!(text.replace('\r', "\n"), expected.replace('\r', "\n"));

    let md = report::summary_md(&report_file);
    assert_eq!(md, report::summary_md(&report_file));
    assert!(
        md.starts_with("## Gauntlet: `exec:./my <sut>`, seed 7: ❌ 3 of 4 cases do not pass\n")
    );
    assert!(md.contains("| `dir/b & c.toml` | 2 | 0 | 1 | 1 |"), "{md}");
    let error_line = md
        .lines()
        .find(|l| l.starts_with("- **error** `b/x=2`"))
        .expect("error line");
    // Code spans stay; HTML and table pipes outside them are escaped; one line per case.
    assert!(error_line.contains("`<panic>`"), "{error_line}");
    assert!(error_line.contains("\\<b\\>bold\\</b\\>"), "{error_line}");
    assert!(
        error_line.contains("&amp;") && error_line.contains("\\|"),
        "{error_line}"
    );
    assert!(error_line.contains("line two"), "{error_line}");
    assert!(md.contains("- **fail** `b/x=1`\n"), "{md}");
}

/// A run writes its reports from `cases.jsonl`, reading the cases back one by one; a report
/// built whole in memory from the same cases (in any order) has the same bytes, and so has one
/// written by the library from the run's `cases.jsonl` again.
#[test]
fn reports_from_memory_and_from_cases_jsonl_are_the_same_bytes() {
    let dir = tempdir("streamed");
    let out = dir.join("run");
    let o = gauntlet(&[
        "run",
        "scenarios",
        "--sut",
        "builtin:aeb",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let files = ["report.json", "junit.xml", "summary.md"];
    let same_as_run = |d: &std::path::Path| {
        for f in files {
            assert!(
                std::fs::read(out.join(f)).expect("run") == std::fs::read(d.join(f)).expect(f),
                "{f} of {} differs from the run's",
                d.display()
            );
        }
    };
    // The packs the run judged by: the built-in ones and those among its inputs.
    let loaded = gauntlet::scenario::load_paths(&[std::path::PathBuf::from("scenarios")]);
    let mut packs = Packs::builtin().expect("packs");
    for (file, pack) in &loaded.packs {
        packs.add_input(file, pack.clone());
    }
    let saved = report::read_report(&out.join("report.json")).expect("report");
    assert!(saved.cases.len() > 400);
    let mut entries = saved.cases.clone();
    entries.reverse();
    let in_memory = report::ReportFile {
        inputs_hash: saved.inputs_hash.clone(),
        suite_hash: saved.suite_hash.clone(),
        shard: saved.shard,
        total_cases: saved.total_cases,
        ..report::build_report(saved.seed, &saved.sut, entries, &packs)
    };
    let memory = dir.join("memory");
    std::fs::create_dir_all(&memory).expect("dir");
    report::write_report(&memory, &in_memory).expect("report.json");
    report::write_junit(&memory, &in_memory).expect("junit.xml");
    report::write_summary(&memory, &in_memory).expect("summary.md");
    same_as_run(&memory);

    // Every line of cases.jsonl carries its resume record; the reports never do.
    let log = out.join("cases.jsonl");
    let read = report::store::read_lines(&log, &mut |_, e| {
        assert!(e.resume.is_some(), "{}", e.id);
        Ok(())
    })
    .expect("cases.jsonl");
    assert!(!read.torn_tail);
    assert_eq!(read.slots.len(), saved.cases.len());
    let copy = dir.join("cases.jsonl");
    std::fs::copy(&log, &copy).expect("copy");
    let mut store = report::CaseStore::reopen(&copy, read.valid_len, read.slots).expect("store");
    store.sort_by_id();
    let streamed = dir.join("streamed");
    std::fs::create_dir_all(&streamed).expect("dir");
    let head = report::RunHead {
        seed: saved.seed,
        sut: saved.sut.clone(),
        inputs_hash: saved.inputs_hash.clone(),
        suite_hash: saved.suite_hash.clone(),
        shard: saved.shard,
        total_cases: saved.total_cases,
    };
    let totals = report::write_reports(&streamed, &head, &store, &packs).expect("reports");
    same_as_run(&streamed);
    assert_eq!(totals.summary(), &saved.summary);
    assert_eq!(totals.aggregates, saved.aggregates);
}
