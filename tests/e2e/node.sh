#!/usr/bin/env bash
# End to end: Node.js from Debian trixie runs in c2w's VM. V8 is a JIT: it writes machine code,
# patches it, makes it executable, runs it, and throws it away when a guess fails, so this is
# the emulators' self-modifying-code path (x86_64: stores into decoded pages; riscv64: FENCE.I)
# on a real program. Results are checked against values the host computes. One PASS/FAIL line
# a check, "N passed, N failed" last; exits non-zero on any failure.
#   tests/e2e/node.sh [ARCH]            ARCH: amd64 (default) | riscv64
# Set-up and helpers: lib/debian-vm.sh (the same as debian.sh's).
set -uo pipefail
arch=${1:-amd64}
# shellcheck source=lib/debian-vm.sh
. "$(dirname "$0")/lib/debian-vm.sh"

debian_image node "base-files libc6 libc-bin bash dash coreutils nodejs"
debian_runner node

node_version=$(awk '$1 == "nodejs" { sub(/^[0-9]+:/, "", $2); sub(/[-+~].*/, "", $2); print "v" $2 }' "$layout/c2w-debian.packages")
check node-hello "hello 42 $node_version" node -e 'console.log("hello", 6 * 7, process.version)' < /dev/null

# A sieve run until V8 optimizes it, then called with a string, which throws the optimized
# code away (a deoptimization) and runs it again unoptimized.
check node-jit-and-deopt "17984 25 2,4,6" node -e '
  function sieve(n) {
    const a = new Uint8Array(n);
    let c = 0;
    for (let i = 2; i < n; i++) {
      if (!a[i]) { c++; for (let j = i * i; j < n; j += i) a[j] = 1; }
    }
    return c;
  }
  let r = 0;
  for (let k = 0; k < 30; k++) r = sieve(200000);
  console.log(r, sieve("100"), [1, 2, 3].map((x) => x * 2).join());' < /dev/null

check node-crypto-sha256 "$(printf 'c2w node' | sha256sum | cut -d' ' -f1)" \
  node -e 'console.log(require("crypto").createHash("sha256").update("c2w node").digest("hex"))' < /dev/null

check node-stdin-json "6 c2w" node -e '
  let s = "";
  process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const v = JSON.parse(s);
    console.log(v.a.reduce((x, y) => x + y), v.name);
  });' <<< '{"a": [1, 2, 3], "name": "c2w"}'

check node-fs-roundtrip "written by node" node -e '
  const fs = require("fs");
  fs.writeFileSync("/tmp/n.txt", "written by node");
  console.log(fs.readFileSync("/tmp/n.txt", "utf8"));' < /dev/null

check_status node-exit-code 3 node -e 'process.exitCode = 3' < /dev/null

debian_done "node $arch"
