"""The served-certificate probe: what a client gets on port 443 for each domain (by SNI)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from drift.facts import Probed, ServedCertificate, Unreachable
from linkshortening.certs.served import ServedCertificateError, fetch_served
from linkshortening.stack.model import DomainSpec

WORKERS = 32


def probe(specs: Sequence[DomainSpec], workers: int = WORKERS,
          ) -> dict[str, Probed[ServedCertificate]]:
    with ThreadPoolExecutor(max(1, min(workers, len(specs)))) as pool:
        results = pool.map(lambda spec: _served(spec.fqdn), specs)
        return dict(zip((s.fqdn for s in specs), results, strict=True))


def _served(fqdn: str) -> Probed[ServedCertificate]:
    from linkshortening.certs.preflight import certificate_names

    try:
        cert, where = fetch_served(fqdn)
    except ServedCertificateError as exc:
        return Probed(None, (Unreachable("tls", f"port 443 of {exc.where}", exc.detail),))
    return Probed(ServedCertificate(tuple(certificate_names(cert)),
                                    cert.not_valid_after_utc.astimezone(dt.UTC), where,
                                    cert.not_valid_before_utc.astimezone(dt.UTC)))
