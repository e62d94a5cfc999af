"""A small TLS proxy in front of Pebble adding ARI (RFC 9773) and profiles (Debian's Pebble has
neither).

It adds `renewalInfo` and a `shortlived` profile to the directory, answers renewalInfo
requests with a configured window and Retry-After, records the payloads of newOrder requests,
refuses them as Let's Encrypt does when over a limit (`rate_limited`: a 429 rateLimited problem
with Retry-After, RFC 8555 section 6.6), and forwards everything else to Pebble unchanged
(Host kept, so Pebble's URLs and JWS url checks point at the proxy).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from sandbox.lifecycle import SandboxState
from tests.acme_proxy import TlsProxy


@dataclass
class AriResponder(TlsProxy):
    sandbox: SandboxState
    window: tuple[dt.datetime, dt.datetime]
    retry_after: int = 21600
    orders: list[dict[str, Any]] = field(default_factory=list)
    queried: list[str] = field(default_factory=list)
    rate_limited: int | None = None  # seconds of Retry-After on every newOrder; None: forward

    def __post_init__(self) -> None:
        self._serve()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.startswith("/renewal-info/"):
            self.queried.append(request.path.rsplit("/", 1)[1])
            start, end = self.window
            body = json.dumps({"suggestedWindow": {
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}}).encode()
            self.reply(request, 200, [("Content-Type", "application/json"),
                                      ("Retry-After", str(self.retry_after))], body)
            return
        length = int(request.headers.get("Content-Length") or 0)
        payload = request.rfile.read(length) if length else None
        if payload and request.path.startswith("/order-plz"):
            jws = json.loads(payload)
            inner = jws["payload"] + "=" * (-len(jws["payload"]) % 4)
            self.orders.append(json.loads(base64.urlsafe_b64decode(inner)))
            if self.rate_limited is not None:
                self._refuse(request, self.rate_limited)
                return
        status, headers, body = self.forward(self.sandbox.acme_port, request.command,
                                             request.path, request.headers, payload)
        if request.path == "/dir":
            directory = json.loads(body)
            directory["renewalInfo"] = f"https://127.0.0.1:{self.port}/renewal-info"
            directory.setdefault("meta", {})["profiles"] = {
                "shortlived": "a profile only this responder offers"}
            body = json.dumps(directory).encode()
        self.reply(request, status, headers, body)

    def _refuse(self, request: BaseHTTPRequestHandler, retry_after: int) -> None:
        """Let's Encrypt's answer to an order over a limit, with a fresh nonce from Pebble
        (every ACME POST response carries one)."""
        _, nonce_headers, _ = self.forward(self.sandbox.acme_port, "HEAD", "/nonce-plz", {},
                                           None)
        nonce = next((v for k, v in nonce_headers if k.lower() == "replay-nonce"), "")
        until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry_after)
        body = json.dumps({
            "type": "urn:ietf:params:acme:error:rateLimited", "status": 429,
            "detail": f"too many new orders (300) from this account in the last 3h0m0s, "
                      f"retry after {until:%Y-%m-%d %H:%M:%S} UTC"}).encode()
        self.reply(request, 429, [("Content-Type", "application/problem+json"),
                                  ("Retry-After", str(retry_after)), ("Replay-Nonce", nonce)],
                   body)
