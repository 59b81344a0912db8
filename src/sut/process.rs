//! Out-of-process systems under test: starting a program (directly, never through a shell),
//! the handshake, stepping its runs over the line protocol of `protocol.rs`, and turning every
//! way it can misbehave — crash, exit, hang, late or garbage answers, another protocol
//! version — into an `error` for the runs it held, never a failure of the harness.
//!
//! A [`Pool`] keeps one process per worker thread: a [`Lease`] takes an idle process (or starts
//! one), hands out one [`System`] per run it holds, and at the end either gives the process
//! back or, if it faulted, writes the per-case logs of the failed runs and lets it go, so the
//! next lease starts a fresh one.
//!
//! Reasons never name sequence numbers, run ids, process ids or wall-clock times, only what
//! the system did and the simulated time: the same inputs give the same report.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::manifest::{CameraTransport, ProcessSut};
use super::protocol::{self, FrameDelivery, FrameFormat, Offer, Reply, ShmInfo, WireFrame};
use super::shm::ShmFile;
use super::{Command, Observation, RunSetup, Step, SutError, System};
use crate::sim::RunResult;

/// Longest line accepted from a system, bytes (a reply is a few hundred bytes per run).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Most standard-error output kept per process for the logs (the last bytes), bytes.
pub const MAX_LOG_BYTES: usize = 1024 * 1024;

/// How long a process has to exit after its standard input closes before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How long to wait for the rest of a dead process's standard error.
const STDERR_GRACE: Duration = Duration::from_millis(500);

/// The tail of a process's standard error.
#[derive(Default)]
struct StderrTail {
    bytes: Vec<u8>,
    dropped: u64,
}

impl StderrTail {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > MAX_LOG_BYTES {
            let cut = self.bytes.len() - MAX_LOG_BYTES;
            self.bytes.drain(..cut);
            self.dropped += cut as u64;
        }
    }
}

/// A running system process. Its standard input and output are served on the calling thread:
/// the input is non-blocking and every write and read waits (`poll`) no longer than the
/// deadline of the exchange, so a system that stops reading or answering cannot block the
/// harness. Its standard error is drained by a thread of its own.
struct Conn {
    child: Child,
    /// `None` once closed.
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// Bytes read from standard output and not yet returned as lines.
    read_buf: Vec<u8>,
    /// Standard output has ended.
    eof: bool,
    stderr: Arc<Mutex<StderrTail>>,
    stderr_done: Receiver<()>,
    /// What observations carry, as negotiated.
    offer: Offer,
    /// How frames travel, as negotiated; `None`: no frames.
    frames: Option<FrameDelivery>,
    /// The shared-memory file of the `shm` transport (made at the first run that needs it).
    shm: Option<ShmFile>,
    next_seq: u64,
    next_run: u64,
    /// The process has been waited for (killed or exited).
    reaped: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; go on with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn secs(d: Duration) -> String {
    format!("{}", (d.as_secs_f64() * 1e6).round() / 1e6)
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        8 => " (SIGFPE)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        13 => " (SIGPIPE)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("was killed by signal {sig}{}", signal_name(sig));
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "exited".to_string(),
    }
}

impl Conn {
    /// Starts the program and the thread that drains its standard error (no handshake yet).
    fn spawn(sut: &ProcessSut) -> Result<Conn, String> {
        if !cfg!(unix) {
            return Err(
                "cannot be started: process systems need a Unix-like system in this version".into(),
            );
        }
        let mut cmd = std::process::Command::new(&sut.program);
        cmd.args(&sut.args)
            .envs(sut.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &sut.working_dir {
            cmd.current_dir(dir);
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: a fault kills the program and everything it started.
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot be started (`{}`): {e}", sut.program.display()))?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("cannot be started: its standard streams are not available".into());
                }
            };
        if let Err(e) = set_nonblocking(&stdin) {
            kill_group(&mut child);
            let _ = child.wait();
            return Err(format!("cannot be served: {e}"));
        }
        let tail = Arc::new(Mutex::new(StderrTail::default()));
        let (done_tx, stderr_done) = mpsc::channel();
        let tail_w = tail.clone();
        spawn_thread("gauntlet-sut-stderr", move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 8192];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => lock(&tail_w).push(&buf[..n]),
                }
            }
            let _ = done_tx.send(());
        });
        Ok(Conn {
            child,
            stdin: Some(stdin),
            stdout,
            read_buf: Vec::new(),
            eof: false,
            stderr: tail,
            stderr_done,
            offer: sut.offer.clone(),
            frames: None,
            shm: None,
            next_seq: 0,
            next_run: 0,
            reaped: false,
        })
    }

    /// Writes `bytes` before `deadline`.
    fn send(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), Wait> {
        let Some(stdin) = &mut self.stdin else {
            return Err(Wait::Eof);
        };
        let mut done = 0;
        while done < bytes.len() {
            match stdin.write(&bytes[done..]) {
                Ok(0) => return Err(Wait::Eof),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // The pipe is full: the system is not reading.
                    match wait_ready(&*stdin, Ready::Write, deadline) {
                        Ok(true) => {}
                        Ok(false) => return Err(Wait::TimedOut),
                        Err(e) => return Err(Wait::Failed(e.to_string())),
                    }
                }
                // Its input is closed: it exited or closed it.
                Err(_) => return Err(Wait::Eof),
            }
        }
        Ok(())
    }

    /// The next line before `deadline`, skipping blank lines.
    fn next_line(&mut self, deadline: Instant) -> Result<Vec<u8>, Wait> {
        let mut scanned = 0;
        loop {
            if let Some(at) = self.read_buf[scanned..].iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.read_buf.drain(..=scanned + at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                scanned = 0;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(line);
            }
            scanned = self.read_buf.len();
            if self.read_buf.len() > MAX_LINE_BYTES {
                return Err(Wait::TooLong);
            }
            if self.eof {
                // Output that ends in the middle of a line is that line.
                if self.read_buf.iter().all(u8::is_ascii_whitespace) {
                    return Err(Wait::Eof);
                }
                return Ok(std::mem::take(&mut self.read_buf));
            }
            match wait_ready(&self.stdout, Ready::Read, deadline) {
                Ok(true) => {}
                Ok(false) => return Err(Wait::TimedOut),
                Err(e) => return Err(Wait::Failed(e.to_string())),
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stdout.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.read_buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Wait::Failed(e.to_string())),
            }
        }
    }

    /// Why an exchange failed, as a reason.
    fn reason(&mut self, wait: Wait, timeout: &str, what: &str) -> String {
        match wait {
            Wait::TimedOut => timeout.to_string(),
            Wait::Eof => format!("{}{what}", self.exit_reason()),
            Wait::TooLong => too_long(),
            Wait::Failed(e) => format!("could not be served: {e}"),
        }
    }

    /// Why the process stopped talking, once its output has ended.
    fn exit_reason(&mut self) -> String {
        match exited_status(&mut self.child, Instant::now() + Duration::from_millis(500)) {
            Some(status) => describe_exit(status),
            None => "closed its standard output".into(),
        }
    }

    /// Kills the process and everything it started, and collects the rest of its stderr.
    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        self.stdin = None;
        kill_group(&mut self.child);
        let _ = self.child.wait();
        self.reaped = true;
        let _ = self.stderr_done.recv_timeout(STDERR_GRACE);
    }

    /// Closes the process's input and lets it exit (killed after a grace period).
    fn close(&mut self) {
        if self.reaped {
            return;
        }
        self.stdin = None;
        let _ = exited_status(&mut self.child, Instant::now() + EXIT_GRACE);
        // Anything it started and left behind goes too.
        kill_group(&mut self.child);
        let _ = self.child.wait();
        self.reaped = true;
    }

    /// Waits until the standard error has not grown for a moment (at most 200 ms).
    fn settle_stderr(&self) {
        let until = Instant::now() + Duration::from_millis(200);
        let mut len = lock(&self.stderr).bytes.len();
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
            let now = lock(&self.stderr).bytes.len();
            if now == len {
                return;
            }
            len = now;
        }
    }

    fn stderr_snapshot(&self) -> (Vec<u8>, u64) {
        let t = lock(&self.stderr);
        (t.bytes.clone(), t.dropped)
    }

    fn clear_stderr(&self) {
        let mut t = lock(&self.stderr);
        t.bytes.clear();
        t.dropped = 0;
    }
}

/// Waits until the child has exited or `until` passes, and returns its exit status if it
/// exited. On Linux the child is not reaped (`WNOWAIT`), so its pid — the id of its process
/// group — cannot be reused before the group is killed.
fn exited_status(child: &mut Child, until: Instant) -> Option<ExitStatus> {
    loop {
        match peek_exit(child) {
            Some(status) => return Some(status),
            None if Instant::now() < until => std::thread::sleep(Duration::from_millis(1)),
            None => return None,
        }
    }
}

#[cfg(target_os = "linux")]
fn peek_exit(child: &mut Child) -> Option<ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::id_t::try_from(child.id()).ok()?;
    // SAFETY: `waitid` writes only into `info`, a zeroed `siginfo_t` owned here; `WNOWAIT`
    // leaves the child waitable, so `Child::wait` still reaps it later.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        if libc::waitid(libc::P_PID, pid, &mut info, flags) != 0 || info.si_pid() == 0 {
            return None;
        }
        let status = info.si_status();
        let raw = match info.si_code {
            libc::CLD_EXITED => (status & 0xff) << 8,
            libc::CLD_DUMPED => (status & 0x7f) | 0x80,
            _ => status & 0x7f,
        };
        Some(ExitStatus::from_raw(raw))
    }
}

#[cfg(not(target_os = "linux"))]
fn peek_exit(child: &mut Child) -> Option<ExitStatus> {
    child.try_wait().ok().flatten()
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: `kill` has no memory effects; the process group id is the child's pid
            // (it was started with `process_group(0)`), and a group that is already gone
            // makes `kill` fail with ESRCH, which is ignored.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) {
    // Without this thread the standard error is not drained: a system that writes much of it
    // then blocks, and its step time-out ends the run.
    let _ = std::thread::Builder::new().name(name.into()).spawn(f);
}

/// Which way a pipe must be ready.
#[derive(Clone, Copy)]
enum Ready {
    Read,
    Write,
}

/// Waits until `pipe` is ready or `deadline` passes (`Ok(false)`).
#[cfg(unix)]
fn wait_ready(
    pipe: &impl std::os::fd::AsRawFd,
    ready: Ready,
    deadline: Instant,
) -> std::io::Result<bool> {
    let events = match ready {
        Ready::Read => libc::POLLIN,
        Ready::Write => libc::POLLOUT,
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        // Whole milliseconds, rounded up, so that a wait never ends before the deadline.
        let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        let mut fd = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: `fd` is one valid `pollfd` that lives across the call; the descriptor stays
        // open because `pipe` is borrowed.
        let n = unsafe { libc::poll(&mut fd, 1, ms) };
        match n {
            // Readable, writable, or hung up / in error: the read or write says which.
            1.. => return Ok(true),
            0 => {}
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(not(unix))]
fn wait_ready<T>(_: &T, _: Ready, _: Instant) -> std::io::Result<bool> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Makes writes to a pipe return `WouldBlock` instead of blocking.
#[cfg(unix)]
fn set_nonblocking(pipe: &impl std::os::fd::AsRawFd) -> std::io::Result<()> {
    let fd = pipe.as_raw_fd();
    // SAFETY: `fcntl` with F_GETFL/F_SETFL reads and sets the flags of a descriptor that is
    // open for the duration of the call (`pipe` is borrowed); no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_nonblocking<T>(_: &T) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Why an exchange with a process failed.
enum Wait {
    /// Its output ended or its input closed.
    Eof,
    TimedOut,
    TooLong,
    Failed(String),
}

/// A started, greeted process, or why there is none (a process that failed its handshake is
/// kept, killed, for its standard error).
fn start_or_fault(sut: &ProcessSut) -> (Option<Conn>, Option<String>) {
    let mut conn = match Conn::spawn(sut) {
        Ok(conn) => conn,
        Err(reason) => return (None, Some(reason)),
    };
    match handshake(&mut conn, sut) {
        Ok(()) => (Some(conn), None),
        Err(reason) => {
            conn.kill();
            (Some(conn), Some(reason))
        }
    }
}

fn handshake(conn: &mut Conn, sut: &ProcessSut) -> Result<(), String> {
    let mut hello = Vec::new();
    let harness = format!("gauntlet {}", env!("CARGO_PKG_VERSION"));
    protocol::write_hello(&mut hello, &harness, sut.batch_size, &sut.offer);
    let deadline = Instant::now() + sut.startup_timeout;
    let timeout = format!(
        "did not answer `hello` within the start-up time-out of {} s",
        secs(sut.startup_timeout)
    );
    let line = match conn
        .send(&hello, deadline)
        .and_then(|()| conn.next_line(deadline))
    {
        Ok(line) => line,
        Err(w) => return Err(conn.reason(w, &timeout, " before answering `hello`")),
    };
    let ready = match protocol::parse_reply(&line) {
        Ok(Reply::Ready(r)) => r,
        Ok(Reply::Error(m)) => return Err(format!("reported an error at start-up: {m}")),
        Ok(Reply::Commands { .. }) => {
            return Err("answered `hello` with `commands` instead of `ready`".into());
        }
        Err(e) => return Err(e.to_string()),
    };
    if ready.max_batch < sut.batch_size as u64 {
        return Err(format!(
            "holds at most {} run(s) at once (`max_batch`); its manifest asks for batch_size {}",
            ready.max_batch, sut.batch_size
        ));
    }
    let want = &ready.want;
    conn.frames = match &want.camera {
        None => sut.frames,
        Some(_) if sut.frames.is_none() => {
            return Err(
                "asks for camera frames, which are offered only to a system whose manifest asks for them (`[receive] camera`)".into(),
            );
        }
        Some(w) => {
            let offered = |list: &[String]| list.join(", ");
            let format = FrameFormat::from_name(&w.format)
                .filter(|f| sut.offer.camera.iter().any(|o| o == f.name()))
                .ok_or_else(|| {
                    format!(
                        "asks for camera frames in format `{}`, which is not offered (offered: {})",
                        w.format,
                        offered(&sut.offer.camera)
                    )
                })?;
            let transport = CameraTransport::from_name(&w.transport)
                .filter(|t| sut.offer.camera_transports.iter().any(|o| o == t.name()))
                .ok_or_else(|| {
                    format!(
                        "asks for camera frames over transport `{}`, which is not offered (offered: {})",
                        w.transport,
                        offered(&sut.offer.camera_transports)
                    )
                })?;
            Some(FrameDelivery { format, transport })
        }
    };
    let mut offer = sut.offer.clone();
    for (wanted, offered, what) in [
        (want.object_list, &mut offer.object_list, "the object list"),
        (want.lane, &mut offer.lane, "the lane"),
        (want.gnss, &mut offer.gnss, "satellite-positioning fixes"),
    ] {
        match wanted {
            Some(true) if !*offered => {
                return Err(format!(
                    "asks for {what}, which its manifest's [receive] turns off"
                ));
            }
            Some(false) => *offered = false,
            _ => {}
        }
    }
    conn.offer = offer;
    if conn
        .frames
        .is_some_and(|d| d.transport == CameraTransport::Inline)
    {
        if let Some(stdin) = &conn.stdin {
            widen_pipe(stdin);
        }
    }
    Ok(())
}

/// Asks for a 1 MiB pipe (Linux; 64 KiB by default), so that `inline` frames go over in
/// fewer wake-ups of the system. Best effort: a smaller pipe only costs time.
#[cfg(target_os = "linux")]
fn widen_pipe(pipe: &impl std::os::fd::AsRawFd) {
    // SAFETY: `fcntl` with F_SETPIPE_SZ sets the capacity of a descriptor that is open for
    // the duration of the call; no memory is passed.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

#[cfg(not(target_os = "linux"))]
fn widen_pipe<T>(_: &T) {}

fn too_long() -> String {
    format!("sent a line longer than {MAX_LINE_BYTES} bytes")
}

/// Frames in the shared-memory file start at multiples of this many bytes.
const FRAME_ALIGN: usize = 64;

fn align_up(n: usize) -> usize {
    n.div_ceil(FRAME_ALIGN) * FRAME_ALIGN
}

/// The process of one lease and the step being assembled.
struct Group {
    sut: Arc<ProcessSut>,
    conn: Option<Conn>,
    /// Set once the process misbehaved: every run it held ends with this reason.
    fault: Option<String>,
    started: Instant,
    step_line: Vec<u8>,
    /// Runs in `step_line`, in order, with the size of each frame of their observations.
    pending: Vec<u64>,
    pending_frames: Vec<Vec<[u32; 2]>>,
    answers: Vec<protocol::RunAnswer>,
    /// `inline` transport: the frames' bytes that follow the step line.
    payload: Vec<u8>,
    /// `shm` transport: where the next frame of the step goes in the file.
    shm_offset: usize,
    /// `shm` transport: the bytes each held run's frames take in one step.
    held_frame_bytes: BTreeMap<u64, usize>,
}

impl Group {
    fn new(sut: Arc<ProcessSut>, conn: Option<Conn>, fault: Option<String>) -> Group {
        Group {
            sut,
            conn,
            fault,
            started: Instant::now(),
            step_line: Vec::new(),
            pending: Vec::new(),
            pending_frames: Vec::new(),
            answers: Vec::new(),
            payload: Vec::new(),
            shm_offset: 0,
            held_frame_bytes: BTreeMap::new(),
        }
    }

    fn fail(&mut self, reason: String) -> SutError {
        if self.fault.is_none() {
            self.fault = Some(reason);
            if let Some(conn) = &mut self.conn {
                conn.kill();
            }
        }
        self.faulted()
    }

    fn faulted(&self) -> SutError {
        SutError::Process(self.fault.clone().unwrap_or_default())
    }

    /// Starts a run: its id, and the reason it cannot run when it asks for what the case
    /// lacks (frames without a camera); such a run gets no `begin`.
    fn begin(&mut self, setup: &RunSetup) -> (u64, Option<String>) {
        let Some(conn) = &mut self.conn else {
            return (0, None);
        };
        let run = conn.next_run;
        conn.next_run += 1;
        if self.fault.is_some() {
            return (run, None);
        }
        let mut shm_info = None;
        if let Some(delivery) = conn.frames {
            if setup.cameras.is_empty() {
                return (
                    run,
                    Some(
                        "asks for camera frames, but the case has no camera (`[[sensors.camera]]`)"
                            .into(),
                    ),
                );
            }
            if delivery.transport == CameraTransport::Shm {
                let bytes = setup
                    .cameras
                    .iter()
                    .map(|c| align_up(delivery.format.frame_bytes(c.width_px, c.height_px)))
                    .sum();
                match grow_shm(&mut conn.shm, &mut self.held_frame_bytes, run, bytes) {
                    Ok(info) => shm_info = Some(info),
                    Err(e) => {
                        self.fail(format!(
                            "could not be served: cannot make its shared-memory file: {e}"
                        ));
                        return (run, None);
                    }
                }
            }
        }
        let mut line = Vec::new();
        let frames = conn.frames.map(|_| protocol::BeginFrames {
            cameras: &setup.cameras,
            shm: shm_info.as_ref(),
        });
        protocol::write_begin(&mut line, run, setup, frames);
        self.send_or_fail(&line);
        (run, None)
    }

    fn end(&mut self, run: u64) {
        self.held_frame_bytes.remove(&run);
        if self.fault.is_none() {
            let mut line = Vec::new();
            protocol::write_end(&mut line, run);
            self.send_or_fail(&line);
        }
    }

    /// Sends a line that has no reply (`begin`, `end`); a process that does not take it is
    /// faulty.
    fn send_or_fail(&mut self, line: &[u8]) {
        let Some(conn) = &mut self.conn else {
            return;
        };
        let timeout = format!(
            "did not read its input within the step time-out of {} s",
            secs(self.sut.step_timeout)
        );
        if let Err(w) = conn.send(line, Instant::now() + self.sut.step_timeout) {
            let reason = conn.reason(w, &timeout, "");
            self.fail(reason);
        }
    }

    fn submit(&mut self, run: u64, obs: &Observation<'_>) -> Result<(), SutError> {
        if self.fault.is_some() {
            return Err(self.faulted());
        }
        let Some(conn) = &mut self.conn else {
            return Err(self.faulted());
        };
        if self.pending.is_empty() {
            self.step_line.clear();
            protocol::start_step(&mut self.step_line, conn.next_seq);
            self.payload.clear();
            self.shm_offset = 0;
            self.pending_frames.clear();
        }
        let wire = match conn.frames {
            Some(delivery) => {
                let placed = place_frames(
                    obs,
                    delivery,
                    &mut self.payload,
                    conn.shm.as_mut(),
                    &mut self.shm_offset,
                );
                match placed {
                    Ok(wire) => Some(wire),
                    Err(reason) => return Err(self.fail(reason)),
                }
            }
            None => None,
        };
        let first = self.pending.is_empty();
        protocol::push_observation(
            &mut self.step_line,
            first,
            run,
            obs,
            &conn.offer,
            wire.as_deref(),
        );
        self.pending.push(run);
        self.pending_frames.push(
            obs.frames
                .iter()
                .map(|f| [f.width_px, f.height_px])
                .collect(),
        );
        Ok(())
    }

    fn collect(&mut self, run: u64) -> Result<Command, SutError> {
        if !self.pending.is_empty() && self.fault.is_none() {
            if let Err(reason) = self.exchange() {
                return Err(self.fail(reason));
            }
        }
        self.pending.clear();
        if self.fault.is_some() {
            return Err(self.faulted());
        }
        match self.answers.iter().position(|(r, _)| *r == run) {
            Some(i) => self
                .answers
                .swap_remove(i)
                .1
                .map_err(|m| SutError::Failed(format!("the system gave this run up: {m}"))),
            None => Err(self.fail("gave no command for a run it holds".into())),
        }
    }

    /// Sends the assembled step (and, `inline`, its frames) and reads its reply.
    fn exchange(&mut self) -> Result<(), String> {
        let sut = self.sut.clone();
        if self.started.elapsed() > sut.case_timeout {
            return Err(format!(
                "exceeded the case time-out of {} s",
                secs(sut.case_timeout)
            ));
        }
        let Some(conn) = &mut self.conn else {
            return Err("is not running".into());
        };
        let inline = conn
            .frames
            .is_some_and(|d| d.transport == CameraTransport::Inline);
        protocol::finish_step(&mut self.step_line, inline.then_some(self.payload.len()));
        let seq = conn.next_seq;
        conn.next_seq += 1;
        let deadline = Instant::now() + sut.step_timeout;
        let timeout = format!(
            "did not reply within the step time-out of {} s",
            secs(sut.step_timeout)
        );
        let payload: &[u8] = if inline { &self.payload } else { &[] };
        let line = match conn
            .send(&self.step_line, deadline)
            .and_then(|()| conn.send(payload, deadline))
            .and_then(|()| conn.next_line(deadline))
        {
            Ok(line) => line,
            Err(w) => return Err(conn.reason(w, &timeout, "")),
        };
        match protocol::parse_reply(&line) {
            Ok(Reply::Commands { seq: got, commands }) => {
                if got != seq {
                    let when = if got < seq { "an earlier" } else { "a later" };
                    return Err(format!(
                        "answered {when} step than the one asked: replies come in order, one per step"
                    ));
                }
                let mut asked = self.pending.clone();
                let mut given: Vec<u64> = commands.iter().map(|(r, _)| *r).collect();
                asked.sort_unstable();
                given.sort_unstable();
                if asked != given {
                    return Err(format!(
                        "answered with {} command(s) for other runs than the {} it was asked for",
                        commands.len(),
                        self.pending.len()
                    ));
                }
                if conn.frames.is_some() {
                    for (run, answer) in &commands {
                        let (Ok(cmd), Some(k)) =
                            (answer, self.pending.iter().position(|r| r == run))
                        else {
                            continue;
                        };
                        check_boxes(cmd, &self.pending_frames[k])?;
                    }
                }
                self.answers = commands;
                Ok(())
            }
            Ok(Reply::Error(m)) => Err(format!("reported an error: {m}")),
            Ok(Reply::Ready(_)) => Err("sent `ready` in reply to a step".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Makes room in the process's shared-memory file for the frames of a new run (`bytes` a
/// step), creating the file at the first run; the file's bytes are zeroed when the run is the
/// only one held (nothing of an earlier case stays in it).
fn grow_shm(
    shm: &mut Option<ShmFile>,
    held: &mut BTreeMap<u64, usize>,
    run: u64,
    bytes: usize,
) -> std::io::Result<ShmInfo> {
    if shm.is_none() {
        *shm = Some(ShmFile::create()?);
    }
    let Some(shm) = shm.as_mut() else {
        return Err(std::io::ErrorKind::NotFound.into());
    };
    if held.is_empty() {
        shm.bytes_mut().fill(0);
    }
    held.insert(run, bytes);
    shm.ensure(held.values().sum::<usize>().max(FRAME_ALIGN))?;
    Ok(ShmInfo {
        path: shm.path().display().to_string(),
        bytes: shm.len(),
    })
}

/// Writes the frames of an observation where they travel (the payload after the step line, or
/// the shared-memory file) and describes them for the line.
fn place_frames(
    obs: &Observation<'_>,
    delivery: FrameDelivery,
    payload: &mut Vec<u8>,
    mut shm: Option<&mut ShmFile>,
    shm_offset: &mut usize,
) -> Result<Vec<WireFrame>, String> {
    let format = delivery.format;
    let mut wire = Vec::with_capacity(obs.frames.len());
    for (camera, f) in obs.frames.iter().enumerate() {
        let bytes = format.frame_bytes(f.width_px, f.height_px);
        if f.rgba.len() < f.width_px as usize * f.height_px as usize * 4 {
            return Err(format!(
                "could not be served: frame {} of camera `{}` holds fewer pixels than its size",
                f.frame_index, f.camera.id
            ));
        }
        let offset = match delivery.transport {
            CameraTransport::Inline => {
                let offset = payload.len();
                match format {
                    FrameFormat::Rgba8 => payload.extend_from_slice(&f.rgba[..bytes]),
                    FrameFormat::Rgb8 => {
                        payload.resize(offset + bytes, 0);
                        format.write_from_rgba(&f.rgba, &mut payload[offset..]);
                    }
                }
                offset
            }
            CameraTransport::Shm => {
                let offset = *shm_offset;
                let region = shm
                    .as_deref_mut()
                    .and_then(|s| s.bytes_mut().get_mut(offset..offset + bytes))
                    .ok_or_else(|| {
                        "could not be served: its frames do not fit the shared-memory file made for its cameras".to_string()
                    })?;
                format.write_from_rgba(&f.rgba, region);
                *shm_offset = align_up(offset + bytes);
                offset
            }
        };
        wire.push(WireFrame {
            camera,
            id: f.camera.id.clone(),
            frame_index: f.frame_index,
            exposed_at_s: f.exposed_at_s,
            format: format.name(),
            width: f.width_px,
            height: f.height_px,
            stride: f.width_px as usize * format.bytes_per_px(),
            offset,
            bytes,
        });
    }
    Ok(wire)
}

/// A detection's box must lie in a frame the observation carried (`frames`: width and height
/// per camera).
fn check_boxes(cmd: &Command, frames: &[[u32; 2]]) -> Result<(), String> {
    for (k, d) in cmd.detections.iter().enumerate() {
        let Some([x0, y0, x1, y1]) = d.bbox_px else {
            continue;
        };
        let Some(&[w, h]) = frames.get(d.camera) else {
            return Err(format!(
                "sent an invalid command: detection {k}: camera {} is not among the {} frame(s) of the observation",
                d.camera,
                frames.len()
            ));
        };
        let (w, h) = (f64::from(w), f64::from(h));
        if x0 < 0.0 || y0 < 0.0 || x1 > w || y1 > h {
            return Err(format!(
                "sent an invalid command: detection {k}: `bbox_px` [{x0}, {y0}, {x1}, {y1}] is outside camera {}'s {w}×{h} frame",
                d.camera
            ));
        }
    }
    Ok(())
}

/// A pool of processes of one system, one per worker at most.
pub struct Pool {
    sut: Arc<ProcessSut>,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    pub fn new(sut: Arc<ProcessSut>) -> Pool {
        Pool {
            sut,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn sut(&self) -> &ProcessSut {
        &self.sut
    }

    /// A process for a group of runs held at once (at most the manifest's `batch_size`): an
    /// idle one, or a new one started and greeted now. A process that cannot start leaves the
    /// lease faulted, and its runs end in errors.
    pub fn lease(&self) -> Lease<'_> {
        let reused = lock(&self.idle).pop();
        let (conn, fault) = match reused {
            Some(conn) => {
                conn.clear_stderr();
                (Some(conn), None)
            }
            None => start_or_fault(&self.sut),
        };
        Lease {
            pool: self,
            group: Arc::new(Mutex::new(Group::new(self.sut.clone(), conn, fault))),
            runs: Vec::new(),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Each idle process's input closes and it exits (`Conn`'s drop).
        lock(&self.idle).clear();
    }
}

/// One process lent to a group of runs.
pub struct Lease<'p> {
    pool: &'p Pool,
    group: Arc<Mutex<Group>>,
    /// Case ID and run index of each system handed out, in order.
    runs: Vec<(String, u32)>,
}

impl Lease<'_> {
    /// The system of one run held by this lease's process.
    pub fn system(&mut self, case_id: &str, run_index: u32) -> Box<dyn System> {
        self.runs.push((case_id.to_string(), run_index));
        Box::new(RunHandle {
            group: self.group.clone(),
            name: self.pool.sut.name.clone(),
            run: 0,
            wants_frames: self.pool.sut.frames.is_some(),
            refused: None,
        })
    }

    /// After the runs: writes the logs of the failed ones (`results` in the order the systems
    /// were handed out) and gives a healthy process back to the pool.
    pub fn finish(self, results: &[RunResult]) {
        let mut g = lock(&self.group);
        let conn = g.conn.take();
        let fault = g.fault.clone();
        drop(g);
        let failed: Vec<(&(String, u32), f64, &str)> = self
            .runs
            .iter()
            .zip(results)
            .filter_map(|(run, r)| r.sut_error.as_deref().map(|e| (run, r.end_time_s, e)))
            .collect();
        if !failed.is_empty() {
            if let Some(dir) = &self.pool.sut.log_dir {
                let stderr = conn.as_ref().map(|c| {
                    if fault.is_none() {
                        // A live process: what it wrote just before its reply may still be
                        // in the pipe.
                        c.settle_stderr();
                    }
                    c.stderr_snapshot()
                });
                write_logs(dir, &self.pool.sut, &failed, stderr.as_ref());
            }
        }
        if let Some(conn) = conn {
            if fault.is_none() {
                lock(&self.pool.idle).push(conn);
            }
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // A lease dropped without `finish` (a panic in the simulation) stops its process.
        if let Some(mut conn) = lock(&self.group).conn.take() {
            conn.kill();
        }
    }
}

/// Writes `sut-logs/<case-id>.log` for each case with failed runs.
fn write_logs(
    dir: &Path,
    sut: &ProcessSut,
    failed: &[(&(String, u32), f64, &str)],
    stderr: Option<&(Vec<u8>, u64)>,
) {
    let mut by_case: BTreeMap<&str, Vec<(u32, f64, &str)>> = BTreeMap::new();
    for ((case_id, run_index), end_time_s, reason) in failed {
        by_case
            .entry(case_id.as_str())
            .or_default()
            .push((*run_index, *end_time_s, reason));
    }
    for (case_id, runs) in by_case {
        let path = dir.join(format!("{case_id}.log"));
        let mut text = format!(
            "case: {case_id}\nsystem: {} ({})\n",
            sut.label,
            sut.program.display()
        );
        for (run_index, end_time_s, reason) in runs {
            let t = (end_time_s * 1e6).round() / 1e6;
            text += &format!("run {run_index}, t = {t} s: error: {reason}\n");
        }
        match stderr {
            Some((bytes, dropped)) => {
                text += "--- standard error of the system while it held this case";
                if *dropped > 0 {
                    text += &format!(" (the first {dropped} bytes left out)");
                }
                text += " ---\n";
                text += &String::from_utf8_lossy(bytes);
                if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                    text.push('\n');
                }
            }
            None => text += "--- the system never started: no standard error ---\n",
        }
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            eprintln!("gauntlet: warning: cannot write {}: {e}", path.display());
        }
    }
}

/// The system of one run: a handle onto its lease's process.
struct RunHandle {
    group: Arc<Mutex<Group>>,
    name: String,
    /// The run's id in the protocol (given by `reset`).
    run: u64,
    /// The manifest asks for frames.
    wants_frames: bool,
    /// Why this run cannot run with this system (it asks for what the case lacks).
    refused: Option<String>,
}

impl System for RunHandle {
    fn name(&self) -> &str {
        &self.name
    }

    fn reset(&mut self, setup: &RunSetup) {
        (self.run, self.refused) = lock(&self.group).begin(setup);
    }

    fn wants_frames(&self) -> bool {
        self.wants_frames
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        self.submit(obs)?;
        self.collect()
    }

    fn submit(&mut self, obs: &Observation<'_>) -> Result<Step, SutError> {
        if let Some(reason) = &self.refused {
            return Err(SutError::Process(reason.clone()));
        }
        lock(&self.group)
            .submit(self.run, obs)
            .map(|()| Step::Pending)
    }

    fn collect(&mut self) -> Result<Command, SutError> {
        lock(&self.group).collect(self.run)
    }

    fn end(&mut self) {
        if self.refused.is_none() {
            lock(&self.group).end(self.run);
        }
    }
}

/// A system with a process of its own, for one run outside a suite (`SutSpec::instantiate`):
/// started now, closed when the system is dropped.
pub fn solo_system(sut: Arc<ProcessSut>) -> Box<dyn System> {
    let (conn, fault) = start_or_fault(&sut);
    let name = sut.name.clone();
    let wants_frames = sut.frames.is_some();
    Box::new(RunHandle {
        group: Arc::new(Mutex::new(Group::new(sut, conn, fault))),
        name,
        run: 0,
        wants_frames,
        refused: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_memory_file_grows_with_the_runs_held_and_is_zeroed_for_a_new_group() {
        let mut shm = None;
        let mut held = BTreeMap::new();
        let first = grow_shm(&mut shm, &mut held, 0, 1000).expect("file");
        assert_eq!(first.bytes, 1000);
        let file = shm.as_mut().expect("made");
        file.bytes_mut()[..4].copy_from_slice(b"case");
        // A second run held at once: room for both, the first run's bytes kept.
        let both = grow_shm(&mut shm, &mut held, 1, 3000).expect("grown");
        assert_eq!(
            (both.path.as_str(), both.bytes),
            (first.path.as_str(), 4000)
        );
        assert_eq!(&shm.as_mut().expect("made").bytes_mut()[..4], b"case");
        // Both end; the next run starts a new group: nothing of the earlier case is left.
        held.clear();
        let next = grow_shm(&mut shm, &mut held, 2, 500).expect("reused");
        assert_eq!(
            next.bytes, 4000,
            "the file never shrinks while the process lives"
        );
        assert!(
            shm.as_mut()
                .expect("made")
                .bytes_mut()
                .iter()
                .all(|&b| b == 0)
        );
        let path = std::path::PathBuf::from(&next.path);
        assert!(path.exists());
        drop(shm);
        assert!(!path.exists(), "removed with the process's connection");
    }

    #[test]
    fn frames_convert_to_rgb8_and_boxes_are_checked_against_them() {
        let rgba: Vec<u8> = (0..40u8).collect();
        let mut rgb = vec![0u8; 30];
        FrameFormat::Rgb8.write_from_rgba(&rgba, &mut rgb);
        let want: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        assert_eq!(rgb, want);
        let cmd = |camera, bbox_px| Command {
            detections: vec![super::super::Detection {
                class: super::super::ObjectClass::Car,
                distance_m: 10.0,
                confidence: 0.5,
                camera,
                bbox_px: Some(bbox_px),
            }],
            ..Command::default()
        };
        assert_eq!(
            check_boxes(&cmd(0, [0.0, 0.0, 64.0, 36.0]), &[[64, 36]]),
            Ok(())
        );
        let err = check_boxes(&cmd(1, [0.0, 0.0, 1.0, 1.0]), &[[64, 36]]).unwrap_err();
        assert!(
            err.contains("camera 1 is not among the 1 frame(s)"),
            "{err}"
        );
        let err = check_boxes(&cmd(0, [-1.0, 0.0, 1.0, 1.0]), &[[64, 36]]).unwrap_err();
        assert!(err.contains("is outside camera 0's 64×36 frame"), "{err}");
    }
}
