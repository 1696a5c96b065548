#!/usr/bin/env bash
# Downloads and unpacks what the emulated board needs, into the cache (see lib.sh):
#   arm64: linux-image-<abi>-arm64-unsigned, linux-headers-<abi>-arm64, linux-headers-<abi>-common,
#          linux-source-6.1 (four files are used), busybox-static
#   amd64: linux-kbuild-6.1 (host tools the headers' Makefile runs)
# Prints the kernel ABI (e.g. 6.1.0-41) on stdout. Idempotent: does nothing when already unpacked.
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

# Resolve the ABI: env pin, then the remembered one, then the archive's newest.
kabi=${GANGLION_EMU_KABI:-}
if [[ -z $kabi && $refresh -eq 0 && -s $CACHE/kabi ]]; then
    kabi=$(<"$CACHE/kabi")
fi
if [[ -z $kabi ]]; then
    update_lists
    # linux-headers-arm64 (metapackage) depends on linux-headers-<abi>-arm64
    kabi=$(apt-cache "${O[@]}" depends linux-headers-arm64 \
        | sed -n 's/.*Depends: linux-headers-\([0-9.]*-[0-9]*\)-arm64$/\1/p' | head -1)
    [[ -n $kabi ]] || die "could not resolve the arm64 kernel ABI from the Debian archive"
    echo "$kabi" >"$CACHE/kabi"
fi

K=$(kdir "$kabi")
if [[ -f $K/.fetched ]]; then
    echo "$kabi"
    exit 0
fi

pkgs=("linux-image-$kabi-arm64-unsigned" "linux-headers-$kabi-arm64" "linux-headers-$kabi-common"
      linux-source-6.1 busybox-static linux-kbuild-6.1:amd64)

download() {  # download PKG into $DEBS unless a .deb for it is already there
    local p=$1 name=${1%%:*} arch=arm64
    [[ $p == *:amd64 ]] && arch=amd64
    if compgen -G "$DEBS/${name}_*_${arch}.deb" >/dev/null || compgen -G "$DEBS/${name}_*_all.deb" >/dev/null; then
        return 0
    fi
    update_lists
    log "downloading $p"
    (cd "$DEBS" && apt-get "${O[@]}" download "$p")
}
for p in "${pkgs[@]}"; do download "$p"; done

# The kernel version (e.g. 6.1.158-1) of the image must match source, headers and kbuild.
deb_of() { ls -t "$DEBS"/"$1"_*_"$2".deb | head -1; }
img=$(deb_of "linux-image-$kabi-arm64-unsigned" arm64)
kver=$(dpkg-deb -f "$img" Version)
src=$(deb_of linux-source-6.1 all)
kb=$(deb_of linux-kbuild-6.1 amd64)
for d in "$src" "$kb"; do
    v=$(dpkg-deb -f "$d" Version)
    [[ $v == "$kver" ]] || die "$(basename "$d") is $v but the kernel is $kver: run $0 --refresh (or remove $DEBS)"
done

log "unpacking into $K"
rm -rf "$K.tmp"
mkdir -p "$K.tmp"/{image,headers,busybox}
dpkg-deb -x "$img" "$K.tmp/image"
dpkg-deb -x "$(deb_of "linux-headers-$kabi-arm64" arm64)" "$K.tmp/headers"
dpkg-deb -x "$(deb_of "linux-headers-$kabi-common" all)" "$K.tmp/headers"
dpkg-deb -x "$kb" "$K.tmp/headers"
dpkg-deb -x "$(deb_of busybox-static arm64)" "$K.tmp/busybox"

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
