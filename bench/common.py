"""Shared pieces of the benchmarks: a sandbox, timing, Markdown tables, peers that must run."""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.lifecycle import SandboxOptions, SandboxState, running
from sandbox.twilio_emulator.control import EmulatorControl

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class PeerFailed(SystemExit):
    """A peer could not run: the benchmark stops instead of reporting half a comparison."""

    def __init__(self, message: str) -> None:
        print(f"bench: {message}", file=sys.stderr)
        super().__init__(1)


def require(binary: str, package: str) -> str:
    found = shutil.which(binary)
    if not found:
        raise PeerFailed(f"{binary} is missing: apt-get install {package} (make bench does)")
    return found


@contextmanager
def sandbox(directory: Path, pebble_env: Mapping[str, str] | None = None,
            twilio: Mapping[str, object] | None = None,
            zones: Sequence[str] = ("lsctl.test",)) -> Iterator[SandboxState]:
    # Pebble rejects 5% of nonces by default to exercise clients; the peers retry a rejected
    # nonce only once and would fail a long run at random, so the benchmarks turn it off.
    pebble = {"PEBBLE_WFE_NONCEREJECT": "0", **(pebble_env or {})}
    options = SandboxOptions(zones=tuple(zones), pebble_env=pebble,
                             twilio_faults=dict(twilio or {}))
    with running(directory, options) as state:
        yield state


def sandbox_env(state: SandboxState, **extra: str) -> dict[str, str]:
    """The environment `eval "$(lsctl sandbox env)"` gives, for subprocesses."""
    env = {**os.environ, **state.env(), **extra}
    for name, path in state.secret_files().items():
        env[name] = path.read_text().strip()
    for name in ("TWILIO_REGION", "TWILIO_EDGE", "TWILIO_API_KEY", "TWILIO_API_SECRET"):
        env.pop(name, None)
    return env


def emulator(state: SandboxState) -> EmulatorControl:
    return EmulatorControl(state.twilio_base_url, state.ca_bundle, state.twilio_account_sid,
                           state.twilio_auth_token_file)


def new_sid() -> str:
    return "DN" + secrets.token_hex(16)


def timed(argv: Sequence[str], env: Mapping[str, str], what: str,
          cwd: Path | None = None) -> float:
    """Wall time of one command; a failing peer stops the benchmark with its output."""
    start = time.perf_counter()
    result = subprocess.run(list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True,
                            check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PeerFailed(f"{what} failed (exit {result.returncode}):\n{tail}")
    return elapsed


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {platform.platform()}")
