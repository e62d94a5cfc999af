"""Real certificates for tests: root -> intermediate(s) -> leaf chains and self-signed ones.

Built with `cryptography`; keys are cached per (type, slot) because RSA generation is slow.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

KeyType = Literal["rsa1024", "rsa2048", "rsa3072", "rsa4096", "ec256", "ec384", "ec521",
                  "ed25519", "dsa2048"]
SigningKey = (rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
              | dsa.DSAPrivateKey)
CURVES: dict[str, ec.EllipticCurve] = {"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1(),
                                       "ec521": ec.SECP521R1()}


def new_key(key_type: KeyType) -> SigningKey:
    """A fresh private key of this type."""
    if key_type.startswith("rsa"):
        return rsa.generate_private_key(65537, int(key_type[3:]))
    if key_type.startswith("dsa"):
        return dsa.generate_private_key(int(key_type[3:]))
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(CURVES[key_type])


@functools.cache
def cached_key(key_type: KeyType, slot: int = 0) -> SigningKey:
    """The same key for the same (type, slot) for the whole session; another slot, another key."""
    return new_key(key_type)


def pkcs8(key: SigningKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class Issued:
    """One certificate and its private key."""

    cert: x509.Certificate
    key: SigningKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        """PKCS#8 PEM, as files hold it (trailing newline)."""
        return pkcs8(self.key)


@dataclass(frozen=True)
class Chain:
    """leaf <- intermediates (nearest first) <- root."""

    leaf: Issued
    intermediates: tuple[Issued, ...]
    root: Issued

    @property
    def certs(self) -> tuple[x509.Certificate, ...]:
        """Upload order: leaf then intermediates, no root."""
        return (self.leaf.cert, *(i.cert for i in self.intermediates))

    @property
    def chain_pem(self) -> str:
        """Upload-order PEMs, one newline between, none around."""
        return "\n".join(pem(cert) for cert in self.certs)

    @property
    def tls_cert(self) -> str:
        """The exact TlsCert value Twilio expects for this chain."""
        return self.chain_pem + "\n" + self.leaf.key_pem.strip()

    def write(self, directory: Path, stem: str = "leaf") -> tuple[Path, Path]:
        """Write `<stem>.crt` (upload-order chain + newline) and `<stem>.key`; return both."""
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_path.write_text(self.chain_pem + "\n")
        key_path.write_text(self.leaf.key_pem)
        return cert_path, key_path


def pem(cert: x509.Certificate) -> str:
    """One certificate as PEM without a trailing newline."""
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip()


def issue(names: Sequence[str], key: SigningKey, issuer: Issued | None, *,
          not_before: datetime, not_after: datetime, ca: bool = False,
          common_name: str | None = None, key_ids: bool = False) -> Issued:
    """A certificate for `names` (SANs; none -> no SAN extension) signed by `issuer` (or self).

    `common_name=""` leaves the subject empty, as Let's Encrypt's tlsserver profile does.
    """
    cn = common_name if common_name is not None else (names[0] if names else "lsctl test")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    return sign(subject, names, key, issuer.cert.subject if issuer else subject,
                issuer.key if issuer else key, not_before=not_before, not_after=not_after,
                ca=ca, key_ids=key_ids)


def sign(subject: x509.Name, names: Sequence[str], key: SigningKey, issuer_name: x509.Name,
         signer: SigningKey, *, not_before: datetime, not_after: datetime, ca: bool = False,
         key_ids: bool = False) -> Issued:
    """A certificate for `key` claiming `issuer_name`, signed by `signer` whatever its name.

    `key_ids` adds the subject and authority key identifiers public CAs put in every certificate.
    """
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:  # RFC 5280: the SAN is critical when the subject is empty
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
            critical=not subject)
    if key_ids:
        builder = (builder
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       signer.public_key()), critical=False))
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(signer, algorithm), key)


def issuer_loop(count: int, names: Sequence[str] = ("link.example.com",), *,
                same_name: bool = True, key_ids: bool = False) -> list[Issued]:
    """`count` certificates, each issued by the one before it and the first by the last: a loop
    no root ends, in the file order that made lsctl's old chain ordering quadratic.

    The first is the leaf (SANs `names`; its key is the one to bundle), the others are CAs. With
    `same_name` all share one subject (and so issuer) name, so names cannot tell who issued whom;
    otherwise certificate i is "CN=<names[0]> loop i".
    """
    start, end = _window(None, None)
    keys = [cached_key("ec256", 5000 + i) for i in range(count)]
    base = names[0] if names else "lsctl loop"
    subjects = [x509.Name([x509.NameAttribute(
        NameOID.COMMON_NAME, base if same_name else f"{base} loop {i}")]) for i in range(count)]
    return [sign(subjects[i], names if i == 0 else [], keys[i], subjects[i - 1], keys[i - 1],
                 not_before=start, not_after=end, ca=i > 0, key_ids=key_ids)
            for i in range(count)]


def _window(not_before: datetime | None, not_after: datetime | None) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return (not_before or now - timedelta(days=1), not_after or now + timedelta(days=90))


def make_chain(names: Sequence[str] = ("link.example.com",),
               not_before: datetime | None = None, not_after: datetime | None = None,
               key_type: KeyType = "ec256", *, intermediates: int = 1,
               leaf_key: SigningKey | None = None, common_name: str | None = None,
               ca: int = 0) -> Chain:
    """A root, `intermediates` CAs and a leaf for `names`; default validity now-1d .. now+90d.

    The CAs stay valid around the leaf's window, so only the leaf is expired or not yet valid.
    Chains with the same `ca` share CA names and keys; another `ca` is an unrelated CA.
    """
    start, end = _window(not_before, not_after)
    ca_start, ca_end = start - timedelta(days=365), end + timedelta(days=365)
    slot = 1000 + 100 * ca
    root = issue([], cached_key("ec256", slot), None, not_before=ca_start, not_after=ca_end,
                 ca=True, common_name=f"lsctl Test CA{ca} Root")
    chain: list[Issued] = []
    parent = root
    for level in range(intermediates, 0, -1):
        parent = issue([], cached_key("ec256", slot + level), parent, not_before=ca_start,
                       not_after=ca_end, ca=True,
                       common_name=f"lsctl Test CA{ca} Intermediate {level}")
        chain.insert(0, parent)
    leaf = issue(names, leaf_key or cached_key(key_type), parent, not_before=start,
                 not_after=end, common_name=common_name)
    return Chain(leaf, tuple(chain), root)


def self_signed(names: Sequence[str] = ("link.example.com",),
                not_before: datetime | None = None, not_after: datetime | None = None,
                key_type: KeyType = "ec256") -> Issued:
    """A leaf certificate signed by its own key (Twilio: 30129)."""
    start, end = _window(not_before, not_after)
    return issue(names, cached_key(key_type), None, not_before=start, not_after=end)
