#!/usr/bin/env bash
# Ganglion's whole test suite, on a fresh Debian machine with nothing installed by hand: installs
# what the tests need (idempotent), then runs formatting and lint checks, every Rust test (unit
# tests and the end-to-end test binary, which starts real Mosquitto brokers, pseudo-terminals and
# the agent itself), the JS conformance suites under Node, and the ARM builds with the emulated
# board. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh

export CARGO_TERM_COLOR=never
echo "=== cargo fmt --check"
cargo fmt --all -- --check
echo "=== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "=== cargo test"
cargo test --workspace
if command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=6)?0:1)'; then
    echo "=== JS conformance suites under Node (the specification)"
    node tests/js/run-under-node.mjs
else
    echo "=== skipping the Node conformance run: Node.js >= 20.6 not found"
fi
if command -v npm >/dev/null; then
    echo "=== TypeScript declarations (scripts/types) and the example scripts against them"
    (cd scripts/types && npm ci --silent --no-audit --no-fund && npx tsc -p .)
fi
if [[ -x cross/ci.sh ]]; then
    echo "=== ARM builds, qemu and the emulated board"
    bash cross/ci.sh
fi
