# shellcheck shell=bash
# Cross-compilation environment for Ganglion (bash: it finds itself through BASH_SOURCE): sourced by
# cross/build.sh (and by CI or a developer who wants to run cargo by hand: `source cross/env.sh;
# cargo build --target aarch64-unknown-linux-gnu`).
# Sets the linker and the C compiler per Rust target through environment variables only, so nothing
# is written to ~/.cargo/config. Debian's cross gcc is the compiler the `cc` crate uses for QuickJS's C
# sources (rquickjs) and, through cross/link.sh (the symlinks in cross/linker/), the linker driver:
# link.sh has it link with rustc's lld, packed relocations and the link order.
_ganglion_linker=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/linker

# aarch64, glibc (Pi 3/4/5, Zero 2 W on 64-bit Raspberry Pi OS).
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$_ganglion_linker/aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"

# armv7 hard-float, glibc (32-bit Raspberry Pi OS on Pi 2/3/4).
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=$_ganglion_linker/arm-linux-gnueabihf-gcc
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc
export AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf"
unset _ganglion_linker
