"""Pebble, Let's Encrypt's test ACME server, for the sandbox (Debian's `pebble`)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from linkshortening.common.files import write_atomic


def write_config(directory: Path, port: int, management_port: int, cert: Path, key: Path,
                 validation_ports: tuple[int, int],
                 eab_keys: Mapping[str, str] | None = None) -> Path:
    """Pebble's JSON config; `eab_keys` (kid -> base64url HMAC key) makes EAB required."""
    http_port, tls_port = validation_ports
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{management_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            # Only DNS-01 is used; these are where Pebble would look for HTTP-01/TLS-ALPN-01.
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab_keys),
            **({"externalAccountMACKeys": dict(eab_keys)} if eab_keys else {}),
        }
    }
    path = directory / "pebble-config.json"
    write_atomic(path, json.dumps(config, indent=2), mode=0o644)
    return path


def argv(config: Path, dns_port: int) -> list[str]:
    # Pebble resolves challenge names through the sandbox BIND, not the host's resolver.
    return ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"]


def base_env() -> dict[str, str]:
    # NOSLEEP: Pebble otherwise waits a random 0-15 s before each validation.
    return {"PEBBLE_VA_NOSLEEP": "1"}


def _context(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def directory_url(port: int) -> str:
    return f"https://127.0.0.1:{port}/dir"


def serves(port: int, ca: Path) -> bool:
    """True once the ACME directory answers over TLS, verified against the sandbox CA."""
    try:
        with urllib.request.urlopen(directory_url(port), context=_context(ca), timeout=1) as resp:
            return resp.status == 200 and "newOrder" in json.load(resp)
    except (OSError, ValueError, urllib.error.URLError):
        return False


def fetch_root(management_port: int, ca: Path) -> str:
    """The PEM of Pebble's current issuing root (new at every Pebble start)."""
    url = f"https://127.0.0.1:{management_port}/roots/0"
    with urllib.request.urlopen(url, context=_context(ca), timeout=5) as resp:
        text: str = resp.read().decode()
        return text
