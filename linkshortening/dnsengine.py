"""Many DNS questions to a few servers, fast: one non-blocking UDP socket per server, a window
of questions in flight, replies matched to questions by id and drained in bursts, retries on
timeout, TCP on truncation.

A plain loop rather than asyncio: asyncio's datagram transport reads one datagram per turn
of the event loop, which caps it near 3,000 answers a second here; draining every ready
datagram at once is what lets one core keep up with BIND. Messages are dnspython's
(make_query, to_wire, from_wire): no wire format by hand.
"""

from __future__ import annotations

import random
import select
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from linkshortening.dnsquery import Answer
from linkshortening.rfc2136 import Endpoint

RECEIVE_BUFFER = 4 * 1024 * 1024


@dataclass(frozen=True)
class Question:
    server: Endpoint
    name: str
    rdtype: str


@dataclass
class _InFlight:
    index: int
    query: dns.message.QueryMessage
    tries: int
    deadline: float


class _Server:
    """One connected UDP socket and the questions in flight on it, by message id."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.sock = socket.socket(socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET,
                                  socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sock.connect((endpoint.host, endpoint.port))
        self.sock.setblocking(False)
        self.flying: dict[int, _InFlight] = {}

    def free_id(self) -> int:
        while True:
            qid = random.getrandbits(16)  # a message id, not a secret
            if qid not in self.flying:
                return qid


def ask_all(questions: Sequence[Question], concurrency: int = 256, timeout: float = 1.0,
            retries: int = 2) -> list[Answer]:
    """Every question answered (or TIMEOUT / UNREACHABLE), in the order asked."""
    results: list[Answer | None] = [None] * len(questions)
    servers = {q.server: _Server(q.server) for q in questions}
    waiting = deque(range(len(questions)))
    deadlines: deque[tuple[float, _Server, int]] = deque()  # in send order: sorted by time
    truncated: list[int] = []
    flying = 0
    try:
        while waiting or flying:
            while waiting and flying < concurrency:
                index = waiting.popleft()
                question = questions[index]
                query = dns.message.make_query(question.name, question.rdtype)
                query.flags &= ~dns.flags.RD  # authoritative answers only
                flying += _send(servers[question.server], index, query, 1, timeout, deadlines)
            wait = max(0.0, deadlines[0][0] - time.monotonic()) if deadlines else timeout
            ready, _, _ = select.select([s.sock for s in servers.values()], [], [], wait)
            for server in servers.values():
                if server.sock in ready:
                    flying -= _drain(server, questions, results, truncated)
            flying -= _expire(deadlines, questions, results, retries, timeout)
    finally:
        for server in servers.values():
            server.sock.close()
    for index in truncated:  # too big for UDP: ask again over TCP, one by one (rare)
        question = questions[index]
        query = dns.message.make_query(question.name, question.rdtype)
        query.flags &= ~dns.flags.RD
        try:
            response = dns.query.tcp(query, question.server.host, port=question.server.port,
                                     timeout=timeout * 2)
            results[index] = _answer(question, response)
        except (dns.exception.DNSException, OSError) as exc:
            results[index] = Answer(question.name, question.rdtype, None, (),
                                    f"UNREACHABLE ({exc})")
    return [r if r is not None else Answer(q.name, q.rdtype, None, (), "TIMEOUT")
            for r, q in zip(results, questions, strict=True)]


def _send(server: _Server, index: int, query: dns.message.QueryMessage, tries: int,
          timeout: float, deadlines: deque[tuple[float, _Server, int]]) -> int:
    query.id = server.free_id()
    deadline = time.monotonic() + timeout
    server.flying[query.id] = _InFlight(index, query, tries, deadline)
    deadlines.append((deadline, server, query.id))
    try:
        server.sock.send(query.to_wire())
    except BlockingIOError:
        pass  # the send buffer is full: the timeout resends it
    except OSError:
        pass  # unreachable: reported when its retries run out
    return 1


def _drain(server: _Server, questions: Sequence[Question], results: list[Answer | None],
           truncated: list[int]) -> int:
    """Read every datagram waiting on the socket; return how many questions completed."""
    done = 0
    while True:
        try:
            data = server.sock.recv(65535)
        except BlockingIOError:
            return done
        except OSError as exc:  # ICMP port unreachable: nobody answers at this address
            for flight in server.flying.values():
                question = questions[flight.index]
                results[flight.index] = Answer(question.name, question.rdtype, None, (),
                                               f"UNREACHABLE ({exc.strerror or exc})")
            done += len(server.flying)
            server.flying.clear()
            return done
        try:
            response = dns.message.from_wire(data)
        except dns.exception.DNSException:
            continue  # garbage: its question times out and is asked again
        match = server.flying.get(response.id)
        if match is None or not match.query.is_response(response):
            continue  # a late answer to a retried question, or not ours
        del server.flying[response.id]
        done += 1
        if response.flags & dns.flags.TC:
            truncated.append(match.index)
        else:
            results[match.index] = _answer(questions[match.index], response)


def _expire(deadlines: deque[tuple[float, _Server, int]], questions: Sequence[Question],
            results: list[Answer | None], retries: int, timeout: float) -> int:
    """Resend questions whose time ran out, or give them up; return how many were given up."""
    given_up = 0
    now = time.monotonic()
    while deadlines and deadlines[0][0] <= now:
        _, server, qid = deadlines.popleft()
        flight = server.flying.get(qid)
        if flight is None or flight.deadline > now:
            continue  # answered, or this entry belongs to an older send of the id
        del server.flying[qid]
        if flight.tries <= retries:
            _send(server, flight.index, flight.query, flight.tries + 1, timeout, deadlines)
        else:
            question = questions[flight.index]
            results[flight.index] = Answer(question.name, question.rdtype, None, (), "TIMEOUT")
            given_up += 1
    return given_up


def _answer(question: Question, response: dns.message.Message) -> Answer:
    wanted = dns.rdatatype.from_text(question.rdtype)
    rcode = dns.rcode.to_text(response.rcode())
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            values = tuple(sorted(r.to_text().rstrip(".") for r in rrset))
            return Answer(question.name, question.rdtype, rrset.ttl, values, rcode)
    return Answer(question.name, question.rdtype, None, (), rcode)
