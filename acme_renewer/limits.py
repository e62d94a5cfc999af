"""The CA's rate limits as data: Let's Encrypt's production and staging values, keyed by
directory URL, overridable per stack (`lsctl:acme.rateLimits`).

Sources: letsencrypt.org/docs/rate-limits and /docs/staging-environment (2026). A CA lsctl
knows no limits for (Pebble, a private CA) has none unless the stack sets them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from linkshortening.stack.model import ACME_DIRECTORIES, RATE_LIMIT_KEYS

# The windows Let's Encrypt counts over (the same in production and staging). Its buckets
# refill gradually; counting whole windows is stricter, so a plan within them never trips one.
ORDERS_WINDOW = dt.timedelta(hours=3)
CERTIFICATES_WINDOW = dt.timedelta(days=7)
FAILURES_WINDOW = dt.timedelta(hours=1)
PAUSE_REFILL = dt.timedelta(days=1)  # the consecutive-failure allowance grows back 1 a day


@dataclass(frozen=True)
class RateLimits:
    """None: no such limit at this CA."""

    orders_per_account: int | None = None  # new orders per account per ORDERS_WINDOW
    certificates_per_registered_domain: int | None = None  # per CERTIFICATES_WINDOW
    certificates_per_exact_set: int | None = None  # per CERTIFICATES_WINDOW, same names
    failed_authorizations_per_name: int | None = None  # per account, per FAILURES_WINDOW
    consecutive_failures_pause: int | None = None  # the CA pauses the name for the account

    @property
    def unlimited(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))


LETS_ENCRYPT = RateLimits(orders_per_account=300, certificates_per_registered_domain=50,
                          certificates_per_exact_set=5, failed_authorizations_per_name=5,
                          consecutive_failures_pause=1152)
# Staging's page says 30,000 certificates per registered domain "per second": a typo for the
# week every other staging limit uses; a week is the safe reading.
LETS_ENCRYPT_STAGING = RateLimits(orders_per_account=1500,
                                  certificates_per_registered_domain=30000,
                                  certificates_per_exact_set=30000,
                                  failed_authorizations_per_name=200,
                                  consecutive_failures_pause=3600)
KNOWN_LIMITS = {ACME_DIRECTORIES["letsencrypt"]: LETS_ENCRYPT,
                ACME_DIRECTORIES["letsencrypt-staging"]: LETS_ENCRYPT_STAGING}

# The stack file's keys (linkshortening.stack.model.RATE_LIMIT_KEYS) -> RateLimits fields.
STACK_KEYS = dict(zip(RATE_LIMIT_KEYS, (f.name for f in dataclasses.fields(RateLimits)),
                      strict=True))


def limits_for(directory_url: str, overrides: Iterable[tuple[str, int]] = ()) -> RateLimits:
    """The CA's known limits for this directory, each overridden where the stack says."""
    base = KNOWN_LIMITS.get(directory_url.rstrip("/"), RateLimits())
    return dataclasses.replace(base, **{STACK_KEYS[key]: value for key, value in overrides})
