#!/usr/bin/env bash
# End to end: programs in a directory shared with `wasmtime --dir HOST::GUEST` run from it by
# path, as Docker users expect of `-v ./dir:/dir` then `/dir/script.sh`. WASI preview 1 has
# no permission bits, so the 9p server reports every shared file as rwx for all (see
# devices/src/p9/hostfs.rs); before that the guest saw r--r--r-- and execve failed (status
# 126). One PASS/FAIL line a check, "N passed, N failed" last; exits non-zero on any failure.
#   tests/e2e/mapped-dirs.sh          Env: C2W, WASMTIME, E2E_TIMEOUT (seconds a run, default 120)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
C2W=${C2W:-$repo/target/release/c2w}
WASMTIME=${WASMTIME:-wasmtime}
timeout=${E2E_TIMEOUT:-120}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

image=$("$repo/scripts/demo-image.sh") || { echo "FAIL demo image"; echo "0 passed, 1 failed"; exit 1; }
"$C2W" --target-arch riscv64 "oci:$image" "$work/bb.wasm" 2> "$work/log" \
  || { cat "$work/log"; echo "FAIL convert"; echo "0 passed, 1 failed"; exit 1; }

share="$work/share"
mkdir "$share"
# run CMD...: the command in the module with $share at /data; sets $out, $err and $rc.
run() {
  timeout "$timeout" "$WASMTIME" run --dir "$share::/data" "$work/bb.wasm" "$@" < /dev/null \
    > "$work/out" 2> "$work/err"
  rc=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
}
# check NAME WANT_STATUS WANT_STDOUT: the last run's status and stdout, and an empty stderr.
check() {
  if [ "$rc" == "$2" ] && [ "$out" == "$3" ] && [ -z "$err" ]; then
    pass "$1"
  else
    fail "$1: want status $2 and stdout '$3'; got status $rc, stdout '$out', stderr '$(head -c 600 <<<"$err")'"
  fi
}

# A script made executable on the host, run by its path: its output, arguments and exit status.
printf '#!/bin/sh\necho "script $0 got $# args: $*"\nexit 7\n' > "$share/script.sh"
chmod 755 "$share/script.sh"
run /data/script.sh one "two words"
check "a host script runs by path from the mapped dir" 7 "script /data/script.sh got 2 args: one two words"

# The same from a shell in the container, and what the guest sees of the file's mode.
run sh -c '/data/script.sh x; echo "status $?"; ls -l /data/script.sh | cut -c1-10'
check "a shell in the container runs it too" 0 "script /data/script.sh got 1 args: x
status 7
-rwxrwxrwx"

# A file without the x bits on the host runs as well: under WASI no host mode reaches the
# server, so every file is reported alike.
printf '#!/bin/sh\necho no-x-on-host\n' > "$share/plain.sh"
chmod 644 "$share/plain.sh"
run /data/plain.sh
check "a script without x bits on the host runs too" 0 "no-x-on-host"

# A script the container writes into the mapped dir runs at once, and reaches the host.
run sh -c 'printf "#!/bin/sh\necho made in the guest\n" > /data/made.sh && /data/made.sh'
check "a script the container writes there runs" 0 "made in the guest"
if [ "$(cat "$share/made.sh" 2> /dev/null)" == "$(printf '#!/bin/sh\necho made in the guest')" ]; then
  pass "the container's script is on the host"
else
  fail "the container's script is on the host: got '$(cat "$share/made.sh" 2>&1)'"
fi

# A binary: the container's busybox copied into the mapped dir, then run from there in a
# fresh run (an ELF mapped from a 9p file).
run cp /bin/busybox /data/busybox
if [ "$rc" == 0 ] && [ -s "$share/busybox" ]; then
  run /data/busybox echo binary from the mapped dir
  check "a binary runs by path from the mapped dir" 0 "binary from the mapped dir"
else
  fail "copying busybox into the mapped dir: status $rc, stderr '$err'"
fi

# A missing program in the mapped dir is still the container's error, not a hang or a crash.
run /data/nope
if [ "$rc" == 119 ] && grep -q "exited with status 127" <<<"$err"; then
  pass "a missing program there: status 119 (127 in the container)"
else
  fail "a missing program there: want status 119 and 'exited with status 127'; got $rc, '$err'"
fi

echo "$passed passed, $failed failed"
[ $failed == 0 ]
