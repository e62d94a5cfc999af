"""RFC 2136 dynamic updates signed with TSIG, on dnspython.

Shared by the sandbox (seeding the declared records) and the renewer's RFC 2136 DNS-01
provider (challenge TXT records).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update


class DnsUpdateError(Exception):
    """An update the server did not apply: refused, unreachable or timed out.

    `refused`: the server answered with an error, so nothing of the update was applied
    (updates are atomic, RFC 2136 3.4); otherwise it may have been applied unseen."""

    def __init__(self, message: str, rcode: str | None = None, refused: bool = False) -> None:
        super().__init__(message)
        self.rcode = rcode  # the server's answer (e.g. NXRRSET: a prerequisite failed)
        self.refused = refused


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key; the secret stays out of repr so it cannot reach a log by accident."""

    name: str
    algorithm: str
    secret: str = field(repr=False)

    def to_dnspython(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.name, self.secret, self.algorithm)


@dataclass(frozen=True)
class Endpoint:
    """A DNS server address: host and port."""

    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """`host`, `host:port` or `[v6]:port`."""
        text = text.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            return cls(host, int(rest.lstrip(":") or 53))
        if text.count(":") == 1:
            host, port = text.split(":")
            return cls(host, int(port))
        return cls(text)


def replace_rrset(server: Endpoint, zone: str, name: str, rdtype: str, ttl: int,
                  values: tuple[str, ...], key: TsigKey, timeout: float = 5.0) -> None:
    """Make `name`/`rdtype` hold exactly `values`, in one atomic update."""
    update = new_update(zone, key)
    update.replace(dns.name.from_text(name), ttl, *rdatas(rdtype, values))
    send_update(server, update, timeout)


def rdatas(rdtype: str, values: tuple[str, ...]) -> list[dns.rdata.Rdata]:
    """Parse values with the root as origin: lsctl writes names without the trailing dot,
    and in a zone update a dotless CNAME target would otherwise be taken as relative."""
    kind = dns.rdatatype.from_text(rdtype)
    return [dns.rdata.from_text(dns.rdataclass.IN, kind, v, origin=dns.name.root,
                                relativize=False)
            for v in values]


def new_update(zone: str, key: TsigKey) -> dns.update.UpdateMessage:
    """An empty update for `zone`, signed with `key`."""
    return dns.update.UpdateMessage(zone, keyring=key.to_dnspython())


def send_update(server: Endpoint, update: dns.update.UpdateMessage, timeout: float = 5.0) -> None:
    """Send over TCP (updates must not be lost to UDP) and insist on NOERROR."""
    zone = update.zone[0].name.to_text(omit_final_dot=True) if update.zone else "?"
    try:
        response = dns.query.tcp(update, server.host, port=server.port, timeout=timeout)
    except dns.exception.Timeout:
        raise DnsUpdateError(
            f"update of zone {zone} at {server}: timed out after {timeout:g}s") from None
    except (OSError, dns.exception.DNSException) as exc:
        raise DnsUpdateError(f"update of zone {zone} at {server}: {exc}") from None
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        raise DnsUpdateError(
            f"update of zone {zone} at {server}: server answered {dns.rcode.to_text(rcode)}"
            + (" (is the TSIG key allowed to update this zone?)" if rcode == dns.rcode.REFUSED
               else ""), dns.rcode.to_text(rcode), refused=True)
