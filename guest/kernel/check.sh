#!/usr/bin/env bash
# CI check of the committed prebuilt kernels, without rebuilding: each <arch>/SHA256SUMS must
# match the committed image, full config and fragment (so editing a fragment or config without
# running build.sh fails here), and every fragment setting must hold in the full config.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/arch.sh"
cd "$here"
status=0
for arch in riscv64 x86_64; do
  kernel_arch "$arch"
  [ -f "$arch.fragment" ] || continue
  for f in "$arch/SHA256SUMS" "$image" "$arch.config"; do
    [ -f "$f" ] || { echo "$arch: $f missing: run guest/kernel/build.sh $arch" >&2; status=1; continue 2; }
  done
  sha256sum --quiet -c "$arch/SHA256SUMS" || { echo "$arch: stale prebuilt kernel: run guest/kernel/build.sh $arch" >&2; status=1; }
  for f in "$image" "$arch.config" "$arch.fragment"; do
    grep -q "  $f\$" "$arch/SHA256SUMS" || { echo "$arch: $arch/SHA256SUMS does not cover $f" >&2; status=1; }
  done
  fragment_holds "$arch.fragment" "$arch.config" || status=1
  grep -q "^# Linux/$karch 6\.1\.[0-9]* Kernel Configuration" "$arch.config" || { echo "$arch.config: not a Linux 6.1 $karch config" >&2; status=1; }
  # Both Image and bzImage carry the version string uncompressed; build.sh fixes user@host.
  grep -aq "6\.1\.[0-9]* (c2w@c2w)" "$image" || { echo "$image: no Linux 6.1 version string from build.sh" >&2; status=1; }
  [ $status -eq 0 ] && echo "$arch: ok ($(stat -c %s "$image") bytes)"
done
exit $status
