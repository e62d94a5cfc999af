"""DNS-01 challenge records and the one small protocol every DNS provider implements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
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


@dataclass(frozen=True)
class Failure:
    """Records a provider could not publish or remove, with the error of their batch."""

    records: tuple[ChallengeRecord, ...]
    reason: str
    # The server answered and applied nothing (a batch is atomic), so there is nothing to
    # clean up; False when the batch may have been applied unseen (a timeout).
    refused: bool = False

    @classmethod
    def of(cls, records: Iterable[ChallengeRecord], exc: Exception,
           refused: bool = False) -> Failure:
        return cls(tuple(records), f"{exc.__class__.__name__}: {exc}", refused)


class DnsProvider(Protocol):
    """Publish and withdraw challenge TXT values; the pipeline does everything else.

    Both send batches that fit the protocol's limits; a batch that fails is returned as a
    Failure naming its records, and the other batches still go out.
    """

    def present(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        """Add the values (keeping any others at the same names), batched per zone."""

    def cleanup(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        """Remove exactly these values; other values at the same names stay."""


def failed_records(failures: Iterable[Failure]) -> dict[ChallengeRecord, str]:
    """Each failed record with the reason its batch gave."""
    return {record: failure.reason for failure in failures for record in failure.records}


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

    def present(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        return self._each(records, lambda provider, part: provider.present(part))

    def cleanup(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        return self._each(records, lambda provider, part: provider.cleanup(part))

    def _each(self, records: Sequence[ChallengeRecord],
              step: Callable[[DnsProvider, list[ChallengeRecord]], list[Failure]],
              ) -> list[Failure]:
        """`step` for each provider's records; a zone without one, or a provider that raises,
        fails only its own records."""
        parts: dict[int, tuple[DnsProvider, list[ChallengeRecord]]] = {}
        failures = []
        for zone, in_zone in by_zone(records).items():
            provider = self.providers.get(zone, self.default)
            if provider is None:
                failures.append(Failure(tuple(in_zone), f"no DNS provider is configured for "
                                                        f"zone {zone}", refused=True))
                continue
            parts.setdefault(id(provider), (provider, []))[1].extend(in_zone)
        for provider, part in parts.values():
            try:
                failures += step(provider, part)
            except Exception as exc:
                failures.append(Failure.of(part, exc))
        return failures
