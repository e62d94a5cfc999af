"""Twilio's Link Shortening API through the official `twilio` SDK, with typed results.

`LinkShorteningApi` covers every Link Shortening resource the SDK offers. Every call retries
what Twilio says is transient (429 honouring Retry-After, 5xx, unreachable) for seconds, and
uploads answered 30133 ("try again in a few minutes") for minutes, never past the deadline it
was given; it fails with one error type, `TwilioApiError`, whichever error shape Twilio used
(classic or RFC 9457). The object is safe to share between threads: each thread gets its own
SDK client, all of them sending through one pooled `requests` session (urllib3's pools are
thread-safe), so a thread reuses the connections others opened; `wait_for_validation` and the
bulk reads rely on it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import requests
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from linkshortening.common.deadline import Clock, Deadline
from linkshortening.common.https import HttpsSetupError, https_override, server_session
from linkshortening.common.https import ca_bundle as https_ca_bundle
from linkshortening.common.progress import OnWait, WaitProgress
from linkshortening.common.retry import RetryPolicy, call_with_retries
from linkshortening.common.secrets import read_secret
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

# Where the sandbox (or a proxy) stands in for https://messaging.twilio.com, and the CA bundle
# that verifies it. TWILIO_REGION/TWILIO_EDGE never rewrite an explicit base URL.
BASE_URL_ENV = "LSCTL_TWILIO_BASE_URL"
CA_BUNDLE_ENV = "LSCTL_TWILIO_CA_BUNDLE"
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
API_KEY_SID = re.compile(r"^SK[0-9a-fA-F]{32}$")
POOL_SIZE = 32  # connections kept for all threads (validation polls on 16, reads on 8)
# Without a run deadline (the CLI today), how long a 30133 upload is tried again.
RETRY_LATER_FOR = 600.0
log = logging.getLogger("lsctl.twilio")
T = TypeVar("T")
ResponseHook = Callable[[requests.Response], None]


@dataclass(frozen=True)
class TwilioCredentials:
    """Account SID plus either the auth token or an API key and its secret."""

    account_sid: str
    username: str  # the Account SID (auth token) or an API key SID (SK...)
    password: str = field(repr=False)

    @property
    def kind(self) -> str:
        return "api-key" if self.username != self.account_sid else "auth-token"

    @classmethod
    def from_env(cls) -> TwilioCredentials:
        """TWILIO_ACCOUNT_SID with TWILIO_API_KEY + TWILIO_API_SECRET (preferred: revocable,
        least privilege) or TWILIO_AUTH_TOKEN; each secret may also come from NAME_FILE."""
        purpose = "Twilio credentials"
        account = read_secret("TWILIO_ACCOUNT_SID", purpose)
        if not ACCOUNT_SID.match(account):
            raise TwilioSetupError("TWILIO_ACCOUNT_SID is not an Account SID (AC followed by "
                                   "32 hex digits). Fix: copy it from the Twilio Console")
        api_key = os.environ.get("TWILIO_API_KEY", "").strip()
        if api_key:
            if not API_KEY_SID.match(api_key):
                raise TwilioSetupError("TWILIO_API_KEY is not an API key SID (SK followed by "
                                       "32 hex digits)")
            return cls(account, api_key, read_secret("TWILIO_API_SECRET", purpose))
        return cls(account, account, read_secret("TWILIO_AUTH_TOKEN", purpose))


@dataclass(frozen=True)
class TwilioSettings:
    """How to reach Twilio: credentials, an optional base URL and CA bundle, retries."""

    credentials: TwilioCredentials
    base_url: str | None = None  # e.g. the sandbox emulator; None: Twilio's own hosts
    ca_bundle: str | None = None  # verifies base_url's certificate; None: system store
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # 30133 asks for "a few minutes": 7.5-15 s, then doubling up to 1-2 min between tries.
    retry_later: RetryPolicy = field(default_factory=lambda: RetryPolicy(
        attempts=1000, base_delay=15.0, max_delay=120.0, max_retry_after=600.0))
    retry_later_for: float = RETRY_LATER_FOR  # the bound without a run deadline

    @classmethod
    def from_env(cls, credentials: TwilioCredentials | None = None,
                 **overrides: Any) -> TwilioSettings:
        """Base URL and CA bundle by lsctl's one HTTPS rule; credentials from the environment
        unless given (the Pulumi providers take theirs from the stack's secret config)."""
        try:  # the rule every lsctl HTTPS client follows (linkshortening.common.https)
            base_url = (https_override(BASE_URL_ENV) or "").rstrip("/") or None
            ca_bundle = https_ca_bundle(CA_BUNDLE_ENV)
        except HttpsSetupError as exc:
            raise TwilioSetupError(str(exc)) from None
        return cls(credentials or TwilioCredentials.from_env(), base_url, ca_bundle,
                   **overrides)


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's HTTP client, keeping the last raw response: the SDK's exception drops
    more_info and Retry-After, which the error and the retries need."""

    def __init__(self, settings: TwilioSettings, hooks: Sequence[ResponseHook],
                 session: requests.Session) -> None:
        def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            for hook in hooks:
                hook(response)

        super().__init__(timeout=settings.timeout, request_hooks={"response": [on_response]})
        self.session = session  # shared by every thread's client: one pool of connections
        self.last_response: Response | None = None

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self.last_response = None
        response: Response = super().request(*args, **kwargs)
        self.last_response = response
        return response


class LinkShorteningApi:
    """Every Link Shortening operation of the `twilio` SDK, typed, with retries."""

    def __init__(self, settings: TwilioSettings, *, response_hooks: Sequence[ResponseHook] = (),
                 deadline: Deadline | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Clock | None = None) -> None:
        """`deadline`: the run's; no retry or wait goes past it. `sleep` and `clock` (default:
        the deadline's clock, else the monotonic one) are what tests replace."""
        self.settings = settings
        self._hooks = tuple(response_hooks)  # see every raw HTTP exchange (contract tests)
        self._sleep = sleep
        self._clock = clock or (deadline.clock if deadline else time.monotonic)
        self.deadline = deadline or Deadline.never(self._clock)
        self._local = threading.local()
        self._session: requests.Session | None = None
        self._session_lock = threading.Lock()

    @classmethod
    def from_env(cls, **kwargs: Any) -> LinkShorteningApi:
        return cls(TwilioSettings.from_env(), **kwargs)

    def __repr__(self) -> str:
        creds = self.settings.credentials
        return (f"LinkShorteningApi(account={creds.account_sid}, auth={creds.kind}, "
                f"base_url={self.settings.base_url or 'Twilio'})")

    # --- certificates ---------------------------------------------------------------------

    def upload_certificate(self, domain_sid: str, tls_cert: str) -> DomainCertificate:
        """POST the chain and PKCS#8 key (`TlsCert`); usually answered `pending`."""
        outcome = self.upload_certificates({domain_sid: tls_cert}, workers=1)[domain_sid]
        if isinstance(outcome, TwilioApiError):
            raise outcome
        return outcome

    def upload_certificates(self, bundles: Mapping[str, str], *, workers: int = 8,
                            ) -> dict[str, DomainCertificate | TwilioApiError]:
        """Upload each domain's TlsCert (DomainSid -> bundle), several at once.

        A domain Twilio answers 30133 is tried again after a growing, jittered pause, until
        the deadline (without one: `retry_later_for`). Its pause holds no worker: the other
        domains' uploads go on meanwhile, as in `wait_for_validation`'s rounds.
        """
        cutoff = self.deadline if self.deadline.bounded else Deadline.after(
            self.settings.retry_later_for, self._clock)
        started = self._clock()
        due = dict.fromkeys(bundles, started)  # DomainSid -> when to try next
        tries: dict[str, int] = {}
        results: dict[str, DomainCertificate | TwilioApiError] = {}
        with ThreadPoolExecutor(max(1, min(workers, len(bundles)))) as pool:
            while due:
                now = self._clock()
                ready = [sid for sid, at in due.items() if at <= now]
                outcomes = pool.map(lambda sid: self._upload_once(sid, bundles[sid]), ready)
                for sid, outcome in zip(ready, outcomes, strict=True):
                    del due[sid]
                    if isinstance(outcome, TwilioApiError) and outcome.retry_later:
                        tries[sid] = tries.get(sid, 0) + 1
                        pause = self.settings.retry_later.delay(tries[sid], outcome.retry_after)
                        if pause is not None and cutoff.allows(pause):
                            log.info("upload certificate %s: %s; try %d in %.0fs", sid,
                                     outcome.message, tries[sid] + 1, pause)
                            due[sid] = self._clock() + pause
                            continue
                        outcome = outcome.given_up(tries[sid], self._clock() - started)
                    results[sid] = outcome
                if due:
                    self._sleep(max(0.0, min(due.values()) - self._clock()))
        return {sid: results[sid] for sid in bundles}

    def _upload_once(self, domain_sid: str, tls_cert: str) -> DomainCertificate | TwilioApiError:
        try:
            return self._call("upload certificate", lambda c: DomainCertificate.from_sdk(
                c.messaging.v1.domain_certs(domain_sid).update(tls_cert=tls_cert)),
                retry_later=False)
        except TwilioApiError as exc:
            return exc

    def fetch_certificate(self, domain_sid: str, *,
                          api_version: Literal[1, 2] = 2) -> DomainCertificate:
        """The domain's certificate; v2 also says whether it is Twilio-managed."""
        if api_version == 1:
            return self._call("fetch certificate", lambda c: DomainCertificate.from_sdk(
                c.messaging.v1.domain_certs(domain_sid).fetch()))
        return self._call("fetch certificate", lambda c: DomainCertificate.from_sdk(
            c.messaging.v2.domain_certs(domain_sid).fetch()))

    def delete_certificate(self, domain_sid: str) -> None:
        self._call("delete certificate",
                   lambda c: c.messaging.v1.domain_certs(domain_sid).delete())

    def request_managed_cert(self, domain_sid: str) -> ManagedCertRequest:
        """Ask Twilio to obtain and renew the domain's certificate itself."""
        return self._call("request managed certificate", lambda c: ManagedCertRequest.from_sdk(
            c.messaging.v1.request_managed_cert(domain_sid).update()))

    # --- domain config --------------------------------------------------------------------

    def fetch_config(self, domain_sid: str) -> DomainConfig:
        return self._call("fetch domain config", lambda c: DomainConfig.from_sdk(
            c.messaging.v1.domain_config(domain_sid).fetch()))

    def update_config(self, domain_sid: str, *, fallback_url: str | None = None,
                      callback_url: str | None = None, continue_on_failure: bool | None = None,
                      disable_https: bool | None = None) -> DomainConfig:
        """Set the given settings; None leaves one unchanged (Twilio's description has no way
        to unset a URL: FallbackUrl and CallbackUrl are `format: uri`)."""
        changes = {name: value for name, value in (
            ("fallback_url", fallback_url), ("callback_url", callback_url),
            ("continue_on_failure", continue_on_failure), ("disable_https", disable_https))
            if value is not None}
        return self._call("update domain config", lambda c: DomainConfig.from_sdk(
            c.messaging.v1.domain_config(domain_sid).update(**changes)))

    # --- Messaging Services ---------------------------------------------------------------

    def associate_messaging_service(self, domain_sid: str,
                                    messaging_service_sid: str) -> MessagingServiceAssociation:
        return self._call("associate Messaging Service",
                          lambda c: MessagingServiceAssociation.from_sdk(
                              c.messaging.v1.linkshortening_messaging_service(
                                  domain_sid, messaging_service_sid).create()))

    def messaging_service_visible(self, messaging_service_sid: str) -> bool:
        """Does this account see the Messaging Service? Twilio answers another account's
        service like a missing one (404), so False is either (lsctl:twilioAccounts)."""
        try:
            self._call("fetch Messaging Service",
                       lambda c: c.messaging.v1.services(messaging_service_sid).fetch())
        except TwilioApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def dissociate_messaging_service(self, domain_sid: str, messaging_service_sid: str) -> None:
        self._call("dissociate Messaging Service",
                   lambda c: c.messaging.v1.linkshortening_messaging_service(
                       domain_sid, messaging_service_sid).delete())

    def fetch_messaging_service_domain(
            self, messaging_service_sid: str) -> MessagingServiceAssociation:
        """Which domain a Messaging Service uses."""
        return self._call("fetch Messaging Service domain",
                          lambda c: MessagingServiceAssociation.from_sdk(
                              c.messaging.v1.linkshortening_messaging_service_domain_association(
                                  messaging_service_sid).fetch()))

    def fetch_messaging_service_config(
            self, messaging_service_sid: str) -> MessagingServiceDomainConfig:
        """The config of the domain a Messaging Service uses."""
        return self._call("fetch Messaging Service domain config",
                          lambda c: MessagingServiceDomainConfig.from_sdk(
                              c.messaging.v1.domain_config_messaging_service(
                                  messaging_service_sid).fetch()))

    # --- DNS ------------------------------------------------------------------------------

    def validate_dns(self, domain_sid: str) -> DnsValidation:
        return self._call("validate DNS", lambda c: DnsValidation.from_sdk(
            c.messaging.v1.domain_validate_dns(domain_sid).fetch()))

    # --- waiting for validation -----------------------------------------------------------

    def wait_for_validation(self, domain_sids: Iterable[str], *, timeout: float = 600.0,
                            poll_interval: float = 5.0, workers: int = 16,
                            progress: OnWait | None = None) -> list[ValidationResult]:
        """Poll every domain's certificate until `cert_in_validation` is null (validated) or
        reports a failure, all domains in the same rounds, for at most `timeout` seconds (and
        never past the deadline). A status other than the documented `pending` that does not
        say it failed counts as still pending; a timeout reports it as Twilio gave it.

        Twilio takes up to five minutes per upload; polling the domains together makes many
        uploads cost about one validation delay, not one each. `progress` hears after every
        round how many have an answer.
        """
        started = self._clock()
        limit = self.deadline.child(within=timeout)
        order = list(dict.fromkeys(domain_sids))
        pending = list(order)
        results: dict[str, ValidationResult] = {}
        last: dict[str, DomainCertificate] = {}
        with ThreadPoolExecutor(max(1, min(workers, len(order)))) as pool:
            while pending:
                round_started = self._clock()
                for sid, outcome in zip(pending, pool.map(self._poll, pending), strict=True):
                    if isinstance(outcome, ValidationResult):
                        results[sid] = outcome
                    else:
                        last[sid] = outcome
                pending = [sid for sid in pending if sid not in results]
                remaining = limit.remaining()
                if progress:
                    elapsed = self._clock() - started
                    progress(WaitProgress(len(results), len(order), "certificates", elapsed,
                                          elapsed + remaining))  # gives up then (deadline)
                if pending and remaining <= 0:
                    for sid in pending:
                        results[sid] = ValidationResult(
                            sid, "timed_out", last.get(sid),
                            f"still in validation after {self._clock() - started:.0f}s"
                            + _status_note(last.get(sid)))
                    break
                if pending:
                    pause = poll_interval - (self._clock() - round_started)
                    self._sleep(max(0.0, min(pause, remaining)))
        return [results[sid] for sid in order]

    def _poll(self, domain_sid: str) -> ValidationResult | DomainCertificate:
        """One look at a domain: a final result, or the certificate still in validation."""
        try:
            cert = self.fetch_certificate(domain_sid, api_version=1)
        except TwilioApiError as exc:
            return ValidationResult(domain_sid, "error", None, str(exc), exc)
        validation = cert.cert_in_validation
        if validation is None:
            return ValidationResult(domain_sid, "validated", cert,
                                    f"certificate {cert.certificate_sid} is current")
        if validation.state != "failed":
            return cert  # pending, or a status Twilio does not document: still waiting
        return ValidationResult(domain_sid, "failed", cert,
                                f"validation ended {validation.status}"
                                + (f": {validation.reason}" if validation.reason else ""))

    # --- plumbing -------------------------------------------------------------------------

    def _client(self) -> tuple[Client, _HttpClient]:
        """This thread's SDK client (requests sessions are not meant to be shared)."""
        cached: tuple[Client, _HttpClient] | None = getattr(self._local, "client", None)
        if cached is None:
            creds = self.settings.credentials
            http = _HttpClient(self.settings, self._hooks, self._shared_session())
            client = Client(creds.username, creds.password, creds.account_sid, http_client=http)
            if self.settings.base_url:
                # The SDK would rewrite the host for a region or edge; an explicit base URL
                # (the sandbox) is where the caller wants to go.
                client.region = client.edge = None
                client.messaging.base_url = self.settings.base_url
            cached = self._local.client = (client, http)
        return cached

    def _shared_session(self) -> requests.Session:
        """The one session every thread's SDK client sends through, reading the
        environment once (server_session: the SDK would merge it on every request)."""
        with self._session_lock:
            if self._session is None:
                self._session = server_session(self._host(), self.settings.ca_bundle,
                                               pool_connections=1,  # one host
                                               pool_maxsize=POOL_SIZE)
            return self._session

    def _call(self, what: str, operation: Callable[[Client], T], *,
              retry_later: bool = True) -> T:
        """`operation` with retries; `retry_later=False` leaves 30133 to the caller (uploads
        try it again for minutes, see `upload_certificates`)."""
        def attempt() -> T:
            client, http = self._client()
            try:
                return operation(client)
            except (TwilioRestException, TwilioServiceException) as exc:
                raise self._api_error(exc, http.last_response) from None
            except requests.exceptions.SSLError as exc:
                raise TwilioSetupError(f"{what}: TLS verification of {self._host()} failed "
                                       f"({exc.__class__.__name__}); check "
                                       f"{CA_BUNDLE_ENV}") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TwilioApiError(None, None, f"{what}: cannot reach {self._host()} "
                                     f"({exc.__class__.__name__})") from None
            except TwilioException as exc:
                raise TwilioApiError(None, None, f"{what}: {exc}") from None

        def delay_for(exc: Exception, retry: int) -> float | None:
            if not isinstance(exc, TwilioApiError) or not exc.retryable:
                return None
            if exc.retry_later and not retry_later:
                return None
            delay = self.settings.retry.delay(retry, exc.retry_after)
            if delay is None or not self.deadline.allows(delay):
                return None
            log.info("%s: %s; retry %d in %.1fs", what, exc, retry, delay)
            return delay

        return call_with_retries(attempt, delay_for, self._sleep)

    def _api_error(self, exc: TwilioRestException | TwilioServiceException,
                   raw: Response | None) -> TwilioApiError:
        """From the raw response when there is one (it has more_info and Retry-After), else
        from either of the SDK's two exception types (RFC 9457 bodies give the second)."""
        method, uri = str(exc.method), str(exc.uri)
        if raw is not None and raw.status_code == exc.status:
            return TwilioApiError.from_response(raw.status_code, raw.text, raw.headers,
                                                method, uri)
        code = exc.code if isinstance(exc.code, int) else None
        if isinstance(exc, TwilioServiceException):
            message = str(exc.detail or exc.title)
        else:
            message = str(exc.msg)
        return TwilioApiError(exc.status, code, message, method=method, uri=uri)

    def _host(self) -> str:
        return self.settings.base_url or "https://messaging.twilio.com"


def _status_note(cert: DomainCertificate | None) -> str:
    """The last cert_in_validation.status, as Twilio gave it, when it is not `pending`."""
    validation = cert.cert_in_validation if cert else None
    if validation is None or validation.state == "pending":
        return ""
    return f" (cert_in_validation.status {validation.status!r}, which Twilio does not document)"
