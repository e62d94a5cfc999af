"""Probe every source concurrently and assemble the facts: DNS on this thread (its engine
spreads large batches over processes), Twilio, Route53 and port 443 on others."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from drift.facts import DomainFacts, Probed, StackFacts, Unreachable
from linkshortening.stack.model import DomainSpec, Stack

SOURCES = ("dns", "route53", "twilio", "tls")


def gather(stack: Stack, specs: Sequence[DomainSpec], skip: Collection[str] = ()) -> StackFacts:
    """Every source not in `skip`, for every domain in `specs`."""
    from drift.probes import dns, route53, tls, twilio

    checked_at = dt.datetime.now(dt.UTC)
    jobs: dict[str, Future[dict[str, Probed[Any]]]] = {}
    with ThreadPoolExecutor(len(SOURCES)) as pool:
        if "twilio" not in skip:
            jobs["twilio"] = pool.submit(twilio.probe, specs, twilio.WORKERS,
                                         stack.twilio_accounts)
        if "tls" not in skip:
            jobs["tls"] = pool.submit(tls.probe, specs)
        if "route53" not in skip:
            jobs["route53"] = pool.submit(route53.probe, specs, stack.aws_region)
        found = dns.probe(specs, stack.targets) if "dns" not in skip else None
        results = {source: job.result() for source, job in jobs.items()}
    domains = []
    for spec in specs:
        parts = {source: result.get(spec.fqdn) for source, result in results.items()}
        if found is not None:
            parts["dns"] = found.domains[spec.fqdn]
        lost: list[Unreachable] = [u for part in parts.values() if part
                                   for u in part.unreachable]
        value = {source: part.value if part else None for source, part in parts.items()}
        domains.append(DomainFacts(spec, dns=value.get("dns"), route53=value.get("route53"),
                                   twilio=value.get("twilio"), served=value.get("tls"),
                                   unreachable=tuple(lost)))
    return StackFacts(tuple(domains), found.target_ips if found else None,
                      found.unreachable if found else (), checked_at)
