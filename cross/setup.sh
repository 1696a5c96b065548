#!/usr/bin/env bash
# Installs everything Ganglion's cross builds, .deb packaging and the emulated ARM board need, on a
# fresh Debian 12 (bookworm) machine as root, with no manual steps. Idempotent: apt-get update and
# install run only when a package is missing; rustup targets are added only when missing.
#
# Usage: cross/setup.sh [all|cross|emu]      (default: all)
#   cross: cross gcc + libc for arm64/armhf, qemu-user (smoke tests), Rust targets, packaging tools
#   emu:   qemu-system-aarch64 and what building out-of-tree kernel modules and an initramfs needs
set -euo pipefail

what=${1:-all}
case "$what" in all|cross|emu) ;; *) echo "usage: $0 [all|cross|emu]" >&2; exit 2 ;; esac

cross_pkgs=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
            qemu-user dpkg-dev file mosquitto python3)
emu_pkgs=(qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross kmod make bc flex bison
          libelf-dev libssl-dev cpio gzip xz-utils python3 ca-certificates)

pkgs=()
[[ $what == all || $what == cross ]] && pkgs+=("${cross_pkgs[@]}")
[[ $what == all || $what == emu ]] && pkgs+=("${emu_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done
# de-duplicate
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "setup: installing ${missing[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "setup: all Debian packages present"
fi

if [[ $what == all || $what == cross ]]; then
    # aarch64-unknown-linux-musl is added as the issue asks, but the static aarch64 binary is built
    # for aarch64-unknown-linux-gnu with +crt-static (Debian has no aarch64 musl C cross compiler for
    # QuickJS's C sources); see cross/build.sh.
    targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf aarch64-unknown-linux-musl)
    installed=$(rustup target list --installed)
    add=()
    for t in "${targets[@]}"; do
        grep -qx "$t" <<<"$installed" || add+=("$t")
    done
    if ((${#add[@]})); then
        rustup target add "${add[@]}"
    else
        echo "setup: Rust targets present"
    fi
fi
echo "setup: done ($what)"
