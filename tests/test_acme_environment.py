"""The ACME session reads the environment once per network, not on every signed request,
and verifies against exactly the bundle lsctl's rule picked (real Pebble, sandbox bundle)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from acme import client

from acme_renewer.acme_network import ResilientNetwork
from acme_renewer.issuance import AcmeSession, Issue, issue_all
from linkshortening.common.https import HttpsSetupError, ca_bundle, server_session
from sandbox.lifecycle import SandboxState
from tests.test_issuance import provider, session  # noqa: F401  (the fixture)


def test_signed_requests_do_not_read_the_environment(
        session: AcmeSession, sandbox: SandboxState,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole issuance (order, authorizations, polls, finalize, download) consults neither
    requests' proxy lookup nor the bundle path: both were per request before."""
    session.client()  # this thread's network: its proxy is resolved here, once
    proxies: list[str] = []
    bundle_checks: list[str] = []
    environ_proxies = requests.sessions.get_environ_proxies

    def counting_proxies(url: str, no_proxy: str | None = None) -> dict[str, str]:
        proxies.append(url)
        return environ_proxies(url, no_proxy)

    def counting(check: Any) -> Any:
        def wrapped(path: Any) -> bool:
            if str(path) == str(sandbox.ca_bundle):
                bundle_checks.append(str(path))
            return bool(check(path))
        return wrapped

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting_proxies)
    monkeypatch.setattr(os.path, "isdir", counting(os.path.isdir))
    monkeypatch.setattr(os.path, "exists", counting(os.path.exists))
    issue = Issue((f"env{uuid.uuid4().hex[:6]}.lsctl.test",))
    issue_all(session, [issue], provider(sandbox), propagation_interval=0.1)
    assert issue.error is None and issue.fullchain_pem
    assert proxies == [] and bundle_checks == []


def test_trust_is_the_bundle_not_the_default_store(sandbox: SandboxState) -> None:
    """Pinned trust still verifies: without the sandbox bundle Pebble's listener is refused."""
    trusted = ResilientNetwork(None, verify_ssl=str(sandbox.ca_bundle),
                               server=sandbox.acme_directory)
    assert client.ClientV2.get_directory(sandbox.acme_directory, trusted).newOrder
    default = ResilientNetwork(None, verify_ssl=True, server=sandbox.acme_directory)
    with pytest.raises(requests.exceptions.SSLError):
        client.ClientV2.get_directory(sandbox.acme_directory, default)


def test_proxy_is_resolved_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert server_session("https://acme.example/dir", None).proxies["https"] == \
        "http://proxy.example:3128"
    assert "https" not in server_session("https://ca.internal.example/dir", None).proxies


def test_a_bundle_that_is_not_pem_is_named_before_any_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trust is loaded up front now, so a bundle without certificates is the rule's
    one-line setup error naming the variable (was requests' SSLError at the first request)."""
    bad = tmp_path / "bundle.pem"
    bad.write_text("not a certificate\n")
    monkeypatch.setenv("LSCTL_ACME_CA_BUNDLE", str(bad))
    with pytest.raises(HttpsSetupError, match=r"^LSCTL_ACME_CA_BUNDLE=.* holds no PEM CA "
                                              r"certificate\. Fix: point it at a PEM"):
        ca_bundle("LSCTL_ACME_CA_BUNDLE")
