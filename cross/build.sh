#!/usr/bin/env bash
# Release build of the `ganglion` agent for one target, from this x86_64 machine.
#
# Usage: cross/build.sh <aarch64|armv7|aarch64-static|x86_64> [--small|--fast] [--profile NAME] [cargo args...]
#   aarch64         aarch64-unknown-linux-gnu (Pi 3/4/5, Zero 2 W on 64-bit Raspberry Pi OS)
#   armv7           armv7-unknown-linux-gnueabihf (32-bit Raspberry Pi OS)
#   aarch64-static  aarch64-unknown-linux-gnu, glibc linked statically (+crt-static): for the emulated
#                   board's initramfs, which has no libc. Not musl: Debian has no aarch64 musl C cross
#                   compiler for QuickJS's C sources, and gcc with glibc headers against musl is an ABI
#                   gamble. Built in target/static so it does not evict the dynamic aarch64 build.
#   x86_64          x86_64-unknown-linux-gnu
#   --small         profile "release-small": release with opt-level "s", but 3 for QuickJS (rquickjs-sys,
#                   rquickjs-core); defined here via --config
#   --fast          profile "release-fast": release-small with lto = "thin", codegen-units = 16. Measured
#                   on 2 shared cores, cold: aarch64 245 s vs 233 s for --small, 8.01 MB vs 6.37 MB:
#                   no gain there (CI uses --small); may pay off with more cores
#   other args go to cargo (e.g. --no-default-features, --features X)
# Output: target/cross/<target>[-<profile>]/ganglion (stripped); prints its path and size, and for
# the ARM targets how many functions cross/link.sh laid out first (fails when none of Ganglion's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=cross/env.sh
source "$here/env.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
(($#)) || usage
name=$1
shift
profile=release
cargo_args=()
cfg=()
while (($#)); do
    case $1 in
        # Rust code for size, QuickJS (C, in rquickjs-sys, and its Rust core) for speed: measured
        # 13-17% smaller than release at the same JS speed; opt-level "s" everywhere is 21% smaller but
        # runs JS ~50% slower. Defined here because the workspace Cargo.toml has no such profile.
        --small) profile=release-small
                 cfg=(--config 'profile.release-small.inherits="release"'
                      --config 'profile.release-small.opt-level="s"'
                      --config 'profile.release-small.package.rquickjs-sys.opt-level=3'
                      --config 'profile.release-small.package.rquickjs-core.opt-level=3') ;;
        --fast) profile=release-fast
                cfg=(--config 'profile.release-fast.inherits="release"'
                     --config 'profile.release-fast.opt-level="s"'
                     --config 'profile.release-fast.lto="thin"'
                     --config 'profile.release-fast.codegen-units=16'
                     --config 'profile.release-fast.package.rquickjs-sys.opt-level=3'
                     --config 'profile.release-fast.package.rquickjs-core.opt-level=3') ;;
        --profile) profile=$2; shift ;;
        -h|--help) usage ;;
        *) cargo_args+=("$1") ;;
    esac
    shift
done

target_dir=${CARGO_TARGET_DIR:-$root/target}
case $name in
    aarch64) triple=aarch64-unknown-linux-gnu strip=aarch64-linux-gnu-strip ;;
    armv7) triple=armv7-unknown-linux-gnueabihf strip=arm-linux-gnueabihf-strip ;;
    aarch64-static)
        triple=aarch64-unknown-linux-gnu strip=aarch64-linux-gnu-strip
        target_dir=$root/target/static
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" ;;
    # Host build without --target: shares target/release with a plain `cargo build --release`.
    x86_64) triple="" strip=strip ;;
    *) usage ;;
esac
command -v "$strip" >/dev/null || { echo "build: $strip not found: run cross/setup.sh" >&2; exit 1; }

(
    cd "$root"
    cargo build -p ganglion --bin ganglion ${triple:+--target "$triple"} --profile "$profile" \
        --target-dir "$target_dir" ${cfg[@]+"${cfg[@]}"} ${cargo_args[@]+"${cargo_args[@]}"}
)
built=$target_dir/${triple:+$triple/}$profile/ganglion
suffix=""
[[ $profile != release ]] && suffix=-$profile
for a in ${cargo_args[@]+"${cargo_args[@]}"}; do
    [[ $a == --no-default-features ]] && suffix+=-nodefault
done
dest=$root/target/cross/$name$suffix
mkdir -p "$dest"
"$strip" -o "$dest/ganglion" "$built"
if [[ $name == aarch64-static ]] && file "$dest/ganglion" | grep -q 'dynamically linked'; then
    echo "build: $dest/ganglion is not static" >&2
    exit 1
fi
# The ARM link's layout (cross/link.sh keeps the order it used beside the linked file): nothing
# in it, or nothing naming Ganglion's crates or types, means the layout is gone; the binary would
# work but keep most of its code resident, so the build fails.
if [[ $name != x86_64 && ${GANGLION_LINK_ORDER:-1} != 0 ]]; then
    linked=$(find "$(dirname "$built")/deps" -maxdepth 1 -samefile "$built" -print -quit || true)
    order=${linked:+$linked.link-order}
    if [[ -z $order || ! -f $order ]]; then
        echo "build: no link order beside $built: it was not linked by cross/link.sh (cross/env.sh)" >&2
        exit 1
    fi
    total=$(wc -l <"$order")
    own=$(grep -c ganglion "$order" || true)
    echo "link order: $total names placed first, $own of them naming a Ganglion crate or type ($order)"
    if ((total == 0)); then
        echo "build: cross/link.sh matched nothing: check nm, python3 and the list agent/build.rs" \
            "passes (GANGLION_LINK_ORDER_LIST)" >&2
        exit 1
    elif ((own == 0)); then
        echo "build: the link-order list (cross/link-order-small.txt for --small) names none of" \
            "this build's Ganglion functions: run cross/link-order.sh" >&2
        exit 1
    fi
fi
bytes=$(stat -c %s "$dest/ganglion")
echo "$dest/ganglion"
awk -v b="$bytes" -v t="${triple:-x86_64-unknown-linux-gnu}" -v p="$profile" \
    'BEGIN { printf "%s %s: %d bytes stripped = %.2f MB (%.2f MiB)\n", t, p, b, b / 1e6, b / 1048576 }'
