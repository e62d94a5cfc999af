"""dnsreply.read says what dns.message.from_wire says, on generated replies; and it takes its
fast path on the replies a fleet's nameservers send (else it would be no faster)."""

from __future__ import annotations

from collections.abc import Callable

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkshortening.dns import reply as dnsreply

LABEL = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1,
                max_size=12).filter(lambda s: not s.startswith("-") and not s.endswith("-"))
NAME = st.lists(LABEL, min_size=1, max_size=4).map(lambda labels: ".".join(labels) + ".")
VALUES = {
    "A": st.sampled_from(["3.233.187.46", "3.233.108.250", "54.157.2.211", "192.0.2.1"]),
    "AAAA": st.sampled_from(["2001:db8::1", "2001:db8::2", "::1"]),
    "TXT": st.text("abcdefghijklmnopqrstuvwxyz0123456789-_=+/", min_size=1, max_size=60)
    .map(lambda s: f'"{s}"'),
    "CAA": st.sampled_from(['0 issue "letsencrypt.org"', '128 iodef "mailto:a@example.com"',
                            '0 issuewild ";"']),
    "CNAME": NAME,
    "NS": NAME,
    "MX": NAME.map(lambda n: f"10 {n}"),
}


@st.composite
def replies(draw: st.DrawFn) -> dns.message.Message:
    qname = draw(NAME)
    qtype = draw(st.sampled_from(sorted(VALUES)))
    query = dns.message.make_query(qname, qtype, id=draw(st.integers(0, 65535)))
    query.flags = 0
    if draw(st.booleans()):
        query.use_edns(0)
    response = dns.message.make_response(query)
    response.set_rcode(draw(st.sampled_from([dns.rcode.NOERROR, dns.rcode.NXDOMAIN,
                                             dns.rcode.SERVFAIL, dns.rcode.REFUSED])))
    if draw(st.booleans()):
        response.flags |= dns.flags.AA
    owners = st.one_of(st.just(qname), NAME, NAME.map(lambda n: n + qname))
    for _ in range(draw(st.integers(0, 5))):  # the same owner and type may come back later
        rdtype = draw(st.sampled_from(sorted(VALUES)))
        values = draw(st.lists(VALUES[rdtype], min_size=1, max_size=3))
        response.answer.append(dns.rrset.from_text_list(
            draw(owners), draw(st.integers(0, 86400)), "IN", rdtype, values))
    if draw(st.booleans()):
        response.authority.append(dns.rrset.from_text(
            qname, 300, "IN", "SOA", f"ns1.{qname} hostmaster.{qname} 1 3600 600 86400 300"))
    return response  # rendered in the test: to_wire shuffles rdata with `random`


@settings(max_examples=400, deadline=None)
@given(replies())
def test_reads_what_dnspython_reads(response: dns.message.Message) -> None:
    wire = response.to_wire()
    assert dnsreply.read(wire) == dnsreply._read_full(wire)


@settings(max_examples=100, deadline=None)
@given(replies())
def test_plain_replies_take_the_fast_path(response: dns.message.Message) -> None:
    wire = response.to_wire()
    assert (dnsreply._read_fast(wire) is None) == (response.edns >= 0)  # only EDNS goes slow


@settings(max_examples=400, deadline=None)
@given(replies(), st.data())
def test_a_damaged_reply_is_read_as_dnspython_reads_it_or_refused(
        response: dns.message.Message, data: st.DataObject) -> None:
    damaged = bytearray(response.to_wire())
    for _ in range(data.draw(st.integers(1, 4))):  # a few bytes changed anywhere
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    wire = bytes(damaged)
    try:
        expected = dnsreply._read_full(wire)
    except dns.exception.DNSException:
        try:
            read = dnsreply.read(wire)
        except dns.exception.DNSException:
            return  # refused by both
        # Read although dnspython refuses it: only an authority rdata may be what is wrong,
        # which dnspython skips when asked to go on after errors (an answer rdata it skipped
        # would be missing here).
        lenient = dns.message.from_wire(wire, continue_on_error=True)
        assert lenient.errors and read.records == dnsreply.records_of(lenient)
    else:
        assert dnsreply.read(wire) == expected


def _root_reply(name: str) -> bytes:
    query = dns.message.make_query(name, "A", id=1)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(name, 300, "IN", "A", "3.233.187.46",
                                               "54.157.2.211", "3.233.108.250"))
    return response.to_wire()


def test_a_remembered_address_is_read_the_same_under_another_name() -> None:
    first, second = dnsreply.read(_root_reply("d1.bench.")), dnsreply.read(_root_reply("x.y."))
    expected = ("3.233.108.250", "3.233.187.46", "54.157.2.211")  # sorted, as from_wire's
    assert first.records[0].values == second.records[0].values == expected
    assert (first.records[0].name, second.records[0].name) == ("d1.bench", "x.y")


def test_the_extended_rcode_of_edns_counts() -> None:
    query = dns.message.make_query("example.com.", "A", use_edns=0, id=2)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.BADVERS)
    assert dnsreply.read(response.to_wire()).rcode == "BADVERS"


@pytest.mark.parametrize("cut", [lambda w: w[:-3], lambda w: w + b"\0junk", lambda w: w[:5]])
def test_a_cut_or_padded_reply_is_refused(cut: Callable[[bytes], bytes]) -> None:
    wire = _root_reply("d1.bench.")
    with pytest.raises(dns.exception.DNSException):
        dnsreply.read(cut(wire))


def test_a_reply_without_one_question_matches_no_question() -> None:
    response = dns.message.Message(id=7)
    response.flags |= dns.flags.QR
    parsed = dnsreply.read(response.to_wire())
    assert parsed.qname == dns.name.empty and parsed.records == ()
