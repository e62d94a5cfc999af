"""Arguments shared by every `lsctl` command that reads a stack."""

from __future__ import annotations

import argparse


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """`--stack` and `--domain`, the same for every command that reads a stack."""
    parser.add_argument("--stack", required=True,
                        help="stack name (stacks/Pulumi.NAME.yaml) or path to a stack file")
    parser.add_argument("--domain", action="append", metavar="FQDN",
                        help="only this domain (repeatable)")
