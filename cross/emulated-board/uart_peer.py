#!/usr/bin/env python3
"""Host end of the emulated board's pci-serial UART (/dev/ttyS0 in the guest).

Listens on a unix socket that QEMU connects to (-chardev socket,path=SOCK), plays a serial device
by following a plan, and records every byte the guest writes. Stops when QEMU closes the socket.

Plan file, one directive per line ('#' starts a comment):
  expect TEXT     wait until the guest has written TEXT (since the previous expect)
  send LINE       send LINE followed by CR LF (NMEA style)
  sleep SECONDS   pause
  repeat SECONDS  the directives after this one repeat, SECONDS apart, until the guest goes away
Outputs: --rx FILE (raw bytes from the guest), --log FILE (JSON lines: what was sent and when).
"""
import argparse
import json
import os
import socket
import sys
import threading
import time


def parse_plan(path):
    steps = []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            verb, _, arg = line.partition(" ")
            if verb in ("expect", "send"):
                if not arg:
                    sys.exit(f"{path}:{n}: '{verb}' needs an argument")
                steps.append((verb, arg))
            elif verb in ("sleep", "repeat"):
                try:
                    steps.append((verb, float(arg)))
                except ValueError:
                    sys.exit(f"{path}:{n}: '{verb}' needs seconds, got {arg!r}")
            else:
                sys.exit(f"{path}:{n}: unknown directive {verb!r}")
    return steps


class Peer:
    def __init__(self, conn, rx_path, log_path, expect_timeout):
        self.conn = conn
        self.rx = open(rx_path, "ab", buffering=0)
        self.log = open(log_path, "a", encoding="utf-8", buffering=1)
        self.expect_timeout = expect_timeout
        self.buf = b""
        self.cond = threading.Condition()
        self.closed = False
        self.t0 = time.monotonic()

    def note(self, **kw):
        kw["t"] = round(time.monotonic() - self.t0, 3)
        self.log.write(json.dumps(kw) + "\n")

    def reader(self):
        while True:
            try:
                data = self.conn.recv(4096)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.closed = True
                    self.cond.notify_all()
                    return
                self.rx.write(data)
                self.buf += data
                self.cond.notify_all()

    def expect(self, text):
        want = text.encode()
        deadline = time.monotonic() + self.expect_timeout
        with self.cond:
            while want not in self.buf:
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    self.note(event="expect-failed", text=text, closed=self.closed)
                    return False
                self.cond.wait(left)
            self.buf = self.buf[self.buf.index(want) + len(want):]
        self.note(event="expected", text=text)
        return True

    def send(self, line):
        try:
            self.conn.sendall(line.encode() + b"\r\n")
        except OSError:
            return False
        self.note(event="sent", line=line)
        return True

    def wait_closed(self, seconds):
        with self.cond:
            self.cond.wait_for(lambda: self.closed, timeout=seconds)
            return self.closed

    def run(self, steps):
        loop_at = None
        period = 0.0
        i = 0
        while i < len(steps):
            verb, arg = steps[i]
            i += 1
            if verb == "expect" and not self.expect(arg):
                return False
            if verb == "send" and not self.send(arg):
                return not self.closed
            if verb == "sleep" and self.wait_closed(arg):
                return True
            if verb == "repeat":
                loop_at, period = i, arg
            if i == len(steps) and loop_at is not None and loop_at < len(steps):
                if self.wait_closed(period):
                    return True
                i = loop_at
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--plan")
    ap.add_argument("--rx", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, default=170.0, help="give up after this many seconds")
    ap.add_argument("--expect-timeout", type=float, default=60.0)
    a = ap.parse_args()
    steps = parse_plan(a.plan) if a.plan else []

    if os.path.exists(a.socket):
        os.unlink(a.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(1)
    srv.settimeout(a.timeout)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        sys.exit("uart_peer: QEMU never connected")
    srv.close()
    peer = Peer(conn, a.rx, a.log, a.expect_timeout)
    peer.note(event="connected")
    threading.Thread(target=peer.reader, daemon=True).start()
    ok = peer.run(steps)
    peer.note(event="plan-done", ok=ok)
    peer.wait_closed(a.timeout)
    peer.note(event="closed")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
