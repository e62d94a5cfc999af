"""`lsctl import`: read a zone (Route53, or AXFR from an RFC 2136 server) and write a new stack
file declaring the Link Shortening domains it holds, plus the `pulumi import` file that puts
their existing Route53 records under Pulumi without recreating them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linkshortening.cli.import_render import FoundDomain, TwilioSide
    from linkshortening.dns.zonedata import ZoneRecord
    from linkshortening.stack.model import DnsSettings
    from linkshortening.twilio.api import LinkShorteningApi

EXIT_NOTHING = 1
SERVER_ENV = "LSCTL_RFC2136_SERVER"  # what `lsctl sandbox env` and the renewer use

EPILOG = """\
A Link Shortening domain is the zone's apex with exactly Twilio's A records, or a name with a
CNAME to lsct.ashburn.us1.twilio.com. With Twilio credentials in the environment
(TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN or TWILIO_API_KEY/TWILIO_API_SECRET), each domain given
with --domain-sid also gets Twilio's settings (Twilio has no call that lists domains).

exit status: 0 written, 1 no Link Shortening domain in the zone, 2 setup or input error."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--stack", required=True, metavar="NEW",
                        help="name of the new stack (writes stacks/Pulumi.NEW.yaml)")
    parser.add_argument("--zone", required=True, help="the DNS zone to read")
    parser.add_argument("--dns", choices=("route53", "rfc2136"), default="route53",
                        help="where the zone is (default route53)")
    parser.add_argument("--hosted-zone-id", help="Route53 hosted zone (default: found by name)")
    parser.add_argument("--server", metavar="HOST:PORT",
                        help=f"RFC 2136 primary to transfer the zone from (default ${SERVER_ENV})")
    parser.add_argument("--tsig-key-name", help="TSIG key allowed to transfer the zone")
    parser.add_argument("--tsig-algorithm", default="hmac-sha256",
                        help="TSIG algorithm (default hmac-sha256)")
    parser.add_argument("--tsig-secret-env", default="LSCTL_TSIG_SECRET", metavar="VAR",
                        help="variable holding the TSIG secret (or VAR_FILE; default "
                             "LSCTL_TSIG_SECRET)")
    parser.add_argument("--domain-sid", action="append", default=[], metavar="FQDN=DN...",
                        help="a domain's Twilio Domain SID (repeatable)")
    parser.add_argument("--messaging-service", action="append", default=[], metavar="MG...",
                        help="a Messaging Service to look up: it is listed under the domain "
                             "it uses (repeatable; needs Twilio credentials)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the stack file here instead of stacks/Pulumi.NEW.yaml")


def run(args: argparse.Namespace) -> int:
    from linkshortening.cli.import_render import find_domains
    from linkshortening.common.names import normalize
    from linkshortening.stack.targets import TwilioTargets

    zone = normalize(args.zone)
    sids = _domain_sids(args.domain_sid)
    output = _output_path(args)
    settings = _dns_settings(args)
    records, zone_id = _read_zone(zone, settings)
    domains, notes = find_domains(zone, records, TwilioTargets())
    for note in notes:
        print(f"lsctl import: {note}", file=sys.stderr)
    if not domains:
        print(f"lsctl import: no Link Shortening domain in {zone} (no apex with exactly "
              "Twilio's A records, no CNAME to Twilio's target); nothing written",
              file=sys.stderr)
        return EXIT_NOTHING
    unknown = sorted(set(sids) - {d.fqdn for d in domains})
    if unknown:
        raise _usage(f"--domain-sid names {', '.join(unknown)}, which is not a Link "
                     f"Shortening domain of {zone} (found: "
                     f"{', '.join(d.fqdn for d in domains)})")
    _twilio(domains, sids, args.messaging_service, notes)
    _write(args.stack, zone, settings, zone_id, domains, notes, output)
    return 0


def _usage(message: str) -> Exception:
    from linkshortening.stack.errors import ConfigError

    return ConfigError("lsctl import", "", message, "see lsctl import --help")


def _domain_sids(pairs: list[str]) -> dict[str, str]:
    from linkshortening.common.names import normalize
    from linkshortening.stack.values import DOMAIN_SID

    sids = {}
    for pair in pairs:
        fqdn, _, sid = pair.partition("=")
        if not fqdn or not DOMAIN_SID.fullmatch(sid):
            raise _usage(f"--domain-sid {pair!r} is not FQDN=DN followed by 32 hex digits")
        sids[normalize(fqdn)] = sid
    return sids


def _output_path(args: argparse.Namespace) -> Path:
    from linkshortening.common.files import OutputPathError, check_output_path
    from linkshortening.stack.load import stack_path

    path = Path(args.output) if args.output else stack_path(args.stack)
    if path.exists():
        raise OutputPathError(f"output {path} exists; lsctl import never overwrites a stack "
                              "file. Fix: choose another --stack name or --output, or move "
                              "the file away")
    check_output_path(path)
    return path


def _dns_settings(args: argparse.Namespace) -> DnsSettings:
    from linkshortening.stack.model import DnsSettings
    from linkshortening.stack.parse import TSIG_ALGORITHMS

    if args.dns == "route53":
        return DnsSettings("route53", hosted_zone_id=args.hosted_zone_id)
    server = args.server or os.environ.get(SERVER_ENV)
    if not server:
        raise _usage(f"--dns rfc2136 needs --server HOST:PORT (or ${SERVER_ENV})")
    if not args.tsig_key_name:
        raise _usage("--dns rfc2136 needs --tsig-key-name, the key allowed to transfer "
                     "the zone")
    if args.tsig_algorithm not in TSIG_ALGORITHMS:
        raise _usage(f"--tsig-algorithm {args.tsig_algorithm!r} is not one of "
                     f"{', '.join(TSIG_ALGORITHMS)}")
    return DnsSettings("rfc2136", server=server, tsig_key_name=args.tsig_key_name,
                       tsig_algorithm=args.tsig_algorithm, tsig_secret_env=args.tsig_secret_env)


def _read_zone(zone: str, settings: DnsSettings) -> tuple[list[ZoneRecord], str | None]:
    """The zone's records, and its Route53 hosted zone id (None for RFC 2136)."""
    if settings.provider == "rfc2136":
        from linkshortening.common.secrets import read_secret
        from linkshortening.dns.rfc2136 import Endpoint, TsigKey
        from linkshortening.dns.zonedata import transfer

        assert settings.server and settings.tsig_key_name
        key = TsigKey(settings.tsig_key_name, settings.tsig_algorithm,
                      read_secret(settings.tsig_secret_env,
                                  f"TSIG key {settings.tsig_key_name}"))
        return transfer(Endpoint.parse(settings.server), zone, key), None
    from botocore.exceptions import BotoCoreError, ClientError

    from linkshortening.dns.route53 import (
        Route53Error,
        find_zone_id,
        route53_client,
        zone_records,
    )

    try:
        client = route53_client()
        zone_id = (settings.hosted_zone_id or find_zone_id(client, zone)).removeprefix(
            "/hostedzone/")
        return zone_records(client, zone_id), zone_id
    except (BotoCoreError, ClientError) as exc:
        raise Route53Error(f"Route53: reading zone {zone}: {exc}") from None


def _twilio(domains: list[FoundDomain], sids: dict[str, str], services: list[str],
            notes: list[str]) -> None:
    """Twilio's settings for each domain given a DomainSid (and the services given)."""
    from linkshortening.cli.import_render import TwilioSide

    if not sids:
        if services:
            raise _usage("--messaging-service needs --domain-sid for the domain it uses")
        notes.append("no --domain-sid given: each domainSid is a placeholder")
        return
    api = _api(notes)
    by_sid = {}
    for domain in domains:
        if domain.fqdn in sids:
            domain.twilio = (_twilio_side(api, sids[domain.fqdn]) if api
                             else TwilioSide(sids[domain.fqdn]))
            by_sid[domain.twilio.domain_sid] = domain.twilio
    if services and api is None:
        raise _usage("--messaging-service needs Twilio credentials (TWILIO_ACCOUNT_SID ...)")
    for service in services:
        used = api.fetch_messaging_service_domain(service).domain_sid if api else None
        if used in by_sid:
            by_sid[used].messaging_service_sids.append(service)
        else:
            notes.append(f"Messaging Service {service} uses {used or 'no domain'}, none of "
                         "the imported ones; not listed")


def _api(notes: list[str]) -> LinkShorteningApi | None:
    if not os.environ.get("TWILIO_ACCOUNT_SID"):
        notes.append("no Twilio credentials (TWILIO_ACCOUNT_SID ...): the Twilio settings "
                     "are Twilio's defaults; check them in the Console")
        return None
    from linkshortening.twilio.api import LinkShorteningApi

    return LinkShorteningApi.from_env()


def _twilio_side(api: LinkShorteningApi, sid: str) -> TwilioSide:
    from linkshortening.cli.import_render import TwilioSide
    from linkshortening.twilio.errors import TwilioApiError

    config = api.fetch_config(sid)
    side = TwilioSide(sid, config.fallback_url, config.callback_url,
                      config.continue_on_failure, config.disable_https)
    try:
        cert = api.fetch_certificate(sid)
    except TwilioApiError as exc:
        if exc.status != 404:
            raise
        side.note = "Twilio serves no certificate yet: lsctl renew orders one"
        return side
    if cert.managed or cert.requesting:
        side.certificate = "managed"
    elif cert.date_expires:
        side.note = (f"Twilio serves a certificate expiring {cert.date_expires:%Y-%m-%d}: "
                     "lsctl renew adopts it and renews it when due (or set certificate: "
                     "external and renew it yourself with lsctl cert upload)")
    return side


def _write(stack: str, zone: str, settings: DnsSettings, zone_id: str | None,
           domains: list[FoundDomain], notes: list[str], output: Path) -> None:
    from linkshortening.cli.import_render import import_commands, pulumi_imports, stack_yaml
    from linkshortening.common.files import write_output

    if zone_id and settings.hosted_zone_id is None:
        from dataclasses import replace

        settings = replace(settings, hosted_zone_id=zone_id)
    import_file = output.with_name(output.name.removesuffix(".yaml") + ".import.json")
    document = pulumi_imports(zone_id, domains) if zone_id else None
    if document is None:
        notes.append("records in RFC 2136 zones stay the zone owner's: nothing to import "
                     "into Pulumi")
    shown = os.path.relpath(import_file) if document else None
    write_output(output, stack_yaml(stack, zone, settings, domains, shown, notes), mode=0o644)
    print(f"wrote {output}: {len(domains)} domain(s): {', '.join(d.fqdn for d in domains)}")
    if document is not None:
        write_output(import_file, json.dumps(document, indent=2) + "\n", mode=0o644)
        print(f"wrote {import_file}: the existing Route53 records, for pulumi import")
        print(f"next:\n  lsctl records --stack {stack}\n  pulumi stack init {stack}\n"
              f"  pulumi import --file {shown} --generate-code=false\n"
              "or, once the domain components exist, one at a time:")
        for command in import_commands(stack, document):
            print(f"  {command}")
