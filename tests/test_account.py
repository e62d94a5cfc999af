"""The ACME account is created once on Pebble and reused from the state store."""

from __future__ import annotations

from pathlib import Path

import pytest

from acme_renewer.account import open_session
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import AcmeSettings
from sandbox.lifecycle import SandboxState
from tests.conftest import point_at


def test_created_once_then_reused(sandbox: SandboxState, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(sandbox, monkeypatch)
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


def test_external_account_binding_when_the_ca_requires_it(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import base64
    import secrets

    from linkshortening.common.secrets import MissingSecret
    from sandbox.lifecycle import SandboxOptions, running

    hmac = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    options = SandboxOptions(zones=("lsctl.test",), pebble_eab_keys={"kid-lsctl": hmac})
    with running(tmp_path_factory.mktemp("eab"), options) as eab_sandbox:
        point_at(eab_sandbox, monkeypatch)
        state = RenewerState(DirectoryBackend(tmp_path))
        settings = AcmeSettings(agree_tos=True)
        monkeypatch.delenv("LSCTL_EAB_KID", raising=False)
        with pytest.raises(MissingSecret, match="LSCTL_EAB_KID"):
            open_session(settings, state, "stack")
        monkeypatch.setenv("LSCTL_EAB_KID", "kid-lsctl")
        monkeypatch.setenv("LSCTL_EAB_HMAC", hmac)
        session = open_session(settings, state, "stack")
        assert session.account.account_url and state.account() is not None
        assert session.directory.meta.external_account_required
    output = capsys.readouterr()
    assert hmac not in output.out + output.err
