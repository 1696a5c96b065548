#!/usr/bin/env bash
# Regenerate cross/link-order.txt: the functions the agent runs at start-up, while idle and on its
# busy paths, in that order, so the linker lays them out together (agent/build.rs passes the file
# to lld as --symbol-ordering-file). The kernel maps code in 64 KiB blocks around each page that is
# touched; with the used functions spread over 7 MB of text, most of the binary ended up resident.
#
# Scenarios, each under valgrind's callgrind (which names every function that ran):
#   1. `ganglion run hello.js` (start-up, timers, idle loop);
#   2. the example (scripts/example) on the simulated board with the embedded broker;
#   3. the comparison workload (bench/workload) against a private Mosquitto: connected and idle
#      (start-up, connect, subscribe; what an idle agent keeps resident), then loaded at QoS 0
#      and QoS 1 (the busy path).
# Usage: cross/link-order.sh   (needs valgrind; takes about two minutes)
# Names are Rust v0 symbols (crate hash, no per-function hash): they survive code edits and only
# go stale when a dependency or the compiler changes; stale names are skipped by the linker.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/target/tmp/link-order
rm -rf "$out" && mkdir -p "$out"
bash "$root/tests/setup.sh" > /dev/null # mosquitto, node
command -v valgrind > /dev/null || { echo "link-order: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
# The release build (what cross/build.sh and the packages ship) only for its linker map: its
# symbols differ from the benchmarks' build (other features, so other symbol hashes); names are
# carried over from one to the other with the hashes taken out.
(cd "$root" && GANGLION_LINK_MAP=1 cargo build -q --release -p ganglion)
map=$(ls -t "$root"/target/release/build/ganglion-*/out/ganglion.map | head -1)
cp "$map" "$out/release.map"
# The binary the benchmarks run (CARGO_BIN_EXE_ganglion of `cargo bench`: bench profile, symbols).
(cd "$root" && cargo bench -q -p ganglion --no-run 2> /dev/null)
bin=$out/ganglion
cp "$root/target/release/ganglion" "$bin"
# Run under callgrind: "${cg[@]}" NAME ARGS... (output in $out/cg.NAME).
cg=(valgrind --tool=callgrind --demangle=no "--callgrind-out-file=$out/cg.%q{GANGLION_CG}")

echo "== 1. hello.js"
printf "console.log('hello');\nsetInterval(() => {}, 1000);\n" > "$out/hello.js"
GANGLION_CG=1-hello timeout -s INT 8 "${cg[@]}" "$bin" run "$out/hello.js" > "$out/1.log" 2>&1 || true

echo "== 2. the example on the simulated board"
cp -r "$root/scripts/example" "$out/example"
rm -rf "$out/example/state"
GANGLION_CG=2-example timeout -s INT 25 "${cg[@]}" "$bin" run --config "$out/example/ganglion.toml" > "$out/2.log" 2>&1 || true

echo "== 3. the comparison workload"
# shellcheck source=bench/compare/harness.sh
source "$root/bench/compare/harness.sh"
for qos in idle 0 1; do
  workload_config "$out/load$qos.toml" "ganglion-order-$qos" "$out/state$qos"
  GANGLION_CG=3-qos$qos "${cg[@]}" "$bin" run --config "$out/load$qos.toml" -- \
    "$(load_opts "${qos/idle/0}" 3000 "o$qos")" > "$out/3-$qos.log" 2>&1 &
  agent=$!
  wait_for "$out/3-$qos.log" ready
  if [ "$qos" = idle ]; then # connected, subscribed, then idle: never sent 'go'
    sleep 3; kill -INT "$agent"; wait "$agent" || true; agent=; continue
  fi
  go "o$qos"
  wait_for "$out/3-$qos.log" done
  kill -INT "$agent"; wait "$agent" || true; agent=
done

# Functions of the agent's own object: those of hello.js first (start-up and idle), then those of
# the connected idle agent (MQTT client), then the rest of the loaded workload's (queue, publish
# path), then the example's (embedded broker, sensors); within each, those run in more scenarios
# first.
python3 - "$out" "$root/cross/link-order.txt" << 'EOF'
import glob, re, sys
out, dest = sys.argv[1], sys.argv[2]

def plain(name):
    """A symbol without its hashes: legacy `17h<16 hex>E`, v0 crate `Cs<hash>_`, LTO `.123`."""
    name = re.sub(r"17h[0-9a-f]{16}E$", "17hE", name)
    name = re.sub(r"Cs[0-9A-Za-z]+_", "Cs_", name)
    return re.sub(r"(\.llvm)?\.\d+$", "", name)

release = {}
for line in open(f"{out}/release.map", errors="replace"):
    for name in re.findall(r"\(\.text\.(?:unlikely\.|hot\.|startup\.)?([^)\s]+)\)", line):
        release.setdefault(plain(name), set()).add(name)
first, count, rank = {}, {}, {}
for path in sorted(glob.glob(f"{out}/cg.*")):
    obs, fns, ob, here = {}, {}, None, set()
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        kind, i, name = m.groups()
        table = obs if kind.endswith("ob") else fns
        if name:
            table[i] = name
        if kind == "ob":
            ob = obs.get(i)
        elif kind == "fn" and ob and ob.endswith("/ganglion"):
            here.add(fns[i])
            first.setdefault(fns[i], len(first))
    scenario = {"1-hello": 0, "3-qosidle": 1, "3-qos0": 2, "3-qos1": 2}.get(path.rsplit("cg.", 1)[1], 3)
    for f in here:
        count[f] = count.get(f, 0) + 1
        rank[f] = min(rank.get(f, 3), scenario)
order, seen = [], set()
for f in sorted(first, key=lambda f: (rank[f], -count[f], first[f])):
    for name in [f, *sorted(release.get(plain(f), ()))]:
        if name not in seen:
            seen.add(name)
            order.append(name)
open(dest, "w").write("".join(f + "\n" for f in order))
print(f"link-order: {len(first)} functions, {len(order)} names with the release build's → {dest}")
EOF
