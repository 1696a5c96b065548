#!/usr/bin/env python3
"""The one rule that says two symbol names are the same function in different builds, for the link
order: cross/link-order.sh ranks functions by it, cross/link.sh finds the list's functions in the
ARM builds by it.

As a command (cross/link.sh): `symkey.py LIST < names` prints those of the names on stdin (`nm -j`
output) whose key is a key of a name in LIST, in LIST's order, each once. `symkey.py --drift LIST
< names` (bench/compare's report) counts the functions LIST knows only under older names, and
how many of its names the build lost since LIST was made (see `drift`).

Known limit: legacy Rust names carry no generic arguments, so without the hash every copy of a
generic function has the same key, and all of them are placed where the one that ran is ranked.
"""
import re
import sys


def key(name):
    """A symbol name without what differs between builds of the same code: callgrind's mark of a
    recursive call (`'2`), LLVM's and GCC's numbered suffixes of local copies (`.llvm.123`,
    `.constprop.0`: the number only), the hash of a legacy Rust name (`17h<16 hex>E`) and the
    crate disambiguators of a v0 name (`Cs<base62>_`). C names (QuickJS) are otherwise their own."""
    name = re.sub(r"'\d+$", "", name)
    name = re.sub(r"(\.llvm)?\.\d+$", "", name)
    name = re.sub(r"17h[0-9a-f]{16}E$", "E", name)
    return re.sub(r"Cs[0-9A-Za-z]+_", "C", name)


def main(list_path):
    rank = {}
    with open(list_path, errors="replace") as listed:
        for line in listed:
            if line.strip():
                rank.setdefault(key(line.strip()), len(rank))
    hits, seen = [], set()
    for line in sys.stdin:
        name = line.strip()
        if not name or name.endswith(":") or name in seen:
            continue
        seen.add(name)
        k = key(name)
        if k in rank:
            hits.append((rank[k], name))
    hits.sort(key=lambda hit: hit[0])  # stable: names of one key keep nm's order
    sys.stdout.write("".join(name + "\n" for _, name in hits))


def found_path(list_path):
    """Where cross/link-order.sh records how many of LIST's names the benchmark build it traced
    defines (`link-order.txt` → `link-order.found`)."""
    return re.sub(r"\.txt$", "", list_path) + ".found"


def drift(list_path):
    """How far the build on stdin (`nm` names) has moved from LIST. Prints "<moved> <moved naming
    ganglion> <gone>":
    - moved: functions LIST names only under names the build no longer has, while it has the
      function under a new name (same key): code changed since LIST was made, and an exact match
      (the x86_64 opt-level 3 builds, agent/build.rs) leaves those out of the ordered region;
    - gone: how many fewer of LIST's names the build defines than the benchmark build LIST was
      made from did (its `.found` file; "-" without one). This also sees what `moved` cannot: a
      renamed copy of a generic function whose other copies keep their names (they share a key).
      Meant for the benchmark build (`cargo bench` makes target/release/ganglion); a release build
      has other hashes."""
    listed, names_listed = {}, set()
    with open(list_path, errors="replace") as names:
        for line in names:
            if line.strip():
                listed.setdefault(key(line.strip()), set()).add(line.strip())
                names_listed.add(line.strip())
    present, present_keys = set(), set()
    for line in sys.stdin:
        name = line.strip()
        if name and not name.endswith(":"):
            present.add(name)
            present_keys.add(key(name))
    moved = [k for k, names in listed.items() if k in present_keys and not names & present]
    try:
        with open(found_path(list_path)) as f:
            gone = str(max(0, int(f.read().split()[0]) - len(names_listed & present)))
    except (OSError, ValueError, IndexError):
        gone = "-"
    print(len(moved), sum(1 for k in moved if "ganglion" in k), gone)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--drift":
        drift(sys.argv[2])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit("usage: symkey.py LIST < names  |  symkey.py --drift LIST < names")
