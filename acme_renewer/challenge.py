"""DNS-01 challenge records and the one small protocol every DNS provider implements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from linkshortening.common.names import normalize
from linkshortening.dns import query as dnsquery

PREFIX = "_acme-challenge."
CHALLENGE_TTL = 60


@dataclass(frozen=True)
class ChallengeRecord:
    """One TXT value to publish: for `identifier`, at `name` in `zone`."""

    identifier: str  # the certificate name, e.g. "*.go.example.com"
    name: str  # where the TXT lives: _acme-challenge.<base>, or where its CNAME points
    zone: str
    value: str


class DnsProvider(Protocol):
    """Publish and withdraw challenge TXT values; the pipeline does everything else."""

    def present(self, records: Sequence[ChallengeRecord]) -> None:
        """Add the values (keeping any others at the same names), batched per zone."""

    def cleanup(self, records: Sequence[ChallengeRecord]) -> None:
        """Remove exactly these values; other values at the same names stay."""


def challenge_name(identifier: str) -> str:
    """`_acme-challenge.` + the identifier without its wildcard label (RFC 8555 section 8.4)."""
    return PREFIX + normalize(identifier).removeprefix("*.")


def locate(identifier: str, value: str, zone_hint: str | None = None) -> ChallengeRecord:
    """Where the TXT for `identifier` must go, following a CNAME at `_acme-challenge.<name>`.

    Delegating the challenge name by CNAME to another zone is a common way to keep DNS write
    access narrow; the record is then created where the CNAME points.
    """
    name = challenge_name(identifier)
    res = dnsquery.resolver()
    seen = {name}
    for _ in range(8):  # CNAME chains are short; a loop must not hang the run
        targets = dnsquery.lookup(name, "CNAME", res)
        if not targets:
            break
        name = normalize(targets[0])
        if name in seen:
            raise dnsquery.DnsLookupError(f"CNAME loop at {challenge_name(identifier)}")
        seen.add(name)
    followed = name != challenge_name(identifier)
    zone = zone_hint if zone_hint and not followed else dnsquery.zone_of(name, res)
    return ChallengeRecord(identifier, name, normalize(zone), value)


def by_zone(records: Iterable[ChallengeRecord]) -> dict[str, list[ChallengeRecord]]:
    grouped: dict[str, list[ChallengeRecord]] = defaultdict(list)
    for record in records:
        grouped[record.zone].append(record)
    return dict(grouped)


def by_name(records: Iterable[ChallengeRecord]) -> dict[str, list[str]]:
    """name -> the values we publish there, in order, without duplicates."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.value not in grouped[record.name]:
            grouped[record.name].append(record.value)
    return dict(grouped)


@dataclass(frozen=True)
class ZoneRouter:
    """A DnsProvider that hands each zone's records to that zone's provider.

    Domains of one stack may live on Route53 and on RFC 2136 servers; a CNAME-delegated
    challenge name may land in a zone the stack does not declare, which `default` then serves.
    """

    providers: dict[str, DnsProvider]
    default: DnsProvider | None = None

    def _split(self, records: Sequence[ChallengeRecord]) -> list[tuple[DnsProvider,
                                                                       list[ChallengeRecord]]]:
        parts: dict[int, tuple[DnsProvider, list[ChallengeRecord]]] = {}
        for record in records:
            provider = self.providers.get(record.zone, self.default)
            if provider is None:
                raise ValueError(f"no DNS provider is configured for zone {record.zone} "
                                 f"(challenge for {record.identifier})")
            parts.setdefault(id(provider), (provider, []))[1].append(record)
        return list(parts.values())

    def present(self, records: Sequence[ChallengeRecord]) -> None:
        for provider, part in self._split(records):
            provider.present(part)

    def cleanup(self, records: Sequence[ChallengeRecord]) -> None:
        errors = []
        for provider, part in self._split(records):
            try:  # one provider failing must not leave the others' records behind
                provider.cleanup(part)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
