#!/usr/bin/env bash
# End to end: a real Debian trixie userland (bash, coreutils, perl, apt, python3) built by
# scripts/debian-image.sh runs in c2w's VM, and what it prints matches the host's own
# computation of the same thing. One PASS/FAIL line a check, "N passed, N failed" last;
# exits non-zero on any failure.
#   tests/e2e/debian.sh [ARCH]          ARCH: riscv64 (default) | amd64
# The real flow (`c2w oci:DIR out.wasm`, then `wasmtime run out.wasm CMD`) is used when $C2W
# (default target/release/c2w) exists; without it riscv64 boots the native VM
# (target/release/c2w-vm-riscv64, or $E2E_VM) on a bundle made by native-bundle.sh.
# Env: C2W, WASMTIME, E2E_VM, E2E_TIMEOUT (seconds a command, default 60).
set -uo pipefail
arch=${1:-riscv64}
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/tests/e2e"
C2W=${C2W:-$repo/target/release/c2w}
WASMTIME=${WASMTIME:-wasmtime}
timeout=${E2E_TIMEOUT:-60}
work="$repo/target/e2e"
mkdir -p "$work"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C
t0=$SECONDS

layout="$work/debian-$arch.oci"
"$repo/scripts/debian-image.sh" "$arch" "$layout" > /dev/null || { echo "FAIL image: debian-image.sh $arch"; exit 1; }
echo "image: $layout ($(wc -l < "$layout/c2w-debian.packages") packages, $((SECONDS - t0)) s)"

# The image's root as the host sees it, for host-side expectations: the one layer, unpacked.
root="$tmp/root"
mkdir -p "$root"
layer=$(python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json")); m=json.load(open(d+"/blobs/"+i["manifests"][0]["digest"].replace(":","/"))); print(m["layers"][0]["digest"].replace(":","/"))' "$layout")
tar -xzf "$layout/blobs/$layer" -C "$root"

# vm CMD... runs CMD in the image with this script's stdin; its stdout, stderr and exit status
# are the command's.
t1=$SECONDS
if [ -x "$C2W" ]; then
  mode="c2w + wasmtime"
  wasm="$work/debian-$arch.wasm"
  if ! "$C2W" --target-arch "$arch" "oci:$layout" "$wasm" > "$tmp/convert.log" 2>&1; then
    echo "FAIL convert: $C2W --target-arch $arch oci:$layout"
    tail -n 20 "$tmp/convert.log"
    echo "0 passed, 1 failed"
    exit 1
  fi
  vm() { timeout "$timeout" "$WASMTIME" run "$wasm" "$@"; }
elif [ "$arch" = riscv64 ]; then
  mode="native VM (no $C2W yet)"
  native=${E2E_VM:-$repo/target/release/c2w-vm-riscv64}
  if [ -z "${E2E_VM:-}" ]; then
    (cd "$repo" && nice cargo build -q --release -p emu-riscv --bin c2w-vm-riscv64) || { echo "FAIL build: c2w-vm-riscv64"; exit 1; }
  fi
  "$here/native-bundle.sh" "$root" "$tmp/bundle" '["/bin/bash"]' \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin || { echo "FAIL bundle"; exit 1; }
  vm() { timeout "$timeout" "$native" --bundle "$tmp/bundle" -- "$@"; }
else
  echo "FAIL setup: no $C2W, and the native fallback is riscv64 only"
  exit 1
fi
echo "runner: $mode (ready in $((SECONDS - t1)) s)"

pass=0 fail=0
# check NAME EXPECTED CMD...: PASS when CMD exits 0 and prints exactly EXPECTED (stdin: /dev/null
# unless the caller redirects). With FIRST_LINE=1 only the first line of the output counts.
check() {
  local name=$1 want=$2 got rc s=$SECONDS
  shift 2
  got=$(vm "$@" 2> "$tmp/err")
  rc=$?
  [ "${FIRST_LINE:-}" = 1 ] && got=${got%%$'\n'*}
  if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then
    pass=$((pass + 1))
    echo "PASS $name ($((SECONDS - s)) s)"
  else
    fail=$((fail + 1))
    echo "FAIL $name: exit $rc ($((SECONDS - s)) s)"
    echo "  want: $(printf %q "$want")"
    echo "  got:  $(printf %q "$got")"
    [ -s "$tmp/err" ] && echo "  stderr: $(tail -c 600 "$tmp/err")"
  fi
}

check uname-m "$(case $arch in amd64) echo x86_64 ;; *) echo "$arch" ;; esac)" uname -m < /dev/null

check bash-arith-arrays-functions "43 6 9 1-1-3-4-5-9 RISC MARK 5" bash -c '
  f() { local a=$1 b=$2; echo $(( a * b + 1 )); }
  xs=(3 1 4 1 5 9); sorted=($(printf "%s\n" "${xs[@]}" | sort -n))
  declare -A h=([k]=MARK); s=risc
  echo "$(f 6 7) ${#xs[@]} ${xs[5]} $(IFS=-; echo "${sorted[*]}") ${s^^} ${h[k]} ${BASH_VERSINFO[0]}"' < /dev/null

check bash-exit-status "status 7" bash -c '(exit 7); echo "status $?"' < /dev/null

check perl-compute "i4,m1,p2,s4 1099511627776 54321 3628800" perl -e '
  my %h; $h{$_}++ for split //, "mississippi";
  my $f = 1; $f *= $_ for 1..10;
  print join(",", map { "$_$h{$_}" } sort keys %h), " ", 2**40, " ", join("", reverse 1..5), " $f\n"' < /dev/null

# Pipelines go through dash, so that coreutils are judged apart from bash.
check ls-usr-bin-count "$(ls "$root/usr/bin" | wc -l)" sh -c 'ls /usr/bin | wc -l' < /dev/null

# Known data, sent on stdin: sort, uniq and sha256sum in the guest against the host's.
seq 1 5000 | awk '{ print ($1 * 7919) % 1009 }' > "$tmp/data"
want_su=$(sort -n "$tmp/data" | uniq -c | sha256sum | cut -d' ' -f1)
check sort-uniq-sha256sum "$want_su" sh -c 'sort -n | uniq -c | sha256sum | cut -d" " -f1' < "$tmp/data"
check sha256sum-stdin "$(sha256sum < "$tmp/data" | cut -d' ' -f1)  -" sha256sum < "$tmp/data"

check date-year "$(date +%Y)" date +%Y < /dev/null

apt_version=$(awk '$1 == "apt" { print $2 }' "$layout/c2w-debian.packages")
FIRST_LINE=1 check apt-get-version "apt $apt_version ($arch)" apt-get --version < /dev/null

if [ -e "$root/usr/bin/python3" ]; then
  check python3-bigint "1267650600228229401496703205376" python3 -c 'print(2**100)' < /dev/null
  # Float math exercises the F/D extension (riscv64) or SSE (amd64).
  check python3-float "1.4142135623730951 0.3333333333333333 inf" \
    python3 -c "import math; print(math.sqrt(2), 1/3, 1e308*10)" < /dev/null
fi
check perl-float "3.1415926536" perl -e 'printf "%.10f\n", atan2(1,1)*4' < /dev/null

echo "debian $arch on $mode: $((SECONDS - t0)) s in all"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
