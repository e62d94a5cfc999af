"""The one rule for lsctl's HTTPS clients (ACME and Twilio): where an endpoint override may
point, and which certificate authorities verify the server.

- An endpoint override (LSCTL_ACME_DIRECTORY, LSCTL_TWILIO_BASE_URL) must be https://: the
  sandbox serves TLS too, so plain HTTP is never needed and would carry credentials in clear.
- Trust: the client's own variable (LSCTL_ACME_CA_BUNDLE, LSCTL_TWILIO_CA_BUNDLE; the sandbox
  sets these), else LSCTL_CA_BUNDLE, else REQUESTS_CA_BUNDLE, else requests' default store.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

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
            return value
    return None
