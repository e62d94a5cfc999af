"""Authorization lifetime (issue 17): one-hour pending authorizations must not cost a run its
orders. Against Pebble behind the local responder, which shortens authorization lifetimes
the way RFC 8555 describes them (`expires`, status `expired`, 400 malformed on a late answer)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from acme_renewer.account import open_session
from acme_renewer.issuance import AcmeSession, Issue, issue_all
from acme_renewer.rfc2136_provider import Rfc2136Provider
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.dns.query import ask
from linkshortening.dns.rfc2136 import new_update, replace_rrset, send_update
from linkshortening.stack.model import AcmeSettings, DnsSettings
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.ari_responder import AriResponder
from tests.conftest import new_domain
from tests.test_profiles_renew import write_stack
from tests.test_renew import renew, statuses

ZONE = "lsctl.test"


def fresh() -> str:
    return f"a{uuid.uuid4().hex[:8]}.{ZONE}"


def ordered(ari: AriResponder) -> Counter[str]:
    """How many newOrder requests named each identifier."""
    return Counter(i["value"] for order in ari.orders for i in order["identifiers"])


@pytest.fixture
def responder(sandbox_env: SandboxState,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[AriResponder]:
    sandbox = sandbox_env
    now = dt.datetime.now(dt.UTC)
    with AriResponder(sandbox, window=(now + dt.timedelta(days=30),
                                       now + dt.timedelta(days=31))) as ari:
        monkeypatch.setenv("LSCTL_ACME_DIRECTORY", ari.directory_url)
        yield ari


def session_and_dns(sandbox: SandboxState, state: Path) -> tuple[AcmeSession, Rfc2136Provider]:
    session = open_session(AcmeSettings(agree_tos=True), RenewerState(DirectoryBackend(state)),
                           "stack")
    provider = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox.tsig_key_name), "test")
    return session, provider


def test_an_authorization_expired_mid_run_is_ordered_again_once_and_renews(
        responder: AriResponder, emulator: EmulatorControl, twilio_env: None,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid, fqdn = new_domain(emulator)
    responder.expire_on_poll = 1  # the CA validated, but the authorization ran out first
    stack = write_stack(tmp_path / "Pulumi.a.yaml", tmp_path / "state", fqdn, sid)
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(report) == {fqdn: "renewed"}, output
    assert responder.expired == [fqdn] and ordered(responder)[fqdn] == 2
    (warning,) = report["outcomes"][0]["warnings"]
    assert warning == (f"the authorization for {fqdn} expired; ordered again in the same run")


@pytest.fixture
def dead_nameserver(sandbox: SandboxState) -> Iterator[None]:
    """A second NS for the zone at an address where nothing listens: no challenge record
    ever propagates "everywhere", as with a secondary that stopped transferring."""
    key = sandbox.tsig_key()
    before = ask(sandbox.dns, f"{ZONE}.", "NS").values
    replace_rrset(sandbox.dns, ZONE, f"ns-dead.{ZONE}.", "A", 60, ("127.0.0.9",), key)
    replace_rrset(sandbox.dns, ZONE, f"{ZONE}.", "NS", 60, (*before, f"ns-dead.{ZONE}"), key)
    try:
        yield
    finally:
        # One RR at a time: BIND ignores replacing the apex NS set whole (RFC 2136 3.4.2.4).
        for name, rdtype, value in ((f"{ZONE}.", "NS", f"ns-dead.{ZONE}."),
                                    (f"ns-dead.{ZONE}.", "A", "127.0.0.9")):
            update = new_update(ZONE, key)
            update.delete(name, rdtype, value)
            send_update(sandbox.dns, update)
    assert ask(sandbox.dns, f"{ZONE}.", "NS").values == before


@pytest.mark.usefixtures("dead_nameserver")
def test_the_propagation_wait_stops_before_the_authorization_expires(
        responder: AriResponder, sandbox: SandboxState, tmp_path: Path) -> None:
    # The wait (60 s allowed) would outlive the 6 s authorizations: lsctl answers by their
    # expiry less the margin instead; Pebble, asking the primary, validates.
    session, provider = session_and_dns(sandbox, tmp_path)
    responder.authz_lifetime = 6
    phases: list[str] = []
    issue = Issue((fresh(),))
    issue_all(session, [issue], provider, propagation_timeout=60, propagation_interval=0.2,
              answer_margin=2, phase=phases.append)
    assert issue.error is None and issue.fullchain_pem, issue.error
    assert phases[:4] == ["order", "present", "propagate", "validate"]
    (warning,) = issue.warnings
    assert warning.startswith("answered before every nameserver served the challenge record: "
                              "the authorizations must be answered by ")
    assert "127.0.0.9" in warning  # which server lacked it
    assert responder.refused_answers == [] and responder.expired == []


def test_an_authorization_already_expired_is_not_answered(
        responder: AriResponder, sandbox: SandboxState, tmp_path: Path) -> None:
    # Its own `expires` has passed: nothing to ask the CA; ordered again once, then failed
    # saying why, not with a bare CA error.
    session, provider = session_and_dns(sandbox, tmp_path)
    responder.authz_lifetime = 0
    issue = Issue((fresh(),))
    issue_all(session, [issue], provider, propagation_interval=0.1, answer_margin=0)
    name = issue.names[0]
    assert issue.error is not None and issue.error.startswith(
        f"the authorization for {name} expired at ")
    assert issue.error.endswith("before it was answered (after ordering again)")
    assert ordered(responder)[name] == 2  # ordered again once, not again and again
    assert responder.refused_answers == []
