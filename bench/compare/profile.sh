#!/usr/bin/env bash
# Profile Ganglion on the comparison workload (bench/workload) against a private Mosquitto on a
# free 127.0.0.1 port, the load phase only:
#   1. CPU time per thread (/proc/<pid>/task/*/stat) for EVENTS readings;
#   2. the broker's system calls per message (perf stat tracepoints), if perf may count them;
#   3. syscall counts of all threads (strace -c -f) in a second run, if strace is installed;
#   4. a callgrind profile (instruction counts, one file per thread) of EVENTS/5 readings,
#      zeroed at 'go' and dumped at 'done', if valgrind is installed.
# Usage: bench/compare/profile.sh [QOS (0)] [EVENTS (100000)]   (GANGLION_BIN=... for another build)
# Output folder: target/tmp/compare-profile (callgrind_annotate --inclusive=yes <file>).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${GANGLION_BIN:-$root/target/release/ganglion}
qos=${1:-0}
events=${2:-100000}
out=$root/target/tmp/compare-profile
rm -rf "$out" && mkdir -p "$out"
[ -x "$bin" ] || { echo "no $bin: cargo bench -p ganglion --bench compare --no-run" >&2; exit 1; }
# shellcheck source=bench/compare/harness.sh
source "$root/bench/compare/harness.sh"
workload_config "$out/ganglion.toml" ganglion-profile "$out/state" "$events"

threads() { # per-thread "tid name utime stime voluntary nonvoluntary": CPU in clock ticks, then
  # context switches (waits, and preemptions: on two cores, what the broker and the other threads
  # take from the JS thread)
  for t in /proc/"$1"/task/*; do
    echo "$(basename "$t") $(tr ' ' _ < "$t/comm") $(awk '{print $14, $15}' "$t/stat")" \
      "$(awk '/^voluntary_ctxt/ {v=$2} /^nonvoluntary_ctxt/ {n=$2} END {print v, n}' "$t/status")"
  done | sort
}
opts() { load_opts "$qos" "$@"; }

echo "== CPU per thread, $events readings at QoS $qos"
"$bin" run --config "$out/ganglion.toml" -- "$(opts "$events" cpu)" > "$out/cpu.log" 2>&1 &
agent=$!
wait_for "$out/cpu.log" ready
threads "$agent" > "$out/before"
go cpu
wait_for "$out/cpu.log" done
threads "$agent" > "$out/after"
kill "$agent"; agent=
tck=$(getconf CLK_TCK)
join "$out/before" "$out/after" | awk -v t="$tck" '{u=$8-$3; s=$9-$4; U+=u; S+=s;
  if (u + s > 0) printf "  %-14s user %5.2f s  sys %5.2f s  switches: %6d waits %6d preempted\n",
    $2, u/t, s/t, $10-$5, $11-$6}
  END {printf "  %-14s user %5.2f s  sys %5.2f s\n", "all threads", U/t, S/t}'
grep -o '"ms":[0-9.]*' "$out/cpu.log" | sed 's/"ms":/  load phase ms: /' || true

# Every message the broker reads costs it system calls, whoever sends it: count them with the
# kernel's tracepoints (perf stat; needs perf_event_paranoid <= 1 or root), from 'go' until the
# broker has read the last message (QoS 0: the workload's 'read' event; QoS 1: every PUBACK).
calls=syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,raw_syscalls:sys_enter
if command -v perf > /dev/null && perf stat -e "$calls" true > /dev/null 2>&1; then
  echo "== Mosquitto's system calls per message, $events readings (perf stat tracepoints)"
  rm -rf "$out/state"
  "$bin" run --config "$out/ganglion.toml" -- "$(opts "$events" sc)" > "$out/sc.log" 2>&1 &
  agent=$!
  wait_for "$out/sc.log" ready
  perf stat -x, -e "$calls" -p "$broker" -o "$out/broker-syscalls.csv" &
  perf_pid=$!
  sleep 0.5
  go sc
  wait_for "$out/sc.log" "$([ "$qos" = 0 ] && echo read || echo done)"
  kill -INT "$perf_pid"; wait "$perf_pid" 2> /dev/null || true
  kill "$agent"; agent=
  messages=$((events - events / 10))
  awk -F, -v m="$messages" '$3 != "" {printf "  %-30s %6.2f per message\n", $3, $1 / m}' \
    "$out/broker-syscalls.csv"
fi

if command -v strace > /dev/null; then
  echo "== syscalls during the load, $events readings (strace -c -f; a separate, slowed run)"
  rm -rf "$out/state"
  "$bin" run --config "$out/ganglion.toml" -- "$(opts "$events" st)" > "$out/st.log" 2>&1 &
  agent=$!
  wait_for "$out/st.log" ready
  strace -c -f -p "$agent" -o "$out/strace.txt" 2> /dev/null &
  strace_pid=$!
  sleep 0.5
  go st
  wait_for "$out/st.log" done
  kill "$agent"; agent=
  wait "$strace_pid" 2> /dev/null || true
  head -12 "$out/strace.txt"
fi

if command -v valgrind > /dev/null; then
  small=$((events / 5))
  echo "== callgrind, $small readings (slow)"
  rm -rf "$out/state"
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/callgrind.out" \
    "$bin" run --config "$out/ganglion.toml" -- "$(opts "$small" cg)" > "$out/cg.log" 2>&1 &
  agent=$!
  wait_for "$out/cg.log" ready
  callgrind_control -z "$agent" > /dev/null 2>&1
  go cg
  wait_for "$out/cg.log" done
  callgrind_control -d "$agent" > /dev/null 2>&1
  sleep 2
  kill "$agent"; agent=
  sleep 2
  for f in "$out"/callgrind.out.1-*; do
    ir=$(grep -m1 '^summary:' "$f" | awk '{print $2}')
    name=$(callgrind_annotate --inclusive=yes "$f" 2> /dev/null | grep -m1 -E 'ganglion::(main|mqtt|js)|tokio::runtime' | sed 's/.*???://; s/ \[.*//' || true)
    printf "  %s: %s instructions (%s per reading) %s\n" "$(basename "$f")" "$ir" "$((ir / small))" "$name"
  done
  echo "  callgrind_annotate --inclusive=yes $out/callgrind.out.1-01 | head -60"
fi
