"""Many DNS questions to a few servers, fast: asyncio, one UDP socket per server, replies
matched to questions by id, bounded concurrency, retries on UDP timeout, TCP on truncation.

Messages are dnspython's (make_query, to_wire, from_wire): no wire format by hand.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from linkshortening.dnsquery import Answer
from linkshortening.rfc2136 import Endpoint


@dataclass(frozen=True)
class Question:
    server: Endpoint
    name: str
    rdtype: str


class _Channel(asyncio.DatagramProtocol):
    """One UDP socket to one server; many questions in flight, told apart by message id."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, asyncio.Future[dns.message.Message]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: object) -> None:
        try:
            message = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return  # garbage on our port: the question times out and is retried
        future = self.waiting.pop(message.id, None)
        if future is not None and not future.done():
            future.set_result(message)

    def error_received(self, exc: Exception) -> None:
        for future in self.waiting.values():  # ICMP unreachable: fail fast, not by timeout
            if not future.done():
                future.set_exception(exc)
        self.waiting.clear()

    def free_id(self) -> int:
        while True:
            qid = random.getrandbits(16)
            if qid not in self.waiting:
                return qid


class DnsEngine:
    """Ask many questions concurrently; `ask_all` keeps the order of its questions."""

    def __init__(self, concurrency: int = 256, timeout: float = 1.0, retries: int = 2) -> None:
        self.timeout, self.retries = timeout, retries
        self._limit = asyncio.Semaphore(concurrency)
        self._channels: dict[Endpoint, _Channel] = {}

    async def _channel(self, server: Endpoint) -> _Channel:
        channel = self._channels.get(server)
        if channel is None:
            loop = asyncio.get_running_loop()
            _, channel = await loop.create_datagram_endpoint(
                _Channel, remote_addr=(server.host, server.port))
            self._channels[server] = channel
        return channel

    async def ask(self, question: Question) -> Answer:
        async with self._limit:
            query = dns.message.make_query(question.name, question.rdtype)
            query.flags &= ~dns.flags.RD  # authoritative answers only
            channel = await self._channel(question.server)
            for _ in range(self.retries + 1):
                query.id = channel.free_id()
                future = asyncio.get_running_loop().create_future()
                channel.waiting[query.id] = future
                assert channel.transport is not None
                channel.transport.sendto(query.to_wire())
                try:
                    response = await asyncio.wait_for(future, self.timeout)
                except TimeoutError:
                    channel.waiting.pop(query.id, None)
                    continue
                except OSError as exc:
                    return Answer(question.name, question.rdtype, None, (),
                                  f"UNREACHABLE ({exc.strerror or exc})")
                if response.flags & dns.flags.TC:  # too big for UDP: ask again over TCP
                    response = await dns.asyncquery.tcp(query, question.server.host,
                                                        port=question.server.port,
                                                        timeout=self.timeout * 2)
                return _answer(question, response)
            return Answer(question.name, question.rdtype, None, (), "TIMEOUT")

    async def ask_all(self, questions: Sequence[Question]) -> list[Answer]:
        try:
            return list(await asyncio.gather(*(self.ask(q) for q in questions)))
        finally:
            self.close()

    def close(self) -> None:
        for channel in self._channels.values():
            if channel.transport is not None:
                channel.transport.close()
        self._channels.clear()


def _answer(question: Question, response: dns.message.Message) -> Answer:
    wanted = dns.rdatatype.from_text(question.rdtype)
    rcode = dns.rcode.to_text(response.rcode())
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            values = tuple(sorted(r.to_text().rstrip(".") for r in rrset))
            return Answer(question.name, question.rdtype, rrset.ttl, values, rcode)
    return Answer(question.name, question.rdtype, None, (), rcode)


def ask_all(questions: Sequence[Question], concurrency: int = 256,
            timeout: float = 1.0) -> list[Answer]:
    """Synchronous entry point: every question answered (or TIMEOUT/UNREACHABLE), in order."""
    async def run() -> list[Answer]:
        return await DnsEngine(concurrency, timeout).ask_all(questions)

    return asyncio.run(run())
