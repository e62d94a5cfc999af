"""Pulumi program: stack config -> per-domain declarations and outputs, nothing else."""

import pulumi

from components.stack_config import load_from_pulumi
from linkshortening.records import desired_records

stack = load_from_pulumi()
for spec in stack.domains:
    for record in desired_records(spec, stack.targets):
        pulumi.export(spec.fqdn, {"fqdn": spec.fqdn, "zone": spec.zone, "recordType": record.type,
                                  "values": list(record.values), "ttl": record.ttl})
