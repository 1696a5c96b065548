#!/usr/bin/env python3
"""Host half of the agent smoke test: asserts what the agent's script printed. Arg: run.sh's output folder."""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "agent"))
import agentlog  # noqa: E402

out = sys.argv[1]
events, msgs, records = agentlog.load(out)
found = {}
for m in msgs:
    try:
        obj = json.loads(m["message"])
    except (json.JSONDecodeError, KeyError):
        continue
    found.setdefault(obj.get("t"), obj)
failures = []


def expect(what, got, want):
    ok = got == want
    print(f"{'ok  ' if ok else 'FAIL'} {what}: got {got!r}, want {want!r}")
    if not ok:
        failures.append(what)


expect("i2c chip id", found.get("i2c", {}).get("id"), 0x60)
expect("i2c word 0x88", found.get("i2c", {}).get("word"), 0x6B70)
expect("uart line", found.get("uart", {}).get("line"),
       "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47")
expect("edges in order", found.get("done", {}).get("edges"), [1, 0, 1])
expect("output line read back", next((e.get("value") for e in events if e.get("test") == "led"), None), 1)
rx = (pathlib.Path(out) / "uart-rx.log").read_bytes()
expect("uart greeting from the agent", b"HELLO\r\n" in rx, True)
errors = [r for r in records if r.get("level") == "ERROR"]
expect("agent errors", [r.get("message") for r in errors], [])
b2f = agentlog.boot_to_first(out)
print(f"boot to first script message: {b2f:.2f} s guest uptime" if b2f else "boot to first: n/a")
print(f"{7 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
