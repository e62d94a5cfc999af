"""Before the first order: one cheap, read-only call to each service a run needs (the state
store, Route53, Twilio, the CA), so credentials that are missing, rejected, denied or expired
and endpoints that cannot be reached are setup errors, all reported together, instead of
failures halfway through a run. A --dry-run therefore proves the setup, too.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from linkshortening.common.aws import QUICK, aws_setup_error
from linkshortening.common.errors import SetupError, is_user_error
from linkshortening.stack.model import DnsSettings, Stack

if TYPE_CHECKING:
    from acme import messages

    from acme_renewer.account import CaEndpoint
    from acme_renewer.state import RenewerState
    from linkshortening.twilio.api import LinkShorteningApi
    from linkshortening.twilio.errors import TwilioApiError

STATE = "Secrets Manager (lsctl:acme.state)"
ROUTE53 = "Route53 (lsctl:dns)"
TWILIO_AUTH = (20003, 401)
TWILIO_DENIED = (20403, 403)
TWILIO_CREDENTIALS = ("TWILIO_ACCOUNT_SID with TWILIO_API_KEY + TWILIO_API_SECRET (or "
                      "TWILIO_AUTH_TOKEN), from Console > Account > API keys & tokens")


def check_access(stack: Stack, state: RenewerState | None, api: LinkShorteningApi | None,
                 ca: CaEndpoint | None) -> list[Exception]:
    """The setup problems found, one per service that cannot be used; [] when all can."""
    checks: list[Callable[[], None]] = []
    if stack.acme.state_backend == "secretsmanager":
        checks.append(lambda: _state(stack))
    for settings in dict.fromkeys(s.dns for s in stack.domains):
        if settings is not None and settings.provider == "route53":
            zone = next(s.zone for s in stack.domains if s.dns == settings)
            checks.append(functools.partial(_route53, stack, settings, zone))
    if api is not None and stack.domains:
        checks.append(lambda: _twilio(api, stack.domains[0].domain_sid))
    if ca is not None and any(s.certificate == "acme" for s in stack.domains):
        checks.append(lambda: _ca(stack, state, ca))
    if not checks:
        return []
    problems: list[Exception] = []

    def run(check: Callable[[], None]) -> None:
        try:
            check()
        except Exception as exc:
            if is_user_error(exc):  # anything else the run itself reports where it happens
                problems.append(exc)

    with ThreadPoolExecutor(len(checks)) as pool:  # independent: one wait, not four
        list(pool.map(run, checks))
    return problems


def _aws(service: str, call: Callable[[], Any]) -> None:
    """Run `call`; raise its setup problem, ignore anything else (throttling, a bug)."""
    try:
        call()
    except Exception as exc:
        problem = aws_setup_error(exc, service)
        if problem is not None:
            raise problem from None
        if is_user_error(exc):  # e.g. no hosted zone holds the stack's zone
            raise


def _state(stack: Stack) -> None:
    from acme_renewer.state import SecretsManagerBackend

    prefix = stack.acme.state_location or f"lsctl/{stack.name}"
    _aws(STATE, lambda: SecretsManagerBackend.connect(prefix, stack.aws_region, **QUICK)
         .read("pending-challenges.json"))


def _route53(stack: Stack, settings: DnsSettings, zone: str) -> None:
    from linkshortening.dns.route53 import find_zone_id, route53_client

    def call() -> None:
        client = route53_client(stack.aws_region, **QUICK)
        if settings.hosted_zone_id:  # what the role may read: the zone's record sets
            client.list_resource_record_sets(
                HostedZoneId=settings.hosted_zone_id.removeprefix("/hostedzone/"), MaxItems="1")
        else:
            find_zone_id(client, zone)

    _aws(ROUTE53, call)


def _twilio(api: LinkShorteningApi, domain_sid: str) -> None:
    from linkshortening.common.retry import RetryPolicy
    from linkshortening.twilio.api import LinkShorteningApi
    from linkshortening.twilio.errors import TwilioApiError

    quick = LinkShorteningApi(dataclasses.replace(api.settings, retry=RetryPolicy(attempts=2)))
    try:
        quick.fetch_certificate(domain_sid)
    except TwilioApiError as exc:
        problem = twilio_setup_error(exc, api)
        if problem is not None:
            raise problem from None


def twilio_setup_error(exc: TwilioApiError, api: LinkShorteningApi) -> SetupError | None:
    """The setup problem behind a Twilio failure: credentials rejected (20003), not allowed
    (20403), or Twilio not reachable; None for anything else (a 404 means they work)."""
    account = api.settings.credentials.account_sid
    said = f"(error {exc.code}, HTTP {exc.status})"
    if exc.code in TWILIO_AUTH or exc.status == TWILIO_AUTH[1]:
        return SetupError(f"Twilio: the credentials for account {account} were rejected "
                          f"{said}. Fix: set {TWILIO_CREDENTIALS}")
    if exc.code in TWILIO_DENIED or exc.status == TWILIO_DENIED[1]:
        return SetupError(f"Twilio: account {account}'s credentials may not use Link "
                          f"Shortening {said}. Fix: use the credentials of the account that "
                          "owns the domains (an API key of that account, not a restricted one)")
    if exc.status is None:
        return SetupError(f"Twilio: {exc.message}. Fix: check the network and proxy, or "
                          "LSCTL_TWILIO_BASE_URL if it is set")
    return None


def _ca(stack: Stack, state: RenewerState | None, ca: CaEndpoint) -> None:
    """The CA's directory; with an account stored for it, the account too (POST-as-GET):
    a deactivated account is refused (`unauthorized`) on every request, orders included."""
    import requests
    from acme import client, errors, messages

    from acme_renewer.account import open_account
    from acme_renewer.issuance import USER_AGENT

    try:
        stored = state.account(ca.directory) if state is not None else None
    except Exception:  # the state store's own check reports why it cannot be read
        stored = None
    try:
        if stored is None:
            network = client.ClientNetwork(None, verify_ssl=ca.ca_bundle or True,  # type: ignore[arg-type]
                                           user_agent=USER_AGENT, timeout=15)
            client.ClientV2.get_directory(ca.directory, network)
        else:
            assert state is not None
            session = open_account(stack.acme, state, stack.source, dry_run=True).session
            assert session is not None
            session.client().query_registration(messages.RegistrationResource(
                uri=stored.url, body=messages.Registration()))
    except requests.exceptions.SSLError:
        raise SetupError(f"ACME: the TLS certificate of {ca.directory} is not trusted. Fix: "
                         "set LSCTL_ACME_CA_BUNDLE (or LSCTL_CA_BUNDLE) to the PEM bundle "
                         "that verifies the CA, or unset a wrong one") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise SetupError(f"ACME: cannot reach the CA at {ca.directory} "
                         f"({exc.__class__.__name__}). Fix: check the network and proxy, "
                         "lsctl:acme.directory, or LSCTL_ACME_DIRECTORY if it is set") from None
    except messages.Error as exc:
        problem = acme_setup_error(exc, ca.directory, stored.url if stored else None,
                                   registering=False)
        if problem is not None:
            raise problem from None
    except (errors.Error, ValueError) as exc:
        raise SetupError(f"ACME: {ca.directory} is not an ACME directory "
                         f"({exc.__class__.__name__}). Fix: set lsctl:acme.directory (or "
                         "LSCTL_ACME_DIRECTORY) to the CA's directory URL") from None


def acme_setup_error(exc: messages.Error, directory: str, account_url: str | None,
                     registering: bool) -> SetupError | None:
    """The setup problem behind the CA refusing the account (RFC 8555 `unauthorized`)."""
    if exc.code not in ("unauthorized", "accountDoesNotExist", "externalAccountRequired"):
        return None
    said = f"({exc.code}: {exc.detail})" if exc.detail else f"({exc.code})"
    if registering:
        return SetupError(f"ACME: the CA at {directory} refused to register an account {said}. "
                          "Fix: if it needs External Account Binding, set LSCTL_EAB_KID and "
                          "LSCTL_EAB_HMAC to the values the CA gave you")
    return SetupError(f"ACME: the CA at {directory} refused the stored account {account_url} "
                      f"{said}. Fix: if it was deactivated or its key replaced, delete its "
                      "entry under accounts/ in the state store; the next run registers anew")
