"""The `TlsCert` value Twilio takes: leaf, intermediates in issuing order, then the PKCS#8 key.

No root, no blank line at either end, exactly one newline between blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from linkshortening.certs.keys import (
    InputFileError,
    fully_parsed,
    pem_blocks,
    pkcs8_pem,
    read_input,
    same_public_key,
)

CERT_FIX = "give the PEM certificate file from your CA (leaf first, then intermediates)"


class CertFileError(InputFileError):
    """A certificate file that cannot be read or parsed."""


@dataclass(frozen=True)
class CertFile:
    """Certificates in file order and the format they were stored in ("PEM" or "DER")."""

    certificates: tuple[x509.Certificate, ...]
    format: str


def read_certificates(path: str | Path) -> CertFile:
    """Every certificate in a PEM (one or more blocks) or DER file; other PEM blocks ignored."""
    source = str(path)
    return parse_certificates(read_input(source, CertFileError), source)


def parse_certificates(data: bytes, source: str) -> CertFile:
    """Certificates from PEM or DER bytes; `source` names them in errors."""
    if b"-----BEGIN" not in data:  # DER, used as is: it may end in a "whitespace" byte
        try:
            der = x509.load_der_x509_certificate(data)
        except ValueError:
            raise CertFileError(source, "is neither a PEM nor a DER certificate", CERT_FIX,
                                code=30116) from None
        if not fully_parsed(der):
            raise CertFileError(source, "is a DER certificate that cannot be parsed",
                                "download the certificate again from your CA", code=30117)
        return CertFile((der,), "DER")
    blocks = [pem for label, pem in pem_blocks(data) if label == b"CERTIFICATE"]
    if not blocks:
        raise CertFileError(source, "has no complete -----BEGIN CERTIFICATE----- block",
                            CERT_FIX, code=30116)
    certs = []
    for number, pem in enumerate(blocks, start=1):
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            cert = None
        if cert is None or not fully_parsed(cert):
            raise CertFileError(source, f"certificate {number} of {len(blocks)} cannot be parsed",
                                "download the certificate again from your CA",
                                code=30117)
        certs.append(cert)
    return CertFile(tuple(certs), "PEM")


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """True when `parent`'s name and key signed `child`."""
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return issued_by(cert, cert)


def order_chain(certs: Sequence[x509.Certificate],
                key: PrivateKeyTypes | None = None) -> list[x509.Certificate]:
    """Leaf first, then each issuer in turn; roots and duplicates dropped.

    Certificates that are not on the leaf's path are kept at the end, in file order, so that
    preflight reports the broken chain instead of lsctl silently discarding what was given.
    """
    unique = list({cert.fingerprint(hashes.SHA256()): cert for cert in certs}.values())
    if not unique:
        return []
    leaf = _pick_leaf(unique, key)
    path = [leaf]
    rest = [cert for cert in unique if cert is not leaf]
    while parent := next((c for c in rest if issued_by(path[-1], c)), None):
        rest.remove(parent)
        if is_self_signed(parent):
            break  # the root: Twilio's clients have it, and the TlsCert must not carry it
        path.append(parent)
    return path + [cert for cert in rest if not is_self_signed(cert)]


def _pick_leaf(certs: list[x509.Certificate],
               key: PrivateKeyTypes | None) -> x509.Certificate:
    # The key's own certificate is the leaf by definition; without a key, the one that issued
    # none of the others, a root only when nothing else is left.
    if key is not None:
        for cert in certs:
            if same_public_key(key, cert):
                return cert
    candidates = [c for c in certs if not is_self_signed(c)] or certs
    for cert in candidates:
        if not any(issued_by(other, cert) for other in certs if other is not cert):
            return cert
    return candidates[0]


def certificate_pem(cert: x509.Certificate) -> str:
    """One certificate as PEM, without a trailing newline."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii").strip()


def chain_pem(certs: Sequence[x509.Certificate]) -> str:
    """Certificates joined by exactly one newline, none at either end."""
    return "\n".join(certificate_pem(cert) for cert in certs)


def build_tls_cert(certs: Sequence[x509.Certificate], key: PrivateKeyTypes) -> str:
    """The exact `TlsCert` value: the ordered chain without its root, then the PKCS#8 key."""
    return chain_pem(order_chain(certs, key)) + "\n" + pkcs8_pem(key).strip()


def split_tls_cert(value: str) -> tuple[str, str | None]:
    """(chain part, key part) of a `TlsCert` value; the key starts at its BEGIN line."""
    marker = value.find("PRIVATE KEY-----")
    start = value.rfind("-----BEGIN", 0, marker) if marker >= 0 else -1
    if start < 0:
        return value, None
    chain = value[:start]
    # The one newline between the chain and the key belongs to neither part.
    return chain.removesuffix("\n").removesuffix("\r"), value[start:]
