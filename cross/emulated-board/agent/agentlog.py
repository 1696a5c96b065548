#!/usr/bin/env python3
"""Host-side reader for an emulated-board agent run (see agent/guest.sh).

As a module: `load(out_dir)` returns (events, script_messages, log_records); `boot_to_first(out_dir)`
gives the guest uptime (s) at which the first script message was logged. As a program:
`agentlog.py OUT_DIR` prints the script messages and the boot-to-first-message time.
"""
import datetime
import json
import pathlib
import sys


def _ts(s):
    # tracing's RFC 3339 timestamp, e.g. 2026-11-23T07:17:20.126703Z
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def load(out):
    """(events from results.jsonl, console.log messages of scripts, all agent log records)."""
    share = pathlib.Path(out) / "share"
    events = []
    res = share / "results.jsonl"
    if res.exists():
        events = [json.loads(line) for line in res.read_text().splitlines() if line.strip()]
    records = []
    for n, line in enumerate((share / "agent.log").read_text(errors="replace").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append({"level": "RAW", "message": line, "line": n})
    msgs = [r for r in records if r.get("target") == "script"]
    return events, msgs, records


def uptime_of(out, msg):
    """Guest uptime (s) at which the agent logged `msg` (a record from `load`), or None."""
    events, _, _ = load(out)
    start = next((e for e in events if e.get("event") == "agent-start"), None)
    if start is None or "timestamp" not in msg:
        return None
    return start["uptime"] + (_ts(msg["timestamp"]) - start["epoch"])


def boot_to_first(out):
    """Guest uptime (s) at the first script message: kernel start to first reading."""
    events, msgs, _ = load(out)
    start = next((e for e in events if e.get("event") == "agent-start"), None)
    if start is None or not msgs or "timestamp" not in msgs[0]:
        return None
    return start["uptime"] + (_ts(msgs[0]["timestamp"]) - start["epoch"])


if __name__ == "__main__":
    _, msgs, recs = load(sys.argv[1])
    for m in msgs:
        print(m.get("message"))
    errs = [r for r in recs if r.get("level") in ("ERROR", "WARN", "RAW")]
    for r in errs:
        print(f"[{r.get('level')}] {r.get('message')}", file=sys.stderr)
    print(f"boot_to_first_script_message_s={boot_to_first(sys.argv[1])}", file=sys.stderr)
