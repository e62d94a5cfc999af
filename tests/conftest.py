"""Shared fixtures: one real sandbox (BIND 9, Pebble, moto) for the whole test session."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.lifecycle import SandboxOptions, SandboxState, running

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_ZONES = ("lsctl.test",)


@pytest.fixture(autouse=True)
def _no_twilio_region(monkeypatch: pytest.MonkeyPatch) -> None:
    # twilio-python rewrites a custom base URL's host when these are set.
    monkeypatch.delenv("TWILIO_REGION", raising=False)
    monkeypatch.delenv("TWILIO_EDGE", raising=False)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """The real sandbox services, started once and stopped at the end of the session."""
    with running(tmp_path_factory.mktemp("sandbox"), SandboxOptions(zones=SANDBOX_ZONES)) as state:
        yield state


def lsctl_argv(*args: str) -> list[str]:
    """argv to run the installed `lsctl` as a user would."""
    return [str(Path(sys.executable).parent / "lsctl"), *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}
