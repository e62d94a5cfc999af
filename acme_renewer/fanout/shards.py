"""`--shard K/N`: which of a stack's domains one of N workers renews.

From a plan file, shard K is the plan's shard K. Without one, a zone belongs to shard
sha256(zone) mod N: every worker computes the same split with no shared file (a GitHub
Actions matrix, a Kubernetes indexed Job), and a zone is never split across workers.
K counts from 0, as JOB_COMPLETION_INDEX and a matrix index do."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from acme_renewer.fanout.plan import Plan
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import DomainSpec

SOURCE = "lsctl renew"


@dataclass(frozen=True)
class ShardRef:
    index: int  # K, from 0
    count: int  # N

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> ShardRef:
    fix = "give --shard K/N with 0 <= K < N, e.g. --shard 0/4 (K counts from 0)"
    k, slash, n = text.partition("/")
    if not slash or not k.strip().isdigit() or not n.strip().isdigit():
        raise ConfigError(SOURCE, "--shard", f"{text!r} is not K/N", fix)
    ref = ShardRef(int(k), int(n))
    if ref.count < 1 or ref.index >= ref.count:
        raise ConfigError(SOURCE, "--shard", f"{text!r} names no shard of {ref.count}", fix)
    return ref


def zone_shard(zone: str, count: int) -> int:
    """A stable hash (not Python's salted hash()): the same on every machine and run."""
    return int.from_bytes(hashlib.sha256(zone.encode()).digest()[:8], "big") % count


def select(specs: Sequence[DomainSpec], ref: ShardRef,
           plan: Plan | None = None, plan_source: str = "--plan") -> tuple[DomainSpec, ...]:
    """The domains of shard `ref`: the plan's (still declared ones), or by zone hash."""
    if plan is None:
        return tuple(s for s in specs if zone_shard(s.zone, ref.count) == ref.index)
    if len(plan.shards) != ref.count:
        raise ConfigError(plan_source, "shards", f"the plan has {len(plan.shards)} shard(s), "
                          f"--shard names {ref}", f"use --shard K/{len(plan.shards)}")
    wanted = set(plan.shards[ref.index].domains)
    return tuple(s for s in specs if s.fqdn in wanted)


def zones_of(specs: Sequence[DomainSpec]) -> tuple[str, ...]:
    return tuple(sorted({s.zone for s in specs}))
