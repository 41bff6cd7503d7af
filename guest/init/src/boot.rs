//! The boot phase: everything that does not depend on the run request, done once before the
//! pre-boot snapshot. The container root becomes an overlay of the read-only EROFS image (the
//! first virtio disk) and a tmpfs, and the init moves itself into it (switch_root style), so
//! the run phase works on plain container paths.

use crate::fail::{Context, Fail};
use crate::sys;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// The root filesystem image: the first virtio block device.
pub const ROOT_DEVICE: &str = "/dev/vda";
/// Where the pieces of the root are assembled inside the initramfs.
const LOWER: &str = "/c2w/lower";
const RW: &str = "/c2w/rw";
const NEW_ROOT: &str = "/c2w/root";
/// The hostname the container sees: what `uname -a` prints in the product's own examples.
pub const HOSTNAME: &str = "localhost";

fn mkdir_p(path: &str) -> Result<(), Fail> {
    fs::create_dir_all(path).context(|| format!("creating {path}"))
}

fn mount(source: &str, target: &str, fstype: &str, flags: libc::c_ulong, data: Option<&str>) -> Result<(), Fail> {
    sys::mount(source, target, fstype, flags, data).context(|| format!("mounting {fstype} {source} on {target}"))
}

/// Mounts that may legitimately be missing from a small kernel (devpts, a second tmpfs).
fn mount_optional(source: &str, target: &str, fstype: &str, flags: libc::c_ulong, data: Option<&str>) {
    // Failure only means the feature is not in this kernel; the container works without it.
    let _ = sys::mount(source, target, fstype, flags, data);
}

/// Points fds 0-2 at /dev/null. The kernel hands init /dev/console (hvc0 on riscv64), and an
/// open hvc0 makes the kernel poll the SBI console every few milliseconds; an initramfs without
/// /dev/console leaves 0-2 closed instead, and then later descriptors would land on 0-2 where
/// the child's dup2 could clobber them. Messages for the console go to /dev/kmsg instead.
fn std_fds_to_null() {
    // SAFETY: a valid C string; dup2/close only touch descriptors 0-2 and the one opened here.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        if null < 0 {
            return;
        }
        for fd in 0..3 {
            if fd != null {
                libc::dup2(null, fd);
            }
        }
        if null > 2 {
            libc::close(null);
        }
    }
}

/// The block driver probes before init runs, but give a slow machine a moment.
fn wait_for_device(path: &str) -> Result<(), Fail> {
    for _ in 0..200 {
        if Path::new(path).exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(Fail(format!("the root image device {path} did not appear (is the disk attached?)")))
}

pub fn boot() -> Result<(), Fail> {
    mkdir_p("/dev")?;
    if let Err(e) = sys::mount("devtmpfs", "/dev", "devtmpfs", 0, None) {
        // EBUSY: the kernel already mounted it (CONFIG_DEVTMPFS_MOUNT with a disk root).
        if e.raw_os_error() != Some(libc::EBUSY) {
            return Err(Fail::io("mounting devtmpfs on /dev", e));
        }
    }
    std_fds_to_null();
    for (fstype, dir) in [("proc", "/proc"), ("sysfs", "/sys")] {
        mkdir_p(dir)?;
        mount_optional(fstype, dir, fstype, 0, None);
    }

    wait_for_device(ROOT_DEVICE)?;
    mkdir_p(LOWER)?;
    mount(ROOT_DEVICE, LOWER, "erofs", libc::MS_RDONLY, None)?;
    mkdir_p(RW)?;
    mount("tmpfs", RW, "tmpfs", 0, Some("mode=0755"))?;
    let (upper, work) = (format!("{RW}/upper"), format!("{RW}/work"));
    mkdir_p(&upper)?;
    mkdir_p(&work)?;
    mkdir_p(NEW_ROOT)?;
    let opts = format!("lowerdir={LOWER},upperdir={upper},workdir={work}");
    mount("overlay", NEW_ROOT, "overlay", 0, Some(&opts))?;

    populate(NEW_ROOT)?;
    switch_root(NEW_ROOT)?;

    // SAFETY: the pointer and length describe a static byte string.
    sys::check(unsafe { libc::sethostname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()) })
        .context(|| "setting the hostname".into())?;
    Ok(())
}

/// The kernel filesystems a container expects, mounted inside the new root. Directories the
/// image lacks are created in the overlay's upper layer.
fn populate(root: &str) -> Result<(), Fail> {
    let p = |rel: &str| format!("{root}/{rel}");
    for dir in ["proc", "sys", "dev"] {
        mkdir_p(&p(dir))?;
    }
    mount("proc", &p("proc"), "proc", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, None)?;
    mount("sysfs", &p("sys"), "sysfs", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, None)?;
    mount("devtmpfs", &p("dev"), "devtmpfs", libc::MS_NOSUID, None)?;
    // devtmpfs is writable and shared with the initramfs /dev: these are harmless there too.
    for dir in ["dev/pts", "dev/shm"] {
        mkdir_p(&p(dir))?;
    }
    mount_optional(
        "devpts",
        &p("dev/pts"),
        "devpts",
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("mode=0620,ptmxmode=0666"),
    );
    mount_optional("shm", &p("dev/shm"), "tmpfs", libc::MS_NOSUID | libc::MS_NODEV, Some("mode=1777"));
    for (link, target) in [
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
    ] {
        // Already there (devtmpfs is shared with the initramfs /dev) is fine.
        let _ = std::os::unix::fs::symlink(target, p(link));
    }
    // An image without /tmp still gets a writable, sticky one; an image's own /tmp is kept (it
    // is writable through the overlay already).
    let tmp = p("tmp");
    if fs::symlink_metadata(&tmp).is_err() {
        mkdir_p(&tmp)?;
        mount("tmpfs", &tmp, "tmpfs", libc::MS_NOSUID | libc::MS_NODEV, Some("mode=1777"))?;
    }
    Ok(())
}

/// Moves the new root onto / and enters it, leaving the initramfs behind (unreachable).
fn switch_root(root: &str) -> Result<(), Fail> {
    std::env::set_current_dir(root).context(|| format!("entering {root}"))?;
    sys::mount(".", "/", "", libc::MS_MOVE, None).context(|| format!("moving {root} onto /"))?;
    // SAFETY: a valid C string literal.
    sys::check(unsafe { libc::chroot(c".".as_ptr()) }).context(|| format!("chroot into {root}"))?;
    std::env::set_current_dir("/").context(|| "entering the new /".into())?;
    Ok(())
}
