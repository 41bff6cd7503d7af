#!/usr/bin/env bash
# Boots a committed guest kernel under QEMU with a busybox initramfs and checks what c2w relies
# on: /init runs, the kernel console, a virtio console, EROFS on virtio-blk, overlayfs on tmpfs,
# 9p over virtio, uname. It is the reference machine for later differential tests.
#   guest/kernel/qemu-smoke.sh riscv64|x86_64 [BUSYBOX]
# BUSYBOX: a static busybox for the arch; default: the one acceptance/fixtures.sh unpacks from
# Debian's busybox-static (run that script first). Needs qemu-system-misc (riscv64) or
# qemu-system-x86 (x86_64), opensbi (riscv64), erofs-utils and cpio.
# DEBIAN_ROOT=DIR (optional) adds a Debian root as a second disk and runs bash, coreutils, perl,
# python3, apt-get and dpkg from it.
# SMOKE_LOG=FILE (optional) keeps the whole console log; SMOKE_APPEND adds kernel parameters;
# SMOKE_QEMU_ARGS adds QEMU options.
# Prints the checks, the wall-clock time from QEMU start to /init and the kernel's own uptime
# at /init; exits non-zero if any check fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
arch=${1:?usage: qemu-smoke.sh riscv64|x86_64 [BUSYBOX]}
case "$arch" in
  riscv64) debarch=riscv64 ;;
  x86_64) debarch=amd64 ;;
  *) echo "unknown arch '$arch': expected riscv64 or x86_64" >&2; exit 2 ;;
esac
busybox=${2:-${FIXTURES:-$HOME/.cache/c2w-acceptance}/rootfs-$debarch/bin/busybox}
[ -x "$busybox" ] || { echo "no busybox at $busybox: run acceptance/fixtures.sh or pass one" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The guest's /init: one line per check, "SMOKE ok <name>" or "SMOKE FAIL <name>", then power off.
mkdir -p "$tmp/initramfs/bin" "$tmp/initramfs/tmp"
cp "$busybox" "$tmp/initramfs/bin/busybox"
cat > "$tmp/initramfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
echo "SMOKE init started"
mkdir -p /proc /sys /dev /mnt/ro /mnt/share /mnt/ovl /t
mount -t proc proc /proc
echo "SMOKE init uptime $(cut -d' ' -f1 /proc/uptime)"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
check() { name=$1; shift; if "$@" >/tmp/out 2>&1; then echo "SMOKE ok $name"; else echo "SMOKE FAIL $name: $(cat /tmp/out)"; fi; }
echo "SMOKE console $(cat /sys/class/tty/console/active)"
echo "SMOKE hvc devices:" /dev/hvc*
# Each hvc that has a backend says its own name (the others refuse the open); the host-side file
# of the virtio console shows which one it is.
for t in /dev/hvc*; do echo "hello-from-$t" 2>/dev/null > $t && echo "SMOKE wrote to $t"; done
# Disk order follows virtio-mmio probe order: mount every disk, then tell them apart by content.
for d in /dev/vd?; do mkdir -p /mnt/${d##*/}; check "erofs-$d" mount -t erofs -o ro $d /mnt/${d##*/}; done
for m in /mnt/vd?; do [ -f $m/marker ] && mount --bind $m /mnt/ro; [ -x $m/bin/sh ] && deb=$m; done
check erofs-read grep -qx erofs-marker /mnt/ro/marker
check tmpfs mount -t tmpfs tmpfs /t
check overlay sh -c 'mkdir /t/up /t/work && mount -t overlay overlay -o lowerdir=/mnt/ro,upperdir=/t/up,workdir=/t/work /mnt/ovl'
check overlay-rw sh -c 'grep -qx erofs-marker /mnt/ovl/marker && echo new > /mnt/ovl/new && rm /mnt/ovl/gone && [ ! -e /mnt/ovl/gone ] && [ -c /t/up/gone ]'
check 9p mount -t 9p -o trans=virtio,version=9p2000.L share /mnt/share
check 9p-read grep -qx ninep-marker /mnt/share/marker
check 9p-write sh -c 'echo from-guest > /mnt/share/written'
check hwrng sh -c 'grep -q virtio /sys/class/misc/hw_random/rng_current'
check loopback sh -c 'ip link set lo up && ip addr show lo | grep -q 127.0.0.1'
echo "SMOKE uname $(uname -a)"
# With a Debian root on the second disk: run its userland on overlay, as c2w will.
if [ -n "${deb:-}" ]; then
  d=/mnt/debian
  mkdir -p $d /t/dup /t/dwork
  check debian-overlay mount -t overlay overlay -o lowerdir=$deb,upperdir=/t/dup,workdir=/t/dwork $d
  mount -t proc proc $d/proc; mount -t sysfs sysfs $d/sys; mount -t devtmpfs devtmpfs $d/dev
  mkdir -p $d/dev/pts $d/dev/shm; mount -t devpts devpts $d/dev/pts; mount -t tmpfs tmpfs $d/dev/shm
  mount -t tmpfs tmpfs $d/tmp
  run() { name=$1; shift
    if chroot $d /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@" >/tmp/out 2>&1
    then echo "SMOKE ok $name: $(head -n1 /tmp/out)"; else echo "SMOKE FAIL $name: $(cat /tmp/out)"; fi; }
  run bash bash -c 'echo "bash $BASH_VERSION $(seq 3 | sort -r | tr "\n" ,) $$"; ulimit -n >/dev/null'
  run coreutils sh -c 'ls --version | head -n1 && sha256sum /bin/ls >/dev/null && date -u +%Y >/dev/null && stat / >/dev/null && mktemp >/dev/null && sleep 0.1'
  run perl perl -e 'use POSIX; pipe(R, W) or die; my $p = fork // die; if (!$p) { print W "kid\n"; exit 0 } waitpid($p, 0); printf "perl %vd %s", $^V, scalar <R>'
  run python3 python3 -c '
import os, sys, threading, select, time, signal, subprocess
r, w = os.pipe(); t = threading.Thread(target=lambda: os.write(w, b"x")); t.start(); t.join()
ep = select.epoll(); ep.register(r, select.EPOLLIN); assert ep.poll(1)
out = subprocess.run(["/bin/echo", "child"], capture_output=True, check=True).stdout.strip().decode()
time.sleep(0.05); os.urandom(16)
print("python", sys.version.split()[0], out, os.read(r, 1).decode())'
  run apt-get apt-get --version
  run dpkg dpkg --version
fi
echo "SMOKE hostname $(hostname)"
echo "SMOKE done"
sync
poweroff -f
EOF
chmod +x "$tmp/initramfs/init"
(cd "$tmp/initramfs" && find . | cpio -o -H newc --quiet | gzip -1 > "$tmp/initramfs.cpio.gz")

# Read-only disk: uncompressed EROFS, as the packer will write it.
mkdir -p "$tmp/erofs" "$tmp/share"
echo erofs-marker > "$tmp/erofs/marker"
echo to-be-whited-out > "$tmp/erofs/gone"
mkfs.erofs --quiet "$tmp/rootfs.erofs" "$tmp/erofs"
echo ninep-marker > "$tmp/share/marker"
# Optional: a Debian root directory (e.g. `debootstrap --foreign --variant=minbase
# --include=python3-minimal,perl trixie DIR`) as a second disk whose userland the guest runs.
debian_disk=()
if [ -n "${DEBIAN_ROOT:-}" ]; then
  mkfs.erofs --quiet "$tmp/debian.erofs" "$DEBIAN_ROOT"
  debian_disk=(-drive "file=$tmp/debian.erofs,if=none,format=raw,readonly=on,id=deb" -device virtio-blk-device,drive=deb)
fi

devices=(
  -drive "file=$tmp/rootfs.erofs,if=none,format=raw,readonly=on,id=ro"
  -device virtio-blk-device,drive=ro
  -fsdev "local,id=share,path=$tmp/share,security_model=none"
  -device virtio-9p-device,fsdev=share,mount_tag=share
  -device virtio-serial-device
  -chardev "file,id=vcon,path=$tmp/virtio-console.out"
  -device virtconsole,chardev=vcon
  -device virtio-rng-device
  "${debian_disk[@]}"
)
case "$arch" in
  riscv64)
    qemu=(qemu-system-riscv64 -M virt -m 256M -bios /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf
      -kernel "$here/riscv64/Image" -append "console=hvc0 panic=-1 ${SMOKE_APPEND:-}") ;;
  x86_64)
    # microvm without ACPI: qboot writes the MP table, QEMU appends virtio_mmio.device= entries.
    # Plain TCG on a busy host often fails the TSC calibration against the PIT (the kernel then
    # keeps jiffies as clocksource); SMOKE_QEMU_ARGS="-icount shift=3" makes guest time follow
    # retired instructions, as c2w's pre-boot does, and the calibration succeeds, 2-5x slower.
    qemu=(qemu-system-x86_64 -M microvm,acpi=off -m 256M
      -kernel "$here/x86_64/bzImage" -append "console=ttyS0 panic=-1 ${SMOKE_APPEND:-}") ;;
esac

# QEMU runs in the background; the loop stamps /init as it appears and stops QEMU once the guest
# is done (on x86 without ACPI, poweroff only halts the CPU) or after 300 s.
# shellcheck disable=SC2086 # SMOKE_QEMU_ARGS is a list of words
"${qemu[@]}" ${SMOKE_QEMU_ARGS:-} -initrd "$tmp/initramfs.cpio.gz" "${devices[@]}" \
  -nographic -no-reboot -monitor none -serial stdio </dev/null >"$tmp/raw.log" 2>&1 &
qemu_pid=$!
start=$(date +%s.%N)
deadline=$(( $(date +%s) + 300 ))
while kill -0 $qemu_pid 2>/dev/null && [ "$(date +%s)" -lt $deadline ]; do
  if [ ! -e "$tmp/t-init" ] && grep -q "SMOKE init started" "$tmp/raw.log"; then date +%s.%N > "$tmp/t-init"; fi
  if grep -qE "reboot: |Kernel panic" "$tmp/raw.log"; then sleep 0.2; break; fi
  sleep 0.02
done
kill $qemu_pid 2>/dev/null || true
wait $qemu_pid 2>/dev/null || true
tr -d '\r' < "$tmp/raw.log" > "$tmp/console.log"

[ -z "${SMOKE_LOG:-}" ] || cp "$tmp/console.log" "$SMOKE_LOG"
grep -E '^(SMOKE|\[ *[0-9.]+\] (Run /init|Linux version|virtio|Kernel command line|Freeing unused))' "$tmp/console.log" || true
fail=0
need() { grep -q "$1" "$tmp/console.log" || { echo "FAIL: no '$1' in the console log" >&2; fail=1; }; }
need "SMOKE init started"
need "SMOKE done"
if grep -q "SMOKE FAIL" "$tmp/console.log"; then fail=1; fi
need "SMOKE uname Linux localhost 6\.1\.[0-9]* .* $arch"
if [ -n "${DEBIAN_ROOT:-}" ]; then for t in bash coreutils perl python3 apt-get dpkg; do need "SMOKE ok $t"; done; fi
grep -q "^from-guest$" "$tmp/share/written" 2>/dev/null || { echo "FAIL: 9p write did not reach the host" >&2; fail=1; }
grep -q "^hello-from-/dev/hvc" "$tmp/virtio-console.out" 2>/dev/null \
  || { echo "FAIL: nothing arrived on the virtio console" >&2; fail=1; }
echo "virtio console output: $(cat "$tmp/virtio-console.out" 2>/dev/null)"
if [ -e "$tmp/t-init" ]; then
  echo "wall-clock QEMU start -> /init (20 ms polling): $(awk -v a="$start" -v b="$(cat "$tmp/t-init")" 'BEGIN{printf "%.2f", b-a}') s"
fi
[ $fail -eq 0 ] && echo "qemu-smoke $arch: ok" || { echo "qemu-smoke $arch: FAILED (full log below)"; cat "$tmp/console.log"; }
exit $fail
