#!/usr/bin/env bash
# Builds a small busybox image for riscv64 as an OCI layout, from Debian's riscv64
# busybox-static package, and prints the layout's path. Idempotent: a second run reuses it.
#   scripts/demo-image.sh [OUTDIR]      (default: target/demo)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/../target/demo}" && cd "${1:-$here/../target/demo}" && pwd)
layout="$out/busybox-riscv64.oci"
if [ -f "$layout/index.json" ]; then echo "$layout"; exit 0; fi

# The Debian mirror this machine's apt already uses (riscv64 is in trixie and later).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "demo-image: no Debian mirror in the apt sources" >&2; exit 1; }
suite=trixie

index="$out/Packages-$suite-riscv64"
if [ ! -s "$index" ]; then
  curl -fsSL "$mirror/dists/$suite/main/binary-riscv64/Packages.xz" | xz -dc > "$index.part"
  mv "$index.part" "$index"
fi
file=$(awk '$1 == "Package:" {pkg = $2} pkg == "busybox-static" && $1 == "Filename:" {print $2; exit}' "$index")
[ -n "$file" ] || { echo "demo-image: no busybox-static for riscv64 in $suite" >&2; exit 1; }
deb="$out/$(basename "$file")"
[ -s "$deb" ] || curl -fsSL "$mirror/$file" -o "$deb"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/pkg"
root="$work/root"
mkdir -p "$root"/{bin,etc,tmp,root,proc,sys,dev}
# The package has the binary at /bin/busybox (older releases) or /usr/bin/busybox.
for bin in "$work/pkg/usr/bin/busybox" "$work/pkg/bin/busybox"; do
  if [ -f "$bin" ] && [ -x "$bin" ]; then cp "$bin" "$root/bin/busybox"; break; fi
done
[ -x "$root/bin/busybox" ] || { echo "demo-image: no busybox binary in $deb" >&2; exit 1; }
for applet in sh ls cat echo uname id env mkdir rm cp mv wc head tail grep sed sleep date ps mount; do
  ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
chmod 1777 "$root/tmp"

python3 "$here/oci-image.py" --arch riscv64 --out "$layout.part" --cmd '["/bin/sh"]' --env PATH=/bin "$root"
rm -rf "$layout" && mv "$layout.part" "$layout"
echo "$layout"
