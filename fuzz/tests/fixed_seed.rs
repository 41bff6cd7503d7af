//! The fuzz harnesses on pseudo-random inputs from a fixed seed: random bytes, and mutations
//! (bit flips, byte overwrites, splices) of well-formed seeds such as a real tar layer. Runs
//! on stable Rust in `cargo test`; `FUZZ_SECONDS=N` runs each target for N seconds instead of
//! a fixed count (what `make fuzz` does where cargo-fuzz is unavailable). A panic fails the
//! test and prints the input's seed and size; `FUZZ_SEED` replays from another seed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        if v.is_empty() {
            v = rng.bytes(16);
        }
        let i = rng.below(v.len());
        match rng.below(5) {
            0 => v[i] ^= 1 << rng.below(8),
            1 => v[i] = rng.next() as u8,
            2 => v[i] = [0, 0xff, 0x7f, 0x80, b'0', b'/', b'.'][rng.below(7)],
            3 => v.truncate(i),
            _ => {
                let n = rng.below(64);
                let chunk = rng.bytes(n);
                v.splice(i..i, chunk);
            }
        }
    }
    v
}

/// Runs `target` on inputs until `count` are done (or FUZZ_SECONDS pass).
fn fuzz(name: &str, seeds: &[Vec<u8>], max_len: usize, count: u64, target: fn(&[u8])) {
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_c2c2_u64);
    let deadline = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).map(Duration::from_secs);
    let start = Instant::now();
    let mut rng = Rng(seed);
    let mut n = 0u64;
    // A hang is a failure too: a watchdog reports the seed that replays the stuck input.
    static PROGRESS: AtomicU64 = AtomicU64::new(0);
    static CURRENT: AtomicU64 = AtomicU64::new(0);
    let who = name.to_string();
    std::thread::spawn(move || {
        let mut last = u64::MAX;
        loop {
            std::thread::sleep(Duration::from_secs(10));
            let p = PROGRESS.load(Ordering::Relaxed);
            if p == last {
                eprintln!(
                    "{who}: an input ran for over 10 s; replay with FUZZ_SEED={}",
                    CURRENT.load(Ordering::Relaxed)
                );
                std::process::exit(1);
            }
            last = p;
        }
    });
    loop {
        CURRENT.store(rng.0, Ordering::Relaxed);
        PROGRESS.fetch_add(1, Ordering::Relaxed);
        match deadline {
            Some(d) if start.elapsed() >= d => break,
            None if n >= count => break,
            _ => {}
        }
        let input = if seeds.is_empty() || rng.below(4) == 0 {
            let len = rng.below(max_len);
            rng.bytes(len)
        } else {
            let pick = rng.below(seeds.len());
            mutate(&mut rng, &seeds[pick])
        };
        let state = rng.0;
        if std::panic::catch_unwind(|| target(&input)).is_err() {
            let path = std::env::temp_dir().join(format!("c2w-fuzz-{name}-crash.bin"));
            let _ = std::fs::write(&path, &input);
            panic!(
                "{name}: input {n} (rng state {state:#x}, {} bytes) panicked; saved to {}",
                input.len(),
                path.display()
            );
        }
        n += 1;
    }
    eprintln!("{name}: {n} inputs in {:.1} s", start.elapsed().as_secs_f64());
}

/// A small well-formed ustar layer: a directory, a file, a symlink, a hardlink, a whiteout.
fn tar_seed() -> Vec<u8> {
    fn header(name: &str, kind: u8, size: usize, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000755");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }
    let mut t = Vec::new();
    t.extend(header("etc/", b'5', 0, ""));
    t.extend(header("etc/passwd", b'0', 5, ""));
    let mut body = b"root\n".to_vec();
    body.resize(512, 0);
    t.extend(body);
    t.extend(header("etc/link", b'2', 0, "passwd"));
    t.extend(header("etc/hard", b'1', 0, "etc/passwd"));
    t.extend(header("etc/.wh.gone", b'0', 0, ""));
    t.extend(header("etc/.wh..wh..opq", b'0', 0, ""));
    t.extend(vec![0u8; 1024]);
    t
}

#[test]
fn layers() {
    fuzz("layers", &[tar_seed()], 4096, 3000, c2w_fuzz::layers);
}

#[test]
fn oci_json() {
    let seeds = [
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"platform":{"architecture":"riscv64","os":"linux"}}]}"#.to_vec(),
        br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:11","size":3}]}"#.to_vec(),
        br#"{"architecture":"riscv64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"User":"1:1","WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:00"]}}"#.to_vec(),
    ];
    fuzz("oci_json", &seeds, 512, 20000, c2w_fuzz::oci_json);
}

#[test]
fn virtqueue() {
    fuzz("virtqueue", &[], 4096, 3000, c2w_fuzz::virtqueue);
}

#[test]
fn p9() {
    // Messages with the class byte's high bit set are framed by the harness: type, tag, body.
    let walk = [0x80 | 20, 110, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 4, 0, b'f', b'i', b'l', b'e'].to_vec();
    let open = [0x80 | 7, 12, 3, 0, 1, 0, 0, 0].to_vec();
    let read = [0x80 | 19, 116, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0].to_vec();
    let seeds = [walk.clone(), [walk.clone(), open.clone(), read].concat(), [walk, open].concat()];
    fuzz("p9", &seeds, 512, 3000, c2w_fuzz::p9);
}

#[test]
fn riscv_hart() {
    fuzz("riscv_hart", &[], 2048, 1000, c2w_fuzz::riscv_hart);
}

#[test]
fn x86_cpu() {
    fuzz("x86_cpu", &[], 2048, 500, c2w_fuzz::x86_cpu);
}
