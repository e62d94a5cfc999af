"""The one error type of the Twilio client: Twilio's code, the HTTP status, message, more_info."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# Certificate and key problems Twilio reports on upload: retrying cannot fix them.
VALIDATION_CODES = range(30116, 30133)
RETRY_LATER = 30133  # "please retry in a few minutes"


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
        return f"{what}{status}{where}: {self.message}{more}"

    @property
    def retryable(self) -> bool:
        """Worth another try: rate limited, Twilio-side trouble, 30133, or unreachable."""
        if self.code in VALIDATION_CODES:
            return False
        if self.code == RETRY_LATER or self.status is None:
            return True
        return self.status == 429 or self.status >= 500

    @classmethod
    def from_response(cls, status: int, text: str, headers: Any, method: str,
                      uri: str) -> TwilioApiError:
        """From Twilio's error body (`code`, `message`, `more_info`, `status`)."""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        code = body.get("code")
        message = body.get("message") or body.get("detail") or f"HTTP {status} without a body"
        return cls(status, code if isinstance(code, int) else None, str(message),
                   more_info=body.get("more_info") if isinstance(body.get("more_info"), str)
                   else None, method=method, uri=uri,
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
