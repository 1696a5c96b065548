#!/usr/bin/env python3
"""Where a running agent's code is resident, against the link order (cross/link-order.txt): the
check the drift count (cross/symkey.py --drift) cannot make. That count sees functions the list
names under older names; a new copy of a generic function that the idle agent runs is in no
list at all, lands outside the ordered region, and costs a 64 KiB block of resident code (the
kernel maps 16 pages around each code page touched).

`resident.py PID BINARY LIST` (bench/compare's report, on an idle agent) reads which pages of
BINARY's executable mappings are resident in process PID (/proc/PID/pagemap: the present bit
needs no privilege), the ordered region (from the first to the last byte of LIST's functions in
BINARY, `nm`), and prints one line:

    <KiB resident in the ordered region> <KiB resident outside it> <KiB of those unexpected>

then one line per resident block outside it: `<start>-<end> KiB <expected|unexpected>: <the
functions in it>`. Expected are the blocks within one fault-around window of the C start-up
code (`_start`, `_init`, `_fini`), which every process runs and no link order moves. The pure parts are doctests (cross/ci.sh).
"""
import os
import re
import struct
import subprocess
import sys

PAGE = 4096
# C start-up and shutdown code: placed by the toolchain's crt files, run by every process.
START_UP = {"_start", "_init", "_fini"}
# The kernel's fault-around: the cached pages of the aligned 64 KiB around a touched code page.
AROUND = 64 * 1024


def runs(present, offset):
    """File-offset ranges [start, end) of the resident pages of a mapping that starts at file
    offset `offset`, from its pages' present bits.

    >>> runs([0, 1, 1, 0, 1], 0x1000)
    [(8192, 16384), (20480, 24576)]
    >>> runs([], 0)
    []
    """
    out, start = [], None
    for i, p in enumerate(list(present) + [0]):
        if p and start is None:
            start = i
        if not p and start is not None:
            out.append((offset + start * PAGE, offset + i * PAGE))
            start = None
    return out


def classify(resident, ordered, symbols):
    """Bytes resident inside the ordered region [lo, hi), and the resident blocks outside it,
    each with the names of the functions it overlaps (`symbols`: (offset, size, name) sorted by
    offset) and whether start-up code explains it: a start-up function within one fault-around
    window ([`AROUND`]) of the block. Which page of a block was touched is not known: the kernel
    maps cached pages of the aligned window around it too.

    >>> syms = [(0, 100, "a"), (4096, 8192, "b"), (16384, 10, "_start"), (204800, 50, "c")]
    >>> classify([(0, 8192), (20480, 28672)], (0, 12288), syms)
    (8192, [(20480, 28672, [], True)])
    >>> classify([(200704, 208896)], (0, 12288), syms)
    (0, [(200704, 208896, ['c'], False)])
    >>> classify([(8192, 16384)], (0, 12288), syms)
    (4096, [(12288, 16384, [], True)])
    """
    lo, hi = ordered
    start_up = [off for off, _, n in symbols if n in START_UP]
    inside, outside = 0, []
    for start, end in resident:
        inside += max(0, min(end, hi) - max(start, lo))
        for a, b in ((start, min(end, lo)), (max(start, hi), end)):
            if a < b:
                names = [n for off, size, n in symbols if off < b and off + max(size, 1) > a]
                explained = any(a - AROUND <= s < b + AROUND for s in start_up)
                outside.append((a, b, names, explained))
    return inside, outside


def text_delta(binary):
    """ELF virtual address minus file offset of BINARY's executable segment (`readelf -lW`)."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            return int(f[2], 16) - int(f[1], 16)
    raise ValueError(f"{binary}: no executable LOAD segment")


def symbols(binary, delta):
    """(file offset, size, name) of BINARY's code symbols, by offset (`nm -n -S`)."""
    out = subprocess.run(["nm", "-n", "-S", "--defined-only", binary], capture_output=True,
                         text=True, check=True)
    syms = []
    for line in out.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            syms.append((int(f[0], 16) - delta, int(f[1], 16), f[3]))
        elif len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16) - delta, 0, f[2]))
    return syms


def resident_ranges(pid, binary):
    """File-offset ranges of BINARY's executable mappings resident in process PID."""
    real = os.path.realpath(binary)
    out = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            f = line.split()
            if len(f) < 6 or "x" not in f[1] or os.path.realpath(f[5]) != real:
                continue
            a, b = (int(x, 16) for x in f[0].split("-"))
            pagemap.seek(a // PAGE * 8)
            raw = pagemap.read((b - a) // PAGE * 8)
            bits = [(v >> 63) & 1 for v in struct.unpack(f"<{len(raw) // 8}Q", raw)]
            out += runs(bits, int(f[2], 16))
    return out


def main(pid, binary, list_path):
    with open(list_path, errors="replace") as listed:
        names = {line.strip() for line in listed if line.strip()}
    syms = symbols(binary, text_delta(binary))
    ordered = [(off, off + size) for off, size, name in syms if name in names]
    if not ordered:
        sys.exit(f"{list_path}: none of its names is in {binary}")
    # Whole pages: the pages the region starts and ends in are resident with it.
    region = (min(a for a, _ in ordered) // PAGE * PAGE, -(-max(b for _, b in ordered) // PAGE) * PAGE)
    inside, outside = classify(resident_ranges(pid, binary), region, syms)
    unexpected = sum(b - a for a, b, _, ok in outside if not ok)
    print(inside // 1024, sum(b - a for a, b, _, _ in outside) // 1024, unexpected // 1024)
    for a, b, names, ok in outside:
        shown = ", ".join(re.sub(r"17h[0-9a-f]{16}E$", "", n) for n in names[:4])
        more = f" and {len(names) - 4} more" if len(names) > 4 else ""
        print(f"{a // 1024}-{b // 1024} KiB {'expected' if ok else 'unexpected'}: {shown}{more}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: resident.py PID BINARY LIST")
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
