"""Adopting what Twilio already serves: a certificate uploaded by hand is judged by its own
lifetime, never replaced early; `certificate: external` is never ordered."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from acme_renewer.decide import LiveCertificate, decide_adopted
from linkshortening.cli.main import main
from linkshortening.twilio.api import LinkShorteningApi
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain
from tests.conftest import new_domain
from tests.test_renew import renew, statuses, write_stack

NOW = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def live(before: int, after: int, names: tuple[str, ...] | None = ("a.test",)) -> LiveCertificate:
    return LiveCertificate(NOW + after * DAY, NOW - before * DAY, names)


def test_an_adopted_certificate_is_judged_by_its_own_lifetime() -> None:
    # 15 of 35 days left (43%): not due. Judged as a 90-day certificate it would be (17%).
    kept = decide_adopted(("a.test",), live(20, 15), NOW)
    assert kept.adopted and not kept.due and "adopted" in kept.reason, kept
    # 15 of 55 days left (27%): due, and still said to be the adopted one.
    due = decide_adopted(("a.test",), live(40, 15), NOW)
    assert due.adopted and due.due and "27% of the lifetime left" in due.reason, due
    forced = decide_adopted(("a.test",), live(20, 15), NOW, force=True)
    assert forced.due and "forced" in forced.reason


def test_expired_or_not_covering_is_not_adopted() -> None:
    expired = decide_adopted(("a.test",), live(90, -1), NOW)
    assert expired.due and not expired.adopted and "expired" in expired.reason
    short = decide_adopted(("a.test", "*.a.test"), live(1, 60), NOW)
    assert short.due and not short.adopted and "does not cover *.a.test" in short.reason
    wildcard = decide_adopted(("x.a.test",), live(1, 60, ("*.a.test",)), NOW)
    assert wildcard.adopted and not wildcard.due


def test_unread_served_certificate_counts_from_twilios_upload_date() -> None:
    unread = LiveCertificate(NOW + 15 * DAY, None, None, NOW - 20 * DAY, "connection refused")
    decision = decide_adopted(("a.test",), unread, NOW)
    assert decision.adopted and not decision.due
    assert decision.warning and "connection refused" in decision.warning


def upload_by_hand(sid: str, names: tuple[str, ...], not_before: dt.datetime,
                   not_after: dt.datetime) -> None:
    api = LinkShorteningApi.from_env()
    api.upload_certificate(sid, make_chain(names, not_before, not_after).tls_cert)
    assert all(r.ok for r in api.wait_for_validation([sid], timeout=10, poll_interval=0.1))


@pytest.fixture
def hand_made(tmp_path: Path, emulator: EmulatorControl, twilio_env: None,
              test_ca_trusted: None) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    fqdn = f"hand{tag}.lsctl.test"
    sid, _ = new_domain(emulator, fqdn)
    return {"fqdn": fqdn, "sid": sid, "dir": tmp_path}


def test_a_hand_uploaded_certificate_is_adopted_then_renewed_when_due(
        hand_made: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    fqdn, sid = hand_made["fqdn"], hand_made["sid"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # 15 of 35 days left: a 90-day rule would call it due; its own lifetime says not yet.
    upload_by_hand(sid, (fqdn,), now - 20 * DAY, now + 15 * DAY)
    stack = write_stack(hand_made["dir"] / "Pulumi.adopt.yaml", hand_made["dir"] / "state",
                        [{"fqdn": fqdn, "sid": sid}])
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(report) == {fqdn: "adopted"}, output
    (outcome,) = report["outcomes"]
    assert outcome["expires"] == (now + 15 * DAY).isoformat(), outcome
    assert "not due until" in outcome["detail"], outcome
    api = LinkShorteningApi.from_env()
    assert api.fetch_certificate(sid).date_expires == now + 15 * DAY  # not replaced
    # A short-lived one, inside its renewal window (1 of 11 days left): replaced by lsctl's.
    upload_by_hand(sid, (fqdn,), now - 10 * DAY, now + DAY)
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(report) == {fqdn: "renewed"}, output
    assert "adopted" in report["outcomes"][0]["detail"], output
    assert api.fetch_certificate(sid).date_expires != now + DAY
    # Now lsctl's own: the next run finds it not due.
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(report) == {fqdn: "not_due"}, output


def test_a_hand_uploaded_certificate_missing_a_declared_name_is_replaced(
        hand_made: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    fqdn, sid = hand_made["fqdn"], hand_made["sid"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    upload_by_hand(sid, (fqdn,), now - DAY, now + 60 * DAY)
    stack = write_stack(hand_made["dir"] / "Pulumi.adopt.yaml", hand_made["dir"] / "state",
                        [{"fqdn": fqdn, "sid": sid, "alt": [f"*.{fqdn}"]}])
    code, report, output = renew(stack, "--dry-run", capsys=capsys)
    assert code == 0 and statuses(report) == {fqdn: "would_renew"}, output
    assert f"does not cover *.{fqdn}: not adopted" in report["outcomes"][0]["detail"]


# ---- certificate: external and lsctl cert upload ----

def external_stack(directory: Path, domains: list[tuple[str, str, str]]) -> Path:
    """A stack whose domains are (fqdn, sid, certificate mode)."""
    path = write_stack(directory / "Pulumi.ext.yaml", directory / "state", [])
    path.write_text(path.read_text() + "".join(
        f"    - {{fqdn: {fqdn}, zone: lsctl.test, domainSid: {sid}, certificate: {mode}}}\n"
        for fqdn, sid, mode in domains))
    return path


def cert_upload(capsys: pytest.CaptureFixture[str], stack: Path, fqdn: str, cert: Path,
                key: Path, *extra: str) -> tuple[int, Any, str]:
    code = main(["cert", "upload", "--stack", str(stack), "--domain", fqdn, "--cert", str(cert),
                 "--key", str(key), "--validation-poll", "0.1", "--json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip().startswith("{") else None, out + err


def test_cert_upload_validates_and_renew_only_reports_external(
        hand_made: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    fqdn, sid, directory = hand_made["fqdn"], hand_made["sid"], hand_made["dir"]
    stack = external_stack(directory, [(fqdn, sid, "external")])
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + 20 * DAY
    cert, key = make_chain((fqdn,), not_after=expires, key_type="rsa2048").write(directory)
    code, report, output = cert_upload(capsys, stack, fqdn, cert, key)
    assert code == 0 and report["status"] == "validated", output
    assert report["expires"] == expires.isoformat()
    # 30131 (fewer than 30 days) is a warning of the preflight, not a refusal.
    assert [p["code"] for p in report["problems"]] == [30131], report
    assert LinkShorteningApi.from_env().fetch_certificate(sid).date_expires == expires
    code, renewed, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(renewed) == {fqdn: "external"}, output
    (outcome,) = renewed["outcomes"]
    assert outcome["expires"] == expires.isoformat() and "20 days left" in outcome["detail"]
    assert any("lsctl cert upload" in w for w in outcome["warnings"]), outcome
    assert LinkShorteningApi.from_env().fetch_certificate(sid).date_expires == expires


def test_cert_upload_refuses_an_acme_domain_unless_forced(
        hand_made: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    fqdn, sid, directory = hand_made["fqdn"], hand_made["sid"], hand_made["dir"]
    stack = external_stack(directory, [(fqdn, sid, "acme")])
    cert, key = make_chain((fqdn,)).write(directory)
    code, _, output = cert_upload(capsys, stack, fqdn, cert, key)
    assert code == 2 and output.count("\n") == 1, output
    assert "lsctl:domains[0].certificate" in output and "--force" in output
    code, report, output = cert_upload(capsys, stack, fqdn, cert, key, "--force")
    assert code == 0 and report["status"] == "validated", output


def test_cert_upload_refused_by_preflight_or_twilio(
        hand_made: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    fqdn, sid, directory = hand_made["fqdn"], hand_made["sid"], hand_made["dir"]
    stack = external_stack(directory, [(fqdn, sid, "external")])
    cert, key = make_chain(("other.lsctl.test",)).write(directory, "wrong")
    code, report, output = cert_upload(capsys, stack, fqdn, cert, key)
    assert code == 1 and report["status"] == "refused", output
    assert "nothing was uploaded" in report["detail"]
    # A chain to a root Twilio does not trust: the preflight cannot know, Twilio refuses.
    cert, key = make_chain((fqdn,), ca=7).write(directory, "untrusted")
    code, report, output = cert_upload(capsys, stack, fqdn, cert, key)
    assert code == 1 and report["status"] in ("refused", "failed"), output
    assert "30132" in report["detail"], report
    code, _, output = cert_upload(capsys, stack, "nope.lsctl.test", cert, key)
    assert code == 2 and "not declared" in output, output
