"""Whether a domain's certificate is due: pure, from what is stored, what is live and the time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from acme_renewer.state import StoredCertificate

DEFAULT_RENEW_FRACTION = 1 / 3  # renew with a third of the lifetime left (Let's Encrypt's advice)


@dataclass(frozen=True)
class Decision:
    due: bool
    reason: str
    warning: str | None = None  # e.g. Twilio serves something other than what we stored


def decide(names: tuple[str, ...], key_type: str, stored: StoredCertificate | None,
           now: dt.datetime, twilio_expires: dt.datetime | None = None,
           renew_fraction: float = DEFAULT_RENEW_FRACTION, ari_time: dt.datetime | None = None,
           force: bool = False) -> Decision:
    """Renew when forced, when nothing is stored, when names or key type changed, when ARI's
    chosen time has come, or when less than `renew_fraction` of the lifetime is left."""
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
    not_before = dt.datetime.fromisoformat(stored.not_before)
    not_after = twilio_expires or dt.datetime.fromisoformat(stored.not_after)
    if not_after <= now:
        return Decision(True, "expired", warning)
    if ari_time is not None:
        if now >= ari_time:
            return Decision(True, f"inside the CA's renewal window (ARI, {ari_time:%Y-%m-%d})",
                            warning)
        return Decision(False, f"ARI: renew from {ari_time:%Y-%m-%d %H:%M}Z", warning)
    left = (not_after - now) / (not_after - not_before)
    if left < renew_fraction:
        return Decision(True, f"{left:.0%} of the lifetime left (renew below "
                              f"{renew_fraction:.0%})", warning)
    renew_at = not_after - (not_after - not_before) * renew_fraction
    return Decision(False, f"not due until {renew_at:%Y-%m-%d}", warning)
