//! The last conversion step: hand the VM its bundle and snapshot it into out.wasm.
//!
//! The bundle (kernel, initramfs, root filesystem image, image config, options; the layout
//! emu-core/src/bundle.rs reads) is written to a temporary directory, which wizer preopens as
//! `/c2w` while it runs the VM's `wizer.initialize` export. That export loads the bundle, builds
//! the machine and (unless told not to) boots it to the init's Ready; wizer then writes the
//! instance's memory and globals out as a new module.

use crate::arch::Arch;
use crate::{cpio, embedded};
use anyhow::Context as _;
use std::path::Path;
use wasmtime_wasi::cli::OutputFile;
use wasmtime_wasi::{p1, FsPerms, WasiCtxBuilder};

/// The export the VM binaries define with emu-core's `vm_entry!`.
const INIT_FUNC: &str = "wizer.initialize";
/// The guest path the bundle is preopened at (emu-core's `vm::preinitialize` reads it).
const BUNDLE_GUEST_PATH: &str = "/c2w";
/// What the VM prints before it traps when pre-boot fails.
const PREBOOT_FAILED: &str = "c2w: pre-boot failed: ";

pub struct ModuleInputs<'a> {
    pub arch: Arch,
    /// The root filesystem image (the guest's /dev/vda).
    pub rootfs: &'a [u8],
    pub config: &'a proto::ImageConfig,
    pub memory_mib: u64,
    /// Boot the kernel at conversion time (false: the module boots at every start).
    pub snapshot: bool,
}

/// Builds out.wasm for `inputs` from the pieces embedded in this c2w.
pub fn build_module(inputs: &ModuleInputs) -> anyhow::Result<Vec<u8>> {
    let pieces = embedded::artifacts(inputs.arch)?;
    let initrd = cpio::initramfs(pieces.init).context("building the initramfs")?;
    let work = tempfile::Builder::new().prefix("c2w-").tempdir().context("creating a temporary directory")?;
    let bundle = work.path().join("bundle");
    write_bundle(&bundle, pieces.kernel, &initrd, inputs).context("writing the VM bundle")?;
    preinitialize(pieces.vm, &bundle, &work.path().join("preboot.log"))
}

/// Writes the bundle directory in the layout emu-core's `Bundle::load` reads.
fn write_bundle(dir: &Path, kernel: &[u8], initrd: &[u8], inputs: &ModuleInputs) -> std::io::Result<()> {
    std::fs::create_dir(dir)?;
    std::fs::write(dir.join("kernel"), kernel)?;
    std::fs::write(dir.join("initrd"), initrd)?;
    std::fs::write(dir.join("rootfs"), inputs.rootfs)?;
    std::fs::write(dir.join("config"), inputs.config.encode())?;
    std::fs::write(dir.join("options"), options(inputs))
}

fn options(inputs: &ModuleInputs) -> String {
    format!("memory_mib={}\nsnapshot={}\n", inputs.memory_mib, u8::from(inputs.snapshot))
}

/// Runs `vm`'s init export under wizer with `bundle` preopened as `/c2w` and returns the
/// snapshotted module. The VM's stdout and stderr go to `log`, whose tail explains a failure.
pub fn preinitialize(vm: &[u8], bundle: &Path, log: &Path) -> anyhow::Result<Vec<u8>> {
    let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(OutputFile::new(log_file.try_clone()?))
        .stderr(OutputFile::new(log_file))
        .preopened_dir(bundle, BUNDLE_GUEST_PATH, FsPerms::ReadOnly)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("opening the bundle directory {}", bundle.display()))?;
    let engine = wasmtime::Engine::new(&wasmtime::Config::new())?;
    let mut store = wasmtime::Store::new(&engine, wasi.build_p1());
    let mut wizer = wasmtime_wizer::Wizer::new();
    wizer.init_func(INIT_FUNC);

    // wasmtime-wasi's preview-1 host calls run on tokio; one thread is all they need here.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(wizer.run(&mut store, vm, async |store, module| {
        let mut linker = wasmtime::Linker::new(module.engine());
        p1::add_to_linker_async(&mut linker, |ctx| ctx)?;
        linker.instantiate_async(store, module).await
    }));
    let console = std::fs::read(log).unwrap_or_default();
    let console = String::from_utf8_lossy(&console);
    match result {
        Ok(module) => {
            if !console.is_empty() {
                log::debug!("pre-boot output:\n{console}");
            }
            Ok(module)
        }
        Err(e) => Err(explain(anyhow::Error::from(e), &console)),
    }
}

/// Puts what the VM said first: wizer's own error is a trap with a wasm backtrace.
fn explain(error: anyhow::Error, console: &str) -> anyhow::Error {
    if let Some(reason) = console.lines().rev().find_map(|l| l.strip_prefix(PREBOOT_FAILED)) {
        log::debug!("wizer: {error:#}");
        return anyhow::anyhow!("pre-boot failed: {reason}");
    }
    let tail: Vec<&str> = console.lines().rev().take(20).collect();
    if tail.is_empty() {
        return error.context("pre-initialising the VM failed");
    }
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    error.context(format!("pre-initialising the VM failed; its last output:\n{}", tail.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in VM: its init export reads `/c2w/options` (the first preopen, fd 3) into
    /// memory at 256, or, when the file is missing, prints the VM's failure line and traps.
    const FAKE_VM: &str = r#"
      (module
        (import "wasi_snapshot_preview1" "path_open"
          (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "options")
        (data (i32.const 64) "c2w: pre-boot failed: no options\n")
        (func (export "wizer.initialize")
          ;; path_open(dirfd 3, no follow, "options", oflags 0, rights fd_read, 0, fdflags 0, &fd=16)
          (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 7) (i32.const 0)
                               (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16))
            (then
              ;; iovec at 32 = {64, 33}; fd_write(2, iovec, 1, &n=40); trap
              (i32.store (i32.const 32) (i32.const 64))
              (i32.store (i32.const 36) (i32.const 33))
              (drop (call $fd_write (i32.const 2) (i32.const 32) (i32.const 1) (i32.const 40)))
              unreachable))
          ;; iovec at 32 = {256, 128}; fd_read(fd, iovec, 1, &n=40)
          (i32.store (i32.const 32) (i32.const 256))
          (i32.store (i32.const 36) (i32.const 128))
          (drop (call $fd_read (i32.load (i32.const 16)) (i32.const 32) (i32.const 1) (i32.const 40))))
        (func (export "_start")))
    "#;

    fn inputs(config: &proto::ImageConfig) -> ModuleInputs<'_> {
        ModuleInputs { arch: Arch::Riscv64, rootfs: b"rootfs image", config, memory_mib: 64, snapshot: true }
    }

    #[test]
    fn bundle_is_what_emu_core_loads() {
        let config = proto::ImageConfig { cmd: Some(vec!["sh".into()]), user: "1000".into(), ..Default::default() };
        for snapshot in [false, true] {
            let mut ins = inputs(&config);
            ins.snapshot = snapshot;
            let dir = tempfile::tempdir().unwrap();
            let bundle = dir.path().join("b");
            write_bundle(&bundle, b"kernel image", b"initrd", &ins).unwrap();
            let loaded = emu_core::bundle::Bundle::load(&bundle).unwrap();
            assert_eq!(loaded.kernel, b"kernel image");
            assert_eq!(loaded.initrd, b"initrd");
            assert_eq!(loaded.rootfs, b"rootfs image");
            assert_eq!(loaded.config, config);
            assert_eq!((loaded.memory_mib, loaded.snapshot), (64, snapshot));
        }
    }

    #[test]
    fn snapshot_keeps_what_the_init_export_read_from_the_bundle() {
        let config = proto::ImageConfig::default();
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        write_bundle(&bundle, b"k", b"i", &inputs(&config)).unwrap();
        let vm = wat::parse_str(FAKE_VM).unwrap();
        let out = preinitialize(&vm, &bundle, &dir.path().join("log")).unwrap();

        // The result is a valid module without the init export, whose memory now holds the options.
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, &out).unwrap();
        assert!(module.get_export(INIT_FUNC).is_none());
        assert!(module.get_export("_start").is_some());
        let options = b"memory_mib=64\nsnapshot=1\n";
        assert!(out.windows(options.len()).any(|w| w == options), "options not in the snapshot");
    }

    #[test]
    fn a_failing_preboot_reports_the_vms_own_message() {
        let dir = tempfile::tempdir().unwrap();
        let empty_bundle = dir.path().join("bundle");
        std::fs::create_dir(&empty_bundle).unwrap();
        let vm = wat::parse_str(FAKE_VM).unwrap();
        let err = preinitialize(&vm, &empty_bundle, &dir.path().join("log")).unwrap_err();
        assert_eq!(format!("{err:#}"), "pre-boot failed: no options");
    }

    #[test]
    fn a_module_without_the_init_export_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vm = wat::parse_str("(module (memory 1) (func (export \"_start\")))").unwrap();
        let err = preinitialize(&vm, dir.path(), &dir.path().join("log")).unwrap_err();
        assert!(format!("{err:#}").contains("wizer.initialize"), "{err:#}");
    }

    #[test]
    fn without_embedded_pieces_the_error_says_how_to_get_them() {
        if embedded::artifacts(Arch::Amd64).is_ok() {
            return; // this build has them; nothing to check
        }
        let config = proto::ImageConfig::default();
        let mut ins = inputs(&config);
        ins.arch = Arch::Amd64;
        let err = build_module(&ins).unwrap_err();
        assert!(err.to_string().contains("make build"), "{err}");
    }
}
