"""`lsctl cert upload`: preflight, bundle, upload to Twilio and wait for its validation, for a
domain whose certificate comes from elsewhere (`certificate: external`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from linkshortening.cli.arguments import add_json_format, wants_json
from linkshortening.stack.errors import ConfigError

if TYPE_CHECKING:
    from datetime import datetime

    from linkshortening.certs.preflight import Problem
    from linkshortening.stack.model import DomainSpec

EXIT_REFUSED = 1


@dataclass
class UploadReport:
    """What happened to one upload, for a table or JSON."""

    domain: str
    status: str  # validated | refused | failed | timed_out
    detail: str
    expires: datetime | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"domain": self.domain, "status": self.status, "detail": self.detail,
                "expires": self.expires.isoformat() if self.expires else None,
                "problems": [asdict(p) for p in self.problems]}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True,
                        help="stack name (stacks/Pulumi.NAME.yaml) or path to a stack file")
    parser.add_argument("--domain", required=True, metavar="FQDN",
                        help="the declared domain (its domainSid is where it goes)")
    parser.add_argument("--force", action="store_true",
                        help="upload to a certificate: acme domain too (the renewer judges "
                             "it as adopted from then on)")
    add_json_format(parser)
    parser.add_argument("--validation-timeout", type=float, default=600.0, metavar="SECONDS",
                        help="how long to wait for Twilio's validation (default 600)")
    parser.add_argument("--validation-poll", type=float, default=5.0, metavar="SECONDS",
                        help="how often to ask Twilio (default 5)")


def upload(args: argparse.Namespace,
           preflight: Callable[[argparse.Namespace], tuple[str, list[Problem]]]) -> int:
    """Exit 0 validated, 1 refused by the preflight or Twilio, 2 (raised) setup or input."""
    from linkshortening.certs.preflight import is_ready
    from linkshortening.stack.load import load_stack

    stack = load_stack(args.stack)
    (spec,) = stack.select([args.domain])
    _check_mode(spec, f"lsctl:domains[{stack.domains.index(spec)}].certificate", stack.source,
                args.force)
    args.domain = spec.fqdn
    tls_cert, problems = preflight(args)
    if not is_ready(problems):
        errors = sum(1 for p in problems if p.severity == "error")
        report = UploadReport(spec.fqdn, "refused", f"preflight found {errors} error(s); "
                              "nothing was uploaded", problems=problems)
    else:
        report = _send(spec, tls_cert, args)
        report.problems = problems
    _print(report, wants_json(args))
    return 0 if report.status == "validated" else EXIT_REFUSED


def _check_mode(spec: DomainSpec, key: str, source: str, force: bool) -> None:
    if spec.certificate == "acme" and not force:
        raise ConfigError(source, key,
                          f"is acme for {spec.fqdn}: lsctl renew would replace an uploaded "
                          "certificate when it falls due",
                          "set certificate: external for certificates from elsewhere, or "
                          "pass --force to upload anyway")
    if spec.certificate == "managed" and not force:
        raise ConfigError(source, key,
                          f"is managed for {spec.fqdn}: Twilio obtains this domain's certificate",
                          "set certificate: external, or pass --force to upload anyway")


def _send(spec: DomainSpec, tls_cert: str, args: argparse.Namespace) -> UploadReport:
    from linkshortening.twilio.api import LinkShorteningApi
    from linkshortening.twilio.codes import in_category
    from linkshortening.twilio.errors import TwilioApiError

    api = LinkShorteningApi.from_env()
    try:
        api.upload_certificate(spec.domain_sid, tls_cert)
    except TwilioApiError as exc:
        if not in_category(exc.code, "certificate"):
            raise  # credentials, reachability, an unknown DomainSid: exit 2 with its line
        return UploadReport(spec.fqdn, "refused", f"Twilio refused the upload: {exc}")
    print(f"lsctl cert upload: uploaded to {spec.domain_sid}; waiting for Twilio's "
          f"validation (up to {args.validation_timeout:.0f}s)", file=sys.stderr, flush=True)
    (result,) = api.wait_for_validation([spec.domain_sid], timeout=args.validation_timeout,
                                        poll_interval=args.validation_poll)
    expires = result.certificate.date_expires if result.certificate else None
    status = "validated" if result.ok else result.state
    return UploadReport(spec.fqdn, status, f"Twilio validation {result.state}: "
                        f"{result.detail}", expires)


def _print(report: UploadReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
        return
    for p in report.problems:
        code = f" {p.code}" if p.code else ""
        print(f"{p.severity}{code}: {p.message}\n  fix: {p.fix}")
    expires = f", expires {report.expires:%Y-%m-%d}" if report.expires else ""
    print(f"{report.domain}: {report.status}{expires}: {report.detail}")
