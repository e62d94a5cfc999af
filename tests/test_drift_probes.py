"""The drift checker's probes, one source at a time: the DNS engine (against BIND 9 and against
misbehaving servers), Route53 on moto, Twilio on the emulator, the served certificate on the
emulator's edge."""

from __future__ import annotations

import datetime as dt
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator

import boto3
import dns.flags
import dns.message
import dns.rrset
import pytest

from drift.checks import judge
from drift.facts import Route53Set, StackFacts
from drift.probes import dns as dns_probe
from drift.probes import route53, tls, twilio
from linkshortening.certs.served import ENDPOINT_ENV
from linkshortening.dns import engine as dnsengine
from linkshortening.dns.engine import Question, ask_all
from linkshortening.dns.rfc2136 import Endpoint, replace_rrset
from linkshortening.stack.model import DnsSettings, DomainSpec
from linkshortening.stack.targets import TwilioTargets
from sandbox.accounts import sandbox_api
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain
from tests.conftest import new_domain

# --- the DNS engine against BIND 9 ---------------------------------------------------------


def test_engine_answers_in_order_with_the_alias_it_sees(sandbox: SandboxState) -> None:
    tag = secrets.token_hex(4)
    key = sandbox.tsig_key()
    names = [f"e{i}-{tag}.lsctl.test" for i in range(3)]
    for i, name in enumerate(names):
        replace_rrset(sandbox.dns, "lsctl.test", name + ".", "A", 120, (f"192.0.2.{i}",), key)
    alias = f"alias-{tag}.lsctl.test"
    replace_rrset(sandbox.dns, "lsctl.test", alias + ".", "CNAME", 60, (names[2],), key)
    questions = [Question(sandbox.dns, names[i % 3], "A") for i in range(30)]
    questions += [Question(sandbox.dns, alias, "A"), Question(sandbox.dns, alias, "AAAA"),
                  Question(sandbox.dns, f"none-{tag}.lsctl.test", "A")]
    for processes in (1, 2):  # one core, and spread over two processes
        replies = ask_all(questions, processes=processes)
        assert processes == 1 or dnsengine._POOL is not None  # no silent fallback to one
        assert [r.answer().values for r in replies[:30]] == [
            (f"192.0.2.{i % 3}",) for i in range(30)]
        a, aaaa, missing = replies[30:]
        assert a.get("CNAME") is not None and a.get("CNAME").values == (names[2],)  # type: ignore[union-attr]
        assert a.get("A") is None and a.get("A", names[2]).values == ("192.0.2.2",)  # type: ignore[union-attr]
        assert aaaa.get("CNAME") is not None and aaaa.answer().values == ()
        assert (missing.rcode, missing.answered, missing.records) == ("NXDOMAIN", True, ())


# --- the DNS engine against servers that misbehave -----------------------------------------


class FakeServer:
    """A UDP (and TCP) DNS server on loopback whose replies a test writes."""

    def __init__(self, udp: Callable[[dns.message.Message, int], list[bytes]],
                 tcp: Callable[[dns.message.Message], bytes] | None = None) -> None:
        self.udp, self.tcp = udp, tcp
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen()
        self.seen: dict[str, int] = {}  # question name -> datagrams received
        self.stopped = False
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._serve_tcp, daemon=True).start()

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.port)

    def _serve_udp(self) -> None:
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            query = dns.message.from_wire(data)
            name = query.question[0].name.to_text(omit_final_dot=True)
            self.seen[name] = self.seen.get(name, 0) + 1
            for reply in self.udp(query, self.seen[name]):
                self.sock.sendto(reply, peer)

    def _serve_tcp(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                length = int.from_bytes(conn.recv(2), "big")
                query = dns.message.from_wire(conn.recv(length))
                assert self.tcp is not None
                reply = self.tcp(query)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def close(self) -> None:
        self.stopped = True
        self.sock.close()
        self.listener.close()


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(udp: Callable[[dns.message.Message, int], list[bytes]],
              tcp: Callable[[dns.message.Message], bytes] | None = None) -> FakeServer:
        servers.append(FakeServer(udp, tcp))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answer(query: dns.message.Message, *values: str, rdtype: str = "A") -> dns.message.Message:
    response = dns.message.make_response(query)
    name = query.question[0].name
    response.answer.append(dns.rrset.from_text(name, 60, "IN", rdtype, *values))
    return response


def test_a_dropped_question_is_asked_again(fake: Callable[..., FakeServer]) -> None:
    server = fake(lambda q, n: [] if n == 1 else [answer(q, "192.0.2.1").to_wire()])
    questions = [Question(server.endpoint, f"q{i}.example", "A") for i in range(20)]
    replies = ask_all(questions, timeout=0.2, processes=1)
    assert [r.answer().values for r in replies] == [("192.0.2.1",)] * 20
    assert set(server.seen.values()) == {2}


def test_only_the_reply_to_the_question_counts(fake: Callable[..., FakeServer]) -> None:
    def replies(query: dns.message.Message, _: int) -> list[bytes]:
        wrong_id = answer(query, "192.0.2.66")
        wrong_id.id = (query.id + 1) % 65536
        other = dns.message.make_query("other.example", "A")
        other.id = query.id
        wrong_question = answer(other, "192.0.2.67")
        return [wrong_id.to_wire(), wrong_question.to_wire(), b"\x00garbage",
                answer(query, "192.0.2.1").to_wire()]

    server = fake(replies)
    (reply,) = ask_all([Question(server.endpoint, "q.example", "A")], processes=1)
    assert reply.answer().values == ("192.0.2.1",)


def test_a_truncated_reply_is_asked_again_over_tcp(fake: Callable[..., FakeServer]) -> None:
    def truncated(query: dns.message.Message, _: int) -> list[bytes]:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.TC
        return [response.to_wire()]

    big = tuple(f'"{"x" * 200}-{i}"' for i in range(10))  # more than 512 bytes
    server = fake(truncated, lambda q: answer(q, *big, rdtype="TXT").to_wire())
    (reply,) = ask_all([Question(server.endpoint, "big.example", "TXT")], processes=1)
    assert reply.rcode == "NOERROR" and len(reply.answer().values) == 10


def test_a_closed_port_is_unreachable_at_once() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    closed = Endpoint("127.0.0.1", sock.getsockname()[1])
    sock.close()
    started = time.monotonic()
    replies = ask_all([Question(closed, f"q{i}.example", "A") for i in range(50)],
                      timeout=2, processes=1)
    assert time.monotonic() - started < 1.5  # not 50 timeouts
    assert {r.rcode.split(" ")[0] for r in replies} == {"UNREACHABLE"}
    assert not replies[0].answered


def test_a_silent_server_is_given_up_without_waiting_for_each(
        fake: Callable[..., FakeServer]) -> None:
    server = fake(lambda q, n: [])
    questions = [Question(server.endpoint, f"q{i}.example", "A") for i in range(200)]
    started = time.monotonic()
    replies = ask_all(questions, concurrency=4, timeout=0.1, retries=1, processes=1)
    assert time.monotonic() - started < 2  # one window's worth of waiting, not 200/4 of them
    assert {r.rcode for r in replies} == {"TIMEOUT"}


def test_more_servers_than_select_can_watch() -> None:
    """Thousands of Route53 zones use over two thousand nameservers: a socket each, watched
    by epoll (select() stops at descriptor 1024)."""
    servers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(1100)]
    selector = selectors.DefaultSelector()
    for sock in servers:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for key, _ in selector.select(0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data, peer = sock.recvfrom(512)
                sock.sendto(answer(dns.message.from_wire(data), "192.0.2.1").to_wire(), peer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        endpoints = [Endpoint("127.0.0.1", s.getsockname()[1]) for s in servers]
        questions = [Question(e, f"q{i}.example", "A") for i in range(2) for e in endpoints]
        replies = ask_all(questions, processes=1)
        assert {r.answer().values for r in replies} == {("192.0.2.1",)}
    finally:
        stop.set()
        selector.close()
        for sock in servers:
            sock.close()


# --- the DNS probe -------------------------------------------------------------------------


def test_dns_probe_names_the_zone_nobody_serves(sandbox_env: SandboxState) -> None:
    spec = DomainSpec("nowhere.test", "nowhere.test", "DN" + "0" * 32)
    result = dns_probe.probe([spec], TwilioTargets())
    (lost,) = result.domains["nowhere.test"].unreachable
    assert (lost.probe, lost.source, lost.detail) == (
        "dns", f"resolver {sandbox_env.dns}", "nameservers of nowhere.test: REFUSED")
    assert result.target_ips is not None and len(result.target_ips) == 3


def test_an_unresolved_twilio_target_is_the_resolvers_failure_not_new_ips(
        sandbox_env: SandboxState) -> None:
    """BIND answers NXDOMAIN for a target that does not exist: the IP check cannot be made
    (said, with the resolver), and nothing claims Twilio changed its IPs."""
    targets = TwilioTargets(cname_target="no-such-target.lsctl.test")
    result = dns_probe.probe([DomainSpec("lsctl.test", "lsctl.test", "DN" + "0" * 32)], targets)
    (lost,) = result.unreachable
    assert (lost.source, result.target_ips) == (f"resolver {sandbox_env.dns}", None)
    assert lost.detail.startswith("Twilio's target no-such-target.lsctl.test could not be "
                                  "resolved (NXDOMAIN, asked A)")
    facts = StackFacts((), result.target_ips, result.unreachable)
    assert judge(facts, targets) == []  # not twilio-ips-changed


def test_the_tls_source_names_the_port_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    (lost,) = tls.probe([DomainSpec("localhost", "localhost", "DN" + "0" * 32)])[
        "localhost"].unreachable  # nothing listens on 443 here
    assert lost.source == "TLS localhost:443"


def test_dns_probe_climbs_for_caa_and_follows_the_alias_to_twilio(
        sandbox_env: SandboxState) -> None:
    tag = secrets.token_hex(4)
    key = sandbox_env.tsig_key()
    sub = f"c{tag}.lsctl.test"
    replace_rrset(sandbox_env.dns, "lsctl.test", f"x.{sub}.", "CAA", 60,
                  ('0 issue "pki.goog"',), key)
    replace_rrset(sandbox_env.dns, "lsctl.test", f"y.{sub}.", "CNAME", 60,
                  ("lsct.ashburn.us1.twilio.com",), key)
    specs = [DomainSpec(f"x.{sub}", "lsctl.test", "DN" + "0" * 32),
             DomainSpec(f"y.{sub}", "lsctl.test", "DN" + "1" * 32)]
    result = dns_probe.probe(specs, TwilioTargets())
    x, y = (result.domains[s.fqdn].value for s in specs)
    assert x is not None and y is not None
    assert (x.caa[0].found_at, x.caa[0].records) == (f"x.{sub}", ('0 issue "pki.goog"',))
    assert y.servers[0].cname is not None
    assert (y.caa[0].found_at, y.caa[0].records) == (None, ())  # nothing up to lsctl.test


# --- Route53 -------------------------------------------------------------------------------


def route53_spec(fqdn: str, zone: str, zone_id: str | None = None) -> DomainSpec:
    return DomainSpec(fqdn, zone, "DN" + "0" * 32,
                      dns=DnsSettings(provider="route53", hosted_zone_id=zone_id))


def test_route53_probe_reads_big_zones_by_name_and_small_ones_whole(
        sandbox_env: SandboxState) -> None:
    client = boto3.client("route53")
    big = f"big{secrets.token_hex(3)}.test"
    zone_id = client.create_hosted_zone(Name=big, CallerReference=big)["HostedZone"]["Id"]
    changes: list[dict[str, object]] = [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": f"h{i:03}.{big}.", "Type": "A", "TTL": 300,
            "ResourceRecords": [{"Value": "192.0.2.1"}]}} for i in range(320)]
    changes.append({"Action": "CREATE", "ResourceRecordSet": {
        "Name": f"go.{big}.", "Type": "CNAME", "TTL": 60,
        "ResourceRecords": [{"Value": "LSCT.ashburn.us1.twilio.com."}]}})
    client.change_resource_record_sets(HostedZoneId=zone_id,
                                       ChangeBatch={"Changes": changes})  # type: ignore[typeddict-item]
    small = f"small{secrets.token_hex(3)}.test"
    client.create_hosted_zone(Name=small, CallerReference=small)
    found = route53.probe([route53_spec(f"go.{big}", big),
                           route53_spec(f"h100.{big}", big, zone_id),
                           route53_spec(small, small),
                           route53_spec("elsewhere.example", "elsewhere.example"),
                           DomainSpec("plain.test", "plain.test", "DN" + "0" * 32)])
    assert found[f"go.{big}"].value == (
        Route53Set("CNAME", 60, ("lsct.ashburn.us1.twilio.com",)),)
    assert found[f"h100.{big}"].value == (Route53Set("A", 300, ("192.0.2.1",)),)
    assert found[small].value == ()  # the zone holds no record at its apex yet
    (lost,) = found["elsewhere.example"].unreachable
    assert (lost.source, found["elsewhere.example"].value) == ("Route53", None)
    assert "plain.test" not in found  # not a Route53 domain


# --- Twilio and the served certificate -----------------------------------------------------


@pytest.mark.usefixtures("test_ca_trusted")
def test_twilio_and_tls_probes(sandbox_env: SandboxState, emulator: EmulatorControl) -> None:
    sid, name = new_domain(emulator)
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=50)
    api = sandbox_api(sandbox_env)
    api.upload_certificate(sid, make_chain((name,), not_after=later).tls_cert)
    assert all(r.ok for r in api.wait_for_validation([sid], timeout=10, poll_interval=0.1))
    failing_sid, failing = new_domain(emulator)
    emulator.configure(fail_validation=True, validation_delay=0)
    api.upload_certificate(failing_sid, make_chain((failing,)).tls_cert)
    specs = [DomainSpec(name, "lsctl.test", sid), DomainSpec(failing, "lsctl.test", failing_sid),
             DomainSpec("unknown.lsctl.test", "lsctl.test", "DN" + "f" * 32)]
    facts = twilio.probe(specs)
    known = facts[name].value
    assert known is not None and known.certificate_expires == later
    assert (known.validation_status, known.dns_valid) == (None, False)  # no records for it
    failed = facts[failing].value
    assert failed is not None and failed.validation_failed and failed.certificate_expires is None
    unknown = facts["unknown.lsctl.test"].value
    assert unknown is not None and not unknown.domain_known
    served = tls.probe(specs[:1])[name].value
    assert served is not None and served.names == (name,) and served.not_after == later


def test_tls_probe_names_the_endpoint_it_could_not_reach(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv(ENDPOINT_ENV, f"127.0.0.1:{port}")
    (lost,) = tls.probe([DomainSpec("a.example.com", "example.com", "DN" + "0" * 32)])[
        "a.example.com"].unreachable
    assert (lost.probe, lost.source) == ("tls", f"TLS a.example.com at 127.0.0.1:{port}")
