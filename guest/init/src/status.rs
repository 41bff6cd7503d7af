//! Exit statuses as Docker reports them.

/// Docker's status when the command cannot be found (`exec: "x": executable file not found`).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Docker's status when the command exists but cannot be executed (permission, format).
pub const EXIT_CANNOT_EXECUTE: i32 = 126;

/// The exit status of a process from its wait(2) status: the exit code, or 128 + the signal
/// number when a signal killed it (the shell convention Docker follows).
pub fn from_wait_status(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        // Stopped/continued statuses are never asked for (no WUNTRACED); treat as a failure.
        1
    }
}

/// The status for an execve(2) failure: "no such file" is not found, anything else (EACCES,
/// ENOEXEC, ...) cannot execute.
pub fn from_exec_errno(errno: i32) -> i32 {
    if errno == libc::ENOENT || errno == libc::ENOTDIR {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_EXECUTE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses() {
        // Linux encodes exit(n) as n << 8 and death by signal s as s (plus 0x80 for a core).
        assert_eq!(from_wait_status(0), 0);
        assert_eq!(from_wait_status(7 << 8), 7);
        assert_eq!(from_wait_status(255 << 8), 255);
        assert_eq!(from_wait_status(libc::SIGKILL), 137);
        assert_eq!(from_wait_status(libc::SIGSEGV | 0x80), 139);
        assert_eq!(from_wait_status(libc::SIGTERM), 143);
    }

    #[test]
    fn exec_errors() {
        assert_eq!(from_exec_errno(libc::ENOENT), 127);
        assert_eq!(from_exec_errno(libc::EACCES), 126);
        assert_eq!(from_exec_errno(libc::ENOEXEC), 126);
    }
}
