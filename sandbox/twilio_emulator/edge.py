"""The emulator's edge: what Twilio serves on 443 for a Link Shortening domain.

A TLS listener that picks, by SNI, the certificate currently validated for the named domain
(as Twilio's edge does once a certificate is current), so the drift checker can look at the
served certificate in the sandbox. A Twilio-managed certificate has no bundle in the account
(Twilio obtains it), so the edge serves one for the name from the sandbox CA, expiring when
the API says it does. A name with no current certificate gets the sandbox's own listener
certificate, which covers no domain: exactly what a client would notice.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sandbox.twilio_emulator.state import Store

HANDSHAKE_TIMEOUT = 5.0
Issuer = Callable[[str, datetime], str]  # (name, not after) -> chain and key, PEM


class EdgeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, fallback: ssl.SSLContext,
                 workdir: Path, issuer: Issuer | None = None) -> None:
        self.store, self.fallback, self.workdir = store, fallback, workdir
        self.issuer = issuer
        self._contexts: dict[str, ssl.SSLContext] = {}  # by certificate SID
        self._lock = threading.Lock()
        fallback.sni_callback = self._pick
        super().__init__(address, _Handshake)

    def _pick(self, conn: ssl.SSLObject, server_name: str | None,
              _context: ssl.SSLContext) -> None:
        if not server_name:
            return
        with self.store.locked() as store:
            domain = next((d for d in store.domains.values()
                           if d.name == server_name.lower()), None)
            current = domain and store.domain(domain.sid) and domain.current
            if not current:
                return
            sid, tls_cert, name, not_after = (current.sid, current.tls_cert,
                                              domain.name if domain else "", current.not_after)
            managed = current.managed
        if tls_cert:
            conn.context = self._context(sid, lambda: tls_cert)
        elif managed and self.issuer is not None:
            issuer = self.issuer
            conn.context = self._context(sid, lambda: issuer(name, not_after))

    def _context(self, sid: str, bundle: Callable[[], str]) -> ssl.SSLContext:
        with self._lock:
            if sid not in self._contexts:
                tls_cert = bundle()
                # ssl loads chains only from files: a private one per certificate.
                with tempfile.NamedTemporaryFile("w", dir=self.workdir, suffix=".pem",
                                                 delete=False) as handle:
                    handle.write(tls_cert)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(handle.name)
                Path(handle.name).unlink()
                self._contexts[sid] = context
            return self._contexts[sid]


class _Handshake(socketserver.BaseRequestHandler):
    """Complete the handshake (the client reads the certificate), then close."""

    server: EdgeServer

    def handle(self) -> None:
        raw: socket.socket = self.request
        raw.settimeout(HANDSHAKE_TIMEOUT)
        try:
            with self.server.fallback.wrap_socket(raw, server_side=True) as conn:
                conn.recv(1)
        except (ssl.SSLError, OSError):
            return
