#!/usr/bin/env python3
"""Host half of the emulated-board self-test: asserts the guest's JSON lines. Arg: run.sh's output folder."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
res = {}
for n, line in enumerate((out / "share" / "results.jsonl").read_text().splitlines(), 1):
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        sys.exit(f"results.jsonl:{n}: not JSON ({e}): {line!r}")
    res[obj["test"]] = obj

failures = []


def expect(what, got, want):
    ok = got == want
    print(f"{'ok  ' if ok else 'FAIL'} {what}: got {got!r}, want {want!r}")
    if not ok:
        failures.append(what)


expect("gpio-sim bank label", res.get("env", {}).get("label"), "sim-bank0")
g = res.get("gpio", {})
expect("gpio line0 name", g.get("name"), "BUTTON")
expect("gpio value after pull-up", g.get("after_pull_up"), 1)
expect("gpio value after pull-down", g.get("after_pull_down"), 0)
i = res.get("i2c", {})
expect("i2c chip id 0xd0", i.get("reg_0xd0"), "0x60")
expect("i2c word 0x88", i.get("word_0x88"), "0x6b70")
expect("uart line from host", res.get("uart", {}).get("received"),
       "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47")
rx = (out / "uart-rx.log").read_bytes()
expect("uart line from guest", b"HELLO from aarch64\r\n" in rx, True)
print(f"{7 + 1 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
