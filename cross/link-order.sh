#!/usr/bin/env bash
# Regenerate cross/link-order.txt: the functions the agent runs at start-up, while idle and on its
# busy paths, in that order, so the linker lays them out together (agent/build.rs passes the file
# to lld as --symbol-ordering-file on x86_64, cross/link.sh on aarch64 and armv7). The kernel maps
# code in 64 KiB blocks around each page that is touched; with the used functions spread over 7 MB
# of text, most of the binary ended up resident.
#
# Scenarios, each under valgrind's callgrind (which names every function that ran):
#   1. `ganglion run hello.js` (start-up, timers, idle loop);
#   2. the example (scripts/example) on the simulated board with the embedded broker, with JSON
#      logs (`--log-format json`, as the packaged service runs);
#   3. the comparison workload (bench/workload) against a private Mosquitto: connected and idle
#      (start-up, connect, subscribe; what an idle agent keeps resident), then loaded at QoS 0
#      and QoS 1 (the busy path).
# each run twice: on the benchmarks' build (opt-level 3) and on the size-tuned one the ARM
# packages ship (cross/build.sh --small), whose functions are not all the same (less inlined).
# Usage: cross/link-order.sh   (needs valgrind; takes about 20 minutes: two builds, each run)
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
cp "$root/target/release/ganglion" "$out/ganglion"
# The size-tuned build the ARM packages ship (cross/build.sh --small), with its symbols: opt-level
# "s" inlines less, so it runs functions of its own that the opt-level 3 build has inlined.
# cross/link.sh finds their names in the ARM builds with the hashes left out. Its own target
# folder, so the packaged build's artifacts stay as they are.
CARGO_TARGET_DIR=$root/target/link-order "$root/cross/build.sh" x86_64 --small \
  --config 'profile.release-small.strip="none"' > /dev/null
cp "$root/target/link-order/release-small/ganglion" "$out/ganglion-small"
# Run under callgrind: "${cg[@]}" NAME ARGS... (output in $out/cg.NAME).
cg=(valgrind --tool=callgrind --demangle=no "--callgrind-out-file=$out/cg.%q{GANGLION_CG}")
# shellcheck source=bench/compare/harness.sh
source "$root/bench/compare/harness.sh"

scenarios() { # scenarios BIN TAG: the three scenarios on one build (cg.TAG.<scenario>)
  local bin=$1 tag=$2 qos
  echo "== $tag: 1. hello.js"
  printf "console.log('hello');\nsetInterval(() => {}, 1000);\n" > "$out/hello.js"
  GANGLION_CG=$tag.1-hello timeout -s INT 8 "${cg[@]}" "$bin" run "$out/hello.js" > "$out/$tag.1.log" 2>&1 || true

  echo "== $tag: 2. the example on the simulated board, logging JSON as the packaged service does"
  rm -rf "$out/example" && cp -r "$root/scripts/example" "$out/example"
  rm -rf "$out/example/state"
  GANGLION_CG=$tag.2-example timeout -s INT 25 "${cg[@]}" "$bin" --log-format json run --config "$out/example/ganglion.toml" \
    > "$out/$tag.2.log" 2>&1 || true

  echo "== $tag: 3. the comparison workload"
  for qos in idle 0 1; do
    workload_config "$out/load$qos.toml" "ganglion-order-$tag-$qos" "$out/$tag-state$qos"
    GANGLION_CG=$tag.3-qos$qos "${cg[@]}" "$bin" run --config "$out/load$qos.toml" -- \
      "$(load_opts "${qos/idle/0}" 3000 "o$tag$qos")" > "$out/$tag.3-$qos.log" 2>&1 &
    agent=$!
    wait_for "$out/$tag.3-$qos.log" ready
    if [ "$qos" = idle ]; then # connected, subscribed, then idle: never sent 'go'
      sleep 3; kill -INT "$agent"; wait "$agent" || true; agent=; continue
    fi
    go "o$tag$qos"
    wait_for "$out/$tag.3-$qos.log" done
    kill -INT "$agent"; wait "$agent" || true; agent=
  done
}
scenarios "$out/ganglion" fast
scenarios "$out/ganglion-small" small

# Functions of the agent's own object: those of hello.js first (start-up and idle), then those of
# the connected idle agent (MQTT client), then the rest of the loaded workload's (queue, publish
# path), then the example's (embedded broker, sensors); within each, those run in more scenarios
# first. Both builds' runs count, a function being the same in both when its name is with the
# hashes taken out; each is listed with the release build's names, then the size-tuned build's.
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
# Keyed by the name without hashes: one function of both builds is one entry.
first, count, rank, names = {}, {}, {}, {}
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
        elif kind == "fn" and ob and re.search(r"/ganglion(-small)?$", ob):
            f = re.sub(r"'\d+$", "", fns[i])  # callgrind's mark of a recursive call
            k = plain(f)
            here.add(k)
            names.setdefault(k, set()).add(f)
            first.setdefault(k, len(first))
    scenario = path.rsplit("cg.", 1)[1].split(".", 1)[1]
    scenario = {"1-hello": 0, "3-qosidle": 1, "3-qos0": 2, "3-qos1": 2}.get(scenario, 3)
    for k in here:
        count[k] = count.get(k, 0) + 1
        rank[k] = min(rank.get(k, 3), scenario)
order, seen = [], set()
for k in sorted(first, key=lambda k: (rank[k], -count[k], first[k])):
    for name in [*sorted(release.get(k, ())), *sorted(names[k])]:
        if name not in seen:
            seen.add(name)
            order.append(name)
open(dest, "w").write("".join(f + "\n" for f in order))
print(f"link-order: {len(first)} functions, {len(order)} names of both builds → {dest}")
EOF
