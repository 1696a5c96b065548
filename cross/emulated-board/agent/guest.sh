# Guest test template that runs the aarch64 agent (static, or dynamic with its glibc copied in) on the
# emulated board (use as run.sh --test).
# Starts `ganglion --log-format json run --config /etc/ganglion/ganglion.toml` (run.sh --config), or
# `ganglion ... run /etc/ganglion/scripts/$AGENT_ENTRY` without a config, with its log (JSON lines on
# stderr: console.log of scripts has "target":"script") in $SHARE/agent.log. Once the agent has logged
# its first line it runs /etc/emu-stimulus.sh (run.sh --file stim.sh=/etc/emu-stimulus.sh), e.g.
# gpio_pull 0 up; sleep 0.3; gpio_pull 0 down. It then waits for the agent to exit by itself or for
# AGENT_SECONDS, stops it (SIGTERM), and emits the timings agent/agentlog.py needs on the host and,
# just before the stop, the agent's resident memory:
#   {"event":"agent-start","uptime":U,"epoch":E}  {"event":"agent-exit","rc":N,"uptime":U}
#   {"event":"agent-rss","rss_kb":R,"anon_kb":A,"mapped_kb":M}
# Settings (run.sh --file env=/etc/emu-agent.env): AGENT_SECONDS (default 20), AGENT_ENTRY (main.js).
. /lib/emu-lib.sh
[ -f /etc/emu-agent.env ] && . /etc/emu-agent.env
: "${AGENT_SECONDS:=20}" "${AGENT_ENTRY:=main.js}"
[ -x /usr/bin/ganglion ] || { echo "no /usr/bin/ganglion (run.sh --agent)"; exit 2; }

if [ -f /etc/ganglion/ganglion.toml ]; then
    set -- run --config /etc/ganglion/ganglion.toml
else
    set -- run "/etc/ganglion/scripts/$AGENT_ENTRY"
fi
log=$SHARE/agent.log
: >"$log"
# Wall clock with microseconds (busybox date has no %N) beside the uptime, so the host can place the
# agent's log timestamps on the guest's uptime axis.
epoch=$(adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d.%06d", s, u }')
emit "{\"event\":\"agent-start\",\"uptime\":$(uptime_s),\"epoch\":$epoch}"
RUST_LOG=${RUST_LOG:-info} /usr/bin/ganglion --log-format json "$@" 2>>"$log" >>"$SHARE/agent.stdout" &
pid=$!

# Stimulus once the agent is up (first log line), at most 10 s later.
i=0
while [ ! -s "$log" ] && [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if [ -f /etc/emu-stimulus.sh ]; then
    emit "{\"event\":\"stimulus\",\"uptime\":$(uptime_s)}"
    sh /etc/emu-stimulus.sh >"$SHARE/stimulus.log" 2>&1
fi

# Wait for the agent to exit, or stop it after AGENT_SECONDS.
end=$(( $(cut -d. -f1 /proc/uptime) + AGENT_SECONDS ))
while kill -0 $pid 2>/dev/null && [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do sleep 0.2; done
if kill -0 $pid 2>/dev/null; then
    # Resident memory of the agent as it runs, counted by the kernel page by page (smaps_rollup,
    # not status's VmRSS, which lags by up to 64 pages a thread): all of it, anonymous, and the
    # rest: pages of the binary and its libraries (on the initramfs shmem, on a board's disk files).
    emit "$(awk '$1 == "Rss:" { r = $2 } $1 == "Anonymous:" { a = $2 }
        END { printf "{\"event\":\"agent-rss\",\"rss_kb\":%d,\"anon_kb\":%d,\"mapped_kb\":%d}", r, a, r - a }' \
        /proc/$pid/smaps_rollup)"
    kill -TERM $pid
    i=0
    while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL $pid 2>/dev/null
fi
wait $pid
rc=$?
emit "{\"event\":\"agent-exit\",\"rc\":$rc,\"uptime\":$(uptime_s)}"
