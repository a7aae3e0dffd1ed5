#!/usr/bin/env bash
# The test command of the README: every unit, integration and end-to-end test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
# Shared test vectors live beside the checkout, never inside it; a clone made elsewhere (e.g. in a
# temporary directory) finds them beside the repository it was cloned from.
if [[ -z "${GATEHOUSE_SIGV4_VECTORS:-}" ]]; then
    GATEHOUSE_SIGV4_VECTORS="$(cd .. && pwd)/shared/vectors/sigv4"
    origin="$(git config --get remote.origin.url 2>/dev/null || true)"
    if [[ ! -d "$GATEHOUSE_SIGV4_VECTORS" && -d "$origin" ]]; then
        GATEHOUSE_SIGV4_VECTORS="$(cd "$origin/.." && pwd)/shared/vectors/sigv4"
    fi
fi
export GATEHOUSE_SIGV4_VECTORS

# botocore (AWS's own signer and SDK core) and the aws CLI, for services/iamd/tests/botocore.rs,
# aws_api.rs and aws_cli.rs: in a venv of the repository's own (never a global install), created
# once and reused while it still imports botocore and holds the aws CLI.
pyenv="$(pwd)/target/pyenv"
if ! "$pyenv/bin/python" -c 'import botocore' >/dev/null 2>&1 || [[ ! -x "$pyenv/bin/aws" ]]; then
    echo "== creating $pyenv with botocore and the aws CLI" >&2
    rm -rf "$pyenv"
    python3 -m venv "$pyenv" || { echo "error: python3 -m venv $pyenv failed" >&2; exit 1; }
    "$pyenv/bin/python" -m pip install --quiet --disable-pip-version-check awscli botocore \
        || { echo "error: pip install awscli botocore into $pyenv failed" >&2; exit 1; }
    "$pyenv/bin/python" -c 'import botocore' \
        || { echo "error: botocore does not import from $pyenv" >&2; exit 1; }
fi
export GATEHOUSE_PYTHON="$pyenv/bin/python"
export GATEHOUSE_AWS_CLI="$pyenv/bin/aws"

cargo test --workspace --locked
