"""How plan and apply reach each zone's writer and Twilio: from the environment, as every lsctl
command does, or handed in (the sandbox's `seed` hands in its own)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkshortening.dns.rfc2136 import Endpoint, TsigKey
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import DnsSettings, Stack

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client

    from linkshortening.twilio.api import LinkShorteningApi

SERVER_ENV = "LSCTL_RFC2136_SERVER"  # as for the renewer: the primary, overriding dns.server


@dataclass(frozen=True)
class Access:
    primary: Callable[[str, DnsSettings], Endpoint]  # (zone, settings) -> the zone's primary
    tsig_key: Callable[[DnsSettings], TsigKey]
    route53: Callable[[], Route53Client]
    twilio: Callable[[], LinkShorteningApi]

    @classmethod
    def from_env(cls, source: str, stack: Stack | None = None) -> Access:
        """Clients built at first use, once: a plan that needs no Twilio asks for no token.
        With `stack`, each Twilio call is made as its account (lsctl:twilioAccounts)."""
        twilio = functools.partial(_twilio, stack)
        return cls(functools.partial(_primary, source), _tsig_key,
                   functools.cache(_route53), functools.cache(twilio))


def _primary(source: str, zone: str, settings: DnsSettings) -> Endpoint:
    server = os.environ.get(SERVER_ENV) or settings.server
    if not server:
        raise ConfigError(source, "lsctl:dns.server", f"no RFC 2136 server is configured for "
                          f"zone {zone}", f"set dns.server to the zone's primary (host:port), "
                          f"or export {SERVER_ENV}=host:port")
    return Endpoint.parse(server)


def _tsig_key(settings: DnsSettings) -> TsigKey:
    from linkshortening.common.secrets import read_secret

    assert settings.tsig_key_name is not None  # the loader requires it for rfc2136
    return TsigKey(settings.tsig_key_name, settings.tsig_algorithm,
                   read_secret(settings.tsig_secret_env, f"TSIG key {settings.tsig_key_name}"))


def _route53() -> Route53Client:
    from linkshortening.dns.route53 import route53_client

    return route53_client()


def _twilio(stack: Stack | None) -> LinkShorteningApi:
    from linkshortening.twilio.accounts import stack_api
    from linkshortening.twilio.api import LinkShorteningApi

    return LinkShorteningApi.from_env() if stack is None else stack_api(stack)
