"""Asking DNS: a configured resolver for lookups, and authoritative servers asked directly.

The renewer (propagation), the drift checker and the sandbox all ask DNS through here. The
resolver and the authoritative servers' port come from the environment so the sandbox (BIND 9
on a free port) and production (port 53) run the same code.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from linkshortening.dns.rfc2136 import Endpoint

RESOLVER_ENV = "LSCTL_DNS_RESOLVER"  # host[:port] of the recursive resolver to use
AUTHORITATIVE_PORT_ENV = "LSCTL_AUTHORITATIVE_PORT"  # port of every authoritative server (53)


class DnsLookupError(Exception):
    """A lookup that could not be answered (no nameservers, timeout, refused)."""


@dataclass(frozen=True)
class Answer:
    """What one server answered for one name and type."""

    name: str
    type: str
    ttl: int | None
    values: tuple[str, ...]  # sorted; names without the trailing dot
    rcode: str  # NOERROR, NXDOMAIN, REFUSED, ... or TIMEOUT


def resolver() -> dns.resolver.Resolver:
    """The configured resolver: $LSCTL_DNS_RESOLVER, else the system's.

    One per setting, shared by every caller and thread: building one reads /etc/resolv.conf
    (or parses the setting), once per challenge at fleet scale otherwise. Sharing is safe
    because `resolve` keeps a query's state in its own _Resolution and only reads the
    resolver; callers must not change the returned resolver's settings."""
    return _resolver_for(os.environ.get(RESOLVER_ENV) or None)


@functools.cache
def _resolver_for(configured: str | None) -> dns.resolver.Resolver:
    if configured is None:
        return dns.resolver.Resolver()
    endpoint = Endpoint.parse(configured)
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [endpoint.host]
    res.port = endpoint.port
    res.lifetime = 5.0
    return res


def authoritative_port() -> int:
    return int(os.environ.get(AUTHORITATIVE_PORT_ENV, "53"))


def ask(server: Endpoint, name: str, rdtype: str, timeout: float = 2.0) -> Answer:
    """Ask `server` directly, without recursion; retry over TCP when the answer is truncated."""
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(query, server.host, port=server.port,
                                                  timeout=timeout)
    except dns.exception.Timeout:
        return Answer(name, rdtype, None, (), "TIMEOUT")
    except OSError as exc:
        return Answer(name, rdtype, None, (), f"UNREACHABLE ({exc.strerror})")
    wanted = dns.rdatatype.from_text(rdtype)
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            values = tuple(sorted(r.to_text().rstrip(".") for r in rrset))
            return Answer(name, rdtype, rrset.ttl, values, dns.rcode.to_text(response.rcode()))
    return Answer(name, rdtype, None, (), dns.rcode.to_text(response.rcode()))


def lookup(name: str, rdtype: str, res: dns.resolver.Resolver | None = None) -> tuple[str, ...]:
    """Values of `name`/`rdtype` through the resolver; () when the name or type is absent."""
    try:
        answer = (res or resolver()).resolve(name, rdtype, raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return ()
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"{name} {rdtype}: {exc}") from None
    if answer.rrset is None:
        return ()
    return tuple(sorted(r.to_text().rstrip(".") for r in answer.rrset))


def zone_of(name: str, res: dns.resolver.Resolver | None = None) -> str:
    """The zone that holds `name` (the closest enclosing SOA)."""
    try:
        zone = dns.resolver.zone_for_name(name, resolver=res or resolver())
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"cannot find the zone of {name}: {exc}") from None
    return zone.to_text(omit_final_dot=True)


def nameservers(zone: str, res: dns.resolver.Resolver | None = None) -> tuple[Endpoint, ...]:
    """Every authoritative nameserver of `zone`, by address, on the authoritative port."""
    res = res or resolver()
    port = authoritative_port()
    names = lookup(zone, "NS", res)
    if not names:
        raise DnsLookupError(f"{zone} has no NS records through the resolver")
    endpoints = [Endpoint(address, port) for ns in names for address in lookup(ns, "A", res)]
    if not endpoints:
        raise DnsLookupError(f"the nameservers of {zone} ({', '.join(names)}) have no address")
    return tuple(dict.fromkeys(endpoints))
