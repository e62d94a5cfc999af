"""A small TLS proxy in front of Pebble adding ARI (RFC 9773) and profiles (Debian's Pebble has
neither).

It adds `renewalInfo` and a `shortlived` profile to the directory, answers renewalInfo
requests with a configured window and Retry-After, records the payloads of newOrder requests,
and forwards everything else to Pebble unchanged (Host kept, so Pebble's URLs and JWS url
checks point at the proxy).
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
        status, headers, body = self.forward(self.sandbox.acme_port, request.command,
                                             request.path, request.headers, payload)
        if request.path == "/dir":
            directory = json.loads(body)
            directory["renewalInfo"] = f"https://127.0.0.1:{self.port}/renewal-info"
            directory.setdefault("meta", {})["profiles"] = {
                "shortlived": "a profile only this responder offers"}
            body = json.dumps(directory).encode()
        self.reply(request, status, headers, body)
