"""`lsctl`: the command line. Subcommands are imported only when run, so --help stays fast."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Protocol

# name -> (module, one-line help). A module provides configure(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "records": ("linkshortening.cli.records",
                "validate a stack file and print the DNS records each domain needs"),
    "cert": ("linkshortening.cli.cert",
             "convert keys to PKCS#8, preflight a certificate, print the TlsCert to upload"),
    "import": ("linkshortening.cli.importer",
               "write a new stack file for the Link Shortening domains a zone already has"),
    "renew": ("acme_renewer.cli",
              "obtain Let's Encrypt certificates for due domains, upload them to Twilio"),
    "state": ("acme_renewer.state_cli",
              "move the renewer's state: `lsctl state migrate --to s3://bucket/prefix`"),
    "acme": ("acme_renewer.account_cli",
             "the ACME account per CA: show, create, rollover (key change), deactivate"),
    "drift": ("drift.cli",
              "check live DNS, Route53, Twilio and served certificates against the stack"),
    "plan": ("drift.plan_cli",
             "show what apply would change in the zones and Twilio settings lsctl writes"),
    "apply": ("drift.apply_cli",
              "apply the plan: RFC 2136 / Route53 records and Twilio settings, confirmed"),
    "sandbox": ("sandbox.cli",
                "run the local sandbox (Pebble, BIND 9, moto, Twilio emulator) for demo and tests"),
}

EXIT_USAGE = 2

DESCRIPTION = """\
Keep Twilio Link Shortening custom domains correct: DNS records, TLS certificates and
Twilio-side settings, declared in stacks/Pulumi.<stack>.yaml.

Run `lsctl COMMAND --help` for the options of a command."""


class Command(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lsctl", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print lsctl's version (from the installed package) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == chosen:  # only the command being run pays for its imports
            command: Command = importlib.import_module(module)
            command.configure(child)
            child.set_defaults(_run=command.run)
    return parser


class _Version(argparse.Action):
    """Reads the package metadata only when asked, so every other command starts as fast."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = f"lsctl {version('lsctl')}"
        except PackageNotFoundError:
            text = "lsctl (version unknown: not installed as a package; run `make setup`)"
        print(text)  # on standard output, as argparse's own version action does
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    try:
        code: int = args._run(args)
    except KeyboardInterrupt:
        print("lsctl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return report_error(exc)
    return code


def report_error(exc: Exception) -> int:
    """One clear line for every expected failure, exit 2 with or without LSCTL_DEBUG; an
    internal error's traceback only with LSCTL_DEBUG=1 (scripts see the same exit status)."""
    from linkshortening.common.errors import is_user_error

    if is_user_error(exc):
        print(f"lsctl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if os.environ.get("LSCTL_DEBUG"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
        print(f"lsctl: internal error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"lsctl: internal error: {exc.__class__.__name__}: {exc}\n"
          "  (set LSCTL_DEBUG=1 for details and report it)", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
