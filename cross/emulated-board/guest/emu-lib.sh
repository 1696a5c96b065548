# shellcheck shell=sh
# Helpers for guest test scripts (/test.sh): `. /lib/emu-lib.sh`.
# Environment from /init: SHARE RESULTS GPIOSIM_DEV GPIOSIM_CHIP GPIOSIM_SYSFS GPIOSIM_LINES I2C_BUS
# I2C_DEV STUB_ADDRS UART.

# emit JSON: append one JSON line (written by the caller) to the results file the host checks.
emit() { echo "$1" >>"$RESULTS"; }

# uptime_s: seconds since the guest kernel started (for boot-to-reading timings).
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# gpio_pull LINE up|down: drive a gpio-sim input line from "outside" (edges for a line request).
gpio_pull() { echo "pull-$2" >"$GPIOSIM_SYSFS/sim_gpio$1/pull"; }

# gpio_value LINE: what the line reads (an input: its pull; an output: what the consumer drives).
gpio_value() { cat "$GPIOSIM_SYSFS/sim_gpio$1/value"; }
