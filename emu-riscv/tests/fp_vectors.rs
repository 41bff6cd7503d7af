//! Checks the FPU against reference vectors computed by Berkeley SoftFloat (see
//! tests/fp/gen_vectors.py): every arithmetic operation and conversion in all five rounding
//! modes, result bits and exception flags, executed as real instructions through
//! `fpu::execute` (so the native fast paths are covered as well as the exact slow path).
//!
//! `FP_VECTORS=<file>` runs a larger, freshly generated set instead of the checked-in one.

use emu_riscv::fpu::execute;

const BOX: u64 = 0xffff_ffff_0000_0000;

struct Vector {
    op: String,
    double: bool,
    kind: u32,
    rm: u32,
    a: u64,
    b: u64,
    c: u64,
    want: u64,
    flags: u32,
}

fn parse(line: &str) -> Vector {
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(w.len(), 9, "bad vector line {line:?}");
    let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
    Vector {
        op: w[0].to_string(),
        double: w[1] == "d",
        kind: w[2].parse().unwrap(),
        rm: w[3].parse().unwrap(),
        a: hex(w[4]),
        b: hex(w[5]),
        c: hex(w[6]),
        want: hex(w[7]),
        flags: hex(w[8]) as u32,
    }
}

/// Encodes the vector's instruction: sources f1, f2, f3 (or x11), destination f4 (or x10).
fn encode(v: &Vector) -> u32 {
    let fmt = v.double as u32;
    let r = |funct7: u32, rs2: u32, rs1: u32| (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (v.rm << 12) | 0x53;
    match v.op.as_str() {
        "add" => r(fmt, 2, 1) | (4 << 7),
        "sub" => r(0x04 | fmt, 2, 1) | (4 << 7),
        "mul" => r(0x08 | fmt, 2, 1) | (4 << 7),
        "div" => r(0x0c | fmt, 2, 1) | (4 << 7),
        "sqrt" => r(0x2c | fmt, 0, 1) | (4 << 7),
        "fma" => (3 << 27) | (fmt << 25) | (2 << 20) | (1 << 15) | (v.rm << 12) | (4 << 7) | 0x43,
        // Converting into fmt: FCVT.S.D has rs2 = 1 (from D), FCVT.D.S rs2 = 0 (from S).
        "cvtff" => r(0x20 | fmt, 1 - fmt, 1) | (4 << 7),
        "f2i" => r(0x60 | fmt, v.kind, 1) | (10 << 7),
        "i2f" => r(0x68 | fmt, v.kind, 11) | (4 << 7),
        other => panic!("unknown op {other}"),
    }
}

fn check(v: &Vector) -> Result<(), String> {
    let mut x = [0u64; 32];
    let mut f = [0u64; 32];
    let mut fcsr = 0u32;
    // The source format of cvtff is the other one.
    let src_double = if v.op == "cvtff" { !v.double } else { v.double };
    let load = |bits: u64| if src_double { bits } else { bits | BOX };
    f[1] = load(v.a);
    f[2] = load(v.b);
    f[3] = load(v.c);
    x[11] = v.a;
    execute(encode(v), &mut x, &mut f, &mut fcsr).map_err(|_| "illegal instruction".to_string())?;
    let got = match v.op.as_str() {
        "f2i" => x[10],
        _ if v.double => f[4],
        _ => {
            if f[4] >> 32 != 0xffff_ffff {
                return Err(format!("single result not NaN-boxed: {:#x}", f[4]));
            }
            f[4] & 0xffff_ffff
        }
    };
    if (got, fcsr) != (v.want, v.flags) {
        return Err(format!("got {got:#x} flags {fcsr:#x}, want {:#x} flags {:#x}", v.want, v.flags));
    }
    Ok(())
}

#[test]
fn softfloat_reference_vectors() {
    let path = std::env::var("FP_VECTORS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fp/vectors.txt").to_string());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        count += 1;
        if let Err(e) = check(&parse(line)) {
            failures.push(format!("{line}: {e}"));
        }
    }
    assert!(count >= 1000, "only {count} vectors in {path}");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors failed:\n{}",
        failures.len(),
        failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
