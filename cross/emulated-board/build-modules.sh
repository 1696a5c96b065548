#!/usr/bin/env bash
# Builds the kernel's simulators that Debian's arm64 kernel leaves out (gpio-sim, gpio-mockup,
# i2c-stub, irq_sim) as out-of-tree modules against the downloaded headers, into the cache:
#   $CACHE/k/<abi>/modules/{irq_sim_mod,gpio-sim,gpio-mockup,i2c-stub}.ko
# Idempotent: skipped when the modules exist and this script has not changed.
# Usage: build-modules.sh <abi>      (abi as printed by fetch.sh, e.g. 6.1.0-41)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

kabi=${1:?usage: build-modules.sh <abi>}
K=$(kdir "$kabi")
[[ -f $K/.fetched ]] || die "$K is not fetched: run fetch.sh first"
stamp=$(sha256sum "$0" | cut -c1-16)
out=$K/modules
if [[ -f $out/.stamp && $(<"$out/.stamp") == "$stamp" ]]; then
    exit 0
fi

log "building gpio-sim, gpio-mockup, i2c-stub, irq_sim for $kabi-arm64"
hdr=$K/headers/usr/src/linux-headers-$kabi-arm64
# The headers' Makefile includes /usr/src/linux-headers-<abi>-common/Makefile: point it at our copy.
sed -i "s#^include /usr/src/#include $K/headers/usr/src/#" "$hdr/Makefile"

b=$K/modbuild
rm -rf "$b" "$out"
mkdir -p "$b" "$out"
s=$K/src/linux-source-6.1
cp "$s/drivers/gpio/gpio-sim.c" "$s/drivers/gpio/gpio-mockup.c" "$s/drivers/gpio/gpiolib.h" "$s/drivers/i2c/i2c-stub.c" "$b/"
cp "$s/kernel/irq/irq_sim.c" "$b/irq_sim_mod.c"
# irq_to_desc is not exported to modules; generic_handle_irq does the same lookup and is exported.
sed -i 's/handle_simple_irq(irq_to_desc(\([a-z_]*\)))/generic_handle_irq(\1)/' "$b/irq_sim_mod.c"
grep -q 'generic_handle_irq(' "$b/irq_sim_mod.c" || die "irq_sim.c fix did not apply (source changed?)"
# irq_sim.c is normally built in, so it declares no module licence; modpost refuses a module without.
printf '\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\n' >>"$b/irq_sim_mod.c"
echo 'obj-m := irq_sim_mod.o gpio-sim.o gpio-mockup.o i2c-stub.o' >"$b/Kbuild"

make -s -C "$hdr" M="$b" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- -j"$(nproc)" modules >&2
cp "$b"/*.ko "$out/"
echo "$stamp" >"$out/.stamp"
log "modules: $(cd "$out" && echo *.ko)"
