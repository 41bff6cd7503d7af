//! The run phase: apply the request (RNG, clock, shared dirs), start the container process with
//! its user, workdir and environment, relay its I/O, and return its exit status.

use crate::channel::Channel;
use crate::clock_rng;
use crate::env;
use crate::fail::{Context, Fail};
use crate::relay::Relay;
use crate::sigchld::SigChld;
use crate::spawn::{self, SpawnError, Spec, Step};
use crate::status;
use crate::sys;
use crate::user::{self, ExecUser};
use proto::{FrameKind, RunRequest};
use std::fs::{self, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;

/// The largest 9p message size the Linux virtio transport accepts ((128 - 3) pages).
const P9_MSIZE: u32 = 512_000;

/// Runs the request; returns the exit status for the Exit frame. `Err` means the container
/// could not be started (reported as an Error frame).
pub fn run(chan: &mut Channel, req: &RunRequest) -> Result<i32, Fail> {
    clock_rng::reseed_rng(&req.seed)?;
    clock_rng::set_clock(req.unix_time_ns)?;
    for m in &req.mounts {
        mount_share(&m.aname, &m.guest_path)?;
    }
    let Some(arg0) = req.argv.first() else {
        return Err(Fail("no command specified: the image has no Entrypoint or Cmd, and none was given".into()));
    };

    let user = resolve_user(&req.user)?;
    let envp = env::build(&req.env, &user.home, crate::boot::HOSTNAME);
    let path_var = env::get(&envp, "PATH").unwrap_or(env::DEFAULT_PATH);
    let Some(program) = env::lookup(arg0, path_var, is_executable) else {
        let msg = format!("c2w: exec: {arg0:?}: executable file not found in $PATH\n");
        chan.send(FrameKind::Stderr, msg.as_bytes()).context(|| "writing to the channel".into())?;
        return Ok(status::EXIT_NOT_FOUND);
    };
    let workdir = workdir(&req.working_dir)?;

    let sig = SigChld::install()?;
    let (stdin_child, stdin_ours) = if req.stdin {
        let (r, w) = sys::pipe().context(|| "creating the stdin pipe".into())?;
        (r, Some(w))
    } else {
        let null = OpenOptions::new().read(true).open("/dev/null").context(|| "opening /dev/null".into())?;
        (null, None)
    };
    let (stdout_ours, stdout_child) = sys::pipe().context(|| "creating the stdout pipe".into())?;
    let (stderr_ours, stderr_child) = sys::pipe().context(|| "creating the stderr pipe".into())?;

    let spec = Spec {
        program: c(&program)?,
        argv: req.argv.iter().map(|a| c(a)).collect::<Result<_, _>>()?,
        envp: envp.iter().map(|e| c(e)).collect::<Result<_, _>>()?,
        workdir: c(&workdir)?,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups.clone(),
        stdio: [stdin_child.as_raw_fd(), stdout_child.as_raw_fd(), stderr_child.as_raw_fd()],
    };
    let pid = match spawn::spawn(&spec) {
        Ok(pid) => pid,
        Err(SpawnError::Fork(e)) => return Err(Fail::io("starting the container process", e)),
        Err(SpawnError::Child { step: Step::Exec, errno }) => {
            let msg = format!("c2w: exec: {program:?}: {}\n", sys::errno_text(errno));
            chan.send(FrameKind::Stderr, msg.as_bytes()).context(|| "writing to the channel".into())?;
            return Ok(status::from_exec_errno(errno));
        }
        Err(SpawnError::Child { step, errno }) => return Err(child_failure(step, errno, &workdir, &user)),
    };
    // Only the child may hold these ends, or end of file would never come.
    drop((stdin_child, stdout_child, stderr_child));

    let relay =
        Relay { chan, sig: &sig, main: pid, stdin: stdin_ours, stdout: Some(stdout_ours), stderr: Some(stderr_ours) };
    Ok(status::from_wait_status(relay.run()?))
}

fn c(s: &str) -> Result<std::ffi::CString, Fail> {
    sys::cstring(s).map_err(|e| Fail(e.to_string()))
}

fn child_failure(step: Step, errno: i32, workdir: &str, user: &ExecUser) -> Fail {
    let what = match step {
        Step::Stdio => "connecting the container's stdio".to_string(),
        Step::Chdir => format!("changing to the working directory {workdir}"),
        Step::Setgroups => format!("setting supplementary groups {:?}", user.groups),
        Step::Setgid => format!("setting gid {}", user.gid),
        Step::Setuid => format!("setting uid {}", user.uid),
        Step::Exec => "exec".to_string(),
    };
    Fail(format!("{what}: {}", sys::errno_text(errno)))
}

/// Mounts one shared host directory over 9p at its guest path (created when missing).
fn mount_share(aname: &str, guest_path: &str) -> Result<(), Fail> {
    if !guest_path.starts_with('/') {
        return Err(Fail(format!("mapped directory {guest_path:?}: the guest path must be absolute")));
    }
    if aname.contains(',') {
        return Err(Fail(format!("mapped directory {guest_path}: bad share name {aname:?}")));
    }
    fs::create_dir_all(guest_path).context(|| format!("creating the mapped directory {guest_path}"))?;
    let opts = format!("trans=virtio,version=9p2000.L,aname={aname},msize={P9_MSIZE},cache=none");
    sys::mount(proto::P9_TAG, guest_path, "9p", 0, Some(&opts))
        .context(|| format!("mounting the mapped directory {guest_path} (9p, share {aname})"))
}

/// The working directory as an absolute path, created (as root, like Docker) when missing.
fn workdir(requested: &str) -> Result<String, Fail> {
    let dir = if requested.is_empty() {
        "/".to_string()
    } else if requested.starts_with('/') {
        requested.to_string()
    } else {
        format!("/{requested}")
    };
    fs::create_dir_all(&dir).context(|| format!("creating the working directory {dir}"))?;
    Ok(dir)
}

/// The user from the image's /etc/passwd and /etc/group (absent files are empty).
fn resolve_user(spec: &str) -> Result<ExecUser, Fail> {
    let read = |path: &str| match fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Fail::io(format!("reading {path}"), e)),
    };
    let passwd = user::parse_passwd(&read("/etc/passwd")?);
    let groups = user::parse_group(&read("/etc/group")?);
    user::resolve(spec, &passwd, &groups).map_err(|e| Fail(format!("user {spec:?}: {e}")))
}

/// What Docker's PATH lookup accepts: a regular file (after symlinks) with an execute bit.
fn is_executable(path: &str) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_defaults_and_normalises() {
        assert_eq!(workdir("").unwrap(), "/");
        assert_eq!(workdir("/").unwrap(), "/");
        let base = std::env::temp_dir().join(format!("c2w-init-wd-{}", std::process::id()));
        let dir = base.join("a/b");
        assert_eq!(workdir(dir.to_str().unwrap()).unwrap(), dir.to_str().unwrap());
        assert!(dir.is_dir());
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn executables_are_regular_files_with_an_x_bit() {
        assert!(is_executable("/bin/sh"));
        assert!(!is_executable("/"));
        assert!(!is_executable("/etc/hostname-that-does-not-exist"));
        let f = std::env::temp_dir().join(format!("c2w-init-x-{}", std::process::id()));
        fs::write(&f, b"#!/bin/sh\n").unwrap();
        assert!(!is_executable(f.to_str().unwrap()));
        fs::set_permissions(&f, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(is_executable(f.to_str().unwrap()));
        fs::remove_file(&f).unwrap();
    }
}
