"""The shard plan: the due domains of a dry run, grouped by zone, packed into shards that
each finish well inside one Lambda invocation.

Cost model (documented in the README, both numbers configurable): a shard's run is the
fixed waits every run has whatever its size (one DNS propagation wait, one Twilio
validation wait of up to five minutes) plus a per-domain cost (order, finalize, upload, the
rate-limited calls around them). A shard holds as many domains as fit in `shard_seconds`
(by default 600 of a Lambda's 900) after the fixed waits; one zone is never split, so its
DNS batch stays one batch (a zone larger than a shard gets a shard of its own).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from linkshortening.stack.errors import ConfigError

PLAN_VERSION = 1
FIXED_SECONDS = 360.0  # propagation (~60 s) + Twilio's validation (up to 300 s)
PER_DOMAIN_SECONDS = 1.5  # ACME order + finalize + upload, at the CA's and Twilio's rates
SHARD_SECONDS = 600.0  # of a Lambda's 900: the rest is margin for retries and the report


@dataclass(frozen=True)
class Cost:
    per_domain_seconds: float = PER_DOMAIN_SECONDS
    shard_seconds: float = SHARD_SECONDS
    fixed_seconds: float = FIXED_SECONDS

    @property
    def capacity(self) -> int:
        """Domains per shard: at least one, however tight the numbers."""
        return max(1, int((self.shard_seconds - self.fixed_seconds) / self.per_domain_seconds))

    def estimate(self, domains: int) -> float:
        return self.fixed_seconds + self.per_domain_seconds * domains


@dataclass(frozen=True)
class Shard:
    index: int
    zones: tuple[str, ...]
    domains: tuple[str, ...]
    estimated_seconds: float


@dataclass(frozen=True)
class Plan:
    stack: str
    created: str
    cost: Cost
    shards: tuple[Shard, ...]
    deferred: int = 0  # due but left to a later run by the CA's rate budget
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"version": PLAN_VERSION, **asdict(self)}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def make_plan(stack: str, due: Sequence[tuple[str, str]], cost: Cost, deferred: int = 0,
              now: dt.datetime | None = None) -> Plan:
    """`due` is (fqdn, zone) of every domain to renew. Zones are packed largest first into
    the first shard with room (first-fit decreasing): few shards, deterministic."""
    by_zone: dict[str, list[str]] = {}
    for fqdn, zone in due:
        by_zone.setdefault(zone, []).append(fqdn)
    bins: list[list[str]] = []  # zones per shard
    sizes: list[int] = []
    notes: list[str] = []
    for zone in sorted(by_zone, key=lambda z: (-len(by_zone[z]), z)):
        size = len(by_zone[zone])
        if size > cost.capacity:
            notes.append(f"zone {zone} has {size} due domains, more than a shard's "
                         f"{cost.capacity}: it gets a shard of its own (one DNS batch)")
        for i, used in enumerate(sizes):
            if used + size <= cost.capacity:
                bins[i].append(zone)
                sizes[i] += size
                break
        else:
            bins.append([zone])
            sizes.append(size)
    shards = tuple(
        Shard(i, tuple(sorted(zones)),
              tuple(sorted(f for z in zones for f in by_zone[z])), cost.estimate(sizes[i]))
        for i, zones in enumerate(bins))
    created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    return Plan(stack, created, cost, shards, deferred, tuple(notes))


def load_plan(text: str, source: str) -> Plan:
    """A plan written by make_plan (any version other than ours is refused, not guessed)."""
    fix = "write a new one with lsctl renew --plan-only --out FILE"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(source, "", f"not a shard plan ({exc})", fix) from None
    if not isinstance(data, dict) or data.get("version") != PLAN_VERSION:
        found = data.get("version") if isinstance(data, dict) else None
        raise ConfigError(source, "version", f"plan version {found!r}, this lsctl reads "
                                             f"version {PLAN_VERSION}", fix)
    try:
        return Plan(str(data["stack"]), str(data["created"]), Cost(**data["cost"]),
                    tuple(Shard(int(s["index"]), tuple(s["zones"]), tuple(s["domains"]),
                                float(s["estimated_seconds"])) for s in data["shards"]),
                    int(data.get("deferred", 0)), tuple(data.get("notes", ())))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(source, "", f"not a shard plan (bad field {exc})", fix) from None
