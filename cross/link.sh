#!/usr/bin/env bash
# The linker of the ARM builds (cross/env.sh points cargo at the symlinks in cross/linker/, named
# after the target's gcc). Runs that gcc with lld (rustc's own rust-lld, through the gcc-ld
# directory rustc uses for x86_64) instead of GNU ld, so the ARM binaries get what agent/build.rs
# gives the x86_64 one:
#   - relative relocations packed (-z pack-relative-relocs, DT_RELR, glibc >= 2.36): the loader
#     reads a few KiB instead of a .rel(a).dyn of hundreds at every start;
#   - for the ganglion binary, the functions of cross/link-order.txt placed together
#     (--symbol-ordering-file), so an idle agent keeps ~1-3 MB of its code resident instead of
#     most of it. That list holds the x86_64 release build's names, and Rust's names carry hashes
#     that differ per target and profile, so this script matches them with the hashes left out
#     against the symbols of the objects it links (nm) and hands lld those, in the list's order.
# GANGLION_LINK_ORDER=0 links without the ordering, GANGLION_LINK_MAP=1 also writes the linker
# map beside the output (<output>.map), as agent/build.rs does on x86_64.
set -euo pipefail
cc=$(basename "$0")                              # aarch64-linux-gnu-gcc, arm-linux-gnueabihf-gcc
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
gcc_ld=$(rustc --print sysroot)/lib/rustlib/$host/bin/gcc-ld
[[ -x $gcc_ld/ld.lld ]] || { echo "link.sh: no $gcc_ld/ld.lld (rustc's lld)" >&2; exit 1; }
extra=(-fuse-ld=lld "-B$gcc_ld" -Wl,-z,pack-relative-relocs)

# The arguments, with rustc's response file (@file, one argument per line, used when the command
# line is too long) read back, to find the output and the inputs.
args=()
for a in "$@"; do
    if [[ $a == @* && -f ${a#@} ]]; then
        while IFS= read -r line; do args+=("${line//\\/}"); done <"${a#@}"
    else
        args+=("$a")
    fi
done
out="" inputs=()
for ((i = 0; i < ${#args[@]}; i++)); do
    a=${args[i]}
    if [[ $a == -o ]]; then
        out=${args[i + 1]:-}
    elif [[ $a == *.o || $a == *.rlib || $a == *.a ]] && [[ -f $a ]]; then
        inputs+=("$a")
    fi
done

order_list=$root/cross/link-order.txt
if [[ $(basename "$out") == ganglion-* && ${GANGLION_LINK_ORDER:-1} != 0 && -f $order_list ]] &&
    ((${#inputs[@]})); then
    order=$out.link-order
    # A name's key: the name without what differs between builds of the same code: LLVM's
    # ".llvm.N" suffix of internalized names, the hash of legacy Rust names ("17h<hash>E") and
    # the crate disambiguators of v0 names ("Cs<base62>_"). C names (QuickJS) are their own key.
    "${cc%gcc}nm" --defined-only -j "${inputs[@]}" 2>/dev/null |
        awk -v list="$order_list" '
            function key(s) {
                sub(/\.llvm\.[0-9]+$/, "", s)
                if (s ~ /^_ZN/) sub(/17h[0-9a-f]+E$/, "E", s)
                else if (s ~ /^_R/) gsub(/Cs[0-9A-Za-z]*_/, "C", s)
                return s
            }
            BEGIN {
                while ((getline name < list) > 0) {
                    k = key(name)
                    if (name != "" && !(k in rank)) rank[k] = ++n
                }
            }
            $0 != "" && $0 !~ /:$/ && !seen[$0]++ { k = key($0); if (k in rank) print rank[k], $0 }
        ' | sort -n -s -k1,1 | cut -d' ' -f2- >"$order" || true
    if [[ -s $order ]]; then
        extra+=("-Wl,--symbol-ordering-file=$order" -Wl,--no-warn-symbol-ordering)
    fi
fi
if [[ ${GANGLION_LINK_MAP:-0} == 1 && -n $out ]]; then
    extra+=("-Wl,-Map=$out.map")
fi
exec "$cc" "$@" "${extra[@]}"
