"""The one error type of the Twilio client: Twilio's code, the HTTP status, message, more_info."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from linkshortening.twilio.codes import in_category, lookup

RETRY_LATER = 30133  # "could not be uploaded ... try again in a few minutes"


class TwilioSetupError(Exception):
    """The client cannot be set up: missing or malformed credentials or settings."""


class TwilioApiError(Exception):
    """Twilio answered with an error, or could not be reached (status None)."""

    def __init__(self, status: int | None, code: int | None, message: str, *,
                 more_info: str | None = None, method: str = "", uri: str = "",
                 retry_after: float | None = None) -> None:
        self.status, self.code, self.message = status, code, message
        self.more_info, self.method, self.uri = more_info, method, uri
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        what = f"Twilio error {self.code}" if self.code else "Twilio request failed"
        status = f" (HTTP {self.status})" if self.status else ""
        where = f" on {self.method} {self.uri}" if self.uri else ""
        more = f"; see {self.more_info}" if self.more_info else ""
        known = lookup(self.code)
        fix = f". Fix: {known.fix}" if known and known.category != "retryable" else ""
        return f"{what}{status}{where}: {self.message}{more}{fix}"

    @property
    def retryable(self) -> bool:
        """Worth another try: rate limited, Twilio-side trouble, 30133, or unreachable. A code
        in the table is retryable only if the table says so, whatever the HTTP status."""
        if lookup(self.code) is not None:
            return in_category(self.code, "retryable")
        if self.status is None:
            return True
        return self.status == 429 or self.status >= 500

    @property
    def retry_later(self) -> bool:
        """Twilio's 30133: worth trying again in minutes, not seconds."""
        return self.code == RETRY_LATER

    @property
    def no_certificate(self) -> bool:
        """The domain has no certificate: HTTP 404, or 400 with 30120 (or 30107), alike."""
        return self.status == 404 or in_category(self.code, "no-certificate")

    def given_up(self, tries: int, seconds: float) -> TwilioApiError:
        """This error, saying how long it was tried before the deadline ended it."""
        return TwilioApiError(self.status, self.code,
                              f"{self.message} (tried {tries + 1} times over {seconds:.0f}s "
                              "until the run's deadline)", more_info=self.more_info,
                              method=self.method, uri=self.uri, retry_after=self.retry_after)

    @classmethod
    def from_response(cls, status: int, text: str, headers: Any, method: str,
                      uri: str) -> TwilioApiError:
        """From Twilio's error body in either shape: the classic one (`code`, `message`,
        `more_info`, `status`) or RFC 9457 problem details (`type`, `title`, `status`, `code`,
        `detail`, `instance`)."""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        code = body.get("code")
        message = (body.get("message") or body.get("detail") or body.get("title")
                   or f"HTTP {status} without a body")
        more_info = next((v for v in (body.get("more_info"), body.get("type"))
                          if isinstance(v, str) and v.startswith("http")), None)
        return cls(status, code if isinstance(code, int) else None, str(message),
                   more_info=more_info, method=method, uri=uri,
                   retry_after=parse_retry_after((headers or {}).get("Retry-After")))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
