"""A small TLS proxy in front of Pebble adding ARI (RFC 9773) and profiles (Debian's Pebble has
neither), and short authorization lifetimes (issue 17: Let's Encrypt's one-hour pending
authorizations, which Pebble cannot be told to use).

It adds `renewalInfo` and a `shortlived` profile to the directory, answers renewalInfo
requests with a configured window and Retry-After, records the payloads of newOrder requests,
refuses them as Let's Encrypt does when over a limit (`rate_limited`: a 429 rateLimited problem
with Retry-After, RFC 8555 section 6.6), and forwards everything else to Pebble unchanged
(Host kept, so Pebble's URLs and JWS url checks point at the proxy). With `authz_lifetime` every
authorization `expires` that many seconds after the proxy first shows it, as RFC 8555 says:
after that a poll says `expired` and answering its challenge gets 400 `malformed`, as Boulder
answers. `expire_on_poll` authorizations are reported `expired` on the first poll after their
challenge was answered (the authorization ran out while the CA validated).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

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
    authz_lifetime: float | None = None  # seconds; None: Pebble's own expiry, unchanged
    expire_on_poll: int = 0  # this many authorizations "expire" right after being answered
    expired: list[str] = field(default_factory=list)  # identifiers reported expired
    refused_answers: list[str] = field(default_factory=list)  # challenges answered too late
    _first_seen: dict[str, dt.datetime] = field(default_factory=dict)
    _challenge_of: dict[str, str] = field(default_factory=dict)  # challenge URL -> authz path
    _answered: set[str] = field(default_factory=set)  # authz paths whose challenge was answered

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
        order = _inner(payload) if payload and request.path.startswith("/order-plz") else None
        if order is not None and self.rate_limited is not None:
            self.orders.append(order)  # sent, and refused as over the limit
            self._refuse(request, self.rate_limited)
            return
        if payload and request.path.startswith("/chalZ/") and _inner(payload) == {}:
            authz = self._challenge_of.get(request.path)
            if authz is not None and self._lapsed(authz):
                self.refused_answers.append(request.path)
                problem = json.dumps({"type": "urn:ietf:params:acme:error:malformed",
                                      "detail": "Authorization expired", "status": 400})
                self.reply(request, 400, [("Content-Type", "application/problem+json"),
                                          ("Replay-Nonce", self._nonce())], problem.encode())
                return
            if authz is not None:
                self._answered.add(authz)
        status, headers, body = self.forward(self.sandbox.acme_port, request.command,
                                             request.path, request.headers, payload)
        if order is not None and status == 201:  # not a badNonce Pebble refused
            self.orders.append(order)
        if request.path.startswith("/authZ/") and status == 200:
            body = self._authorization(request.path, json.loads(body))
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
        nonce = self._nonce()
        until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry_after)
        body = json.dumps({
            "type": "urn:ietf:params:acme:error:rateLimited", "status": 429,
            "detail": f"too many new orders (300) from this account in the last 3h0m0s, "
                      f"retry after {until:%Y-%m-%d %H:%M:%S} UTC"}).encode()
        self.reply(request, 429, [("Content-Type", "application/problem+json"),
                                  ("Retry-After", str(retry_after)), ("Replay-Nonce", nonce)],
                   body)

    def _lapsed(self, authz: str) -> bool:
        if self.authz_lifetime is None or authz not in self._first_seen:
            return False
        age = dt.datetime.now(dt.UTC) - self._first_seen[authz]
        return age.total_seconds() >= self.authz_lifetime

    def _authorization(self, path: str, authz: dict[str, Any]) -> bytes:
        """Pebble's authorization as the configured lifetime makes it."""
        first = self._first_seen.setdefault(path, dt.datetime.now(dt.UTC))
        for challenge in authz.get("challenges", []):
            self._challenge_of[urlsplit(challenge["url"]).path] = path
        name = authz["identifier"]["value"]
        if self.authz_lifetime is not None:
            expires = first + dt.timedelta(seconds=self.authz_lifetime)
            authz["expires"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
            if self._lapsed(path) and authz["status"] == "pending":
                authz["status"] = "expired"
                self.expired.append(name)
        if self.expire_on_poll and path in self._answered:
            self.expire_on_poll -= 1
            self._answered.discard(path)
            authz["status"] = "expired"
            self.expired.append(name)
        return json.dumps(authz).encode()

    def _nonce(self) -> str:
        """A fresh nonce from Pebble, for an answer the proxy gives itself (every ACME POST
        response carries one)."""
        _, headers, _ = self.forward(self.sandbox.acme_port, "HEAD", "/nonce-plz", {}, None)
        return next((v for k, v in headers if k.lower() == "replay-nonce"), "")


def _inner(payload: bytes) -> Any:
    """The JWS payload of a request body; None for POST-as-GET (an empty payload)."""
    jws = json.loads(payload)
    if not jws["payload"]:
        return None
    inner = jws["payload"] + "=" * (-len(jws["payload"]) % 4)
    return json.loads(base64.urlsafe_b64decode(inner))
