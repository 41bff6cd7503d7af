//! The image config blob (OCI image config / Docker container image JSON): what c2w needs of
//! it is the platform, the layer diff ids and the run settings that become
//! [`proto::ImageConfig`].

use serde::Deserialize;

/// The image config, as far as c2w reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigInfo {
    pub architecture: String,
    pub os: String,
    /// sha256 digests of the uncompressed layers, in order (may be empty in hand-made images).
    pub diff_ids: Vec<String>,
    pub run: proto::ImageConfig,
}

#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    config: Option<RawRun>,
    #[serde(default)]
    rootfs: Option<RawRootfs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RawRun {
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawRootfs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

impl ConfigInfo {
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: Raw = serde_json::from_slice(bytes)?;
        let run = raw.config.unwrap_or_default();
        Ok(Self {
            architecture: raw.architecture,
            os: raw.os,
            diff_ids: raw.rootfs.unwrap_or_default().diff_ids,
            run: proto::ImageConfig {
                entrypoint: run.entrypoint,
                cmd: run.cmd,
                env: run.env.unwrap_or_default(),
                working_dir: run.working_dir.unwrap_or_default(),
                user: run.user.unwrap_or_default(),
            },
        })
    }

    /// `os/architecture` as image tools print it.
    pub fn platform(&self) -> String {
        format!("{}/{}", self.os, self.architecture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_run_settings() {
        let c = ConfigInfo::parse(
            br#"{"architecture":"riscv64","os":"linux","config":{"Entrypoint":["/bin/sh","-c"],
            "Cmd":["echo hi"],"Env":["PATH=/bin","A=b"],"WorkingDir":"/home/user","User":"user"},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#,
        )
        .unwrap();
        assert_eq!(c.platform(), "linux/riscv64");
        assert_eq!(c.diff_ids, ["sha256:aa"]);
        assert_eq!(c.run.entrypoint, Some(vec!["/bin/sh".to_string(), "-c".into()]));
        assert_eq!(c.run.cmd, Some(vec!["echo hi".to_string()]));
        assert_eq!(c.run.env, ["PATH=/bin", "A=b"]);
        assert_eq!(c.run.working_dir, "/home/user");
        assert_eq!(c.run.user, "user");
    }

    #[test]
    fn null_and_missing_fields_are_empty() {
        let c =
            ConfigInfo::parse(br#"{"architecture":"amd64","os":"linux","config":{"Cmd":null,"Env":null}}"#).unwrap();
        assert_eq!(c.run, proto::ImageConfig::default());
        let c = ConfigInfo::parse(br#"{"architecture":"amd64"}"#).unwrap();
        assert!(c.run.cmd.is_none() && c.diff_ids.is_empty());
        assert!(ConfigInfo::parse(b"not json").is_err());
    }
}
