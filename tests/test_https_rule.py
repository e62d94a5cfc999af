"""One rule for both HTTPS clients (ACME and Twilio): endpoint overrides are https:// only;
trust is the client's own bundle variable, else LSCTL_CA_BUNDLE, else REQUESTS_CA_BUNDLE."""

from __future__ import annotations

from pathlib import Path

import pytest

from acme_renewer.account import CA_BUNDLE_ENV as ACME_CA_BUNDLE_ENV
from acme_renewer.account import DIRECTORY_ENV, open_session
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.common.https import HttpsSetupError
from linkshortening.stack.model import AcmeSettings
from linkshortening.twilio.api import BASE_URL_ENV, LinkShorteningApi
from linkshortening.twilio.api import CA_BUNDLE_ENV as TWILIO_CA_BUNDLE_ENV
from linkshortening.twilio.errors import TwilioSetupError
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain

GENERIC = ["LSCTL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"]


def acme_session(tmp_path: Path) -> object:
    return open_session(AcmeSettings(agree_tos=True), RenewerState(DirectoryBackend(tmp_path)),
                        "stack")


@pytest.mark.parametrize("variable", GENERIC)
def test_acme_client_trusts_the_generic_bundle(sandbox_env: SandboxState, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               variable: str) -> None:
    monkeypatch.delenv(ACME_CA_BUNDLE_ENV)
    monkeypatch.setenv(variable, str(sandbox_env.ca_bundle))
    acme_session(tmp_path)  # TLS to Pebble verified by the sandbox CA, the account registered
    monkeypatch.setenv(variable, str(tmp_path / "missing.pem"))
    with pytest.raises(HttpsSetupError, match=f"{variable}=.* is not a file"):
        acme_session(tmp_path)


@pytest.mark.parametrize("variable", GENERIC)
def test_twilio_client_trusts_the_generic_bundle(sandbox_env: SandboxState,
                                                 emulator: EmulatorControl, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 variable: str) -> None:
    sid, _ = new_domain(emulator)
    monkeypatch.delenv(TWILIO_CA_BUNDLE_ENV)
    monkeypatch.setenv(variable, str(sandbox_env.ca_bundle))
    assert LinkShorteningApi.from_env().fetch_config(sid).domain_sid == sid
    monkeypatch.setenv(variable, str(tmp_path / "missing.pem"))
    with pytest.raises(TwilioSetupError, match=f"{variable}=.* is not a file"):
        LinkShorteningApi.from_env()


def test_the_clients_own_bundle_comes_first(sandbox_env: SandboxState, tmp_path: Path,
                                            emulator: EmulatorControl,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sid, _ = new_domain(emulator)
    for variable in GENERIC:  # a bundle that does not hold the sandbox CA
        monkeypatch.setenv(variable, "/etc/ssl/certs/ca-certificates.crt")
    acme_session(tmp_path)
    assert LinkShorteningApi.from_env().fetch_config(sid).domain_sid == sid


def test_acme_directory_override_must_be_https(sandbox_env: SandboxState, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DIRECTORY_ENV, sandbox_env.acme_directory.replace("https:", "http:"))
    with pytest.raises(HttpsSetupError, match=f"{DIRECTORY_ENV}=http://.* must be an https://"):
        acme_session(tmp_path)
    assert not tmp_path.joinpath("accounts").exists()


def test_twilio_base_url_override_must_be_https(sandbox_env: SandboxState,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, sandbox_env.twilio_base_url.replace("https:", "http:"))
    with pytest.raises(TwilioSetupError, match=f"{BASE_URL_ENV}=http://.* must be an https://"):
        LinkShorteningApi.from_env()
