"""Pulumi program: the stack's config -> its zones, domains and renewal schedule; exports."""

from pathlib import Path

import pulumi

from components.program import declare
from components.stack_config import credentials, load_from_pulumi

stack = load_from_pulumi()
program = declare(stack, credentials(stack), Path(__file__).resolve().parent)
for fqdn, outputs in program.exports.items():
    pulumi.export(fqdn, outputs)
