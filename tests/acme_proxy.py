"""The TLS proxy the local ACME responders share (tests/ari_responder.py,
tests/persist_responder.py): a threaded HTTPS server with the sandbox's listener certificate
that hands each request to `handle`, and forwarding to a Pebble with the Host kept, so
Pebble's URLs and its JWS `url` check name the proxy."""

from __future__ import annotations

import http.client
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from sandbox.lifecycle import SandboxState

HOP_HEADERS = {"connection", "transfer-encoding", "keep-alive", "content-length"}
Headers = list[tuple[str, str]]  # a list: Pebble sends several Link headers (index, up)


class TlsProxy:
    """Subclasses set `sandbox` and implement `handle`; call `_serve()` once built."""

    sandbox: SandboxState

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.handle(self)

            do_POST = do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls = self.sandbox.path / "tls"
        context.load_cert_chain(tls / "listener.pem", tls / "listener.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def directory_url(self) -> str:
        return f"{self.base}/dir"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forward(self, port: int, method: str, path: str, headers: Any,
                body: bytes | None) -> tuple[int, Headers, bytes]:
        """The request as Pebble on `port` answers it (hop-by-hop headers left out)."""
        upstream = http.client.HTTPSConnection(
            "127.0.0.1", port,
            context=ssl.create_default_context(cafile=str(self.sandbox.ca_bundle)))
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
        upstream.request(method, path, body=body or None, headers=sent)
        response = upstream.getresponse()
        answer = response.read()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_HEADERS]
        upstream.close()
        return response.status, kept, answer

    @staticmethod
    def reply(request: BaseHTTPRequestHandler, status: int, headers: Headers,
              body: bytes) -> None:
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)
