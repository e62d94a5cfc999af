"""Private keys in any format vendors hand out, turned into the unencrypted PKCS#8 PEM Twilio takes.

Reads PEM (PKCS#8 plain or encrypted, PKCS#1, SEC1), DER of each, and PKCS#12; tolerates CRLF,
a UTF-8 BOM, surrounding whitespace and other PEM blocks in the same file.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

STDIN = "-"
MAX_BYTES = 1 << 20  # far above any key or chain; stops a wrong path from being slurped whole
MIN_RSA_BITS = 2048
SUPPORTED_CURVES = ("secp256r1", "secp384r1")
GENERATE_HINT = ("generate an RSA 2048 key (openssl genpkey -algorithm RSA -pkeyopt "
                 "rsa_keygen_bits:2048) or an ECDSA P-256 key (openssl genpkey -algorithm EC "
                 "-pkeyopt ec_paramgen_curve:P-256) and get a certificate issued for it")
# Errors raised by cryptography for data it cannot parse or decrypt.
PARSE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm)

# A body never contains "-----", so an unterminated BEGIN costs one scan, not one per BEGIN.
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----((?:[^-]|-(?!----))*)-----END \1-----")
PEM_KEY_FORMATS = {
    b"PRIVATE KEY": "PEM PKCS#8",
    b"ENCRYPTED PRIVATE KEY": "PEM PKCS#8 (encrypted)",
    b"RSA PRIVATE KEY": "PEM PKCS#1",
    b"EC PRIVATE KEY": "PEM SEC1",
    b"DSA PRIVATE KEY": "PEM DSA",
}
TWILIO_FORMAT = "PEM PKCS#8"
PKCS12_SUFFIXES = (".p12", ".pfx")


class InputFileError(Exception):
    """A key or certificate file lsctl cannot use; the message names the file and the fix."""

    def __init__(self, path: str, problem: str, fix: str, code: int | None = None) -> None:
        self.path, self.problem, self.fix, self.code = path, problem, fix, code
        rejected = f" (Twilio would reject it with error {code})" if code else ""
        super().__init__(f"{path}: {problem}{rejected}. Fix: {fix}")


class KeyFileError(InputFileError):
    """A private key file that cannot be read, decrypted, parsed or used with Twilio."""


class KeyPasswordNeeded(KeyFileError):
    """The key is encrypted and no password was given."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "the private key is encrypted and no password was given",
                         "put the password in an environment variable and name it with "
                         "--password-env VAR (or VAR_FILE holding it)")


@dataclass(frozen=True)
class KeyFile:
    """A loaded private key, the format it was stored in, and certificates found beside it."""

    key: PrivateKeyTypes
    format: str  # e.g. "PEM PKCS#1", "DER", "PKCS#12"
    certificates: tuple[x509.Certificate, ...] = ()  # PKCS#12: leaf first, then its chain


def read_key_file(path: str | Path, password: bytes | None = None) -> KeyFile:
    """Load the private key in `path` ("-" is stdin); `KeyFileError` names the file and fix."""
    source = str(path)
    data = read_input(source, KeyFileError)
    return parse_key(data, source, password)


def read_input(source: str, error: type[InputFileError]) -> bytes:
    """The bytes of a file or of stdin, or `error` saying why they cannot be read."""
    try:
        if source == STDIN:
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise error(source, f"cannot be read ({exc.strerror or exc.__class__.__name__})",
                    "check the path and its permissions") from None
    if len(data) > MAX_BYTES:
        raise error(source, f"is larger than {MAX_BYTES} bytes, too large to be a key or "
                    "certificate", "check the path")
    return data


def parse_key(data: bytes, source: str, password: bytes | None = None) -> KeyFile:
    """Load a private key from PEM, DER or PKCS#12 bytes; `source` names it in errors."""
    if not strip_bom(data).strip():
        raise KeyFileError(source, "is empty", "give the file holding the private key")
    if b"-----BEGIN" in data:
        return _parse_pem(data, source, password)
    return _parse_binary(data, source, password)  # untouched: DER may end in a "space" byte


def strip_bom(data: bytes) -> bytes:
    return data.removeprefix(b"\xef\xbb\xbf")


def pem_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(label, clean PEM) for every block; line endings and stray indentation normalised."""
    return [(m.group(1), _clean_block(m.group(1), m.group(2)))
            for m in PEM_BLOCK.finditer(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))]


def _clean_block(label: bytes, body: bytes) -> bytes:
    lines = [line.strip() for line in body.split(b"\n")]
    lines = [line for line in lines if line]
    headers = [line for line in lines if b":" in line]  # legacy "Proc-Type"/"DEK-Info"
    base64 = [line for line in lines if b":" not in line]
    middle = [*headers, b""] if headers else []  # RFC 1421 wants a blank line after headers
    return b"\n".join([b"-----BEGIN " + label + b"-----", *middle, *base64,
                       b"-----END " + label + b"-----", b""])


def _parse_pem(data: bytes, source: str, password: bytes | None) -> KeyFile:
    blocks = pem_blocks(data)
    keys = [(label, pem) for label, pem in blocks if label.endswith(b"PRIVATE KEY")]
    if not keys:
        found = ", ".join(sorted({label.decode() for label, _ in blocks})) or "none complete"
        raise KeyFileError(source, f"has no PEM private key block (blocks found: {found})",
                           "give the file with -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE "
                           "KEY), complete with its END line")
    if len(keys) > 1:
        raise KeyFileError(source, f"holds {len(keys)} private keys",
                           "keep only the key the certificate was issued for")
    label, pem = keys[0]
    if label == b"OPENSSH PRIVATE KEY":
        raise KeyFileError(source, "is an OpenSSH private key, not the TLS certificate's key",
                           "use the key the certificate was issued for")
    if label not in PEM_KEY_FORMATS:
        raise KeyFileError(source, f"has an unsupported key block ({label.decode()})",
                           GENERATE_HINT)
    encrypted = label == b"ENCRYPTED PRIVATE KEY" or b"ENCRYPTED" in pem.split(b"\n", 2)[1]
    key = _decode(lambda pw: serialization.load_pem_private_key(pem, pw),
                  source, password, encrypted)
    return KeyFile(key, PEM_KEY_FORMATS[label], _pem_certificates(blocks))


def _pem_certificates(blocks: list[tuple[bytes, bytes]]) -> tuple[x509.Certificate, ...]:
    # Certificates beside a key are a convenience (a combined file); a bad one is skipped here
    # and the certificate file, if any, is what preflight judges.
    certs = []
    for label, pem in blocks:
        if label == b"CERTIFICATE":
            try:
                cert = x509.load_pem_x509_certificate(pem)
            except (ValueError, x509.InvalidVersion):  # no ValueError subclass
                continue
            if fully_parsed(cert):
                certs.append(cert)
    return tuple(certs)


def fully_parsed(cert: x509.Certificate) -> bool:
    """True when every field lsctl reads parses: cryptography parses some only on access."""
    try:
        _ = (cert.subject, cert.issuer, cert.extensions, cert.public_key(),
             cert.not_valid_before_utc, cert.not_valid_after_utc)
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def _parse_binary(data: bytes, source: str, password: bytes | None) -> KeyFile:
    try:
        key = _decode(lambda pw: serialization.load_der_private_key(data, pw),
                      source, password, encrypted=False)
        return KeyFile(key, "DER")
    except KeyPasswordNeeded:
        raise
    except KeyFileError:
        pass  # not a DER key; maybe PKCS#12
    try:
        bundle = pkcs12.load_key_and_certificates(data, password)
    except PARSE_ERRORS:
        if password is None and source.lower().endswith(PKCS12_SUFFIXES):
            raise KeyPasswordNeeded(source) from None
        raise KeyFileError(
            source, "is not a private key in PEM, DER or PKCS#12 format"
            + (" (or the password is wrong)" if password is not None else ""),
            "give the key file issued with the certificate; a password-protected PKCS#12 "
            "file needs --password-env VAR") from None
    p12_key, cert, extra = bundle
    if p12_key is None:
        raise KeyFileError(source, "is a PKCS#12 file without a private key",
                           "export the PKCS#12 file again including the private key")
    certs = ((cert,) if cert is not None else ()) + tuple(extra)
    return KeyFile(p12_key, "PKCS#12", tuple(c for c in certs if fully_parsed(c)))


def _decode(load: Callable[[bytes | None], PrivateKeyTypes], source: str,
            password: bytes | None, encrypted: bool) -> PrivateKeyTypes:
    """Run a cryptography loader, turning its errors into KeyFileError without their text."""
    try:
        return load(password)
    except TypeError:
        # TypeError is cryptography's "password given but not needed, or needed but missing".
        if password is None:
            raise KeyPasswordNeeded(source) from None
        try:
            return load(None)
        except PARSE_ERRORS:
            pass
    except PARSE_ERRORS:
        pass
    if password is not None and encrypted:
        raise KeyFileError(source, "cannot be decrypted: wrong password or a damaged file",
                           "check the password variable given with --password-env") from None
    raise KeyFileError(source, "is not a valid private key (damaged, truncated or an "
                       "unsupported encryption or key type)",
                       "export the key again, or " + GENERATE_HINT) from None


def unsupported_reason(key: PrivateKeyTypes) -> str | None:
    """Why Twilio would refuse this key (RSA >= 2048 and ECDSA P-256/P-384 only), or None."""
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            return f"RSA key of {key.key_size} bits is too small (at least {MIN_RSA_BITS})"
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in SUPPORTED_CURVES:
            return f"ECDSA curve {key.curve.name} is not supported (P-256 or P-384 only)"
        return None
    kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
    return f"{kind or 'this'} keys are not supported (RSA or ECDSA P-256/P-384 only)"


def pkcs8_pem(key: PrivateKeyTypes) -> str:
    """Unencrypted PKCS#8 PEM, byte for byte what `openssl pkcs8 -topk8 -nocrypt` writes."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def same_public_key(a: PrivateKeyTypes | x509.Certificate, b: x509.Certificate) -> bool:
    """True when a private key (or a certificate) carries the same public key as `b`."""
    return _spki(a.public_key()) == _spki(b.public_key())


def _spki(public: PublicKeyTypes) -> bytes:
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
