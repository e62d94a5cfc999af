"""A small client for the emulator's control endpoint: tests turn knobs and seed domains."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONFIG_PATH = "/__emulator/config"


class EmulatorControl:
    """GET/POST /__emulator/config with the sandbox account's Basic auth."""

    def __init__(self, base_url: str, ca_bundle: Path, username: str, secret_file: Path) -> None:
        self.base_url = base_url
        self._context = ssl.create_default_context(cafile=str(ca_bundle))
        self._username, self._secret_file = username, secret_file

    def __repr__(self) -> str:
        return f"EmulatorControl({self.base_url!r}, user={self._username!r})"

    def config(self) -> dict[str, Any]:
        return self._call("GET", None)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Set knobs (rate_limited, unavailable, retry_later, retry_after, validation_delay,
        fail_validation, script, no_certificate, problem_details, validation_status,
        domain_errors), add `domains` (DomainSid -> name) and `trust_roots` (PEMs)."""
        return self._call("POST", changes)

    def seed(self, domains: Mapping[str, str]) -> None:
        self.configure(domains=dict(domains))

    def add_account(self, account_sid: str, *, auth_token: str | None = None,
                    api_keys: Mapping[str, str] | None = None,
                    messaging_services: tuple[str, ...] | list[str] = ()) -> None:
        """One more account of the Organization, its logins and the Messaging Services it owns
        (sandbox.twilio_emulator.accounts)."""
        self.configure(accounts={account_sid: {
            "auth_token": auth_token, "api_keys": dict(api_keys or {}),
            "messaging_services": list(messaging_services)}})

    def requests(self) -> dict[str, dict[str, int]]:
        """Account SID -> operation name -> requests made as that account so far."""
        counts: dict[str, dict[str, int]] = self.config()["requests"]
        return counts

    def seed_certificates(self, expiries: Mapping[str, dt.datetime]) -> None:
        """A live certificate (no PEM) expiring then for each seeded DomainSid."""
        self.configure(certificates={sid: t.isoformat() for sid, t in expiries.items()})

    def _call(self, method: str, body: dict[str, Any] | None) -> dict[str, Any]:
        secret = self._secret_file.read_text().strip()
        token = base64.b64encode(f"{self._username}:{secret}".encode()).decode()
        request = urllib.request.Request(
            self.base_url + CONFIG_PATH, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self._context, timeout=10) as resp:
            result: dict[str, Any] = json.load(resp)
            return result
