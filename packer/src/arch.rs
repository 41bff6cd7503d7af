//! The target architectures c2w converts for.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    Amd64,
    Riscv64,
}

impl Arch {
    /// The OCI platform architecture name (`linux/<this>`).
    pub fn oci_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// The name `uname -m` prints in the guest.
    pub fn machine_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Riscv64 => "riscv64",
        }
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "amd64" | "x86_64" => Ok(Arch::Amd64),
            "riscv64" => Ok(Arch::Riscv64),
            _ => Err(format!("unknown target arch {s:?} (expected amd64 or riscv64)")),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.oci_name())
    }
}
