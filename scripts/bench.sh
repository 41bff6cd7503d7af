#!/usr/bin/env bash
# The end-to-end benchmark of issue 4 (benches/e2e/e2e.py): wasmtime vs native VM vs QEMU TCG.
# Makes sure the fixtures exist and the native VM of every arch that has one is built (release),
# then runs the benchmark; arguments pass through (e.g. --arch riscv64). BENCH_RUNS=1 for a
# quick run. Expects `make build` to have built c2w and the guest inits.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
"$shared/acceptance/fixtures.sh" >/dev/null
for arch in riscv64 x86_64; do
  case $arch in
    riscv64) crate=emu-riscv ;;
    x86_64) crate=emu-x86 ;;
  esac
  # An arch without a VM binary yet is skipped by the benchmark itself, with the reason.
  if [ -f "$crate/src/bin/c2w-vm-$arch.rs" ]; then
    ${CARGO:-cargo} build --release -p "$crate" --bin "c2w-vm-$arch"
  fi
done
exec python3 benches/e2e/e2e.py "$@"
