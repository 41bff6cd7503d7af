#!/usr/bin/env bash
# Makes the directory a native VM boots with `--bundle DIR` (see emu-core/src/bundle.rs) from a
# root tree, without the packer: kernel, initrd (the guest init as /init), rootfs (EROFS),
# config (proto::ImageConfig bytes) and options. Used while target/release/c2w cannot convert.
#   tests/e2e/native-bundle.sh ROOTDIR OUTDIR CMD_JSON ENV...
# Needs guest/kernel/riscv64/Image, the riscv64 c2w-init (built here if missing), cpio and
# mkfs.erofs. riscv64 only.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 ROOTDIR OUTDIR CMD_JSON ENV..." >&2; exit 2; }
root=$1 out=$2 cmd=$3
shift 3
repo=$(cd "$(dirname "$0")/../.." && pwd)
init="$repo/target/riscv64gc-unknown-linux-gnu/vm/c2w-init"
if [ ! -x "$init" ]; then
  (cd "$repo" && nice cargo build -q -p c2w-init --target riscv64gc-unknown-linux-gnu --profile vm)
fi

rm -rf "$out" && mkdir -p "$out"
cp "$repo/guest/kernel/riscv64/Image" "$out/kernel"

# The initramfs holds only the init and the mount points it uses before the real root.
ird=$(mktemp -d)
trap 'rm -rf "$ird"' EXIT
mkdir -p "$ird"/{dev,mnt,proc,sys}
cp "$init" "$ird/init"
(cd "$ird" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) > "$out/initrd"

mkfs.erofs --quiet "$out/rootfs" "$root"
printf 'memory_mib=256\nsnapshot=1\n' > "$out/options"

# ImageConfig, little-endian: u32 version 1; entrypoint and cmd as optional string lists
# (u8 0 | u8 1 + list); env as a list; workdir and user as strings. A list is a u32 count of
# u32-length-prefixed strings.
python3 - "$out/config" "$cmd" "$@" <<'EOF'
import json, struct, sys
path, cmd, env = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
def s(x): b = x.encode(); return struct.pack("<I", len(b)) + b
def lst(xs): return struct.pack("<I", len(xs)) + b"".join(s(x) for x in xs)
with open(path, "wb") as f:
    f.write(struct.pack("<I", 1) + b"\0" + b"\1" + lst(cmd) + lst(env) + s("") + s(""))
EOF
