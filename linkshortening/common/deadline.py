"""A point in time a piece of work must end by, on the monotonic clock.

A run has one deadline (the Lambda's remaining time, `--deadline`); each step takes a child
that ends a margin earlier, so the run still has time to report and save what it did. Wall
clock changes (NTP, DST) never move a deadline.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h)?")
_UNITS = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from `600`, `90s`, `10m` or `1h`; ValueError naming the forms otherwise."""
    found = _DURATION.fullmatch(text.strip().lower())
    seconds = float(found.group(1)) * _UNITS[found.group(2)] if found else 0.0
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration: give seconds (600), or a number with "
                         "s, m or h (90s, 10m, 1h), more than zero")
    return seconds


@dataclass(frozen=True)
class Deadline:
    at: float  # on `clock`'s scale; math.inf: no deadline
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, clock: Clock = time.monotonic) -> Deadline:
        return cls(clock() + max(0.0, seconds), clock)

    @classmethod
    def never(cls, clock: Clock = time.monotonic) -> Deadline:
        return cls(math.inf, clock)

    def remaining(self) -> float:
        """Seconds left, never negative (math.inf without a deadline)."""
        return max(0.0, self.at - self.clock())

    @property
    def expired(self) -> bool:
        return self.clock() >= self.at

    @property
    def bounded(self) -> bool:
        return self.at != math.inf

    def child(self, margin: float = 0.0, within: float | None = None) -> Deadline:
        """A deadline `margin` seconds before this one, and at most `within` seconds away."""
        at = self.at - max(0.0, margin)
        if within is not None:
            at = min(at, self.clock() + max(0.0, within))
        return Deadline(at, self.clock)

    def allows(self, wait: float) -> bool:
        """True if waiting `wait` seconds still ends before the deadline."""
        return wait < self.remaining()
