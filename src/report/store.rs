//! Case entries kept on disk rather than in memory: a JSON-lines file (`cases.jsonl` of a run,
//! or a temporary file of `merge` and `judge`) and, in memory, only where each case's line lies
//! (its ID, offset and length). The reports are written by reading the lines back in case-ID
//! order, so a run's memory does not grow with its entries (`docs/distributed.md`).

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::CaseEntry;

/// Case entries in report order, wherever they are kept.
pub trait CaseSource {
    /// How many cases there are.
    fn count(&self) -> usize;
    /// The `i`-th case (`i < count()`).
    fn case(&self, i: usize) -> io::Result<Cow<'_, CaseEntry>>;
}

impl CaseSource for Vec<CaseEntry> {
    fn count(&self) -> usize {
        self.len()
    }
    fn case(&self, i: usize) -> io::Result<Cow<'_, CaseEntry>> {
        Ok(Cow::Borrowed(&self[i]))
    }
}

/// Where one case's line lies in the file (the line's `\n` not counted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub id: Box<str>,
    pub offset: u64,
    pub len: u32,
}

/// A JSON-lines file of case entries, appended to, and the slots of its lines.
pub struct CaseStore {
    path: PathBuf,
    file: File,
    /// Length of the file: where the next line goes.
    end: u64,
    slots: Vec<Slot>,
}

impl CaseStore {
    /// Creates (or empties) the file at `path`.
    pub fn create(path: &Path) -> io::Result<CaseStore> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        Ok(CaseStore {
            path: path.to_path_buf(),
            file,
            end: 0,
            slots: Vec::new(),
        })
    }

    /// Opens the file at `path` to go on after its first `valid_len` bytes, whose lines are
    /// `slots` (`--resume`: a torn last line is cut off first).
    pub fn reopen(path: &Path, valid_len: u64, slots: Vec<Slot>) -> io::Result<CaseStore> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        file.set_len(valid_len)?;
        file.sync_all()?;
        Ok(CaseStore {
            path: path.to_path_buf(),
            file,
            end: valid_len,
            slots,
        })
    }

    /// Appends `entry` as one line and writes it through to the operating system at once, so
    /// that a kill of the process (SIGKILL included) loses at most the line being written.
    pub fn append(&mut self, entry: &CaseEntry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let len = u32::try_from(line.len())
            .map_err(|_| io::Error::other(format!("case {}: entry over 4 GiB", entry.id)))?;
        line.push(b'\n');
        (&self.file).seek(SeekFrom::Start(self.end))?;
        (&self.file).write_all(&line)?;
        (&self.file).flush()?;
        self.slots.push(Slot {
            id: entry.id.as_str().into(),
            offset: self.end,
            len,
        });
        self.end += line.len() as u64;
        Ok(())
    }

    /// The IDs of the cases, in the store's current order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| &*s.id)
    }

    /// Puts the cases in report order: sorted by ID, stable (of lines with the same ID, the
    /// first written comes first).
    pub fn sort_by_id(&mut self) {
        self.slots.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// Keeps the first of the lines with the same ID (after `sort_by_id`).
    pub fn dedup_ids(&mut self) {
        self.slots.dedup_by(|later, first| later.id == first.id);
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file (a temporary store).
    pub fn remove(self) -> io::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
    }
}

impl CaseSource for CaseStore {
    fn count(&self) -> usize {
        self.slots.len()
    }

    /// Reads the case's line back; the `resume` record is left out (it never goes into reports).
    fn case(&self, i: usize) -> io::Result<Cow<'_, CaseEntry>> {
        let slot = &self.slots[i];
        let mut bytes = vec![0u8; slot.len as usize];
        (&self.file).seek(SeekFrom::Start(slot.offset))?;
        (&self.file).read_exact(&mut bytes)?;
        let mut entry: CaseEntry = serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::other(format!(
                "{}: the line of case {} no longer reads back: {e}",
                self.path.display(),
                slot.id
            ))
        })?;
        entry.resume = None;
        Ok(Cow::Owned(entry))
    }
}

/// What reading back a JSON-lines file of case entries found.
#[derive(Debug, Default)]
pub struct LinesRead {
    /// Every complete, valid line, in file order.
    pub slots: Vec<Slot>,
    /// Byte length of the complete, valid lines: the file is cut back to it before appending.
    pub valid_len: u64,
    /// Whether a torn (unterminated or unreadable) last line was dropped.
    pub torn_tail: bool,
}

/// Reads a JSON-lines file of case entries one line at a time (never the whole file at once):
/// every complete line must be a case entry, except that a last line that is unterminated or
/// does not parse (a write cut short by a kill) is ignored. `check` sees each entry with its
/// line number and may refuse it. A file that does not exist reads as empty.
pub fn read_lines(
    path: &Path,
    check: &mut dyn FnMut(usize, &CaseEntry) -> Result<(), String>,
) -> Result<LinesRead, String> {
    let cannot = |e: io::Error| format!("{}: cannot read: {e}", path.display());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LinesRead::default()),
        Err(e) => return Err(cannot(e)),
    };
    let mut reader = BufReader::new(file);
    let mut out = LinesRead::default();
    let mut line: Vec<u8> = Vec::new();
    let mut line_no = 0usize;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(cannot)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line.last() != Some(&b'\n') {
            out.torn_tail = true;
            break;
        }
        let parsed = serde_json::from_slice::<CaseEntry>(&line[..n - 1]);
        let at_end = reader.fill_buf().map_err(cannot)?.is_empty();
        match parsed {
            Ok(entry) => {
                check(line_no, &entry).map_err(|e| format!("{}:{line_no}: {e}", path.display()))?;
                let len = u32::try_from(n - 1)
                    .map_err(|_| format!("{}:{line_no}: a line over 4 GiB", path.display()))?;
                out.slots.push(Slot {
                    id: entry.id.into_boxed_str(),
                    offset: out.valid_len,
                    len,
                });
                out.valid_len += n as u64;
            }
            Err(_) if at_end => {
                out.torn_tail = true;
                break;
            }
            Err(e) => {
                return Err(format!(
                    "{}:{line_no}: not a case entry ({e}); only the last line may be torn",
                    path.display()
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FactsEntry;
    use std::collections::BTreeMap;

    fn entry(id: &str, x: f64) -> CaseEntry {
        CaseEntry {
            id: id.to_string(),
            scenario: "s.toml".to_string(),
            params: BTreeMap::from([("x".to_string(), serde_json::json!(x))]),
            sut: "builtin:none".to_string(),
            verdict: "pass".to_string(),
            colour: None,
            reasons: Vec::new(),
            judged_by: None,
            facts: FactsEntry {
                judge: None,
                ego_speed_kph: x,
                vehicle_category: None,
                runs_required: 1,
                reference_collision: BTreeMap::new(),
            },
            metrics: BTreeMap::new(),
            runs: Vec::new(),
            resume: None,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gauntlet-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir.join(name)
    }

    #[test]
    fn lines_read_back_sorted_and_exact() {
        let path = scratch("sorted.jsonl");
        let mut store = CaseStore::create(&path).expect("create");
        // Numbers that a parser without exact round trips may change in the last bit.
        let xs = [0.1 + 0.2, 1e-7 / 3.0, 123456.789012345, -0.0, 5e-324];
        for (i, x) in xs.iter().enumerate() {
            store
                .append(&entry(&format!("c/{}", 9 - i), *x))
                .expect("append");
        }
        store
            .append(&entry("c/9", 1.0))
            .expect("append a duplicate");
        store.sort_by_id();
        store.dedup_ids();
        let ids: Vec<&str> = store.ids().collect();
        assert_eq!(ids, ["c/5", "c/6", "c/7", "c/8", "c/9"]);
        for (i, x) in xs.iter().rev().enumerate() {
            let e = store.case(i).expect("read back");
            assert_eq!(e.facts.ego_speed_kph.to_bits(), x.to_bits(), "{}", e.id);
        }
        // The first line of an ID is kept.
        assert_eq!(store.case(4).expect("c/9").facts.ego_speed_kph, xs[0]);
        store.remove().expect("remove");
        assert!(!path.exists());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_off() {
        let path = scratch("torn.jsonl");
        let mut store = CaseStore::create(&path).expect("create");
        store.append(&entry("a/x=1", 1.0)).expect("append");
        store.append(&entry("a/x=2", 2.0)).expect("append");
        let whole = std::fs::read(&path).expect("read");
        for tail in [
            &b"{\"id\":\"a/x=3\",\"sc"[..],
            b"{\"id\": 7}\n",
            b"garbage\n",
        ] {
            let mut bytes = whole.clone();
            bytes.extend_from_slice(tail);
            std::fs::write(&path, &bytes).expect("write");
            let mut seen = Vec::new();
            let read = read_lines(&path, &mut |n, e| {
                seen.push((n, e.id.clone()));
                Ok(())
            })
            .expect("read");
            assert!(read.torn_tail);
            assert_eq!(read.valid_len, whole.len() as u64);
            assert_eq!(seen, [(1, "a/x=1".to_string()), (2, "a/x=2".to_string())]);
            let mut again = CaseStore::reopen(&path, read.valid_len, read.slots).expect("reopen");
            again.append(&entry("a/x=0", 0.5)).expect("append");
            again.sort_by_id();
            let ids: Vec<&str> = again.ids().collect();
            assert_eq!(ids, ["a/x=0", "a/x=1", "a/x=2"]);
            assert_eq!(again.case(0).expect("new").facts.ego_speed_kph, 0.5);
            assert_eq!(again.case(2).expect("old").facts.ego_speed_kph, 2.0);
        }
        // A broken line before the last is refused; so is what `check` refuses.
        let mut bytes = b"garbage\n".to_vec();
        bytes.extend_from_slice(&whole);
        std::fs::write(&path, &bytes).expect("write");
        let e = read_lines(&path, &mut |_, _| Ok(())).expect_err("broken");
        assert!(e.contains(":1: not a case entry"), "{e}");
        std::fs::write(&path, &whole).expect("write");
        let e = read_lines(&path, &mut |_, e| Err(format!("no {}", e.id))).expect_err("refused");
        assert!(e.ends_with(":1: no a/x=1"), "{e}");
        assert!(
            read_lines(&scratch("missing.jsonl"), &mut |_, _| Ok(()))
                .expect("missing reads as empty")
                .slots
                .is_empty()
        );
    }
}
