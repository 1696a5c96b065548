#!/usr/bin/env bash
# Regenerate cross/link-order.txt and cross/link-order-small.txt (opt-level 3 and size-tuned builds;
# agent/build.rs picks by opt-level): the functions the agent runs at start-up, while idle and on its
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
# each run twice: on the benchmarks' build (opt-level 3) and on a copy of the size-tuned one the
# ARM packages ship (cross/build.sh --small), whose functions are not all the same (less inlined).
# Usage: cross/link-order.sh   (needs valgrind; takes about 20 minutes: four builds, two traced)
# Names are mostly legacy Rust symbols (`_ZN...17h<hash>E`: the hash changes with the compiler,
# the crate's dependencies and the profile); link-order.txt lists the release and benchmark
# builds' names, link-order-small.txt the shipped --small build's, which agent/build.rs's exact
# match needs on x86_64; cross/link.sh matches them without hashes (cross/symkey.py). Stale
# names are skipped by lld.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/target/tmp/link-order
rm -rf "$out" && mkdir -p "$out"
bash "$root/tests/setup.sh" > /dev/null # mosquitto, node
command -v valgrind > /dev/null || { echo "link-order: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
# The release build (what `cargo build --release` makes) only for its linker map: its
# symbols differ from the benchmarks' build (other features, so other symbol hashes); names are
# carried over from one to the other with the hashes taken out.
(cd "$root" && GANGLION_LINK_MAP=1 cargo build -q --release -p ganglion)
map=$(ls -t "$root"/target/release/build/ganglion-*/out/ganglion.map | head -1)
cp "$map" "$out/release.map"
# The binary the benchmarks run (CARGO_BIN_EXE_ganglion of `cargo bench`: bench profile, symbols).
(cd "$root" && cargo bench -q -p ganglion --no-run 2> /dev/null)
cp "$root/target/release/ganglion" "$out/ganglion"
# The size-tuned build the packages ship (cross/build.sh --small): opt-level "s" inlines less, so
# it runs functions of its own that the opt-level 3 build has inlined. Traced on a copy with its
# symbols, built in its own target folder (strip is part of the crate hashes, so its names are
# not the shipped build's); the shipped build is then made again with its linker map, whose names
# (x86_64 package) go into the list beside the release build's.
CARGO_TARGET_DIR=$root/target/link-order "$root/cross/build.sh" x86_64 --small \
  --config 'profile.release-small.strip="none"' > /dev/null
cp "$root/target/link-order/release-small/ganglion" "$out/ganglion-small"
GANGLION_LINK_MAP=1 "$root/cross/build.sh" x86_64 --small > /dev/null
map=$(ls -t "$root"/target/release-small/build/ganglion-*/out/ganglion.map | head -1)
cp "$map" "$out/release-small.map"
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
    # GANGLION_LOG as the benchmark sets it (Setup::command in bench/compare/procs.rs): its
    # parsing differs from the default filter's, which scenarios 1 and 2 trace.
    GANGLION_LOG=info GANGLION_CG=$tag.3-qos$qos "${cg[@]}" "$bin" run --config "$out/load$qos.toml" -- \
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
# first. link-order.txt ranks the traced benchmark build's functions by their exact names;
# link-order-small.txt ranks by key, a name without its hashes (cross/symkey.py), which is how
# the ARM link matches it anyway.
python3 - "$out" "$root/cross" << 'EOF'
import glob, re, subprocess, sys
out, cross = sys.argv[1], sys.argv[2]
dest, dest_small = f"{cross}/link-order.txt", f"{cross}/link-order-small.txt"
sys.path.insert(0, cross)
from symkey import key  # noqa: E402  (cross/symkey.py, the rule cross/link.sh matches by)

# Names the shipped x86_64 builds give each key (their linker maps): the release build's for what
# the opt-level 3 build ran, the size-tuned build's for what the traced copy of it ran.
shipped = {"fast": {}, "small": {}}
for tag, build in (("fast", "release"), ("small", "release-small")):
    for line in open(f"{out}/{build}.map", errors="replace"):
        for name in re.findall(r"\(\.text\.(?:unlikely\.|hot\.|startup\.)?([^)\s]+)\)", line):
            shipped[tag].setdefault(key(name), set()).add(name)
# Ranked per traced build: a function one build runs on its idle path may run in the other only
# under load (inlined, or called from elsewhere).
first, count, rank, traced = {}, {}, {}, {}  # per (build, key)
nfirst, ncount, nrank = {}, {}, {}  # per (build, name): the traced build's own names
for path in sorted(glob.glob(f"{out}/cg.*")):
    tag, scenario = path.rsplit("cg.", 1)[1].split(".", 1)
    obs, fns, ob, here, here_names = {}, {}, None, set(), set()
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
        elif kind == "fn" and ob and re.search(r"/ganglion(-small)?$", ob) and fns.get(i) \
                and not re.match(r"0x[0-9a-f]+$", fns[i]):  # callgrind names no symbol
            f = re.sub(r"'\d+$", "", fns[i])  # callgrind's mark of a recursive call
            tk, tn = (tag, key(f)), (tag, f)
            here.add(tk)
            here_names.add(tn)
            traced.setdefault(tk, set()).add(f)
            first.setdefault(tk, len(first))
            nfirst.setdefault(tn, len(nfirst))
    scenario = {"1-hello": 0, "3-qosidle": 1, "3-qos0": 2, "3-qos1": 2}.get(scenario, 3)
    for seen_here, c, r in ((here, count, rank), (here_names, ncount, nrank)):
        for t in seen_here:
            c[t] = c.get(t, 0) + 1
            r[t] = min(r.get(t, 3), scenario)
# The slow paths of the locks the agent's threads share (std's futex Mutex and RwLock,
# parking_lot's): they run only when two threads meet at a lock, which the traces under
# valgrind, whose threads run one at a time, seldom or never show. An idle agent's threads
# sometimes do: one benchmark run of 2026-12-04 found a 64 KiB block of std's code outside the
# order, around `RwLock::write_contended`. Those not traced are ranked with the idle agent's
# functions, after them (each traced build's own names).
CONTENDED = re.compile(r"(Mutex14lock_contended|RwLock1[45](read|write)_contended|"
                       r"RwLock22wake_writer_or_readers|(RawMutex|WordLock)(9lock|11unlock)_slow)")
for tag, binary in (("fast", f"{out}/ganglion"), ("small", f"{out}/ganglion-small")):
    nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
    for f in sorted({line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}):
        if not CONTENDED.search(f):
            continue
        tk, tn = (tag, key(f)), (tag, f)
        if tk not in first:
            first[tk], count[tk], rank[tk] = len(first), 1, 1
            traced.setdefault(tk, set()).add(f)
        if tn not in nfirst:
            nfirst[tn], ncount[tn], nrank[tn] = len(nfirst), 1, 1
# Two lists: cross/link-order.txt for opt-level 3 builds (the release and benchmark builds' names,
# in the order the traced opt-level 3 build ran them), cross/link-order-small.txt for the size-tuned
# builds (x86_64 and ARM packages: the shipped --small build's names, in the traced copy's order).
# agent/build.rs picks one by the build's opt-level.
# The benchmark build's traced names are ranked one by one, not by key: legacy Rust names carry no
# generic arguments, so one key can stand for dozens of copies of a generic function, and ranking
# them all where the first ran pulled busy-path copies into the idle prefix (an idle agent's
# functions spread over 31 instead of 24 64-KiB blocks, laid out from nm sizes on 2026-12-02; idle
# RSS 0.3 MB higher). The release build's names follow each key's first traced name, all of them
# (that build is not traced, so its copies of a generic function cannot be told apart).
def fast_units():
    for t, f in sorted(nfirst, key=lambda tn: (nrank[tn], -ncount[tn], nfirst[tn])):
        if t == "fast":
            yield key(f), [f]


def small_units():
    for t, k in sorted(first, key=lambda tk: (rank[tk], -count[tk], first[tk])):
        if t == "small":
            yield k, []


# The C start-up code every process runs: crt1.o's `_start` and crtbegin.o's section
# (`frame_dummy`, `register_tm_clones`, `__do_global_dtors_aux`), which the linker otherwise
# puts among the unlisted functions, where each costs the idle agent a 64 KiB block of code
# around it (no symbol callgrind names in the traces). First, beside the start-up functions.
C_START_UP = ["_start", "frame_dummy"]
for tag, path, units in (("fast", dest, fast_units()), ("small", dest_small, small_units())):
    order, seen = list(C_START_UP), set(C_START_UP)
    for k, names in units:
        # The benchmark build's traced name (the binary bench/compare measures), then the
        # shipped build's names of that key; the traced size-tuned copy's only where the shipped
        # one has none (its hashes exist nowhere else).
        names = names + sorted(shipped[tag].get(k, ()))
        if tag == "small" and not names:
            names = sorted(traced[tag, k])
        for name in names:
            if name not in seen:
                seen.add(name)
                order.append(name)
    open(path, "w").write("".join(f + "\n" for f in order))
    print(f"link-order: {len({k for t, k in first if t == tag})} functions, {len(order)} names → {path}")
EOF

# How many of link-order.txt's names the traced benchmark build defines: the benchmark's report
# and `cross/symkey.py --drift` compare a later build with it, which also catches a renamed copy of
# a generic function (whose key other copies keep). Edit it with the list when editing by hand.
found=$(nm --defined-only "$out/ganglion" | awk '{print $3}' |
  python3 "$root/cross/symkey.py" --found "$root/cross/link-order.txt")
echo "$found names of link-order.txt are defined in the benchmark build it was traced on" \
  > "$root/cross/link-order.found"
echo "link-order: $found of link-order.txt's names in the benchmark build → cross/link-order.found"
