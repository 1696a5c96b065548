#!/usr/bin/env bash
# Smoke test of the aarch64 agent (static or dynamic) on the emulated board: GPIO output and edges, I2C through
# i2c-stub, UART both ways, through the agent's embedded:io classes and the qemu-virt board file.
# Usage: agent-smoke.sh [AGENT] [run.sh options]   (AGENT default: target/cross/aarch64-release-small/ganglion)
set -euo pipefail
d=$(cd "$(dirname "$0")" && pwd)
agent=$d/../../target/cross/aarch64-release-small/ganglion
if [[ $# -gt 0 && $1 != -* ]]; then agent=$1; shift; fi
[[ -x $agent ]] || { echo "no agent at $agent: run cross/build.sh aarch64 --small" >&2; exit 1; }
s=$d/agent-smoke
env=$(mktemp)
trap 'rm -f "$env"' EXIT
echo AGENT_SECONDS=8 >"$env"
"$d/run.sh" --agent "$agent" --test "$d/agent/guest.sh" --config "$s/ganglion.toml" \
    --file "$s/main.js=/etc/ganglion/main.js" --file "$s/stimulus.sh=/etc/emu-stimulus.sh" \
    --file "$env=/etc/emu-agent.env" --seed "$s/seed.txt" --uart-plan "$s/uart.plan" \
    --gpio-names 0=BUTTON,3=LED --check "python3 $s/check.py" "$@"
