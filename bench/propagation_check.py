"""Time one propagation check of N challenge records on the sandbox's BIND (issue 14).

    .venv/bin/python -m bench.propagation_check 2000   # starts its own sandbox
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from acme_renewer.challenge import ChallengeRecord, challenge_name
from acme_renewer.propagation import wait_for_propagation
from acme_renewer.rfc2136_provider import Rfc2136Provider
from bench.common import sandbox, sandbox_env
from linkshortening.stack.model import DnsSettings
from sandbox.lifecycle import SandboxState

CHUNK = 400  # names per RFC 2136 update that surely fit one DNS message


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory, sandbox(Path(directory)) as state:
        os.environ.update(sandbox_env(state))
        check(state, count)


def check(state: SandboxState, count: int) -> None:
    provider = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=state.tsig_key_name), "bench")
    tag = uuid.uuid4().hex[:6]
    records = [ChallengeRecord(f"b{tag}-{i}.lsctl.test", challenge_name(f"b{tag}-{i}.lsctl.test"),
                               "lsctl.test", f"v{i}") for i in range(count)]
    chunks = [records[i:i + CHUNK] for i in range(0, count, CHUNK)]
    for chunk in chunks:
        assert provider.present(chunk) == []
    try:
        started = time.perf_counter()
        wait_for_propagation(records, timeout=600, interval=0.1)
        print(f"{count} records: propagation check {time.perf_counter() - started:.2f} s")
    finally:
        for chunk in chunks:
            provider.cleanup(chunk)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
