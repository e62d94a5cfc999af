"""`LinkShorteningDomain`: one domain's Route53 records and its Twilio-side settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.twilio_resources import (
    DomainConfig,
    ManagedCertificate,
    MessagingServiceAssociation,
)
from linkshortening.stack.managed_records import ManagedRecord
from linkshortening.stack.model import DomainSpec, TwilioAccount
from linkshortening.stack.records import desired_records
from linkshortening.stack.targets import TwilioTargets

VERIFICATION_LABEL = "_twilio"  # Twilio Admin > Domains, DNS method: TXT at _twilio.<domain>


class LinkShorteningDomain(pulumi.ComponentResource):
    """Exactly the records of `desired_records` (in a Route53 zone), Twilio's verification
    TXT if declared, its DNS-PERSIST-01 records (`persist`, from managed_records), the
    domain's config, its Messaging Services, and a managed certificate when asked for."""

    records: list[aws.route53.Record]
    twilio: list[pulumi.CustomResource]
    exports: dict[str, Any]

    def __init__(self, spec: DomainSpec, targets: TwilioTargets,
                 zone_id: pulumi.Output[str] | None, *, twilio: bool = True,
                 opts: pulumi.ResourceOptions | None = None,
                 persist: Sequence[ManagedRecord] = (),
                 accounts: Mapping[str, TwilioAccount] | None = None) -> None:
        """`accounts`: lsctl:twilioAccounts by name; each Twilio-side resource is driven with
        its account's credentials (none declared: the stack's twilio* config keys)."""
        name = spec.fqdn
        super().__init__("lsctl:index:LinkShorteningDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.spec = spec
        self.records = []
        # Off by default: a record made by hand must not be silently taken over.
        overwrite = spec.allow_overwrite or None
        (record,) = desired_records(spec, targets)
        # zone_id None: a zone lsctl apply writes (RFC 2136, or Route53 managedBy: lsctl).
        if zone_id is not None:
            self.records.append(aws.route53.Record(
                f"{name}-{record.type.lower()}", zone_id=zone_id, name=record.name,
                type=record.type, ttl=record.ttl, records=list(record.values),
                allow_overwrite=overwrite, opts=child))
            if spec.verification_txt:
                self.records.append(aws.route53.Record(
                    f"{name}-verification", zone_id=zone_id,
                    name=f"{VERIFICATION_LABEL}.{name}", type="TXT", ttl=spec.ttl,
                    records=[spec.verification_txt], allow_overwrite=overwrite, opts=child))
            self.records += [aws.route53.Record(
                f"{r.name}-persist", zone_id=zone_id, name=r.name, type=r.type, ttl=r.ttl,
                records=list(r.values), allow_overwrite=overwrite, opts=child) for r in persist]
        self.twilio = []
        if twilio:  # False: lsctl:twilio.managedBy lsctl, so lsctl apply sets them
            known = accounts or {}
            self.twilio.append(DomainConfig(f"{name}-config", spec, opts=child,
                                            account=known.get(spec.account)))
            self.twilio += [MessagingServiceAssociation(
                f"{name}-{sid}", spec.domain_sid, sid, opts=child,
                account=known.get(spec.account_of(sid))) for sid in spec.messaging_service_sids]
        if spec.certificate == "managed":
            self.twilio.append(ManagedCertificate(f"{name}-managed-cert", spec.domain_sid,
                                                  opts=child,
                                                  account=(accounts or {}).get(spec.account)))
        self.exports = {"fqdn": spec.fqdn, "zone": spec.zone, "recordType": record.type,
                        "values": list(record.values), "ttl": record.ttl, "zoneId": zone_id}
        self.register_outputs(self.exports)
