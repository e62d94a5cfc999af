"""`lsctl records` output: JSON, BIND zone-file lines, an nsupdate script, a table.

Zone and nsupdate text comes from dnspython's own rdata and zone writers, so quoting (TXT,
CAA), trailing dots and TTLs are exactly what BIND and nsupdate read.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import fields

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.zone

from linkshortening.stack.managed_records import PURPOSES, ManagedRecord

_FIELDS = tuple(f.name for f in fields(ManagedRecord))


def render_json(records: tuple[ManagedRecord, ...]) -> str:
    # Every field is a str, an int or a tuple of str (JSON writes a tuple as a list), so a
    # shallow dict gives asdict's output without its recursive deep copy (~1/3 of the
    # command's time at 10,000 domains).
    return json.dumps([{name: getattr(r, name) for name in _FIELDS} for r in records],
                      indent=2) + "\n"


def render_zone(records: tuple[ManagedRecord, ...], stack: str) -> str:
    """Per zone, absolute-name lines to paste into its zone file (or `named-checkzone`)."""
    parts = []
    for origin, zone in _zones(records):
        parts.append(f"; zone {origin}: records lsctl manages (stack {stack})\n"
                     + zone.to_text(relativize=False))
    return "\n".join(parts)


def render_nsupdate(records: tuple[ManagedRecord, ...], stack: str) -> str:
    """An `nsupdate` script: per zone, each record set replaced whole (delete, then add, as
    Route53 sets are declared), then `send`. Add `server HOST PORT` or let nsupdate find the
    primary from the SOA; sign with `nsupdate -k KEYFILE`."""
    lines = [f"; records lsctl manages (stack {stack}): nsupdate -k KEYFILE THIS-FILE"]
    for origin, zone in _zones(records):
        lines.append(f"zone {origin}")
        for name, rdataset in zone.iterate_rdatasets():
            lines.append(f"update delete {name} {dns.rdatatype.to_text(rdataset.rdtype)}")
            lines += [f"update add {line}"
                      for line in rdataset.to_text(name, relativize=False).splitlines()]
        lines.append("send")
    return "\n".join(lines) + "\n"


def table_rows(records: tuple[ManagedRecord, ...]) -> list[tuple[str, str, str, str]]:
    """name, type, ttl and the values, one per line."""
    return [(r.name, r.type, str(r.ttl), "\n".join(r.values)) for r in records]


def table_caption(records: tuple[ManagedRecord, ...]) -> str:
    """What the records other than Twilio's targets are for."""
    kinds = dict.fromkeys(r.purpose for r in records if r.purpose != "target")
    return "; ".join(f"{r_type}: {PURPOSES[kind]}" for kind, r_type in
                     (("verification", "TXT"), ("persist", "TXT"),
                                           ("caa", "CAA")) if kind in kinds)


def _zones(records: tuple[ManagedRecord, ...]) -> Iterator[tuple[str, dns.zone.Zone]]:
    by_zone: dict[str, list[ManagedRecord]] = {}
    for record in records:  # one pass (a pass per zone was quadratic: 12 s at 10,000)
        by_zone.setdefault(record.zone, []).append(record)
    for zone_name, zone_records in by_zone.items():
        origin = dns.name.from_text(zone_name)
        zone = dns.zone.Zone(origin, relativize=False)
        for r in zone_records:
            rdataset = zone.find_rdataset(dns.name.from_text(r.name), r.type, create=True)
            rdataset.update_ttl(r.ttl)
            for value in r.values:
                rdataset.add(_rdata(r.type, value))
        yield origin.to_text(), zone


@functools.lru_cache(maxsize=4096)  # Rdata is immutable; a fleet repeats Twilio's targets
def _rdata(rdtype: str, value: str) -> dns.rdata.Rdata:
    if rdtype == "TXT":  # the value is the text itself, not presentation format
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()])
    # Names in values (CNAME targets) are absolute, written without the trailing dot.
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.root,
                               relativize=False)
