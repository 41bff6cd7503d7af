//! SIGCHLD as a readable descriptor (the self-pipe trick), so child exits wake the same poll(2)
//! that waits for I/O. signalfd would do too, but small kernels may be built without it.

use crate::fail::{Context, Fail};
use crate::sys;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// Write end of the pipe, for the handler (-1 until installed).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; errno is saved and restored around it so the
        // interrupted code never sees it change. A full pipe (EAGAIN) already means "wake up".
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, [1u8].as_ptr().cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

pub struct SigChld {
    read: File,
    _write: File,
}

impl SigChld {
    /// Installs the handler; only one may exist per process.
    pub fn install() -> Result<Self, Fail> {
        let (read, write) = sys::pipe().context(|| "creating the SIGCHLD pipe".into())?;
        sys::set_nonblocking(&read).context(|| "setting up the SIGCHLD pipe".into())?;
        sys::set_nonblocking(&write).context(|| "setting up the SIGCHLD pipe".into())?;
        WAKE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        // SAFETY: sigaction is plain data; the handler only does async-signal-safe work.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigchld as *const () as usize;
            sa.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
            libc::sigemptyset(&mut sa.sa_mask);
            sys::check(libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut()))
                .context(|| "installing the SIGCHLD handler".into())?;
        }
        Ok(Self { read, _write: write })
    }

    pub fn fd(&self) -> libc::c_int {
        self.read.as_raw_fd()
    }

    /// Empties the pipe after poll reported it readable.
    pub fn clear(&self) {
        let mut buf = [0u8; 64];
        while matches!(sys::read(&self.read, &mut buf), Ok(n) if n > 0) {}
    }
}

/// Reaps every exited child without blocking; returns the wait status of `main` if it was
/// among them. PID 1 inherits every orphan, so this runs whenever SIGCHLD fires.
pub fn reap(main: libc::pid_t) -> Option<libc::c_int> {
    let mut main_status = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status through a valid pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return main_status;
        }
        if pid == main {
            main_status = Some(status);
        }
    }
}

/// Blocks until `pid` exits and returns its wait status (reaping nothing else).
pub fn wait_for(pid: libc::pid_t) -> Option<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: as above.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(status);
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}
