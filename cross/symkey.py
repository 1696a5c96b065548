#!/usr/bin/env python3
"""The one rule that says two symbol names are the same function in different builds, for the link
order: cross/link-order.sh ranks functions by it, cross/link.sh finds the list's functions in the
ARM builds by it.

As a command (cross/link.sh): `symkey.py LIST < names` prints those of the names on stdin (`nm -j`
output) whose key is a key of a name in LIST, in LIST's order, each once. `symkey.py --drift LIST
< names` (bench/compare's report) counts how many of LIST's names the build defines, the
functions LIST knows only under older names, and how many of its names the build lost since
LIST was made (see `found_counts` and `drift_counts`; their examples run as doctests in
cross/ci.sh). `symkey.py --found LIST < names` (cross/link-order.sh) prints the first count.

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


def found_counts(listed_names, present_names):
    """How many of a link-order list's names a build defines (its `nm` names), of how many, and
    the same for the names that mention `ganglion` (its crates' functions and generic ones over
    its types): (found, listed, found naming ganglion, listed naming ganglion). The one count
    of this, for the benchmark's report (`--drift`) and cross/link-order.sh (`--found`).

    >>> found_counts(["a", "ganglion_b", "ganglion_c", "a"], ["a", "ganglion_c", "d"])
    (2, 3, 1, 2)
    """
    listed = set(listed_names)
    found = listed & set(present_names)
    own = {name for name in listed if "ganglion" in name}
    return len(found), len(listed), len(found & own), len(own)


def drift_counts(listed_names, present_names, found=None):
    """How far a build (`present_names`, its `nm` names) has moved from a link-order list
    (`listed_names`): (moved, moved naming ganglion, gone).
    - moved: functions the list names only under names the build no longer has, while it has
      the function under a new name (same key): code changed since the list was made, and an
      exact match (the x86_64 opt-level 3 builds, agent/build.rs) leaves those out of the
      ordered region;
    - gone: how many fewer of the list's names the build defines than `found`, the count of the
      benchmark build the list was made from (None without one). This also sees what `moved`
      cannot: a renamed copy of a generic function whose other copies keep their names (they
      share a key).

    >>> listed = ["_ZN8ganglion3foo17h0000000000000001E",
    ...           "_ZN5alloc3vec4push17h00000000000000a1E", "_ZN5alloc3vec4push17h00000000000000a2E"]
    >>> drift_counts(listed, listed, found=3)
    (0, 0, 0)
    >>> drift_counts(listed, ["_ZN8ganglion3foo17h0000000000000009E"] + listed[1:], found=3)
    (1, 1, 1)
    >>> drift_counts(listed, listed[:2] + ["_ZN5alloc3vec4push17h00000000000000a9E"], found=3)
    (0, 0, 1)
    >>> drift_counts(listed, listed[:2])
    (0, 0, None)
    """
    listed, names_listed = {}, set()
    for name in listed_names:
        listed.setdefault(key(name), set()).add(name)
        names_listed.add(name)
    present = set(present_names)
    present_keys = {key(name) for name in present}
    moved = [k for k, names in listed.items() if k in present_keys and not names & present]
    gone = None if found is None else max(0, found - found_counts(names_listed, present)[0])
    return len(moved), sum(1 for k in moved if "ganglion" in k), gone


def read_names(list_path):
    """LIST's names, then the `nm` names on stdin (without `nm`'s file headers)."""
    with open(list_path, errors="replace") as names:
        listed = [line.strip() for line in names if line.strip()]
    present = [line.strip() for line in sys.stdin if line.strip() and not line.strip().endswith(":")]
    return listed, present


def drift(list_path):
    """`found_counts` and `drift_counts` of LIST against the `nm` names on stdin, with the count
    in LIST's `.found` file. Prints "<found> <listed> <found naming ganglion> <listed naming
    ganglion> <moved> <moved naming ganglion> <gone>" ("-" for gone without that file). Meant
    for the benchmark build (`cargo bench` makes target/release/ganglion); a release build has
    other hashes."""
    listed, present = read_names(list_path)
    try:
        with open(found_path(list_path)) as f:
            found = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        found = None
    moved, own, gone = drift_counts(listed, present, found)
    print(*found_counts(listed, present), moved, own, "-" if gone is None else gone)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--drift":
        drift(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--found":
        print(found_counts(*read_names(sys.argv[2]))[0])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit("usage: symkey.py LIST < names  |  symkey.py --drift|--found LIST < names")
