"""Build a run's parts from the stack and the environment: DNS providers, state, clients."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from acme_renewer.challenge import DnsProvider, ZoneRouter
from acme_renewer.issuance import AcmeSession
from acme_renewer.state import DirectoryBackend, RenewerState, SecretsManagerBackend
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import DnsSettings, Stack
from linkshortening.stack.state_location import secrets_manager_prefix

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
            built[settings] = _provider(settings, stack.source)
        by_zone[spec.zone] = built[settings]
    default = next(iter(built.values())) if len(built) == 1 else None
    return ZoneRouter(by_zone, default)


def _provider(settings: DnsSettings, source: str) -> DnsProvider:
    if settings.provider == "route53":
        from acme_renewer.route53_provider import Route53Provider

        return Route53Provider(hosted_zone_id=settings.hosted_zone_id)
    from acme_renewer.rfc2136_provider import Rfc2136Provider

    return Rfc2136Provider.from_settings(settings, source)


def state_store(stack: Stack, project_dir: Path | None = None) -> RenewerState:
    """The stack's state backend: a local directory or Secrets Manager."""
    acme = stack.acme
    if acme.state_backend == "secretsmanager":
        import boto3

        return RenewerState(SecretsManagerBackend(boto3.client("secretsmanager"),
                                                  secrets_manager_prefix(stack, project_dir)))
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


def session_opener(stack: Stack, state: RenewerState) -> Callable[[], AcmeSession]:
    def open_session() -> AcmeSession:
        from acme_renewer.account import open_session as open_account

        return open_account(stack.acme, state, stack.source)

    return open_session
