"""One LinkShorteningApi per Twilio account of a stack, each from its credential reference,
and a client that sends each domain's calls as the domain's account.

The core's subjects do not import each other, so the stack's accounts arrive as anything with
the `AccountRef` attributes (linkshortening.stack.model.TwilioAccount has them).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from linkshortening.common.secrets import read_secret
from linkshortening.twilio.api import (
    API_KEY_SID,
    LinkShorteningApi,
    TwilioCredentials,
    TwilioSettings,
)
from linkshortening.twilio.errors import TwilioApiError, TwilioSetupError
from linkshortening.twilio.models import (
    DnsValidation,
    DomainCertificate,
    DomainConfig,
    ManagedCertRequest,
    MessagingServiceAssociation,
    MessagingServiceDomainConfig,
    ValidationResult,
)

# The implicit account of a stack without lsctl:twilioAccounts; the same value as
# linkshortening.stack.model.DEFAULT_ACCOUNT (the core's subjects do not import each other).
DEFAULT_ACCOUNT = "default"
# Secrets Manager values hold these members (the same as the single-account secret).
SECRET_MEMBERS = ("account_sid", "auth_token", "api_key", "api_secret")
SecretReader = Callable[[str], str]  # secret id -> its SecretString
# The Lambda's map of account name -> the Secrets Manager secret `pulumi up` made for it.
SECRET_IDS_ENV = "LSCTL_TWILIO_SECRET_IDS"  # noqa: S105


class AccountRef(Protocol):
    """A declared account: its SID and where its credentials are."""

    @property
    def name(self) -> str: ...
    @property
    def account_sid(self) -> str: ...
    @property
    def env_prefix(self) -> str: ...
    @property
    def secret_id(self) -> str | None: ...


class DomainRef(Protocol):
    """A declared domain, as far as accounts go (linkshortening.stack.model.DomainSpec)."""

    @property
    def domain_sid(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def messaging_service_sids(self) -> tuple[str, ...]: ...
    def account_of(self, service_sid: str) -> str: ...


class StackRef(Protocol):
    """A stack's domains and accounts (linkshortening.stack.model.Stack)."""

    @property
    def domains(self) -> tuple[DomainRef, ...]: ...  # DomainSpec is one
    @property
    def twilio_accounts(self) -> tuple[AccountRef, ...]: ...


def stack_api(stack: StackRef, **options: Any) -> LinkShorteningApi:
    """The client a job uses for `stack`: each domain's and each Messaging Service's calls
    as its account; a stack without accounts gets the TWILIO_* client it always had.
    `options` are TwilioAccounts'."""
    return domains_api(stack.twilio_accounts, stack.domains, **options)


def domains_api(accounts: Sequence[AccountRef], domains: Sequence[DomainRef],
                **options: Any) -> LinkShorteningApi:
    """As stack_api, for some of a stack's domains (drift's `--domain`)."""
    return TwilioAccounts(accounts, **options).for_domains(
        {d.domain_sid: d.account for d in domains},
        {s: d.account_of(s) for d in domains for s in d.messaging_service_sids})


def env_credentials(account: AccountRef) -> TwilioCredentials:
    """PREFIX_API_KEY + PREFIX_API_SECRET (preferred) or PREFIX_AUTH_TOKEN, each also as
    NAME_FILE; PREFIX_ACCOUNT_SID, when set, must be the declared SID."""
    prefix, purpose = account.env_prefix, f"Twilio credentials of account {account.name}"
    declared = os.environ.get(f"{prefix}_ACCOUNT_SID", "").strip()
    if declared and declared != account.account_sid:
        raise TwilioSetupError(f"{prefix}_ACCOUNT_SID is {declared}, but lsctl:twilioAccounts."
                               f"{account.name} is {account.account_sid}. Fix: set the "
                               "variables of that account, or correct the stack")
    api_key = os.environ.get(f"{prefix}_API_KEY", "").strip()
    if not api_key:
        return TwilioCredentials(account.account_sid, account.account_sid,
                                 read_secret(f"{prefix}_AUTH_TOKEN", purpose))
    if not API_KEY_SID.match(api_key):
        raise TwilioSetupError(f"{prefix}_API_KEY is not an API key SID (SK followed by 32 "
                               "hex digits)")
    return TwilioCredentials(account.account_sid, api_key,
                             read_secret(f"{prefix}_API_SECRET", purpose))


def secret_credentials(account: AccountRef, text: str,
                       where: str | None = None) -> TwilioCredentials:
    """The account's secret value (Secrets Manager, or `where`: a Pulumi secret config key):
    {"api_key", "api_secret"} or {"auth_token"}, optionally with "account_sid"."""
    where = where or f"secret {account.secret_id}"
    fix = ('Fix: store {"account_sid": "AC...", "api_key": "SK...", "api_secret": "..."} '
           f"in {where}")
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(value.get(k, ""), str)
                                              for k in SECRET_MEMBERS):
        raise TwilioSetupError(f"{where} of Twilio account {account.name} "
                               f"is not a JSON object of strings. {fix}")
    if value.get("account_sid", account.account_sid) != account.account_sid:
        raise TwilioSetupError(f"{where} holds account "
                               f"{value['account_sid']}, not {account.account_sid}. {fix}")
    if value.get("api_key") and value.get("api_secret"):
        return TwilioCredentials(account.account_sid, value["api_key"], value["api_secret"])
    if value.get("auth_token"):
        return TwilioCredentials(account.account_sid, account.account_sid, value["auth_token"])
    raise TwilioSetupError(f"{where} of Twilio account {account.name} has "
                           f"neither api_key + api_secret nor auth_token. {fix}")


def _deployed_secret_ids() -> dict[str, str]:
    raw = os.environ.get(SECRET_IDS_ENV, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TwilioSetupError(f"{SECRET_IDS_ENV} is not a JSON object of account name -> "
                               "secret id. Fix: redeploy with `pulumi up`")
    return value


def _secrets_manager(secret_id: str) -> str:
    import boto3  # only stacks that reference Secrets Manager pay for the import

    text: str = boto3.client("secretsmanager").get_secret_value(
        SecretId=secret_id)["SecretString"]
    return text


class TwilioAccounts:
    """The clients of a stack's accounts, built on first use; no accounts: one implicit
    account from the TWILIO_* variables, exactly as before accounts existed."""

    def __init__(self, accounts: Sequence[AccountRef] = (), *,
                 read_secret_string: SecretReader = _secrets_manager,
                 settings: Callable[[TwilioCredentials], TwilioSettings] | None = None,
                 credentials_of: Callable[[str], TwilioCredentials] | None = None,
                 **api_options: Any) -> None:
        """`settings`: how a client reaches Twilio with given credentials (default: the base
        URL and CA bundle of the environment); `credentials_of`: an account's credentials
        when not from its references (the sandbox's); `api_options` go to every client."""
        self._accounts = {a.name: a for a in accounts}
        self._read_secret = read_secret_string
        self._settings = settings or (lambda c: TwilioSettings.from_env(c))
        self._credentials_of = credentials_of or self.credentials
        self._options = api_options  # deadline, response_hooks, ... for every client
        self._clients: dict[str, LinkShorteningApi] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._accounts) or (DEFAULT_ACCOUNT,)

    def credentials(self, name: str) -> TwilioCredentials:
        account = self._accounts.get(name)
        if account is None:
            if self._accounts or name != DEFAULT_ACCOUNT:
                raise TwilioSetupError(f"no Twilio account {name} in lsctl:twilioAccounts")
            return TwilioCredentials.from_env()
        secret_id = _deployed_secret_ids().get(name) or account.secret_id
        if secret_id and not os.environ.get(f"{account.env_prefix}_ACCOUNT_SID"):
            return secret_credentials(account, self._read_secret(secret_id))
        return env_credentials(account)

    def api(self, name: str) -> LinkShorteningApi:
        """Account `name`'s client (one per account, shared by all its calls)."""
        with self._lock:
            client = self._clients.get(name)
        if client is None:
            client = LinkShorteningApi(self._settings(self._credentials_of(name)),
                                       **self._options)
            with self._lock:
                client = self._clients.setdefault(name, client)
        return client

    def for_domains(self, domain_accounts: Mapping[str, str],
                    service_accounts: Mapping[str, str] | None = None) -> LinkShorteningApi:
        """A client that makes each domain's calls (DomainSid -> account name) and each
        Messaging Service's (MG... -> account name) as its account; one account: its client."""
        services = dict(service_accounts or {})
        names = sorted({*domain_accounts.values(), *services.values()}) or [self.names[0]]
        clients = [self.api(name) for name in names]  # every credential checked up front
        if len(clients) == 1:
            return clients[0]
        return DomainRoutedApi(self, domain_accounts, services)


class DomainRoutedApi(LinkShorteningApi):
    """The calls the renewer makes about domains, each sent as the domain's account; the
    batch calls split by account and run the accounts side by side."""

    def __init__(self, accounts: TwilioAccounts, domain_accounts: Mapping[str, str],
                 service_accounts: Mapping[str, str]) -> None:
        self._routes = dict(domain_accounts)
        self._services = dict(service_accounts)
        self._accounts = accounts
        first = accounts.api(next(iter(self._routes.values())))
        super().__init__(first.settings, deadline=first.deadline)

    def as_domain(self, domain_sid: str) -> LinkShorteningApi:
        name = self._routes.get(domain_sid)
        if name is None:
            raise TwilioSetupError(f"domain {domain_sid} is not declared in the stack")
        return self._accounts.api(name)

    def as_service(self, service_sid: str) -> LinkShorteningApi:
        name = self._services.get(service_sid)
        if name is None:
            raise TwilioSetupError(f"Messaging Service {service_sid} is not declared in the "
                                   "stack")
        return self._accounts.api(name)

    def _by_account(self, domain_sids: Iterable[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for sid in domain_sids:
            self.as_domain(sid)  # an undeclared domain fails here, before any call
            groups.setdefault(self._routes[sid], []).append(sid)
        return groups

    def upload_certificates(self, bundles: Mapping[str, str], *, workers: int = 8,
                            ) -> dict[str, DomainCertificate | TwilioApiError]:
        groups = self._by_account(bundles)
        with ThreadPoolExecutor(len(groups) or 1) as pool:
            parts = list(pool.map(lambda item: self._accounts.api(item[0]).upload_certificates(
                {sid: bundles[sid] for sid in item[1]}, workers=workers), groups.items()))
        merged = {sid: outcome for part in parts for sid, outcome in part.items()}
        return {sid: merged[sid] for sid in bundles}

    def wait_for_validation(self, domain_sids: Iterable[str], **kwargs: Any,
                            ) -> list[ValidationResult]:
        order = list(dict.fromkeys(domain_sids))
        groups = self._by_account(order)
        with ThreadPoolExecutor(len(groups) or 1) as pool:
            parts = list(pool.map(lambda item: self._accounts.api(item[0]).wait_for_validation(
                item[1], **kwargs), groups.items()))
        by_sid = {r.domain_sid: r for part in parts for r in part}
        return [by_sid[sid] for sid in order]

    def fetch_certificate(self, domain_sid: str, **kwargs: Any) -> DomainCertificate:
        return self.as_domain(domain_sid).fetch_certificate(domain_sid, **kwargs)

    def delete_certificate(self, domain_sid: str) -> None:
        self.as_domain(domain_sid).delete_certificate(domain_sid)

    def request_managed_cert(self, domain_sid: str) -> ManagedCertRequest:
        return self.as_domain(domain_sid).request_managed_cert(domain_sid)

    def fetch_config(self, domain_sid: str) -> DomainConfig:
        return self.as_domain(domain_sid).fetch_config(domain_sid)

    def update_config(self, domain_sid: str, **kwargs: Any) -> DomainConfig:
        return self.as_domain(domain_sid).update_config(domain_sid, **kwargs)

    def validate_dns(self, domain_sid: str) -> DnsValidation:
        return self.as_domain(domain_sid).validate_dns(domain_sid)

    # A Messaging Service's association is a call made as the account that owns the service.
    def associate_messaging_service(self, domain_sid: str,
                                    messaging_service_sid: str) -> MessagingServiceAssociation:
        return self.as_service(messaging_service_sid).associate_messaging_service(
            domain_sid, messaging_service_sid)

    def dissociate_messaging_service(self, domain_sid: str, messaging_service_sid: str) -> None:
        self.as_service(messaging_service_sid).dissociate_messaging_service(
            domain_sid, messaging_service_sid)

    def fetch_messaging_service_domain(self, messaging_service_sid: str,
                                       ) -> MessagingServiceAssociation:
        return self.as_service(messaging_service_sid).fetch_messaging_service_domain(
            messaging_service_sid)

    def fetch_messaging_service_config(self, messaging_service_sid: str,
                                       ) -> MessagingServiceDomainConfig:
        return self.as_service(messaging_service_sid).fetch_messaging_service_config(
            messaging_service_sid)

    def messaging_service_visible(self, messaging_service_sid: str) -> bool:
        return self.as_service(messaging_service_sid).messaging_service_visible(
            messaging_service_sid)
