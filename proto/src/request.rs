//! The run request (VM -> init) and the image config (packer -> VM).

use crate::{DecodeError, Reader, Writer};

/// What the packer learned from the image config, handed to the VM in the bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `K=V` pairs, in image order.
    pub env: Vec<String>,
    pub working_dir: String,
    /// `user[:group]`, names or numeric ids, as in the OCI image config; empty means root.
    pub user: String,
}

impl ImageConfig {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(1) // format version
            .opt_strs(&self.entrypoint)
            .opt_strs(&self.cmd)
            .strs(&self.env)
            .str(&self.working_dir)
            .str(&self.user);
        w.buf
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        if r.u32()? != 1 {
            return Err(DecodeError("unknown image config version"));
        }
        let c = Self {
            entrypoint: r.opt_strs()?,
            cmd: r.opt_strs()?,
            env: r.strs()?,
            working_dir: r.str()?,
            user: r.str()?,
        };
        r.finish()?;
        Ok(c)
    }
}

/// One shared host directory: mounted over 9p with `aname` at `guest_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub aname: String,
    pub guest_path: String,
}

/// Everything the init needs to run one container process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// The resolved argv (entrypoint and command already merged by the VM).
    pub argv: Vec<String>,
    /// `K=V` pairs: image Env first, then the runtime's; later ones win.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub mounts: Vec<Mount>,
    /// Wall-clock time at the start of the run, nanoseconds since the Unix epoch.
    pub unix_time_ns: u64,
    /// Fresh host randomness to reseed the guest kernel RNG with.
    pub seed: Vec<u8>,
    /// Forward the host's stdin; when false the process gets /dev/null.
    pub stdin: bool,
    /// The host's stdout is a terminal.
    pub tty: bool,
}

impl RunRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(1).strs(&self.argv).strs(&self.env).str(&self.working_dir).str(&self.user);
        w.u32(self.mounts.len() as u32);
        for m in &self.mounts {
            w.str(&m.aname).str(&m.guest_path);
        }
        w.u64(self.unix_time_ns).bytes(&self.seed).bool(self.stdin).bool(self.tty);
        w.buf
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        if r.u32()? != 1 {
            return Err(DecodeError("unknown run request version"));
        }
        let argv = r.strs()?;
        let env = r.strs()?;
        let working_dir = r.str()?;
        let user = r.str()?;
        let n = r.u32()? as usize;
        if n > buf.len() / 8 {
            return Err(DecodeError("bad mount count"));
        }
        let mut mounts = Vec::with_capacity(n);
        for _ in 0..n {
            mounts.push(Mount { aname: r.str()?, guest_path: r.str()? });
        }
        let req = Self {
            argv,
            env,
            working_dir,
            user,
            mounts,
            unix_time_ns: r.u64()?,
            seed: r.bytes()?.to_vec(),
            stdin: r.bool()?,
            tty: r.bool()?,
        };
        r.finish()?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_request_round_trips() {
        let req = RunRequest {
            argv: vec!["sh".into(), "-c".into(), "echo ü".into()],
            env: vec!["A=1".into()],
            working_dir: "/w".into(),
            user: "user:1000".into(),
            mounts: vec![Mount { aname: "0".into(), guest_path: "/m".into() }],
            unix_time_ns: 1_700_000_000_000_000_000,
            seed: vec![1, 2, 3],
            stdin: true,
            tty: false,
        };
        assert_eq!(RunRequest::decode(&req.encode()).unwrap(), req);
        let enc = req.encode();
        for cut in 0..enc.len() {
            assert!(RunRequest::decode(&enc[..cut]).is_err());
        }
    }

    #[test]
    fn image_config_round_trips() {
        let c = ImageConfig {
            entrypoint: None,
            cmd: Some(vec!["/bin/sh".into()]),
            env: vec!["PATH=/bin".into()],
            working_dir: String::new(),
            user: String::new(),
        };
        assert_eq!(ImageConfig::decode(&c.encode()).unwrap(), c);
    }
}
