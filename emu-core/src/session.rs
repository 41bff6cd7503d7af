//! The arch-neutral life of a VM: pre-boot until the guest init reports ready, then one run:
//! hand the init its request, relay stdio, return the container's exit status.
//!
//! A machine (RISC-V or x86) implements [`Machine`]; this module speaks the channel protocol
//! of the `proto` crate over the machine's console and talks to the outside only through
//! [`Host`].

use crate::Host;
use proto::{Frame, FrameDecoder, FrameKind, ImageConfig, Mount, RunRequest};
use std::path::PathBuf;

/// What one slice of guest execution ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slice {
    /// The guest ran and may run more.
    Ran,
    /// The guest is idle until `deadline_ns` on the host's monotonic clock (or input).
    Idle { deadline_ns: u64 },
    /// The machine stopped.
    Halted(Halt),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    PowerOff,
    Reboot,
    /// The emulator cannot continue (a guest state it cannot represent).
    Fatal(String),
}

pub trait Machine {
    fn run_slice(&mut self, host: &mut dyn Host) -> Slice;
    /// Moves the bytes the guest wrote to the channel into `out`.
    fn drain_channel(&mut self, out: &mut Vec<u8>);
    /// Queues bytes for the guest to read from the channel.
    fn feed_channel(&mut self, data: &[u8]);
    /// Bytes queued for the guest that it has not taken yet.
    fn channel_backlog(&self) -> usize;
    /// Shares for the 9p device: (aname, host root).
    fn set_shares(&mut self, shares: Vec<(String, PathBuf)>);
    /// Switches the guest clock from the virtual (instruction-derived) clock used during
    /// pre-boot to the host's monotonic clock.
    fn use_host_clock(&mut self, host: &mut dyn Host);
    /// The last lines of the guest kernel's console, for error reports.
    fn console_tail(&self) -> String;
    /// Retired guest instructions so far.
    fn instructions(&self) -> u64;
    /// Frees what the machine can rebuild on demand (decoded-instruction caches) and zeroes its
    /// storage: called before the snapshot, which stores every non-zero byte of linear memory.
    fn drop_caches(&mut self) {}
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the guest stopped before its init was ready ({0:?}); kernel log:\n{1}")]
    Halted(Halt, String),
    #[error("the guest init did not become ready within {0} instructions; kernel log:\n{1}")]
    Timeout(u64, String),
    #[error("the guest sent a malformed message: {0}")]
    Protocol(proto::DecodeError),
    #[error("the guest init failed: {0}")]
    Init(String),
}

/// Runs the machine until the init reports Ready. The clock is virtual here, so this is
/// deterministic and idle time costs nothing.
pub fn preboot(m: &mut dyn Machine, host: &mut dyn Host, max_instructions: u64) -> Result<(), SessionError> {
    let mut dec = FrameDecoder::default();
    let mut buf = Vec::new();
    loop {
        match m.run_slice(host) {
            Slice::Halted(h) => return Err(SessionError::Halted(h, m.console_tail())),
            Slice::Ran | Slice::Idle { .. } => {}
        }
        buf.clear();
        m.drain_channel(&mut buf);
        dec.push(&buf);
        while let Some(f) = dec.next_frame().map_err(SessionError::Protocol)? {
            match f.kind {
                FrameKind::Ready => return Ok(()),
                FrameKind::Error => return Err(SessionError::Init(String::from_utf8_lossy(&f.payload).into_owned())),
                _ => log::debug!("ignoring {:?} frame before ready", f.kind),
            }
        }
        if m.instructions() > max_instructions {
            return Err(SessionError::Timeout(max_instructions, m.console_tail()));
        }
    }
}

/// Run-time options parsed from the module's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunArgs {
    pub entrypoint: Option<String>,
    pub no_stdin: bool,
    pub command: Vec<String>,
}

impl RunArgs {
    /// Parses `[--entrypoint=CMD | --entrypoint CMD] [--no-stdin] [--] [CMD ARGS...]`. Options
    /// are only recognised before the command, so container arguments pass through intact.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut r = RunArgs::default();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a == "--" {
                i += 1;
                break;
            } else if let Some(v) = a.strip_prefix("--entrypoint=") {
                r.entrypoint = Some(v.to_string());
            } else if a == "--entrypoint" {
                i += 1;
                r.entrypoint = Some(args.get(i).ok_or("--entrypoint needs a value")?.clone());
            } else if a == "--no-stdin" {
                r.no_stdin = true;
            } else if a.starts_with("--") && a.len() > 2 {
                return Err(format!(
                    "unknown option {a} (run-time options are --entrypoint=CMD and --no-stdin; \
                     put `--` before a command that starts with --)"
                ));
            } else {
                break;
            }
            i += 1;
        }
        r.command = args[i..].to_vec();
        Ok(r)
    }

    /// The argv to run, Docker style: the entrypoint (image's or overridden) followed by the
    /// command (given, or the image's Cmd when none is given and the entrypoint is not
    /// overridden).
    pub fn argv(&self, image: &ImageConfig) -> Vec<String> {
        let mut argv: Vec<String> = match &self.entrypoint {
            Some(e) => vec![e.clone()],
            None => image.entrypoint.clone().unwrap_or_default(),
        };
        if !self.command.is_empty() {
            argv.extend(self.command.iter().cloned());
        } else if self.entrypoint.is_none() {
            argv.extend(image.cmd.clone().unwrap_or_default());
        }
        argv
    }
}

/// A shared directory at run time: the host path (as the host layer names it) and where the
/// guest sees it.
#[derive(Debug, Clone)]
pub struct SharedDir {
    pub host_root: PathBuf,
    pub guest_path: String,
}

pub use crate::exit_status::EXIT_INIT_ERROR;
use crate::exit_status::{self, Verdict};

/// Runs one request to completion and returns the container's exit status.
pub fn run(
    m: &mut dyn Machine,
    host: &mut dyn Host,
    image: &ImageConfig,
    args: &RunArgs,
    extra_env: Vec<String>,
    dirs: &[SharedDir],
) -> i32 {
    m.use_host_clock(host);
    // Faults are told apart by what the kernel printed during this run.
    let console_before = m.console_tail();
    let run_log = |m: &dyn Machine| exit_status::new_console_lines(&console_before, &m.console_tail());
    let finish = |host: &mut dyn Host, v: Verdict| {
        if let Some(msg) = v.message {
            host.write_stderr(format!("c2w: {msg}\n").as_bytes());
        }
        v.status
    };
    let mut env = image.env.clone();
    env.extend(extra_env);
    let mut mounts = Vec::new();
    let mut shares = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let aname = i.to_string();
        shares.push((aname.clone(), d.host_root.clone()));
        mounts.push(Mount { aname, guest_path: d.guest_path.clone() });
    }
    m.set_shares(shares);
    let mut seed = vec![0u8; 64];
    host.random(&mut seed);
    let forward_stdin = !args.no_stdin;
    let req = RunRequest {
        argv: args.argv(image),
        env,
        working_dir: image.working_dir.clone(),
        user: image.user.clone(),
        mounts,
        unix_time_ns: host.wall_clock_ns(),
        seed,
        stdin: forward_stdin,
        tty: host.stdout_is_tty(),
    };
    m.feed_channel(&Frame::new(FrameKind::Request, req.encode()).encode());

    let mut dec = FrameDecoder::default();
    let mut out = Vec::new();
    let mut stdin_open = forward_stdin;
    let mut stdin_buf = vec![0u8; 32 * 1024];
    const STDIN_BACKLOG: usize = 256 * 1024;
    loop {
        let slice = m.run_slice(host);
        out.clear();
        m.drain_channel(&mut out);
        dec.push(&out);
        loop {
            match dec.next_frame() {
                Ok(Some(f)) => match f.kind {
                    FrameKind::Stdout => host.write_stdout(&f.payload),
                    FrameKind::Stderr => host.write_stderr(&f.payload),
                    FrameKind::Exit => {
                        let Some(code) = f.payload.get(..4).map(|b| i32::from_le_bytes(b.try_into().unwrap())) else {
                            return EXIT_INIT_ERROR;
                        };
                        return finish(host, exit_status::container_exit(code, &run_log(m)));
                    }
                    FrameKind::Error => {
                        let msg = String::from_utf8_lossy(&f.payload);
                        host.write_stderr(format!("c2w: {msg}\n").as_bytes());
                        return EXIT_INIT_ERROR;
                    }
                    _ => {}
                },
                Ok(None) => break,
                Err(e) => {
                    host.write_stderr(format!("c2w: the guest init sent a malformed message: {e}\n").as_bytes());
                    return EXIT_INIT_ERROR;
                }
            }
        }
        if stdin_open && m.channel_backlog() < STDIN_BACKLOG {
            match host.read_stdin(&mut stdin_buf) {
                Some(0) => {
                    m.feed_channel(&Frame::new(FrameKind::StdinEof, Vec::new()).encode());
                    stdin_open = false;
                }
                Some(n) => {
                    let mut frame = Vec::with_capacity(n + 5);
                    Frame::encode_into(FrameKind::Stdin, &stdin_buf[..n], &mut frame);
                    m.feed_channel(&frame);
                }
                None => {}
            }
        }
        match slice {
            Slice::Ran => {}
            Slice::Idle { deadline_ns } => {
                let want_stdin = stdin_open && m.channel_backlog() < STDIN_BACKLOG;
                host.wait(deadline_ns, want_stdin);
            }
            Slice::Halted(h) => return finish(host, exit_status::halted(&h, &run_log(m))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn argv_follows_docker_rules() {
        let img =
            ImageConfig { entrypoint: Some(s(&["/bin/sh", "-c"])), cmd: Some(s(&["echo hi"])), ..Default::default() };
        let none = RunArgs::parse(&[]).unwrap();
        assert_eq!(none.argv(&img), s(&["/bin/sh", "-c", "echo hi"]));
        let cmd = RunArgs::parse(&s(&["echo ho"])).unwrap();
        assert_eq!(cmd.argv(&img), s(&["/bin/sh", "-c", "echo ho"]));
        let ep = RunArgs::parse(&s(&["--entrypoint=echo", "hello"])).unwrap();
        assert_eq!(ep.argv(&img), s(&["echo", "hello"]));
        let ep_only = RunArgs::parse(&s(&["--entrypoint", "true"])).unwrap();
        assert_eq!(ep_only.argv(&img), s(&["true"]));
        let ns = RunArgs::parse(&s(&["--no-stdin", "echo", "--entrypoint=x"])).unwrap();
        assert!(ns.no_stdin);
        assert_eq!(ns.command, s(&["echo", "--entrypoint=x"]));
        assert!(RunArgs::parse(&s(&["--bogus"])).is_err());
        let dashdash = RunArgs::parse(&s(&["--", "--version"])).unwrap();
        assert_eq!(dashdash.command, s(&["--version"]));
    }
}
