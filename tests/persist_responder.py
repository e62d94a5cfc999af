"""A local ACME responder that validates DNS-PERSIST-01 as draft-ietf-acme-dns-persist-02
says (Debian's Pebble 2.4 has no such challenge).

Why a second Pebble: Pebble cannot be told that an authorization is valid. This responder is
a TLS proxy in front of its own Pebble started with PEBBLE_VA_ALWAYS_VALID=1 (and no
authorization reuse), and it is the only validator: every authorization it hands out offers
exactly one challenge, `dns-persist-01` (at the URL of Pebble's first challenge, which the
client never sees as such). When the client answers it, the responder checks the client's
JWS (its key, recorded from newAccount and keyChange), asks the sandbox BIND for
`_validation-persist.<name>` TXT and looks for a value with one of its issuerDomainNames, an
accounturi equal to -02's hash over the name, one of the account's thumbprints (a CA keeps
every key an account used) and the account URL, policy=wildcard for a wildcard name, and no
past persistUntil. Only then is the client's own request passed to Pebble, which marks the
challenge valid; otherwise the authorization is invalid, as a CA would leave it. Orders,
finalization and certificates are Pebble's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import dns.rdata
from acme import jws
from josepy.b64 import b64encode
from josepy.jwk import JWK

from linkshortening.dns.query import ask
from sandbox import pebble, process
from sandbox.lifecycle import SandboxState
from tests.acme_proxy import TlsProxy

ISSUER = "pebble.lsctl.test"


@dataclass
class PersistResponder(TlsProxy):
    sandbox: SandboxState
    pebble_port: int
    issuers: tuple[str, ...] = (ISSUER,)
    keys: dict[str, list[JWK]] = field(default_factory=dict)  # account URL -> every key
    challenges: dict[str, tuple[str, bool, str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # authorization URL -> why
    validated: list[str] = field(default_factory=list)  # names validated by persist record

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._serve()

    @property
    def hash_prefix(self) -> str:
        return f"{self.base}/account-hash/"

    # --- the proxy ----------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path = request.path
        if request.command == "POST" and path in self.challenges:
            refusal = self._validate(path, body)
            if refusal is not None:
                self._refuse(request, path, refusal)
                return
        status, headers, answer = self.forward(self.pebble_port, request.command, path,
                                               request.headers, body)
        if path == "/dir":
            answer = self._directory(answer)
        elif path.startswith("/sign-me-up") and status in (200, 201):
            self._remember_key(dict(headers).get("Location", ""), body, inner=False)
        elif path.startswith("/rollover-account-key") and status == 200:
            self._remember_key(_protected(body).get("kid", ""), body, inner=True)
        elif path.startswith("/authZ/") and status == 200:
            answer = self._authorization(path, answer)
        elif path in self.challenges and status == 200:
            answer = json.dumps(self._challenge(json.loads(answer), path)).encode()
        self.reply(request, status, headers, answer)

    def _directory(self, answer: bytes) -> bytes:
        directory = json.loads(answer)
        meta = directory.setdefault("meta", {})
        meta["issuerDomainNames"] = list(self.issuers)  # -02 section 3: the directory lists
        meta["accountHashPrefix"] = self.hash_prefix  # both
        return json.dumps(directory).encode()

    def _remember_key(self, account: str, body: bytes, inner: bool) -> None:
        header = _protected(body)
        if inner:  # keyChange: the new key is the inner JWS's jwk
            header = _protected(base64.urlsafe_b64decode(_padded(json.loads(body)["payload"])))
        with self.lock:
            key = JWK.from_json(header["jwk"])
            assert isinstance(key, JWK)
            self.keys.setdefault(account, []).append(key)

    def _authorization(self, path: str, answer: bytes) -> bytes:
        authz = json.loads(answer)
        url = f"{self.base}{path}"
        # Pebble's first challenge carries ours (a wildcard's only one is dns-01): its URL is
        # the one the client answers at, and the only one it is shown.
        carrier = authz["challenges"][0]
        chal_path = carrier["url"].removeprefix(self.base)
        with self.lock:
            self.challenges[chal_path] = (authz["identifier"]["value"],
                                          bool(authz.get("wildcard")), url)
            why = self.failed.get(url)
        authz["challenges"] = [self._challenge(carrier, chal_path)]
        if why is not None:
            authz["status"] = "invalid"
        return json.dumps(authz).encode()

    def _challenge(self, chal: dict[str, Any], path: str) -> dict[str, Any]:
        """Pebble's challenge object, as -02 section 3 writes a dns-persist-01 one."""
        out = {"type": "dns-persist-01", "url": chal["url"], "status": chal["status"],
               "issuerDomainNames": list(self.issuers)}
        if "validated" in chal:
            out["validated"] = chal["validated"]
        why = self.failed.get(self.challenges[path][2])
        if why is not None:
            out["status"] = "invalid"
            out["error"] = {"type": "urn:ietf:params:acme:error:unauthorized", "detail": why}
        return out

    # --- the validation ------------------------------------------------------------------

    def _validate(self, path: str, body: bytes) -> str | None:
        """None when the persistent record authorizes the request's account; else why not."""
        name, wildcard, _ = self.challenges[path]
        signed = jws.JWS.json_loads(body)
        account = signed.signature.combined.kid
        keys = self.keys.get(account or "", [])
        if not keys or not signed.verify(keys[-1]):
            return "the request is not signed by the account's key"
        wanted = {self._hashed(name, key, account or "") for key in keys}
        record = f"_validation-persist.{name}"
        served = ask(self.sandbox.dns, record, "TXT").values
        for value in served:
            if self._accepts(_text(value), wanted, wildcard):
                with self.lock:
                    self.validated.append(name)
                return None
        return f"no valid dns-persist-01 record at {record} (found {list(served)})"

    def _hashed(self, name: str, key: JWK, account: str) -> str:
        """-02 section 4.1, written out here apart from lsctl's own code on purpose."""
        thumb = b64encode(key.thumbprint()).decode()
        material = bytes([len(name)]) + name.encode() + thumb.encode() + account.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(material).digest()).rstrip(b"=")
        return f"{self.hash_prefix}sha-256/{digest.decode()}"

    def _accepts(self, text: str, accounturis: set[str], wildcard: bool) -> bool:
        issuer, _, rest = text.partition(";")
        params = {}
        for part in rest.split(";"):
            tag, _, value = part.strip().partition("=")
            params[tag.strip().lower()] = value.strip()
        if issuer.strip() not in self.issuers or params.get("accounturi") not in accounturis:
            return False
        if wildcard and params.get("policy", "").lower() != "wildcard":
            return False
        until = params.get("persistuntil")
        return until is None or (until.isdigit() and int(until) > time.time())

    def _refuse(self, request: BaseHTTPRequestHandler, path: str, why: str) -> None:
        authz_url = self.challenges[path][2]
        with self.lock:
            self.failed[authz_url] = why
        nonce = self._nonce()
        chal = {"url": f"{self.base}{path}", "status": "invalid"}
        body = json.dumps(self._challenge(chal, path)).encode()
        self.reply(request, 200, [("Content-Type", "application/json"),
                                   ("Replay-Nonce", nonce),
                                   ("Link", f'<{authz_url}>;rel="up"')], body)

    def _nonce(self) -> str:
        """A fresh nonce of Pebble's: the refusal must carry one, as every ACME response."""
        _, headers, _ = self.forward(self.pebble_port, "HEAD", "/nonce-plz", {}, None)
        return dict(headers).get("Replay-Nonce", "")


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _protected(body: bytes) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(
        _padded(json.loads(body)["protected"])))
    return header


def _text(presentation: str) -> str:
    rdata = dns.rdata.from_text("IN", "TXT", presentation)
    return b"".join(rdata.strings).decode()  # type: ignore[attr-defined]


@contextmanager
def always_valid_pebble(sandbox: SandboxState, directory: Path) -> Iterator[tuple[int, str]]:
    """A second Pebble that accepts every challenge (the responder validates instead);
    yields its port and its issuing root (PEM), for the Twilio emulator to trust."""
    tls = sandbox.path / "tls"
    port, management = process.free_port(), process.free_port()
    config = pebble.write_config(directory, port, management, tls / "listener.pem",
                                 tls / "listener.key",
                                 (process.free_port(), process.free_port()))
    env = {**pebble.base_env(), "PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_AUTHZREUSE": "0"}
    _, started = process.start("pebble-always-valid", pebble.argv(config, sandbox.dns_port),
                               directory / "pebble.log", env=env, cwd=directory)
    try:
        process.wait_until(lambda: pebble.serves(port, sandbox.ca_bundle), 30.0,
                           "Pebble (always valid)", alive=lambda: process.is_running(started),
                           log=directory / "pebble.log")
        yield port, pebble.fetch_root(management, sandbox.ca_bundle)
    finally:
        process.stop(started)
