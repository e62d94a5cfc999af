"""What the emulated account holds: domains, their certificates and config, and associations.

Validation is lazy: an accepted upload records when it becomes current (or fails), and every
read settles what is due, so no timer thread is needed and time is the only input.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

MANAGED_VALIDITY = timedelta(days=90)  # what Let's Encrypt issues Twilio's managed certificates


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Certificate:
    sid: str
    not_after: datetime
    managed: bool = False
    tls_cert: str = field(default="", repr=False)  # what the edge serves (chain + key)


@dataclass
class Validation:
    """An upload in validation: current at `due` (monotonic seconds), or failed then."""

    certificate: Certificate
    due: float
    fails: bool
    failed: bool = False  # settled, and failed


@dataclass
class DomainConfig:
    sid: str = field(default_factory=lambda: new_sid("ZK"))
    fallback_url: str | None = None
    callback_url: str | None = None
    continue_on_failure: bool = True
    disable_https: bool = False
    created: datetime = field(default_factory=utcnow)
    updated: datetime = field(default_factory=utcnow)


@dataclass
class Domain:
    sid: str
    name: str
    created: datetime = field(default_factory=utcnow)
    updated: datetime = field(default_factory=utcnow)
    current: Certificate | None = None
    validation: Validation | None = None
    managed_due: float | None = None  # a RequestManagedCert being fulfilled until then
    config: DomainConfig = field(default_factory=DomainConfig)

    def settle(self, clock: float) -> None:
        """Make due validations current (or failed) and due managed requests fulfilled."""
        pending = self.validation
        if pending is not None and not pending.failed and clock >= pending.due:
            if pending.fails:
                pending.failed = True
            else:
                self.current, self.validation = pending.certificate, None
            self.updated = utcnow()
        if self.managed_due is not None and clock >= self.managed_due:
            self.current = Certificate(new_sid("CW"), utcnow() + MANAGED_VALIDITY, managed=True)
            self.managed_due, self.updated = None, utcnow()

    @property
    def requesting(self) -> bool:
        return self.managed_due is not None


class Store:
    """All state, behind one lock: requests run on many server threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.domains: dict[str, Domain] = {}
        self.associations: dict[str, str] = {}  # Messaging Service SID -> Domain SID
        self.clock = clock
        self._lock = threading.Lock()

    @contextmanager
    def locked(self) -> Iterator[Store]:
        with self._lock:
            yield self

    def domain(self, sid: str) -> Domain | None:
        """The domain, settled to now (call under `locked`)."""
        domain = self.domains.get(sid)
        if domain is not None:
            domain.settle(self.clock())
        return domain

    def seed(self, domains: dict[str, str]) -> None:
        """Register domains (DomainSid -> name) as verified in the Organization."""
        with self._lock:
            for sid, name in domains.items():
                known = self.domains.get(sid)
                if known is None or known.name != name:
                    self.domains[sid] = Domain(sid, name.rstrip(".").lower())

    def seed_certificates(self, expiries: dict[str, datetime]) -> None:
        """Give seeded domains a current certificate expiring then, uploaded outside lsctl
        and served by nobody (the edge has no PEM for it): benchmarks set urgency with it."""
        with self._lock:
            for sid, not_after in expiries.items():
                domain = self.domains.get(sid)
                if domain is None:
                    raise ValueError(f"certificates: {sid} is not a seeded domain")
                domain.current = Certificate(new_sid("CW"), not_after)
