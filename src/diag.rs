//! Diagnostics: problems found in input files, located by file, line and column, and rendered for people.

use std::cell::RefCell;
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
            let (line, col) = line_col(text, span.start);
            let (_, range) = line_of(text, floor_char_boundary(text, span.start.min(text.len())));
            // Long lines are cut at 200 characters, without copying them whole first.
            let whole = text[range].trim_end_matches('\r');
            let source_line = match whole.char_indices().nth(200) {
                Some((cut, _)) => format!("{}…", &whole[..cut]),
                None => whole.to_string(),
            };
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

thread_local! {
    /// Address, length and line starts of the text that [`with_line_index`] indexes.
    static LINE_INDEX: RefCell<Option<(usize, usize, Vec<usize>)>> = const { RefCell::new(None) };
}

/// Runs `f` with an index of the lines of `text`: diagnostics located in `text` meanwhile find
/// their line by binary search instead of counting from the start, which for a file with many
/// problems would take time quadratic in its size. The borrow of `text` keeps it alive and
/// unchanged while the index is in place, so address and length identify it.
pub fn with_line_index<R>(text: &str, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<(usize, usize, Vec<usize>)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LINE_INDEX.set(self.0.take());
        }
    }
    let starts = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let _restore = Restore(LINE_INDEX.replace(Some((text.as_ptr() as usize, text.len(), starts))));
    f()
}

/// 1-based line of byte offset `offset` (a char boundary), and the byte range of that line
/// without its `\n`.
fn line_of(text: &str, offset: usize) -> (usize, Range<usize>) {
    let indexed = LINE_INDEX.with_borrow(|index| match index {
        Some((address, len, starts))
            if *address == text.as_ptr() as usize && *len == text.len() =>
        {
            let line = starts.partition_point(|&s| s <= offset);
            let start = starts.get(line.saturating_sub(1)).copied().unwrap_or(0);
            let end = starts.get(line).map_or(text.len(), |next| next - 1);
            Some((line, start..end))
        }
        _ => None,
    });
    indexed.unwrap_or_else(|| {
        let before = &text[..offset];
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        (before.matches('\n').count() + 1, start..end)
    })
}

/// 1-based line and column (counted in characters) of byte offset `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let (line, range) = line_of(text, offset);
    let col = text[range.start..offset].chars().count() + 1;
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
