//! The Host boundary: everything a machine needs from the world outside the guest.
//!
//! [`StdHost`] implements it with WASI preview-1 calls on `wasm32-wasip1` and with std
//! natively. Tests use their own implementations (see `testing::FakeHost`).

/// The world outside the guest, as the emulator sees it.
pub trait Host {
    /// Monotonic nanoseconds since an arbitrary origin.
    fn monotonic_ns(&mut self) -> u64;
    /// Wall-clock nanoseconds since the Unix epoch.
    fn wall_clock_ns(&mut self) -> u64;
    /// Fills `buf` with unpredictable bytes.
    fn random(&mut self, buf: &mut [u8]);
    fn write_stdout(&mut self, data: &[u8]);
    fn write_stderr(&mut self, data: &[u8]);
    /// Reads whatever stdin has ready, without blocking: `Some(0)` at end of file, `None`
    /// when nothing is available now.
    fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize>;
    /// Sleeps until the monotonic clock reaches `deadline_ns`, or sooner when `stdin` is set
    /// and stdin has data (or hit end of file). Never busy-waits.
    fn wait(&mut self, deadline_ns: u64, stdin: bool);
    /// Whether stdout is a terminal.
    fn stdout_is_tty(&mut self) -> bool;
    /// The guest kernel's console (boot log, panics). Kept out of the container's stdio.
    fn console_log(&mut self, data: &[u8]);
}

#[cfg(not(target_os = "wasi"))]
mod imp {
    use super::Host;
    use std::io::{IsTerminal, Read, Write};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// Native host: std I/O, a reader thread for stdin (so waiting can time out).
    pub struct StdHost {
        origin: Instant,
        stdin_rx: Option<Receiver<Vec<u8>>>,
        stdin_pending: Vec<u8>,
        stdin_eof: bool,
        console_echo: bool,
    }

    impl Default for StdHost {
        fn default() -> Self {
            Self::new()
        }
    }

    impl StdHost {
        pub fn new() -> Self {
            Self {
                origin: Instant::now(),
                stdin_rx: None,
                stdin_pending: Vec::new(),
                stdin_eof: false,
                console_echo: std::env::var_os("C2W_CONSOLE").is_some(),
            }
        }

        fn stdin_rx(&mut self) -> &Receiver<Vec<u8>> {
            self.stdin_rx.get_or_insert_with(|| {
                let (tx, rx) = std::sync::mpsc::sync_channel(4);
                std::thread::spawn(move || {
                    let mut stdin = std::io::stdin().lock();
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match stdin.read(&mut buf) {
                            Ok(0) | Err(_) => {
                                let _ = tx.send(Vec::new());
                                return;
                            }
                            Ok(n) => {
                                if tx.send(buf[..n].to_vec()).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
                rx
            })
        }

        fn take_chunk(&mut self, chunk: Vec<u8>) {
            if chunk.is_empty() {
                self.stdin_eof = true;
            } else {
                self.stdin_pending.extend_from_slice(&chunk);
            }
        }
    }

    impl Host for StdHost {
        fn monotonic_ns(&mut self) -> u64 {
            self.origin.elapsed().as_nanos() as u64
        }
        fn wall_clock_ns(&mut self) -> u64 {
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
        }
        fn random(&mut self, buf: &mut [u8]) {
            if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf)).is_err() {
                // No /dev/urandom: derive bytes from the clock (still differs run to run).
                let mut x = self.wall_clock_ns() | 1;
                for b in buf.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
            }
        }
        fn write_stdout(&mut self, data: &[u8]) {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(data);
            let _ = out.flush();
        }
        fn write_stderr(&mut self, data: &[u8]) {
            let _ = std::io::stderr().write_all(data);
        }
        fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize> {
            if self.stdin_pending.is_empty() && !self.stdin_eof {
                match self.stdin_rx().try_recv() {
                    Ok(chunk) => self.take_chunk(chunk),
                    Err(TryRecvError::Empty) => return None,
                    Err(TryRecvError::Disconnected) => self.stdin_eof = true,
                }
            }
            if !self.stdin_pending.is_empty() {
                let n = buf.len().min(self.stdin_pending.len());
                buf[..n].copy_from_slice(&self.stdin_pending[..n]);
                self.stdin_pending.drain(..n);
                return Some(n);
            }
            Some(0)
        }
        fn wait(&mut self, deadline_ns: u64, stdin: bool) {
            let now = self.monotonic_ns();
            if deadline_ns <= now {
                return;
            }
            let timeout = Duration::from_nanos(deadline_ns - now);
            if stdin && self.stdin_pending.is_empty() && !self.stdin_eof {
                match self.stdin_rx().recv_timeout(timeout) {
                    Ok(chunk) => self.take_chunk(chunk),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => self.stdin_eof = true,
                }
            } else if !stdin {
                std::thread::sleep(timeout);
            }
        }
        fn stdout_is_tty(&mut self) -> bool {
            std::io::stdout().is_terminal()
        }
        fn console_log(&mut self, data: &[u8]) {
            if self.console_echo {
                let _ = std::io::stderr().write_all(data);
            }
        }
    }
}

#[cfg(target_os = "wasi")]
mod imp {
    use super::Host;
    use std::io::{Read, Write};

    /// WASI preview-1 host: clocks, random_get, fd 0/1/2 and poll_oneoff for waiting.
    pub struct StdHost {
        stdin_eof: bool,
        console_echo: bool,
    }

    impl Default for StdHost {
        fn default() -> Self {
            Self::new()
        }
    }

    impl StdHost {
        pub fn new() -> Self {
            Self { stdin_eof: false, console_echo: std::env::var_os("C2W_CONSOLE").is_some() }
        }

        /// Polls stdin readiness with a relative timeout; true when stdin is readable.
        fn poll_stdin(&mut self, timeout_ns: u64) -> bool {
            let subs = [
                wasi::Subscription {
                    userdata: 1,
                    u: wasi::SubscriptionU {
                        tag: wasi::EVENTTYPE_FD_READ.raw(),
                        u: wasi::SubscriptionUU { fd_read: wasi::SubscriptionFdReadwrite { file_descriptor: 0 } },
                    },
                },
                wasi::Subscription {
                    userdata: 2,
                    u: wasi::SubscriptionU {
                        tag: wasi::EVENTTYPE_CLOCK.raw(),
                        u: wasi::SubscriptionUU {
                            clock: wasi::SubscriptionClock {
                                id: wasi::CLOCKID_MONOTONIC,
                                timeout: timeout_ns,
                                precision: 0,
                                flags: 0,
                            },
                        },
                    },
                },
            ];
            let mut events = [wasi::Event {
                userdata: 0,
                error: wasi::ERRNO_SUCCESS,
                type_: wasi::EVENTTYPE_CLOCK,
                fd_readwrite: wasi::EventFdReadwrite { nbytes: 0, flags: 0 },
            }; 2];
            // SAFETY: the pointers and count describe the two arrays above.
            let n = unsafe { wasi::poll_oneoff(subs.as_ptr(), events.as_mut_ptr(), subs.len()) };
            match n {
                Ok(n) => events[..n].iter().any(|e| e.userdata == 1),
                // stdin cannot be polled (closed, or a file): treat it as always readable.
                Err(_) => true,
            }
        }
    }

    impl Host for StdHost {
        fn monotonic_ns(&mut self) -> u64 {
            // SAFETY: plain WASI call.
            unsafe { wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 1) }.unwrap_or(0)
        }
        fn wall_clock_ns(&mut self) -> u64 {
            // SAFETY: plain WASI call.
            unsafe { wasi::clock_time_get(wasi::CLOCKID_REALTIME, 1) }.unwrap_or(0)
        }
        fn random(&mut self, buf: &mut [u8]) {
            // SAFETY: buf is valid for writes of its length.
            let _ = unsafe { wasi::random_get(buf.as_mut_ptr(), buf.len()) };
        }
        fn write_stdout(&mut self, data: &[u8]) {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(data);
            let _ = out.flush();
        }
        fn write_stderr(&mut self, data: &[u8]) {
            let _ = std::io::stderr().write_all(data);
        }
        fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize> {
            if self.stdin_eof {
                return Some(0);
            }
            if !self.poll_stdin(0) {
                return None;
            }
            match std::io::stdin().read(buf) {
                Ok(0) | Err(_) => {
                    self.stdin_eof = true;
                    Some(0)
                }
                Ok(n) => Some(n),
            }
        }
        fn wait(&mut self, deadline_ns: u64, stdin: bool) {
            let now = self.monotonic_ns();
            if deadline_ns <= now {
                return;
            }
            if stdin && !self.stdin_eof {
                self.poll_stdin(deadline_ns - now);
            } else {
                let sub = wasi::Subscription {
                    userdata: 2,
                    u: wasi::SubscriptionU {
                        tag: wasi::EVENTTYPE_CLOCK.raw(),
                        u: wasi::SubscriptionUU {
                            clock: wasi::SubscriptionClock {
                                id: wasi::CLOCKID_MONOTONIC,
                                timeout: deadline_ns - now,
                                precision: 0,
                                flags: 0,
                            },
                        },
                    },
                };
                let mut ev = [wasi::Event {
                    userdata: 0,
                    error: wasi::ERRNO_SUCCESS,
                    type_: wasi::EVENTTYPE_CLOCK,
                    fd_readwrite: wasi::EventFdReadwrite { nbytes: 0, flags: 0 },
                }];
                // SAFETY: one subscription, one event slot.
                let _ = unsafe { wasi::poll_oneoff(&sub, ev.as_mut_ptr(), 1) };
            }
        }
        fn stdout_is_tty(&mut self) -> bool {
            // SAFETY: plain WASI call.
            match unsafe { wasi::fd_fdstat_get(1) } {
                Ok(st) => st.fs_filetype == wasi::FILETYPE_CHARACTER_DEVICE,
                Err(_) => false,
            }
        }
        fn console_log(&mut self, data: &[u8]) {
            if self.console_echo {
                let _ = std::io::stderr().write_all(data);
            }
        }
    }
}

pub use imp::StdHost;

/// A deterministic host for tests: fixed clock that advances only on `wait`, scripted stdin,
/// captured stdout/stderr/console.
#[derive(Default)]
pub struct FakeHost {
    pub now_ns: u64,
    pub stdin: Vec<u8>,
    pub stdin_eof: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub console: Vec<u8>,
    pub rng_state: u64,
}

impl Host for FakeHost {
    fn monotonic_ns(&mut self) -> u64 {
        self.now_ns
    }
    fn wall_clock_ns(&mut self) -> u64 {
        1_700_000_000_000_000_000 + self.now_ns
    }
    fn random(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.rng_state = self.rng_state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *b = (self.rng_state >> 56) as u8;
        }
    }
    fn write_stdout(&mut self, data: &[u8]) {
        self.stdout.extend_from_slice(data);
    }
    fn write_stderr(&mut self, data: &[u8]) {
        self.stderr.extend_from_slice(data);
    }
    fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.stdin.is_empty() {
            return if self.stdin_eof { Some(0) } else { None };
        }
        let n = buf.len().min(self.stdin.len());
        buf[..n].copy_from_slice(&self.stdin[..n]);
        self.stdin.drain(..n);
        Some(n)
    }
    fn wait(&mut self, deadline_ns: u64, _stdin: bool) {
        self.now_ns = self.now_ns.max(deadline_ns);
    }
    fn stdout_is_tty(&mut self) -> bool {
        false
    }
    fn console_log(&mut self, data: &[u8]) {
        self.console.extend_from_slice(data);
    }
}
