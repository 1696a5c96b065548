# shellcheck shell=bash disable=SC2034
# Shared settings and helpers for the emulated-board scripts (sourced, not run).
#
# Cache: everything downloaded or built lives in $GANGLION_EMU_CACHE (default ~/.cache/ganglion-emu),
# outside the repository, keyed by the Debian kernel ABI (e.g. 6.1.0-41-arm64), so repeated runs only
# rebuild the per-run initramfs. Set GANGLION_EMU_KABI to pin an ABI (e.g. 6.1.0-41); otherwise the
# newest bookworm arm64 kernel is resolved once and remembered in $CACHE/kabi.

EMU_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${GANGLION_EMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ganglion-emu}
APTDIR=$CACHE/apt
DEBS=$CACHE/debs

log() { printf '[emu %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '[emu] error: %s\n' "$*" >&2; exit 1; }

# apt options that fetch arm64 (and amd64 linux-kbuild) packages without touching the host's own
# apt state: a private list folder, package cache and (empty) dpkg status.
apt_opts() {
    printf '%s\n' \
        -oAPT::Architecture=arm64 -oAPT::Architectures::=arm64 -oAPT::Architectures::=amd64 \
        "-oDir::State::Lists=$APTDIR/lists" "-oDir::Cache=$APTDIR/cache" \
        "-oDir::State::status=$APTDIR/status" -oAPT::Sandbox::User=root \
        -oDebug::NoLocking=1 -qq
}

# Kernel ABI (e.g. "6.1.0-41") -> per-ABI cache folder.
kdir() { echo "$CACHE/k/$1"; }
