# Sourced by build.sh and check.sh: per-architecture facts and the fragment check they share.

# Sets karch, cross, target (make target), built (path in the build tree) and image (path here).
kernel_arch() {
  case "$1" in
    riscv64) karch=riscv cross=riscv64-linux-gnu- target=Image built=arch/riscv/boot/Image image=riscv64/Image ;;
    x86_64) karch=x86 cross= target=bzImage built=arch/x86/boot/bzImage image=x86_64/bzImage ;;
    *) echo "unknown arch '$1': expected riscv64 or x86_64" >&2; return 1 ;;
  esac
}

# Fails, naming each symbol, unless every setting of the fragment is in the full config:
# "CONFIG_X=v" must appear verbatim, "# CONFIG_X is not set" must not be set to anything.
fragment_holds() { # fragment config
  local fragment=$1 config=$2 line sym bad=0
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*)
        grep -qxF -- "$line" "$config" || { echo "$config: wanted '$line', got '$(grep "^${line%%=*}=" "$config" || echo unset)'" >&2; bad=1; } ;;
      "# CONFIG_"*" is not set")
        sym=${line#\# }; sym=${sym%% *}
        ! grep -q "^$sym=" "$config" || { echo "$config: wanted $sym unset, got '$(grep "^$sym=" "$config")'" >&2; bad=1; } ;;
    esac
  done < "$fragment"
  return $bad
}
