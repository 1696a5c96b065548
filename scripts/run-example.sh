#!/usr/bin/env bash
# Builds Ganglion and runs the example gateway on the simulated board: simulated sensors are read on
# schedule, scripts/example/main.js turns readings into messages, and they are published to the
# embedded MQTT broker on 127.0.0.1:1883. Stop with Ctrl-C (the script gets 'shutdown').
# Watch the messages from a second terminal: target/debug/ganglion sub 'ganglion/#'
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh >/dev/null
cargo build -q -p ganglion
exec target/debug/ganglion run --config scripts/example/ganglion.toml "$@"
