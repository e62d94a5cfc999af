"""The Link Shortening operations, on Twilio's paths, with Twilio's response bodies.

Each handler takes the parsed request and returns a Reply, or raises ApiError; the server turns
both into HTTP. Bodies carry exactly the properties of the response schemas in Twilio's
OpenAPI description (`messaging.v1.*`, `messaging.v2.domain_cert_v4`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from cryptography import x509

from sandbox.twilio_emulator import certcheck, dnscheck
from sandbox.twilio_emulator.accounts import Accounts
from sandbox.twilio_emulator.errors import (
    DOMAIN_MESSAGES,
    DOMAIN_SID_INVALID,
    MESSAGING_SERVICE_TAKEN,
    METHOD_NOT_ALLOWED,
    NOT_PEM,
    ApiError,
    invalid,
    no_certificate,
    not_found,
    upload_refused,
)
from sandbox.twilio_emulator.knobs import Knobs
from sandbox.twilio_emulator.state import (
    Certificate,
    Domain,
    Store,
    Validation,
    new_sid,
    utcnow,
)

SID_PATTERNS = {"DomainSid": re.compile(r"DN[0-9a-fA-F]{32}"),
                "MessagingServiceSid": re.compile(r"MG[0-9a-fA-F]{32}")}
Body = dict[str, object]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]  # path parameters, by the names Twilio's paths give them
    form: dict[str, str]  # form-encoded body, first value of each field
    account: str = ""  # the Account SID the request authenticated as


@dataclass(frozen=True)
class Reply:
    status: int
    body: Body | None  # None: no content (204)
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json; charset=utf-8"


@dataclass
class Context:
    """What handlers work with: the account's state, the knobs, and the outside world."""

    store: Store
    knobs: Knobs
    dns: tuple[str, int]  # the authoritative server ValidateDns asks
    base_url: str  # this emulator's own URL, for the `url` members
    roots: list[x509.Certificate] = field(default_factory=list)  # trusted for uploads
    accounts: Accounts = field(default_factory=Accounts)  # the Organization's accounts


Handler = Callable[[Context, Request], Reply]


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _domain(ctx: Context, sid: str) -> Domain:
    code = ctx.knobs.domain_errors.get(sid)
    if code is not None:  # a domain Twilio will not (yet) use: the test said so
        raise ApiError(400, code, DOMAIN_MESSAGES[code])
    domain = ctx.store.domain(sid)
    if domain is None:
        raise ApiError(400, DOMAIN_SID_INVALID, f"Domain SID {sid} is invalid: it is not a "
                       "verified domain of your Twilio Organization")
    return domain


# --- certificates -------------------------------------------------------------------------


def _validation_body(ctx: Context, validation: Validation | None) -> Body | None:
    if validation is None:
        return None
    body: Body = {"date_expires": iso(validation.certificate.not_after),
                  "status": "failed" if validation.failed else ctx.knobs.validation_status}
    if validation.failed:
        body["reason"] = "Certificate validation failed; upload a new valid certificate"
    return body


def _certificate_body(ctx: Context, domain: Domain, version: int) -> Body:
    current, validation = domain.current, domain.validation
    sid = current.sid if current else validation.certificate.sid if validation else None
    body: Body = {
        "domain_sid": domain.sid,
        "date_updated": iso(domain.updated),
        "date_expires": iso(current.not_after) if current else None,
        "date_created": iso(domain.created),
        "domain_name": f"https://{domain.name}",
        "certificate_sid": sid,
    }
    if version == 2:
        body["managed"] = bool(current and current.managed)
        body["requesting"] = domain.requesting
    body["url"] = f"{ctx.base_url}/v{version}/LinkShortening/Domains/{domain.sid}/Certificate"
    body["cert_in_validation"] = _validation_body(ctx, validation)
    return body


def upload_certificate(ctx: Context, req: Request) -> Reply:
    tls_cert = req.form.get("TlsCert")
    if tls_cert is None:
        raise upload_refused(NOT_PEM, "Missing required parameter TlsCert: the certificate "
                             "chain followed by the PKCS #8 private key")
    sid = req.params["DomainSid"]
    with ctx.store.locked():
        name, roots = _domain(ctx, sid).name, list(ctx.roots)
    accepted = certcheck.check_upload(tls_cert, name, roots, utcnow())  # CPU work, unlocked
    with ctx.store.locked() as store:
        domain = _domain(ctx, sid)
        created = domain.current is None
        domain.validation = Validation(Certificate(new_sid("CW"), accepted.not_after,
                                                   tls_cert=tls_cert),
                                       store.clock() + ctx.knobs.validation_delay,
                                       ctx.knobs.fail_validation)
        domain.updated = utcnow()
        domain.settle(store.clock())
        return Reply(201 if created else 200, _certificate_body(ctx, domain, 1))


def _fetch_certificate(version: int) -> Handler:
    def fetch(ctx: Context, req: Request) -> Reply:
        with ctx.store.locked():
            domain = _domain(ctx, req.params["DomainSid"])
            if domain.current is None and domain.validation is None and not domain.requesting:
                raise no_certificate(req.path, ctx.knobs.no_certificate)
            return Reply(200, _certificate_body(ctx, domain, version))
    fetch.__name__ = f"fetch_certificate_v{version}"  # its name in per-account counts
    return fetch


def delete_certificate(ctx: Context, req: Request) -> Reply:
    with ctx.store.locked():
        domain = _domain(ctx, req.params["DomainSid"])
        if domain.current is None and domain.validation is None:
            raise no_certificate(req.path, ctx.knobs.no_certificate)
        domain.current = domain.validation = None
        domain.updated = utcnow()
    return Reply(204, None)


def request_managed_cert(ctx: Context, req: Request) -> Reply:
    with ctx.store.locked() as store:
        domain = _domain(ctx, req.params["DomainSid"])
        if not domain.requesting:
            domain.managed_due = store.clock() + ctx.knobs.validation_delay
            domain.updated = utcnow()
            domain.settle(store.clock())
        current = domain.current
        return Reply(200, {
            "domain_sid": domain.sid,
            "date_updated": iso(domain.updated),
            "date_created": iso(domain.created),
            "date_expires": iso(current.not_after) if current else None,
            "domain_name": f"https://{domain.name}",
            "certificate_sid": current.sid if current else None,
            "url": f"{ctx.base_url}/v1/LinkShortening/Domains/{domain.sid}/RequestManagedCert",
            "managed": True,
            "requesting": domain.requesting,
        })


# --- domain config ------------------------------------------------------------------------


def _config_body(ctx: Context, domain: Domain) -> Body:
    config = domain.config
    return {
        "domain_sid": domain.sid,
        "config_sid": config.sid,
        "fallback_url": config.fallback_url,
        "callback_url": config.callback_url,
        "continue_on_failure": config.continue_on_failure,
        "date_created": iso(config.created),
        "date_updated": iso(config.updated),
        "url": f"{ctx.base_url}/v1/LinkShortening/Domains/{domain.sid}/Config",
        "disable_https": config.disable_https,
    }


def fetch_config(ctx: Context, req: Request) -> Reply:
    with ctx.store.locked():
        return Reply(200, _config_body(ctx, _domain(ctx, req.params["DomainSid"])))


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)  # the spec's `format: uri`; an empty value is none
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(name, f"{value!r} is not an absolute http(s) URL")
    return value


def _flag(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise invalid(name, f"{value!r} is not true or false")
    return value.lower() == "true"


CONFIG_PARAMETERS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "FallbackUrl": ("fallback_url", _url),
    "CallbackUrl": ("callback_url", _url),
    "ContinueOnFailure": ("continue_on_failure", _flag),
    "DisableHttps": ("disable_https", _flag),
}


def update_config(ctx: Context, req: Request) -> Reply:
    # Parse everything first: an invalid parameter changes nothing.
    changes = {attribute: parse(name, req.form[name])
               for name, (attribute, parse) in CONFIG_PARAMETERS.items() if name in req.form}
    with ctx.store.locked():
        domain = _domain(ctx, req.params["DomainSid"])
        for attribute, value in changes.items():
            setattr(domain.config, attribute, value)
        domain.config.updated = utcnow()
        return Reply(200, _config_body(ctx, domain))


def fetch_messaging_service_config(ctx: Context, req: Request) -> Reply:
    service = _visible(ctx, req)
    with ctx.store.locked() as store:
        domain_sid = store.associations.get(service)
        if domain_sid is None:
            raise not_found(req.path)
        domain = _domain(ctx, domain_sid)
        config = domain.config
        return Reply(200, {
            "domain_sid": domain.sid,
            "config_sid": config.sid,
            "messaging_service_sid": service,
            "fallback_url": config.fallback_url,
            "callback_url": config.callback_url,
            "continue_on_failure": config.continue_on_failure,
            "date_created": iso(config.created),
            "date_updated": iso(config.updated),
            "url": f"{ctx.base_url}/v1/LinkShortening/MessagingService/{service}/DomainConfig",
        })


# --- DNS and Messaging Services -----------------------------------------------------------


def validate_dns(ctx: Context, req: Request) -> Reply:
    sid = req.params["DomainSid"]
    with ctx.store.locked():
        name = _domain(ctx, sid).name
    verdict = dnscheck.validate(name, ctx.dns)  # network, unlocked
    return Reply(200, {"domain_sid": sid, "is_valid": verdict.is_valid, "reason": verdict.reason,
                       "url": f"{ctx.base_url}/v1/LinkShortening/Domains/{sid}/ValidateDns"})


def _visible(ctx: Context, req: Request) -> str:
    """The request's Messaging Service, or Twilio's 404 when another account owns it
    (sandbox.twilio_emulator.accounts: what is documented and what is assumed)."""
    service = req.params["MessagingServiceSid"]
    if not ctx.accounts.visible(service, req.account):
        raise not_found(req.path)
    return service


def _association_body(domain_sid: str, service: str, url: str) -> Body:
    return {"domain_sid": domain_sid, "messaging_service_sid": service, "url": url}


def associate(ctx: Context, req: Request) -> Reply:
    sid, service = req.params["DomainSid"], _visible(ctx, req)
    with ctx.store.locked() as store:
        _domain(ctx, sid)
        other = store.associations.get(service)
        if other is not None and other != sid:
            raise ApiError(400, MESSAGING_SERVICE_TAKEN, "Messaging Service SID already belongs "
                           f"in another domain configuration: {service} uses {other}")
        store.associations[service] = sid
    return Reply(201, _association_body(sid, service, f"{ctx.base_url}{req.path}"))


def dissociate(ctx: Context, req: Request) -> Reply:
    sid, service = req.params["DomainSid"], _visible(ctx, req)
    with ctx.store.locked() as store:
        _domain(ctx, sid)
        if store.associations.get(service) != sid:
            raise not_found(req.path)
        del store.associations[service]
    return Reply(204, None)


def fetch_messaging_service_domain(ctx: Context, req: Request) -> Reply:
    service = _visible(ctx, req)
    with ctx.store.locked() as store:
        sid = store.associations.get(service)
    if sid is None:
        raise not_found(req.path)
    return Reply(200, _association_body(sid, service, f"{ctx.base_url}{req.path}"))


def fetch_service(ctx: Context, req: Request) -> Reply:
    """GET /v1/Services/{Sid}: only what lsctl asks (is it this account's?), with the
    properties of `messaging.v1.service` at the values a new service has."""
    service = _visible(ctx, req)
    now = iso(utcnow())
    url = f"{ctx.base_url}/v1/Services/{service}"
    return Reply(200, {
        "sid": service, "account_sid": ctx.accounts.owners.get(service, req.account),
        "friendly_name": service, "date_created": now, "date_updated": now,
        "inbound_request_url": None, "inbound_method": "POST", "fallback_url": None,
        "fallback_method": "POST", "status_callback": None, "sticky_sender": True,
        "mms_converter": True, "smart_encoding": True, "scan_message_content": "inherit",
        "fallback_to_long_code": True, "area_code_geomatch": True,
        "synchronous_validation": False, "validity_period": 14400, "url": url,
        "links": {name: f"{url}/{name.title().replace('_', '')}" for name in
                  ("phone_numbers", "short_codes", "alpha_senders", "us_app_to_person",
                   "us_app_to_person_usecases", "channel_senders", "destination_alpha_senders")},
        "usecase": "undeclared", "us_app_to_person_registered": False,
        "use_inbound_webhook_on_number": False,
    })


# --- routing ------------------------------------------------------------------------------

_DN = r"(?P<DomainSid>[^/]+)"
_MG = r"(?P<MessagingServiceSid>[^/]+)"
ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(rf"/v1/LinkShortening/Domains/{_DN}/Certificate"),
     {"POST": upload_certificate, "GET": _fetch_certificate(1), "DELETE": delete_certificate}),
    (re.compile(rf"/v2/LinkShortening/Domains/{_DN}/Certificate"),
     {"GET": _fetch_certificate(2)}),
    (re.compile(rf"/v1/LinkShortening/Domains/{_DN}/Config"),
     {"GET": fetch_config, "POST": update_config}),
    (re.compile(rf"/v1/LinkShortening/MessagingService/{_MG}/DomainConfig"),
     {"GET": fetch_messaging_service_config}),
    (re.compile(rf"/v1/LinkShortening/Domains/{_DN}/ValidateDns"), {"GET": validate_dns}),
    (re.compile(rf"/v1/LinkShortening/Domains/{_DN}/MessagingServices/{_MG}"),
     {"POST": associate, "DELETE": dissociate}),
    (re.compile(rf"/v1/LinkShortening/MessagingServices/{_MG}/Domain"),
     {"GET": fetch_messaging_service_domain}),
    (re.compile(rf"/v1/LinkShortening/Domains/{_DN}/RequestManagedCert"),
     {"POST": request_managed_cert}),
    (re.compile(r"/v1/Services/(?P<MessagingServiceSid>[^/]+)"), {"GET": fetch_service}),
]


def operation(method: str, path: str) -> str:
    """The name of the operation at `method path` (per-account counts), or "unknown"."""
    for pattern, handlers in ROUTES:
        if pattern.fullmatch(path) and method in handlers:
            return handlers[method].__name__
    return "unknown"


def dispatch(ctx: Context, method: str, path: str, form: dict[str, str],
             account: str = "") -> Reply:
    """Run the operation at `method path` as `account`, or raise Twilio's 404/405 answer."""
    for pattern, handlers in ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        handler = handlers.get(method)
        if handler is None:
            raise ApiError(405, METHOD_NOT_ALLOWED, f"Method {method} not allowed on {path}")
        params = match.groupdict()
        if any(not SID_PATTERNS[k].fullmatch(v) for k, v in params.items()):
            raise not_found(path)
        return handler(ctx, Request(method, path, params, form, account))
    raise not_found(path)
