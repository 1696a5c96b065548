#!/usr/bin/env bash
# The emulated-board agent test: the aarch64 agent with the qemu-virt board file reads a BME280
# (i2c-stub seeded with the datasheet's worked example) and a GPS (NMEA from uart_peer.py on the
# UART) through its real sensor drivers, gets debounced and raw gpio-sim edges driven through sysfs
# `pull`, and drives an output line read back by the guest. check.py asserts the script's JSON lines
# and prints boot-to-first-reading times.
# Usage: agent-board.sh [AGENT] [run.sh options]   (AGENT: a static or dynamic aarch64 ganglion;
#        default target/cross/aarch64-release-small/ganglion)
set -euo pipefail
d=$(cd "$(dirname "$0")" && pwd)
agent=$d/../../target/cross/aarch64-release-small/ganglion
if [[ $# -gt 0 && $1 != -* ]]; then agent=$1; shift; fi
[[ -x $agent ]] || { echo "no agent at $agent: run cross/build.sh aarch64 --small" >&2; exit 1; }
s=$d/agent-board
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo AGENT_SECONDS=12 >"$tmp/agent.env"
python3 "$s/bme280.py" seed >"$tmp/seed.txt"
"$d/run.sh" --agent "$agent" --test "$d/agent/guest.sh" --config "$s/ganglion.toml" \
    --file "$s/main.js=/etc/ganglion/main.js" --file "$s/stimulus.sh=/etc/emu-stimulus.sh" \
    --file "$tmp/agent.env=/etc/emu-agent.env" --seed "$tmp/seed.txt" --uart-plan "$s/uart.plan" \
    --gpio-names 0=BUTTON,1=RAW,3=LED --check "python3 $s/check.py" "$@"
