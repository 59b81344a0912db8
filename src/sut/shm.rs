//! The shared-memory file through which a process system receives camera frames (`shm`
//! transport, `docs/sut-protocol.md`): created by the harness under `/dev/shm` (the temporary
//! directory where there is none), one per system process, mapped read-write here and
//! read-only by the system, grown as the runs it holds need, and removed when dropped — also
//! when the process faulted, since the process's connection owns it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{Mmap, MmapMut, MmapOptions};

/// A file mapped into memory, removed on drop.
pub struct ShmFile {
    path: PathBuf,
    file: File,
    /// The mapping of the whole file (empty while the file is).
    map: MmapMut,
}

/// The directory shared-memory files are made in: `/dev/shm`, or the temporary directory.
pub fn shm_dir() -> PathBuf {
    let dev_shm = Path::new("/dev/shm");
    if dev_shm.is_dir() {
        dev_shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

impl ShmFile {
    /// Creates a new, empty file with a name no other file has (`gauntlet-<pid>-<n>-<t>`).
    pub fn create() -> std::io::Result<ShmFile> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let dir = shm_dir();
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = dir.join(format!(
                "gauntlet-{}-{}-{nanos:08x}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::Relaxed)
            ));
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(file) => {
                    let map = map_mut(&file)?;
                    return Ok(ShmFile { path, file, map });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size (and the mapping's), bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Makes the file at least `len` bytes long (new bytes are zero) and maps all of it.
    pub fn ensure(&mut self, len: usize) -> std::io::Result<()> {
        if len <= self.map.len() {
            return Ok(());
        }
        self.file.set_len(len as u64)?;
        self.map = map_mut(&self.file)?;
        Ok(())
    }

    /// The mapped bytes. The system process maps the file read-only, and the protocol keeps
    /// the harness from writing while the system reads (frames are written before the step
    /// line, not touched until the reply).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Maps all of a file read-write, shared.
fn map_mut(file: &File) -> std::io::Result<MmapMut> {
    // SAFETY: the file is this process's own (created with `create_new`, mode 0600); only the
    // system under test maps it besides, read-only, and the file is only ever grown, never
    // truncated, while mapped.
    unsafe { MmapMut::map_mut(file) }
}

/// A read-only mapping of a shared-memory file, as a system under test maps it (the Rust
/// client `examples/rust/sut_aeb_vision.rs` and the benchmarks use it).
pub struct ShmView {
    map: Mmap,
}

impl ShmView {
    /// Maps the first `len` bytes of the file at `path` read-only.
    pub fn open(path: &Path, len: usize) -> std::io::Result<ShmView> {
        let file = File::open(path)?;
        if (file.metadata()?.len() as usize) < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} is shorter than {len} bytes", path.display()),
            ));
        }
        // SAFETY: the file is at least `len` bytes long (checked above) and the harness only
        // grows it; it writes the bytes only while the system is not reading them.
        let map = unsafe { MmapOptions::new().len(len).map(&file)? };
        Ok(ShmView { map })
    }

    /// The mapped bytes. The harness writes them only while the system is not reading (before
    /// a step line, never until its reply).
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_grows_keeps_its_bytes_and_is_removed_on_drop() {
        let mut shm = ShmFile::create().expect("create");
        let path = shm.path().to_path_buf();
        assert!(path.exists());
        assert!(shm.is_empty() && shm.bytes_mut().is_empty());
        shm.ensure(10).expect("map");
        shm.bytes_mut()[..3].copy_from_slice(b"abc");
        shm.ensure(5000).expect("grow");
        assert_eq!(shm.len(), 5000);
        assert_eq!(&shm.bytes_mut()[..4], b"abc\0");
        // Another reader of the file sees what was written, and what is written later.
        assert_eq!(&std::fs::read(&path).expect("read")[..3], b"abc");
        let view = ShmView::open(&path, 5000).expect("view");
        shm.bytes_mut()[4999] = 7;
        assert_eq!(view.bytes()[..3], *b"abc");
        assert_eq!(view.bytes()[4999], 7);
        assert!(ShmView::open(&path, 5001).is_err());
        drop(view);
        let other = ShmFile::create().expect("create");
        assert_ne!(other.path(), path);
        drop(shm);
        assert!(!path.exists(), "removed on drop");
    }
}
