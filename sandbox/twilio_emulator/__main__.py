"""`python -m sandbox.twilio_emulator --settings FILE`: run the emulator until terminated."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from datetime import datetime
from pathlib import Path

from cryptography import x509

from sandbox.tls import issue
from sandbox.twilio_emulator.api import Context
from sandbox.twilio_emulator.edge import EdgeServer
from sandbox.twilio_emulator.knobs import FaultInjector, Knobs
from sandbox.twilio_emulator.launch import Settings, base_url
from sandbox.twilio_emulator.server import App, EmulatorServer, tls_context
from sandbox.twilio_emulator.state import Store


def build(settings: Settings) -> tuple[EmulatorServer, EdgeServer | None]:
    knobs = Knobs()
    knobs.update(settings.knobs)
    roots = [cert for name in settings.trust_root_files
             for cert in x509.load_pem_x509_certificates(Path(name).read_bytes())]
    store = Store()
    store.seed(settings.domains)
    ctx = Context(store, knobs, settings.dns, base_url(settings.port), roots)
    ctx.accounts.add(settings.account_sid, {
        settings.account_sid: Path(settings.auth_token_file).read_text().strip(),
        settings.api_key_sid: Path(settings.api_secret_file).read_text().strip(),
    })
    app = App(ctx, FaultInjector(knobs))
    api = EmulatorServer(("127.0.0.1", settings.port),
                         tls_context(settings.tls_cert, settings.tls_key), app)
    edge = None
    if settings.edge_port:
        issuer = None
        if settings.ca_cert and settings.ca_key:
            ca_cert, ca_key = Path(settings.ca_cert), Path(settings.ca_key)

            def issuer(name: str, not_after: datetime) -> str:
                return issue(ca_cert, ca_key, name, not_after)

        edge = EdgeServer(("127.0.0.1", settings.edge_port),
                          store, tls_context(settings.tls_cert, settings.tls_key),
                          Path(settings.auth_token_file).parent, issuer)
    return api, edge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.twilio_emulator",
                                     description="Twilio Link Shortening API emulator")
    parser.add_argument("--settings", type=Path, required=True,
                        help="JSON settings written by the sandbox (secrets by file name)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server, edge = build(Settings.read(args.settings))
    if edge is not None:
        threading.Thread(target=edge.serve_forever, daemon=True).start()
    print(f"Twilio Link Shortening emulator on {base_url(server.server_address[1])}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
