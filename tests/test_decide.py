"""The renewal decision."""

from __future__ import annotations

import datetime as dt

from acme_renewer.decide import decide
from acme_renewer.state import StoredCertificate

START = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(days=90)
STORED = StoredCertificate(("a.test",), "ecdsa-p256", "pem", START.isoformat(), END.isoformat())


def test_fresh_certificate_is_not_due() -> None:
    decision = decide(("a.test",), "ecdsa-p256", STORED, START + dt.timedelta(days=10))
    assert not decision.due and "not due until 2026-10-31" in decision.reason


def test_a_third_of_the_lifetime_left_is_due() -> None:
    assert decide(("a.test",), "ecdsa-p256", STORED, START + dt.timedelta(days=61)).due
    assert not decide(("a.test",), "ecdsa-p256", STORED, START + dt.timedelta(days=59)).due


def test_reasons_to_renew() -> None:
    now = START + dt.timedelta(days=1)
    assert decide(("a.test",), "ecdsa-p256", None, now).reason == "no certificate yet"
    assert "names changed" in decide(("a.test", "*.a.test"), "ecdsa-p256", STORED, now).reason
    assert "key type changed" in decide(("a.test",), "rsa-2048", STORED, now).reason
    assert decide(("a.test",), "ecdsa-p256", STORED, now, force=True).reason.startswith("forced")
    assert decide(("a.test",), "ecdsa-p256", STORED, END + dt.timedelta(days=1)).reason == "expired"


def test_ari_time_overrides_the_fraction() -> None:
    now = START + dt.timedelta(days=10)
    assert decide(("a.test",), "ecdsa-p256", STORED, now, ari_time=now - dt.timedelta(hours=1)).due
    later = decide(("a.test",), "ecdsa-p256", STORED, START + dt.timedelta(days=70),
                   ari_time=START + dt.timedelta(days=75))
    assert not later.due and "ARI" in later.reason


def test_twilio_is_the_truth_about_what_is_live() -> None:
    # Twilio still serves an older certificate that expires in 5 days: due, with a warning.
    live = START + dt.timedelta(days=40)
    decision = decide(("a.test",), "ecdsa-p256", STORED, START + dt.timedelta(days=35),
                      twilio_expires=live)
    assert decision.due and decision.warning and "Twilio serves" in decision.warning


def test_the_profile_is_kept_across_renewals() -> None:
    # Issue 17: the profile is stored with the certificate; changing it renews, like keyType.
    now = START + dt.timedelta(days=1)
    tlsserver = StoredCertificate(("a.test",), "ecdsa-p256", "pem", START.isoformat(),
                                  END.isoformat(), "tlsserver")
    assert not decide(("a.test",), "ecdsa-p256", tlsserver, now, profile="tlsserver").due
    changed = decide(("a.test",), "ecdsa-p256", tlsserver, now, profile="shortlived")
    assert changed.due and changed.reason == "profile changed (tlsserver -> shortlived)"
    assert decide(("a.test",), "ecdsa-p256", tlsserver, now).reason == \
        "profile changed (tlsserver -> none)"
    # Stored by an lsctl that did not keep the profile: unknown, so no mass renewal.
    assert not decide(("a.test",), "ecdsa-p256", STORED, now, profile="tlsserver").due


def test_timing_follows_each_certificates_own_lifetime() -> None:
    # No 90-day assumption: a 160-hour certificate is due with 53 hours left, a 45-day one
    # with 15 days left, a 64-day one with 21.3 days left.
    for lifetime in (dt.timedelta(hours=160), dt.timedelta(days=45), dt.timedelta(days=64)):
        stored = StoredCertificate(("a.test",), "ecdsa-p256", "pem", START.isoformat(),
                                   (START + lifetime).isoformat(), "")
        due_at = START + lifetime * 2 / 3
        minute = dt.timedelta(minutes=1)
        assert not decide(("a.test",), "ecdsa-p256", stored, due_at - minute).due
        assert decide(("a.test",), "ecdsa-p256", stored, due_at + minute).due
