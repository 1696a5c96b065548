#!/usr/bin/env bash
# Downloads and unpacks what the emulated board needs, into the cache (see lib.sh):
#   arm64: linux-image-<abi>-arm64-unsigned, linux-headers-<abi>-arm64, linux-headers-<abi>-common,
#          linux-source-6.1 (five files are used), busybox-static
#   amd64: linux-kbuild-6.1 (host tools the headers' Makefile runs)
# All at the kernel's exact version. Prints the kernel ABI (e.g. 6.1.0-41) on stdout. Idempotent:
# no network once unpacked; a remembered kernel that left the archive is replaced by the newest.
# Usage: fetch.sh [--refresh]   (--refresh re-resolves the newest kernel ABI from the archive)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

refresh=0
[[ ${1:-} == --refresh ]] && refresh=1

mapfile -t O < <(apt_opts)
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$DEBS"
touch "$APTDIR/status"

lists_fresh=0
update_lists() {
    ((lists_fresh)) && return 0
    log "apt-get update (arm64 + amd64 lists in $APTDIR)"
    apt-get "${O[@]}" update
    lists_fresh=1
}

# Resolve the ABI and the exact kernel package version: env pin, then the remembered pair
# ($CACHE/kabi: "ABI VERSION"), then the archive's newest.
resolve() {  # resolve [ABI]: print "ABI VERSION" from the archive's lists
    local abi=${1:-} ver
    update_lists
    if [[ -z $abi ]]; then
        # linux-headers-arm64 (metapackage) depends on linux-headers-<abi>-arm64
        abi=$(apt-cache "${O[@]}" depends linux-headers-arm64 \
            | sed -n 's/.*Depends: linux-headers-\([0-9.]*-[0-9]*\)-arm64$/\1/p' | head -1)
        [[ -n $abi ]] || die "could not resolve the arm64 kernel ABI from the Debian archive"
    fi
    ver=$(apt-cache "${O[@]}" show "linux-image-$abi-arm64-unsigned" 2>/dev/null \
        | sed -n 's/^Version: //p' | head -1)
    [[ -n $ver ]] || die "linux-image-$abi-arm64-unsigned is not in the Debian archive (GANGLION_EMU_KABI?)"
    echo "$abi $ver"
}
pair=""
if [[ -n ${GANGLION_EMU_KABI:-} ]]; then
    if [[ -s $CACHE/kabi && $(cut -d' ' -f1 "$CACHE/kabi") == "$GANGLION_EMU_KABI" ]]; then
        pair=$(<"$CACHE/kabi")
    else
        pair=$(resolve "$GANGLION_EMU_KABI")
    fi
elif [[ $refresh -eq 0 && -s $CACHE/kabi ]]; then
    pair=$(<"$CACHE/kabi")
else
    pair=$(resolve)
fi
read -r kabi kver <<<"$pair"
[[ -n $kabi && -z $kver ]] && read -r kabi kver <<<"$(resolve "$kabi")"  # old one-field cache file
[[ -n $kabi && -n $kver ]] || die "bad kernel ABI/version '$pair' (remove $CACHE/kabi)"
echo "$kabi $kver" >"$CACHE/kabi"

K=$(kdir "$kabi")
if [[ -f $K/.fetched ]]; then
    echo "$kabi"
    exit 0
fi

# Exact versions: the kernel's own, for image, headers, source and kbuild; busybox any.
pkgs=("linux-image-$kabi-arm64-unsigned=$kver" "linux-headers-$kabi-arm64=$kver"
      "linux-headers-$kabi-common=$kver" "linux-source-6.1=$kver" "linux-kbuild-6.1:amd64=$kver"
      busybox-static)
deb_of() {  # deb_of NAME VERSION|* ARCH -> newest matching .deb in $DEBS (or nothing)
    local v=${2//:/%3a}
    # shellcheck disable=SC2086
    ls -t "$DEBS"/"$1"_$v"_$3.deb" 2>/dev/null | head -1
}
missing=()
for p in "${pkgs[@]}"; do
    name=${p%%=*} ver=${p#*=} arch=arm64
    [[ $p == *=* ]] || ver='*'
    [[ $name == *:amd64 ]] && { name=${name%:amd64}; arch=amd64; }
    [[ $name == linux-source-6.1 || $name == linux-headers-*-common ]] && arch=all
    [[ -n $(deb_of "$name" "$ver" "$arch") ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    update_lists
    log "downloading ${missing[*]}"
    if ! (cd "$DEBS" && apt-get "${O[@]}" download "${missing[@]}"); then
        if [[ -z ${GANGLION_EMU_KABI:-} && $refresh -eq 0 ]]; then
            log "kernel $kabi ($kver) is gone from the archive: resolving the newest"
            exec "$0" --refresh
        fi
        die "download failed"
    fi
fi
img=$(deb_of "linux-image-$kabi-arm64-unsigned" "$kver" arm64)
src=$(deb_of linux-source-6.1 "$kver" all)
kb=$(deb_of linux-kbuild-6.1 "$kver" amd64)

log "unpacking into $K"
rm -rf "$K.tmp"
mkdir -p "$K.tmp"/{image,headers,busybox}
dpkg-deb -x "$img" "$K.tmp/image"
dpkg-deb -x "$(deb_of "linux-headers-$kabi-arm64" "$kver" arm64)" "$K.tmp/headers"
dpkg-deb -x "$(deb_of "linux-headers-$kabi-common" "$kver" all)" "$K.tmp/headers"
dpkg-deb -x "$kb" "$K.tmp/headers"
dpkg-deb -x "$(deb_of busybox-static '*' arm64)" "$K.tmp/busybox"

# Only five files of the kernel source are needed: extract just those from the tarball.
mkdir -p "$K.tmp/src"
dpkg-deb --fsys-tarfile "$src" | tar -x -C "$K.tmp/src" --wildcards './usr/src/linux-source-6.1.tar.xz'
tar -xJf "$K.tmp/src/usr/src/linux-source-6.1.tar.xz" -C "$K.tmp/src" \
    linux-source-6.1/drivers/gpio/gpio-sim.c linux-source-6.1/drivers/gpio/gpio-mockup.c \
    linux-source-6.1/drivers/gpio/gpiolib.h \
    linux-source-6.1/drivers/i2c/i2c-stub.c linux-source-6.1/kernel/irq/irq_sim.c
rm -rf "$K.tmp/src/usr"
echo "$kver" >"$K.tmp/kernel-version"
touch "$K.tmp/.fetched"
rm -rf "$K"
mv "$K.tmp" "$K"
echo "$kabi"
