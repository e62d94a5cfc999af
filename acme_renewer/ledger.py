"""What the CA's limits count, as lsctl saw it: this account's orders of the last week, its
failed authorizations per name, and a rateLimited pause. Kept in the state store per CA
directory (RenewerState.ledger), so the next run plans with what this one spent."""

from __future__ import annotations

import datetime as dt
import json
import math
import zlib
from dataclasses import dataclass, field

from acme_renewer.limits import CERTIFICATES_WINDOW, FAILURES_WINDOW, PAUSE_REFILL


@dataclass(frozen=True)
class OrderEntry:
    """A new order that counts against the limits (ARI-exempt renewals are not kept)."""

    at: dt.datetime
    names: tuple[str, ...]


@dataclass
class NameFailures:
    """One name's failed authorizations: the recent ones (the hourly limit) and the run of
    consecutive ones (the CA's pause), as the CA's allowance spent (it refills 1 a day)."""

    recent: list[dt.datetime] = field(default_factory=list)
    consecutive: int = 0
    spent: float = 0.0  # of the consecutive-failure allowance, as of `last`
    last: dt.datetime | None = None

    def spent_at(self, now: dt.datetime) -> float:
        if self.last is None:
            return 0.0
        return max(0.0, self.spent - (now - self.last) / PAUSE_REFILL)


@dataclass
class Ledger:
    orders: list[OrderEntry] = field(default_factory=list)
    failures: dict[str, NameFailures] = field(default_factory=dict)
    paused_until: dt.datetime | None = None  # a rateLimited Retry-After: the whole account

    def record_order(self, names: tuple[str, ...], at: dt.datetime) -> None:
        self.orders.append(OrderEntry(at, tuple(names)))

    def record_failure(self, name: str, at: dt.datetime) -> None:
        entry = self.failures.setdefault(name, NameFailures())
        entry.spent = entry.spent_at(at) + 1
        entry.recent.append(at)
        entry.consecutive += 1
        entry.last = at

    def record_success(self, name: str) -> None:
        """A valid authorization ends the run of failures (not the hour's count)."""
        entry = self.failures.get(name)
        if entry is not None:
            entry.consecutive, entry.spent = 0, 0.0

    def pause(self, until: dt.datetime) -> None:
        self.paused_until = max(until, self.paused_until or until)

    def prune(self, now: dt.datetime) -> None:
        """Drop what no limit counts any more, so the ledger stays small."""
        self.orders = [o for o in self.orders if o.at > now - CERTIFICATES_WINDOW]
        for name, entry in list(self.failures.items()):
            entry.recent = [t for t in entry.recent if t > now - FAILURES_WINDOW]
            if not entry.recent and entry.spent_at(now) == 0 and entry.consecutive == 0:
                del self.failures[name]
        if self.paused_until is not None and self.paused_until <= now:
            self.paused_until = None

    def to_json(self) -> bytes:
        """Compressed JSON: a week of a fleet's orders stays a small object (a Secrets Manager
        secret holds 64 KiB: about 8,000 orders)."""
        return zlib.compress(json.dumps({
            "orders": [[_stamp(o.at), list(o.names)] for o in self.orders],
            "failures": {name: {"recent": [_stamp(t) for t in f.recent],
                                "consecutive": f.consecutive, "spent": round(f.spent, 4),
                                "last": _stamp(f.last) if f.last else None}
                         for name, f in self.failures.items()},
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
        }, separators=(",", ":")).encode(), 9)

    @classmethod
    def from_json(cls, raw: bytes) -> Ledger:
        data = json.loads(zlib.decompress(raw))
        return cls(
            orders=[OrderEntry(_time(at), tuple(names)) for at, names in data["orders"]],
            failures={name: NameFailures([_time(t) for t in f["recent"]], f["consecutive"],
                                         f["spent"], _time(f["last"]) if f["last"] else None)
                      for name, f in data["failures"].items()},
            paused_until=(dt.datetime.fromisoformat(data["paused_until"])
                          if data["paused_until"] else None))


def _stamp(moment: dt.datetime) -> int:
    # Whole seconds, rounded up: an order counts a moment longer, never a moment less.
    return math.ceil(moment.timestamp())


def _time(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)
