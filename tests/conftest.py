"""Shared fixtures: one real sandbox (BIND 9, Pebble, moto, Twilio emulator) per session."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.lifecycle import SandboxOptions, SandboxState, running
from sandbox.twilio_emulator.control import EmulatorControl
from sandbox.twilio_emulator.knobs import Knobs

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_ZONES = ("lsctl.test", "fan-a.test", "fan-b.test")  # fan-*: zones to shard by
# The emulator's knobs between tests: no faults, and validation short enough not to slow them.
TWILIO_KNOBS = {**Knobs().as_dict(), "validation_delay": 0.2}


@pytest.fixture(autouse=True)
def _no_twilio_region(monkeypatch: pytest.MonkeyPatch) -> None:
    # twilio-python rewrites a custom base URL's host when these are set.
    monkeypatch.delenv("TWILIO_REGION", raising=False)
    monkeypatch.delenv("TWILIO_EDGE", raising=False)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """The real sandbox services, started once and stopped at the end of the session."""
    options = SandboxOptions(zones=SANDBOX_ZONES, twilio_faults=TWILIO_KNOBS)
    with running(tmp_path_factory.mktemp("sandbox"), options) as state:
        yield state


@pytest.fixture(scope="session")
def _emulator_control(sandbox: SandboxState) -> EmulatorControl:
    return EmulatorControl(sandbox.twilio_base_url, sandbox.ca_bundle,
                           sandbox.twilio_account_sid, sandbox.twilio_auth_token_file)


@pytest.fixture
def emulator(_emulator_control: EmulatorControl) -> Iterator[EmulatorControl]:
    """The sandbox's Twilio emulator; knobs a test turns are turned back afterwards."""
    yield _emulator_control
    _emulator_control.configure(**TWILIO_KNOBS)


def point_at(state: SandboxState, monkeypatch: pytest.MonkeyPatch) -> SandboxState:
    """For this test, the environment `eval "$(lsctl sandbox env)"` gives: lsctl, boto3, the
    ACME client and the Twilio client reach `state`'s services (its auth token, no API key)."""
    for name, value in state.env().items():
        monkeypatch.setenv(name, value)
    for name, path in state.secret_files().items():
        monkeypatch.setenv(name, path.read_text().strip())
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_API_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    return state


@pytest.fixture
def sandbox_env(sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch) -> SandboxState:
    """The session's sandbox, with this test's environment pointed at it."""
    return point_at(sandbox, monkeypatch)


@pytest.fixture
def twilio_env(sandbox_env: SandboxState) -> None:
    """The environment `eval "$(lsctl sandbox env)"` gives: the client reaches the emulator."""


def new_domain(emulator: EmulatorControl, name: str | None = None) -> tuple[str, str]:
    """A fresh DomainSid, known to the emulator as `name` (default: a fresh name)."""
    sid = "DN" + secrets.token_hex(16)
    name = name or f"d{secrets.token_hex(4)}.lsctl.test"
    emulator.seed({sid: name})
    return sid, name


def new_messaging_service() -> str:
    return "MG" + secrets.token_hex(16)


def lsctl_argv(*args: str) -> list[str]:
    """argv to run the installed `lsctl` as a user would."""
    return [str(Path(sys.executable).parent / "lsctl"), *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


@pytest.fixture(scope="session")
def test_ca_trusted(_emulator_control: EmulatorControl) -> None:
    """The emulator trusts tests.certfactory's root (one key for the session) besides Pebble's,
    so tests can build valid chains without an ACME round trip."""
    from tests.certfactory import make_chain

    _emulator_control.configure(trust_roots=[make_chain().root.cert_pem])
