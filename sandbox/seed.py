"""Seed the sandbox DNS with a stack's declared records, and read back what it answers."""

from __future__ import annotations

from linkshortening.config import Stack
from linkshortening.records import Record, desired_records
from linkshortening.rfc2136 import Endpoint, TsigKey, replace_rrset


def seed(stack: Stack, server: Endpoint, key: TsigKey) -> list[Record]:
    """Write every domain's desired records by RFC 2136; return what was written."""
    written = []
    for spec in stack.domains:
        for record in desired_records(spec, stack.targets):
            replace_rrset(server, spec.zone, record.name + ".", record.type, record.ttl,
                          record.values, key)
            written.append(record)
    return written

