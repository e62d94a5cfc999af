"""Gather the facts: DNS on every authoritative nameserver, Route53, Twilio, the served
certificate. Sources are asked concurrently; what cannot be asked is recorded, not raised."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from drift.facts import DNS_TYPES, DomainFacts, Route53Set, ServedCertificate, StackFacts
from linkshortening import dnsquery
from linkshortening.config import DomainSpec, Stack
from linkshortening.dnsengine import Question, ask_all
from linkshortening.names import normalize
from linkshortening.rfc2136 import Endpoint
from linkshortening.targets import CNAME_TARGET

if TYPE_CHECKING:
    from linkshortening.twilio_api import LinkShorteningApi

TLS_ENDPOINT_ENV = "LSCTL_TLS_ENDPOINT"  # host:port to connect to instead of the domain:443
SOURCES = ("dns", "route53", "twilio", "tls")
FAILED_RCODES = ("TIMEOUT", "REFUSED", "SERVFAIL")


def probe(stack: Stack, specs: Sequence[DomainSpec], skip: Sequence[str] = (),
          workers: int = 32) -> StackFacts:
    """Every source not in `skip`, for every domain in `specs`."""
    facts = [DomainFacts(spec) for spec in specs]
    unreachable: list[tuple[str, str]] = []
    target_ips: tuple[str, ...] | None = None
    with ThreadPoolExecutor(max(4, workers)) as pool:
        jobs = []
        if "twilio" not in skip:
            jobs.append(pool.submit(_twilio_all, facts, pool))
        if "tls" not in skip:
            jobs.append(pool.submit(_each, pool, facts, _served))
        if "route53" not in skip:
            jobs.append(pool.submit(_route53_all, facts))
        if "dns" not in skip:
            _dns(facts)  # asyncio on this thread while the others run on the pool
            try:
                target_ips = dnsquery.lookup(CNAME_TARGET, "A")
            except dnsquery.DnsLookupError as exc:
                unreachable.append(("resolver", f"{CNAME_TARGET} A: {exc}"))
        for job in jobs:
            job.result()
    return StackFacts(facts, target_ips, unreachable)


def _each(pool: ThreadPoolExecutor, facts: list[DomainFacts],
          step: Callable[[DomainFacts], None]) -> None:
    list(pool.map(step, facts))


# --- DNS -----------------------------------------------------------------------------------


def _dns(facts: list[DomainFacts]) -> None:
    servers: dict[str, tuple[Endpoint, ...]] = {}
    for zone in {f.spec.zone for f in facts}:
        try:
            servers[zone] = dnsquery.nameservers(zone)
        except dnsquery.DnsLookupError as exc:
            for item in (f for f in facts if f.spec.zone == zone):
                item.unreachable.append((f"nameservers of {zone}", str(exc)))
    questions: list[tuple[DomainFacts, Question]] = []
    for item in facts:
        spec = item.spec
        for server in servers.get(spec.zone, ()):
            for rdtype in DNS_TYPES:
                questions.append((item, Question(server, spec.fqdn, rdtype)))
            questions.append((item, Question(server, f"_acme-challenge.{spec.fqdn}", "TXT")))
        if spec.zone in servers:  # the CAA climb, from the domain up to its zone's apex
            for name in _climb(spec.fqdn, spec.zone):
                questions.append((item, Question(servers[spec.zone][0], name, "CAA")))
    answers = ask_all([q for _, q in questions])
    climbs: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
    for (item, question), answer in zip(questions, answers, strict=True):
        where = str(question.server)
        if answer.rcode in FAILED_RCODES or answer.rcode.startswith("UNREACHABLE"):
            source = f"nameserver {where}"
            if (source, answer.rcode) not in item.unreachable:
                item.unreachable.append((source, answer.rcode))
            continue
        if question.rdtype == "CAA":
            climbs.setdefault(id(item), []).append((question.name, answer.values))
            continue
        item.answers.setdefault(where, {})[question.rdtype] = answer
    for item in facts:
        found = next(((name, values) for name, values in climbs.get(id(item), []) if values),
                     None)
        if found:
            item.caa_at, item.caa = found[0], found[1]


def _climb(fqdn: str, zone: str) -> list[str]:
    labels = fqdn.split(".")
    names = [".".join(labels[i:]) for i in range(len(labels))]
    return names[:names.index(zone) + 1] if zone in names else [fqdn]


# --- Route53 -------------------------------------------------------------------------------


def _route53_all(facts: list[DomainFacts]) -> None:
    ours = [f for f in facts if f.spec.dns is not None and f.spec.dns.provider == "route53"]
    if not ours:
        return
    from botocore.exceptions import BotoCoreError, ClientError

    from linkshortening.route53 import Route53Error, find_zone_id, route53_client

    try:
        client = route53_client()
        zone_ids: dict[str, str] = {}
        for item in ours:
            settings = item.spec.dns
            assert settings is not None
            zone_id = (settings.hosted_zone_id or "").removeprefix("/hostedzone/") or \
                zone_ids.get(item.spec.zone) or find_zone_id(client, item.spec.zone)
            zone_ids[item.spec.zone] = zone_id
            item.route53 = _record_sets(client, zone_id, item.spec.fqdn)
    except (Route53Error, OSError, BotoCoreError, ClientError) as exc:
        for item in ours:
            if item.route53 is None:
                item.unreachable.append(("Route53", str(exc)))


def _record_sets(client: Any, zone_id: str, fqdn: str) -> dict[str, Route53Set]:
    found: dict[str, Route53Set] = {}
    pages = client.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=zone_id, StartRecordName=fqdn)
    for page in pages:
        for rrset in page["ResourceRecordSets"]:
            name = normalize(rrset["Name"])
            if name != fqdn:
                return found  # sorted by name: past ours, nothing more to read
            if rrset["Type"] in DNS_TYPES:
                found[rrset["Type"]] = Route53Set(
                    rrset["Type"], rrset.get("TTL"),
                    tuple(sorted(r["Value"].rstrip(".")
                                 for r in rrset.get("ResourceRecords", []))))
    return found


# --- Twilio --------------------------------------------------------------------------------


def _twilio_all(facts: list[DomainFacts], pool: ThreadPoolExecutor) -> None:
    from linkshortening.secrets import MissingSecret
    from linkshortening.twilio_api import LinkShorteningApi
    from linkshortening.twilio_errors import TwilioSetupError

    try:
        api = LinkShorteningApi.from_env()
    except (TwilioSetupError, MissingSecret) as exc:
        for item in facts:
            item.unreachable.append(("Twilio", str(exc)))
        return
    list(pool.map(lambda item: _twilio(api, item), facts))


def _twilio(api: LinkShorteningApi, item: DomainFacts) -> None:
    from drift.facts import TwilioFacts
    from linkshortening.twilio_errors import TwilioApiError

    sid = item.spec.domain_sid
    try:
        validation = api.validate_dns(sid)
        try:
            cert = api.fetch_certificate(sid, api_version=1)
            expires = cert.date_expires if cert.certificate_sid or cert.date_expires else None
            pending = cert.cert_in_validation.status if cert.cert_in_validation else None
        except TwilioApiError as exc:
            if exc.status != 404:
                raise
            expires, pending = None, None
        config = api.fetch_config(sid)
        associations: dict[str, str | None] = {}
        for service in item.spec.messaging_service_sids:
            try:
                associations[service] = api.fetch_messaging_service_domain(service).domain_sid
            except TwilioApiError as exc:
                if exc.status != 404:
                    raise
                associations[service] = None
    except TwilioApiError as exc:
        item.unreachable.append(("Twilio", str(exc)))
        return
    item.twilio = TwilioFacts(
        validation.is_valid, validation.reason, expires, pending,
        {"fallback_url": config.fallback_url, "callback_url": config.callback_url,
         "continue_on_failure": config.continue_on_failure,
         "disable_https": config.disable_https}, associations)


# --- the served certificate ----------------------------------------------------------------


def _served(item: DomainFacts) -> None:
    from cryptography import x509

    from linkshortening.preflight import certificate_names

    endpoint = os.environ.get(TLS_ENDPOINT_ENV)
    host, port = (Endpoint.parse(endpoint).host, Endpoint.parse(endpoint).port) if endpoint \
        else (item.spec.fqdn, 443)
    # We inspect what is served, whoever signed it (expiry and names are checked by us), so
    # this one connection does not verify; it sends no data and trusts nothing it reads.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=item.spec.fqdn) as conn:
            der = conn.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        item.unreachable.append((f"TLS {host}:{port}", str(exc)))
        return
    if der is None:
        item.unreachable.append((f"TLS {host}:{port}", "no certificate was served"))
        return
    cert = x509.load_der_x509_certificate(der)
    item.served = ServedCertificate(tuple(certificate_names(cert)),
                                    cert.not_valid_after_utc.astimezone(dt.UTC))
