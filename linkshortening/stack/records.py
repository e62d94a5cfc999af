"""The DNS records a Link Shortening domain must have: pure data, no I/O.

The Pulumi component declares them, the sandbox seeds them, the drift checker compares
against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from linkshortening.stack.model import DomainSpec
from linkshortening.stack.targets import TwilioTargets

RecordType = Literal["A", "CNAME"]


@dataclass(frozen=True)
class Record:
    """One record set: a name, a type, a TTL and the complete set of values."""

    name: str  # fully qualified, lower case, no trailing dot
    type: RecordType
    ttl: int
    values: tuple[str, ...]  # sorted, so two sets compare equal regardless of order


def desired_records(spec: DomainSpec, targets: TwilioTargets) -> tuple[Record, ...]:
    """Root domain: one A set of exactly Twilio's IPs. Subdomain: one CNAME to Twilio."""
    if spec.is_root:
        return (Record(spec.fqdn, "A", spec.ttl, tuple(sorted(targets.allowed_ips))),)
    return (Record(spec.fqdn, "CNAME", spec.ttl, (targets.cname_target,)),)
