//! The images the acceptance suite converts (shared/acceptance/fixtures.sh) must load. They
//! are built from Debian packages outside this repo, so the test runs where they exist
//! ($FIXTURES or ~/.cache/c2w-acceptance) and says so when they do not.

mod common;

use std::path::PathBuf;

use common::file;
use packer::arch::Arch;
use packer::convert::load_image;
use packer::layers::Limits;

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("FIXTURES")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/c2w-acceptance")))?;
    dir.join(".done-v2").exists().then_some(dir)
}

#[test]
fn acceptance_fixtures_load_for_both_arches() {
    let Some(fx) = fixtures() else {
        eprintln!("skipping: no acceptance fixtures (run shared/acceptance/fixtures.sh to build them)");
        return;
    };
    for (arch, name) in [(Arch::Amd64, "amd64"), (Arch::Riscv64, "riscv64")] {
        let oci = format!("oci:{}/busybox-{name}.oci", fx.display());
        let docker = format!("docker-archive:{}/busybox-{name}.docker.tar", fx.display());
        let tagged = format!("oci:{}/busybox-{name}.oci:latest", fx.display());
        for spec in [&oci, &docker, &tagged] {
            let (tree, config) = load_image(spec, arch, Limits::default()).unwrap_or_else(|e| panic!("{spec}: {e:#}"));
            let motd = file(&tree, "etc/motd").unwrap_or_else(|| panic!("{spec}: no /etc/motd"));
            assert_eq!(String::from_utf8_lossy(&motd), format!("c2w acceptance fixture ({name})\n"));
            assert!(file(&tree, "bin/busybox").is_some_and(|b| b.len() > 100_000), "{spec}: busybox");
            assert_eq!(config.run.cmd, Some(vec!["/bin/sh".to_string()]), "{spec}");
            assert!(config.run.env.contains(&"FIXTURE=busybox".to_string()), "{spec}");
        }
        let cfg = format!("oci:{}/busybox-cfg-{name}.oci", fx.display());
        let (_, config) = load_image(&cfg, arch, Limits::default()).unwrap();
        assert_eq!((config.run.user.as_str(), config.run.working_dir.as_str()), ("user", "/home/user"));
        let other = if arch == Arch::Amd64 { Arch::Riscv64 } else { Arch::Amd64 };
        let e = load_image(&oci, other, Limits::default()).err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(e.contains(&format!("use --target-arch {name}")), "{e}");
    }
}
