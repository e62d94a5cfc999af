"""Seed the sandbox DNS with a stack's declared records, and read back what it answers."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from linkshortening.config import Stack
from linkshortening.records import Record, desired_records
from linkshortening.rfc2136 import Endpoint, TsigKey, replace_rrset


@dataclass(frozen=True)
class Answer:
    """What one server answered for one name and type."""

    name: str
    type: str
    ttl: int | None
    values: tuple[str, ...]
    rcode: str


def seed(stack: Stack, server: Endpoint, key: TsigKey) -> list[Record]:
    """Write every domain's desired records by RFC 2136; return what was written."""
    written = []
    for spec in stack.domains:
        for record in desired_records(spec, stack.targets):
            replace_rrset(server, spec.zone, record.name + ".", record.type, record.ttl,
                          record.values, key)
            written.append(record)
    return written


def ask(server: Endpoint, name: str, rdtype: str, timeout: float = 2.0) -> Answer:
    """Query `server` directly (no recursion) for `name`/`rdtype`."""
    query = dns.message.make_query(name, rdtype)
    try:
        response = dns.query.udp(query, server.host, port=server.port, timeout=timeout)
    except dns.exception.Timeout:
        return Answer(name, rdtype, None, (), "TIMEOUT")
    wanted = dns.rdatatype.from_text(rdtype)
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            values = tuple(sorted(r.to_text().rstrip(".") for r in rrset))
            return Answer(name, rdtype, rrset.ttl, values, dns.rcode.to_text(response.rcode()))
    return Answer(name, rdtype, None, (), dns.rcode.to_text(response.rcode()))
