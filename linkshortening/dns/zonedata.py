"""A whole zone's records, as plain data: read by AXFR (RFC 5936), signed with TSIG."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.nsbase
import dns.rdtypes.txtbase
import dns.xfr
import dns.zone

from linkshortening.common.names import normalize
from linkshortening.dns.rfc2136 import Endpoint, TsigKey


class ZoneTransferError(Exception):
    """The server refused the transfer, could not be reached, or sent no zone."""


@dataclass(frozen=True)
class ZoneRecord:
    """One record set: an absolute name (no trailing dot), its type, TTL and values
    (names in values normalized; TXT as its text, without quotes)."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]


def transfer(server: Endpoint, zone: str, key: TsigKey, timeout: float = 10.0,
             ) -> list[ZoneRecord]:
    """Every record set of `zone` from `server`, by AXFR signed with `key`."""
    origin = dns.name.from_text(zone)
    try:
        tsig = key.to_dnspython()
        xfr = dns.query.xfr(server.host, origin, port=server.port, keyring={tsig.name: tsig},
                            keyname=tsig.name, keyalgorithm=tsig.algorithm, timeout=timeout,
                            lifetime=timeout, relativize=False)
        found = dns.zone.from_xfr(xfr, relativize=False)
    except dns.xfr.TransferError as exc:
        raise ZoneTransferError(
            f"zone transfer of {zone} from {server}: the server answered {exc}; allow it "
            f"for the TSIG key (allow-transfer {{ key \"{key.name}\"; }};)") from None
    except (OSError, EOFError, dns.exception.DNSException) as exc:
        raise ZoneTransferError(f"zone transfer of {zone} from {server}: "
                                f"{exc or exc.__class__.__name__}") from None
    records = []
    for name, rdataset in found.iterate_rdatasets():
        kind = dns.rdatatype.to_text(rdataset.rdtype)
        records.append(ZoneRecord(normalize(name.to_text()), kind, rdataset.ttl,
                                  tuple(sorted(rdata_value(r) for r in rdataset))))
    return records


def rdata_value(rdata: dns.rdata.Rdata) -> str:
    """A value as lsctl compares it: names normalized, a TXT's strings joined."""
    if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
        return b"".join(rdata.strings).decode(errors="replace")
    if isinstance(rdata, dns.rdtypes.nsbase.NSBase):  # CNAME, NS, PTR
        return normalize(rdata.target.to_text())
    return str(rdata.to_text())


def text_value(kind: str, text: str) -> str:
    """`rdata_value` of a value in presentation format (Route53's ResourceRecords); a value
    dnspython cannot read is kept as it is (lsctl looks only at A, CNAME and TXT)."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(kind), text,
                                    origin=dns.name.root)
    except dns.exception.DNSException:
        return text
    return rdata_value(rdata)
