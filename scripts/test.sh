#!/usr/bin/env bash
# The test command of the README: every unit, integration and end-to-end test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
export GATEHOUSE_SIGV4_VECTORS="${GATEHOUSE_SIGV4_VECTORS:-$(cd .. && pwd)/shared/vectors/sigv4}"
cargo test --workspace --locked
