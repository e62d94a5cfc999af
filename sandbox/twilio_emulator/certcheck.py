"""The checks Twilio applies to an uploaded `TlsCert`, from Twilio's own documents.

Sources: the Link Shortening onboarding guide (PEM blocks with exact BEGIN/END lines, no extra
newlines around them, PKCS#8 `BEGIN PRIVATE KEY`, SANs and wildcards supported) and Twilio's error
catalogue (30116 missing/not PEM, 30117 certificate unparsable, 30118 key invalid, 30119 pair
mismatch, 30129 self-signed, 30102 expired, 30132 cannot be validated). Written independently of
lsctl's preflight on purpose; the first failing check decides the answer, as an API does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sandbox.twilio_emulator.errors import (
    CERT_EXPIRED,
    CERT_NOT_VALIDATED,
    CERT_UNPARSABLE,
    KEY_INVALID,
    KEY_MISMATCH,
    NOT_PEM,
    SELF_SIGNED,
    ApiError,
    upload_refused,
)

BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\n(.*?)\n-----END \1-----", re.DOTALL)
PKCS8_LABEL = "PRIVATE KEY"
MIN_RSA_BITS = 2048
MAX_CHAIN = 8


@dataclass(frozen=True)
class Accepted:
    """An upload that passed every check: its leaf, for the dates and names Twilio reports."""

    leaf: x509.Certificate

    @property
    def not_after(self) -> datetime:
        return self.leaf.not_valid_after_utc


def check_upload(tls_cert: str, domain: str, roots: Sequence[x509.Certificate],
                 now: datetime) -> Accepted:
    """Accept `tls_cert` for `domain`, or raise the ApiError Twilio answers with."""
    blocks = _blocks(tls_cert.replace("\r\n", "\n"))
    certs_pem = [body for label, body in blocks if label == "CERTIFICATE"]
    key_body = blocks[-1][1]
    certs = [_certificate(body, n, len(certs_pem)) for n, body in enumerate(certs_pem, start=1)]
    key = _private_key(key_body)
    leaf = certs[0]
    if _spki(leaf.public_key()) != _spki(key.public_key()):
        raise upload_refused(KEY_MISMATCH, "Certificate and private key pair is invalid: the "
                             "private key does not belong to the first (leaf) certificate")
    if _signed_by(leaf, leaf):
        raise upload_refused(SELF_SIGNED, "Certificate is self signed")
    if now > leaf.not_valid_after_utc:
        raise upload_refused(CERT_EXPIRED, "TLS certificate has expired (not after "
                             f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})")
    if now < leaf.not_valid_before_utc:
        raise _not_validated("the certificate is not valid yet (not before "
                             f"{leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ})")
    _require_coverage(leaf, domain)
    _require_trusted_path(leaf, certs[1:], roots, now)
    return Accepted(leaf)


def _blocks(text: str) -> list[tuple[str, str]]:
    """(label, base64 body) of each PEM block; the shape the guide demands, or 30116/30118."""
    if not text.strip():
        raise upload_refused(NOT_PEM, "Certificate and private key are missing")
    found = list(BLOCK.finditer(text))
    if not found:
        raise upload_refused(NOT_PEM, "Certificate is not in PEM format: no -----BEGIN "
                             "CERTIFICATE----- ... -----END CERTIFICATE----- block")
    starts, ends = [m.start() for m in found], [m.end() for m in found]
    gaps = [text[:starts[0]], *(text[ends[i]:starts[i + 1]] for i in range(len(found) - 1)),
            text[ends[-1]:]]
    for index, gap in enumerate(gaps):
        _check_gap(gap, found, index)
    labels = [m.group(1) for m in found]
    for label in labels:
        if label != "CERTIFICATE" and not label.endswith("PRIVATE KEY"):
            raise upload_refused(NOT_PEM, f"Unexpected PEM block '{label}': give only "
                                 "certificates followed by the private key")
    keys = [label for label in labels if label.endswith("PRIVATE KEY")]
    if "CERTIFICATE" not in labels:
        raise upload_refused(NOT_PEM, "Certificate is missing from TlsCert")
    if not keys:
        raise upload_refused(NOT_PEM, "Private key is missing from TlsCert")
    if len(keys) > 1:
        raise upload_refused(KEY_INVALID, "Private key is invalid: TlsCert holds more than one")
    if not labels[-1].endswith("PRIVATE KEY"):
        raise upload_refused(NOT_PEM, "The private key must follow the certificates in TlsCert")
    if labels[-1] != PKCS8_LABEL:
        raise upload_refused(KEY_INVALID, f"Private key is invalid: it is a '{labels[-1]}', "
                             "not PKCS #8; it must start with -----BEGIN PRIVATE KEY-----")
    return [(m.group(1), m.group(2)) for m in found]


def _check_gap(gap: str, found: list[re.Match[str]], index: int) -> None:
    """What lies before block `index` (or after the last, index == len): nothing, or one \\n."""
    first, last = index == 0, index == len(found)
    if gap.strip():
        # Not quoted back: it may be part of a broken private key.
        where = "at the end" if last else f"before PEM block {index + 1}"
        raise upload_refused(NOT_PEM, f"TlsCert has text outside the PEM blocks ({where}): "
                             "give only complete BEGIN/END blocks")
    if gap == ("" if first or last else "\n"):
        return
    near = found[index - 1] if last else found[index]
    is_key = near.group(1).endswith("PRIVATE KEY")
    where = "after" if last else "before"
    what = "private key" if is_key else "certificate"
    raise upload_refused(KEY_INVALID if is_key else NOT_PEM,
                         f"There are extra newline characters {where} the {what}")


def _der(body: str) -> bytes:
    return base64.b64decode("".join(body.split()), validate=True)


def _certificate(body: str, number: int, count: int) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(_der(body))
    except (ValueError, binascii.Error):
        raise upload_refused(CERT_UNPARSABLE, f"Certificate {number} of {count} could not be "
                             "parsed") from None


def _private_key(body: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_der_private_key(_der(body), password=None)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        raise upload_refused(KEY_INVALID, "Private key is invalid: not a readable "
                             "unencrypted PKCS #8 key") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_BITS:
        return key
    raise upload_refused(KEY_INVALID, "Private key is invalid: only RSA (2048 bits or more) "
                         "and ECDSA keys can serve HTTPS")


def _spki(public: object) -> bytes:
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return b""  # a certificate for a key type no browser serves matches no key we accept
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _not_validated(why: str) -> ApiError:
    return upload_refused(CERT_NOT_VALIDATED, f"Certificate cannot be validated: {why}")


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [name.lower().rstrip(".") for name in san.get_values_for_type(x509.DNSName)]


def covers(pattern: str, domain: str) -> bool:
    """RFC 6125: exact match, or a leading `*.` standing for exactly one label."""
    if pattern == domain:
        return True
    if not pattern.startswith("*."):
        return False
    head, _, rest = domain.partition(".")
    return bool(head) and rest == pattern[2:]


def _require_coverage(leaf: x509.Certificate, domain: str) -> None:
    wanted = _a_label(domain)
    names = dns_names(leaf)
    if not any(covers(name, wanted) for name in names):
        listed = ", ".join(names) or "no subjectAltName DNS names"
        raise _not_validated(f"it is not valid for {domain} (it covers {listed})")


def _a_label(domain: str) -> str:
    try:
        return domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.rstrip(".").lower()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _require_trusted_path(leaf: x509.Certificate, given: Sequence[x509.Certificate],
                          roots: Sequence[x509.Certificate], now: datetime) -> None:
    """Walk leaf -> given intermediates -> a trusted root, checking signatures and CA flags."""
    current, unused = leaf, list(given)
    for _ in range(MAX_CHAIN):
        if any(current == root for root in roots):
            return
        root = next((r for r in roots if _signed_by(current, r)), None)
        if root is not None:
            if not _valid_at(root, now):
                raise _not_validated(f"the root {_subject(root)} is not valid now")
            return
        parent = next((c for c in unused if _signed_by(current, c)), None)
        if parent is None:
            raise _not_validated(f"no trusted root or given intermediate issued "
                                 f"{_subject(current)} (issuer {_issuer(current)}); include "
                                 "the full chain from a publicly trusted CA")
        if not _is_ca(parent):
            raise _not_validated(f"{_subject(parent)} is not a CA certificate")
        if not _valid_at(parent, now):
            raise _not_validated(f"the intermediate {_subject(parent)} is not valid now")
        unused.remove(parent)
        current = parent
    raise _not_validated("the certificate chain is too long")


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def _issuer(cert: x509.Certificate) -> str:
    return cert.issuer.rfc4514_string() or "(empty issuer)"
