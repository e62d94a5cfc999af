"""Retries with exponential backoff and jitter, honouring a server's Retry-After."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
_JITTER = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries in all, the first included
    base_delay: float = 0.5  # seconds; doubles with each retry
    max_delay: float = 30.0
    max_retry_after: float = 300.0  # a longer Retry-After is not waited for: the call fails

    def delay(self, retry: int, retry_after: float | None,
              rng: random.Random | None = None) -> float | None:
        """Seconds before retry number `retry` (1-based), or None to give up."""
        if retry >= self.attempts:
            return None
        if retry_after is not None:
            # The server said when; waiting less would only earn another 429.
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        # "Equal jitter": at least half the backoff, so a herd of pollers spreads out but
        # none retries immediately.
        return ceiling / 2 + (rng or _JITTER).uniform(0, ceiling / 2)


def call_with_retries(call: Callable[[], T], delay_for: Callable[[Exception, int], float | None],
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, again after `delay_for(exc, retry)` seconds while that is not None."""
    retry = 0
    while True:
        try:
            return call()
        except Exception as exc:
            retry += 1
            delay = delay_for(exc, retry)
            if delay is None:
                raise
            sleep(delay)
