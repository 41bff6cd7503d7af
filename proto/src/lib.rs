//! Wire formats shared by the packer, the VM binaries and the guest init.
//!
//! Two things cross the emulator/guest boundary and one crosses the packer/VM boundary:
//! - the *channel*: a byte stream over a virtio-console port (the guest sees `/dev/hvcN`, set to
//!   raw mode), carrying [`Frame`]s in both directions;
//! - the [`RunRequest`], sent by the VM to the init once per run;
//! - the [`ImageConfig`], written by the packer into the bundle and read by the VM at
//!   pre-boot time.
//!
//! Everything is encoded with the small length-prefixed [`Writer`]/[`Reader`] pair below: no
//! serde, so the init stays small and the format stays obvious.

mod codec;
mod frame;
mod request;

pub use codec::{DecodeError, Reader, Writer};
pub use frame::{Frame, FrameDecoder, FrameKind, MAX_FRAME_PAYLOAD};
pub use request::{ImageConfig, Mount, RunRequest};

/// Kernel command-line key whose value names the channel tty (for example `hvc1`). The kernel
/// hands unknown `key=value` words to init as environment variables.
pub const CHANNEL_ENV: &str = "c2w_chan";

/// The 9p mount tag of the shared-directory device.
pub const P9_TAG: &str = "c2w";
