"""The served-certificate probe: what a client gets on port 443 for each domain (by SNI)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from drift.facts import Probed, ServedCertificate, Unreachable
from linkshortening.dns.rfc2136 import Endpoint
from linkshortening.stack.model import DomainSpec

ENDPOINT_ENV = "LSCTL_TLS_ENDPOINT"  # host:port to connect to instead of <domain>:443
TIMEOUT = 5.0
WORKERS = 32


def probe(specs: Sequence[DomainSpec], workers: int = WORKERS,
          ) -> dict[str, Probed[ServedCertificate]]:
    override = os.environ.get(ENDPOINT_ENV)
    endpoint = Endpoint.parse(override) if override else None
    with ThreadPoolExecutor(max(1, min(workers, len(specs)))) as pool:
        results = pool.map(lambda spec: _served(spec.fqdn, endpoint), specs)
        return dict(zip((s.fqdn for s in specs), results, strict=True))


def _served(fqdn: str, endpoint: Endpoint | None) -> Probed[ServedCertificate]:
    from cryptography import x509

    from linkshortening.certs.preflight import certificate_names

    host, port = (endpoint.host, endpoint.port) if endpoint else (fqdn, 443)
    where = f"{fqdn} at {host}:{port}" if endpoint else f"{fqdn}:443"
    # We judge what is served, whoever signed it (names and expiry are checked by us), so
    # this connection does not verify; it sends no data and trusts nothing it reads.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw, \
                context.wrap_socket(raw, server_hostname=fqdn) as conn:
            der = conn.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        return Probed(None, (Unreachable("tls", f"port 443 of {where}", str(exc)),))
    if der is None:
        return Probed(None, (Unreachable("tls", f"port 443 of {where}",
                                         "no certificate served"),))
    cert = x509.load_der_x509_certificate(der)
    return Probed(ServedCertificate(tuple(certificate_names(cert)),
                                    cert.not_valid_after_utc.astimezone(dt.UTC), where))
