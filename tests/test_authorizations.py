"""Recognising an expired authorization (RFC 8555 7.1.6) in every shape a CA reports it."""

from __future__ import annotations

import datetime as dt

import requests
from acme import errors, messages

from acme_renewer.authorizations import (
    answer_deadline,
    lost_before_answer,
    lost_in_error,
    lost_in_poll,
)

NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
NAME = "go.example.com"


def authz(status: str, expires: dt.datetime | None, error: bool = False) -> \
        messages.AuthorizationResource:
    challenge: dict[str, object] = {"type": "dns-01", "url": "https://ca/c/1", "token": "t" * 43,
                                    "status": "invalid" if error else "pending"}
    if error:
        challenge["error"] = {"type": "urn:ietf:params:acme:error:dns", "detail": "no TXT"}
    body: dict[str, object] = {"identifier": {"type": "dns", "value": NAME}, "status": status,
                               "challenges": [challenge]}
    if expires is not None:
        body["expires"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    # from_json: the status "expired" must parse (the acme library does not list it).
    return messages.AuthorizationResource(body=messages.Authorization.from_json(body),
                                          uri="https://ca/a/1")


def test_expired_in_each_shape() -> None:
    assert lost_in_poll(authz("expired", NOW), NOW) == f"the authorization for {NAME} expired"
    assert lost_in_poll(authz("invalid", NOW - dt.timedelta(seconds=1)), NOW) == (
        f"the authorization for {NAME} expired at 11:59:59Z")
    # A failed challenge is a failure with the CA's reason, not an expiry.
    assert lost_in_poll(authz("invalid", NOW - dt.timedelta(seconds=1), error=True), NOW) is None
    assert lost_in_poll(authz("pending", NOW + dt.timedelta(hours=1)), NOW) is None
    malformed = messages.Error.with_code("malformed", detail="Expired authorization")
    assert lost_in_error(malformed, NAME) == (
        f"the CA no longer accepts the authorization for {NAME} (Expired authorization)")
    gone = requests.Response()
    gone.status_code = 404
    assert lost_in_error(errors.ClientError(gone), NAME) == (
        f"the CA no longer has the authorization for {NAME} (404)")
    assert lost_in_error(messages.Error.with_code("rateLimited"), NAME) is None
    assert lost_before_answer(authz("pending", NOW), NOW) is not None
    assert lost_before_answer(authz("pending", NOW + dt.timedelta(seconds=1)), NOW) is None


def test_answer_by_the_first_pending_expiry_less_the_margin() -> None:
    soon, later = NOW + dt.timedelta(minutes=10), NOW + dt.timedelta(hours=1)
    order = messages.OrderResource(body=messages.Order(), authorizations=[
        authz("pending", later), authz("pending", soon), authz("valid", NOW)])
    assert answer_deadline([order, None], margin=60) == soon - dt.timedelta(seconds=60)
    assert answer_deadline([None]) is None
