"""Preflight: what Twilio would reject in a certificate chain and key, found before uploading.

Pure: text in, problems out, never an exception. Each problem carries the Twilio error code
the upload would fail with, where Twilio has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from linkshortening.certs.keys import (
    GENERATE_HINT,
    PARSE_ERRORS,
    fully_parsed,
    same_public_key,
    unsupported_reason,
)
from linkshortening.certs.tlscert import (
    is_self_signed,
    issued_by,
    order_chain,
    split_tls_cert,
    too_many_certificates,
)
from linkshortening.common.names import normalize

Severity = Literal["error", "warning"]

NOT_PEM = 30116  # certificate or key missing, or not PEM
CERT_UNPARSABLE = 30117
KEY_INVALID = 30118
KEY_MISMATCH = 30119
SELF_SIGNED = 30129
NOT_VALIDATED = 30132  # what Twilio answers for a chain no browser would accept
NOT_VALID_NOW = 30102
EXPIRING = 30131  # the warning Twilio itself raises before expiry

DEFAULT_MIN_DAYS = 30
# A body never contains "-----", so an unterminated BEGIN costs one scan, not one per BEGIN.
CERT_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\n(?:[^-]|-(?!----))*?\n"
                        r"-----END CERTIFICATE-----")
FIRST_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
LEGACY_KEYS = {"RSA PRIVATE KEY": "PKCS#1", "EC PRIVATE KEY": "SEC1"}
BUNDLE_FIX = "lsctl cert bundle writes it in exactly this shape"


@dataclass(frozen=True)
class Problem:
    """One reason Twilio would reject (error) or soon stop serving (warning) the upload."""

    code: int | None  # Twilio's error code, where Twilio has one for it
    severity: Severity
    message: str
    fix: str


def is_ready(problems: list[Problem]) -> bool:
    """Ready to upload: no errors (warnings allowed)."""
    return not any(p.severity == "error" for p in problems)


def check_tls_cert(tls_cert: str, domain: str | None, now: datetime, *,
                   min_days: int = DEFAULT_MIN_DAYS) -> list[Problem]:
    """`check` on a whole `TlsCert` value (chain, newline, key)."""
    chain, key = split_tls_cert(tls_cert)
    if key is None:
        return [Problem(NOT_PEM, "error", "TlsCert holds no private key",
                        "append the PKCS#8 key after the certificates; " + BUNDLE_FIX),
                *check(chain, None, domain, now, min_days=min_days)]
    return check(chain, key, domain, now, min_days=min_days)


def check(chain: str, key: str | None, domain: str | None, now: datetime, *,
          min_days: int = DEFAULT_MIN_DAYS) -> list[Problem]:
    """Problems with a PEM chain (leaf first) and PEM key; `key=None`/`domain=None` skip those."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    problems: list[Problem] = []
    certs, whole = _parse_chain(chain, problems)
    private = _parse_key(key, problems) if key is not None else None
    if not certs:
        return problems
    if private is not None:
        problems += _key_matches(certs, private)
    if whole:
        problems += _signatures(certs)
    problems += _validity(certs, now, min_days)
    problems += _names(certs[0], domain)
    return problems


def _parse_chain(chain: str, problems: list[Problem]) -> tuple[list[x509.Certificate], bool]:
    """The certificates, and whether they are the whole chain (or only the leaf of too many)."""
    if not chain.strip():
        problems.append(Problem(NOT_PEM, "error", "no certificate given",
                                "put the PEM certificate chain first in TlsCert"))
        return [], False
    problems += _pem_shape(chain, "certificate", "CERTIFICATE", NOT_PEM)
    blocks = CERT_BLOCK.findall(chain.replace("\r\n", "\n"))
    outside = CERT_BLOCK.sub("", chain.replace("\r\n", "\n")).strip()
    if outside:
        problems.append(Problem(NOT_PEM, "error",
                                "text outside the -----BEGIN/END CERTIFICATE----- blocks "
                                "(e.g. 'Bag Attributes' or 'subject=' lines, or another block)",
                                "keep only the certificate blocks; " + BUNDLE_FIX))
    if not blocks:
        problems.append(Problem(NOT_PEM, "error", "no -----BEGIN CERTIFICATE----- block found",
                                "give the certificate in PEM format"))
        return [], False
    too_many = too_many_certificates(len(blocks))
    if too_many:  # not a chain: the leaf is still worth judging, the rest not even parsing
        problems.append(Problem(None, "error", "TlsCert " + too_many[0], too_many[1]))
        blocks = blocks[:1]
    certs: list[x509.Certificate] = []
    for number, block in enumerate(blocks, start=1):
        try:
            cert: x509.Certificate | None = x509.load_pem_x509_certificate(block.encode("ascii"))
        except (ValueError, UnicodeEncodeError, x509.InvalidVersion):
            cert = None
        if cert is not None and fully_parsed(cert):
            certs.append(cert)
        else:
            problems.append(Problem(CERT_UNPARSABLE, "error",
                                    f"certificate {number} of {len(blocks)} cannot be parsed",
                                    "download the certificate chain again from your CA"))
    return (certs, not too_many) if len(certs) == len(blocks) else ([], False)


def _pem_shape(text: str, what: str, label: str, code: int) -> list[Problem]:
    """Twilio wants the exact BEGIN line first and END line last, no blank lines around."""
    problems = _edges(text, what, code)
    stripped = text.strip()
    if not stripped.startswith(f"-----BEGIN {label}-----"):
        problems.append(Problem(code, "error",
                                f"the {what} does not start with -----BEGIN {label}-----",
                                "remove whatever comes before it; " + BUNDLE_FIX))
    elif not stripped.endswith(f"-----END {label}-----"):
        problems.append(Problem(code, "error",
                                f"the {what} does not end with -----END {label}-----",
                                "remove whatever follows it, or restore a truncated end"))
    return problems


def _edges(text: str, what: str, code: int) -> list[Problem]:
    problems = []
    if text != text.strip():
        problems.append(Problem(code, "error",
                                f"the {what} has whitespace or blank lines at its start or end",
                                "remove them; " + BUNDLE_FIX))
    if "\r" in text:
        problems.append(Problem(None, "warning", f"the {what} has Windows (CRLF) line endings",
                                "use LF line endings; " + BUNDLE_FIX))
    return problems


def _parse_key(key: str, problems: list[Problem]) -> PrivateKeyTypes | None:
    stripped = key.strip()
    if not stripped:
        problems.append(Problem(NOT_PEM, "error", "no private key given",
                                "append the PKCS#8 private key after the certificates"))
        return None
    first = FIRST_BEGIN.match(stripped)
    label = first.group(1) if first else None
    if label in LEGACY_KEYS:
        problems.append(Problem(KEY_INVALID, "error",
                                f"the private key is {LEGACY_KEYS[label]} (-----BEGIN {label}"
                                "-----); Twilio accepts only PKCS#8 (-----BEGIN PRIVATE KEY-----)",
                                "convert it: lsctl cert convert-key KEYFILE -o key.pem"))
        problems += _edges(key, "private key", KEY_INVALID)
    elif label == "ENCRYPTED PRIVATE KEY":
        problems.append(Problem(KEY_INVALID, "error", "the private key is encrypted",
                                "decrypt it: lsctl cert convert-key KEYFILE --password-env VAR"))
        return None
    else:
        problems += _pem_shape(key, "private key", "PRIVATE KEY", KEY_INVALID)
    if stripped.count("-----BEGIN") > 1:
        problems.append(Problem(KEY_INVALID, "error", "more than one PEM block in the key part",
                                "give exactly one PKCS#8 private key, after the certificates"))
        return None
    return _load_key(stripped, problems, report=label == "PRIVATE KEY" or label in LEGACY_KEYS)


def _load_key(pem: str, problems: list[Problem], report: bool) -> PrivateKeyTypes | None:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), None)
    except (*PARSE_ERRORS, UnicodeEncodeError):
        if report:
            problems.append(Problem(KEY_INVALID, "error", "the private key cannot be parsed "
                                    "(damaged or truncated)",
                                    "export the key again, or convert it with "
                                    "lsctl cert convert-key"))
        return None
    reason = unsupported_reason(key)
    if reason:
        problems.append(Problem(KEY_INVALID, "error", reason, GENERATE_HINT))
    return key


def _key_matches(certs: list[x509.Certificate], key: PrivateKeyTypes) -> list[Problem]:
    if same_public_key(key, certs[0]):
        return []
    where = next((n for n, c in enumerate(certs, start=1) if same_public_key(key, c)), None)
    if where is not None:
        return [Problem(KEY_MISMATCH, "error",
                        f"the key belongs to certificate {where}, not to the first one",
                        "put the key's own (leaf) certificate first; lsctl cert bundle "
                        "orders the chain")]
    return [Problem(KEY_MISMATCH, "error", "the private key does not match the certificate",
                    "give the key the certificate was issued for (or reissue the certificate "
                    "for this key)")]


def _signatures(certs: list[x509.Certificate]) -> list[Problem]:
    if is_self_signed(certs[0]):  # what follows it cannot matter: nothing trusts the leaf
        return [Problem(SELF_SIGNED, "error",
                        f"the certificate ({_name(certs[0])}) is self-signed",
                        "get a certificate from a public CA (e.g. Let's Encrypt; "
                        "lsctl renew does this)")]
    problems = []
    if any(is_self_signed(c) for c in certs[1:]):
        problems.append(Problem(None, "warning", "the chain includes the root certificate",
                                "leave the root out; lsctl cert bundle drops it"))
    breaks = [n for n in range(len(certs) - 1) if not issued_by(certs[n], certs[n + 1])]
    if not breaks:
        return problems + _loop(certs, certs)
    if _reorderable(certs):
        problems.append(Problem(None, "error", "the chain is out of order",
                                "put the leaf first, then each certificate's issuer; "
                                "lsctl cert bundle orders them"))
        return problems + _loop(order_chain(certs), certs)
    problems += [Problem(None, "error",
                         f"broken chain: certificate {n + 2} ({_name(certs[n + 1])}) did not "
                         f"issue certificate {n + 1} ({_name(certs[n])})",
                         "include the intermediates your CA sent, in order, and nothing else")
                 for n in breaks]
    return problems


def _loop(chain: list[x509.Certificate], given: list[x509.Certificate]) -> list[Problem]:
    """An issuer loop: the last certificate of the linked `chain` issued by one before it.

    Such a chain never reaches a root, so no client can trust it, and Twilio refuses it.
    Certificates are numbered as `given`.
    """
    last = chain[-1]
    if len(chain) < 2 or is_self_signed(last):
        return []
    issuer = next((cert for cert in chain[:-1] if issued_by(last, cert)), None)
    if issuer is None:
        return []
    return [Problem(NOT_VALIDATED, "error",
                    f"issuer loop: certificate {given.index(issuer) + 1} ({_name(issuer)}) "
                    f"issued certificate {given.index(last) + 1} ({_name(last)}), which leads "
                    "back to it, so the chain never reaches a root",
                    "use the chain your CA sent with the certificate (leaf, then "
                    "intermediates up to a public root); these certificates only vouch for "
                    "each other")]


def _reorderable(certs: list[x509.Certificate]) -> bool:
    ordered = order_chain(certs)
    linked = all(issued_by(ordered[n], ordered[n + 1]) for n in range(len(ordered) - 1))
    roots = sum(1 for c in certs if is_self_signed(c))
    return linked and len(ordered) + roots >= len(certs)


def _validity(certs: list[x509.Certificate], now: datetime, min_days: int) -> list[Problem]:
    problems = []
    for number, cert in enumerate(certs, start=1):
        which = "the certificate" if number == 1 else f"certificate {number} ({_name(cert)})"
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        if now < start:
            problems.append(Problem(NOT_VALID_NOW, "error",
                                    f"{which} is not valid until {start:%Y-%m-%d %H:%M} UTC",
                                    "wait until it is valid, or check the system clock"))
        elif now > end:
            problems.append(Problem(NOT_VALID_NOW, "error",
                                    f"{which} expired on {end:%Y-%m-%d %H:%M} UTC",
                                    "renew it (lsctl renew) and upload the new one"))
        elif number == 1 and end - now < timedelta(days=min_days):
            days = (end - now).days
            problems.append(Problem(EXPIRING, "warning",
                                    f"the certificate expires in {days} day(s), on "
                                    f"{end:%Y-%m-%d} (threshold {min_days} days)",
                                    "renew it soon (lsctl renew)"))
    return problems


def certificate_names(cert: x509.Certificate) -> list[str]:
    """DNS names the certificate is for: its Subject Alternative Names, never its Common Name.

    Browsers have ignored the CN since 2017 (Chrome 58, RFC 6125), and Let's Encrypt's
    tlsserver and shortlived profiles issue certificates without one.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):  # a malformed extension covers nothing
        return []
    return list(san.value.get_values_for_type(x509.DNSName))


def covers(pattern: str, domain: str) -> bool:
    """RFC 6125 matching: exact, or a `*.` wildcard standing for exactly one label."""
    pattern, domain = _ascii(pattern), _ascii(domain)
    if not pattern.startswith("*."):
        return pattern == domain
    label, _, parent = domain.partition(".")
    return bool(label) and parent == pattern[2:]


def _ascii(name: str) -> str:
    name = normalize(name)
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _names(leaf: x509.Certificate, domain: str | None) -> list[Problem]:
    names = certificate_names(leaf)
    if not names:
        cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        only = f" (only the Common Name {cns[0].value!s}, which browsers ignore)" if cns else ""
        return [Problem(NOT_VALIDATED, "error",
                        f"the certificate has no DNS name in a Subject Alternative Name{only}",
                        f"get a certificate with {domain or 'the domain'} in its Subject "
                        "Alternative Names (every public CA issues those; lsctl renew does)")]
    return _coverage(names, domain) if domain is not None else []


def _coverage(names: list[str], domain: str) -> list[Problem]:
    if any(covers(name, domain) for name in names):
        return []
    shown = ", ".join(names)
    wanted = _ascii(domain)
    deeper = [n for n in names if n.startswith("*.") and wanted.endswith("." + n[2:])]
    bare = [n for n in names if n.startswith("*.") and n[2:] == wanted]
    detail = (f"; {deeper[0]} covers exactly one label, not {domain}" if deeper
              else f"; {bare[0]} does not cover {domain} itself" if bare else "")
    return [Problem(None, "error",
                    f"the certificate does not cover {domain} (its names: {shown}){detail}",
                    f"get a certificate with {domain} in its Subject Alternative Names")]


def _name(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        return f"CN={cns[0].value!s}"
    names = certificate_names(cert)  # e.g. Let's Encrypt's tlsserver profile: no subject
    return cert.subject.rfc4514_string() or (f"for {names[0]}" if names else "no subject")
