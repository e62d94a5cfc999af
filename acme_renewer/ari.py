"""ACME Renewal Information (RFC 9773) and the `replaces` field the `acme` library lacks.

The library fetches the suggested window and picks a uniformly random time in it
(`ClientV2.renewal_time`); this module adds the certificate identifier and the newOrder
message that says which certificate it replaces (sent by `acme_client.BatchClient`), so the
CA can exempt the renewal from rate limits and knows the old certificate may be revoked.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from acme import client, errors, messages
from cryptography import x509
from josepy.json_util import field


class ReplacingNewOrder(messages.NewOrder):
    """newOrder with RFC 9773's `replaces`."""

    replaces: str | None = field("replaces", omitempty=True)


def cert_id(cert_pem: bytes) -> str:
    """RFC 9773 CertID: base64url(AKI keyIdentifier) "." base64url(DER serial), unpadded."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    serial = cert.serial_number
    serial_der = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{b64(aki.key_identifier)}.{b64(serial_der)}"


@dataclass(frozen=True)
class RenewalWindow:
    """When to renew (None: the CA offers no ARI) and when to ask the CA again."""

    renew_at: dt.datetime | None
    next_check: dt.datetime


def renewal_window(acme: client.ClientV2, cert_pem: bytes) -> RenewalWindow:
    """Ask the CA's renewalInfo; an unreachable ARI endpoint falls back to the lifetime rule."""
    try:
        renew_at, next_check = acme.renewal_time(cert_pem)
    except errors.ARIError as exc:
        renew_at, next_check = None, exc.retry_after
    return RenewalWindow(_utc(renew_at) if renew_at else None, _utc(next_check))


def _utc(moment: dt.datetime) -> dt.datetime:
    # The library mixes naive local times (now()) and aware UTC ones.
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.astimezone().astimezone(dt.UTC)
