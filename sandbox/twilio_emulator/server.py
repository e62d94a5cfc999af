"""HTTP for the emulator: TLS, Basic auth, injected faults, routing, and the control endpoint."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import socket
import ssl
import traceback
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs

from cryptography import x509

from sandbox.twilio_emulator.api import Context, Reply, dispatch, operation
from sandbox.twilio_emulator.errors import AUTHENTICATION, ApiError
from sandbox.twilio_emulator.knobs import FaultInjector

CONTROL = "/__emulator/"
PROBLEM_JSON = "application/problem+json"  # RFC 9457
HEALTH = CONTROL + "health"
HANDSHAKE_TIMEOUT = 10.0
log = logging.getLogger("twilio-emulator")


class App:
    """Turns one HTTP request into one Reply; never raises."""

    def __init__(self, ctx: Context, faults: FaultInjector) -> None:
        self.ctx = ctx  # ctx.accounts: who may log in, as which account
        self.faults = faults

    def handle(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        path = target.partition("?")[0]
        if path == HEALTH:
            return Reply(200, {"ok": True})  # readiness polling; tells nothing about the account
        try:
            account = self._authenticate(headers.get("Authorization"))
            if path.startswith(CONTROL):
                return self._control(method, path, body)
            self.ctx.accounts.count(account, operation(method, path))
            fault = self.faults.fault()
            if fault is not None:
                raise fault
            return dispatch(self.ctx, method, path, _form(headers, body), account)
        except ApiError as exc:
            return self._error(exc)
        except Exception:  # a bug here must still answer like Twilio, and be in the log
            log.error("internal error on %s %s\n%s", method, path, traceback.format_exc())
            return self._error(ApiError(500, 20500, "Internal Server Error"))

    def _error(self, exc: ApiError) -> Reply:
        with self.faults.lock:
            problem = self.ctx.knobs.problem_details
        if problem:
            return Reply(exc.status, exc.body(problem=True), exc.headers, PROBLEM_JSON)
        return Reply(exc.status, exc.body(), exc.headers)

    def _authenticate(self, header: str | None) -> str:
        """The Account SID the request's Basic credentials log in as, or Twilio's 401."""
        scheme, _, encoded = (header or "").partition(" ")
        try:
            username, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username, secret = "", ""
        login = self.ctx.accounts.login(username)
        if scheme.lower() != "basic" or login is None or \
                not hmac.compare_digest(secret.encode(), login[0].encode()):
            raise ApiError(401, AUTHENTICATION, "Authenticate",
                           (("WWW-Authenticate", 'Basic realm="Twilio API"'),))
        return login[1]

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        """GET/POST /__emulator/config: knobs, seeded domains, extra trusted roots."""
        if path != CONTROL + "config" or method not in ("GET", "POST"):
            return Reply(404, {"error": f"no control endpoint {method} {path}"})
        if method == "POST":
            try:
                self._configure(json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                return Reply(400, {"error": str(exc)})
        return Reply(200, self._config())

    def _configure(self, changes: dict[str, object]) -> None:
        if not isinstance(changes, dict):
            raise ValueError("the control body is a JSON object")
        domains = changes.pop("domains", {})
        certificates = changes.pop("certificates", {})
        roots = changes.pop("trust_roots", [])
        self._add_accounts(changes.pop("accounts", {}))
        if not isinstance(domains, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in domains.items()):
            raise ValueError("domains maps DomainSid to domain name")
        if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
            raise ValueError("trust_roots is a list of PEM certificates")
        if not isinstance(certificates, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in certificates.items()):
            raise ValueError("certificates maps DomainSid to an ISO 8601 expiry")
        expiries = {sid: datetime.fromisoformat(v) for sid, v in certificates.items()}
        parsed = [x509.load_pem_x509_certificate(pem.encode()) for pem in roots]
        with self.faults.lock:
            self.ctx.knobs.update(changes)
        self.ctx.store.seed(domains)
        self.ctx.store.seed_certificates(expiries)
        with self.ctx.store.locked():
            self.ctx.roots.extend(c for c in parsed if c not in self.ctx.roots)

    def _add_accounts(self, accounts: object) -> None:
        """`accounts`: Account SID -> {auth_token, api_keys: {SK: secret}, messaging_services}."""
        if not isinstance(accounts, dict):
            raise ValueError("accounts maps Account SID to {auth_token, api_keys, "
                             "messaging_services}")
        for sid, spec in accounts.items():
            if not isinstance(spec, dict):
                raise ValueError(f"accounts.{sid} is an object")
            logins = dict(spec.get("api_keys") or {})
            if spec.get("auth_token"):
                logins[sid] = spec["auth_token"]
            services = spec.get("messaging_services") or []
            if not all(isinstance(v, str) for v in (*logins, *logins.values(), *services)):
                raise ValueError(f"accounts.{sid}: credentials and services are strings")
            self.ctx.accounts.add(sid, logins, services)

    def _config(self) -> dict[str, object]:
        with self.ctx.store.locked() as store:
            domains = {sid: d.name for sid, d in store.domains.items()}
            roots = len(self.ctx.roots)
        with self.faults.lock:
            knobs = self.ctx.knobs.as_dict()
        return {**knobs, "domains": domains, "trusted_roots": roots,
                **self.ctx.accounts.report()}


def _form(headers: Message, body: bytes) -> dict[str, str]:
    if headers.get_content_type() != "application/x-www-form-urlencoded" or not body:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: pollers reuse their connections
    server_version = "lsctl-twilio-emulator"
    timeout = 60  # an idle keep-alive connection frees its thread after this

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:  # no Link Shortening operation: Twilio's 405, not http.server's 501
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = cast(EmulatorServer, self.server).app.handle(method, self.path, self.headers,
                                                              body)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.body is None:
            self.end_headers()
            return
        payload = json.dumps(reply.body).encode()
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTPS server; the TLS handshake runs on the connection's own thread."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, app: App) -> None:
        self.context, self.app = context, app
        super().__init__(address, Handler)

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket],
                       client_address: Any) -> None:
        raw = cast(socket.socket, request)
        raw.settimeout(HANDSHAKE_TIMEOUT)
        # Headers and body leave in separate writes; without this, Nagle's algorithm holds the
        # body back for the client's delayed ACK (~40 ms a request).
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that gave up or spoke plain HTTP
        try:
            Handler(conn, client_address, self)
        except (ssl.SSLError, ConnectionError, TimeoutError):
            pass
        finally:
            conn.close()


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
