"""Authorization lifetime (issue 17): Let's Encrypt's tlsserver and shortlived orders have
pending authorizations that live one hour. Answer before the first one expires (the
propagation wait is cut short for it), and recognise one that expired mid-run, so its
domain can be ordered again once instead of failing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from acme import errors, messages

# Answered at least this long before a pending authorization expires: time for the CA to
# validate (its own DNS queries from several places) while the authorization still stands.
ANSWER_MARGIN = 60.0
# RFC 8555 section 7.1.6 lets an authorization be "expired"; the acme library does not list
# that status, and without it such a body does not even parse. Its own registry takes it.
STATUS_EXPIRED = messages.Status("expired")


class AuthorizationLost(Exception):
    """An authorization expired or vanished before it became valid: order that name again."""


def answer_deadline(orders: Iterable[messages.OrderResource | None],
                    margin: float = ANSWER_MARGIN) -> dt.datetime | None:
    """When the challenges must be answered: the earliest pending authorization's `expires`
    less `margin`; None when no pending authorization says when it expires."""
    expiries = [authzr.body.expires for order in orders if order is not None
                for authzr in order.authorizations
                if authzr.body.status == messages.STATUS_PENDING and authzr.body.expires]
    return min(expiries) - dt.timedelta(seconds=margin) if expiries else None


def lost_before_answer(authzr: messages.AuthorizationResource, now: dt.datetime) -> str | None:
    """Expired by its own `expires` before we could answer it (nothing to ask the CA)."""
    expires = authzr.body.expires
    if expires is not None and expires <= now:
        return (f"the authorization for {authzr.body.identifier.value} expired at "
                f"{expires:%H:%M:%S}Z before it was answered")
    return None


def lost_in_poll(authzr: messages.AuthorizationResource, now: dt.datetime) -> str | None:
    """The CA says the authorization expired: status `expired`, or `invalid` with no
    challenge error once its `expires` has passed (a failed challenge says why)."""
    body = authzr.body
    name = body.identifier.value
    if body.status == STATUS_EXPIRED:
        return f"the authorization for {name} expired"
    if (body.status == messages.STATUS_INVALID and body.expires is not None
            and body.expires <= now and not any(c.error for c in body.challenges)):
        return f"the authorization for {name} expired at {body.expires:%H:%M:%S}Z"
    return None


def lost_in_error(exc: Exception, name: str) -> str | None:
    """A 404 or `malformed` problem on the authorization or its challenge: the CA no longer
    has it (Boulder answers an expired one with 404 malformed "Expired authorization")."""
    if isinstance(exc, messages.Error) and exc.code == "malformed":
        return f"the CA no longer accepts the authorization for {name} ({exc.detail})"
    response = exc.args[0] if isinstance(exc, errors.ClientError) and exc.args else None
    if getattr(response, "status_code", None) == 404:
        return f"the CA no longer has the authorization for {name} (404)"
    return None
