//! The c2w packer: container image -> WebAssembly module. The `c2w` binary (main.rs) is the thin
//! command-line edge over these modules.

pub mod arch;
pub mod config;
pub mod convert;
pub mod cpio;
pub mod embedded;
pub mod erofs;
pub mod image;
pub mod layers;
pub mod snapshot;
pub mod tree;
