//! Registry pulls against a real registry: Debian's `docker-registry` on 127.0.0.1, fed with
//! test images through the distribution API by the test itself.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use packer::arch::Arch;
use packer::convert::load_image;
use packer::layers::Limits;
use serde_json::json;

const REGISTRY: &str = "/usr/bin/docker-registry";

/// A registry process on a free port; killed when dropped.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Option<Self> {
        if !Path::new(REGISTRY).exists() {
            eprintln!("skipping: {REGISTRY} is not installed (apt-get install docker-registry)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reg = Registry { child, addr, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&reg.addr).is_err() {
            assert!(Instant::now() < deadline, "registry did not start on {}", reg.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(reg)
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder().http_status_as_error(false).build().into()
    }

    fn push_blob(&self, repo: &str, blob: &[u8]) {
        let agent = Self::agent();
        let resp = agent.post(&format!("http://{}/v2/{repo}/blobs/uploads/", self.addr)).send_empty().unwrap();
        assert_eq!(resp.status(), 202);
        let location = resp.headers().get("location").unwrap().to_str().unwrap().to_string();
        let location = if location.starts_with('/') { format!("http://{}{location}", self.addr) } else { location };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", sha(blob));
        let resp = agent.put(&url).header("Content-Type", "application/octet-stream").send(blob).unwrap();
        assert_eq!(resp.status(), 201, "blob upload");
    }

    fn push_manifest(&self, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
        let url = format!("http://{}/v2/{repo}/manifests/{reference}", self.addr);
        let resp = Self::agent().put(&url).header("Content-Type", media_type).send(body).unwrap();
        assert_eq!(resp.status(), 201, "manifest push");
    }

    fn push_image(&self, repo: &str, img: &Image) {
        for b in std::iter::once(&img.config).chain(&img.layer_blobs) {
            self.push_blob(repo, b);
        }
        self.push_manifest(repo, &sha(&img.manifest), "application/vnd.oci.image.manifest.v1+json", &img.manifest);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn err(spec: &str, arch: Arch) -> String {
    match load_image(spec, arch, Limits::default()) {
        Ok(_) => panic!("{spec} loaded"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn pulls_from_a_local_registry() {
    let Some(reg) = Registry::start() else { return };
    let amd = image(
        "amd64",
        &[Layer::new().file("arch", b"amd64").file("etc/motd", b"hi").tar()],
        json!({"Cmd": ["/bin/sh"]}),
        None,
    );
    let rv = image(
        "riscv64",
        &[Layer::new().file("arch", b"riscv64").tar(), Layer::new().file("two", b"2").tar()],
        json!({}),
        None,
    );
    reg.push_image("multi/arch", &amd);
    reg.push_image("multi/arch", &rv);
    // An index over both, with an attestation-like entry that must be skipped.
    let mut unknown = amd.entry.clone();
    unknown["platform"] = json!({"architecture": "unknown", "os": "unknown"});
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [unknown, amd.entry, rv.entry],
    }))
    .unwrap();
    reg.push_manifest("multi/arch", "latest", "application/vnd.oci.image.index.v1+json", &index);
    // A single-arch image by tag.
    reg.push_image("single", &amd);
    reg.push_manifest("single", "v1", "application/vnd.oci.image.manifest.v1+json", &amd.manifest);

    let a = &reg.addr;
    let (tree, config) = load_image(&format!("{a}/multi/arch"), Arch::Amd64, Limits::default()).unwrap();
    assert_eq!(file(&tree, "arch").unwrap(), b"amd64");
    assert_eq!(config.run.cmd, Some(vec!["/bin/sh".to_string()]));
    let (tree, _) = load_image(&format!("{a}/multi/arch:latest"), Arch::Riscv64, Limits::default()).unwrap();
    assert_eq!(file(&tree, "arch").unwrap(), b"riscv64");
    assert_eq!(file(&tree, "two").unwrap(), b"2");
    let (tree, _) = load_image(&format!("{a}/multi/arch@{}", sha(&index)), Arch::Riscv64, Limits::default()).unwrap();
    assert_eq!(file(&tree, "arch").unwrap(), b"riscv64");
    let (tree, _) = load_image(&format!("{a}/single:v1"), Arch::Amd64, Limits::default()).unwrap();
    assert_eq!(file(&tree, "etc/motd").unwrap(), b"hi");

    let e = err(&format!("{a}/single:v1"), Arch::Riscv64);
    assert!(e.ends_with("is linux/amd64, not linux/riscv64; use --target-arch amd64"), "{e}");
    let e = err(&format!("{a}/single:nope"), Arch::Amd64);
    assert!(e.contains("manifest nope not found in registry"), "{e}");
    let e = err(&format!("{a}/nothing/here"), Arch::Amd64);
    assert!(e.contains("not found in registry"), "{e}");
}

#[test]
fn an_unreachable_registry_is_one_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = err(&format!("127.0.0.1:{port}/x:y"), Arch::Amd64);
    assert!(e.contains(&format!("cannot reach registry 127.0.0.1:{port}")), "{e}");
}

/// A registry stand-in that insists on a Bearer token, for the challenge/token dance the local
/// docker-registry (which runs without auth) does not exercise. Serves Docker v2 media types.
mod token_auth {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Serves `routes` (path -> (content type, body)) to requests carrying the token; answers
    /// everything else with a 401 challenge, and `/token` with the token. Records request lines.
    fn serve(routes: HashMap<String, (String, Vec<u8>)>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (log2, addr2) = (log.clone(), addr.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    authorized |= line.to_ascii_lowercase().starts_with("authorization: bearer sesame");
                }
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                log2.lock().unwrap().push(format!("{path} auth={authorized}"));
                let (status, headers, body) = if path.starts_with("/token?") {
                    ("200 OK", "Content-Type: application/json\r\n".to_string(), br#"{"token":"sesame"}"#.to_vec())
                } else if !authorized {
                    let challenge = format!(
                        "WWW-Authenticate: Bearer realm=\"http://{addr2}/token\",service=\"fake\",scope=\"repository:team/app:pull\"\r\n"
                    );
                    ("401 Unauthorized", challenge, b"{}".to_vec())
                } else if let Some((ct, body)) = routes.get(&path) {
                    ("200 OK", format!("Content-Type: {ct}\r\n"), body.clone())
                } else {
                    ("404 Not Found", String::new(), b"{}".to_vec())
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        (addr, log)
    }

    #[test]
    fn bearer_challenges_are_answered_with_an_anonymous_token() {
        let tars = [Layer::new().file("hello", b"world").tar()];
        let layer = gzip(&tars[0]);
        let config = config("amd64", &tars, json!({"Cmd": ["/hello"]}));
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": descriptor("application/vnd.docker.container.image.v1+json", &config),
            "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", &layer)],
        }))
        .unwrap();
        let blob = |b: &[u8]| ("application/octet-stream".to_string(), b.to_vec());
        let routes = HashMap::from([
            (
                "/v2/team/app/manifests/v2".to_string(),
                ("application/vnd.docker.distribution.manifest.v2+json".to_string(), manifest),
            ),
            (format!("/v2/team/app/blobs/{}", sha(&config)), blob(&config)),
            (format!("/v2/team/app/blobs/{}", sha(&layer)), blob(&layer)),
        ]);
        let (addr, log) = serve(routes);
        let (tree, cfg) = load_image(&format!("{addr}/team/app:v2"), Arch::Amd64, Limits::default()).unwrap();
        assert_eq!(file(&tree, "hello").unwrap(), b"world");
        assert_eq!(cfg.run.cmd, Some(vec!["/hello".to_string()]));
        let log = log.lock().unwrap();
        assert_eq!(log[0], "/v2/team/app/manifests/v2 auth=false");
        assert!(log[1].starts_with("/token?") && log[1].contains("scope=repository%3Ateam%2Fapp%3Apull"), "{log:?}");
        assert!(log[2..].iter().all(|l| l.ends_with("auth=true")), "{log:?}");
    }
}
