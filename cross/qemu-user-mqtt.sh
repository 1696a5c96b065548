#!/usr/bin/env bash
# The cross-built agent under qemu-user against a loopback Mosquitto: runs scripts/example (the
# simulated board) with [mqtt] url pointed at a private mosquitto on a free 127.0.0.1 port and
# checks, with an x86 `ganglion sub`, that each simulated sensor's readings arrive as JSON on
# ganglion/example/sensors/<name>.
# The example's serial sensors (gps: nmea, meter: modbus) are left out of the copied config: their
# pseudo-terminals fail under qemu-user 7.2 (the TCGETS2 ioctl is not emulated).
# Usage: cross/qemu-user-mqtt.sh [AGENT] [QEMU] [SYSROOT]
#   defaults: target/cross/aarch64-release-small/ganglion qemu-aarch64 /usr/aarch64-linux-gnu
# Needs: mosquitto (apt), an x86 ganglion for `sub` ($GANGLION_SUB, else target/debug/ganglion, else
# target/cross/x86_64*/ganglion).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
agent=${1:-$root/target/cross/aarch64-release-small/ganglion}
qemu=${2:-qemu-aarch64}
sysroot=${3:-/usr/aarch64-linux-gnu}
want=(climate room analog light flow probe)
say() { echo "[qemu-user-mqtt] $*" >&2; }
[[ -x $agent ]] || { say "no agent at $agent"; exit 1; }
agent=$(realpath "$agent")  # the agent runs in a temporary folder
command -v mosquitto >/dev/null || { say "mosquitto not found (apt install mosquitto)"; exit 1; }
sub=${GANGLION_SUB:-}
for c in "$root/target/debug/ganglion" "$root"/target/cross/x86_64*/ganglion; do
    [[ -z $sub && -x $c ]] && sub=$c
done
[[ -n $sub ]] || { say "no x86 ganglion for 'sub' (cargo build -p ganglion)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ganglion-qemu-mqtt.XXXXXX")
mpid="" apid="" spid=""
cleanup() {
    for p in $spid $apid $mpid; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
CONF
mosquitto -c "$tmp/mosquitto.conf" 2>"$tmp/mosquitto.log" &
mpid=$!
for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# The example without its serial sensors, [mqtt] url at our broker.
mkdir -p "$tmp/example"
cp "$root/scripts/example/main.js" "$tmp/example/"
python3 - "$root/scripts/example/ganglion.toml" "$tmp/example/ganglion.toml" "$port" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.split(r"\n(?=\[\[sensors\]\]|# )", text)
keep = [b for b in blocks if not re.search(r'^driver = "(nmea|modbus)"', b, re.M)]
text = "\n".join(keep).replace("[mqtt]\n", f'[mqtt]\nurl = "mqtt://127.0.0.1:{sys.argv[3]}"\n', 1)
open(sys.argv[2], "w", encoding="utf-8").write(text)
PY
grep -q "url = \"mqtt://127.0.0.1:$port\"" "$tmp/example/ganglion.toml" || { say "config rewrite failed"; exit 1; }
! grep -qE 'driver = "(nmea|modbus)"' "$tmp/example/ganglion.toml" || { say "serial sensors left in"; exit 1; }

"$sub" sub --url "mqtt://127.0.0.1:$port" 'ganglion/example/sensors/#' >"$tmp/sub.txt" 2>"$tmp/sub.log" &
spid=$!
sleep 1
t0=$(date +%s.%N)
(cd "$tmp/example" && exec "$qemu" -L "$sysroot" "$agent" run --config ganglion.toml) >"$tmp/agent.log" 2>&1 &
apid=$!

# Wait (at most 60 s) until every wanted sensor has published a JSON reading.
python3 - "$tmp/sub.txt" "$t0" "$apid" "${want[@]}" <<'PY' || { say "FAILED; agent log tail:"; tail -20 "$tmp/agent.log" >&2; tail -5 "$tmp/sub.log" >&2; exit 1; }
import json, os, sys, time
path, t0, apid, want = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
got = {}
deadline = time.time() + 60
while time.time() < deadline and len(got) < len(want):
    try:
        os.kill(apid, 0)
    except ProcessLookupError:
        print("the agent exited early")
        break
    for line in open(path, encoding="utf-8", errors="replace"):
        topic, _, payload = line.rstrip("\n").partition(" ")
        name = topic.rsplit("/", 1)[-1]
        if name in want and name not in got:
            try:
                obj = json.loads(payload)
            except json.JSONDecodeError:
                continue
            if obj.get("sensor") == name and isinstance(obj.get("time"), (int, float)):
                got[name] = (round(time.time() - t0, 2), obj)
    time.sleep(0.5)
for name in want:
    if name in got:
        print(f"ok   ganglion/example/sensors/{name} after {got[name][0]} s: {json.dumps(got[name][1])[:140]}")
    else:
        print(f"FAIL ganglion/example/sensors/{name}: nothing")
missing = [n for n in want if n not in got]
print(f"{len(want) - len(missing)} passed, {len(missing)} failed")
sys.exit(1 if missing else 0)
PY
