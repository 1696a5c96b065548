#!/usr/bin/env bash
# CI entry for cross/: installs the toolchains, builds the ARM binaries, smoke-tests them under
# qemu-user, builds the arm64/armhf .debs, boots the emulated board's busybox self-test and runs the
# static agent on it (agent-smoke.sh: GPIO, I2C, UART through the kernel's drivers).
# Every step runs even if an earlier one failed (except when a build it needs failed); ends with
# "cross: N passed, N failed" and exits non-zero on any failure.
# Usage: cross/ci.sh [--amd64]   (--amd64 also builds and packages the x86_64 binary)
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

step setup "$here/setup.sh" || { echo "cross: 0 passed, 1 failed"; exit 1; }
step "build aarch64" "$here/build.sh" aarch64 --small && {
    step "qemu-aarch64 smoke" smoke qemu-aarch64 /usr/aarch64-linux-gnu target/cross/aarch64-release-small/ganglion
    step "package arm64" "$here/package.sh" arm64 --bin target/cross/aarch64-release-small/ganglion
}
step "build armv7" "$here/build.sh" armv7 --small && {
    step "qemu-arm smoke" smoke qemu-arm /usr/arm-linux-gnueabihf target/cross/armv7-release-small/ganglion
    step "package armhf" "$here/package.sh" armhf --bin target/cross/armv7-release-small/ganglion
}
step "build aarch64-static" "$here/build.sh" aarch64-static --small && static_ok=1
if [[ ${1:-} == --amd64 ]]; then
    step "build x86_64" "$here/build.sh" x86_64 --small &&
        step "package amd64" "$here/package.sh" amd64 --bin target/cross/x86_64-release-small/ganglion
fi
step "emulated board self-test" "$here/emulated-board/selftest.sh"
if [[ -n ${static_ok:-} ]]; then
    step "emulated board agent smoke test" "$here/emulated-board/agent-smoke.sh" target/cross/aarch64-static-release-small/ganglion
fi
echo "cross: $pass passed, $fail failed"
((fail == 0))
