"""The table of drift's finding codes: what each means and how to fix it, with the exact
command where there is one. One table: the reports, the README's list of codes
(`python -m drift.remediation` prints it; a test holds the README to it) and the JSON
report's `fix` all come from here.

Templates take {stack} {domain} {zone}, and the commands that depend on who writes what:
{dns} (the zone's one writer: `lsctl apply` for RFC 2136 zones and Route53 zones
`managedBy: lsctl`, `pulumi up` for Route53 zones Pulumi manages), {renew} (by the domain's
certificate mode) and {twilio} (who sets the Twilio-side settings).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from drift.checks import Finding
from linkshortening.stack.model import DomainSpec, Stack
from linkshortening.twilio.codes import CODES

Scope = Literal["domain", "zone", "stack"]
CONSOLE_DOMAIN = "Twilio Console > Admin Center > Domains > {domain}"
CONSOLE_SERVICE = "Twilio Console > Messaging > Messaging Services > the service > Link Shortening"


@dataclass(frozen=True)
class Remedy:
    code: str
    check: str
    severity: str  # as the README says it: "error", "warning", "warning, then error"
    title: str
    fix: str  # in words (template)
    command: str = ""  # the exact command (template); "" where none does it
    scope: Scope = "domain"


def _twilio_domain_codes() -> list[Remedy]:
    """The Twilio codes drift reports as findings: their fixes are Twilio's table's."""
    seen: dict[str, Remedy] = {}
    for known in CODES.values():
        if known.finding and known.finding not in seen:
            dns = known.finding == "twilio-dns-setup-incomplete"  # say which writer
            seen[known.finding] = Remedy(
                known.finding, "twilio-dns", known.severity,
                f"Twilio {known.code}: {known.meaning}",
                _DNS_FIX + ", wait until every nameserver serves them, then run again" if dns
                else known.fix, "{dns}" if dns else "")
    return list(seen.values())


_DNS_FIX = "publish the declared records (`lsctl records --stack {stack}` lists them)"
_RENEW_FIX = ("renew and upload the certificate (the scheduled renewal should have: see its "
              "last runs)")

REMEDIES: dict[str, Remedy] = {r.code: r for r in (
    Remedy("a-missing-ip", "records", "error", "root domain lacks some of Twilio's A records",
           _DNS_FIX, "{dns}"),
    Remedy("a-extra-ip", "records", "error", "root domain has A records besides Twilio's",
           "remove the other A records, keep the declared ones", "{dns}"),
    Remedy("cname-at-apex", "records", "error", "CNAME at a root domain",
           "replace the CNAME with the declared A records (a Route53 alias cannot point at "
           "Twilio)", "{dns}"),
    Remedy("cname-wrong-target", "records", "error", "CNAME points somewhere else",
           "point the CNAME at lsct.ashburn.us1.twilio.com", "{dns}"),
    Remedy("a-instead-of-cname", "records", "error", "subdomain has A records, not a CNAME",
           "replace the A records with the declared CNAME", "{dns}"),
    Remedy("cname-missing", "records", "error", "subdomain has no CNAME", _DNS_FIX, "{dns}"),
    Remedy("aaaa-present", "records", "error", "AAAA records (Twilio serves IPv4 only)",
           "delete the AAAA records", "{dns}"),
    Remedy("nameservers-disagree", "nameservers", "error",
           "the zone's nameservers give different answers",
           "bring the lagging nameserver in step (zone transfer from the primary: NOTIFY, "
           "IXFR/AXFR, its serial), or take a retired one out of the zone's NS set",
           scope="zone"),
    Remedy("zone-not-delegated", "nameservers", "error",
           "the zone is not delegated (no NS records)",
           "create the zone at its DNS provider and delegate it at the registrar (NS records in "
           "the parent zone), or set zone: in the stack to the zone that holds the domain",
           scope="zone"),
    Remedy("ttl-differs", "ttl", "warning", "TTL differs from the declared one",
           "publish the declared TTL", "{dns}"),
    Remedy("route53-differs", "route53", "error", "Route53 record sets differ",
           "make Route53 hold exactly the declared record set", "{dns}"),
    Remedy("twilio-dns-invalid", "twilio-dns", "error", "Twilio's ValidateDns fails",
           "fix the records Twilio's reason names (the records findings beside it); Twilio "
           "validates again when asked", "{dns}"),
    *_twilio_domain_codes(),
    Remedy("twilio-config-differs", "twilio-config", "error",
           "Twilio's domain config differs from the stack",
           f"set the declared value ({CONSOLE_DOMAIN} > Domain configuration)", "{twilio}"),
    Remedy("twilio-association-differs", "twilio-config", "error",
           "a Messaging Service uses another domain",
           f"associate the Messaging Service with this domain ({CONSOLE_SERVICE})",
           "{twilio}"),
    Remedy("twilio-service-wrong-account", "twilio-config", "error",
           "a Messaging Service is not visible to the account the stack names",
           "in stack {stack}, name the account that owns the service (its SID in "
           "Twilio Console > Messaging > Services) as its `account:` under messagingServiceSids"
           " (or the domain's `account:`), and check that account's credentials are its own; "
           "then run drift again"),
    Remedy("twilio-certificate-validation-failed", "twilio-certificate", "error",
           "Twilio refused the last certificate upload",
           "check the bundle (`lsctl cert check` says what Twilio refuses), then upload again",
           "{renew}"),
    Remedy("twilio-certificate-expiring", "twilio-certificate", "warning, then error",
           "Twilio's certificate expires within 30 days (error within 7)", _RENEW_FIX,
           "{renew}"),
    Remedy("twilio-no-certificate", "twilio-certificate", "error",
           "no certificate uploaded to Twilio", "obtain and upload one", "{renew}"),
    Remedy("served-certificate-wrong-name", "served-certificate", "error",
           "the certificate served does not cover the domain",
           "check that DNS points at Twilio (the records findings), then upload a certificate "
           "for the domain", "{renew}"),
    Remedy("served-certificate-expiring", "served-certificate", "warning, then error",
           "the certificate served expires within 30 days (error within 7)",
           _RENEW_FIX + "; if Twilio already has a newer one, DNS points elsewhere", "{renew}"),
    Remedy("challenge-leftover", "challenge", "warning", "a leftover ACME challenge TXT record",
           "delete the TXT record at _acme-challenge.{domain} (the next `lsctl renew` removes "
           "the values it wrote itself)"),
    Remedy("caa-forbids-letsencrypt", "caa", "error", "CAA forbids Let's Encrypt",
           'add 0 issue "letsencrypt.org" (0 issuewild for wildcard names) to the CAA set the '
           "finding names (caa: true declares it in a Route53 zone)", scope="zone"),
    Remedy("twilio-ips-changed", "twilio-target", "warning",
           "Twilio's target resolves to IPs other than lsctl:allowedIps",
           "after Twilio's notice, set lsctl:allowedIps in the stack to the addresses shown, "
           "then publish the records", "lsctl plan --stack {stack}", scope="stack"),
)}


def scope(code: str) -> Scope:
    remedy = REMEDIES.get(code)
    return remedy.scope if remedy else "domain"


def title(code: str) -> str:
    remedy = REMEDIES.get(code)
    return remedy.title if remedy else code


def dns_command(spec: DomainSpec, stack: str) -> str:
    """The one writer of the domain's zone: `lsctl apply` where lsctl owns the zone (RFC 2136;
    Route53 with managedBy: lsctl), `pulumi up` where Pulumi does; none for a zone lsctl
    does not write (no dns: settings)."""
    if spec.dns is None:
        return ""
    writer = "lsctl" if spec.dns.provider == "rfc2136" else \
        getattr(spec.dns, "managed_by", "pulumi")  # DnsSettings.managed_by: lsctl plan/apply
    return f"lsctl apply --stack {stack}" if writer == "lsctl" else f"pulumi up --stack {stack}"


def renew_command(spec: DomainSpec, stack: str) -> str:
    if spec.certificate == "external":
        return f"lsctl cert upload --stack {stack} --domain {spec.fqdn} --cert FILE --key FILE"
    if spec.certificate == "managed":  # Twilio renews; pulumi up requests it again
        return f"pulumi up --stack {stack}"
    return f"lsctl renew --stack {stack} --domain {spec.fqdn} --force"


def twilio_command(stack: Stack) -> str:
    writer = getattr(stack, "twilio_managed_by", "pulumi")  # Stack.twilio_managed_by: apply
    return f"lsctl apply --stack {stack.name}" if writer == "lsctl" else \
        f"pulumi up --stack {stack.name}"


def attach(findings: Iterable[Finding], stack: Stack) -> list[Finding]:
    """Each finding with its fix and command filled in for its domain (a zone-wide one: its
    first affected domain's settings)."""
    specs = {s.fqdn: s for s in stack.domains}
    return [_with_fix(f, stack, specs) for f in findings]


def _with_fix(finding: Finding, stack: Stack, specs: Mapping[str, DomainSpec]) -> Finding:
    remedy = REMEDIES.get(finding.code)
    if remedy is None:
        return finding
    spec = specs.get(finding.affects[0] if finding.affects else finding.domain)
    values = {"stack": stack.name, "domain": finding.domain,
              "zone": finding.zone or finding.domain,
              "dns": dns_command(spec, stack.name) if spec else "",
              "renew": renew_command(spec, stack.name) if spec else "",
              "twilio": twilio_command(stack)}
    return dataclasses.replace(finding, fix=remedy.fix.format(**values),
                               command=remedy.command.format(**values))


# How the README shows the commands that depend on the domain: every variant, named.
_PLACEHOLDERS = {"stack": "S", "domain": "D", "zone": "Z"}
_README_COMMANDS = {
    "{dns}": "`lsctl apply --stack S` (zones lsctl owns) or `pulumi up --stack S`",
    "{renew}": "`lsctl renew --stack S --domain D --force` (acme), `lsctl cert upload --stack S "
               "--domain D --cert FILE --key FILE` (external) or `pulumi up --stack S` (managed)",
    "{twilio}": "`pulumi up --stack S` (or `lsctl apply --stack S` where lsctl sets them)",
}


def markdown_table(remedies: Sequence[Remedy] | None = None) -> str:
    """The README's table of codes (S: the stack, D: the domain, Z: its zone)."""
    rows = ["| code | check | severity | meaning | fix |", "|---|---|---|---|---|"]
    for r in remedies or list(REMEDIES.values()):
        where = " (once per zone)" if r.scope == "zone" else \
            " (the stack)" if r.scope == "stack" else ""
        fix = r.fix.format(**_PLACEHOLDERS)
        if r.command:
            fix += ": " + (_README_COMMANDS[r.command] if r.command in _README_COMMANDS
                           else f"`{r.command.format(**_PLACEHOLDERS)}`")
        rows.append(f"| `{r.code}` | {r.check}{where} | {r.severity} | {r.title} | "
                    f"{fix.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
