# Sourced by the end-to-end tests that run a Debian userland (debian.sh, node.sh); not a test
# itself. The caller sets arch (riscv64 | amd64). Sets repo, work (target/e2e), tmp (removed on
# exit) and t0, and provides:
#   debian_image NAME [PACKAGES]  builds $work/NAME-$arch.oci with scripts/debian-image.sh
#                                 (PACKAGES replaces its default list) and unpacks the one layer
#                                 to $root, for host-side expectations
#   debian_runner NAME            converts it with c2w into $work/NAME-$arch.wasm and defines
#                                 `vm CMD...` (wasmtime run); riscv64 without c2w boots the
#                                 native VM on a bundle instead. Sets mode.
#   check NAME EXPECTED CMD...    PASS when CMD exits 0 and prints exactly EXPECTED (stdin:
#                                 the caller's); with FIRST_LINE=1 only the first line counts
#   check_status NAME STATUS CMD...  PASS when CMD exits with STATUS
#   debian_done LABEL             prints the totals; its status is the verdict
# Env: C2W, WASMTIME, E2E_VM, E2E_TIMEOUT (seconds a command, default 60).

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
work="$repo/target/e2e"
mkdir -p "$work"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS
C2W=${C2W:-$repo/target/release/c2w}
WASMTIME=${WASMTIME:-wasmtime}
timeout=${E2E_TIMEOUT:-60}
pass=0 fail=0
export LC_ALL=C

debian_image() {
  local name=$1 t=$SECONDS
  layout="$work/$name-$arch.oci"
  DEBIAN_PACKAGES=${2:-${DEBIAN_PACKAGES:-}} "$repo/scripts/debian-image.sh" "$arch" "$layout" > /dev/null \
    || { echo "FAIL image: debian-image.sh $arch"; exit 1; }
  echo "image: $layout ($(wc -l < "$layout/c2w-debian.packages") packages, $((SECONDS - t)) s)"
  root="$tmp/root"
  mkdir -p "$root"
  local layer
  layer=$(python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json")); m=json.load(open(d+"/blobs/"+i["manifests"][0]["digest"].replace(":","/"))); print(m["layers"][0]["digest"].replace(":","/"))' "$layout")
  tar -xzf "$layout/blobs/$layer" -C "$root"
}

debian_runner() {
  local name=$1 t=$SECONDS
  if [ -x "$C2W" ]; then
    mode="c2w + wasmtime"
    wasm="$work/$name-$arch.wasm"
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
    "$repo/tests/e2e/native-bundle.sh" "$root" "$tmp/bundle" '["/bin/bash"]' \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin || { echo "FAIL bundle"; exit 1; }
    vm() { timeout "$timeout" "$native" --bundle "$tmp/bundle" -- "$@"; }
  else
    echo "FAIL setup: no $C2W, and the native fallback is riscv64 only"
    exit 1
  fi
  echo "runner: $mode (ready in $((SECONDS - t)) s)"
}

# verdict NAME OK RC GOT WANT S: counts and reports one check.
verdict() {
  local name=$1 ok=$2 rc=$3 got=$4 want=$5 s=$6
  if [ "$ok" = 1 ]; then
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

check() {
  local name=$1 want=$2 got rc s=$SECONDS
  shift 2
  got=$(vm "$@" 2> "$tmp/err")
  rc=$?
  [ "${FIRST_LINE:-}" = 1 ] && got=${got%%$'\n'*}
  verdict "$name" "$([ $rc -eq 0 ] && [ "$got" = "$want" ] && echo 1)" "$rc" "$got" "$want" "$s"
}

check_status() {
  local name=$1 want=$2 got rc s=$SECONDS
  shift 2
  got=$(vm "$@" 2> "$tmp/err")
  rc=$?
  verdict "$name" "$([ $rc -eq "$want" ] && echo 1)" "$rc" "exit $rc" "exit $want" "$s"
}

debian_done() {
  echo "$1 on $mode: $((SECONDS - t0)) s in all"
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
