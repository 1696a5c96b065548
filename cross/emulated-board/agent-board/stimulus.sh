# Guest side of the agent-board test, run by agent/guest.sh once the agent has logged its first line.
# Reads back the LED output line, then drives BUTTON (line 0, debounced) and line 1 (raw) together:
#   1. a glitch: 0->1->0 within a few ms            -> no debounced edge (bounced back)
#   2. a bounce burst: 0->1->0->1->0->1 in a few ms  -> exactly one debounced edge, to 1
#   3. clean edges 600 ms apart: 0, 1, 0             -> edges 0, 1, 0 in that order
# Each phase is marked in results.jsonl with its uptime.
. /lib/emu-lib.sh
both() { gpio_pull 0 "$1"; gpio_pull 1 "$1"; }
sleep 1
emit "{\"test\":\"led\",\"line\":3,\"value\":$(gpio_value 3)}"
emit "{\"test\":\"phase\",\"name\":\"glitch\",\"uptime\":$(uptime_s)}"
both up; both down
sleep 0.8
emit "{\"test\":\"phase\",\"name\":\"burst\",\"uptime\":$(uptime_s)}"
both up; both down; both up; both down; both up
emit "{\"test\":\"phase\",\"name\":\"burst-end\",\"uptime\":$(uptime_s)}"
sleep 0.8
emit "{\"test\":\"phase\",\"name\":\"clean\",\"uptime\":$(uptime_s)}"
both down; sleep 0.6; both up; sleep 0.6; both down
emit "{\"test\":\"phase\",\"name\":\"end\",\"uptime\":$(uptime_s)}"
