"""The emulator's Organization of several accounts: logins per account, Messaging Services
owned by one account (another account's credentials get Twilio's 404/20404), and per-account
request counts through the control endpoint."""

from __future__ import annotations

import secrets

import pytest
import requests

from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain, new_messaging_service


def new_account(emulator: EmulatorControl, *services: str) -> tuple[str, tuple[str, str]]:
    """A fresh account owning `services`, and its API key login (SK..., secret)."""
    sid, key, secret = "AC" + secrets.token_hex(16), "SK" + secrets.token_hex(16), \
        secrets.token_urlsafe(24)
    emulator.add_account(sid, auth_token=secrets.token_hex(16), api_keys={key: secret},
                         messaging_services=services)
    return sid, (key, secret)


def call(sandbox: SandboxState, auth: tuple[str, str], method: str,
         path: str) -> requests.Response:
    return requests.request(method, sandbox.twilio_base_url + path, auth=auth, timeout=10,
                            verify=str(sandbox.ca_bundle))


def test_a_service_answers_only_to_its_own_account(sandbox: SandboxState,
                                                   emulator: EmulatorControl) -> None:
    service = new_messaging_service()
    owner, owner_login = new_account(emulator, service)
    _, other_login = new_account(emulator)
    domain, _ = new_domain(emulator)
    path = f"/v1/LinkShortening/Domains/{domain}/MessagingServices/{service}"

    refused = call(sandbox, other_login, "POST", path)
    assert refused.status_code == 404
    assert refused.json()["code"] == 20404
    assert service in refused.json()["message"]  # Twilio names the path, nothing of the owner
    assert call(sandbox, other_login, "GET",
                f"/v1/LinkShortening/MessagingServices/{service}/Domain").status_code == 404

    assert call(sandbox, owner_login, "POST", path).status_code == 201
    found = call(sandbox, owner_login, "GET",
                 f"/v1/LinkShortening/MessagingServices/{service}/Domain")
    assert found.status_code == 200 and found.json()["domain_sid"] == domain
    assert call(sandbox, other_login, "GET",
                f"/v1/LinkShortening/MessagingService/{service}/DomainConfig").status_code == 404
    assert call(sandbox, other_login, "DELETE", path).status_code == 404
    assert call(sandbox, owner_login, "DELETE", path).status_code == 204
    assert owner in emulator.config()["accounts"]


def test_domains_belong_to_the_organization(sandbox: SandboxState,
                                            emulator: EmulatorControl) -> None:
    _, login = new_account(emulator)
    domain, _ = new_domain(emulator)
    assert call(sandbox, login, "GET",
                f"/v1/LinkShortening/Domains/{domain}/Config").status_code == 200


def test_requests_are_counted_per_account(sandbox: SandboxState,
                                          emulator: EmulatorControl) -> None:
    first, first_login = new_account(emulator)
    second, second_login = new_account(emulator)
    domain, _ = new_domain(emulator)
    for _ in range(2):
        call(sandbox, first_login, "GET", f"/v1/LinkShortening/Domains/{domain}/Config")
    call(sandbox, second_login, "GET", f"/v1/LinkShortening/Domains/{domain}/ValidateDns")
    call(sandbox, (second, "wrong"), "GET", f"/v1/LinkShortening/Domains/{domain}/Config")
    counts = emulator.requests()
    assert counts[first] == {"fetch_config": 2}
    assert counts[second] == {"validate_dns": 1}  # a failed login counts for nobody


def test_the_auth_token_logs_in_as_its_account(sandbox: SandboxState,
                                               emulator: EmulatorControl) -> None:
    sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    emulator.add_account(sid, auth_token=token)
    domain, _ = new_domain(emulator)
    assert call(sandbox, (sid, token), "GET",
                f"/v1/LinkShortening/Domains/{domain}/Config").status_code == 200
    assert emulator.requests()[sid] == {"fetch_config": 1}


def test_control_refuses_malformed_accounts(emulator: EmulatorControl) -> None:
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as caught:
        emulator.configure(accounts=["AC"])
    assert caught.value.code == 400
