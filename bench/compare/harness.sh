# Shared by bench/compare/profile.sh and cross/link-order.sh (sourced, not run): the comparison
# workload (bench/workload) on the agent against a private Mosquitto on a free 127.0.0.1 port,
# driven the way the compare driver does it. Needs `root` (the repository) and `out` (a scratch
# folder) set; `agent` holds the agent's pid while one runs, and both are stopped on exit.

# The broker the compare bench runs (tests/common/mosquitto.rs: PATH first, then /usr/sbin, where
# Debian installs it), installed with tests/setup.sh if neither has it.
mosquitto_bin() { command -v mosquitto || { [ -x /usr/sbin/mosquitto ] && echo /usr/sbin/mosquitto; }; }
mosquitto=$(mosquitto_bin) || { bash "$root/tests/setup.sh" > /dev/null && mosquitto=$(mosquitto_bin); }
[ -d "$root/bench/node/node_modules/mqtt" ] || (cd "$root/bench/node" && npm ci --no-audit --no-fund)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$out/mosquitto.conf"
"$mosquitto" -c "$out/mosquitto.conf" 2> "$out/mosquitto.log" &
broker=$!
agent=
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2> /dev/null || true
  kill "$broker" 2> /dev/null || true
}
trap cleanup EXIT
sleep 0.3

# workload_config FILE CLIENT_ID STATE_DIR [READINGS]: the agent's ganglion.toml, from the
# template the benchmark fills too (bench/workload/ganglion.toml.in), with a callback limit long
# enough for valgrind and a queue cap that holds every message of a run of READINGS: 256 bytes a
# reading, at least the default 64 MiB (queue_cap_mib in bench/compare/procs.rs, the same rule).
workload_config() {
  local cap
  cap=$(((${4:-0} * 256 + 1048575) / 1048576))
  if ((cap < 64)); then cap=64; fi
  sed -e "s|@WORKLOAD@|$root/bench/workload|g" -e "s|@STATE_DIR@|$3|g" \
    -e "s|@CALLBACK_TIME@|600s|g" -e "s|@PORT@|$port|g" -e "s|@CLIENT_ID@|$2|g" \
    -e "s|@INFLIGHT@|100|g" -e "s|@CAP_MIB@|$cap|g" "$root/bench/workload/ganglion.toml.in" > "$1"
}

load_opts() { # load_opts QOS EVENTS RUN: the workload's options for a load run
  echo "{\"mode\":\"load\",\"qos\":$1,\"n\":$2,\"batch\":1000,\"run\":\"$3\"}"
}

go() { # go RUN: the driver's 'go' message, sent with MQTT.js
  (cd "$root/bench/node" && node --input-type=module -e "import mqtt from 'mqtt';
    const c = await mqtt.connectAsync('mqtt://127.0.0.1:$port');
    await c.publishAsync('bench/ctl/$1', 'go', { qos: 1 }); await c.endAsync();")
}

wait_for() { # wait_for LOG EVENT: until the workload logged that event (10 minutes at most)
  for _ in $(seq 6000); do grep -q "\"event\":\"$2\"" "$1" && return 0; sleep 0.1; done
  echo "no $2 in $1" >&2; exit 1
}
