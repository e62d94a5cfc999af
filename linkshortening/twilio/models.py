"""Typed results of the Link Shortening API: what the SDK returns, as plain frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from linkshortening.twilio.errors import TwilioApiError

# cert_in_validation.status: Twilio documents only "pending". A status that says it failed
# ends the wait; any other one is taken as still pending until the wait's deadline, which
# then reports it as Twilio gave it.
FAILED = frozenset({"failed", "failure", "error", "rejected", "invalid", "expired"})
ValidationStatus = Literal["pending", "failed", "unknown"]


def _datetime(value: object) -> datetime | None:
    """The SDK parses most dates; cert_in_validation's nested ones arrive as strings."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class CertificateInValidation:
    """A newly uploaded certificate that Twilio is still validating (or failed to)."""

    status: str
    date_expires: datetime | None
    reason: str | None = None

    @property
    def state(self) -> ValidationStatus:
        status = self.status.strip().lower()
        if status == "pending":
            return "pending"
        return "failed" if status in FAILED else "unknown"

    @property
    def in_progress(self) -> bool:
        """Not failed: pending, or a status Twilio does not document."""
        return self.state != "failed"

    @classmethod
    def from_sdk(cls, value: object) -> CertificateInValidation | None:
        if not isinstance(value, Mapping):
            return None
        reason = value.get("reason") or value.get("message") or value.get("error_message")
        return cls(str(value.get("status") or "unknown"), _datetime(value.get("date_expires")),
                   str(reason) if reason else None)


@dataclass(frozen=True)
class DomainCertificate:
    """A domain's certificate (v1 fetch/upload; v2 adds `managed` and `requesting`)."""

    domain_sid: str
    certificate_sid: str | None
    domain_name: str | None  # Twilio gives a URL: https://<domain>
    date_expires: datetime | None
    date_created: datetime | None
    date_updated: datetime | None
    url: str | None
    cert_in_validation: CertificateInValidation | None
    managed: bool | None = None  # v2 only
    requesting: bool | None = None  # v2 only

    @property
    def hostname(self) -> str | None:
        """The domain itself, from `domain_name`."""
        if not self.domain_name:
            return None
        return urlsplit(self.domain_name).hostname or self.domain_name

    @property
    def validated(self) -> bool:
        """Twilio has no certificate in validation: the last upload is current."""
        return self.cert_in_validation is None

    @classmethod
    def from_sdk(cls, item: Any) -> DomainCertificate:
        return cls(item.domain_sid, _str(item.certificate_sid), _str(item.domain_name),
                   _datetime(item.date_expires), _datetime(item.date_created),
                   _datetime(item.date_updated), _str(item.url),
                   CertificateInValidation.from_sdk(item.cert_in_validation),
                   _bool(getattr(item, "managed", None)),
                   _bool(getattr(item, "requesting", None)))


@dataclass(frozen=True)
class DomainConfig:
    """A domain's defaults: FallbackUrl, CallbackUrl, ContinueOnFailure, DisableHttps."""

    domain_sid: str
    config_sid: str | None
    fallback_url: str | None
    callback_url: str | None
    continue_on_failure: bool | None
    disable_https: bool | None
    date_created: datetime | None
    date_updated: datetime | None
    url: str | None

    @classmethod
    def from_sdk(cls, item: Any) -> DomainConfig:
        return cls(item.domain_sid, _str(item.config_sid), _str(item.fallback_url),
                   _str(item.callback_url), _bool(item.continue_on_failure),
                   _bool(item.disable_https), _datetime(item.date_created),
                   _datetime(item.date_updated), _str(item.url))


@dataclass(frozen=True)
class MessagingServiceDomainConfig:
    """The config of the domain a Messaging Service uses (Twilio's view from the service)."""

    messaging_service_sid: str
    domain_sid: str | None
    config_sid: str | None
    fallback_url: str | None
    callback_url: str | None
    continue_on_failure: bool | None
    date_created: datetime | None
    date_updated: datetime | None
    url: str | None

    @classmethod
    def from_sdk(cls, item: Any) -> MessagingServiceDomainConfig:
        return cls(item.messaging_service_sid, _str(item.domain_sid), _str(item.config_sid),
                   _str(item.fallback_url), _str(item.callback_url),
                   _bool(item.continue_on_failure), _datetime(item.date_created),
                   _datetime(item.date_updated), _str(item.url))


@dataclass(frozen=True)
class MessagingServiceAssociation:
    """A Messaging Service using a Link Shortening domain."""

    domain_sid: str
    messaging_service_sid: str
    url: str | None

    @classmethod
    def from_sdk(cls, item: Any) -> MessagingServiceAssociation:
        return cls(item.domain_sid, item.messaging_service_sid, _str(item.url))


@dataclass(frozen=True)
class DnsValidation:
    """Twilio's verdict on the domain's DNS records."""

    domain_sid: str
    is_valid: bool
    reason: str | None
    url: str | None

    @classmethod
    def from_sdk(cls, item: Any) -> DnsValidation:
        return cls(item.domain_sid, bool(item.is_valid), _str(item.reason), _str(item.url))


@dataclass(frozen=True)
class ManagedCertRequest:
    """The state of a request for a Twilio-managed certificate."""

    domain_sid: str
    certificate_sid: str | None
    domain_name: str | None
    managed: bool | None
    requesting: bool | None
    date_expires: datetime | None
    date_created: datetime | None
    date_updated: datetime | None
    url: str | None

    @classmethod
    def from_sdk(cls, item: Any) -> ManagedCertRequest:
        return cls(item.domain_sid, _str(item.certificate_sid), _str(item.domain_name),
                   _bool(item.managed), _bool(item.requesting), _datetime(item.date_expires),
                   _datetime(item.date_created), _datetime(item.date_updated), _str(item.url))


ValidationState = Literal["validated", "failed", "timed_out", "error"]


@dataclass(frozen=True)
class ValidationResult:
    """How one domain's certificate validation ended."""

    domain_sid: str
    state: ValidationState
    certificate: DomainCertificate | None  # the last one fetched
    detail: str  # one line for a report
    error: TwilioApiError | None = None  # when an API error ended the wait

    @property
    def ok(self) -> bool:
        return self.state == "validated"
