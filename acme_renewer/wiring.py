"""Build a run's parts from the stack and the environment: DNS providers, state, clients."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from acme_renewer.challenge import DnsProvider, ZoneRouter
from acme_renewer.pipeline import AccountOpener
from acme_renewer.state import DirectoryBackend, RenewerState, SecretsManagerBackend
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import DnsSettings, Stack
from linkshortening.stack.state_location import secrets_manager_prefix

if TYPE_CHECKING:
    from acme_renewer.account import OpenedAccount
    from linkshortening.common.deadline import Deadline
    from linkshortening.twilio.api import LinkShorteningApi

T = TypeVar("T")

DEFAULT_STATE_DIR = Path.home() / ".local" / "state" / "lsctl"


def dns_provider(stack: Stack) -> DnsProvider:
    """One provider per distinct DNS setting, routed by zone."""
    built: dict[DnsSettings, DnsProvider] = {}
    by_zone: dict[str, DnsProvider] = {}
    for spec in stack.domains:
        settings = spec.dns
        if settings is None:
            raise ConfigError(stack.source, f"lsctl:domains[{stack.domains.index(spec)}].dns",
                              f"no DNS provider is set for {spec.fqdn}",
                              "set lsctl:dns (or the domain's dns) to route53 or rfc2136")
        if settings not in built:
            built[settings] = _provider(settings, stack.source, stack.aws_region)
        by_zone[spec.zone] = built[settings]
    default = next(iter(built.values())) if len(built) == 1 else None
    return ZoneRouter(by_zone, default)


def _provider(settings: DnsSettings, source: str, region: str | None) -> DnsProvider:
    if settings.provider == "route53":
        from acme_renewer.route53_provider import Route53Provider
        from linkshortening.dns.route53 import route53_client

        return Route53Provider(client=route53_client(region),
                               hosted_zone_id=settings.hosted_zone_id)
    from acme_renewer.rfc2136_provider import Rfc2136Provider

    return Rfc2136Provider.from_settings(settings, source)


def state_store(stack: Stack, project_dir: Path | None = None) -> RenewerState:
    """The stack's state backend: a local directory, Secrets Manager or S3."""
    acme = stack.acme
    if acme.state_backend == "s3":
        from acme_renewer.s3_state import s3_backend

        return RenewerState(s3_backend(stack, project_dir))
    if acme.state_backend == "secretsmanager":
        return RenewerState(SecretsManagerBackend.connect(
            secrets_manager_prefix(stack, project_dir), stack.aws_region))
    location = DEFAULT_STATE_DIR / stack.name
    if acme.state_location:
        expanded = os.path.expandvars(acme.state_location)
        if "$" in expanded:
            raise ConfigError(stack.source, "lsctl:acme.state.location",
                              f"{acme.state_location!r} names an unset environment variable",
                              "export it (for the sandbox stack: eval \"$(lsctl sandbox env)\")")
        location = Path(expanded).expanduser()
    if not location.is_absolute() and project_dir is not None:
        location = project_dir / location
    return RenewerState(DirectoryBackend(location))


def session_opener(stack: Stack, state: RenewerState) -> AccountOpener:
    """Opens the run's account (the setup check has already asked the CA about a stored one);
    a CA refusing to register one (RFC 8555 `unauthorized`, e.g. a wrong EAB) is a setup
    error, raised before any order."""
    def open_session(dry_run: bool) -> OpenedAccount:
        from acme import messages

        from acme_renewer.access import acme_setup_error
        from acme_renewer.account import ca_endpoint, open_account

        try:
            return open_account(stack.acme, state, stack.source, dry_run=dry_run)
        except messages.Error as exc:
            problem = acme_setup_error(exc, ca_endpoint(stack.acme).directory, None,
                                       registering=True)
            if problem is None:
                raise
            raise problem from None

    return open_session


class SetupProblems(Exception):
    """More than one setup problem, found before the run changed anything."""

    def __init__(self, problems: Sequence[Exception]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(problems)} setup problems; nothing was done:"
                         + "".join(f"\n  - {p}" for p in problems))


@dataclass(frozen=True)
class RunParts:
    """What one renewal run works with, every credential already checked."""

    state: RenewerState
    api: LinkShorteningApi
    dns: DnsProvider
    open_account: AccountOpener


def run_parts(stack: Stack, project_dir: Path | None = None,
              deadline: Deadline | None = None) -> RunParts:
    """Build the run's parts, checking every credential and endpoint before the first ACME
    call (a bad TSIG secret must not surface after orders are placed); all problems found
    are reported together, so one run shows everything to fix."""
    from acme_renewer.access import check_access
    from acme_renewer.account import ca_endpoint
    from linkshortening.common.errors import is_user_error
    from linkshortening.twilio.accounts import stack_api

    problems: list[Exception] = []

    def attempt(build: Callable[[], T]) -> T | None:
        try:
            return build()
        except Exception as exc:
            if not is_user_error(exc):
                raise
            problems.append(exc)
            return None

    region = attempt(lambda: _aws_region(stack))
    state = (attempt(lambda: state_store(stack, project_dir))
             if region or stack.acme.state_backend == "directory" else None)
    api = attempt(lambda: stack_api(stack, deadline=deadline))
    dns = attempt(lambda: dns_provider(stack))
    ca = attempt(lambda: ca_endpoint(stack.acme))
    if not problems:  # well-formed: now one read-only call to each service, all together
        problems += check_access(stack, state, api, ca)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise SetupProblems(problems)
    assert state is not None and api is not None and dns is not None
    return RunParts(state, api, dns, session_opener(stack, state))


def _aws_region(stack: Stack) -> bool:
    """True once an AWS region is set, or when nothing of the stack needs one."""
    route53 = (f"lsctl:domains[{i}] ({spec.fqdn}) uses Route53"
               for i, spec in enumerate(stack.domains)
               if spec.dns is not None and spec.dns.provider == "route53")
    user = (f"lsctl:acme.state.backend is {stack.acme.state_backend}"
            if stack.acme.state_backend != "directory" else next(route53, None))
    if user is None:
        return True
    from linkshortening.common.aws import aws_region, aws_setup_error

    try:
        if aws_region(stack.aws_region):
            return True
    except Exception as exc:  # e.g. AWS_PROFILE naming no profile
        problem = aws_setup_error(exc, "AWS")
        if problem is None:
            raise
        raise problem from None
    raise ConfigError(stack.source, "", f"{user}, and no AWS region is set",
                      "set aws:region in the stack (pulumi config set aws:region us-east-1), "
                      "or export AWS_REGION=<region>")
