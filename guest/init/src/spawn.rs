//! fork + exec of the container process. Everything the child needs is prepared as C data
//! before fork, so the child only makes syscalls. A close-on-exec pipe reports a failure
//! between fork and a successful exec (which step, which errno) back to the parent.

use crate::sigchld;
use crate::sys;
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};

/// The fully resolved process to start.
pub struct Spec {
    /// The path execve gets (argv[0] already resolved through PATH).
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub workdir: CString,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
    /// Descriptors that become the child's 0, 1, 2 (all >= 3 in the parent).
    pub stdio: [RawFd; 3],
}

/// The step of the child's setup that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Stdio = 1,
    Chdir = 2,
    Setgroups = 3,
    Setgid = 4,
    Setuid = 5,
    Exec = 6,
}

impl Step {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Step::Stdio,
            2 => Step::Chdir,
            3 => Step::Setgroups,
            4 => Step::Setgid,
            5 => Step::Setuid,
            6 => Step::Exec,
            _ => return None,
        })
    }
}

#[derive(Debug)]
pub enum SpawnError {
    /// fork itself or the report pipe failed (parent side).
    Fork(std::io::Error),
    /// The child failed at `step` with `errno`; it has been reaped.
    Child { step: Step, errno: i32 },
}

/// Starts the process and returns its pid once execve has succeeded.
pub fn spawn(spec: &Spec) -> Result<libc::pid_t, SpawnError> {
    let (report_r, report_w) = sys::pipe().map_err(SpawnError::Fork)?;
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = spec.envp.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());

    // SAFETY: the init is single-threaded, so the child may run anything; it still only makes
    // syscalls on data prepared above and never returns from this block.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SpawnError::Fork(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: the child: see `child`.
        unsafe { child(spec, &argv, &envp, report_w.as_raw_fd()) }
    }
    drop(report_w);
    let mut msg = [0u8; 5];
    let mut got = 0;
    while got < msg.len() {
        match sys::read(&report_r, &mut msg[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if got == 0 {
        return Ok(pid); // the pipe closed on exec: the program is running
    }
    sigchld::wait_for(pid);
    let step = Step::from_u8(msg[0]).unwrap_or(Step::Exec);
    let errno = if got == msg.len() { i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]]) } else { libc::EIO };
    Err(SpawnError::Child { step, errno })
}

/// The forked child: sets up and execs, or reports the failing step and exits 127.
///
/// # Safety
/// Must only be called in a freshly forked child; `argv`/`envp` are NULL-terminated arrays of
/// pointers into `spec`.
unsafe fn child(spec: &Spec, argv: &[*const libc::c_char], envp: &[*const libc::c_char], report: RawFd) -> ! {
    let fail = |step: Step| -> ! {
        // SAFETY: async-signal-safe calls only.
        unsafe {
            let errno = *libc::__errno_location();
            let mut msg = [step as u8, 0, 0, 0, 0];
            msg[1..].copy_from_slice(&errno.to_ne_bytes());
            libc::write(report, msg.as_ptr().cast(), msg.len());
            libc::_exit(127)
        }
    };
    // SAFETY: plain syscalls on prepared data; see the function contract.
    unsafe {
        // Its own session: no controlling terminal, and signals to the group stay in the group.
        libc::setsid();
        // Ignored signals stay ignored across exec: give the program default SIGPIPE behaviour.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        for (target, &fd) in spec.stdio.iter().enumerate() {
            if libc::dup2(fd, target as RawFd) < 0 {
                fail(Step::Stdio);
            }
        }
        libc::umask(0o022);
        if libc::chdir(spec.workdir.as_ptr()) < 0 {
            fail(Step::Chdir);
        }
        if libc::setgroups(spec.groups.len(), spec.groups.as_ptr()) < 0 {
            fail(Step::Setgroups);
        }
        if libc::setgid(spec.gid) < 0 {
            fail(Step::Setgid);
        }
        if libc::setuid(spec.uid) < 0 {
            fail(Step::Setuid);
        }
        libc::execve(spec.program.as_ptr(), argv.as_ptr(), envp.as_ptr());
        fail(Step::Exec)
    }
}
