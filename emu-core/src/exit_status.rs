//! The module's exit status, and the one stderr line that explains a status c2w chose.
//!
//! WASI runtimes pass exit statuses 0..=125 through; the wasmtime CLI refuses 126 and above
//! (it prints a backtrace and exits 1). So the container's own statuses 0..=125 pass through,
//! and everything else gets a status of its own just below Docker's 125:
//!
//! | status | meaning |
//! |--------|---------|
//! | 0..=125 | the container's exit status (125 may also be [`EXIT_INIT_ERROR`]) |
//! | 125 | c2w could not start the container (bad run-time option, unknown user, boot failed) |
//! | 124 | the guest kernel panicked |
//! | 123 | the guest's init (PID 1) died, which panics the kernel |
//! | 122 | the emulated CPU reached a state it cannot leave (trap loop, triple fault) |
//! | 121 | the guest powered off or rebooted before the container exited |
//! | 120 | the guest ran out of memory (the OOM killer killed the container's process) |
//! | 119 | the container exited with a status of 126 or more (not executable, not found, killed by a signal); the real status is on stderr |
//!
//! Each of 119..=124 comes with one line on stderr saying what happened.

use crate::session::Halt;

/// The init could not start the container (Docker's "error in the runtime").
pub const EXIT_INIT_ERROR: i32 = 125;
pub const EXIT_KERNEL_PANIC: i32 = 124;
pub const EXIT_INIT_DIED: i32 = 123;
pub const EXIT_CPU_FATAL: i32 = 122;
pub const EXIT_POWERED_OFF: i32 = 121;
pub const EXIT_OUT_OF_MEMORY: i32 = 120;
/// Stand-in for a container status the runtime would refuse (126 and above).
pub const EXIT_HIGH_STATUS: i32 = 119;

/// The largest status every WASI runtime passes through.
const MAX_PASSED_THROUGH: i32 = 125;

/// What the kernel prints when it panics, and when the OOM killer acts or gives up.
const PANIC_MARK: &str = "Kernel panic - not syncing: ";
const INIT_DIED_MARK: &str = "Attempted to kill init";
const OOM_MARK: &str = "Out of memory";

/// The module's exit status and, when c2w chose it, the line (without "c2w: " and newline)
/// that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: i32,
    pub message: Option<String>,
}

/// The container exited with `status` (as the init reports it: the exit code, or 128 + the
/// signal number). `run_log` is the guest kernel's console output since the run began.
pub fn container_exit(status: i32, run_log: &str) -> Verdict {
    if status == 128 + 9 {
        if let Some(line) = line_with(run_log, OOM_MARK) {
            return Verdict {
                status: EXIT_OUT_OF_MEMORY,
                message: Some(format!(
                    "the guest ran out of memory and the kernel killed the container's process ({line}); \
                     convert the image with a larger --memory"
                )),
            };
        }
    }
    if (0..=MAX_PASSED_THROUGH).contains(&status) {
        return Verdict { status, message: None };
    }
    Verdict {
        status: EXIT_HIGH_STATUS,
        message: Some(format!("the container exited with status {status} ({})", describe_status(status))),
    }
}

/// The machine stopped before the container exited.
pub fn halted(h: &Halt, run_log: &str) -> Verdict {
    let panic = line_with(run_log, PANIC_MARK).map(|l| l[l.find(PANIC_MARK).unwrap_or(0)..].to_string());
    let oom = line_with(run_log, OOM_MARK);
    let (status, message) = if let Halt::Fatal(why) = h {
        (EXIT_CPU_FATAL, format!("the guest machine cannot continue: {why}"))
    } else if let Some(p) = panic.as_deref().filter(|p| p.contains(INIT_DIED_MARK)) {
        match oom {
            Some(oom) => (EXIT_OUT_OF_MEMORY, format!("the guest ran out of memory ({oom}) and its init process died ({p}); convert the image with a larger --memory")),
            None => (EXIT_INIT_DIED, format!("the guest's init process died, so the guest kernel panicked ({p})")),
        }
    } else if let Some(p) = panic {
        // Includes the OOM killer's own panic (vm.panic_on_oom): the panic line says so.
        (EXIT_KERNEL_PANIC, format!("the guest kernel panicked ({p})"))
    } else if let Some(oom) = oom {
        (EXIT_OUT_OF_MEMORY, format!("the guest ran out of memory ({oom}); convert the image with a larger --memory"))
    } else {
        let what = if *h == Halt::PowerOff { "powered off" } else { "rebooted" };
        (EXIT_POWERED_OFF, format!("the guest {what} before the container exited"))
    };
    Verdict { status, message: Some(message) }
}

/// What a status of 126 or more means, in the shell's conventions that Docker follows.
pub fn describe_status(status: i32) -> String {
    match status {
        126 => "the command could not be executed".into(),
        127 => "the command was not found".into(),
        129..=192 => {
            let sig = status - 128;
            match signal_name(sig) {
                Some(name) => format!("killed by {name}"),
                None => format!("killed by signal {sig}"),
            }
        }
        _ => "an exit code WASI runtimes do not pass through".into(),
    }
}

/// Linux signal names (the numbering is the same on riscv64 and x86_64).
fn signal_name(sig: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(sig).ok().and_then(|s| s.checked_sub(1)).and_then(|i| NAMES.get(i).copied())
}

/// The first line of `log` containing `mark` (the panic itself, not its closing `---[ end` line), without its printk timestamp.
fn line_with<'a>(log: &'a str, mark: &str) -> Option<&'a str> {
    let line = log.lines().find(|l| l.contains(mark))?;
    let line = match line.trim_start().strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, text)| text),
        None => line,
    };
    Some(line.trim())
}

/// The part of the console tail `after` that was not already in `before`: the longest suffix
/// of `before`'s lines that starts `after` is dropped. Console lines carry printk timestamps,
/// so an overlap is the same lines, not a coincidence.
pub fn new_console_lines(before: &str, after: &str) -> String {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let overlap = (0..=b.len().min(a.len())).rev().find(|&n| b[b.len() - n..] == a[..n]).unwrap_or(0);
    a[overlap..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_statuses_up_to_125_pass_through() {
        for s in [0, 1, 7, 119, 124, 125] {
            assert_eq!(container_exit(s, ""), Verdict { status: s, message: None });
        }
    }

    #[test]
    fn high_statuses_get_the_stand_in_and_a_line() {
        let v = container_exit(137, "");
        assert_eq!(v.status, EXIT_HIGH_STATUS);
        assert_eq!(v.message.unwrap(), "the container exited with status 137 (killed by SIGKILL)");
        assert!(container_exit(127, "").message.unwrap().contains("not found"));
        assert!(container_exit(126, "").message.unwrap().contains("could not be executed"));
        assert!(container_exit(139, "").message.unwrap().contains("SIGSEGV"));
        assert!(container_exit(255, "").message.unwrap().contains("do not pass through"));
        assert_eq!(container_exit(-1, "").status, EXIT_HIGH_STATUS);
    }

    #[test]
    fn sigkill_after_the_oom_killer_is_out_of_memory() {
        let log = "[    3.1] Out of memory: Killed process 57 (sh) total-vm:60000kB\n";
        let v = container_exit(137, log);
        assert_eq!(v.status, EXIT_OUT_OF_MEMORY);
        let m = v.message.unwrap();
        assert!(m.contains("Out of memory: Killed process 57 (sh)") && m.contains("--memory"), "{m}");
        assert!(!m.contains("[    3.1]"), "{m}");
        // Another status is the container's own business, OOM or not.
        assert_eq!(container_exit(1, log).status, 1);
    }

    #[test]
    fn halts_are_classified_from_the_console() {
        let panic = "[    1.0] Kernel panic - not syncing: sysrq triggered crash\n\
                     [    1.1] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n";
        let v = halted(&Halt::Reboot, panic);
        assert_eq!(v.status, EXIT_KERNEL_PANIC);
        assert_eq!(v.message.unwrap(), "the guest kernel panicked (Kernel panic - not syncing: sysrq triggered crash)");
        let init = "[    1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000004\n";
        assert_eq!(halted(&Halt::Reboot, init).status, EXIT_INIT_DIED);
        let oom = "Out of memory: Killed process 1 (x)\nKernel panic - not syncing: Attempted to kill init!\n";
        assert_eq!(halted(&Halt::Reboot, oom).status, EXIT_OUT_OF_MEMORY);
        let oom_panic = "[ 2.0] Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled\n";
        let v = halted(&Halt::Reboot, oom_panic);
        assert_eq!(v.status, EXIT_KERNEL_PANIC);
        assert!(v.message.unwrap().contains("panic_on_oom"));
        assert_eq!(halted(&Halt::Fatal("trap loop".into()), "").status, EXIT_CPU_FATAL);
        let off = halted(&Halt::PowerOff, "[ 0.2] reboot: Power down\n");
        assert_eq!(
            off,
            Verdict {
                status: EXIT_POWERED_OFF,
                message: Some("the guest powered off before the container exited".into())
            }
        );
        assert_eq!(halted(&Halt::Reboot, "").message.unwrap(), "the guest rebooted before the container exited");
    }

    #[test]
    fn statuses_are_distinct_and_passed_through_by_wasi_runtimes() {
        let all = [
            EXIT_INIT_ERROR,
            EXIT_KERNEL_PANIC,
            EXIT_INIT_DIED,
            EXIT_CPU_FATAL,
            EXIT_POWERED_OFF,
            EXIT_OUT_OF_MEMORY,
            EXIT_HIGH_STATUS,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!((1..=MAX_PASSED_THROUGH).contains(a));
            assert!(!all[i + 1..].contains(a));
        }
    }

    #[test]
    fn new_console_lines_drop_the_overlap() {
        assert_eq!(new_console_lines("", "a\nb"), "a\nb");
        assert_eq!(new_console_lines("x\na", "x\na\nb\nc"), "b\nc");
        assert_eq!(new_console_lines("x\ny\na", "a\nb"), "b");
        assert_eq!(new_console_lines("x\ny", "a\nb"), "a\nb");
        assert_eq!(new_console_lines("x\ny", "x\ny"), "");
    }
}
