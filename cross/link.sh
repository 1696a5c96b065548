#!/usr/bin/env bash
# The linker of the ARM builds (cross/env.sh points cargo at the symlinks in cross/linker/, named
# after the target's gcc). Runs that gcc with lld (rustc's own rust-lld, through the gcc-ld
# directory rustc uses for x86_64) instead of GNU ld, so the ARM binaries get what agent/build.rs
# gives the x86_64 one:
#   - relative relocations packed (-z pack-relative-relocs, DT_RELR, glibc >= 2.36): the loader
#     reads a few KiB instead of a .rel(a).dyn of hundreds at every start;
#   - for the ganglion binary, the functions of cross/link-order-small.txt (or link-order.txt for
#     an opt-level 3 build: agent/build.rs picks it and passes GANGLION_LINK_ORDER_LIST) placed together
#     (--symbol-ordering-file), so an idle agent keeps ~1-3 MB of its code resident instead of
#     most of it. That list holds x86_64 builds' names, and Rust's names carry hashes that differ
#     per target and profile, so this script matches them with the hashes left out (the rule is
#     cross/symkey.py's) against the symbols of the objects it links (nm) and hands lld those, in
#     the list's order, keeping that order beside the output (<output>.link-order).
# GANGLION_LINK_ORDER=0 links without the ordering, GANGLION_LINK_MAP=1 also writes the linker
# map beside the output (<output>.map), as agent/build.rs does on x86_64.
set -euo pipefail
cc=$(basename "$0")                              # aarch64-linux-gnu-gcc, arm-linux-gnueabihf-gcc
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)

# The arguments, with rustc's response file (@file, used when the command line is too long: one
# argument per line, `\` and space escaped with a backslash) read back, to find the output, the
# inputs and rustc's own sysroot (its `-L <sysroot>/lib/rustlib/<target>/lib`).
args=()
for a in "$@"; do
    if [[ $a == @* && -f ${a#@} ]]; then
        while IFS= read -r line; do
            line=${line//\\\\/$'\x01'}
            line=${line//\\/}
            args+=("${line//$'\x01'/\\}")
        done <"${a#@}"
    else
        args+=("$a")
    fi
done
out="" inputs=() sysroot=""
for ((i = 0; i < ${#args[@]}; i++)); do
    a=${args[i]}
    if [[ $a == -o ]]; then
        out=${args[i + 1]:-}
    elif [[ $a == -L && ${args[i + 1]:-} == */lib/rustlib/*/lib ]]; then
        sysroot=${args[i + 1]%/lib/rustlib/*}
    elif [[ $a == -L*/lib/rustlib/*/lib ]]; then
        sysroot=${a#-L}
        sysroot=${sysroot%/lib/rustlib/*}
    elif [[ $a == *.o || $a == *.rlib || $a == *.a ]] && [[ -f $a ]]; then
        inputs+=("$a")
    fi
done
# lld as rustc links x86_64 with it: the gcc-ld directory of the host's rustlib in the sysroot.
gcc_ld=""
if [[ -n $sysroot ]]; then
    gcc_ld=$(dirname "$(compgen -G "$sysroot/lib/rustlib/*/bin/gcc-ld/ld.lld" | head -1)")
fi
if [[ -z $gcc_ld || ! -x $gcc_ld/ld.lld ]]; then
    echo "link.sh: no rustc sysroot with lib/rustlib/<host>/bin/gcc-ld/ld.lld in the arguments" \
        "(found '${sysroot}'): call it as cargo's linker" >&2
    exit 1
fi
extra=(-fuse-ld=lld "-B$gcc_ld" -Wl,-z,pack-relative-relocs)

# The layout, for the agent's binary only (not the library's test binary, also ganglion-<hash>).
# The list agent/build.rs chose for this build's opt-level (cross/link-order[-small].txt).
order_list=${GANGLION_LINK_ORDER_LIST:-}
if [[ ${CARGO_BIN_NAME:-} == ganglion && -n $out ]]; then
    rm -f "$out.link-order" "$out.map"
    if [[ ${GANGLION_LINK_ORDER:-1} != 0 && -n $order_list && -f $order_list ]] && ((${#inputs[@]})); then
        # A failure here only costs the layout: an empty file, and lld gets no order.
        "${cc%gcc}nm" --defined-only -j "${inputs[@]}" 2>/dev/null |
            python3 "$root/cross/symkey.py" "$order_list" >"$out.link-order" || true
        if [[ -s $out.link-order ]]; then
            extra+=("-Wl,--symbol-ordering-file=$out.link-order" -Wl,--no-warn-symbol-ordering)
        fi
    fi
    if [[ ${GANGLION_LINK_MAP:-0} == 1 ]]; then
        extra+=("-Wl,-Map=$out.map")
    fi
fi
exec "$cc" "$@" "${extra[@]}"
