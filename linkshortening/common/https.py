"""The one rule for lsctl's HTTPS clients (ACME and Twilio): where an endpoint override may
point, and which certificate authorities verify the server.

- An endpoint override (LSCTL_ACME_DIRECTORY, LSCTL_TWILIO_BASE_URL) must be https://: the
  sandbox serves TLS too, so plain HTTP is never needed and would carry credentials in clear.
- Trust: the client's own variable (LSCTL_ACME_CA_BUNDLE, LSCTL_TWILIO_CA_BUNDLE; the sandbox
  sets these), else LSCTL_CA_BUNDLE, else REQUESTS_CA_BUNDLE, else requests' default store.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:  # the stubs' names for what requests returns as plain dicts
    from requests.adapters import _HostParams, _PoolKwargs

CA_BUNDLE_ENV = "LSCTL_CA_BUNDLE"  # one bundle for every lsctl HTTPS client
GENERIC_CA_BUNDLE_ENVS = (CA_BUNDLE_ENV, "REQUESTS_CA_BUNDLE")


class HttpsSetupError(Exception):
    """An endpoint override or CA bundle variable that cannot be used as set."""


def https_override(name: str) -> str | None:
    """The https:// URL in environment variable `name`, or None when it is unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise HttpsSetupError(f"{name}={value} must be an https:// URL. Fix: give the "
                              f"server's https:// address, or unset {name}")
    return value


def ca_bundle(client_env: str) -> str | None:
    """The CA bundle file the rule above picks for a client, or None for requests' default."""
    for name in (client_env, *GENERIC_CA_BUNDLE_ENVS):
        value = os.environ.get(name, "").strip()
        if value:
            if not Path(value).is_file():
                raise HttpsSetupError(f"{name}={value} is not a file. Fix: point it at a PEM "
                                      f"CA bundle, or unset {name}")
            try:
                trust_context(value)  # here, naming the variable, not at the first request
            except HttpsSetupError:
                raise HttpsSetupError(f"{name}={value} holds no PEM CA certificate. Fix: "
                                      f"point it at a PEM CA bundle, or unset {name}") from None
            return value
    return None


def trust_context(bundle: str | None) -> ssl.SSLContext:
    """A verifying SSLContext trusting `bundle` (None: requests' default bundle, certifi's)."""
    try:
        return ssl.create_default_context(cafile=bundle or requests.utils.DEFAULT_CA_BUNDLE_PATH)
    except ssl.SSLError:  # not PEM, or no certificate in it
        raise HttpsSetupError(f"{bundle} holds no PEM CA certificate. Fix: point lsctl at "
                              f"a PEM CA bundle") from None


class PinnedTrustAdapter(HTTPAdapter):
    """Verifies every connection against one SSLContext, loaded once from the bundle the rule
    above picked (None: requests' own default bundle, certifi's), whatever `verify` a caller
    passes. requests otherwise stats the bundle path several times per request (pool key,
    cert_verify) and urllib3 loads it into a fresh context for each new connection."""

    def __init__(self, bundle: str | None, **kwargs: Any) -> None:
        self._context = trust_context(bundle)
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(
            self, request: requests.PreparedRequest, verify: Any,
            cert: Any = None) -> tuple[_HostParams, _PoolKwargs]:
        # In the pool key (not only the pool manager's defaults) so a proxy's pools use it.
        host, pool = super().build_connection_pool_key_attributes(request, True, cert)
        pool["ssl_context"] = self._context
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"  # the pool manager's context holds the trust
        conn.ca_certs = conn.ca_cert_dir = None


def server_session(url: str, bundle: str | None, **adapter: Any) -> requests.Session:
    """A requests session for the server at `url`, with the environment read once, here.

    With `trust_env` requests' merge_environment_settings reads the proxy variables, no_proxy,
    ~/.netrc and the CA bundle variables on every request: ~1 ms of CPU each under the GIL
    when thousands are sent. The proxy for `url`'s host is resolved now and the session stops
    trusting the environment; trust is `bundle` by lsctl's rule (PinnedTrustAdapter), and
    lsctl's clients send their own authentication, so the environment has nothing else to
    add. `adapter` sizes the connection pool (HTTPAdapter's arguments)."""
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(url)
    session.trust_env = False
    session.mount("https://", PinnedTrustAdapter(bundle, **adapter))
    return session
