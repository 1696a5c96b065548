#!/usr/bin/env bash
# Builds the ganglion .deb for one Debian architecture with dpkg-deb (no extra tools: dpkg-deb is on
# every Debian machine, cross architectures need nothing special, and the maintainer scripts stay
# plain shell in cross/debian/).
#
# Usage: cross/package.sh <arm64|armhf|amd64> [--bin PATH] [build.sh args, e.g. --no-default-features]
#   --bin PATH  package this binary instead of running `cross/build.sh <target> --small`
# Output: target/deb/ganglion_<version>_<arch>.deb (path printed last).
#
# Contents: /usr/bin/ganglion; /etc/ganglion/ganglion.toml and /etc/ganglion/scripts/main.js
# (conffiles); board files in /usr/share/ganglion/boards/ (from board-configs/); example scripts in
# /usr/share/ganglion/examples/ (from scripts/); the systemd unit; a udev rule giving /dev/gpiochip*
# and /dev/i2c-* to the gpio and i2c groups; postinst creating the `ganglion` system user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
(($#)) || usage
arch=$1
shift
case $arch in
    arm64) name=aarch64 objdump=aarch64-linux-gnu-objdump runner=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
    armhf) name=armv7 objdump=arm-linux-gnueabihf-objdump runner=(qemu-arm -L /usr/arm-linux-gnueabihf) ;;
    amd64) name=x86_64 objdump=objdump runner=() ;;
    *) usage ;;
esac
bin=""
build_args=()
while (($#)); do
    case $1 in
        --bin) bin=$2; shift ;;
        -h|--help) usage ;;
        *) build_args+=("$1") ;;
    esac
    shift
done
if [[ -z $bin ]]; then
    bin=$("$here/build.sh" "$name" --small ${build_args[@]+"${build_args[@]}"} | tail -2 | head -1)
fi
[[ -x $bin ]] || { echo "package: no executable at $bin" >&2; exit 1; }

version=$(cd "$root" && cargo metadata --no-deps --format-version 1 \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "ganglion"))')

# Runtime dependencies from the binary's own dynamic section.
depends=(adduser)
needed=$("$objdump" -p "$bin" | awk '$1 == "NEEDED" { print $2 }')
glibc=$("$objdump" -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)
# Packed relative relocations (DT_RELR, cross/link.sh and agent/build.rs) need glibc 2.36's loader;
# they show as the version GLIBC_ABI_DT_RELR, which no symbol carries.
if "$objdump" -p "$bin" | grep -q GLIBC_ABI_DT_RELR; then
    glibc=$(printf '%s\n' "${glibc:-2.31}" 2.36 | sort -V | tail -1)
fi
for lib in $needed; do
    case $lib in
        libc.so.6|libm.so.6|libpthread.so.0|libdl.so.2|librt.so.1|ld-linux*) ;;
        libgcc_s.so.1) depends+=("libgcc-s1") ;;
        *) echo "package: unexpected shared library $lib: add its package to package.sh" >&2; exit 1 ;;
    esac
done
[[ -n $needed ]] && depends+=("libc6 (>= ${glibc:-2.31})")
mapfile -t depends < <(printf '%s\n' "${depends[@]}" | sort -u)

stage=$root/target/deb/$arch
rm -rf "$stage"
mkdir -p "$stage"/{DEBIAN,usr/bin,etc/ganglion/scripts,lib/systemd/system,lib/udev/rules.d} \
    "$stage"/usr/share/{ganglion/boards,ganglion/examples,doc/ganglion}
install -m 0755 "$bin" "$stage/usr/bin/ganglion"
install -m 0644 "$here/debian/ganglion.toml" "$stage/etc/ganglion/ganglion.toml"
install -m 0644 "$here/debian/main.js" "$stage/etc/ganglion/scripts/main.js"
install -m 0644 "$here/debian/ganglion.service" "$stage/lib/systemd/system/ganglion.service"
install -m 0644 "$here/debian/60-ganglion.rules" "$stage/lib/udev/rules.d/60-ganglion.rules"
install -m 0644 "$here/debian/copyright" "$stage/usr/share/doc/ganglion/copyright"
if compgen -G "$root/board-configs/*.toml" >/dev/null; then
    install -m 0644 "$root"/board-configs/*.toml "$stage/usr/share/ganglion/boards/"
fi
if [[ -d $root/scripts ]]; then
    (cd "$root/scripts" && find . -type f ! -name '.*' -print0) | while IFS= read -r -d '' f; do
        mode=0644
        [[ -x $root/scripts/$f ]] && mode=0755
        install -D -m "$mode" "$root/scripts/$f" "$stage/usr/share/ganglion/examples/$f"
    done
fi
[[ -f $root/README.md ]] && install -m 0644 "$root/README.md" "$stage/usr/share/doc/ganglion/README.md"
cat >"$stage/usr/share/doc/ganglion/README.Debian" <<'DOC'
Ganglion on Debian / Raspberry Pi OS
  Config:    /etc/ganglion/ganglion.toml (the default runs the simulated board)
  Scripts:   /etc/ganglion/scripts/ (entry: main.js); examples in /usr/share/ganglion/examples/
  Boards:    /usr/share/ganglion/boards/
  State:     /var/lib/ganglion/
  Service:   systemctl status ganglion; journalctl -u ganglion -f
  The service runs as the `ganglion` user in the gpio, i2c and dialout groups.
DOC
printf 'ganglion (%s) unstable; urgency=medium\n\n  * Package built by cross/package.sh.\n\n -- Ganglion developers <ganglion@example.invalid>  %s\n' \
    "$version" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n >"$stage/usr/share/doc/ganglion/changelog.gz"

printf '/etc/ganglion/ganglion.toml\n/etc/ganglion/scripts/main.js\n' >"$stage/DEBIAN/conffiles"
install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$stage/DEBIAN/"
[[ $arch == armhf ]] && install -m 0755 "$here/debian/preinst-armhf" "$stage/DEBIAN/preinst"
size_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
dep_line=$(printf '%s, ' "${depends[@]}")
cat >"$stage/DEBIAN/control" <<CONTROL
Package: ganglion
Version: $version
Architecture: $arch
Maintainer: Ganglion developers <ganglion@example.invalid>
Installed-Size: $size_kb
Depends: ${dep_line%, }
Section: net
Priority: optional
Description: IoT gateway agent running JavaScript sensor scripts
 Ganglion runs user JavaScript (QuickJS, Node-style) on a gateway such as a
 Raspberry Pi, reads sensors over GPIO, I2C and serial ports, and publishes
 to MQTT. Installs a hardened systemd service running as the ganglion user.
CONTROL

# systemd's own check of the unit, against a throw-away root holding the unit and the binary.
if command -v systemd-analyze >/dev/null; then
    vroot=$(mktemp -d)
    mkdir -p "$vroot/usr/bin" "$vroot/lib/systemd"
    cp -a /lib/systemd/system "$vroot/lib/systemd/"
    cp "$stage/lib/systemd/system/ganglion.service" "$vroot/lib/systemd/system/"
    install -m 0755 /bin/true "$vroot/usr/bin/ganglion"
    if ! systemd-analyze verify --root="$vroot" ganglion.service; then
        rm -rf "$vroot"; echo "package: systemd-analyze verify failed" >&2; exit 1
    fi
    rm -rf "$vroot"
fi

# The packaged binary must accept the packaged config and compile the default script: run its own
# `check` (under qemu-user for ARM) on a copy whose absolute paths point into the staging tree.
if [[ ${#runner[@]} -eq 0 ]] || command -v "${runner[0]}" >/dev/null; then
    croot=$(mktemp -d)
    cp -a "$stage/etc/ganglion/." "$croot/"
    sed -i "s#\"/etc/ganglion/#\"$croot/#; s#\"/var/lib/ganglion\"#\"$croot/state\"#" "$croot/ganglion.toml"
    if ! ${runner[@]+"${runner[@]}"} "$bin" check --config "$croot/ganglion.toml"; then
        rm -rf "$croot"; echo "package: the binary rejects the default ganglion.toml" >&2; exit 1
    fi
    rm -rf "$croot"
else
    echo "package: ${runner[0]} not found, default config not checked" >&2
fi

out=$root/target/deb/ganglion_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "package: $(stat -c %s "$out") bytes, depends: ${dep_line%, }" >&2
echo "$out"
