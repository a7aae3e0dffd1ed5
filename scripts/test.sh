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

# AWS's own clients, for services/iamd/tests/botocore.rs, aws_api.rs, aws_cli.rs and ansible.rs:
# botocore (the signer and SDK core), boto3, the aws CLI and Ansible (which bundles the amazon.aws
# collection). In a venv of the repository's own (never a global install), created once and
# reused while it still holds them all.
pyenv="$(pwd)/target/pyenv"
# Selenium drives Debian's Chromium for the console's browser tests (services/iamd/tests/console.rs).
if ! "$pyenv/bin/python" -c 'import botocore, boto3, selenium' >/dev/null 2>&1 \
    || [[ ! -x "$pyenv/bin/aws" || ! -x "$pyenv/bin/ansible-playbook" ]]; then
    echo "== creating $pyenv with botocore, boto3, the aws CLI and Ansible" >&2
    rm -rf "$pyenv"
    python3 -m venv "$pyenv" || { echo "error: python3 -m venv $pyenv failed" >&2; exit 1; }
    "$pyenv/bin/python" -m pip install --quiet --disable-pip-version-check awscli botocore boto3 ansible selenium \
        || { echo "error: pip install awscli botocore boto3 ansible into $pyenv failed" >&2; exit 1; }
    "$pyenv/bin/python" -c 'import botocore, boto3, selenium' \
        || { echo "error: botocore, boto3 or selenium does not import from $pyenv" >&2; exit 1; }
fi
# The browser of the console's tests: Debian's Chromium and its driver (the clients' own browser
# downloads cannot reach the internet here).
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    # shellcheck source=../infra/lib.sh
    source infra/lib.sh
    apt_install chromium chromium-driver
fi
export GATEHOUSE_PYTHON="$pyenv/bin/python"
export GATEHOUSE_AWS_CLI="$pyenv/bin/aws"
export GATEHOUSE_ANSIBLE_PLAYBOOK="$pyenv/bin/ansible-playbook"

cargo test --workspace --locked
