"""moto's server with each request handled whole before the next one starts.

AWS makes conditional requests atomic: of two S3 PutObject calls with If-None-Match: * on one
key, or two Secrets Manager CreateSecret calls with one name, exactly one succeeds. moto
(5.2.5, the newest release) checks the condition and then writes in separate steps on
werkzeug's request threads, so two requests can both pass the check: measured here, 1 of 200
rounds of 8 concurrent PutObject If-None-Match: * both succeeded. Serialising requests gives
moto the atomicity the real services document; moto keeps its state in memory, so this costs
about nothing (the GIL serialises its work already).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import moto.server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication


class AtomicDispatcher(DomainDispatcherApplication):
    _one_at_a_time = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._one_at_a_time:
            # moto's responses are built in full by the call (no streaming bodies).
            return super().__call__(environ, start_response)


def main(argv: list[str]) -> None:
    # What moto.server.main builds its application from.
    moto.server.DomainDispatcherApplication = AtomicDispatcher  # type: ignore[attr-defined]
    moto.server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
