"""A CA that hangs: a TLS proxy in front of Pebble that accepts the requests whose path starts
with `hang_on` and never answers them (as Pebble 2.4 does when its authorization locks
deadlock under parallel orders), forwarding everything else unchanged."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from sandbox.lifecycle import SandboxState
from tests.acme_proxy import TlsProxy


@dataclass
class HungCa(TlsProxy):
    sandbox: SandboxState
    hang_on: str | None = None  # a path prefix, e.g. "/finalize-order/"; None: forward all
    hung: list[str] = field(default_factory=list)  # the paths left unanswered
    _release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._serve()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        payload = request.rfile.read(length) if length else None
        if self.hang_on is not None and request.path.startswith(self.hang_on):
            self.hung.append(request.path)
            self._release.wait()  # accepted, never answered: the client's timeout decides
            return
        self.reply(request, *self.forward(self.sandbox.acme_port, request.command,
                                          request.path, request.headers, payload))

    def __exit__(self, *_: object) -> None:
        self._release.set()  # the hung handlers end with the test
        super().__exit__()
