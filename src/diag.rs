//! Diagnostics: problems found in input files, located by file, line and column, and rendered for people.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a problem is. Errors stop every command (exit 2); warnings only stop `validate --strict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file as the user named it (relative paths stay relative).
    pub file: PathBuf,
    /// Byte range in the file, when the problem has a place.
    pub span: Option<Range<usize>>,
    /// 1-based line and column (in characters) of the start of `span`.
    pub line_col: Option<(usize, usize)>,
    /// Field path inside the file, e.g. `actors[0].behaviour.decel_mps2`; empty for the whole file.
    pub field: String,
    /// What is wrong: what was expected and what was found.
    pub message: String,
    /// Case IDs in which the problem shows (only for problems that depend on sweep parameters).
    pub cases: Vec<String>,
    /// The source line, for the caret display.
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &Path, field: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            span: None,
            line_col: None,
            field: field.into(),
            message: message.into(),
            cases: Vec::new(),
            source_line: None,
        }
    }

    pub fn warning(
        file: &Path,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, field, message)
        }
    }

    /// Attaches a place in `text` (the file's contents) to the diagnostic.
    pub fn at(mut self, text: &str, span: Option<Range<usize>>) -> Diagnostic {
        if let Some(span) = span {
            let start = span.start.min(text.len());
            let (line, col) = line_col(text, start);
            let line_start = text[..floor_char_boundary(text, start)]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let line_end = text[line_start..]
                .find('\n')
                .map_or(text.len(), |i| line_start + i);
            let mut source_line = text[line_start..line_end]
                .trim_end_matches('\r')
                .to_string();
            if source_line.chars().count() > 200 {
                source_line = source_line.chars().take(200).collect::<String>() + "…";
            }
            self.line_col = Some((line, col));
            self.source_line = Some(source_line);
            self.span = Some(span);
        }
        self
    }

    /// The one-line form: `file:line:col: error: field: message`.
    pub fn headline(&self) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let place = match self.line_col {
            Some((line, col)) => format!("{}:{line}:{col}", self.file.display()),
            None => self.file.display().to_string(),
        };
        let field = if self.field.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.field)
        };
        let mut out = format!("{place}: {severity}: {field}{}", self.message);
        if let Some(first) = self.cases.first() {
            if self.cases.len() == 1 {
                out += &format!(" (in case {first})");
            } else {
                out += &format!(" (in {} cases, first {first})", self.cases.len());
            }
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline())?;
        if let (Some((line, col)), Some(src)) = (self.line_col, &self.source_line) {
            let gutter = line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{line} | {src}")?;
            let width = self.span.as_ref().map_or(1, |s| {
                s.len()
                    .clamp(1, src.chars().count().saturating_sub(col - 1).max(1))
            });
            writeln!(
                f,
                "{:gutter$} | {}{}",
                "",
                " ".repeat(col - 1),
                "^".repeat(width)
            )?;
        }
        Ok(())
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line and column (counted in characters) of byte offset `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// All problems found while loading a set of inputs.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }
    pub fn n_errors(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
    pub fn n_warnings(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
    pub fn has_errors(&self) -> bool {
        self.n_errors() > 0
    }
    /// Sorts by file, then position, then message, and drops exact duplicates.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (
                &a.file,
                a.span.as_ref().map(|s| s.start),
                &a.field,
                &a.message,
            )
                .cmp(&(
                    &b.file,
                    b.span.as_ref().map(|s| s.start),
                    &b.field,
                    &b.message,
                ))
        });
        self.items.dedup();
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}
