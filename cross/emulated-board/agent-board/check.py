#!/usr/bin/env python3
"""Host half of the emulated-board agent test: asserts the JSON lines the agent's script printed
(and the guest's results.jsonl). Arg: run.sh's output folder. Prints one JSON summary line last."""
import json
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here.parent / "agent"))
sys.path.insert(0, str(here))
import agentlog  # noqa: E402
import bme280  # noqa: E402

out = sys.argv[1]
events, msgs, records = agentlog.load(out)
objs = []
for m in msgs:
    try:
        objs.append((m, json.loads(m["message"])))
    except (json.JSONDecodeError, KeyError, TypeError):
        continue
failures = []
passed = 0


def expect(what, ok, detail):
    global passed
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")
    if ok:
        passed += 1
    else:
        failures.append(what)


def readings(sensor):
    return [(m, o) for m, o in objs if o.get("t") == "reading" and o.get("sensor") == sensor]


def close(a, b, tol):
    return isinstance(a, (int, float)) and abs(a - b) <= tol


# BME280 through the driver: datasheet worked example.
t_want, p_want, h_want = bme280.expected()
climate = readings("climate")
c = climate[0][1] if climate else {}
expect("bme280 reading arrived", bool(climate), f"{len(climate)} readings")
expect("bme280 temperature", close(c.get("temperature"), t_want, 1e-9), f"{c.get('temperature')} degC, want {t_want}")
expect("bme280 pressure", close(c.get("pressure"), p_want, 1e-9),
       f"{c.get('pressure')} hPa, want {p_want} (datasheet 1006.5327 +- 0.0005)")
expect("bme280 pressure vs datasheet", close(c.get("pressure"), 1006.5327, 0.0005), f"{c.get('pressure')}")
expect("bme280 humidity", close(c.get("humidity"), h_want, 1e-9), f"{c.get('humidity')} %RH, want {h_want}")
expect("bme280 humidity vs double formula", close(c.get("humidity"), bme280.float_humidity(128422), 0.05),
       f"{bme280.float_humidity(128422):.4f}")

# NMEA over the UART, parsed by the nmea driver.
gps = readings("gps")
g = gps[0][1] if gps else {}
expect("nmea reading arrived", bool(gps), f"{len(gps)} readings")
expect("nmea fix", g.get("fix") == 1, f"{g.get('fix')}")
expect("nmea latitude", close(g.get("latitude"), 48 + 7.038 / 60, 1e-6), f"{g.get('latitude')}")
expect("nmea longitude", close(g.get("longitude"), 11 + 31.0 / 60, 1e-6), f"{g.get('longitude')}")
expect("nmea satellites/altitude", (g.get("satellites"), g.get("altitude")) == (8, 545.4),
       f"{g.get('satellites')}, {g.get('altitude')}")
expect("nmea gps_time (RMC date)", g.get("gps_time") == "1994-03-23T12:35:19.000Z", f"{g.get('gps_time')}")

# GPIO: debounced BUTTON vs raw line 1, output line read back.
done = next((o for _, o in objs if o.get("t") == "done"), {})
raw = done.get("raw") or []
# The pulls of the glitch and the burst follow each other at once; gpio-sim raises its interrupts
# from deferred work (irq_sim), and changes that land before that work has run become one edge, so
# on a loaded host the raw line sees fewer than the 10 (6 seen once, the burst taking 180 ms).
# The bounces are proven as long as the raw line saw more edges than the 4 the debounced line
# reports.
debounced = done.get("edges") or []
expect("raw line saw the bounces", len(raw) > max(len(debounced), 4),
       f"{len(raw)} raw edges (10 pull changes), {len(debounced)} debounced {raw}")
expect("debounced edges: glitch none, burst one, then clean in order", debounced == [1, 0, 1, 0],
       f"{debounced}, want [1, 0, 1, 0]")
phase = {e["name"]: e["uptime"] for e in events if e.get("test") == "phase"}
burst_ms = round((phase.get("burst-end", 0) - phase.get("burst", 0)) * 1000)
expect("burst shorter than the debounce period", burst_ms < 250, f"{burst_ms} ms by /proc/uptime (10 ms ticks)")
led = next((e.get("value") for e in events if e.get("test") == "led"), None)
expect("output line read back", led == 1, f"{led}")

errors = [r.get("message") for r in records if r.get("level") == "ERROR"]
serr = [o for _, o in objs if o.get("t") == "sensor-error"]
expect("no agent errors", not errors, f"{errors}")
print(f"(sensor errors, informational: {serr[:3]})")

b2f = agentlog.uptime_of(out, climate[0][0]) if climate else None
b2g = agentlog.uptime_of(out, gps[0][0]) if gps else None
print(json.dumps({"test": "agent-board", "passed": passed, "failed": len(failures),
                  "boot_to_first_bme280_reading_s": b2f and round(b2f, 3),
                  "boot_to_first_nmea_reading_s": b2g and round(b2g, 3),
                  "agent_start_uptime_s": next((e["uptime"] for e in events if e.get("event") == "agent-start"), None),
                  "burst_ms": burst_ms,
                  "agent_rss_kb": next(({k: e[k] for k in ("rss_kb", "anon_kb", "mapped_kb")}
                                        for e in events if e.get("event") == "agent-rss"), None)}))
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
