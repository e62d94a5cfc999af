"""ARI (RFC 9773) against a local responder in front of Pebble: window honoured, replaces sent."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from acme_renewer.account import open_session
from acme_renewer.ari import cert_id, renewal_window
from acme_renewer.decide import decide
from acme_renewer.issuance import Issue, issue_all
from acme_renewer.rfc2136_provider import Rfc2136Provider
from acme_renewer.state import DirectoryBackend, RenewerState, StoredCertificate
from linkshortening.stack.model import AcmeSettings, DnsSettings
from sandbox.lifecycle import SandboxState
from tests.ari_responder import AriResponder
from tests.conftest import point_at


def test_window_honoured_and_replaces_sent(sandbox: SandboxState, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(sandbox, monkeypatch)
    now = dt.datetime.now(dt.UTC)
    future = (now + dt.timedelta(days=20), now + dt.timedelta(days=22))
    provider = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox.tsig_key_name), "test")
    name = f"ari{uuid.uuid4().hex[:6]}.lsctl.test"
    with AriResponder(sandbox, window=future, retry_after=3600) as ari:
        monkeypatch.setenv("LSCTL_ACME_DIRECTORY", ari.directory_url)
        session = open_session(AcmeSettings(agree_tos=True), RenewerState(
            DirectoryBackend(tmp_path)), "stack")
        assert session.has_ari
        first = Issue((name,))
        issue_all(session, [first], provider, propagation_interval=0.1)
        assert first.fullchain_pem and first.error is None
        assert "replaces" not in ari.orders[-1]
        pem = first.fullchain_pem.encode()

        # A window in the future: a uniformly random time inside it, and not due yet.
        window = renewal_window(session.client(), pem)
        assert window.renew_at is not None and future[0] <= window.renew_at <= future[1]
        assert abs((window.next_check - (now + dt.timedelta(hours=1))).total_seconds()) < 120
        assert ari.queried == [cert_id(pem)]
        stored = StoredCertificate((name,), "ecdsa-p256", first.fullchain_pem,
                                   now.isoformat(), (now + dt.timedelta(days=90)).isoformat())
        assert not decide((name,), "ecdsa-p256", stored, now, ari_time=window.renew_at).due

        # The window moved into the past (the CA wants it replaced): due, and replaces sent.
        ari.window = (now - dt.timedelta(days=2), now - dt.timedelta(days=1))
        window = renewal_window(session.client(), pem)
        assert decide((name,), "ecdsa-p256", stored, now, ari_time=window.renew_at).due
        second = Issue((name,), replaces=cert_id(pem))
        issue_all(session, [second], provider, propagation_interval=0.1)
        assert second.error is None and second.fullchain_pem
        assert ari.orders[-1]["replaces"] == cert_id(pem)


def test_profile_sent_only_when_offered(sandbox: SandboxState, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(sandbox, monkeypatch)
    provider = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox.tsig_key_name), "test")
    now = dt.datetime.now(dt.UTC)
    with AriResponder(sandbox, window=(now, now + dt.timedelta(days=1))) as ari:
        monkeypatch.setenv("LSCTL_ACME_DIRECTORY", ari.directory_url)
        session = open_session(AcmeSettings(agree_tos=True), RenewerState(
            DirectoryBackend(tmp_path)), "stack")
        offered = Issue((f"p{uuid.uuid4().hex[:6]}.lsctl.test",), profile="shortlived")
        unknown = Issue((f"q{uuid.uuid4().hex[:6]}.lsctl.test",), profile="nonexistent")
        issue_all(session, [offered], provider, propagation_interval=0.1)
        assert ari.orders[-1].get("profile") == "shortlived" and offered.error is None
        issue_all(session, [unknown], provider, propagation_interval=0.1)
        assert not ari.orders[-1].get("profile") and unknown.error is None
