"""The accounts of the emulated Organization: who a request authenticates as, which account
owns each Messaging Service, and how many requests each account made.

What Twilio documents, and what is assumed here (see also the README, "Several Twilio accounts"):
- A Link Shortening domain belongs to the Organization and "can be used with multiple Messaging
  Services, as long as the Messaging Services all belong to an Account within your Twilio
  Organization" (onboarding guide): domain operations succeed as any account of the Organization.
- Twilio's REST API does not disclose other accounts' resources: a SID of another account is
  answered like a SID that does not exist, 404 with code 20404 ("The requested resource ... was
  not found"; error page 20404: "The SID in the request does not exist"). Messaging's own page
  21701 says the same for sending ("does not exist or does not match the Account SID in the API
  Request"). ASSUMED: the Link Shortening paths about a Messaging Service
  (`.../MessagingServices/{MG}`, `.../MessagingService/{MG}/DomainConfig`) answer 404/20404 when
  the service belongs to another account; Twilio publishes no error responses for them.
- A Messaging Service no account claims (the single-account sandbox seeds none) is usable by
  every account, as before accounts existed.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Accounts:
    """Credentials (username -> (secret, Account SID)), service owners, request counts."""

    logins: dict[str, tuple[str, str]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # Messaging Service SID -> Account SID
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, account_sid: str, secrets: dict[str, str],
            services: list[str] | tuple[str, ...] = ()) -> None:
        """Account `account_sid` logs in with each username -> secret (its own SID with the
        auth token, API key SIDs with their secrets) and owns `services`."""
        with self._lock:
            for username, secret in secrets.items():
                self.logins[username] = (secret, account_sid)
            for service in services:
                self.owners[service] = account_sid

    def login(self, username: str) -> tuple[str, str] | None:
        """(expected secret, Account SID) for a username, or None."""
        with self._lock:
            return self.logins.get(username)

    def visible(self, service: str, account_sid: str) -> bool:
        """Does `account_sid` see Messaging Service `service`? (Unclaimed ones: everyone.)"""
        with self._lock:
            owner = self.owners.get(service)
        return owner is None or owner == account_sid

    def count(self, account_sid: str, operation: str) -> None:
        with self._lock:
            self.counts.setdefault(account_sid, Counter())[operation] += 1

    def report(self) -> dict[str, object]:
        """For the control endpoint: account SIDs, service owners and counts (no secrets)."""
        with self._lock:
            return {"accounts": sorted({sid for _, sid in self.logins.values()}),
                    "messaging_services": dict(self.owners),
                    "requests": {sid: dict(c) for sid, c in self.counts.items()}}
