"""The certificate a client gets on port 443 for a domain, by SNI (what Twilio's edge serves)."""

from __future__ import annotations

import os
import socket
import ssl
from urllib.parse import urlsplit

from cryptography import x509

ENDPOINT_ENV = "LSCTL_TLS_ENDPOINT"  # host:port to connect to instead of <domain>:443
TIMEOUT = 5.0


class ServedCertificateError(Exception):
    """No certificate could be read from `where`."""

    def __init__(self, where: str, detail: str) -> None:
        self.where, self.detail = where, detail
        super().__init__(f"TLS {where}: {detail}")


def served_address(fqdn: str) -> tuple[str, int, str]:
    """(host, port, where) to ask for `fqdn`: `LSCTL_TLS_ENDPOINT` when set, else fqdn:443."""
    override = os.environ.get(ENDPOINT_ENV, "").strip()
    if not override:
        return fqdn, 443, f"{fqdn}:443"
    parts = urlsplit(f"//{override}")  # host:port and [v6]:port, by the standard parser
    try:
        port = parts.port or 443
    except ValueError:
        raise ServedCertificateError(fqdn, f"{ENDPOINT_ENV}={override!r} is not "
                                           "host:port") from None
    host = parts.hostname or override
    return host, port, f"{fqdn} at {host}:{port}"


def fetch_served(fqdn: str, timeout: float = TIMEOUT) -> tuple[x509.Certificate, str]:
    """The leaf certificate served for `fqdn`, and where it was read."""
    host, port, where = served_address(fqdn)
    # We judge what is served, whoever signed it (names and dates are checked by the caller),
    # so this connection does not verify; it sends no data and trusts nothing it reads.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=fqdn) as conn:
            der = conn.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise ServedCertificateError(where, str(exc)) from None
    if der is None:
        raise ServedCertificateError(where, "no certificate served")
    return x509.load_der_x509_certificate(der), where
