"""`lsctl import`, the pure half: which records of a zone are Link Shortening domains, and
the stack file and `pulumi import` file that declare them as they are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from linkshortening.common.names import normalize
from linkshortening.dns.zonedata import ZoneRecord
from linkshortening.stack.model import DnsSettings
from linkshortening.stack.targets import DEFAULT_TTL, TwilioTargets
from linkshortening.stack.values import VERIFICATION_TXT


# A valid-looking DomainSid that Twilio never issues: the file loads, and the comment beside
# it says where the real one is.
def placeholder_sid(index: int) -> str:
    """A well-formed Domain SID that is obviously not Twilio's, one per domain (a stack
    refuses one SID on two domains)."""
    return f"DN{index:032x}"
VERIFICATION_LABEL = "_twilio"  # components/domain.py: Twilio's TXT at _twilio.<fqdn>
RECORD_TYPE = "aws:route53/record:Record"
DOMAIN_TYPE = "lsctl:index:LinkShorteningDomain"
PROJECT = "lsctl"  # Pulumi.yaml's name: part of every URN
MIN_TTL, MAX_TTL = 30, 86400  # what the stack file accepts


@dataclass
class TwilioSide:
    """What Twilio says about one domain (given its DomainSid)."""

    domain_sid: str
    fallback_url: str | None = None
    callback_url: str | None = None
    continue_on_failure: bool | None = None
    disable_https: bool | None = None
    certificate: str | None = None  # "managed" when Twilio manages it
    note: str | None = None  # a comment for the file, e.g. the certificate Twilio serves
    messaging_service_sids: list[str] = field(default_factory=list)


@dataclass
class FoundDomain:
    """A Link Shortening domain found in the zone, with the records that make it one."""

    fqdn: str
    record: ZoneRecord  # the apex A set or the CNAME
    verification: ZoneRecord | None = None  # Twilio's TXT at _twilio.<fqdn>
    twilio: TwilioSide | None = None


def find_domains(zone: str, records: Sequence[ZoneRecord],
                 targets: TwilioTargets) -> tuple[list[FoundDomain], list[str]]:
    """The domains lsctl would declare exactly as they are, and a note for each near miss."""
    zone, notes, found = normalize(zone), [], []
    by_key = {(r.name, r.type): r for r in records}
    ips = sorted(targets.allowed_ips)
    for record in records:
        if record.type == "A" and sorted(record.values) == ips:
            if record.name == zone:
                found.append(FoundDomain(record.name, record))
            else:
                notes.append(f"{record.name} has Twilio's IPs as A records: lsctl declares a "
                             f"subdomain as a CNAME to {targets.cname_target}; not imported")
        elif record.type == "A" and record.name == zone and set(record.values) & set(ips):
            notes.append(f"{zone} has A records {', '.join(record.values)}, not exactly "
                         f"Twilio's {', '.join(ips)}; not imported")
        elif record.type == "CNAME" and record.values == (targets.cname_target,):
            if record.name.startswith("*."):
                notes.append(f"{record.name} is a wildcard: Twilio needs one name per "
                             "domain; not imported")
            else:
                found.append(FoundDomain(record.name, record))
    for domain in found:
        txt = by_key.get((f"{VERIFICATION_LABEL}.{domain.fqdn}", "TXT"))
        if txt and any(VERIFICATION_TXT.fullmatch(v) for v in txt.values):
            domain.verification = txt
    return sorted(found, key=lambda d: (d.fqdn != zone, d.fqdn)), notes


def stack_yaml(stack: str, zone: str, dns: DnsSettings, domains: Sequence[FoundDomain],
               import_file: str | None, notes: Sequence[str]) -> str:
    """The stack file, commented: where each placeholder is filled in, what was skipped."""
    q = json.dumps  # a JSON string is a YAML double-quoted scalar: safe for any value
    lines = [f"# Written by lsctl import --zone {zone}: the Link Shortening domains found in "
             "the zone, as they are.",
             f"# Check it: lsctl records --stack {stack}"]
    if import_file:
        lines += ["# Then bring the existing Route53 records under Pulumi without recreating "
                  "them:",
                  f"#   pulumi stack select {stack}  (or: pulumi stack init {stack})",
                  f"#   pulumi import --file {import_file} --generate-code=false",
                  "#   pulumi preview   # the records show as unchanged (or an in-place update)",
                  "# pulumi up then writes the Twilio settings below, which Twilio already has:",
                  "# nothing is recreated."]
    lines += [f"# note: {n}" for n in notes]
    lines += ["config:", "  lsctl:dns:", f"    provider: {dns.provider}"]
    if dns.hosted_zone_id:
        lines.append(f"    hostedZoneId: {q(dns.hosted_zone_id)}")
    if dns.provider == "rfc2136":
        lines += [f"    server: {q(dns.server)}", f"    tsigKeyName: {q(dns.tsig_key_name)}",
                  f"    tsigAlgorithm: {dns.tsig_algorithm}",
                  f"    tsigSecretEnv: {dns.tsig_secret_env}"]
    lines += ["  # Renew with lsctl renew from cron or CI; for the scheduled Lambda, set",
              "  # lsctl:acme (see stacks/Pulumi.example.yaml) and remove this.",
              "  lsctl:renewal: {enabled: false}",
              "  lsctl:domains:"]
    for index, domain in enumerate(domains):
        lines += _domain_lines(domain, zone, index)
    return "\n".join(lines) + "\n"


def _domain_lines(domain: FoundDomain, zone: str, index: int) -> list[str]:
    q = json.dumps
    side = domain.twilio
    lines = [f"    - fqdn: {q(domain.fqdn)}", f"      zone: {q(zone)}"]
    if side is None:
        lines.append(f"      domainSid: {placeholder_sid(index)}  # placeholder: copy the "
                     "Domain SID from Console > Admin Center > Domains")
    else:
        lines.append(f"      domainSid: {side.domain_sid}")
        if side.note:
            lines.append(f"      # {side.note}")
        if side.messaging_service_sids:
            lines.append(f"      messagingServiceSids: [{', '.join(side.messaging_service_sids)}]")
        for key, value in (("fallbackUrl", side.fallback_url),
                           ("callbackUrl", side.callback_url)):
            if value:
                lines.append(f"      {key}: {q(value)}")
        if side.continue_on_failure is False:
            lines.append("      continueOnFailure: false")
        if side.disable_https:
            lines.append("      disableHttps: true")
        if side.certificate:
            lines.append(f"      certificate: {side.certificate}")
    ttl = domain.record.ttl
    if ttl != DEFAULT_TTL and MIN_TTL <= ttl <= MAX_TTL:
        lines.append(f"      ttl: {ttl}")
    elif ttl != DEFAULT_TTL:
        lines.append(f"      # the zone's TTL {ttl} is outside {MIN_TTL}..{MAX_TTL}: lsctl "
                     f"declares {DEFAULT_TTL}")
    if domain.verification:
        value = next(v for v in domain.verification.values if VERIFICATION_TXT.fullmatch(v))
        lines.append(f"      verificationTxt: {q(value)}")
    return lines


def pulumi_imports(zone_id: str, domains: Sequence[FoundDomain]) -> dict[str, object]:
    """A `pulumi import --file` document: each domain's component (created empty, as the
    parent) and its Route53 records under the names components/domain.py gives them."""
    resources: list[dict[str, object]] = []
    for domain in domains:
        resources.append({"type": DOMAIN_TYPE, "name": domain.fqdn, "component": True})
        records = [(f"{domain.fqdn}-{domain.record.type.lower()}", domain.record)]
        if domain.verification:
            records.append((f"{domain.fqdn}-verification", domain.verification))
        resources += [{"type": RECORD_TYPE, "name": name, "parent": domain.fqdn,
                       "id": f"{zone_id}_{record.name}_{record.type}"}
                      for name, record in records]
    return {"resources": resources}


def import_commands(stack: str, document: dict[str, object]) -> list[str]:
    """The same imports as one `pulumi import` each, for a stack whose domain components
    already exist (the file form creates them)."""
    resources = document["resources"]
    assert isinstance(resources, list)
    return [f"pulumi import {r['type']} {r['name']} {r['id']} --parent "
            f"'{r['parent']}=urn:pulumi:{stack}::{PROJECT}::{DOMAIN_TYPE}::{r['parent']}'"
            for r in resources if not r.get("component")]
