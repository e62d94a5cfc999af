"""Start the emulator as a sandbox service: credentials, its settings file, argv, readiness.

Imported by the sandbox lifecycle, so it stays light: no cryptography, no dnspython.
"""

from __future__ import annotations

import json
import secrets
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from linkshortening.common.files import write_atomic

HEALTH_PATH = "/__emulator/health"


@dataclass(frozen=True)
class Credentials:
    """The sandbox account: an Account SID with its auth token, and one API key."""

    account_sid: str
    auth_token: str = field(repr=False)
    api_key_sid: str
    api_secret: str = field(repr=False)

    @classmethod
    def new(cls) -> Credentials:
        return cls("AC" + secrets.token_hex(16), secrets.token_hex(16),
                   "SK" + secrets.token_hex(16), secrets.token_urlsafe(24))


@dataclass(frozen=True)
class Settings:
    """Everything the emulator process needs; secrets only by file name."""

    port: int
    tls_cert: str
    tls_key: str
    account_sid: str
    auth_token_file: str
    api_key_sid: str
    api_secret_file: str
    dns: tuple[str, int]
    trust_root_files: list[str] = field(default_factory=list)
    domains: dict[str, str] = field(default_factory=dict)  # DomainSid -> domain name
    knobs: dict[str, object] = field(default_factory=dict)
    edge_port: int = 0  # the TLS "port 443" serving each domain's current certificate
    # The sandbox CA (certificate, key) that issues what the edge serves for Twilio-managed
    # certificates; empty: the edge serves its listener certificate for them.
    ca_cert: str = ""
    ca_key: str = ""

    def write(self, path: Path) -> Path:
        write_atomic(path, json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, path: Path) -> Settings:
        data = json.loads(path.read_text())
        data["dns"] = tuple(data["dns"])
        return cls(**data)


def base_url(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def argv(settings_file: Path) -> list[str]:
    return [sys.executable, "-m", "sandbox.twilio_emulator", "--settings", str(settings_file)]


def serves(port: int, ca: Path) -> bool:
    """True once the emulator answers over TLS, verified against the sandbox CA."""
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(base_url(port) + HEALTH_PATH, context=context,
                                    timeout=1) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False
