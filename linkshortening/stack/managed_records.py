"""Every DNS record a stack manages: Twilio's target (A or CNAME), the verification TXT, the
DNS-PERSIST-01 validation TXT and the zone's CAA. Pure data, no I/O.

`desired_records` is the part Twilio's routing needs (and the drift checker compares); this
adds what `pulumi up` also declares in a Route53 zone (components/domain.py, components/zone.py),
so `lsctl records` shows, and writes as zone-file or nsupdate lines, everything to create by
hand in a zone Pulumi does not write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from linkshortening.stack.model import DomainSpec, Stack
from linkshortening.stack.persist_record import (
    DRAFT,
    PersistAccount,
    persist_account,
    persist_records,
    uses_persist,
)
from linkshortening.stack.records import desired_records

# Twilio Admin > Domains, DNS method: a TXT record at _twilio.<domain>.
VERIFICATION_LABEL = "_twilio"
# Only Let's Encrypt may issue, wildcards included: what the renewer (and Twilio's managed
# certificates) use. Zone-wide: it binds every name of the zone without a CAA of its own.
LETS_ENCRYPT_CAA = ('0 issue "letsencrypt.org"', '0 issuewild "letsencrypt.org"')

ManagedType = Literal["A", "CNAME", "TXT", "CAA"]
Purpose = Literal["target", "verification", "caa", "persist"]

PURPOSES: dict[Purpose, str] = {
    "target": "Twilio's target",
    "verification": "Twilio's domain verification",
    "caa": "only Let's Encrypt may issue (zone-wide)",
    "persist": f"DNS-PERSIST-01 validation, permanent ({DRAFT})",
}


@dataclass(frozen=True)
class ManagedRecord:
    """One record set lsctl manages, with the domain that asks for it and why.

    Values are as Route53 and the stack file write them: TXT without quotes, CNAME targets
    without the trailing dot."""

    domain: str
    zone: str
    name: str  # fully qualified, lower case, no trailing dot
    type: ManagedType
    ttl: int
    values: tuple[str, ...]
    purpose: Purpose


def verification_record(spec: DomainSpec) -> ManagedRecord | None:
    """The TXT at `_twilio.<fqdn>` when the domain declares `verificationTxt`."""
    if not spec.verification_txt:
        return None
    return ManagedRecord(spec.fqdn, spec.zone, f"{VERIFICATION_LABEL}.{spec.fqdn}", "TXT",
                         spec.ttl, (spec.verification_txt,), "verification")


def persist_managed(spec: DomainSpec, account: PersistAccount | None
                    ) -> tuple[ManagedRecord, ...]:
    """The `_validation-persist` TXT sets of a dns-persist-01 domain (none for dns-01)."""
    if account is None:
        return ()
    return tuple(ManagedRecord(spec.fqdn, spec.zone, r.name, "TXT", spec.ttl, r.texts,
                               "persist") for r in persist_records(spec, account))


def caa_record(stack: Stack, zone: str) -> ManagedRecord | None:
    """CAA at the zone apex when any domain of the zone says `caa: true`, with the first such
    domain's TTL (as `pulumi up` declares it, once per zone)."""
    return _caa_records(stack).get(zone)


def _caa_records(stack: Stack) -> dict[str, ManagedRecord]:
    """Every zone's CAA record, from one pass over the stack (10,000 domains: a pass per
    zone was quadratic, 7 s)."""
    first: dict[str, DomainSpec] = {}
    for spec in stack.domains:
        if spec.caa:
            first.setdefault(spec.zone, spec)
    return {zone: ManagedRecord(spec.fqdn, zone, zone, "CAA", spec.ttl, LETS_ENCRYPT_CAA,
                                "caa") for zone, spec in first.items()}


def managed_records(stack: Stack, domains: tuple[DomainSpec, ...] | None = None
                    ) -> tuple[ManagedRecord, ...]:
    """Every record set of `domains` (default: all of the stack), zone by zone: each domain's
    target and verification TXT, then the zone's CAA (which binds the selected domains even
    when another domain of the zone asked for it)."""
    chosen = stack.domains if domains is None else domains
    account = persist_account(stack) if uses_persist(stack) else None
    by_zone: dict[str, list[DomainSpec]] = {}
    for spec in chosen:  # grouped in one pass, zones in first-seen order
        by_zone.setdefault(spec.zone, []).append(spec)
    caa_records = _caa_records(stack)
    records: list[ManagedRecord] = []
    for zone, specs in by_zone.items():
        for spec in specs:
            records += [ManagedRecord(spec.fqdn, zone, r.name, r.type, r.ttl, r.values, "target")
                        for r in desired_records(spec, stack.targets)]
            verification = verification_record(spec)
            if verification is not None:
                records.append(verification)
            records += persist_managed(spec, account)
        caa = caa_records.get(zone)
        if caa is not None:
            records.append(caa)
    return tuple(records)
