"""How a long wait reports that it is alive: what is done of what, and for how long."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class WaitProgress:
    """One look at a wait: `done` of `total` `unit` finished, `elapsed` of `timeout` seconds."""

    done: int
    total: int
    unit: str  # e.g. "challenge records", "certificates"
    elapsed: float
    timeout: float


OnWait = Callable[[WaitProgress], None]
