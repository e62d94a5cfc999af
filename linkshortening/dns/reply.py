"""Reading a DNS reply's answer section fast, with dnspython's own wire parser.

Why not dns.message.from_wire: it builds a whole Message (every section, every name, every
rdata object, rrset merging) in pure Python, about 150 µs for a three-address A reply, which
held the drift checker's DNS engine under 9,000 questions a second on two cores. What drift
needs is smaller: the rcode, the flags, and the answer section as text. This module walks the
sections with dnspython's `dns.wire.Parser` (names and rdata are decoded by dnspython, never
here) and remembers what repeats across a fleet of replies:

- rdata of the types that hold no domain name (A, AAAA, TXT, CAA) by its bytes: ten thousand
  root domains point at the same three Twilio addresses, so each is decoded once;
- an owner name written with the same bytes as the RR before it in the same message (the
  usual compression pointer to the question) is the same name, so it is decoded once.

Anything unusual (an additional section, so EDNS or TSIG, whose extended rcode lives there;
not a single question; not a standard query; signatures) goes to dns.message.from_wire, so
the result is what dnspython says; tests hold the two paths equal on generated and on damaged
messages (the one leniency: the authority section's rdata is not decoded, below).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire

from linkshortening.common.names import normalize

# The types whose rdata wire holds no name, so the same bytes mean the same text in any
# message (RFC 3597: no compression inside them): safe to remember by their bytes.
_NAMELESS = frozenset({dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.TXT,
                       dns.rdatatype.CAA})
_SPECIAL = frozenset({dns.rdatatype.RRSIG, dns.rdatatype.SIG, dns.rdatatype.OPT,
                      dns.rdatatype.TSIG})
_CACHE_LIMIT = 65536
_rdata_text: dict[tuple[int, bytes], str] = {}

_HEADER = "!HHHHHH"  # id, flags, and the four section counts (RFC 1035 4.1.1)
_RR = "!HHIH"  # type, class, ttl, rdata length (RFC 1035 4.1.3)


@dataclass(frozen=True)
class RecordSet:
    """One RRset of a reply's answer section; names lower case without the trailing dot."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]  # sorted presentation format, names without the trailing dot


@dataclass(frozen=True)
class ParsedReply:
    id: int
    flags: int
    rcode: str
    qname: dns.name.Name
    rdtype: int
    records: tuple[RecordSet, ...]


def read(wire: bytes) -> ParsedReply:
    """The reply's id, flags, rcode, question and answer section. Raises
    dns.exception.DNSException on a malformed message, as dns.message.from_wire does."""
    try:
        fast = _read_fast(wire)
    except Exception:  # whatever stops the fast path, dnspython's full
        fast = None  # reader decides, and says what is wrong with a bad message
    return fast if fast is not None else _read_full(wire)


def records_of(response: dns.message.Message) -> tuple[RecordSet, ...]:
    """The answer section of a parsed dnspython Message, in this module's form."""
    return tuple(
        RecordSet(normalize(rrset.name.to_text()), dns.rdatatype.to_text(rrset.rdtype),
                  rrset.ttl, tuple(sorted(_strip(r.to_text()) for r in rrset)))
        for rrset in response.answer)


def _strip(text: str) -> str:
    return text.rstrip(".")


def _read_full(wire: bytes) -> ParsedReply:
    response = dns.message.from_wire(wire)
    # Not one question: a reply to no question of ours (the empty name matches none).
    qname, rdtype = ((response.question[0].name, response.question[0].rdtype)
                     if len(response.question) == 1 else (dns.name.empty, 0))
    return ParsedReply(response.id, response.flags, dns.rcode.to_text(response.rcode()),
                       qname, rdtype, records_of(response))


def _read_fast(wire: bytes) -> ParsedReply | None:
    parser = dns.wire.Parser(wire)
    qid, flags, qdcount, ancount, nscount, arcount = parser.get_struct(_HEADER)
    if qdcount != 1 or arcount or dns.opcode.from_flags(flags) != dns.opcode.QUERY:
        return None  # EDNS/TSIG (extended rcode), several questions, not a query: dnspython
    qname = parser.get_name(decompress=True)
    rdtype, rdclass = parser.get_struct("!HH")
    if rdclass != dns.rdataclass.IN:
        return None
    sets: dict[tuple[dns.name.Name, int], _Set] = {}
    owner_bytes, owner = b"", qname
    for _ in range(ancount):
        start = parser.current
        if owner_bytes and wire.startswith(owner_bytes, start):
            parser.seek(start + len(owner_bytes))  # same bytes in one message: same name
        else:
            owner = parser.get_name(decompress=True)
            owner_bytes = wire[start:parser.current]
        rr_type, rr_class, ttl, length = parser.get_struct(_RR)
        if rr_class != dns.rdataclass.IN or rr_type in _SPECIAL:
            return None  # signatures are keyed by what they cover, OPT and TSIG are checked
            # where they stand: dnspython's reader decides
        identity, text = _rdata(parser, rr_type, length)
        ttl = 0 if ttl > 0x7FFFFFFF else ttl  # RFC 2181 8: the top bit set means zero
        found = sets.get((owner, rr_type))
        if found is None:
            found = sets[(owner, rr_type)] = _Set(ttl)
        found.add(rr_type, ttl, identity, text)
    # The authority section is walked (owner, type, length) but its rdata is not decoded: the
    # SOA of a negative answer would double its cost, and drift judges answers only. So a
    # reply whose one flaw is a bad authority rdata is read as dnspython reads it with
    # continue_on_error; any other flaw is refused as dnspython refuses it.
    for _ in range(nscount):
        parser.get_name(decompress=True)
        rr_type, rr_class, _, length = parser.get_struct(_RR)
        if rr_class != dns.rdataclass.IN or rr_type in _SPECIAL:
            return None
        parser.get_bytes(length)
    if parser.remaining():
        return None  # trailing bytes: dnspython's reader raises TrailingJunk
    records = tuple(
        RecordSet(normalize(name.to_text()), dns.rdatatype.to_text(_type(rr_type)), found.ttl,
                  tuple(sorted(found.values.values())))
        for (name, rr_type), found in sets.items())
    return ParsedReply(qid, flags, dns.rcode.to_text(dns.rcode.from_flags(flags, 0)), qname,
                       rdtype, records)


@dataclass
class _Set:
    """One RRset as dnspython's Rdataset.add builds it: the smallest TTL of its records, each
    rdata once (by value: names compare without case), one rdata only for singleton types."""

    ttl: int
    values: dict[object, str] = field(default_factory=dict)

    def add(self, rr_type: int, ttl: int, identity: object, text: str) -> None:
        self.ttl = min(self.ttl, ttl)
        if self.values and _singleton(rr_type):
            self.values.clear()  # a CNAME or SOA set holds its last record
        self.values.setdefault(identity, text)


@functools.cache
def _singleton(rr_type: int) -> bool:  # cached: it is asked for every record of a set
    return dns.rdatatype.is_singleton(_type(rr_type))


def _rdata(parser: dns.wire.Parser, rr_type: int, length: int) -> tuple[object, str]:
    """The rdata's identity in its set and its text. Types without names are remembered by
    their bytes, and their text is their identity; others are dnspython Rdata, which compare
    by canonical form."""
    if rr_type in _NAMELESS:
        start = parser.current
        key = (rr_type, parser.get_bytes(length))
        text = _rdata_text.get(key)
        if text is not None:
            return text, text
        parser.seek(start)
    with parser.restrict_to(length):
        rdata = dns.rdata.from_wire_parser(dns.rdataclass.IN, _type(rr_type), parser)
    text = _strip(rdata.to_text())
    if rr_type not in _NAMELESS:
        return rdata, text
    if len(_rdata_text) >= _CACHE_LIMIT:
        _rdata_text.clear()  # a fleet repeats a few values; a flood of new ones resets it
    _rdata_text[key] = text
    return text, text


def _type(value: int) -> dns.rdatatype.RdataType:
    return dns.rdatatype.RdataType.make(value)
