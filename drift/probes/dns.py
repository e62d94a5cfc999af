"""The DNS probe: each zone's authoritative nameservers through the resolver, then every one of
them asked directly about each domain (A, AAAA, the alias they show, leftover challenge TXT,
the DNS-PERSIST-01 record, the CAA climb), in four batches of the DNS engine whatever the
number of domains."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drift.facts import CaaFacts, DnsFacts, Probed, ServerAnswers, Unreachable
from linkshortening.common.names import normalize
from linkshortening.dns import query as dnsquery
from linkshortening.dns.engine import Question, Reply, ask_all
from linkshortening.dns.rfc2136 import Endpoint
from linkshortening.stack.model import DomainSpec
from linkshortening.stack.persist_record import CHALLENGE, bases, record_name
from linkshortening.stack.targets import TwilioTargets

Ask = Callable[[Sequence[Question]], list[Reply]]


@dataclass(frozen=True)
class Nameserver:
    label: str  # "ns1.example.com (192.0.2.1:53)": what findings call it
    endpoint: Endpoint


@dataclass(frozen=True)
class Delegations:
    """What the resolver says: each zone's nameservers, and Twilio's published target."""

    servers: dict[str, tuple[Nameserver, ...]]  # zone -> its nameservers with an address
    lost: dict[str, tuple[Unreachable, ...]]  # zone -> why (some of) its servers are unknown
    undelegated: dict[str, tuple[str, str]]  # zone -> (NXDOMAIN or "no NS records", where)
    target_ips: tuple[str, ...] | None
    target_lost: tuple[Unreachable, ...]


@dataclass(frozen=True)
class DnsProbe:
    domains: dict[str, Probed[DnsFacts]]
    target_ips: tuple[str, ...] | None  # Twilio's CNAME target's A records, via the resolver
    unreachable: tuple[Unreachable, ...]  # the resolver, for what is not one domain's


def resolver_endpoint() -> Endpoint | None:
    """$LSCTL_DNS_RESOLVER, else the system's first resolver (/etc/resolv.conf)."""
    configured = os.environ.get(dnsquery.RESOLVER_ENV)
    if configured:
        return Endpoint.parse(configured)
    system = dnsquery.resolver()
    for server in system.nameservers:
        try:
            ipaddress.ip_address(str(server))
        except ValueError:
            continue  # a DNS-over-HTTPS URL or the like: not for plain UDP questions
        return Endpoint(str(server), system.port)
    return None


def probe(specs: Sequence[DomainSpec], targets: TwilioTargets, ask: Ask = ask_all) -> DnsProbe:
    resolver = resolver_endpoint()
    if resolver is None:
        lost = Unreachable("dns", "resolver", "none configured",
                           setting=f"{dnsquery.RESOLVER_ENV}=host[:port]")
        return DnsProbe({s.fqdn: Probed(None, (lost,)) for s in specs}, None, (lost,))
    delegations = _delegations(specs, targets, resolver, ask)
    servers = delegations.servers
    questions = _Questions()
    for spec in specs:
        if spec.zone in servers:
            _ask_about(questions, spec, servers[spec.zone], resolver)
    replies = questions.ask(ask)
    # RFC 8659 chases an alias: a domain that is a CNAME to Twilio has Twilio's CAA, if any.
    aliases = _Questions()
    for spec in specs:
        for server in servers.get(spec.zone, ()):
            alias = replies.get((server.endpoint, spec.fqdn, "CAA"))
            target = alias.get("CNAME") if alias else None
            if target and normalize(target.values[0]) == normalize(targets.cname_target):
                aliases.add(Question(resolver, normalize(target.values[0]), "CAA", True))
    replies.update(aliases.ask(ask))
    domains: dict[str, Probed[DnsFacts]] = {}
    for spec in specs:
        missing = delegations.lost.get(spec.zone, ())
        if spec.zone in delegations.undelegated:
            domains[spec.fqdn] = Probed(DnsFacts((), (), delegations.undelegated[spec.zone]))
            continue
        domains[spec.fqdn] = Probed(None, missing) if spec.zone not in servers else \
            _facts(spec, servers[spec.zone], resolver, replies, missing)
    return DnsProbe(domains, delegations.target_ips, delegations.target_lost)


class _Questions:
    """Questions asked once each, however many domains need the answer (a zone apex's CAA)."""

    def __init__(self) -> None:
        self.questions: dict[tuple[Endpoint, str, str], Question] = {}

    def add(self, question: Question) -> None:
        self.questions.setdefault((question.server, question.name, question.rdtype), question)

    def ask(self, ask: Ask) -> dict[tuple[Endpoint, str, str], Reply]:
        keys = list(self.questions)
        return dict(zip(keys, ask([self.questions[k] for k in keys]), strict=True))


def _delegations(specs: Sequence[DomainSpec], targets: TwilioTargets, resolver: Endpoint,
                 ask: Ask) -> Delegations:
    """Each zone's nameservers by address, and Twilio's target, through the resolver: two
    batches (the NS sets, then each distinct nameserver's address)."""
    where = f"resolver {resolver}"
    zones = sorted({s.zone for s in specs})
    replies = ask([Question(resolver, z, "NS", True) for z in zones]
                  + [Question(resolver, targets.cname_target, "A", True)])
    target = replies.pop()
    target_ips = _values(target, "A") if target.answered else ()
    target_lost = () if target_ips else (_unresolved(targets.cname_target, target, where),)
    hosts: dict[str, tuple[str, ...]] = {}
    lost: dict[str, tuple[Unreachable, ...]] = {}
    undelegated: dict[str, tuple[str, str]] = {}
    for zone, reply in zip(zones, replies, strict=True):
        names = _values(reply, "NS")
        if not reply.answered:
            lost[zone] = (Unreachable("dns", where, f"nameservers of {zone}: {reply.rcode}"),)
        elif not names:  # the resolver answered: no such zone is a finding, not a lost source
            answer = "NXDOMAIN" if reply.rcode == "NXDOMAIN" else "no NS records"
            undelegated[zone] = (answer, where)
        else:
            hosts[zone] = names
    distinct = sorted({h for names in hosts.values() for h in names})
    addresses = dict(zip(distinct, ask([Question(resolver, h, "A", True) for h in distinct]),
                         strict=True))
    port = dnsquery.authoritative_port()
    servers: dict[str, tuple[Nameserver, ...]] = {}
    for zone, names in hosts.items():
        found, missing = [], []
        for host in names:
            ips = _values(addresses[host], "A")
            found += [Nameserver(f"{host} ({ip}:{port})", Endpoint(ip, port)) for ip in ips]
            if not ips:
                why = addresses[host].rcode if not addresses[host].answered else "no A record"
                missing.append(Unreachable("dns", f"nameserver {host}",
                                           f"no address ({why})"))
        if found:
            servers[zone] = tuple(sorted(found, key=lambda n: n.label))
        lost[zone] = tuple(missing) if found else (*missing, Unreachable(
            "dns", where, f"no nameserver of {zone} has an address"))
    return Delegations(servers, lost, undelegated, target_ips or None, target_lost)


def _unresolved(name: str, reply: Reply, where: str) -> Unreachable:
    """Twilio's target without addresses: the resolver failed (or answers for a private view),
    since Twilio publishes it; the IP check cannot be made, it has not found new IPs."""
    said = reply.rcode if reply.rcode != "NOERROR" else "no A records"
    return Unreachable("dns", where, f"Twilio's target {name} could not be resolved ({said}, "
                                     "asked A): check the resolver (LSCTL_DNS_RESOLVER)")


def _values(reply: Reply, rdtype: str) -> tuple[str, ...]:
    """Values of `rdtype` anywhere in the answer (a resolver may have followed a CNAME)."""
    return tuple(sorted(normalize(v) if rdtype in ("NS", "CNAME") else v
                        for r in reply.records if r.type == rdtype for v in r.values))


def _climb(name: str, zone: str) -> tuple[list[str], list[str]]:
    """RFC 8659's climb from `name` toward the root: the names in the zone (asked of its
    nameservers) and those above it up to, not including, the top-level domain (asked of the
    resolver; a TLD publishing CAA is unheard of, and the sandbox's resolver knows none)."""
    labels = name.split(".")
    names = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    inside = [n for n in names if n == zone or n.endswith("." + zone)]
    return inside, [n for n in names if n not in inside]


def _bases(spec: DomainSpec) -> list[str]:
    """The names whose CAA governs the certificate: the domain, and each SAN's (a wildcard's
    base is the name under the star)."""
    return list(dict.fromkeys(n.removeprefix("*.") for n in spec.names))


def _ask_about(questions: _Questions, spec: DomainSpec, servers: tuple[Nameserver, ...],
               resolver: Endpoint) -> None:
    for server in servers:
        for rdtype in ("A", "AAAA"):
            questions.add(Question(server.endpoint, spec.fqdn, rdtype))
        questions.add(Question(server.endpoint, f"_acme-challenge.{spec.fqdn}", "TXT"))
        for name in _persist_names(spec):
            questions.add(Question(server.endpoint, name, "TXT"))
        for base in _bases(spec):
            for name in _climb(base, spec.zone)[0]:
                questions.add(Question(server.endpoint, name, "CAA"))
    for base in _bases(spec):
        for name in _climb(base, spec.zone)[1]:
            questions.add(Question(resolver, name, "CAA", True))


def _persist_names(spec: DomainSpec) -> list[str]:
    """The _validation-persist names of a dns-persist-01 domain (none for dns-01)."""
    return [record_name(b) for b, _ in bases(spec)] if spec.challenge == CHALLENGE else []


Replies = dict[tuple[Endpoint, str, str], Reply]


def _facts(spec: DomainSpec, servers: tuple[Nameserver, ...], resolver: Endpoint,
           replies: Replies, lost: tuple[Unreachable, ...]) -> Probed[DnsFacts]:
    answers, unreachable = [], list(lost)
    for server in servers:
        mine = [replies[(server.endpoint, spec.fqdn, t)] for t in ("A", "AAAA")]
        mine.append(replies[(server.endpoint, f"_acme-challenge.{spec.fqdn}", "TXT")])
        persist = [replies[(server.endpoint, n, "TXT")] for n in _persist_names(spec)]
        mine += persist
        mine += [replies[(server.endpoint, n, "CAA")]
                 for b in _bases(spec) for n in _climb(b, spec.zone)[0]]
        failed = next((r for r in mine if not r.answered), None)
        if failed is not None:
            # Not the name: a dead server is then one line for all its domains, not one each.
            unreachable.append(Unreachable("dns", f"nameserver {server.label}",
                                           f"{failed.rcode}, asked {failed.type}"))
            continue
        a, aaaa, txt = mine[:3]
        challenge = txt.get("TXT")
        answers.append(ServerAnswers(server.label, a.get("A"), aaaa.get("AAAA"),
                                     a.get("CNAME") or aaaa.get("CNAME"),
                                     challenge.values if challenge else (),
                                     tuple((r.name, _txt(r)) for r in persist)))
    caa = []
    for base in _bases(spec):
        found = _relevant_caa(base, spec.zone, servers, resolver, replies)
        if isinstance(found, Unreachable):
            unreachable.append(found)
        elif found is not None:
            caa.append(found)
    return Probed(DnsFacts(tuple(answers), tuple(caa)), tuple(dict.fromkeys(unreachable)))


def _txt(reply: Reply) -> tuple[str, ...]:
    found = reply.get("TXT")
    return found.values if found else ()


def _relevant_caa(base: str, zone: str, servers: tuple[Nameserver, ...], resolver: Endpoint,
                  replies: Replies) -> CaaFacts | Unreachable | None:
    """The first non-empty CAA set climbing from `base`, as the first nameserver that answered
    the whole climb says it; None when no nameserver did (each is reported already)."""
    inside, above = _climb(base, zone)
    for server in servers:
        climb = [replies[(server.endpoint, n, "CAA")] for n in inside]
        if not all(r.answered for r in climb):
            continue
        for reply in climb:
            found = reply.get("CAA")
            if found:
                return CaaFacts(base, reply.name, found.values, f"nameserver {server.label}")
            alias = reply.get("CNAME")
            chased = replies.get((resolver, alias.values[0], "CAA")) if alias else None
            if chased is None:
                continue  # not an alias (or not to Twilio: that is its own finding)
            if not chased.answered:
                return Unreachable("dns", f"resolver {resolver}",
                                   f"{chased.name} CAA: {chased.rcode}")
            if _values(chased, "CAA"):
                return CaaFacts(base, f"{chased.name} (alias of {reply.name})",
                                _values(chased, "CAA"), f"resolver {resolver}")
        for name in above:
            reply = replies[(resolver, name, "CAA")]
            if not reply.answered:
                return Unreachable("dns", f"resolver {resolver}", f"{name} CAA: {reply.rcode}")
            values = _values(reply, "CAA")
            if values:
                return CaaFacts(base, name, values, f"resolver {resolver}")
        return CaaFacts(base, None, (), f"nameserver {server.label}")
    return None
