#!/usr/bin/env bash
# Builds a prebuilt guest kernel from Debian's linux-source-6.1:
#   guest/kernel/build.sh riscv64|x86_64
# tinyconfig + <arch>.fragment -> <arch>.config (committed) -> <arch>/Image or <arch>/bzImage,
# and <arch>/SHA256SUMS, which check.sh verifies in CI without rebuilding.
# Sources and objects live outside the repo, in $C2W_KERNEL_WORK (default ~/.cache/c2w-kernel).
# Takes several minutes per arch: it runs niced, with `make -j2`, as the machine is shared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/arch.sh"
arch=${1:?usage: build.sh riscv64|x86_64}
kernel_arch "$arch"
tarball=${C2W_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
work=${C2W_KERNEL_WORK:-$HOME/.cache/c2w-kernel}
src=$work/linux-source-6.1
out=$work/out-$arch

if [ ! -f "$src/.c2w-unpacked" ]; then
  [ -f "$tarball" ] || { echo "no kernel source at $tarball: apt-get install linux-source-6.1" >&2; exit 1; }
  mkdir -p "$work"
  nice tar -C "$work" -xf "$tarball"
  touch "$src/.c2w-unpacked"
fi

# Fixed build identity, so `uname -v` and the image bytes do not depend on who built when.
export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 2025" KBUILD_BUILD_USER=c2w KBUILD_BUILD_HOST=c2w
export KBUILD_BUILD_VERSION=1
kmake() { nice make -C "$src" O="$out" ARCH="$karch" CROSS_COMPILE="$cross" "$@"; }

mkdir -p "$out"
kmake -s tinyconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$here/$arch.fragment" >/dev/null
kmake -s olddefconfig
fragment_holds "$here/$arch.fragment" "$out/.config" || { echo "$arch.fragment did not survive the merge" >&2; exit 1; }

start=$(date +%s)
kmake -j2 "$target"
echo "built $arch $target in $(( $(date +%s) - start )) s"

mkdir -p "$here/$arch"
cp "$out/$built" "$here/$image"
cp "$out/.config" "$here/$arch.config"
(cd "$here" && sha256sum "$image" "$arch.config" "$arch.fragment" > "$arch/SHA256SUMS")
ls -l "$here/$image"
