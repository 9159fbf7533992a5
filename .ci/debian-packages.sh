# Sourced by the cross-platform test scripts (test-aarch64.sh, test-windows.sh).
#
#   ensure_packages WHO CHECK PACKAGE...
#
# Runs CHECK (a shell function that says whether the tools are there); when it fails, installs the
# Debian packages, as root or through `sudo -n`, and runs CHECK again. Returns non-zero, saying
# what to install, when that cannot be done or the tools are still missing.
ensure_packages() {
  local who=$1 check=$2
  shift 2
  "$check" && return 0
  local as_root=()
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      echo "$who: missing tools; on Debian, as root: apt-get install $*" >&2
      return 1
    fi
  fi
  command -v apt-get >/dev/null || { echo "$who: missing tools, and no apt-get to install $*" >&2; return 1; }
  echo "$who: installing $* (Debian)" >&2
  local install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
  "${install[@]}" >/dev/null || { "${as_root[@]}" apt-get update -qq && "${install[@]}" >/dev/null; }
  "$check" || { echo "$who: $* installed, but the tools are still missing" >&2; return 1; }
}
