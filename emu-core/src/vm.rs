//! The entry points every VM binary shares: the wizer pre-init export and `main`.
//!
//! A VM binary calls [`vm_entry!`] with a function that builds its machine from a [`Bundle`].
//! - Under wizer (conversion time), `wizer.initialize` loads the bundle from `/c2w`, builds
//!   the machine and, unless the bundle says otherwise, boots it until the init is ready. The
//!   machine then lives in linear memory, and the snapshot keeps it.
//! - At run time `main` takes that machine, reads the WASI args, env and preopens, and runs
//!   one request.
//! - Natively (tests, benchmarks) `main` takes `--bundle DIR [--dir HOST::GUEST]...
//!   [--env K=V]... [--] [run args]` and boots first.

use crate::bundle::Bundle;
use crate::session::{self, Machine, RunArgs, SharedDir};
use crate::{Host, StdHost};
use proto::ImageConfig;
use std::cell::RefCell;
use std::path::PathBuf;

/// Generous upper bound on pre-boot work; a healthy boot takes a few hundred million.
pub const MAX_PREBOOT_INSTRUCTIONS: u64 = 20_000_000_000;

pub struct VmState {
    pub machine: Box<dyn Machine>,
    pub image: ImageConfig,
    pub booted: bool,
}

thread_local! {
    static STATE: RefCell<Option<VmState>> = const { RefCell::new(None) };
}

pub type BuildFn = fn(&mut Bundle) -> Result<Box<dyn Machine>, String>;

/// What each machine's [`BuildFn`] does: boots `new` on the bundle's kernel, initrd and memory
/// size with `cmdline` (plus what [`kernel_cmdline`] adds), handing it the root image.
pub fn build_machine<M: Machine + 'static, E: std::fmt::Display>(
    b: &mut Bundle,
    cmdline: &str,
    new: impl FnOnce(crate::BootImage) -> Result<M, E>,
) -> Result<Box<dyn Machine>, String> {
    let cmdline = kernel_cmdline(cmdline, b.snapshot);
    let m = new(crate::BootImage {
        kernel: &b.kernel,
        initrd: &b.initrd,
        rootfs: std::mem::take(&mut b.rootfs),
        memory_mib: b.memory_mib,
        cmdline: &cmdline,
    })
    .map_err(|e| e.to_string())?;
    Ok(Box::new(m))
}

fn prepare(mut bundle: Bundle, build: BuildFn, host: &mut dyn Host) -> Result<VmState, String> {
    let mut machine = build(&mut bundle)?;
    // The machine has copied the kernel and initrd into guest RAM. Freed heap memory keeps its
    // bytes, and the snapshot stores every non-zero byte of linear memory: zero them first.
    bundle.scrub_boot_files();
    let mut booted = false;
    if bundle.snapshot {
        session::preboot(machine.as_mut(), host, MAX_PREBOOT_INSTRUCTIONS).map_err(|e| e.to_string())?;
        machine.drop_caches();
        booted = true;
    }
    Ok(VmState { machine, image: bundle.config, booted })
}

/// A VM's kernel command line: its own `base`, `c2w_snapshot=1` when the run will be
/// snapshotted after pre-boot (the guest init then zeroes free memory before it reports ready,
/// which keeps the snapshot small), then whatever `C2W_KERNEL_ARGS` adds (for debugging a
/// boot, e.g. dropping `quiet`).
pub fn kernel_cmdline(base: &str, snapshot: bool) -> String {
    let mut line = base.to_string();
    if snapshot {
        line.push_str(" c2w_snapshot=1");
    }
    match std::env::var("C2W_KERNEL_ARGS") {
        Ok(extra) if !extra.is_empty() => format!("{line} {extra}"),
        _ => line,
    }
}

/// The body of the `wizer.initialize` export.
pub fn preinitialize(build: BuildFn) {
    let mut host = StdHost::new();
    let result = Bundle::load(std::path::Path::new("/c2w"))
        .map_err(|e| e.to_string())
        .and_then(|b| prepare(b, build, &mut host));
    match result {
        Ok(state) => STATE.with(|s| *s.borrow_mut() = Some(state)),
        Err(e) => {
            eprintln!("c2w: pre-boot failed: {e}");
            // Trapping makes wizer fail the conversion with our message above.
            std::process::abort();
        }
    }
}

struct NativeArgs {
    bundle: Option<PathBuf>,
    dirs: Vec<SharedDir>,
    env: Vec<String>,
    rest: Vec<String>,
}

fn parse_native(args: &[String]) -> Result<NativeArgs, String> {
    let mut n = NativeArgs { bundle: None, dirs: Vec::new(), env: Vec::new(), rest: Vec::new() };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = || -> Result<String, String> {
            i += 1;
            args.get(i).cloned().ok_or(format!("{a} needs a value"))
        };
        match a {
            "--bundle" => n.bundle = Some(PathBuf::from(value()?)),
            "--dir" => {
                let v = value()?;
                let (h, g) = v.split_once("::").unwrap_or((&v, &v));
                n.dirs.push(SharedDir { host_root: PathBuf::from(h), guest_path: g.to_string() });
            }
            "--env" => n.env.push(value()?),
            "--" => {
                n.rest = args[i + 1..].to_vec();
                return Ok(n);
            }
            _ => {
                n.rest = args[i..].to_vec();
                return Ok(n);
            }
        }
        i += 1;
    }
    Ok(n)
}

/// The WASI preopens (other than ".") as shared directories: the preopen's name is both the
/// guest mount point and the path std::fs resolves through that preopen.
#[cfg(target_os = "wasi")]
fn wasi_shared_dirs() -> Vec<SharedDir> {
    let mut dirs = Vec::new();
    for fd in 3u32.. {
        // SAFETY: plain WASI calls with buffers we own.
        let prestat = match unsafe { wasi::fd_prestat_get(fd) } {
            Ok(p) => p,
            Err(_) => break,
        };
        // SAFETY: reading the union's dir variant; tag 0 is the only one WASI defines.
        let len = unsafe { prestat.u.dir.pr_name_len };
        let mut name = vec![0u8; len];
        if unsafe { wasi::fd_prestat_dir_name(fd, name.as_mut_ptr(), len) }.is_err() {
            continue;
        }
        let name = String::from_utf8_lossy(&name).trim_end_matches('\0').to_string();
        if !name.starts_with('/') || name == "/" {
            log::warn!("preopen {name:?} has no absolute guest path; not shared");
            continue;
        }
        dirs.push(SharedDir { host_root: PathBuf::from(&name), guest_path: name });
    }
    dirs
}

/// The body of `main`. Returns the process exit status.
pub fn main(build: BuildFn) -> i32 {
    let mut host = StdHost::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let state = STATE.with(|s| s.borrow_mut().take());
    let (state, run_args, dirs, env) = match state {
        Some(state) => {
            #[cfg(target_os = "wasi")]
            let dirs = wasi_shared_dirs();
            #[cfg(not(target_os = "wasi"))]
            let dirs = Vec::new();
            let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            (state, args, dirs, env)
        }
        None => {
            let native = match parse_native(&args) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("c2w-vm: {e}");
                    return 2;
                }
            };
            let Some(dir) = native.bundle else {
                eprintln!("c2w-vm: this VM was not pre-initialised; run it as `--bundle DIR [--dir HOST::GUEST] [--env K=V] [--] [ARGS]` or convert an image with c2w");
                return 2;
            };
            let mut bundle = match Bundle::load(&dir) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("c2w-vm: {e}");
                    return 2;
                }
            };
            // Natively nothing is snapshotted: boot below, without the work that only makes a
            // snapshot smaller (the init zeroing free memory, dropping decode caches).
            bundle.snapshot = false;
            let state = match prepare(bundle, build, &mut host) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("c2w-vm: {e}");
                    return 2;
                }
            };
            (state, native.rest, native.dirs, native.env)
        }
    };
    let mut state = state;
    let run_args = match RunArgs::parse(&run_args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("c2w: {e}");
            return session::EXIT_INIT_ERROR;
        }
    };
    if !state.booted {
        if let Err(e) = session::preboot(state.machine.as_mut(), &mut host, MAX_PREBOOT_INSTRUCTIONS) {
            eprintln!("c2w: boot failed: {e}");
            return session::EXIT_INIT_ERROR;
        }
    }
    session::run(state.machine.as_mut(), &mut host, &state.image, &run_args, env, &dirs)
}

/// Defines the `wizer.initialize` export (on wasm32-wasip1) and `main` of a VM binary.
#[macro_export]
macro_rules! vm_entry {
    ($build:expr) => {
        #[cfg(target_os = "wasi")]
        #[export_name = "wizer.initialize"]
        pub extern "C" fn wizer_initialize() {
            $crate::preinit::initialize(|| $crate::vm::preinitialize($build));
        }

        fn main() {
            let code = $crate::vm::main($build);
            std::process::exit(code);
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_tells_the_init_about_the_snapshot() {
        // C2W_KERNEL_ARGS is not set in the test environment.
        assert_eq!(super::kernel_cmdline("quiet", true), "quiet c2w_snapshot=1");
        assert_eq!(super::kernel_cmdline("quiet", false), "quiet");
    }
}
