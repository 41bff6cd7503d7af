//! Inputs that once crashed, hung or overflowed a harness, replayed on every `cargo test`:
//! `regressions/<target>/<name>` holds the minimized input (what `cargo fuzz tmin` or
//! libFuzzer's -minimize_crash wrote), named after the bug. Add a file there with each fix;
//! the test fails if any of them panics again (overflow checks are on in this crate's release
//! profile, as in the libFuzzer builds).

use std::path::Path;

fn harness(target: &str) -> Option<fn(&[u8])> {
    Some(match target {
        "layers" => c2w_fuzz::layers,
        "oci_json" => c2w_fuzz::oci_json,
        "virtqueue" => c2w_fuzz::virtqueue,
        "p9" => c2w_fuzz::p9,
        "riscv_hart" => c2w_fuzz::riscv_hart,
        "x86_cpu" => c2w_fuzz::x86_cpu,
        _ => return None,
    })
}

#[test]
fn saved_inputs_still_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).expect("fuzz/regressions/") {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        // A misspelt directory would otherwise be skipped without a word.
        let run = harness(&target).unwrap_or_else(|| panic!("{}: not a fuzz target", dir.display()));
        for input in std::fs::read_dir(&dir).unwrap() {
            let path = input.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            eprintln!("{target}: {} ({} bytes)", path.display(), data.len());
            run(&data);
            replayed += 1;
        }
    }
    // Guards against the directory going missing from a checkout (then nothing is tested).
    assert!(replayed > 0, "no inputs under {}", root.display());
}
