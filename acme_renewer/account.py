"""The ACME account: created once, its key kept in the state store, reused by every run."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwk import JWKEC

from acme_renewer.issuance import AcmeAccount, AcmeSession
from acme_renewer.state import RenewerState
from linkshortening.common.secrets import read_secret
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import AcmeSettings

DIRECTORY_ENV = "LSCTL_ACME_DIRECTORY"  # overrides the stack's directory (the sandbox's Pebble)
CA_BUNDLE_ENV = "LSCTL_ACME_CA_BUNDLE"  # extra trust anchor for the ACME server's TLS


def open_session(settings: AcmeSettings, state: RenewerState, source: str) -> AcmeSession:
    """An ACME session as the stack's account, registering it on first use."""
    directory = os.environ.get(DIRECTORY_ENV) or settings.directory_url
    ca_bundle = os.environ.get(CA_BUNDLE_ENV) or None
    stored = state.account()
    if stored is not None:
        key_pem, url = stored
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return AcmeSession(AcmeAccount(directory, JWKEC(key=key), ca_bundle, url, settings.email))
    if not settings.agree_tos:
        raise ConfigError(source, "lsctl:acme.agreeTos", "the CA's terms of service are not "
                          "agreed", "read the CA's terms, then set agreeTos: true")
    private = ec.generate_private_key(ec.SECP256R1())
    account = AcmeAccount(directory, JWKEC(key=private), ca_bundle, None, settings.email)
    session = AcmeSession(account)
    eab = None
    if session.directory.meta.external_account_required:
        eab = (read_secret(settings.eab_kid_env, "ACME External Account Binding key id"),
               read_secret(settings.eab_hmac_env, "ACME External Account Binding HMAC key"))
    url = session.register(agree_tos=True, eab=eab)
    state.save_account(private.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), url)
    return AcmeSession(AcmeAccount(directory, account.key, ca_bundle, url, settings.email))
