#!/usr/bin/env bash
# Builds the emulated board's initramfs (gzip -1 newc cpio).
#   1. A cached base root ($CACHE/k/<abi>/rootfs): busybox-static, the kernel modules the board needs
#      (configfs, i2c-dev, virtio-pci/mmio, 9p, and the out-of-tree gpio-sim, gpio-mockup, i2c-stub,
#      irq_sim with their dependencies) and modules.dep made by the host's depmod.
#   2. Per call: a copy of that base plus guest/init and the caller's files, packed to OUT.
# Usage: make-initramfs.sh <abi> <out.cpio.gz> [SRC=DEST ...]
#   SRC=DEST copies a host file SRC to DEST inside the guest (DEST absolute; parent folders created).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

kabi=${1:?usage: make-initramfs.sh <abi> <out.cpio.gz> [SRC=DEST ...]}
out=${2:?usage: make-initramfs.sh <abi> <out.cpio.gz> [SRC=DEST ...]}
shift 2
K=$(kdir "$kabi")
uname_r=$kabi-arm64
[[ -f $K/modules/.stamp ]] || die "modules for $kabi are not built: run build-modules.sh $kabi"

base=$K/rootfs
stamp=$(cat "$0" "$K/modules/.stamp" | sha256sum | cut -c1-16)
if [[ ! -f $base/.stamp || $(<"$base/.stamp") != "$stamp" ]]; then
    log "building base root in $base"
    img=$K/image
    mdir=$img/lib/modules/$uname_r
    # Our modules beside Debian's, so one depmod resolves every dependency.
    mkdir -p "$mdir/extra"
    for ko in "$K"/modules/*.ko; do
        aarch64-linux-gnu-strip --strip-debug -o "$mdir/extra/$(basename "$ko")" "$ko"
    done
    depmod -b "$img" "$uname_r"

    rm -rf "$base"
    mkdir -p "$base"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,var,root,mnt/share,lib/modules/"$uname_r"}
    cp "$K/busybox/bin/busybox" "$base/bin/busybox"
    want=(configfs i2c-dev virtio_pci virtio_mmio 9pnet_virtio 9p irq_sim_mod gpio-sim gpio-mockup i2c-stub)
    for m in "${want[@]}"; do
        modprobe -d "$img" -S "$uname_r" --show-depends "$m" \
            | awk '$1 == "insmod" { print $2 }'
    done | sort -u | while read -r path; do
        rel=${path#"$img"/}
        mkdir -p "$base/$(dirname "$rel")"
        cp "$path" "$base/$rel"
    done
    cp "$mdir"/modules.builtin "$mdir"/modules.builtin.modinfo "$mdir"/modules.order "$base/lib/modules/$uname_r/"
    depmod -b "$base" "$uname_r"
    for m in "${want[@]}"; do
        modprobe -d "$base" -S "$uname_r" --show-depends "$m" >/dev/null \
            || die "module $m (or a dependency) is missing from the base root"
    done
    echo "$stamp" >"$base/.stamp"
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/ganglion-initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$base/." "$stage/"
rm -f "$stage/.stamp"
install -m 0755 "$EMU_DIR/guest/init" "$stage/init"
install -m 0644 "$EMU_DIR/guest/emu-lib.sh" "$stage/lib/emu-lib.sh"
for pair in "$@"; do
    src=${pair%%=*}
    dst=${pair#*=}
    [[ $pair == *=* && $dst == /* ]] || die "bad file spec '$pair' (want SRC=/absolute/dest)"
    [[ -f $src ]] || die "file not found: $src"
    mkdir -p "$stage$(dirname "$dst")"
    cp "$src" "$stage$dst"
    [[ $dst == */bin/* ]] && chmod 0755 "$stage$dst"
done
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out"
