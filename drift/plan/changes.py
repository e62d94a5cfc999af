"""A plan as plain data, octoDNS style: every change is a create, update or delete with what
was seen before and what is wanted after; what another tool writes is a deferral, not a change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from linkshortening.common.names import normalize
from linkshortening.dns.rfc2136 import rdatas
from linkshortening.stack.model import DnsSettings, Writer

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("delete", "update", "create")  # the order they are applied in
TwilioResource = Literal["domain-config", "messaging-service"]
TwilioValue = str | bool | None


class PlanError(Exception):
    """The plan cannot be made: a source that could not be read, named (exit 2)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"could not plan: {reason}")


@dataclass(frozen=True)
class RecordSet:
    """One record set: values in DNS presentation format, sorted (TXT quoted, names without
    the trailing dot), so two sets compare equal exactly when DNS would say so."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]

    @classmethod
    def of(cls, name: str, rdtype: str, ttl: int, values: Iterable[str]) -> RecordSet:
        return cls(normalize(name), rdtype, ttl, canonical(rdtype, values))

    def __str__(self) -> str:
        return f"{self.name} {self.type} {self.ttl} {' '.join(self.values)}"


def canonical(rdtype: str, values: Iterable[str]) -> tuple[str, ...]:
    """Values as dnspython writes them (one spelling for BIND's, Route53's and the stack's)."""
    texts = (r.to_text() for r in rdatas(rdtype, tuple(values)))
    return tuple(sorted({normalize(t) if rdtype == "CNAME" else t for t in texts}))


@dataclass(frozen=True)
class Zone:
    """A zone and who writes it; `address` is where lsctl writes it (the primary, or the
    Route53 hosted zone id), empty when Pulumi does."""

    name: str
    provider: str
    writer: Writer
    address: str = ""
    settings: DnsSettings | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DnsChange:
    action: Action
    zone: str
    domain: str  # the declared domain the record set is for (for a zone's CAA: the zone)
    before: RecordSet | None  # None: does not exist (create)
    after: RecordSet | None  # None: must not exist (delete)
    # Route53's record set exactly as read: a DELETE must repeat it (an alias, too).
    native: object = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return (self.after or self.before or _missing()).name

    @property
    def type(self) -> str:
        return (self.after or self.before or _missing()).type


def _missing() -> RecordSet:
    raise ValueError("a change needs a before or an after")


@dataclass(frozen=True)
class TwilioChange:
    """A Twilio-side setting: the domain config's fields (only those that differ), or the
    domain a Messaging Service uses."""

    action: Action
    domain: str
    resource: TwilioResource
    sid: str  # the DomainSid (domain-config) or the Messaging Service SID
    before: Mapping[str, TwilioValue]
    after: Mapping[str, TwilioValue]


@dataclass(frozen=True)
class Deferred:
    """What this plan leaves to its writer: a zone, or the Twilio settings, that Pulumi owns."""

    scope: Literal["zone", "twilio"]
    name: str  # the zone, or "Twilio settings"
    writer: Writer
    domains: tuple[str, ...]

    @property
    def command(self) -> str:
        return "pulumi up"


@dataclass(frozen=True)
class ZonePlan:
    zone: Zone
    changes: tuple[DnsChange, ...]


Change = DnsChange | TwilioChange


@dataclass(frozen=True)
class Plan:
    stack: str
    zones: tuple[ZonePlan, ...]
    twilio: tuple[TwilioChange, ...]
    deferred: tuple[Deferred, ...]

    @property
    def changes(self) -> tuple[Change, ...]:
        return (*(c for z in self.zones for c in z.changes), *self.twilio)

    def count(self, action: Action) -> int:
        return sum(c.action == action for c in self.changes)


@dataclass(frozen=True)
class Outcome:
    """How one write of `lsctl apply` ended (one DNS update, one Route53 batch, one setting)."""

    target: str  # "zone lsctl.test", "lsctl.test domain config (DN...)"
    changes: int
    ok: bool
    detail: str
    kind: Literal["dns", "twilio"] = "dns"
