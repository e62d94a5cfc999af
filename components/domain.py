"""`LinkShorteningDomain`: one domain's Route53 records, and its Twilio-side settings."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.twilio_resources import (
    DomainConfig,
    ManagedCertificate,
    MessagingServiceAssociation,
    TwilioAuth,
)
from linkshortening.config import DomainSpec
from linkshortening.records import desired_records
from linkshortening.targets import TwilioTargets

LETS_ENCRYPT_CAA = ('0 issue "letsencrypt.org"', '0 issuewild "letsencrypt.org"')


class LinkShorteningDomain(pulumi.ComponentResource):
    """The records Twilio requires (exactly `desired_records`), optional CAA and verification
    TXT, the domain's config, its Messaging Services, and a managed certificate if asked."""

    records: list[aws.route53.Record]

    zone_id: pulumi.Output[str] | None

    def __init__(self, name: str, spec: DomainSpec, targets: TwilioTargets,
                 twilio: TwilioAuth | None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lsctl:index:LinkShorteningDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.spec = spec
        self.records = []
        # Records live in Route53 only for Route53 zones; an RFC 2136 zone's records are the
        # zone owner's (the drift checker still checks them).
        self.zone_id = self._zone_id(spec) if spec.dns is None or \
            spec.dns.provider == "route53" else None
        for record in desired_records(spec, targets) if self.zone_id is not None else ():
            self.records.append(aws.route53.Record(
                f"{name}-{record.type.lower()}", zone_id=self.zone_id, name=record.name,
                type=record.type, ttl=record.ttl, records=list(record.values),
                # Off by default: a hand-made record must not be silently taken over.
                allow_overwrite=spec.allow_overwrite or None, opts=child))
        if spec.caa and self.zone_id is not None:
            self.records.append(aws.route53.Record(
                f"{name}-caa", zone_id=self.zone_id, name=spec.zone, type="CAA", ttl=spec.ttl,
                records=list(LETS_ENCRYPT_CAA), allow_overwrite=spec.allow_overwrite or None,
                opts=child))
        if spec.verification_txt and self.zone_id is not None:
            self.records.append(aws.route53.Record(
                f"{name}-verification", zone_id=self.zone_id, name=spec.fqdn, type="TXT",
                ttl=spec.ttl, records=[spec.verification_txt],
                allow_overwrite=spec.allow_overwrite or None, opts=child))
        self.twilio: list[pulumi.CustomResource] = []
        if twilio is not None:
            self.twilio.append(DomainConfig(f"{name}-config", spec, twilio, opts=child))
            self.twilio += [MessagingServiceAssociation(f"{name}-{sid}", spec.domain_sid, sid,
                                                        twilio, opts=child)
                            for sid in spec.messaging_service_sids]
            if spec.certificate == "managed":
                self.twilio.append(ManagedCertificate(f"{name}-managed-cert", spec.domain_sid,
                                                      twilio, opts=child))
        self.register_outputs({"zoneId": self.zone_id,
                               "records": [r.name for r in self.records]})

    def _zone_id(self, spec: DomainSpec) -> pulumi.Output[str]:
        """The hosted zone: given by id in the stack, or looked up by the zone's name."""
        if spec.dns is not None and spec.dns.hosted_zone_id:
            return pulumi.Output.from_input(spec.dns.hosted_zone_id.removeprefix("/hostedzone/"))
        zone = aws.route53.get_zone_output(name=spec.zone, private_zone=False,
                                           opts=pulumi.InvokeOptions(parent=self))
        return zone.zone_id
