#!/usr/bin/env bash
# Builds a small Debian trixie userland for ARCH as a one-layer OCI image layout in OUTDIR:
# bash, dash, coreutils, perl-base, grep, sed, findutils, apt and python3-minimal, with every
# Pre-Depends/Depends pulled in. No maintainer scripts run; the tree is what `dpkg-deb -x`
# gives, merged-/usr as trixie expects, plus /etc/passwd and /etc/group.
#   scripts/debian-image.sh ARCH OUTDIR      ARCH: riscv64 | amd64
# Env: DEBIAN_PACKAGES (replaces the package list), C2W_DEBIAN_CACHE (default ~/.cache/c2w-debian).
# The mirror is the one this machine's apt already uses; the index is checked against the
# suite's signed InRelease and every .deb against the index. Idempotent: an OUTDIR built from
# the same package versions is left as it is.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 ARCH OUTDIR" >&2; exit 2; }
arch=$1 out=$2
case "$arch" in riscv64 | amd64) ;; *) echo "debian-image: unsupported arch $arch" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
suite=trixie
packages=${DEBIAN_PACKAGES:-"base-files libc6 libc-bin bash dash coreutils perl-base grep sed findutils apt python3-minimal"}
cache=${C2W_DEBIAN_CACHE:-$HOME/.cache/c2w-debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mkdir -p "$cache/debs"

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "debian-image: no Debian mirror in the apt sources" >&2; exit 1; }
mirror=${mirror%/}

# The Packages index for ARCH, verified through the signed InRelease. Refetched when older
# than a day, since a point release removes the .debs an old index names.
index="$cache/Packages-$suite-$arch"
fetch_index() {
  local rel="$cache/InRelease-$suite" path=main/binary-$arch/Packages.xz want got
  curl -fsSL "$mirror/dists/$suite/InRelease" -o "$rel.part"
  gpgv --quiet --keyring "$keyring" "$rel.part" 2>/dev/null \
    || { echo "debian-image: bad signature on $suite InRelease" >&2; exit 1; }
  mv "$rel.part" "$rel"
  want=$(awk -v p="$path" '/^SHA256:/ {s = 1; next} /^[^ ]/ {s = 0} s && $3 == p {print $1; exit}' "$rel")
  [ -n "$want" ] || { echo "debian-image: $path is not in the $suite InRelease" >&2; exit 1; }
  curl -fsSL "$mirror/dists/$suite/$path" -o "$index.xz"
  got=$(sha256sum "$index.xz" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "debian-image: $path checksum mismatch" >&2; exit 1; }
  xz -dc "$index.xz" > "$index.part" && mv "$index.part" "$index" && rm -f "$index.xz"
}
if [ ! -s "$index" ] || [ -n "$(find "$index" -mmin +1440)" ]; then fetch_index; fi

# Resolves the closure: "Package Version Filename SHA256" per line, in dependency order.
# Versions in relations are ignored (one suite holds one version of each package); of
# alternatives the first that exists wins, and a virtual package goes to a provider whose
# Priority is required (mawk for awk) before any other.
resolve() {
  python3 - "$index" $packages <<'EOF'
import sys
index, wanted = sys.argv[1], sys.argv[2:]
pkgs, providers, cur = {}, {}, {}

def flush():
    name = cur.get("Package")
    if name and name not in pkgs:
        pkgs[name] = dict(cur)
        for p in cur.get("Provides", "").split(","):
            p = p.strip().split(" ")[0]
            if p:
                providers.setdefault(p, []).append(name)

with open(index, encoding="utf-8", errors="replace") as f:
    for line in f:
        line = line.rstrip("\n")
        if not line:
            flush(); cur = {}
        elif line[0] not in " \t":
            k, _, v = line.partition(":")
            cur[k] = v.strip()
flush()

def provider(virtual):
    cands = providers.get(virtual, [])
    req = [c for c in cands if pkgs[c].get("Priority") == "required"]
    return (req or cands or [None])[0]

chosen, seen, todo, missing = [], set(), list(wanted), []
while todo:
    p = todo.pop(0)
    if p in seen:
        continue
    if p not in pkgs:
        missing.append(p); continue
    seen.add(p); chosen.append(p)
    for rel in (pkgs[p].get("Pre-Depends", "") + "," + pkgs[p].get("Depends", "")).split(","):
        alts = [a.strip().split(" ")[0].split(":")[0] for a in rel.split("|") if a.strip()]
        if not alts or any(a in seen or set(providers.get(a, [])) & seen for a in alts):
            continue
        pick = next((a for a in alts if a in pkgs), None) or next(filter(None, map(provider, alts)), None)
        if pick is None:
            missing.append(rel.strip())
        else:
            todo.append(pick)
if missing:
    sys.exit("debian-image: cannot resolve: " + ", ".join(missing))
for p in chosen:
    print(p, pkgs[p]["Version"], pkgs[p]["Filename"], pkgs[p]["SHA256"])
EOF
}
list=$(resolve)

# Same versions as the layout already in OUTDIR: nothing to do.
if [ -f "$out/index.json" ] && [ "$(cat "$out/c2w-debian.packages" 2>/dev/null)" = "$list" ]; then
  echo "$out"; exit 0
fi

fetch_deb() { # FILENAME SHA256 -> path of the verified .deb in the cache
  local deb="$cache/debs/$(basename "$1")"
  if [ ! -s "$deb" ] || [ "$(sha256sum "$deb" | cut -d' ' -f1)" != "$2" ]; then
    curl -fsSL "$mirror/$1" -o "$deb.part" || return 1
    [ "$(sha256sum "$deb.part" | cut -d' ' -f1)" = "$2" ] \
      || { echo "debian-image: checksum mismatch for $1" >&2; rm -f "$deb.part"; return 1; }
    mv "$deb.part" "$deb"
  fi
  echo "$deb"
}

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"
while read -r pkg _ file sum; do
  deb=$(fetch_deb "$file" "$sum") || { echo "debian-image: cannot fetch $pkg ($file)" >&2; exit 1; }
  dpkg-deb -x "$deb" "$root"
done <<< "$list"

# Merged /usr: what a package still ships under /bin, /lib, ... moves to /usr, and the old
# names become the symlinks trixie's programs (and ELF interpreters) are found through.
for d in bin sbin lib lib32 lib64 libx32; do
  if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
    mkdir -p "$root/usr/$d"
    cp -a "$root/$d/." "$root/usr/$d/"
    rm -rf "${root:?}/$d"
  fi
  if [ -d "$root/usr/$d" ] && [ ! -e "$root/$d" ]; then ln -s "usr/$d" "$root/$d"; fi
done
# /bin/sh is dash's, normally made by its maintainer script.
[ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"

mkdir -p "$root"/{proc,sys,dev,run,tmp,root,home,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nogroup:x:65534:
EOF

rm -rf "$out.part"
python3 "$here/oci-image.py" --arch "$arch" --out "$out.part" --cmd '["/bin/bash"]' \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$root"
echo "$list" > "$out.part/c2w-debian.packages"
rm -rf "$out" && mv "$out.part" "$out"
echo "$out"
