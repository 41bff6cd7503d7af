//! The channel to the VM: a virtio-console tty (named by the `c2w_chan` kernel argument) in raw
//! mode, carrying `proto` frames both ways.

use crate::fail::{Context, Fail};
use crate::sys;
use proto::{Frame, FrameDecoder, FrameKind, MAX_FRAME_PAYLOAD};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

pub struct Channel {
    file: File,
    decoder: FrameDecoder,
    /// Reused encoding buffer, so relaying output does not allocate per frame.
    out: Vec<u8>,
}

/// The device path for a channel name such as `hvc1`. Only plain device names are accepted.
pub fn device_path(name: &str) -> Result<String, Fail> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Fail(format!("bad {}={name:?}: expected a tty name such as hvc1", proto::CHANNEL_ENV)));
    }
    Ok(format!("/dev/{name}"))
}

impl Channel {
    /// Opens the channel named by the kernel-provided `c2w_chan` environment variable.
    pub fn open_from_env() -> Result<Self, Fail> {
        let name = std::env::var(proto::CHANNEL_ENV)
            .map_err(|_| Fail(format!("{} is not set on the kernel command line", proto::CHANNEL_ENV)))?;
        Self::open(&device_path(&name)?)
    }

    pub fn open(path: &str) -> Result<Self, Fail> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .context(|| format!("opening the channel {path}"))?;
        make_raw(&file).context(|| format!("setting {path} to raw mode"))?;
        Ok(Self { file, decoder: FrameDecoder::default(), out: Vec::with_capacity(64 * 1024 + 5) })
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Sends one frame; payloads larger than the protocol allows are split (only data frames
    /// are ever that large, and splitting them keeps the byte stream intact).
    pub fn send(&mut self, kind: FrameKind, payload: &[u8]) -> io::Result<()> {
        let mut chunks = payload.chunks(MAX_FRAME_PAYLOAD).peekable();
        if chunks.peek().is_none() {
            return self.send_one(kind, &[]);
        }
        for chunk in chunks {
            self.send_one(kind, chunk)?;
        }
        Ok(())
    }

    fn send_one(&mut self, kind: FrameKind, payload: &[u8]) -> io::Result<()> {
        self.out.clear();
        Frame::encode_into(kind, payload, &mut self.out);
        sys::write_all(&self.file, &self.out)
    }

    /// The next frame already received, if a whole one is buffered.
    pub fn buffered_frame(&mut self) -> Result<Option<Frame>, Fail> {
        self.decoder.next_frame().map_err(|e| Fail(format!("the host sent a malformed frame: {e}")))
    }

    /// Reads what the channel has (blocking until at least one byte) into the decoder.
    /// Returns false at end of file.
    pub fn fill(&mut self) -> Result<bool, Fail> {
        let mut buf = [0u8; 16 * 1024];
        let n = sys::read(&self.file, &mut buf).context(|| "reading the channel".into())?;
        self.decoder.push(&buf[..n]);
        Ok(n > 0)
    }

    /// Blocks until a whole frame has arrived.
    pub fn recv(&mut self) -> Result<Frame, Fail> {
        loop {
            if let Some(f) = self.buffered_frame()? {
                return Ok(f);
            }
            if !self.fill()? {
                return Err(Fail("the channel was closed by the host".into()));
            }
        }
    }
}

/// Raw mode: bytes pass unchanged both ways (no echo, no CR/LF mapping, no signals from control
/// characters, no XON/XOFF), reads return as soon as one byte is there. A channel that is not a
/// tty (ENOTTY) needs none of this.
fn make_raw(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it completely on success.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid termios to fill.
    if let Err(e) = sys::check(unsafe { libc::tcgetattr(fd, &mut t) }) {
        return if e.raw_os_error() == Some(libc::ENOTTY) { Ok(()) } else { Err(e) };
    }
    // SAFETY: cfmakeraw only edits the struct it is given.
    unsafe { libc::cfmakeraw(&mut t) };
    t.c_cflag |= libc::CLOCAL | libc::CREAD;
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    // SAFETY: `t` is a valid termios.
    sys::check(unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) })?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn device_names_are_plain() {
        assert_eq!(device_path("hvc1").unwrap(), "/dev/hvc1");
        assert!(device_path("../sda").is_err());
        assert!(device_path("").is_err());
        assert!(device_path("pts/1").is_err());
    }

    /// A channel on the slave side of a fresh pty, and the master side standing in for the
    /// VM. A pty is a tty like hvc: without raw mode, \n would become \r\n and 0x03 a signal.
    pub(crate) fn pty_channel() -> (Channel, File) {
        use std::os::fd::FromRawFd;
        // SAFETY: plain libc calls on a descriptor this function owns.
        let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        assert!(master >= 0);
        // SAFETY: as above; the name buffer is 64 bytes as passed, and ptsname_r NUL-terminates.
        let slave = unsafe {
            assert_eq!(libc::grantpt(master), 0);
            assert_eq!(libc::unlockpt(master), 0);
            let mut name = [0 as libc::c_char; 64];
            assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
            std::ffi::CStr::from_ptr(name.as_ptr()).to_str().unwrap().to_string()
        };
        // SAFETY: `master` is open and owned by nobody else.
        (Channel::open(&slave).unwrap(), unsafe { File::from_raw_fd(master) })
    }

    /// Reads frames from the VM side until `done` says stop.
    pub(crate) fn read_frames(master: &File, mut done: impl FnMut(&[Frame]) -> bool) -> Vec<Frame> {
        let mut got = vec![];
        let mut dec = FrameDecoder::default();
        while !done(&got) {
            let mut buf = [0u8; 4096];
            let n = sys::read(master, &mut buf).unwrap();
            assert!(n > 0, "channel closed");
            dec.push(&buf[..n]);
            while let Some(f) = dec.next_frame().unwrap() {
                got.push(f);
            }
        }
        got
    }

    #[test]
    fn frames_cross_a_raw_pty() {
        let (mut chan, master) = pty_channel();
        let payload: Vec<u8> = (0..=255u8).chain(b"\r\n\x03\x11\x13\x04".iter().copied()).collect();
        chan.send(FrameKind::Stdout, &payload).unwrap();
        let got = read_frames(&master, |f| !f.is_empty());
        assert_eq!(got[0].payload, payload);
        // And the other way: host -> guest bytes arrive unchanged.
        let input = Frame::new(FrameKind::Stdin, payload.clone()).encode();
        sys::write_all(&master, &input).unwrap();
        let f = chan.recv().unwrap();
        assert_eq!((f.kind, f.payload), (FrameKind::Stdin, payload));
    }
}
