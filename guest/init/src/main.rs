//! c2w-init: PID 1 of the guest. It assembles the container root, reports Ready on the
//! channel (the pre-boot snapshot is taken there), then runs exactly one request and reports
//! its exit status. PID 1 must never exit (the kernel would panic), so every path ends in
//! `idle_forever`, reaping orphans until the VM stops.

mod boot;
mod channel;
mod clock_rng;
mod env;
mod fail;
mod relay;
mod run;
mod sigchld;
mod snapshot;
mod spawn;
mod status;
mod sys;
mod user;

use channel::Channel;
use std::io::Write;

/// A line in the kernel log (and so on the console, at error level), for failures that cannot
/// be reported on the channel. Failures to log are ignored: never a panic.
macro_rules! console {
    ($($arg:tt)*) => {{
        // One write(2) per record: /dev/kmsg makes each write a separate log line.
        let line = format!("<3>{}\n", format_args!($($arg)*));
        if let Ok(mut kmsg) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
            let _ = kmsg.write_all(line.as_bytes());
        }
    }};
}
use fail::Fail;
use proto::{FrameKind, RunRequest};

fn main() {
    let booted = boot::boot();
    let mut chan = match Channel::open_from_env() {
        Ok(c) => c,
        Err(e) => {
            // No channel, so the kernel console is the only place left to say why.
            console!("c2w-init: {e}");
            if let Err(b) = booted {
                console!("c2w-init: {b}");
            }
            idle_forever();
        }
    };
    if let Err(e) = booted {
        report_error(&mut chan, &e);
        idle_forever();
    }
    if std::env::var("c2w_snapshot").is_ok_and(|v| v == "1") {
        snapshot::zero_free_memory();
    }
    if let Err(e) = chan.send(FrameKind::Ready, &[]) {
        console!("c2w-init: writing Ready to the channel: {e}");
        idle_forever();
    }
    // The snapshot resumes here, blocked on the channel until the run's request arrives.
    match receive_request(&mut chan).and_then(|req| run::run(&mut chan, &req)) {
        Ok(code) => {
            // Let shared-directory writes reach the host before it stops the VM on Exit.
            // SAFETY: sync(2) has no arguments and cannot fail.
            unsafe { libc::sync() };
            if let Err(e) = chan.send(FrameKind::Exit, &code.to_le_bytes()) {
                console!("c2w-init: writing Exit to the channel: {e}");
            }
        }
        Err(e) => report_error(&mut chan, &e),
    }
    idle_forever();
}

/// Waits for the Request frame; anything sent before it is ignored.
fn receive_request(chan: &mut Channel) -> Result<RunRequest, Fail> {
    loop {
        let frame = chan.recv()?;
        if frame.kind == FrameKind::Request {
            return RunRequest::decode(&frame.payload).map_err(|e| Fail(format!("bad run request: {e}")));
        }
    }
}

fn report_error(chan: &mut Channel, e: &Fail) {
    if chan.send(FrameKind::Error, e.0.as_bytes()).is_err() {
        console!("c2w-init: {e}");
    }
}

/// PID 1's last job: reap whatever exits, forever.
fn idle_forever() -> ! {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status through a valid pointer.
        if unsafe { libc::waitpid(-1, &mut status, 0) } < 0 {
            // No children (ECHILD): wait for a signal; once the run has installed its SIGCHLD
            // handler, a new orphan's exit wakes this.
            // SAFETY: pause(2) has no arguments.
            unsafe { libc::pause() };
        }
    }
}
