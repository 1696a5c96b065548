#!/usr/bin/env bash
# Proves the emulated board with busybox only (no agent): gpio-sim, i2c-stub, the UART and the 9p
# results share. Usage: selftest.sh [run.sh options, e.g. --verbose or --out DIR]
set -euo pipefail
d=$(cd "$(dirname "$0")" && pwd)
exec "$d/run.sh" --test "$d/selftest/guest.sh" --seed "$d/selftest/seed.txt" \
    --uart-plan "$d/selftest/uart.plan" --check "python3 $d/selftest/check.py" "$@"
