#!/usr/bin/env python3
"""End-to-end test of the guest init (guest/init) on the committed guest kernels under QEMU.

It proves the init and the kernel independently of c2w's own emulator: QEMU boots the kernel
with an initramfs holding only /init (our binary), an EROFS root image made from the busybox
rootfs of shared/acceptance/fixtures.sh, a virtio console bound to a unix socket (the channel),
and a virtio-9p share. This script plays the VM side of emu-core/src/session.rs: it waits for
Ready, sends a RunRequest and stdin frames, and checks the Stdout/Stderr/Exit/Error frames.
Each case is one fresh boot, as each run of an out.wasm is one resumed snapshot.

    tests/qemu/init_smoke.py [--arch riscv64|x86_64] [-k SUBSTRING] [-v]

Environment: INIT=path to a prebuilt c2w-init for the arch (default: cargo builds it, profile
vm); ROOTFS=busybox rootfs dir (default ~/.cache/c2w-acceptance/rootfs-<debian arch>, from
fixtures.sh). Needs qemu-system-riscv64 + opensbi (riscv64) or qemu-system-x86_64 (x86_64), and
mkfs.erofs. Exits non-zero if a case fails.
"""

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"
ARCHES = {
    # The SBI console is hvc0 (the kernel log), so the virtio console becomes hvc1.
    "riscv64": dict(
        target="riscv64gc-unknown-linux-gnu", debian="riscv64", uname="riscv64", hvc="hvc1",
        machine=["qemu-system-riscv64", "-M", "virt", "-bios", OPENSBI,
                 "-kernel", os.path.join(REPO, "guest/kernel/riscv64/Image")],
        console="console=hvc0"),
    # microvm without ACPI, as guest/kernel/README.md describes; the virtio console is hvc0.
    "x86_64": dict(
        target="x86_64-unknown-linux-musl", debian="amd64", uname="x86_64", hvc="hvc0",
        machine=["qemu-system-x86_64", "-M", "microvm,acpi=off",
                 "-kernel", os.path.join(REPO, "guest/kernel/x86_64/bzImage")],
        console="console=ttyS0"),
}
ARCH = ARCHES["riscv64"]  # set by main()
# The channel, two ways. "hvc": a virtconsole, i.e. the raw-mode tty c2w's own VMs give the
# init. But QEMU silently DROPS virtconsole output when its socket write would block (see
# flush_buf in QEMU's hw/char/virtio-console.c), so bulk output is lossy whenever this script
# falls behind. "port": a virtserialport (/dev/vport1p1, the serial device being the second
# virtio device), which QEMU throttles instead: lossless, and not a tty (the init skips raw
# mode on ENOTTY).
CHANNELS = {"hvc": "virtconsole", "port": "virtserialport"}
BOOT_TIMEOUT = 180
RUN_TIMEOUT = 120

# proto::FrameKind
REQUEST, STDIN, STDIN_EOF = 0x01, 0x02, 0x03
READY, STDOUT, STDERR, EXIT, ERROR = 0x10, 0x11, 0x12, 0x13, 0x14
KIND_NAMES = {READY: "Ready", STDOUT: "Stdout", STDERR: "Stderr", EXIT: "Exit", ERROR: "Error", 0x15: "StdinWant"}


# --- the wire format (proto/src/codec.rs, frame.rs, request.rs) ---------------------------------

def frame(kind, payload=b""):
    return struct.pack("<BI", kind, len(payload)) + payload


def enc_bytes(b):
    return struct.pack("<I", len(b)) + b


def enc_str(s):
    return enc_bytes(s.encode())


def enc_strs(v):
    return struct.pack("<I", len(v)) + b"".join(enc_str(s) for s in v)


def run_request(argv, env=(), working_dir="", user="", mounts=(), stdin=False, tty=False):
    """The encoded request; the clock field is read now, so call it just before sending."""
    out = struct.pack("<I", 1) + enc_strs(list(argv)) + enc_strs(list(env)) + enc_str(working_dir) + enc_str(user)
    out += struct.pack("<I", len(mounts)) + b"".join(enc_str(a) + enc_str(p) for a, p in mounts)
    out += struct.pack("<Q", time.time_ns()) + enc_bytes(os.urandom(64)) + bytes([stdin, tty])
    return out


class FrameReader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def next(self, deadline):
        while True:
            if len(self.buf) >= 5:
                kind, n = struct.unpack("<BI", self.buf[:5])
                if kind not in KIND_NAMES:
                    raise RuntimeError(f"unknown frame kind {kind:#x}")
                if len(self.buf) >= 5 + n:
                    payload, self.buf = self.buf[5:5 + n], self.buf[5 + n:]
                    return kind, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame from the guest in time")
            self.sock.settimeout(left)
            data = self.sock.recv(1 << 16)
            if not data:
                raise RuntimeError("the channel closed (guest died?)")
            self.buf += data


# --- building the guest ------------------------------------------------------------------------

def newc(entries):
    """A newc cpio archive from (name, mode, data, rdev_major, rdev_minor) entries."""
    out = bytearray()

    def pad():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, major, minor) in enumerate(entries + [("TRAILER!!!", 0, b"", 0, 0)], 1):
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(name) + 1, 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
        pad()
        out += data
        pad()
    return bytes(out)


def build_init():
    if os.environ.get("INIT"):
        return os.environ["INIT"]
    target = ARCH["target"]
    subprocess.run(["cargo", "build", "-q", "-p", "c2w-init", "--target", target, "--profile", "vm"],
                   cwd=REPO, check=True)
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target_dir, target, "vm", "c2w-init")


def prepare(work):
    init = build_init()
    rootfs = os.environ.get("ROOTFS", os.path.expanduser(f"~/.cache/c2w-acceptance/rootfs-{ARCH['debian']}"))
    if not os.path.isfile(os.path.join(rootfs, "bin/busybox")):
        sys.exit(f"no busybox rootfs at {rootfs}: run shared/acceptance/fixtures.sh first")
    with open(init, "rb") as f:
        init_bin = f.read()
    initramfs = os.path.join(work, "initramfs.cpio")
    with open(initramfs, "wb") as f:
        f.write(newc([("dev", 0o040755, b"", 0, 0), ("dev/console", 0o020600, b"", 5, 1),
                      ("init", 0o100755, init_bin, 0, 0)]))
    root_img = os.path.join(work, "root.erofs")
    subprocess.run(["mkfs.erofs", "--quiet", root_img, rootfs], check=True)
    return initramfs, root_img


# --- one boot, one request ---------------------------------------------------------------------

class Result:
    def __init__(self):
        self.stdout, self.stderr, self.exit, self.error, self.console = b"", b"", None, None, ""


def boot_and_run(work, initramfs, root_img, share, req, stdin_data=None, channel="port"):
    sock_path = os.path.join(work, "chan.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    console_path = os.path.join(work, "console.log")
    chan_name = ARCH["hvc"] if channel == "hvc" else "vport1p1"
    cmd = ARCH["machine"] + [
        "-m", "256M", "-nographic", "-no-reboot", "-monitor", "none", "-initrd", initramfs,
        "-append", f"{ARCH['console']} c2w_chan={chan_name} quiet panic=-1",
        "-drive", f"file={root_img},if=none,format=raw,readonly=on,id=root",
        "-device", "virtio-blk-device,drive=root",
        "-device", "virtio-serial-device",
        "-chardev", f"socket,id=chan,path={sock_path}",
        "-device", f"{CHANNELS[channel]},chardev=chan",
        "-fsdev", f"local,id=share,path={share},security_model=none",
        "-device", "virtio-9p-device,fsdev=share,mount_tag=c2w",
    ]
    res = Result()
    with open(console_path, "wb") as console:
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT)
    try:
        listener.settimeout(30)
        conn, _ = listener.accept()
        reader = FrameReader(conn)
        deadline = time.monotonic() + BOOT_TIMEOUT
        kind, payload = reader.next(deadline)
        if kind == ERROR:
            res.error = payload.decode(errors="replace")
            return res
        if kind != READY:
            raise RuntimeError(f"expected Ready, got {KIND_NAMES[kind]}")
        conn.sendall(frame(REQUEST, run_request(**req)))

        def feed():
            try:
                data = stdin_data or b""
                for i in range(0, len(data), 32 * 1024):
                    conn.sendall(frame(STDIN, data[i:i + 32 * 1024]))
                conn.sendall(frame(STDIN_EOF))
            except OSError:
                pass

        feeder = threading.Thread(target=feed, daemon=True)
        if stdin_data is not None:
            feeder.start()
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            kind, payload = reader.next(deadline)
            if kind == STDOUT:
                res.stdout += payload
            elif kind == STDERR:
                res.stderr += payload
            elif kind == EXIT:
                res.exit = struct.unpack("<i", payload[:4])[0]
                return res
            elif kind == ERROR:
                res.error = payload.decode(errors="replace")
                return res
    except (OSError, RuntimeError, TimeoutError) as e:
        res.error = f"HARNESS: {e}"
        return res
    finally:
        qemu.kill()
        qemu.wait()
        listener.close()
        with open(console_path, "rb") as f:
            res.console = f.read().decode(errors="replace")


# --- the cases ---------------------------------------------------------------------------------

def R(argv, env=(), **kw):
    """The arguments of a request, encoded only when the case runs (the clock must be fresh)."""
    return dict(argv=argv, env=env, **kw)


def cases(share):
    blob = os.urandom(262144)
    with open(os.path.join(share, "hi"), "w") as f:
        f.write("teststring")
    with open(os.path.join(share, "blob"), "wb") as f:
        f.write(blob)
    stdin_blob = os.urandom(100000)
    mapped = [("0", "/mapped/dir/test")]
    env = ["PATH=/bin", "FIXTURE=busybox"]
    return [
        ("echo", dict(req=R(["echo", "hello"], env)),
         lambda r: r.exit == 0 and r.stdout == b"hello\n" and r.stderr == b""),
        ("exit status", dict(req=R(["sh", "-c", "exit 7"], env)), lambda r: r.exit == 7),
        ("killed by signal", dict(req=R(["sh", "-c", "kill -9 $$"], env)), lambda r: r.exit == 137),
        ("stderr separate", dict(req=R(["sh", "-c", "echo -n out; echo -n err >&2"], env)),
         lambda r: r.exit == 0 and r.stdout == b"out" and r.stderr == b"err"),
        ("stdin forwarded", dict(req=R(["wc", "-c"], env, stdin=True), stdin_data=stdin_blob),
         lambda r: r.exit == 0 and r.stdout.strip() == b"100000"),
        ("stdin /dev/null when not forwarded", dict(req=R(["wc", "-c"], env)),
         lambda r: r.exit == 0 and r.stdout.strip() == b"0"),
        ("binary stdout over 9p", dict(bulk=True, req=R(["cat", "/mapped/dir/test/blob"], env, mounts=mapped)),
         lambda r: r.exit == 0 and r.stdout == blob),
        ("9p write", dict(req=R(
            ["sh", "-c", "mkdir /mapped/dir/test/from-guest && echo -n hello > /mapped/dir/test/from-guest/x && "
             "echo -n hello2 > /mapped/dir/test/from-guest/x && cat /mapped/dir/test/hi"], env, mounts=mapped)),
         lambda r: r.exit == 0 and r.stdout == b"teststring"
         and open(os.path.join(share, "from-guest/x"), "rb").read() == b"hello2"),
        ("user and workdir", dict(req=R(
            ["sh", "-c", "echo -n $(id -u):$(id -g):$(pwd):$HOME:$FIXTURE"], env, working_dir="/home/user/new",
            user="user")), lambda r: r.exit == 0 and r.stdout == b"1000:1000:/home/user/new:/home/user:busybox"),
        ("uid:gid without entries", dict(req=R(["sh", "-c", "echo -n $(id -u):$(id -g):$HOME"], env,
                                                             user="4242:4343")),
         lambda r: r.exit == 0 and r.stdout == b"4242:4343:/"),
        ("env defaults, later wins", dict(req=R(["sh", "-c", "echo -n $PATH:$A:$HOSTNAME"],
                                                              ["A=1", "A=2"])),
         lambda r: r.stdout == b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:2:localhost"),
        ("clock set from the request", dict(req=R(["date", "+%s"], env)),
         lambda r: r.exit == 0 and abs(int(r.stdout or b"0") - time.time()) < 120),
        ("writable root and /tmp, kernel fs", dict(req=R(
            ["sh", "-c", "echo -n a > /new && echo -n b > /tmp/t && cat /new /tmp/t && ls /proc/self/fd >/dev/null "
             "&& test -c /dev/null && uname -m"], env)),
         lambda r: r.exit == 0 and r.stdout == b"ab" + ARCH["uname"].encode() + b"\n"),
        ("image Cmd sh reads its script from stdin", dict(req=R(["/bin/sh"], env, stdin=True),
                                                          stdin_data=b"echo -n from-stdin\nexit 3\n"),
         lambda r: r.exit == 3 and r.stdout == b"from-stdin"),
        ("command not found is 127", dict(req=R(["no-such-command"], env)),
         lambda r: r.exit == 127 and b"not found" in r.stderr),
        ("not executable is 126", dict(req=R(["/etc/passwd"], env)), lambda r: r.exit == 126),
        ("unknown user is an Error", dict(req=R(["true"], env, user="nosuchuser")),
         lambda r: r.exit is None and r.error and "nosuchuser" in r.error),
        ("background child does not hold the run", dict(req=R(["sh", "-c", "sleep 1000 & echo -n done"],
                                                                          env)),
         lambda r: r.exit == 0 and r.stdout == b"done"),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="riscv64", choices=sorted(ARCHES))
    ap.add_argument("--channel", choices=["hvc", "port", "both"], default="both",
                    help="the channel device (see CHANNELS); both: every case on each, except bulk "
                         "output on the lossy hvc")
    ap.add_argument("-k", default="", help="run only cases whose name contains this")
    ap.add_argument("-v", action="store_true", help="print the guest console for every case")
    args = ap.parse_args()
    global ARCH
    ARCH = ARCHES[args.arch]
    kernel = ARCH["machine"][ARCH["machine"].index("-kernel") + 1]
    if not os.path.isfile(kernel):
        sys.exit(f"no kernel at {kernel}")
    with tempfile.TemporaryDirectory(prefix="c2w-init-smoke-") as work:
        initramfs, root_img = prepare(work)
        share = os.path.join(work, "share")
        os.mkdir(share)
        passed = failed = 0
        channels = ["port", "hvc"] if args.channel == "both" else [args.channel]
        for channel in channels:
            for name, kw, check in cases(share):
                name = f"{args.arch} {channel}: {name}"
                bulk = kw.pop("bulk", False)
                if args.k not in name or (bulk and channel == "hvc" and args.channel == "both"):
                    continue
                shutil.rmtree(os.path.join(share, "from-guest"), ignore_errors=True)  # left by a 9p case
                t0 = time.monotonic()
                r = boot_and_run(work, initramfs, root_img, share, channel=channel, **kw)
                try:
                    ok = bool(check(r))
                except Exception as e:  # a check tripping over a missing file is a failure, not a crash
                    ok = False
                    r.error = (r.error or "") + f" [check raised {e!r}]"
                took = time.monotonic() - t0
                if ok:
                    passed += 1
                    print(f"PASS {name} ({took:.1f} s)", flush=True)
                else:
                    failed += 1
                    print(f"FAIL {name}: exit {r.exit} error {r.error!r} stdout {r.stdout[:200]!r} "
                          f"stderr {r.stderr[:300]!r}\n--- console ---\n{r.console[-3000:]}", flush=True)
                if args.v:
                    print(r.console)
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
