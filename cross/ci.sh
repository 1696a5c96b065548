#!/usr/bin/env bash
# CI entry for cross/: installs the toolchains, builds the ARM binaries, smoke-tests them under
# qemu-user (and the aarch64 one against a loopback Mosquitto: qemu-user-mqtt.sh), builds the
# arm64/armhf .debs, boots the emulated board's busybox self-test and runs the aarch64 agent on it
# (the dynamic build with its glibc copied in: agent-smoke.sh, and agent-board.sh: bme280 and nmea
# sensors, debounced GPIO edges, through the kernel's drivers). Two ARM builds, no separate static one.
# Every step runs even if an earlier one failed (except when a build it needs failed); ends with
# "cross: N passed, N failed" and exits non-zero on any failure.
# Usage: cross/ci.sh [--amd64] [--fast]
#   --amd64  also builds and packages the x86_64 binary
#   --fast   builds with build.sh --fast (thin LTO, 16 codegen units; larger, and on 2 cores not
#            faster) instead of --small (the size-tuned profile the packages are released with)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root" || exit 1
pass=0 fail=0
step() {  # step NAME CMD...: run, time, count
    local name=$1 s rc
    shift
    s=$(date +%s)
    echo "=== cross: $name"
    "$@"
    rc=$?
    if ((rc == 0)); then pass=$((pass + 1)); r=ok; else fail=$((fail + 1)); r="FAILED ($rc)"; fi
    echo "=== cross: $name: $r in $(($(date +%s) - s))s"
    return $rc
}
smoke() {  # smoke QEMU SYSROOT BIN: the cross-built agent starts and runs a script under qemu-user
    local js
    js=$(mktemp --suffix=.js)
    echo 'console.log("smoke", 6 * 7)' >"$js"
    local out rc=1
    # (no `tee /dev/stderr`: it truncates the log when stderr is a file)
    if "$1" -L "$2" "$3" --version; then
        out=$("$1" -L "$2" "$3" run "$js" 2>&1)
        printf '%s\n' "$out"
        grep -q 'smoke 42' <<<"$out" && rc=0
    fi
    rm -f "$js"
    return $rc
}

amd64=0 prof=--small dir=release-small
for a in "$@"; do
    case $a in
        --amd64) amd64=1 ;;
        --fast) prof=--fast dir=release-fast ;;
        *) echo "usage: cross/ci.sh [--amd64] [--fast]" >&2; exit 2 ;;
    esac
done
t_ci=$(date +%s)

step setup "$here/setup.sh" || { echo "cross: 0 passed, 1 failed"; exit 1; }
# The rule the ARM links match the link-order list by, the drift count the benchmark reports,
# and its check of where an idle agent's code is resident.
step "link-order rules (cross/symkey.py and cross/resident.py doctests)" \
  python3 -m doctest "$here/symkey.py" "$here/resident.py"
step "build aarch64" "$here/build.sh" aarch64 $prof && {
    a64=target/cross/aarch64-$dir/ganglion
    step "qemu-aarch64 smoke" smoke qemu-aarch64 /usr/aarch64-linux-gnu "$a64"
    step "qemu-aarch64 example -> mosquitto" "$here/qemu-user-mqtt.sh" "$a64"
    step "package arm64" "$here/package.sh" arm64 --bin "$a64"
}
step "build armv7" "$here/build.sh" armv7 $prof && {
    step "qemu-arm smoke" smoke qemu-arm /usr/arm-linux-gnueabihf target/cross/armv7-$dir/ganglion
    step "package armhf" "$here/package.sh" armhf --bin target/cross/armv7-$dir/ganglion
}
if ((amd64)); then
    step "build x86_64" "$here/build.sh" x86_64 $prof &&
        step "package amd64" "$here/package.sh" amd64 --bin target/cross/x86_64-$dir/ganglion
fi
step "emulated board self-test" "$here/emulated-board/selftest.sh"
if [[ -n ${a64:-} ]]; then
    step "emulated board agent smoke test" "$here/emulated-board/agent-smoke.sh" "$a64"
    step "emulated board agent test (sensors, debounce)" "$here/emulated-board/agent-board.sh" "$a64"
fi
echo "cross: wall time $(($(date +%s) - t_ci))s"
echo "cross: $pass passed, $fail failed"
((fail == 0))
