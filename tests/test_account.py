"""The ACME account is created once on Pebble and reused from the state store."""

from __future__ import annotations

from pathlib import Path

import pytest

from acme_renewer.account import open_session
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.config import AcmeSettings, ConfigError
from sandbox.lifecycle import SandboxState


def test_created_once_then_reused(sandbox: SandboxState, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    state = RenewerState(DirectoryBackend(tmp_path))
    settings = AcmeSettings(email="ops@lsctl.test", agree_tos=True)
    first = open_session(settings, state, "stack")
    stored = state.account()
    assert stored is not None and stored[1] == first.account.account_url
    assert (tmp_path / "account" / "key.pem").stat().st_mode & 0o777 == 0o600
    second = open_session(settings, state, "stack")
    assert second.account.account_url == first.account.account_url
    assert second.account.key == first.account.key


def test_terms_must_be_agreed(sandbox: SandboxState, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", sandbox.acme_directory)
    state = RenewerState(DirectoryBackend(tmp_path))
    with pytest.raises(ConfigError, match="agreeTos: true"):
        open_session(AcmeSettings(), state, "stack")
    assert state.account() is None
