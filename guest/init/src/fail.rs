//! The init's one error type: a sentence naming what failed and why, sent to the host as an
//! Error frame (or to the kernel console when the channel itself is the problem).

use std::fmt;
use std::io;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail(pub String);

impl Fail {
    /// "WHAT: errno text", e.g. "mounting /dev/vda on /c2w/lower: No such device (os error 19)".
    pub fn io(what: impl fmt::Display, e: io::Error) -> Self {
        Fail(format!("{what}: {e}"))
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds "what failed" to an `io::Result`.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Fail>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Fail> {
        self.map_err(|e| Fail::io(what(), e))
    }
}
