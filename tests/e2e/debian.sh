#!/usr/bin/env bash
# End to end: a real Debian trixie userland (bash, coreutils, perl, apt, python3) built by
# scripts/debian-image.sh runs in c2w's VM, and what it prints matches the host's own
# computation of the same thing. One PASS/FAIL line a check, "N passed, N failed" last;
# exits non-zero on any failure.
#   tests/e2e/debian.sh [ARCH]          ARCH: riscv64 (default) | amd64
# The real flow (`c2w oci:DIR out.wasm`, then `wasmtime run out.wasm CMD`) is used when $C2W
# (default target/release/c2w) exists; without it riscv64 boots the native VM
# (target/release/c2w-vm-riscv64, or $E2E_VM) on a bundle made by native-bundle.sh.
# Env: C2W, WASMTIME, E2E_VM, E2E_TIMEOUT (seconds a command, default 60). The set-up and
# check helpers are in lib/debian-vm.sh, shared with node.sh.
set -uo pipefail
arch=${1:-riscv64}
# shellcheck source=lib/debian-vm.sh
. "$(dirname "$0")/lib/debian-vm.sh"

debian_image debian
debian_runner debian

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

debian_done "debian $arch"
