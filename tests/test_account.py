"""ACME accounts: created once per CA (Pebble), reused from the state store, never sent to
another CA."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from acme import messages
from cryptography.hazmat.primitives import serialization

from acme_renewer.account import CA_BUNDLE_ENV, DIRECTORY_ENV, open_account, open_session
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import AcmeSettings
from sandbox import lifecycle
from sandbox.lifecycle import SandboxOptions, SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import SANDBOX_ZONES, new_domain, point_at
from tests.test_renew import renew, statuses, write_stack


def test_created_once_then_reused(sandbox: SandboxState, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(sandbox, monkeypatch)
    state = RenewerState(DirectoryBackend(tmp_path))
    settings = AcmeSettings(email="ops@lsctl.test", agree_tos=True)
    first = open_session(settings, state, "stack")
    stored = state.account(sandbox.acme_directory)
    assert stored is not None and stored.url == first.account.account_url
    assert stored.directory == sandbox.acme_directory
    (entry,) = (tmp_path / "accounts").iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    second = open_session(settings, state, "stack")
    assert second.account.account_url == first.account.account_url
    assert second.account.key == first.account.key


def test_terms_must_be_agreed(sandbox: SandboxState, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", sandbox.acme_directory)
    state = RenewerState(DirectoryBackend(tmp_path))
    with pytest.raises(ConfigError, match="agreeTos: true"):
        open_session(AcmeSettings(), state, "stack")
    assert state.account(sandbox.acme_directory) is None


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
        assert session.account.account_url
        assert state.account(eab_sandbox.acme_directory) is not None
        assert session.directory.meta.external_account_required
    output = capsys.readouterr()
    assert hmac not in output.out + output.err


@pytest.fixture(scope="module")
def second_pebble(sandbox: SandboxState,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """Another CA beside the session's: a second Pebble (its own directory URL, listener CA
    and issuing root) that checks challenges against the session's BIND."""
    directory = tmp_path_factory.mktemp("pebble2")
    (directory / "logs").mkdir()
    other = dataclasses.replace(sandbox, directory=str(directory), services=[])
    lifecycle._start_pebble(other, SandboxOptions(zones=SANDBOX_ZONES))
    try:
        yield other
    finally:
        lifecycle._stop_all(other)


def use_ca(ca: SandboxState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DIRECTORY_ENV, ca.acme_directory)
    monkeypatch.setenv(CA_BUNDLE_ENV, str(ca.ca_bundle))


def test_changing_the_ca_registers_a_new_account(
        tmp_path: Path, sandbox: SandboxState, second_pebble: SandboxState,
        emulator: EmulatorControl, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    point_at(sandbox, monkeypatch)
    emulator.configure(trust_roots=[second_pebble.pebble_root.read_text()])
    sid, name = new_domain(emulator)
    stack = write_stack(tmp_path / "Pulumi.t.yaml", tmp_path / "state",
                        [{"fqdn": name, "sid": sid}])
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(report) == {name: "renewed"}, output
    assert report["notes"] == [f"registered a new ACME account at {sandbox.acme_directory}"]
    # Same state, another CA (staging to production, a new Pebble): it gets its own account.
    use_ca(second_pebble, monkeypatch)
    code, report, output = renew(stack, "--force", capsys=capsys)
    assert code == 0 and statuses(report) == {name: "renewed"}, output
    assert report["notes"] == [f"registered a new ACME account at {second_pebble.acme_directory}"]
    # Back at the first CA, its own account is used again.
    use_ca(sandbox, monkeypatch)
    code, report, output = renew(stack, "--force", capsys=capsys)
    assert code == 0 and statuses(report) == {name: "renewed"}, output
    assert report["notes"] == []
    assert len(list((tmp_path / "state" / "accounts").iterdir())) == 2


def test_the_single_account_of_earlier_versions_stays_with_its_ca(
        sandbox: SandboxState, second_pebble: SandboxState, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(sandbox, monkeypatch)
    settings = AcmeSettings(agree_tos=True)
    first = open_session(settings, RenewerState(DirectoryBackend(tmp_path / "scratch")), "s")
    assert first.account.account_url is not None
    # The state as earlier versions kept it: one account, at account/key.pem and account/url.
    backend = DirectoryBackend(tmp_path / "state")
    key_pem = first.account.key.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    backend.write("account/key.pem", key_pem)
    backend.write("account/url", first.account.account_url.encode())
    state = RenewerState(backend)
    # At another CA: a new account, and the old one is left for the CA it belongs to.
    use_ca(second_pebble, monkeypatch)
    other = open_account(settings, state, "s")
    assert other.session is not None and other.note is not None
    assert other.note.startswith(f"registered a new ACME account at {second_pebble.acme_directory}")
    assert state.legacy_account() == (first.account.account_url, key_pem)
    # At its own CA: the same account, now filed under that CA's directory, and working.
    use_ca(sandbox, monkeypatch)
    again = open_account(settings, state, "s")
    assert again.note is None and again.session is not None
    assert again.session.account.account_url == first.account.account_url
    assert state.legacy_account() is None
    stored = state.account(sandbox.acme_directory)
    assert stored is not None and stored.url == first.account.account_url
    regr = messages.RegistrationResource(uri=first.account.account_url,
                                         body=messages.Registration())
    assert again.session.client().query_registration(regr).body.status == "valid"

