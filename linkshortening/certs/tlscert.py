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
    strip_bom,
)

CERT_FIX = "give the PEM certificate file from your CA (leaf first, then intermediates)"
# Far above any public CA's chain (a leaf, two or three intermediates, perhaps the root): more is
# a CA bundle or a pile of certificates, not something to order or upload.
MAX_CHAIN_CERTS = 10
# Certificates checked as the issuer of one certificate, beyond those its authority key id
# names: public CAs rarely hand out more than two of one name (a cross-signed intermediate),
# and the cap keeps a file of same-named certificates from costing a signature check per pair.
MAX_NAMED_CANDIDATES = 4


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
    if not strip_bom(data).strip():
        raise CertFileError(source, "is empty", CERT_FIX, code=30116)
    if b"-----BEGIN" not in data:  # DER, used as is: it may end in a "whitespace" byte
        try:
            der = x509.load_der_x509_certificate(data)
        except (ValueError, x509.InvalidVersion):  # InvalidVersion is no ValueError
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
    require_chain_size(len(blocks), source)
    certs = []
    for number, pem in enumerate(blocks, start=1):
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except (ValueError, x509.InvalidVersion):
            cert = None
        if cert is None or not fully_parsed(cert):
            raise CertFileError(source, f"certificate {number} of {len(blocks)} cannot be parsed",
                                "download the certificate again from your CA",
                                code=30117)
        certs.append(cert)
    return CertFile(tuple(certs), "PEM")


def too_many_certificates(count: int) -> tuple[str, str] | None:
    """(problem, fix) when `count` certificates are more than a chain has; None when not."""
    if count <= MAX_CHAIN_CERTS:
        return None
    return (f"holds {count} certificates; a certificate chain has a leaf and a few "
            f"intermediates (at most {MAX_CHAIN_CERTS} here)",
            "give the leaf certificate and the intermediates your CA sent with it, not a CA "
            "bundle")


def require_chain_size(count: int, source: str) -> None:
    """Refuse more certificates than a chain has, before any time is spent on them."""
    if too_many := too_many_certificates(count):
        raise CertFileError(source, *too_many)


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """True when `parent`'s name and key signed `child`.

    As OpenSSL does, a child whose authority key id differs from the parent's subject key id
    was not issued by it, whatever the signature says.
    """
    child_aki, parent_ski = authority_key_id(child), subject_key_id(parent)
    if child_aki is not None and parent_ski is not None and child_aki != parent_ski:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return issued_by(cert, cert)


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError):
        return None


def authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except (x509.ExtensionNotFound, ValueError):
        return None
    return ext.value.key_identifier


class _Issuers:
    """Who issued whom, found through an index instead of a signature check per pair.

    A child's candidate issuers are the certificates whose subject is its issuer name and, when
    it names its authority key id, whose subject key id is that one (or absent); at most a few
    of each, so each lookup costs a bounded number of signature checks.
    """

    def __init__(self, certs: Sequence[x509.Certificate]) -> None:
        self._certs = certs
        self._by_name: dict[x509.Name, list[int]] = {}
        self._by_name_and_key: dict[tuple[x509.Name, bytes | None], list[int]] = {}
        for index, cert in enumerate(certs):
            self._by_name.setdefault(cert.subject, []).append(index)
            self._by_name_and_key.setdefault((cert.subject, subject_key_id(cert)),
                                             []).append(index)
        self._parents: dict[int, list[int]] = {}

    def parents(self, child: int) -> list[int]:
        """Indexes of the certificates that issued certificate `child`, itself excluded."""
        if child not in self._parents:
            cert = self._certs[child]
            aki = authority_key_id(cert)
            groups = ([self._by_name.get(cert.issuer, [])] if aki is None else
                      [self._by_name_and_key.get((cert.issuer, aki), []),
                       self._by_name_and_key.get((cert.issuer, None), [])])
            candidates: list[int] = []
            for group in groups:
                candidates += [i for i in group[:MAX_NAMED_CANDIDATES + 1]
                               if i != child][:MAX_NAMED_CANDIDATES]
            self._parents[child] = [i for i in candidates if issued_by(cert, self._certs[i])]
        return self._parents[child]


def order_chain(certs: Sequence[x509.Certificate],
                key: PrivateKeyTypes | None = None) -> list[x509.Certificate]:
    """Leaf first, then each issuer in turn; roots and duplicates dropped.

    Certificates that are not on the leaf's path are kept at the end, in file order, so that
    preflight reports the broken chain instead of lsctl silently discarding what was given.
    Linear in the number of certificates: each one's issuer is looked up, not searched for.
    """
    unique = list({cert.fingerprint(hashes.SHA256()): cert for cert in certs}.values())
    if not unique:
        return []
    issuers = _Issuers(unique)
    self_signed = [is_self_signed(cert) for cert in unique]
    path = [_pick_leaf(unique, key, issuers, self_signed)]
    used = set(path)
    while (parent := next((p for p in issuers.parents(path[-1]) if p not in used),
                          None)) is not None:
        used.add(parent)
        if self_signed[parent]:
            break  # the root: Twilio's clients have it, and the TlsCert must not carry it
        path.append(parent)
    rest = [i for i in range(len(unique)) if i not in used and not self_signed[i]]
    return [unique[i] for i in path + rest]


def _pick_leaf(certs: list[x509.Certificate], key: PrivateKeyTypes | None, issuers: _Issuers,
               self_signed: list[bool]) -> int:
    # The key's own certificate is the leaf by definition; without a key, the one that issued
    # none of the others, a root only when nothing else is left.
    if key is not None:
        for index, cert in enumerate(certs):
            if same_public_key(key, cert):
                return index
    issuing = {parent for child in range(len(certs)) for parent in issuers.parents(child)}
    candidates = [i for i in range(len(certs)) if not self_signed[i]] or list(range(len(certs)))
    return next((i for i in candidates if i not in issuing), candidates[0])


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
