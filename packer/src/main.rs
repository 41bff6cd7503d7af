//! `c2w`: converts a container image into a WebAssembly module. This is the command-line edge:
//! flags, logging, and the one-line error; the work is in the packer library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use packer::arch::Arch;
use packer::convert::{self, Options};
use packer::layers::Limits;

#[derive(Parser, Debug)]
#[command(name = "c2w", version, about = "Convert a container image into a WebAssembly module")]
struct Cli {
    /// Architecture of the image and of the emulated machine: amd64 or riscv64.
    #[arg(long, value_name = "ARCH", default_value = "amd64")]
    target_arch: Arch,

    /// Guest memory in MiB; at most 2047, as the VM (wasm32) holds it in one block of memory.
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(32..=2047))]
    memory: u64,

    /// Do not boot the kernel at conversion time; the module boots at every start instead.
    #[arg(long)]
    no_snapshot: bool,

    /// Log more (repeat for more detail); C2W_LOG=debug does the same with module filters.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Refuse images whose files add up to more than this (bytes, or with K/M/G suffix); at most
    /// 2G, as the VM (wasm32) holds the root filesystem image in one block of memory.
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_max_unpacked)]
    max_unpacked_size: u64,

    /// Refuse images with more tar entries than this, over all layers.
    #[arg(long, value_name = "N", default_value_t = 2_000_000)]
    max_entries: u64,

    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, or a registry
    /// reference such as alpine:3.20 or 127.0.0.1:5000/x:y.
    image: String,

    /// Where to write the module.
    #[arg(default_value = "out.wasm")]
    output: PathBuf,
}

/// `123`, `64K`, `512M`, `16G`, `1GiB` -> bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("iB").or_else(|| t.strip_suffix('B')).unwrap_or(t);
    let (num, shift) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 30),
        Some('T' | 't') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 =
        num.trim().parse().map_err(|_| format!("{s:?} is not a size (bytes, or a number with K, M, G or T)"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

/// A size for `--max-unpacked-size`: anything over what a module can hold is refused here,
/// since an image that large could only fail after being built in memory.
fn parse_max_unpacked(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if n > convert::MAX_UNPACKED_SIZE {
        return Err(format!(
            "{s:?} is more than 2G, the most a module can hold: the VM (wasm32) keeps the root filesystem image \
             as one block of its memory, which is under 2 GiB"
        ));
    }
    Ok(n)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("C2W_LOG", default)).init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let opts = Options {
        image: cli.image,
        output: cli.output,
        arch: cli.target_arch,
        memory_mib: cli.memory,
        snapshot: !cli.no_snapshot,
        limits: Limits { max_unpacked_bytes: cli.max_unpacked_size, max_entries: cli.max_entries },
    };
    match convert::convert(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole chain of causes: "c2w: error: what: why: detail".
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("c2w: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("16G"), Ok(16 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("4kB"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn max_unpacked_size_defaults_to_the_most_a_module_holds() {
        let cli = Cli::try_parse_from(["c2w", "x"]).unwrap();
        assert_eq!(cli.max_unpacked_size, 2 << 30);
        assert_eq!(cli.max_unpacked_size, convert::MAX_UNPACKED_SIZE);
        assert_eq!(Cli::try_parse_from(["c2w", "--max-unpacked-size", "2G", "x"]).unwrap().max_unpacked_size, 2 << 30);
        assert_eq!(Cli::try_parse_from(["c2w", "--max-unpacked-size", "10K", "x"]).unwrap().max_unpacked_size, 10240);
        for too_big in ["2049M", "3G", "16G"] {
            let err = Cli::try_parse_from(["c2w", "--max-unpacked-size", too_big, "x"]).unwrap_err().to_string();
            assert!(err.contains("--max-unpacked-size") && err.contains("the most a module can hold"), "{err}");
        }
        assert!(Cli::try_parse_from(["c2w", "--memory", "2047", "x"]).is_ok());
        assert!(Cli::try_parse_from(["c2w", "--memory", "2048", "x"]).is_err());
    }

    #[test]
    fn flags_parse() {
        let cli =
            Cli::try_parse_from(["c2w", "--target-arch", "riscv64", "--memory", "512", "--no-snapshot", "alpine"])
                .unwrap();
        assert_eq!((cli.target_arch, cli.memory, cli.no_snapshot), (Arch::Riscv64, 512, true));
        assert_eq!(cli.output, PathBuf::from("out.wasm"));
        assert!(Cli::try_parse_from(["c2w", "--target-arch", "arm64", "x"]).is_err());
        assert!(Cli::try_parse_from(["c2w"]).is_err());
    }
}
