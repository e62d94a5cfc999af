#!/usr/bin/env bash
# `make demo`: the main job end to end in the local sandbox. Every step is an lsctl command a
# user can run by hand; the trap stops the sandbox whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export LSCTL_SANDBOX_DIR="$PWD/.sandbox/demo"

lsctl sandbox down >/dev/null 2>&1 || true   # a demo interrupted earlier
trap 'lsctl sandbox down' EXIT

echo "==> lsctl sandbox up --stack sandbox"
lsctl sandbox up --stack sandbox
eval "$(lsctl sandbox env)"

echo "==> lsctl records --stack sandbox   (what the stack declares)"
lsctl records --stack sandbox

echo "==> lsctl sandbox seed --stack sandbox   (RFC 2136 updates, then what BIND 9 answers)"
lsctl sandbox seed --stack sandbox

echo "==> lsctl plan --stack sandbox --expect-no-changes   (seeding left nothing to change)"
lsctl plan --stack sandbox --expect-no-changes

echo "==> lsctl renew --stack sandbox   (Pebble issues by DNS-01, the Twilio emulator validates)"
lsctl renew --stack sandbox --validation-poll 0.5

echo "==> lsctl renew --stack sandbox   (again: nothing is due)"
lsctl renew --stack sandbox --validation-poll 0.5

echo "==> lsctl drift --stack sandbox   (every nameserver, Twilio, the served certificates)"
lsctl drift --stack sandbox
