#!/usr/bin/env python3
"""Checks the agent's systemd notify protocol without systemd (the unit is Type=notify, WatchdogSec=).

Plays systemd's side: a NOTIFY_SOCKET datagram socket and WATCHDOG_USEC, runs the command, records
what it sends, stops it with SIGTERM after --seconds. Passes when READY=1 arrived and WATCHDOG=1 pings
kept coming at least every watchdog interval after it.
Usage: notify-check.py [--watchdog-sec 2] [--seconds 7] -- ganglion run --config FILE
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--watchdog-sec", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=7.0)
    ap.add_argument("cmd", nargs="+")
    a = ap.parse_args()

    d = tempfile.mkdtemp()
    path = os.path.join(d, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.1)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(int(a.watchdog_sec * 1e6)))
    t0 = time.monotonic()
    proc = subprocess.Popen(a.cmd, env=env)
    msgs = []
    stopped = False
    while True:
        now = time.monotonic() - t0
        if not stopped and now > a.seconds:
            proc.send_signal(signal.SIGTERM)
            stopped = True
        try:
            data = sock.recv(4096).decode(errors="replace")
            for line in data.splitlines():
                msgs.append((round(time.monotonic() - t0, 3), line))
        except socket.timeout:
            pass
        if proc.poll() is not None or now > a.seconds + 30:
            break
    if proc.poll() is None:
        proc.kill()
    rc = proc.wait()
    os.unlink(path)
    os.rmdir(d)

    ready = [t for t, m in msgs if m == "READY=1"]
    pings = [t for t, m in msgs if m == "WATCHDOG=1"]
    print(f"notify: exit {rc}; READY=1 at {ready[:1]}; {len(pings)} WATCHDOG=1; "
          f"other: {sorted({m for _, m in msgs if m not in ('READY=1', 'WATCHDOG=1')})}")
    problems = []
    if not ready:
        problems.append("no READY=1")
    else:
        stamps = [ready[0]] + [t for t in pings if t >= ready[0]] + [min(a.seconds, time.monotonic() - t0)]
        gap = max(b - a_ for a_, b in zip(stamps, stamps[1:]))
        print(f"notify: longest gap between pings {gap:.2f}s (watchdog {a.watchdog_sec}s)")
        if gap >= a.watchdog_sec:
            problems.append(f"watchdog gap {gap:.2f}s >= {a.watchdog_sec}s")
    for p in problems:
        print(f"notify: FAIL {p}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
