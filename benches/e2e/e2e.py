#!/usr/bin/env python3
"""End-to-end benchmark of c2w's VMs against QEMU TCG (issue 4).

For each arch whose VM is built, four workloads run on three systems that share one kernel, one
guest init and one busybox root:
  wasmtime  the converted out.wasm (snapshot taken at conversion, so no boot at start)
  native    the VM as a plain Linux binary with a bundle directory (boots first)
  qemu      QEMU TCG with the same kernel, initramfs init and root image, driven over the frame
            protocol by tests/qemu/init_smoke.py (boots first); timed from QEMU start to Exit
Every run's output is checked (a broken run must not pass as a fast one). Each number is the
median of BENCH_RUNS (default 3) wall-clock runs, after one unmeasured warm-up run of W1 per
system (it fills wasmtime's compilation cache and the page cache).

Prints a table with ratios, the net ratios (Wx - W1: the geometric mean over W2..W4 of our net
time over QEMU's net time), the start-up breakdown of W1 under wasmtime and a --no-snapshot
module's W1; writes target/bench/e2e.json (and target/bench/startup.json).

    benches/e2e/e2e.py [--arch riscv64|x86_64 ...]

Environment: BENCH_TIMEOUT (seconds per run, default 900; W1: 180), BENCH_RUNS, BENCH_WORKLOADS (e.g. W2,W4: a subset; W1 always runs), C2W (default target/release/c2w), WASMTIME (default wasmtime),
FIXTURES (default ~/.cache/c2w-acceptance, from shared/acceptance/fixtures.sh).
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True  # importing init_smoke must not litter tests/qemu
sys.path.insert(0, os.path.join(REPO, "tests", "qemu"))
import init_smoke  # noqa: E402  (the QEMU side: machine lines, frame protocol, cpio writer)

FIXTURES = os.environ.get("FIXTURES", os.path.expanduser("~/.cache/c2w-acceptance"))
C2W = os.environ.get("C2W", os.path.join(REPO, "target/release/c2w"))
WASMTIME = os.environ.get("WASMTIME", "wasmtime")
OUT_DIR = os.path.join(REPO, "target", "bench")
# Seconds one run may take before it counts as hung: W1 is a boot and a command; the others
# took up to ~150 s on a loaded 2-core machine.
RUN_TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "900"))
W1_TIMEOUT = 180

# Per arch: where the pieces are. `debian` names the fixtures, `c2w` the --target-arch value.
ARCHES = {
    "riscv64": dict(debian="riscv64", c2w="riscv64", kernel="guest/kernel/riscv64/Image",
                    init="target/riscv64gc-unknown-linux-gnu/vm/c2w-init",
                    native="target/release/c2w-vm-riscv64"),
    "x86_64": dict(debian="amd64", c2w="amd64", kernel="guest/kernel/x86_64/bzImage",
                   init="target/x86_64-unknown-linux-musl/vm/c2w-init",
                   native="target/release/c2w-vm-x86_64"),
}

IMAGE_ENV = ["PATH=/bin", "FIXTURE=busybox"]  # the fixture image's Env (fixtures.sh)
GZIP_INPUT = "rand.bin"
GZIP_INPUT_LEN = 4 << 20
GZIP_SEED = 4

# W4's input is shipped through a mapped dir (9p), the same way on every system.
SHARE_GUEST = "/data"


def gzip_input():
    return random.Random(GZIP_SEED).randbytes(GZIP_INPUT_LEN)


def gzip_expected(data):
    # The gzip trailer is CRC-32 and length of the input: proves gzip read every byte.
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return (hashlib.sha256(trailer).hexdigest() + "  -\n").encode()


# (name, argv, needs the mapped dir, expected stdout). Expected values are computed here, on the
# host, not copied from a run of the thing under test.
def workloads():
    zeros = hashlib.sha256(b"\0" * (16 << 20)).hexdigest()
    return [
        ("W1", ["echo", "hello"], False, b"hello\n"),
        ("W2", ["sh", "-c", "dd if=/dev/zero bs=1M count=16 2>/dev/null | sha256sum"], False,
         f"{zeros}  -\n".encode()),
        ("W3", ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo $i"], False, b"200000\n"),
        ("W4", ["sh", "-c", f"gzip -1 < {SHARE_GUEST}/{GZIP_INPUT} | tail -c 8 | sha256sum"], True,
         gzip_expected(gzip_input())),
    ]


class BenchError(Exception):
    pass


def newc_initramfs(init_bin):
    """The same entries as the packer's initramfs (packer/src/cpio.rs)."""
    d = 0o040755
    return init_smoke.newc([("dev", d, b"", 0, 0), ("proc", d, b"", 0, 0), ("sys", d, b"", 0, 0),
                            ("mnt", d, b"", 0, 0), ("dev/console", 0o020600, b"", 5, 1),
                            ("init", 0o100755, init_bin, 0, 0)])


def image_config():
    """proto::ImageConfig::encode of the fixture's config: no Entrypoint, Cmd ["/bin/sh"], Env."""
    def s(x):
        return struct.pack("<I", len(x)) + x.encode()

    def strs(v):
        return struct.pack("<I", len(v)) + b"".join(s(x) for x in v)

    return struct.pack("<I", 1) + b"\0" + b"\1" + strs(["/bin/sh"]) + strs(IMAGE_ENV) + s("") + s("")


def timeout_for(name):
    return W1_TIMEOUT if name == "W1" else RUN_TIMEOUT


def timed(cmd, timeout=RUN_TIMEOUT):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    return time.monotonic() - t0, p


def check(system, name, code, out, err, expected):
    if code != 0 or out != expected:
        raise BenchError(f"{system} {name}: exit {code}, stdout {out[:200]!r} (expected {expected!r}), "
                         f"stderr {err[-800:]!r}")


class Arch:
    """Everything one arch's runs need, prepared once in `work`."""

    def __init__(self, name, work):
        self.name, self.spec, self.work = name, ARCHES[name], work
        self.share = os.path.join(work, "share")

    def missing(self):
        """Why this arch cannot be benchmarked, or None."""
        s = self.spec
        for what, path in [("native VM", s["native"]), ("kernel", s["kernel"]), ("guest init", s["init"])]:
            if not os.path.isfile(os.path.join(REPO, path)):
                return f"no {what} at {path} (not built yet)"
        if not os.path.isfile(os.path.join(FIXTURES, f"rootfs-{s['debian']}/bin/busybox")):
            return f"no busybox fixture in {FIXTURES} (run shared/acceptance/fixtures.sh)"
        qemu = init_smoke.ARCHES[self.name]["machine"][0]
        if not shutil.which(qemu):
            return f"{qemu} is not installed"
        if not os.access(C2W, os.X_OK):
            return f"no c2w at {C2W} (make build)"
        return None

    def prepare(self):
        """Builds the bundle and the modules; returns why the arch must be skipped, or None."""
        s = self.spec
        os.makedirs(self.share)
        with open(os.path.join(self.share, GZIP_INPUT), "wb") as f:
            f.write(gzip_input())
        # One bundle for the native VM; QEMU gets the same kernel, initramfs and root image.
        self.bundle = os.path.join(self.work, "bundle")
        os.makedirs(self.bundle)
        shutil.copyfile(os.path.join(REPO, s["kernel"]), os.path.join(self.bundle, "kernel"))
        with open(os.path.join(REPO, s["init"]), "rb") as f:
            init_bin = f.read()
        with open(os.path.join(self.bundle, "initrd"), "wb") as f:
            f.write(newc_initramfs(init_bin))
        subprocess.run(["mkfs.erofs", "--quiet", os.path.join(self.bundle, "rootfs"),
                        os.path.join(FIXTURES, f"rootfs-{s['debian']}")], check=True)
        with open(os.path.join(self.bundle, "config"), "wb") as f:
            f.write(image_config())
        with open(os.path.join(self.bundle, "options"), "w") as f:
            f.write("memory_mib=256\nsnapshot=1\n")
        # The modules, converted from the OCI fixture by this tree's c2w.
        oci = os.path.join(FIXTURES, f"busybox-{s['debian']}.oci")
        arch_out = os.path.join(OUT_DIR, self.name)
        os.makedirs(arch_out, exist_ok=True)
        self.wasm = os.path.join(arch_out, "out.wasm")
        self.wasm_nosnap = os.path.join(arch_out, "out-no-snapshot.wasm")
        self.cwasm = os.path.join(arch_out, "out.cwasm")
        for extra, out in [([], self.wasm), (["--no-snapshot"], self.wasm_nosnap)]:
            p = subprocess.run([C2W, "--target-arch", s["c2w"], *extra, f"oci:{oci}", out], capture_output=True)
            if p.returncode != 0:
                err = p.stderr.decode(errors="replace").strip().splitlines()
                # A c2w built without this arch's VM cannot make the module: not ready, skip.
                if err and "was built without" in err[-1]:
                    return err[-1]
                raise BenchError(f"c2w {' '.join(extra)} failed: {chr(10).join(err)[-800:]}")
        return None

    # --- one run per system; each returns wall seconds after checking the output ---

    def run_wasmtime(self, name, argv, mapped, expected, module=None, precompiled=False):
        cmd = [WASMTIME, "run"]
        if precompiled:
            cmd.append("--allow-precompiled")
        if mapped:
            cmd += ["--dir", f"{self.share}::{SHARE_GUEST}"]
        t, p = timed(cmd + [module or self.wasm, *argv], timeout_for(name))
        check("wasmtime", name, p.returncode, p.stdout, p.stderr, expected)
        return t

    def run_native(self, name, argv, mapped, expected):
        cmd = [os.path.join(REPO, self.spec["native"]), "--bundle", self.bundle]
        if mapped:
            cmd += ["--dir", f"{self.share}::{SHARE_GUEST}"]
        t, p = timed(cmd + ["--", *argv], timeout_for(name))
        check("native", name, p.returncode, p.stdout, p.stderr, expected)
        return t

    def run_qemu(self, name, argv, mapped, expected):
        init_smoke.ARCH = init_smoke.ARCHES[self.name]
        init_smoke.RUN_TIMEOUT = timeout_for(name)
        req = dict(argv=argv, env=IMAGE_ENV, mounts=[("0", SHARE_GUEST)] if mapped else [])
        # boot_and_run starts QEMU and returns at the Exit frame (plus the kill of QEMU: ms).
        t0 = time.monotonic()
        r = init_smoke.boot_and_run(self.work, os.path.join(self.bundle, "initrd"),
                                    os.path.join(self.bundle, "rootfs"), self.share, req, channel="port")
        t = time.monotonic() - t0
        if r.error:
            raise BenchError(f"qemu {name}: {r.error}\n--- console ---\n{r.console[-2000:]}")
        check("qemu", name, r.exit, r.stdout, r.stderr, expected)
        return t


def median_of(runs, fn):
    return statistics.median(fn() for _ in range(runs))


def bench_arch(arch, runs):
    only = [w for w in os.environ.get("BENCH_WORKLOADS", "").split(",") if w]
    loads = [w for w in workloads() if not only or w[0] in only or w[0] == "W1"]
    systems = [("wasmtime", arch.run_wasmtime), ("native", arch.run_native), ("qemu", arch.run_qemu)]
    w1 = loads[0]
    for _, fn in systems:  # warm-up, not measured
        fn(*w1)
    rows = []
    for name, argv, mapped, expected in loads:
        row = {"arch": arch.name, "workload": name}
        for sysname, fn in systems:
            row[f"{sysname}_s"] = round(median_of(runs, lambda: fn(name, argv, mapped, expected)), 3)
            print(f"  {arch.name} {name} {sysname}: {row[f'{sysname}_s']:.3f} s", flush=True)
        rows.append(row)
    return rows


def startup_breakdown(arch, runs):
    """W1 under wasmtime, taken apart: compile, instantiate, command; and a --no-snapshot W1."""
    name, argv, mapped, expected = workloads()[0]

    def compile_once():
        if os.path.exists(arch.cwasm):
            os.unlink(arch.cwasm)
        t, p = timed([WASMTIME, "compile", arch.wasm, "-o", arch.cwasm])
        if p.returncode != 0:
            raise BenchError(f"wasmtime compile: {p.stderr.decode(errors='replace')[-800:]}")
        return t

    def instantiate_once():
        # A run-time option the VM rejects: wasmtime loads the .cwasm, instantiates it (the
        # snapshot's memory image), and the VM exits at argument parsing, before the guest runs.
        t, p = timed([WASMTIME, "run", "--allow-precompiled", arch.cwasm, "--c2w-bench-instantiate-only"])
        if p.returncode == 0 or b"unknown option" not in p.stderr:
            raise BenchError(f"instantiate-only run did not stop at argument parsing: {p.stderr[-400:]!r}")
        return t

    compile_s = median_of(runs, compile_once)
    precompiled_s = median_of(runs, lambda: arch.run_wasmtime(name, argv, mapped, expected, arch.cwasm, True))
    instantiate_s = median_of(runs, instantiate_once)
    no_snapshot_s = median_of(runs, lambda: arch.run_wasmtime(name, argv, mapped, expected, arch.wasm_nosnap))
    return {"arch": arch.name, "compile_s": round(compile_s, 3), "precompiled_w1_s": round(precompiled_s, 3),
            "instantiate_s": round(instantiate_s, 3), "command_s": round(precompiled_s - instantiate_s, 3),
            "no_snapshot_w1_s": round(no_snapshot_s, 3),
            "module_mib": round(os.path.getsize(arch.wasm) / 2**20, 1),
            "no_snapshot_module_mib": round(os.path.getsize(arch.wasm_nosnap) / 2**20, 1)}


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs and all(x > 0 for x in xs) else float("nan")


def report(rows, startups):
    print()
    print(f"{'arch':8} {'load':4} {'wasmtime s':>11} {'native s':>9} {'qemu s':>8} {'wasm/qemu':>10} {'native/qemu':>12}")
    for r in rows:
        print(f"{r['arch']:8} {r['workload']:4} {r['wasmtime_s']:11.3f} {r['native_s']:9.3f} {r['qemu_s']:8.3f} "
              f"{r['wasmtime_s'] / r['qemu_s']:10.2f} {r['native_s'] / r['qemu_s']:12.2f}")
    for arch in sorted({r["arch"] for r in rows}):
        by = {r["workload"]: r for r in rows if r["arch"] == arch}
        w1 = by["W1"]
        print(f"\n{arch} net times (Wx - W1), s:")
        print(f"{'load':4} {'wasmtime':>9} {'native':>9} {'qemu':>9} {'wasm/qemu':>10} {'native/qemu':>12}")
        ratios = {"wasmtime": [], "native": []}
        for w in [w for w in ("W2", "W3", "W4") if w in by]:
            net = {k: by[w][f"{k}_s"] - w1[f"{k}_s"] for k in ("wasmtime", "native", "qemu")}
            rw = net["wasmtime"] / net["qemu"] if net["qemu"] > 0 else float("nan")
            rn = net["native"] / net["qemu"] if net["qemu"] > 0 else float("nan")
            ratios["wasmtime"].append(rw)
            ratios["native"].append(rn)
            print(f"{w:4} {net['wasmtime']:9.3f} {net['native']:9.3f} {net['qemu']:9.3f} {rw:10.2f} {rn:12.2f}")
        print(f"net ratio (geometric mean over W2-W4): wasmtime/qemu {geomean(ratios['wasmtime']):.2f}, "
              f"native/qemu {geomean(ratios['native']):.2f}")
    for s in startups:
        print(f"\n{s['arch']} W1 start-up under wasmtime (module {s['module_mib']} MiB):")
        print(f"  module compile (wasmtime compile)          {s['compile_s']:.3f} s")
        print(f"  precompiled W1 (run --allow-precompiled)   {s['precompiled_w1_s']:.3f} s")
        print(f"    instantiate + resume                     {s['instantiate_s']:.3f} s")
        print(f"    command (echo hello, to exit)            {s['command_s']:.3f} s")
        print(f"  --no-snapshot module W1 (boots at start)   {s['no_snapshot_w1_s']:.3f} s "
              f"(module {s['no_snapshot_module_mib']} MiB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", action="append", choices=sorted(ARCHES), help="default: every arch")
    args = ap.parse_args()
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    if runs < 1:
        sys.exit("BENCH_RUNS must be at least 1")
    print(f"c2w e2e bench: median of {runs} run(s); load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cpus", flush=True)
    rows, startups, failed = [], [], []
    os.makedirs(OUT_DIR, exist_ok=True)
    for name in args.arch or list(ARCHES):
        with tempfile.TemporaryDirectory(prefix=f"c2w-bench-{name}-") as work:
            arch = Arch(name, work)
            try:
                why = arch.missing() or arch.prepare()
                if why:
                    print(f"skipping {name}: {why}", flush=True)
                    continue
                arch_rows = bench_arch(arch, runs)
                startups.append(startup_breakdown(arch, runs))
                rows += arch_rows
            except (BenchError, subprocess.TimeoutExpired) as e:
                # A broken arch is a failure, not a skip; the other arches still report.
                print(f"FAILED {name}: {e}", flush=True)
                failed.append(name)
    if not rows:
        sys.exit("no arch was benchmarked" + (f" ({', '.join(failed)} failed)" if failed else ""))
    report(rows, startups)
    with open(os.path.join(OUT_DIR, "e2e.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(OUT_DIR, "startup.json"), "w") as f:
        json.dump(startups, f, indent=1)
    print(f"\nwrote {os.path.relpath(os.path.join(OUT_DIR, 'e2e.json'), REPO)}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
