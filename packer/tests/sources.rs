//! Every local image source, good and bad, through `load_image` (resolve + apply layers): the
//! part of c2w before the root image is written.

mod common;

use std::fs;

use common::*;
use packer::arch::Arch;
use packer::convert::load_image;
use packer::layers::Limits;
use serde_json::json;

fn base_layers() -> Vec<Vec<u8>> {
    vec![
        Layer::new().dir("bin").file("bin/busybox", b"BB").symlink("bin/sh", "busybox").file("etc/motd", b"one").tar(),
        Layer::new().file("etc/motd", b"two").file("etc/.wh.gone", b"").tar(),
    ]
}

fn run() -> serde_json::Value {
    json!({"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/bin"], "WorkingDir": "/home/user", "User": "user"})
}

/// The `c2w: error: ...` text for a failed load.
fn err(spec: &str, arch: Arch) -> String {
    match load_image(spec, arch, Limits::default()) {
        Ok(_) => panic!("{spec} loaded"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn oci_layout_with_and_without_tag() {
    let d = tempfile::tempdir().unwrap();
    let img = image("riscv64", &base_layers(), run(), Some("latest"));
    write_layout(d.path(), &[&img]);
    let dir = d.path().display();
    for spec in [format!("oci:{dir}"), format!("oci:{dir}:latest")] {
        let (tree, config) = load_image(&spec, Arch::Riscv64, Limits::default()).unwrap();
        assert_eq!(file(&tree, "etc/motd").unwrap(), b"two");
        assert_eq!(file(&tree, "bin/busybox").unwrap(), b"BB");
        assert_eq!(config.run.entrypoint, Some(vec!["/bin/sh".into(), "-c".into()]));
        assert_eq!(config.run.user, "user");
        assert_eq!(config.run.working_dir, "/home/user");
        assert_eq!(config.run.env, ["PATH=/bin"]);
    }
    let e = err(&format!("oci:{dir}:nope"), Arch::Riscv64);
    assert!(e.contains("no image tagged \"nope\"") && e.contains("tags: latest"), "{e}");
}

#[test]
fn oci_layout_with_one_image_per_arch() {
    let d = tempfile::tempdir().unwrap();
    let amd = image("amd64", &[Layer::new().file("arch", b"amd64").tar()], json!({}), Some("latest"));
    let rv = image("riscv64", &[Layer::new().file("arch", b"riscv64").tar()], json!({}), Some("latest"));
    write_layout(d.path(), &[&amd, &rv]);
    let spec = format!("oci:{}", d.path().display());
    for (arch, want) in [(Arch::Amd64, &b"amd64"[..]), (Arch::Riscv64, b"riscv64")] {
        let (tree, _) = load_image(&spec, arch, Limits::default()).unwrap();
        assert_eq!(file(&tree, "arch").unwrap(), want);
    }
}

#[test]
fn oci_layout_of_the_wrong_arch_names_the_fix() {
    let d = tempfile::tempdir().unwrap();
    write_layout(d.path(), &[&image("amd64", &base_layers(), json!({}), Some("latest"))]);
    let spec = format!("oci:{}", d.path().display());
    let e = err(&spec, Arch::Riscv64);
    assert!(e.ends_with("is linux/amd64, not linux/riscv64; use --target-arch amd64"), "{e}");
}

#[test]
fn oci_archive() {
    let d = tempfile::tempdir().unwrap();
    let layout = d.path().join("layout");
    write_layout(&layout, &[&image("amd64", &base_layers(), run(), Some("v1"))]);
    let archive = d.path().join("img.tar");
    tar_dir(&layout, &archive);
    for spec in [format!("oci-archive:{}", archive.display()), format!("oci-archive:{}:v1", archive.display())] {
        let (tree, config) = load_image(&spec, Arch::Amd64, Limits::default()).unwrap();
        assert_eq!(file(&tree, "etc/motd").unwrap(), b"two");
        assert_eq!(config.run.cmd, Some(vec!["echo hi".into()]));
    }
}

#[test]
fn docker_archive_plain_and_gzipped_layers() {
    let d = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let path = d.path().join(format!("img-{gz}.tar"));
        write_docker_archive(&path, "riscv64", &base_layers(), run(), gz);
        let (tree, config) =
            load_image(&format!("docker-archive:{}", path.display()), Arch::Riscv64, Limits::default()).unwrap();
        assert_eq!(file(&tree, "etc/motd").unwrap(), b"two");
        assert_eq!(config.run.user, "user");
        let e = err(&format!("docker-archive:{}", path.display()), Arch::Amd64);
        assert!(e.ends_with("is linux/riscv64, not linux/amd64; use --target-arch riscv64"), "{e}");
    }
}

#[test]
fn missing_sources() {
    let e = err("oci:/nonexistent/c2w-layout", Arch::Amd64);
    assert!(e.contains("/nonexistent/c2w-layout is not a directory"), "{e}");
    let e = err("docker-archive:/nonexistent/img.tar", Arch::Amd64);
    assert!(e.contains("/nonexistent/img.tar: no such file"), "{e}");
    let d = tempfile::tempdir().unwrap();
    let e = err(&format!("oci:{}", d.path().display()), Arch::Amd64);
    assert!(e.contains("no index.json"), "{e}");
}

#[test]
fn a_layer_blob_that_does_not_match_its_digest_is_named() {
    let d = tempfile::tempdir().unwrap();
    let img = image("amd64", &base_layers(), json!({}), None);
    write_layout(d.path(), &[&img]);
    // Same length, different bytes, in the file named by the digest.
    let bad = &img.layer_blobs[1];
    let hex = &sha(bad)[7..];
    let mut tampered = gzip(&Layer::new().file("etc/motd", b"TWO").file("etc/.wh.gone", b"").tar());
    tampered.resize(bad.len(), 0);
    fs::write(d.path().join("blobs/sha256").join(hex), &tampered).unwrap();
    let e = err(&format!("oci:{}", d.path().display()), Arch::Amd64);
    assert!(e.contains(&format!("blob sha256:{hex}")) && e.contains("does not match its digest"), "{e}");
}

#[test]
fn a_truncated_gzip_layer_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    let tars = vec![Layer::new().file("big", &vec![7u8; 100_000]).tar()];
    let mut img = image("amd64", &tars, json!({}), None);
    // Rebuild the image around a truncated blob whose descriptor matches it.
    let cut = img.layer_blobs[0][..img.layer_blobs[0].len() / 2].to_vec();
    let config = config("amd64", &tars, json!({}));
    let man = manifest(&config, std::slice::from_ref(&cut));
    img.blobs = vec![config, man.clone(), cut.clone()];
    img.entry = descriptor("application/vnd.oci.image.manifest.v1+json", &man);
    write_layout(d.path(), &[&img]);
    let e = err(&format!("oci:{}", d.path().display()), Arch::Amd64);
    assert!(e.contains(&format!("layer 1/1 ({})", sha(&cut))) && e.contains("not a readable tar stream"), "{e}");
}

#[test]
fn a_missing_config_blob_is_named() {
    let d = tempfile::tempdir().unwrap();
    let img = image("amd64", &base_layers(), json!({}), None);
    write_layout(d.path(), &[&img]);
    fs::remove_file(d.path().join("blobs/sha256").join(&sha(&img.config)[7..])).unwrap();
    let e = err(&format!("oci:{}", d.path().display()), Arch::Amd64);
    assert!(e.contains(&format!("blob {} is missing", sha(&img.config))), "{e}");
}

#[test]
fn a_diff_id_mismatch_is_corruption() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("img.tar");
    // The config's diff ids are of other layers than the archive holds.
    let tars = base_layers();
    let mut other = tars.clone();
    other[0] = Layer::new().file("x", b"y").tar();
    write_docker_archive_with(&path, config("amd64", &other, json!({})), &tars, true);
    let e = err(&format!("docker-archive:{}", path.display()), Arch::Amd64);
    assert!(e.contains("layer 1/2") && e.contains("but the config says"), "{e}");
}

#[test]
fn limits_apply_across_layers() {
    let d = tempfile::tempdir().unwrap();
    write_layout(d.path(), &[&image("amd64", &base_layers(), json!({}), None)]);
    let spec = format!("oci:{}", d.path().display());
    let e = match load_image(&spec, Arch::Amd64, Limits { max_unpacked_bytes: 1 << 20, max_entries: 4 }) {
        Ok(_) => panic!("loaded"),
        Err(e) => format!("{e:#}"),
    };
    assert!(e.contains("layer 2/2") && e.contains("raise --max-entries"), "{e}");
}

#[test]
fn unknown_layer_media_type_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut img = image("amd64", &base_layers(), json!({}), None);
    let mut man: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
    man["layers"][0]["mediaType"] = json!("application/vnd.example.weird");
    let man = serde_json::to_vec(&man).unwrap();
    img.blobs.push(man.clone());
    img.entry = descriptor("application/vnd.oci.image.manifest.v1+json", &man);
    write_layout(d.path(), &[&img]);
    let e = err(&format!("oci:{}", d.path().display()), Arch::Amd64);
    assert!(e.contains("application/vnd.example.weird") && e.contains("cannot unpack"), "{e}");
}
