"""The emulator's edge: what Twilio serves on 443 for a Link Shortening domain.

A TLS listener that picks, by SNI, the certificate currently validated for the named domain
(as Twilio's edge does once a certificate is current), so the drift checker can look at the
served certificate in the sandbox. A name with no current certificate gets the sandbox's own
listener certificate, which covers no domain: exactly what a client would notice.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path

from sandbox.twilio_emulator.state import Store

HANDSHAKE_TIMEOUT = 5.0


class EdgeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, fallback: ssl.SSLContext,
                 workdir: Path) -> None:
        self.store, self.fallback, self.workdir = store, fallback, workdir
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
            if not current or not current.tls_cert:
                return
            sid, tls_cert = current.sid, current.tls_cert
        conn.context = self._context(sid, tls_cert)

    def _context(self, sid: str, tls_cert: str) -> ssl.SSLContext:
        with self._lock:
            if sid not in self._contexts:
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
