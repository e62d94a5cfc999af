"""The ACME accounts: one per CA directory, created on first use there, kept in the state store.

An account exists only at the CA that registered it (its URL is the JWS `kid`), so changing
`lsctl:acme.directory` (staging to production, another Pebble) means a new account, never the
old one sent to the wrong CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwk import JWKEC

from acme_renewer.issuance import AcmeAccount, AcmeSession
from acme_renewer.state import RenewerState, StoredAccount
from linkshortening.common.https import ca_bundle, https_override
from linkshortening.common.secrets import read_secret
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import AcmeSettings

DIRECTORY_ENV = "LSCTL_ACME_DIRECTORY"  # overrides the stack's directory (the sandbox's Pebble)
CA_BUNDLE_ENV = "LSCTL_ACME_CA_BUNDLE"  # trust for the ACME server's TLS (the sandbox's CA)


@dataclass(frozen=True)
class CaEndpoint:
    """Which CA a run talks to, and what verifies its TLS certificate."""

    directory: str
    ca_bundle: str | None  # None: requests' default store


def ca_endpoint(settings: AcmeSettings) -> CaEndpoint:
    """The stack's directory unless LSCTL_ACME_DIRECTORY overrides it; both https:// only."""
    return CaEndpoint(https_override(DIRECTORY_ENV) or settings.directory_url,
                      ca_bundle(CA_BUNDLE_ENV))


@dataclass(frozen=True)
class OpenedAccount:
    """The run's account at its CA, and what the report should say about it."""

    directory: str
    session: AcmeSession | None  # None only in a dry run that found no account at this CA
    note: str | None = None  # an account registered (or, in a dry run, that would be)


def open_account(settings: AcmeSettings, state: RenewerState, source: str, *,
                 dry_run: bool = False) -> OpenedAccount:
    """The stored account for the run's CA; else register one, unless this is a dry run."""
    ca = ca_endpoint(settings)
    stored = _stored(state, ca.directory, dry_run)
    if stored is not None and stored.deactivated:
        raise ConfigError(source, "lsctl:acme.directory", f"the account {stored.url} at "
                          f"{ca.directory} is deactivated", "register another: lsctl acme "
                          "account create --stack STACK")
    if stored is not None:
        return OpenedAccount(ca.directory, session_for(settings, ca, stored))
    if not settings.agree_tos:
        raise ConfigError(source, "lsctl:acme.agreeTos", "the CA's terms of service are not "
                          "agreed", "read the CA's terms, then set agreeTos: true")
    legacy = state.legacy_account()
    kept = (f" (the account stored for {_origin(legacy[0])} is kept for that CA)"
            if legacy is not None else "")
    if dry_run:
        return OpenedAccount(ca.directory, None,
                             f"would register a new ACME account at {ca.directory}{kept}")
    stored = register(settings, ca)
    state.save_account(stored)
    return OpenedAccount(ca.directory, session_for(settings, ca, stored),
                         f"registered a new ACME account at {ca.directory}{kept}")


def open_session(settings: AcmeSettings, state: RenewerState, source: str) -> AcmeSession:
    """An ACME session as the stack's account at its CA, registering it on first use."""
    session = open_account(settings, state, source).session
    assert session is not None  # only a dry run leaves it out
    return session


def _stored(state: RenewerState, directory: str, dry_run: bool) -> StoredAccount | None:
    stored = state.account(directory)
    if stored is not None:
        return stored
    legacy = state.legacy_account()
    if legacy is None or _origin(legacy[0]) != _origin(directory):
        return None
    # The single account earlier versions kept belongs to the CA its URL is at: file it
    # under that CA's directory (a dry run only uses it).
    stored = StoredAccount(directory, *legacy)
    if not dry_run:
        state.save_account(stored)
        state.drop_legacy_account()
    return stored


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def session_for(settings: AcmeSettings, ca: CaEndpoint, stored: StoredAccount) -> AcmeSession:
    """A session as `stored` (its URL and key) at `ca`."""
    key = serialization.load_pem_private_key(stored.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return AcmeSession(AcmeAccount(ca.directory, JWKEC(key=key), ca.ca_bundle, stored.url,
                                   settings.email))


def register(settings: AcmeSettings, ca: CaEndpoint) -> StoredAccount:
    """A new account at `ca` (External Account Binding when its directory requires it)."""
    private = ec.generate_private_key(ec.SECP256R1())
    session = AcmeSession(AcmeAccount(ca.directory, JWKEC(key=private), ca.ca_bundle, None,
                                      settings.email))
    eab = None
    if session.directory.meta.external_account_required:
        eab = (read_secret(settings.eab_kid_env, "ACME External Account Binding key id"),
               read_secret(settings.eab_hmac_env, "ACME External Account Binding HMAC key"))
    url = session.register(agree_tos=True, eab=eab)
    return StoredAccount(ca.directory, url, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
