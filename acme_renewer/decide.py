"""Whether a domain's certificate is due: pure, from what is stored, what is live and the time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from acme_renewer.state import StoredCertificate
from linkshortening.certs.preflight import covers

DEFAULT_RENEW_FRACTION = 1 / 3  # renew with a third of the lifetime left (Let's Encrypt's advice)


@dataclass(frozen=True)
class Decision:
    due: bool
    reason: str
    warning: str | None = None  # e.g. Twilio serves something other than what we stored
    adopted: bool = False  # judged by a certificate lsctl did not upload


@dataclass(frozen=True)
class LiveCertificate:
    """A certificate Twilio serves that lsctl did not upload, as far as it could be read."""

    not_after: dt.datetime  # Twilio's date_expires: the truth about what is live
    not_before: dt.datetime | None  # from the certificate served on port 443; None: unread
    names: tuple[str, ...] | None  # its DNS names; None: unread
    uploaded: dt.datetime | None = None  # Twilio's date_updated, the start when unread
    unread: str | None = None  # why the served certificate could not be used


def decide(names: tuple[str, ...], key_type: str, stored: StoredCertificate | None,
           now: dt.datetime, twilio_expires: dt.datetime | None = None,
           renew_fraction: float = DEFAULT_RENEW_FRACTION, ari_time: dt.datetime | None = None,
           force: bool = False, profile: str | None = None) -> Decision:
    """Renew when forced, when nothing is stored, when names, key type or profile changed,
    when ARI's chosen time has come, or when less than `renew_fraction` of the certificate's
    own lifetime (notAfter - notBefore) is left."""
    warning = None
    if stored is not None and twilio_expires is not None:
        stored_after = dt.datetime.fromisoformat(stored.not_after)
        if abs((stored_after - twilio_expires).total_seconds()) > 1:
            # Twilio's certificate is what is live: judge by it, and say so.
            warning = (f"Twilio serves a certificate expiring {twilio_expires:%Y-%m-%d %H:%M}Z, "
                       f"not the stored one ({stored_after:%Y-%m-%d %H:%M}Z)")
    if force:
        return Decision(True, "forced (--force)", warning)
    if stored is None:
        return Decision(True, "no certificate yet", warning)
    if sorted(stored.names) != sorted(names):
        return Decision(True, f"names changed ({', '.join(stored.names)} -> {', '.join(names)})",
                        warning)
    if stored.key_type != key_type:
        return Decision(True, f"key type changed ({stored.key_type} -> {key_type})", warning)
    if stored.profile is not None and stored.profile != (profile or ""):
        # Kept across renewals: a changed profile is a new kind of certificate (lifetime,
        # Common Name), like a changed key type. Unknown (stored by an older lsctl): kept.
        return Decision(True, f"profile changed ({stored.profile or 'none'} -> "
                              f"{profile or 'none'})", warning)
    not_before = dt.datetime.fromisoformat(stored.not_before)
    not_after = twilio_expires or dt.datetime.fromisoformat(stored.not_after)
    if not_after <= now:
        return Decision(True, "expired", warning)
    if ari_time is not None:
        if now >= ari_time:
            return Decision(True, f"inside the CA's renewal window (ARI, {ari_time:%Y-%m-%d})",
                            warning)
        return Decision(False, f"ARI: renew from {ari_time:%Y-%m-%d %H:%M}Z", warning)
    return _by_lifetime(not_before, not_after, now, renew_fraction, warning)


def decide_adopted(names: tuple[str, ...], live: LiveCertificate, now: dt.datetime,
                   renew_fraction: float = DEFAULT_RENEW_FRACTION,
                   force: bool = False) -> Decision:
    """A live certificate lsctl did not upload is adopted when it is valid and covers every
    declared name: then the lifetime rule judges it on its own lifetime, like lsctl's own.
    One that is expired or covers too little is not adopted: renew, saying why."""
    if live.not_after <= now:
        return Decision(True, f"Twilio serves a certificate that expired "
                              f"{live.not_after:%Y-%m-%d %H:%M}Z: not adopted")
    missing = [n for n in names if live.names is not None
               and not any(covers(have, n) for have in live.names)]
    if missing:
        return Decision(True, f"the certificate Twilio serves does not cover "
                              f"{', '.join(missing)}: not adopted")
    start = live.not_before or live.uploaded
    if start is None or start >= live.not_after:
        return Decision(True, "Twilio serves a certificate whose lifetime is unknown "
                              f"({live.unread or 'no start date'}): not adopted")
    warning = None
    if live.not_before is None:
        warning = (f"the served certificate could not be read ({live.unread}); its lifetime "
                   f"is counted from Twilio's upload date {start:%Y-%m-%d}")
    if force:
        return Decision(True, "forced (--force); replaces the adopted certificate", warning,
                        adopted=True)
    judged = _by_lifetime(start, live.not_after, now, renew_fraction, warning)
    return Decision(judged.due, f"adopted (uploaded outside lsctl): {judged.reason}",
                    warning, adopted=True)


def _by_lifetime(not_before: dt.datetime, not_after: dt.datetime, now: dt.datetime,
                 renew_fraction: float, warning: str | None) -> Decision:
    """The rule without ARI: renew with less than `renew_fraction` of the lifetime left."""
    left = (not_after - now) / (not_after - not_before)
    if left < renew_fraction:
        return Decision(True, f"{left:.0%} of the lifetime left (renew below "
                              f"{renew_fraction:.0%})", warning)
    renew_at = renewal_time(not_before, not_after, renew_fraction)
    return Decision(False, f"not due until {renew_at:%Y-%m-%d}", warning)


def renewal_time(not_before: dt.datetime, not_after: dt.datetime,
                 renew_fraction: float = DEFAULT_RENEW_FRACTION) -> dt.datetime:
    """When the lifetime rule makes a certificate due (drift reports it as the next renewal)."""
    return not_after - (not_after - not_before) * renew_fraction
