#!/usr/bin/env bash
# Installs what building and testing Ganglion needs on Debian 12, idempotently: Debian packages
# only when missing (mosquitto for the MQTT tests, a C compiler for QuickJS), and checks the Rust
# toolchain. Cross toolchains and qemu are installed by cross/setup.sh when the ARM tests run.
set -euo pipefail

pkgs=(mosquitto gcc libc6-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian package starts a system broker on port 1883; the tests start their own on free
# ports, and the example's embedded broker wants 1883, so stop the system one if it runs.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
    systemctl stop mosquitto || true
fi
if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
echo "setup: ok"
