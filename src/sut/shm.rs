//! The shared-memory file through which a process system receives camera frames (`shm`
//! transport, `docs/sut-protocol.md`): created by the harness under `/dev/shm` (the temporary
//! directory where there is none), one per system process, mapped read-write here and
//! read-only by the system, grown as the runs it holds need, and removed when dropped — also
//! when the process faulted, since the process's connection owns it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file mapped into memory, removed on drop.
pub struct ShmFile {
    path: PathBuf,
    file: File,
    /// The mapping (null while the file is empty).
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone (no other handle in this process points
// into it), so moving it to another thread moves the only access to it.
unsafe impl Send for ShmFile {}

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
                    return Ok(ShmFile {
                        path,
                        file,
                        ptr: std::ptr::null_mut(),
                        len: 0,
                    });
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
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes the file at least `len` bytes long (new bytes are zero) and maps all of it.
    pub fn ensure(&mut self, len: usize) -> std::io::Result<()> {
        if len <= self.len {
            return Ok(());
        }
        self.unmap();
        self.file.set_len(len as u64)?;
        self.ptr = map(&self.file, len)?;
        self.len = len;
        Ok(())
    }

    /// The mapped bytes.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        if self.ptr.is_null() {
            return &mut [];
        }
        // SAFETY: `ptr` is a live shared read-write mapping of `len` bytes made by `map`,
        // unmapped only through `&mut self`; the file is never shrunk while mapped. The system
        // process maps it read-only, and the protocol keeps the harness from writing while the
        // system reads (frames are written before the step line, not touched until the reply).
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    fn unmap(&mut self) {
        if !self.ptr.is_null() {
            unmap(self.ptr, self.len);
            self.ptr = std::ptr::null_mut();
        }
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        self.unmap();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A read-only mapping of a shared-memory file, as a system under test maps it (the Rust
/// client `examples/rust/sut_aeb_vision.rs` and the benchmarks use it).
pub struct ShmView {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; it is only read.
unsafe impl Send for ShmView {}

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
        if len == 0 {
            return Ok(ShmView {
                ptr: std::ptr::null(),
                len: 0,
            });
        }
        Ok(ShmView {
            ptr: map_read(&file, len)?,
            len,
        })
    }

    /// The mapped bytes. The harness writes them only while the system is not reading (before
    /// a step line, never until its reply).
    pub fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: `ptr` is a live read-only mapping of `len` bytes made by `map_read`, unmapped
        // only on drop.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for ShmView {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            unmap(self.ptr.cast_mut(), self.len);
        }
    }
}

#[cfg(unix)]
fn map_read(file: &File, len: usize) -> std::io::Result<*const u8> {
    use std::os::fd::AsRawFd;
    // SAFETY: maps `len` bytes (the file is at least that long) of an open file, shared,
    // read-only, at an address the kernel picks; the result is checked for `MAP_FAILED`.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ptr.cast_const().cast())
}

#[cfg(not(unix))]
fn map_read(_: &File, _: usize) -> std::io::Result<*const u8> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(unix)]
fn map(file: &File, len: usize) -> std::io::Result<*mut u8> {
    use std::os::fd::AsRawFd;
    // SAFETY: maps `len` bytes of an open file that is at least `len` long, shared, at an
    // address the kernel picks; the result is checked for `MAP_FAILED`.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ptr.cast())
}

#[cfg(unix)]
fn unmap(ptr: *mut u8, len: usize) {
    // SAFETY: `ptr` and `len` are those of a mapping made by `map` and not yet unmapped.
    unsafe {
        libc::munmap(ptr.cast(), len);
    }
}

#[cfg(not(unix))]
fn map(_: &File, _: usize) -> std::io::Result<*mut u8> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(not(unix))]
fn unmap(_: *mut u8, _: usize) {}

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
