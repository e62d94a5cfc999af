"""`LinkShorteningZone`: a Route53 hosted zone holding Link Shortening domains.

The zone is looked up once, however many domains it holds, and zone-wide records (CAA at the
apex) are declared once, under a name that does not depend on which domain asked for them.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# Only Let's Encrypt may issue, wildcards included: what the renewer (and, per the sandbox's
# emulator, Twilio's managed certificates) use.
LETS_ENCRYPT_CAA = ('0 issue "letsencrypt.org"', '0 issuewild "letsencrypt.org"')


class LinkShorteningZone(pulumi.ComponentResource):
    """Route53 zone by id (from the stack) or by name; CAA at its apex when `caa_ttl` is
    given (`allow_overwrite` adopts a CAA set made by hand)."""

    zone_id: pulumi.Output[str]
    caa: aws.route53.Record | None

    def __init__(self, zone: str, hosted_zone_id: str | None, *, caa_ttl: int | None = None,
                 allow_overwrite: bool = False,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lsctl:index:LinkShorteningZone", zone, None, opts)
        if hosted_zone_id:
            self.zone_id = pulumi.Output.from_input(hosted_zone_id.removeprefix("/hostedzone/"))
        else:
            self.zone_id = aws.route53.get_zone_output(
                name=zone, private_zone=False, opts=pulumi.InvokeOptions(parent=self)).zone_id
        self.caa = None
        if caa_ttl is not None:
            # Zone-wide: it also binds every other name in the zone that has no CAA of its own.
            self.caa = aws.route53.Record(
                f"{zone}-caa", zone_id=self.zone_id, name=zone, type="CAA", ttl=caa_ttl,
                records=list(LETS_ENCRYPT_CAA), allow_overwrite=allow_overwrite or None,
                opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"zoneId": self.zone_id})
