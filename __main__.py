"""Pulumi program: stack config -> one component per domain and one renewal schedule."""

import os
from pathlib import Path

import pulumi

from components.domain import LinkShorteningDomain
from components.lambda_archive import build
from components.renewal import RenewalInputs, RenewalSchedule
from components.stack_config import load_from_pulumi, twilio_auth, twilio_credentials_json
from linkshortening.records import desired_records

project = Path(__file__).resolve().parent
stack = load_from_pulumi()
auth = twilio_auth()
domains = [LinkShorteningDomain(spec.fqdn, spec, stack.targets, auth) for spec in stack.domains]
for component in domains:
    spec = component.spec
    for record in desired_records(spec, stack.targets):
        pulumi.export(spec.fqdn, {"fqdn": spec.fqdn, "zone": spec.zone, "recordType": record.type,
                                  "values": list(record.values), "ttl": record.ttl,
                                  "zoneId": component.zone_id})

if auth is not None and any(spec.certificate == "acme" for spec in stack.domains):
    stack_file = project / "stacks" / f"Pulumi.{pulumi.get_stack()}.yaml"
    # LSCTL_LAMBDA_ARCHIVE: a prebuilt code directory (tests, or a CI that builds it once).
    code = os.environ.get("LSCTL_LAMBDA_ARCHIVE") or str(
        build(project, stack_file, project / ".build" / "lambda"))
    config = pulumi.Config("lsctl")
    tsig = config.get_secret("tsigSecret")
    renewal = RenewalSchedule("renewal", stack, RenewalInputs(
        code=pulumi.FileArchive(code), stack_file_name=stack_file.name,
        zone_ids=[d.zone_id for d in domains if d.zone_id is not None],
        list_zones=any((d.spec.dns is None or d.spec.dns.provider == "route53")
                       and not (d.spec.dns and d.spec.dns.hosted_zone_id) for d in domains),
        twilio_credentials=twilio_credentials_json(auth), tsig_secret=tsig))
