//! The `c2w` command's edge: exit statuses and the one-line error, and no output file left
//! behind when a conversion fails.

mod common;

use std::process::{Command, Output};

use common::*;
use serde_json::json;

fn c2w(args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_c2w")).args(args).current_dir(cwd).output().unwrap()
}

/// The error line, checking there is exactly one and nothing after it.
fn error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("c2w: error: ")).collect();
    assert_eq!(errors.len(), 1, "stderr: {stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    errors[0].to_string()
}

#[test]
fn bad_flags_exit_2() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(c2w(&["--bogus", "x"], d.path()).status.code(), Some(2));
    assert_eq!(c2w(&["--target-arch", "arm64", "x"], d.path()).status.code(), Some(2));
    assert_eq!(c2w(&["--memory", "lots", "x"], d.path()).status.code(), Some(2));
    assert_eq!(c2w(&[], d.path()).status.code(), Some(2));
    let v = c2w(&["--version"], d.path());
    assert_eq!(v.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("c2w "));
}

/// The root image and the guest RAM each live in one block of the VM's wasm32 memory, which is
/// under 2 GiB: larger settings are refused before any work, naming the flag and the most.
#[test]
fn sizes_the_vm_cannot_hold_are_refused_up_front() {
    let d = tempfile::tempdir().unwrap();
    for size in ["3G", "16G", "2049M"] {
        let out = c2w(&["--max-unpacked-size", size, "oci:/nonexistent/layout"], d.path());
        assert_eq!(out.status.code(), Some(2), "{size}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--max-unpacked-size") && stderr.contains("is more than 2G, the most a module can hold"),
            "{stderr}"
        );
    }
    let out = c2w(&["--memory", "2048", "oci:/nonexistent/layout"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("32..=2047"), "{}", String::from_utf8_lossy(&out.stderr));
    // The help gives the default and why it is also the most.
    let help = String::from_utf8_lossy(&c2w(&["--help"], d.path()).stdout).into_owned();
    assert!(
        help.contains(
            "at most 2G, as the VM (wasm32) holds the root filesystem image in one block of memory [default: 2G]"
        ),
        "{help}"
    );
    // At the most, the flags are accepted: the failure is the missing image's.
    let out = c2w(&["--max-unpacked-size", "2G", "--memory", "2047", "oci:/nonexistent/layout"], d.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(error_line(&out).contains("/nonexistent/layout is not a directory"));
}

#[test]
fn a_missing_image_is_one_error_line_and_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let out = c2w(&["oci:/nonexistent/layout", "x.wasm"], d.path());
    assert_eq!(out.status.code(), Some(1));
    let line = error_line(&out);
    assert!(line.contains("/nonexistent/layout is not a directory"), "{line}");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "no output or temp file");
}

#[test]
fn a_wrong_arch_image_says_which_flag_fixes_it() {
    let d = tempfile::tempdir().unwrap();
    let layout = d.path().join("img");
    write_layout(&layout, &[&image("riscv64", &[Layer::new().file("a", b"b").tar()], json!({}), Some("latest"))]);
    let spec = format!("oci:{}", layout.display());
    let out = c2w(&["--target-arch", "amd64", &spec, "out.wasm"], d.path());
    assert_eq!(out.status.code(), Some(1));
    let line = error_line(&out);
    assert!(line.ends_with("is linux/riscv64, not linux/amd64; use --target-arch riscv64"), "{line}");
    assert!(!d.path().join("out.wasm").exists());
}

#[test]
fn an_unwritable_output_fails_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let out = c2w(&["oci:/nonexistent/layout", "no/such/dir/out.wasm"], d.path());
    assert_eq!(out.status.code(), Some(1));
    let line = error_line(&out);
    assert!(line.contains("directory no/such/dir does not exist"), "{line}");
}
