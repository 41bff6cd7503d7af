#!/usr/bin/env bash
# End to end: every run resumes the same snapshot, yet each must get fresh randomness and the
# current time. The init mixes the run's host seed into the kernel RNG (RNDADDENTROPY) and
# forces a CRNG reseed (RNDRESEEDCRNG) before the command starts; without the reseed the
# restored CRNG would hand every run the same bytes. One PASS/FAIL line a check, "N passed,
# N failed" last; exits non-zero on any failure.
#   tests/e2e/hygiene.sh              Env: C2W, WASMTIME, E2E_TIMEOUT (seconds a run, default 60)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
C2W=${C2W:-$repo/target/release/c2w}
WASMTIME=${WASMTIME:-wasmtime}
timeout=${E2E_TIMEOUT:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
run() { timeout "$timeout" "$WASMTIME" run "$work/bb.wasm" "$@" < /dev/null; }

image=$("$repo/scripts/demo-image.sh") || { echo "FAIL demo image"; echo "0 passed, 1 failed"; exit 1; }
"$C2W" --target-arch riscv64 "oci:$image" "$work/bb.wasm" 2> "$work/log" \
  || { cat "$work/log"; echo "FAIL convert"; echo "0 passed, 1 failed"; exit 1; }

# The command's first read of the CRNG, twice from the same module: must differ. The command
# is od itself (no shell first), so nothing but the init ran since the snapshot. The resumed
# kernel's uptime is the snapshot's plus a second, too early for a scheduled reseed, so without
# the init's forced reseed both runs would read the same snapshotted CRNG key; and a reseed that fails stops the run
# with status 125 instead.
a=$(run busybox od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
b=$(run busybox od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
if [ ${#a} == 64 ] && [ ${#b} == 64 ] && [ "$a" != "$b" ]; then
  pass "/dev/urandom differs between runs ($a vs $b)"
else
  fail "/dev/urandom: run 1 '$a', run 2 '$b'"
fi

# The same for a kernel-generated random UUID.
a=$(run cat /proc/sys/kernel/random/uuid)
b=$(run cat /proc/sys/kernel/random/uuid)
if [ -n "$a" ] && [ "$a" != "$b" ]; then pass "kernel random uuid differs between runs"; else fail "uuid: '$a' vs '$b'"; fi

# Wall clock: the guest's date matches the host's within 2 s, though the snapshot is older.
sleep 2
host=$(date +%s)
guest=$(run date +%s)
d=$((guest - host))
if [ -n "$guest" ] && [ ${d#-} -le 2 ]; then pass "guest date +%s = host's ($d s apart)"; else fail "date: host $host, guest '$guest'"; fi

echo "$passed passed, $failed failed"
[ $failed == 0 ]
