"""Many DNS questions to a few servers, fast: one non-blocking UDP socket per server, a bounded
window of questions in flight, replies matched to their question by id and drained in bursts,
retries on UDP timeout, TCP on truncation, and large batches spread over the CPU cores.

Why not asyncio: its datagram transport reads one datagram per turn of the event loop, and a
task per question costs as much as the question; a plain select loop that drains every ready
datagram at once is what lets one core keep up with BIND. Why processes: building a query and
reading its reply in pure Python costs some 50-70 µs here, far more than the socket, so a
batch of thousands is split across the cores. Queries are built by dnspython (dns.renderer, the
layer under Message.to_wire); replies are read by linkshortening.dns.reply (dnspython's wire
parser, with what repeats across a fleet remembered).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.renderer

from linkshortening.common.names import normalize
from linkshortening.dns import reply as dnsreply
from linkshortening.dns.query import Answer
from linkshortening.dns.reply import RecordSet
from linkshortening.dns.rfc2136 import Endpoint

RECEIVE_BUFFER = 4 * 1024 * 1024  # a full window of replies must fit while we parse
PARALLEL_MIN = 2000  # fewer questions are done before a second process would help
MAX_PROCESSES = 4
DEAD_AFTER = 3  # questions given up, without one reply, before a server counts as dead
TCP_WORKERS = 8
TIMEOUT, UNREACHABLE, UNASKED = "TIMEOUT", "UNREACHABLE", "UNASKED"


@dataclass(frozen=True)
class Question:
    server: Endpoint
    name: str
    rdtype: str
    recursion: bool = False  # False: ask an authoritative server; True: a resolver (RD)


@dataclass(frozen=True)
class Reply:
    """What one server said to one question; `rcode` is the server's, or TIMEOUT, or
    UNREACHABLE (why) when it said nothing."""

    server: Endpoint
    name: str
    type: str
    rcode: str
    records: tuple[RecordSet, ...] = ()  # the answer section (a CNAME shows up here too)

    @property
    def answered(self) -> bool:
        """The server answered the question (possibly: no such name, or no such type)."""
        return self.rcode in ("NOERROR", "NXDOMAIN")

    def get(self, rdtype: str, name: str | None = None) -> RecordSet | None:
        """The RRset of `rdtype` at `name` (default: the name asked)."""
        owner = normalize(name or self.name)
        return next((r for r in self.records if r.type == rdtype and r.name == owner), None)

    def answer(self) -> Answer:
        """The asked type at the asked name, as `dnsquery.ask` gives it."""
        found = self.get(self.type)
        if found is None:
            return Answer(self.name, self.type, None, (), self.rcode)
        return Answer(self.name, self.type, found.ttl, found.values, self.rcode)


def ask_all(questions: Sequence[Question], concurrency: int = 256, timeout: float = 1.0,
            retries: int = 2, processes: int | None = None) -> list[Reply]:
    """Every question's reply, in the order asked. At most `concurrency` questions are in
    flight at once (over all processes); each is sent `retries` more times on timeout.
    `processes`: how many to spread a batch over (default: the cores, for large batches)."""
    workers = _processes(len(questions), processes)
    if workers > 1:
        shards = [list(questions[i::workers]) for i in range(workers)]
        window = max(1, concurrency // workers)
        try:
            pool = _pool(workers)
            parts = list(pool.map(_ask_batch, shards, [window] * workers,
                                  [timeout] * workers, [retries] * workers))
        except (OSError, NotImplementedError, BrokenProcessPool):
            _drop_pool()  # no processes here (AWS Lambda has no semaphores): one core it is
        else:
            replies: list[Reply | None] = [None] * len(questions)
            for first, part in enumerate(parts):  # shard i holds questions i, i+w, i+2w...
                replies[first::workers] = part
            return [r for r in replies if r is not None]
    return _ask_batch(questions, concurrency, timeout, retries)


def _processes(count: int, wanted: int | None) -> int:
    if wanted is not None:
        return max(1, wanted)
    if count < PARALLEL_MIN:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_PROCESSES))


_POOL: tuple[int, ProcessPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes, started once and kept: starting one (a Python that imports dnspython)
    costs a third of a second, as long as a few thousand questions."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != workers:
            _drop_pool_locked()
            # spawn, not fork: the drift checker asks Twilio and port 443 from threads meanwhile
            context = multiprocessing.get_context("spawn")
            _POOL = (workers, ProcessPoolExecutor(workers, mp_context=context))
        return _POOL[1]


def _drop_pool() -> None:
    with _POOL_LOCK:
        _drop_pool_locked()


def _drop_pool_locked() -> None:
    global _POOL
    if _POOL is not None:
        _POOL[1].shutdown(wait=False, cancel_futures=True)
        _POOL = None


# --- one process's share -------------------------------------------------------------------


@dataclass(slots=True)
class _Flight:
    index: int
    tries: int
    deadline: float
    qname: dns.name.Name
    rdtype: dns.rdatatype.RdataType


class _Server:
    """One connected UDP socket to one server (opened at its first question, closed after its
    last), and the questions in flight on it by id."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.sock: socket.socket | None = None
        self.flying: dict[int, _Flight] = {}
        self.remaining = 0  # questions of the batch for it not finished yet
        self.replies = 0
        self.given_up = 0
        self.dead: str | None = None  # why no more questions go to it

    def open(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.endpoint.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            # Connected: replies only from the server, and its ICMP errors reach us.
            sock.connect((self.endpoint.host, self.endpoint.port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        return sock

    def free_id(self) -> int:
        while True:
            qid = random.getrandbits(16)  # a message id, not a secret: replies are also
            if qid not in self.flying:  # matched by their question
                return qid


class _Batch:
    def __init__(self, questions: Sequence[Question], timeout: float, retries: int) -> None:
        self.questions = questions
        self.timeout, self.retries = timeout, retries
        self.replies: list[Reply | None] = [None] * len(questions)
        self.servers: dict[Endpoint, _Server] = {}
        for question in questions:
            server = self.servers.setdefault(question.server, _Server(question.server))
            server.remaining += 1
        _allow_open_files(len(self.servers) + 64)
        self.selector = selectors.DefaultSelector()  # epoll: no FD_SETSIZE limit
        self.deadlines: deque[tuple[float, _Server, int]] = deque()  # in send order
        self.truncated: list[int] = []
        self.flying = 0

    def close(self) -> None:
        for server in self.servers.values():
            self.hang_up(server)
        self.selector.close()

    def hang_up(self, server: _Server) -> None:
        if server.sock is not None:
            self.selector.unregister(server.sock)
            server.sock.close()
            server.sock = None

    def send(self, index: int, tries: int) -> None:
        question = self.questions[index]
        server = self.servers[question.server]
        if server.dead is not None:
            self.finish(index, server.dead)
            return
        try:
            qname = dns.name.from_text(question.name)
            rdtype = dns.rdatatype.from_text(question.rdtype)
        except dns.exception.DNSException as exc:  # nothing to send: say so, in its place
            self.finish(index, f"{UNASKED} ({exc})")
            return
        sock = server.sock
        if sock is None:
            try:
                sock = server.open()
            except OSError as exc:  # out of file descriptors, or no route: say which
                self.kill(server, f"{UNASKED} ({exc.strerror or exc})")
                self.finish(index, server.dead or UNASKED)
                return
            self.selector.register(sock, selectors.EVENT_READ, server)
        qid = server.free_id()
        wire = _query_wire(qid, dns.flags.RD if question.recursion else 0, qname, rdtype)
        deadline = time.monotonic() + self.timeout
        server.flying[qid] = _Flight(index, tries, deadline, qname, rdtype)
        self.deadlines.append((deadline, server, qid))
        self.flying += 1
        try:
            sock.send(wire)
        except BlockingIOError:
            pass  # the send buffer is full: the timeout sends it again
        except OSError as exc:
            self.kill(server, f"{UNREACHABLE} ({exc.strerror or exc})")

    def finish(self, index: int, rcode: str, records: tuple[RecordSet, ...] = ()) -> None:
        question = self.questions[index]
        self.replies[index] = Reply(question.server, question.name, question.rdtype, rcode,
                                    records)
        server = self.servers[question.server]
        server.remaining -= 1
        if server.remaining == 0 and not server.flying:
            self.hang_up(server)  # its last question: a batch over many servers keeps few open

    def kill(self, server: _Server, why: str) -> None:
        """Nobody answers there: fail what is in flight now and what would go later."""
        server.dead = why
        for flight in server.flying.values():
            self.finish(flight.index, why)
        self.flying -= len(server.flying)
        server.flying.clear()

    def drain(self, server: _Server) -> None:
        """Read every datagram waiting on the server's socket."""
        while server.sock is not None:
            try:
                data = server.sock.recv(65535)
            except BlockingIOError:
                return
            except OSError as exc:  # ICMP port unreachable: nothing listens there
                self.kill(server, f"{UNREACHABLE} ({exc.strerror or exc})")
                return
            try:
                reply = dnsreply.read(data)
            except dns.exception.DNSException:
                continue  # garbage: its question times out and is asked again
            flight = server.flying.get(reply.id)
            if flight is None or not _matches(reply, flight):
                continue  # a late reply to a question asked again since, or not ours
            del server.flying[reply.id]
            self.flying -= 1
            server.replies += 1
            index = flight.index
            if reply.flags & dns.flags.TC:
                self.truncated.append(index)
            else:
                self.finish(index, reply.rcode, reply.records)

    def expire(self) -> None:
        """Ask again what ran out of time, or give it up."""
        now = time.monotonic()
        while self.deadlines and self.deadlines[0][0] <= now:
            _, server, qid = self.deadlines.popleft()
            flight = server.flying.get(qid)
            if flight is None or flight.deadline > now:
                continue  # answered, or the id was reused by a later question
            del server.flying[qid]
            self.flying -= 1
            if flight.tries <= self.retries:
                self.send(flight.index, flight.tries + 1)
                continue
            self.finish(flight.index, TIMEOUT)
            server.given_up += 1
            if server.replies == 0 and server.given_up >= DEAD_AFTER:
                self.kill(server, TIMEOUT)  # silent from the start: do not wait for each

    def wait(self) -> None:
        """Block until a socket is readable or the next deadline passes."""
        delay = self.deadlines[0][0] - time.monotonic() if self.deadlines else self.timeout
        for key, _ in self.selector.select(max(0.0, delay)):
            self.drain(key.data)


def _ask_batch(questions: Sequence[Question], concurrency: int, timeout: float,
               retries: int) -> list[Reply]:
    batch = _Batch(questions, timeout, retries)
    waiting = deque(range(len(questions)))
    try:
        while waiting or batch.flying:
            while waiting and batch.flying < concurrency:
                batch.send(waiting.popleft(), 1)
            if batch.flying:
                batch.wait()
                batch.expire()
    finally:
        batch.close()
    _over_tcp(batch, batch.truncated)
    return [r if r is not None else Reply(q.server, q.name, q.rdtype, TIMEOUT)
            for r, q in zip(batch.replies, questions, strict=True)]


def _over_tcp(batch: _Batch, indexes: Iterable[int]) -> None:
    """Too big for UDP: ask again over TCP (rare; a few at a time)."""
    def one(index: int) -> None:
        question = batch.questions[index]
        query = dns.message.make_query(question.name, question.rdtype)
        if not question.recursion:
            query.flags &= ~dns.flags.RD
        try:
            response = dns.query.tcp(query, question.server.host, port=question.server.port,
                                     timeout=batch.timeout * 2)
        except dns.exception.Timeout:
            batch.finish(index, TIMEOUT)
        except (dns.exception.DNSException, OSError) as exc:
            batch.finish(index, f"{UNREACHABLE} (TCP: {exc})")
        else:
            batch.finish(index, dns.rcode.to_text(response.rcode()),
                         dnsreply.records_of(response))

    todo = list(indexes)
    if todo:
        with ThreadPoolExecutor(min(TCP_WORKERS, len(todo))) as pool:
            list(pool.map(one, todo))


def _allow_open_files(wanted: int) -> None:
    """A socket per server: lift the soft limit on open files toward the hard one if a batch
    needs more (thousands of Route53 zones use over two thousand nameservers)."""
    try:
        import resource
    except ImportError:  # not on a POSIX system: leave it
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# dnspython's renderer (what Message.to_wire uses) has no type hints; straight to it because
# it builds a query in two thirds of make_query + to_wire's time, on the hottest path.
_Renderer: Any = dns.renderer.Renderer


def _query_wire(qid: int, flags: int, qname: dns.name.Name,
                rdtype: dns.rdatatype.RdataType) -> bytes:
    renderer = _Renderer(qid, flags, 65535)
    renderer.add_question(qname, rdtype, dns.rdataclass.IN)
    renderer.write_header()
    wire: bytes = renderer.get_wire()
    return wire


def _matches(reply: dnsreply.ParsedReply, flight: _Flight) -> bool:
    """A reply to this very question: same id (already), QR set, same name and type."""
    return bool(reply.flags & dns.flags.QR and reply.rdtype == flight.rdtype
                and reply.qname == flight.qname)
