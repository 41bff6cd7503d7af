#!/usr/bin/env bash
# End-to-end checks of the c2w options the acceptance suite does not cover: --no-snapshot
# (the module boots at start) and --memory (the guest sees that much RAM), on the demo image.
#   C2W=target/release/c2w WASMTIME=wasmtime tests/c2w-options.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
C2W=${C2W:-$repo/target/release/c2w}
WASMTIME=${WASMTIME:-wasmtime}
image=$("$repo/scripts/demo-image.sh")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail=0
check() { # NAME WANT GOT
  if [ "$2" == "$3" ]; then echo "PASS $1"; else echo "FAIL $1: want '$2', got '$3'"; fail=1; fi
}

"$C2W" --target-arch riscv64 --no-snapshot --memory 96 "oci:$image" "$work/nosnap.wasm" 2> "$work/log" \
  || { cat "$work/log"; exit 1; }
got=$("$WASMTIME" "$work/nosnap.wasm" sh -c 'uname -m; grep MemTotal /proc/meminfo' < /dev/null)
check "--no-snapshot boots at start" riscv64 "$(head -1 <<<"$got")"
# MemTotal is the RAM less what the kernel keeps for itself: within 96 MiB, above 80 MiB.
kib=$(awk '/MemTotal/ {print $2}' <<<"$got")
check "--memory 96 sizes the guest RAM" yes "$([ "${kib:-0}" -le $((96 * 1024)) ] && [ "${kib:-0}" -gt $((80 * 1024)) ] && echo yes || echo "no (${kib:-none} KiB)")"

"$C2W" --target-arch riscv64 "oci:$image" "$work/snap.wasm" 2> "$work/log" || { cat "$work/log"; exit 1; }
check "snapshot module runs" hello "$("$WASMTIME" "$work/snap.wasm" echo hello < /dev/null)"
[ "$(stat -c %s "$work/nosnap.wasm")" -lt "$(stat -c %s "$work/snap.wasm")" ] \
  && echo "PASS --no-snapshot module is the smaller" || { echo "FAIL --no-snapshot module is not smaller"; fail=1; }
exit $fail
