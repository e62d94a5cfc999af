"""The Twilio probe: ValidateDns, the certificate, the domain config and the Messaging Service
associations of every domain, asked from a pool of threads (each its own SDK client, all
sending through the API's one pooled session)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from drift.facts import Probed, TwilioFacts, Unreachable
from linkshortening.stack.model import DomainSpec, TwilioAccount

if TYPE_CHECKING:
    from linkshortening.twilio.api import LinkShorteningApi
    from linkshortening.twilio.models import DomainCertificate

SOURCE = "Twilio"
SETTING = "TWILIO_ACCOUNT_SID with TWILIO_API_KEY + TWILIO_API_SECRET, or TWILIO_AUTH_TOKEN"
WORKERS = 16  # Twilio limits concurrent requests per account; this stays well below


def probe(specs: Sequence[DomainSpec], workers: int = WORKERS,
          accounts: Sequence[TwilioAccount] = ()) -> dict[str, Probed[TwilioFacts]]:
    """Each domain's and each Messaging Service's calls as its account (`accounts`: the
    stack's lsctl:twilioAccounts; none: the TWILIO_* variables)."""
    from linkshortening.common.secrets import MissingSecret
    from linkshortening.twilio.accounts import domains_api
    from linkshortening.twilio.errors import TwilioSetupError

    try:
        api = domains_api(accounts, specs)
    except (MissingSecret, TwilioSetupError) as exc:  # never asked: not configured
        name = exc.name if isinstance(exc, MissingSecret) else _variable(str(exc))
        lost = Unreachable("twilio", SOURCE, str(exc).split(". Fix:")[0],
                           setting=_setting(name))
        return {s.fqdn: Probed(None, (lost,)) for s in specs}
    with ThreadPoolExecutor(max(1, min(workers, len(specs)))) as pool:
        return dict(zip((s.fqdn for s in specs), pool.map(lambda s: _domain(api, s), specs),
                        strict=True))


def _variable(message: str) -> str:
    """The environment variable a setup error is about (TWILIO_ACCOUNT_SID, the CA bundle's)."""
    found = re.search(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", message)
    return found.group(0) if found else ""


def _setting(name: str) -> str:
    """The variable a MissingSecret names, with the other way to give Twilio's credentials
    (each may also come from NAME_FILE)."""
    if name in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID"):
        return f"{name} (or TWILIO_API_KEY + TWILIO_API_SECRET), or {name}_FILE"
    return f"{name}, or {name}_FILE" if name else SETTING


def _domain(api: LinkShorteningApi, spec: DomainSpec) -> Probed[TwilioFacts]:
    """The domain's facts. A code Twilio's table files under "domain" (unknown, unverified,
    DNS setup not completed, on whichever call) is a fact about the domain, hence a finding;
    anything else that stops the probe leaves it unchecked."""
    from linkshortening.twilio.codes import in_category
    from linkshortening.twilio.errors import TwilioApiError, TwilioSetupError

    try:
        return Probed(_facts(api, spec))
    except TwilioApiError as exc:
        if in_category(exc.code, "domain"):
            return Probed(TwilioFacts(domain_known=False, domain_code=exc.code,
                                      dns_reason=exc.message))
        return Probed(None, (Unreachable("twilio", SOURCE, str(exc)),))
    except TwilioSetupError as exc:
        return Probed(None, (Unreachable("twilio", SOURCE, str(exc)),))


def _facts(api: LinkShorteningApi, spec: DomainSpec) -> TwilioFacts:
    from linkshortening.twilio.errors import TwilioApiError

    sid = spec.domain_sid
    try:
        validation = api.validate_dns(sid)
    except TwilioApiError as exc:
        if exc.status == 404:  # no such domain, and no code that says more
            return TwilioFacts(domain_known=False, domain_code=exc.code,
                               dns_reason=exc.message)
        raise
    cert = _certificate(api, sid)
    pending = cert.cert_in_validation if cert else None
    config = api.fetch_config(sid)
    invisible = tuple(s for s in spec.messaging_service_sids
                      if not api.messaging_service_visible(s))
    associations = tuple((service, _service_domain(api, service))
                         for service in spec.messaging_service_sids if service not in invisible)
    return TwilioFacts(
        domain_known=True, dns_valid=validation.is_valid, dns_reason=validation.reason,
        certificate_expires=cert.date_expires if cert and cert.certificate_sid else None,
        certificate_uploaded=cert.date_updated if cert and cert.certificate_sid else None,
        validation_status=pending.status if pending else None,
        validation_failed=bool(pending and pending.state == "failed"),
        validation_reason=pending.reason if pending else None,
        fallback_url=config.fallback_url, callback_url=config.callback_url,
        continue_on_failure=config.continue_on_failure, disable_https=config.disable_https,
        associations=associations, invisible_services=invisible)


def _certificate(api: LinkShorteningApi, sid: str) -> DomainCertificate | None:
    from linkshortening.twilio.errors import TwilioApiError

    try:
        cert = api.fetch_certificate(sid, api_version=1)
    except TwilioApiError as exc:
        if exc.no_certificate:  # 404 or 30120: none uploaded (or requested) yet
            return None
        raise
    # date_expires is the current certificate's; a first upload still in validation has none.
    return cert if cert.date_expires is not None or cert.cert_in_validation else None


def _service_domain(api: LinkShorteningApi, service: str) -> str | None:
    from linkshortening.twilio.errors import TwilioApiError

    try:
        return api.fetch_messaging_service_domain(service).domain_sid
    except TwilioApiError as exc:
        if exc.status == 404:
            return None  # the service uses no Link Shortening domain
        raise
