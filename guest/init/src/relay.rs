//! The run's I/O loop: Stdin frames -> the child's stdin pipe, the child's stdout/stderr pipes
//! -> Stdout/Stderr frames, and SIGCHLD -> reaping. One poll(2) waits for all of it.

use crate::channel::Channel;
use crate::fail::{Context, Fail};
use crate::sigchld::{self, SigChld};
use crate::sys;
use proto::FrameKind;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Stop reading the channel while this much stdin waits for the child: the host then stops
/// sending (its channel backlog is bounded), which is the flow control.
const STDIN_HIGH_WATER: usize = 256 * 1024;
/// One read from an output pipe, and so at most one frame.
const CHUNK: usize = 64 * 1024;
/// Output relayed from one pipe per wake-up, so a flood on one stream cannot starve the rest.
const BURST: usize = 4 * CHUNK;

pub struct Relay<'a> {
    pub chan: &'a mut Channel,
    pub sig: &'a SigChld,
    /// The pid whose exit ends the run.
    pub main: libc::pid_t,
    /// Our end of the child's stdin; None when stdin is /dev/null or already closed.
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

struct StdinQueue {
    pending: Vec<u8>,
    /// The host said end of file: close the pipe once `pending` is written.
    eof: bool,
}

impl Relay<'_> {
    /// Runs until the main child has exited and its output is relayed; returns its wait status.
    pub fn run(mut self) -> Result<libc::c_int, Fail> {
        for f in [&self.stdin, &self.stdout, &self.stderr].into_iter().flatten() {
            sys::set_nonblocking(f).context(|| "setting up the stdio pipes".into())?;
        }
        let mut q = StdinQueue { pending: Vec::new(), eof: false };
        let mut chan_open = true;
        let mut buf = vec![0u8; CHUNK];
        loop {
            self.take_frames(&mut q)?;
            self.feed_stdin(&mut q);
            if let Some(status) = sigchld::reap(self.main) {
                self.drain_after_exit(&mut buf)?;
                return Ok(status);
            }

            // Poll set: [signal, channel, stdin, stdout, stderr]; fd -1 entries are ignored.
            let want_chan = chan_open && q.pending.len() < STDIN_HIGH_WATER;
            let want_stdin_write = self.stdin.is_some() && !q.pending.is_empty();
            let mut fds = [
                pollfd(self.sig.fd(), true, libc::POLLIN),
                pollfd(self.chan.fd(), want_chan, libc::POLLIN),
                pollfd(raw(&self.stdin), want_stdin_write, libc::POLLOUT),
                pollfd(raw(&self.stdout), true, libc::POLLIN),
                pollfd(raw(&self.stderr), true, libc::POLLIN),
            ];
            // SAFETY: `fds` is a valid array of pollfd of the length passed.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Fail::io("waiting for the container's I/O", e));
            }
            if fds[0].revents != 0 {
                self.sig.clear();
            }
            if fds[1].revents != 0 {
                chan_open = self.chan.fill()?;
            }
            // Stdin writability is rechecked by feed_stdin at the top of the loop.
            if fds[3].revents != 0 {
                relay_output(self.chan, &mut self.stdout, FrameKind::Stdout, &mut buf, BURST)?;
            }
            if fds[4].revents != 0 {
                relay_output(self.chan, &mut self.stderr, FrameKind::Stderr, &mut buf, BURST)?;
            }
        }
    }

    /// Moves Stdin/StdinEof frames that have arrived into the queue.
    fn take_frames(&mut self, q: &mut StdinQueue) -> Result<(), Fail> {
        while let Some(f) = self.chan.buffered_frame()? {
            match f.kind {
                // Stdin for a child that closed its stdin is dropped, but still consumed so
                // the host's backlog drains.
                FrameKind::Stdin if self.stdin.is_some() => q.pending.extend_from_slice(&f.payload),
                FrameKind::StdinEof => q.eof = true,
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes as much queued stdin as the pipe takes without blocking.
    fn feed_stdin(&mut self, q: &mut StdinQueue) {
        let Some(pipe) = &self.stdin else {
            q.pending.clear();
            return;
        };
        let mut written = 0;
        let mut broken = false;
        while written < q.pending.len() {
            match sys::write(pipe, &q.pending[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // EPIPE: the child closed its stdin; nothing more will be read.
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        q.pending.drain(..written);
        if broken || (q.eof && q.pending.is_empty()) {
            self.stdin = None; // closing our end gives the child end of file
            q.pending.clear();
        }
    }

    /// After the main process exited: relay what its output pipes hold right now, then stop
    /// (background processes may keep the pipes open forever; Docker ends the run here too).
    fn drain_after_exit(&mut self, buf: &mut [u8]) -> Result<(), Fail> {
        for (pipe, kind) in [(&mut self.stdout, FrameKind::Stdout), (&mut self.stderr, FrameKind::Stderr)] {
            let Some(p) = pipe else { continue };
            let available = sys::bytes_readable(p).unwrap_or(usize::MAX);
            relay_output(self.chan, pipe, kind, buf, available)?;
        }
        Ok(())
    }
}

fn raw(f: &Option<File>) -> libc::c_int {
    f.as_ref().map_or(-1, |f| f.as_raw_fd())
}

fn pollfd(fd: libc::c_int, wanted: bool, events: libc::c_short) -> libc::pollfd {
    libc::pollfd { fd: if wanted { fd } else { -1 }, events, revents: 0 }
}

/// Reads from an output pipe (non-blocking) and sends frames, up to `limit` bytes or until the
/// pipe is empty. End of file closes the pipe.
fn relay_output(
    chan: &mut Channel,
    pipe: &mut Option<File>,
    kind: FrameKind,
    buf: &mut [u8],
    mut limit: usize,
) -> Result<(), Fail> {
    while limit > 0 {
        let Some(p) = pipe else { return Ok(()) };
        let want = buf.len().min(limit);
        match sys::read(p, &mut buf[..want]) {
            Ok(0) => *pipe = None,
            Ok(n) => {
                chan.send(kind, &buf[..n]).context(|| "writing to the channel".into())?;
                limit -= n;
                if n < want {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(Fail::io("reading the container's output", e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::tests::{pty_channel, read_frames};
    use crate::spawn::{spawn, SpawnError, Spec, Step};
    use proto::Frame;
    use std::ffi::CString;

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn spec(program: &str, argv: &[&str], workdir: &str, stdio: [i32; 3]) -> Spec {
        Spec {
            program: CString::new(program).unwrap(),
            argv: argv.iter().map(|a| CString::new(*a).unwrap()).collect(),
            envp: vec![CString::new("PATH=/usr/bin:/bin").unwrap()],
            workdir: CString::new(workdir).unwrap(),
            uid: 0,
            gid: 0,
            groups: vec![],
            stdio,
        }
    }

    /// The whole run phase minus mounts: a real child, stdin forwarded from frames, stdout and
    /// stderr relayed separately, exit status returned.
    #[test]
    fn relays_stdio_and_exit_status() {
        if !is_root() {
            eprintln!("skipped: spawning with setgroups/setuid needs root");
            return;
        }
        let (mut chan, master) = pty_channel();
        let sig = SigChld::install().unwrap();
        let (in_r, in_w) = sys::pipe().unwrap();
        let (out_r, out_w) = sys::pipe().unwrap();
        let (err_r, err_w) = sys::pipe().unwrap();
        let script = "wc -c; printf 'to stderr' >&2; pwd; exit 3";
        let s =
            spec("/bin/sh", &["sh", "-c", script], "/tmp", [in_r.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()]);
        let pid = spawn(&s).unwrap();
        drop((in_r, out_w, err_w));

        let host = std::thread::spawn(move || {
            let data = vec![b'\n'; 100_000];
            for chunk in data.chunks(30_000) {
                sys::write_all(&master, &Frame::new(FrameKind::Stdin, chunk.to_vec()).encode()).unwrap();
            }
            sys::write_all(&master, &Frame::new(FrameKind::StdinEof, vec![]).encode()).unwrap();
            read_frames(&master, |f| f.last().is_some_and(|f| f.kind == FrameKind::Exit))
        });
        let relay = Relay {
            chan: &mut chan,
            sig: &sig,
            main: pid,
            stdin: Some(in_w),
            stdout: Some(out_r),
            stderr: Some(err_r),
        };
        let status = relay.run().unwrap();
        assert_eq!(crate::status::from_wait_status(status), 3);
        chan.send(FrameKind::Exit, &3i32.to_le_bytes()).unwrap();

        let frames = host.join().unwrap();
        let collect =
            |kind| frames.iter().filter(|f| f.kind == kind).flat_map(|f| f.payload.clone()).collect::<Vec<u8>>();
        assert_eq!(String::from_utf8(collect(FrameKind::Stdout)).unwrap().trim_start(), "100000\n/tmp\n");
        assert_eq!(collect(FrameKind::Stderr), b"to stderr");
    }

    #[test]
    fn child_setup_failures_are_reported_by_step() {
        if !is_root() {
            eprintln!("skipped: spawning with setgroups/setuid needs root");
            return;
        }
        let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").unwrap();
        let fd = null.as_raw_fd();
        match spawn(&spec("/nonexistent/prog", &["prog"], "/", [fd, fd, fd])) {
            Err(SpawnError::Child { step: Step::Exec, errno }) => assert_eq!(errno, libc::ENOENT),
            other => panic!("unexpected {other:?}"),
        }
        match spawn(&spec("/bin/true", &["true"], "/nonexistent-dir", [fd, fd, fd])) {
            Err(SpawnError::Child { step: Step::Chdir, errno }) => assert_eq!(errno, libc::ENOENT),
            other => panic!("unexpected {other:?}"),
        }
    }
}
