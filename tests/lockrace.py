"""Concurrent lock attempts for the state stores' race tests: started together by a Barrier,
each winner holding the lock until every other attempt is over."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from acme_renewer.state import Backend, StateLocked
from acme_renewer.state_lock import LockHolder

LOCKED = re.compile(r"another lsctl run \((?P<owner>[0-9a-f]{32} on \S+ pid \d+)\) has held "
                    r"the state lock \S+ since (?P<since>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


@dataclass
class Holding:
    holder: LockHolder | None
    start: float
    end: float


def contend(stores: Sequence[Backend], holder: Callable[[], LockHolder | None],
            ) -> tuple[list[Holding], list[str]]:
    """Every store tries the lock at once (a Barrier); a winner holds it until every other
    has tried, so a second holder, if there were one, would overlap it."""
    held: list[Holding] = []
    losses: list[str] = []
    start = threading.Barrier(len(stores), timeout=60)
    tried = threading.Barrier(len(stores), timeout=60)

    def attempt(store: Backend) -> None:
        start.wait()
        try:
            with store.lock():
                began = time.monotonic()
                who = holder()
                tried.wait()
                held.append(Holding(who, began, time.monotonic()))
        except StateLocked as exc:
            losses.append(str(exc))
            tried.wait()

    threads = [threading.Thread(target=attempt, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return held, losses


def one_holder_named_by_the_loser(held: list[Holding], losses: list[str]) -> None:
    assert len(held) == 1 and len(losses) == 1, (held, losses)
    winner, match = held[0].holder, LOCKED.match(losses[0])
    assert winner and match, losses
    assert match["owner"] == winner.owner, losses
    assert match["since"] == f"{winner.since:%Y-%m-%d %H:%M:%S}", losses


def taken_over_then_released_by_its_owner_only(
        dead: Backend, successor: Backend, holder: Callable[[], LockHolder | None]) -> None:
    """`dead`'s lock has lapsed: `successor` takes it over, and `dead` finishing afterwards
    leaves the successor's lock in place; the successor's release removes it."""
    lapsed = dead.lock()
    lapsed.__enter__()
    taking = successor.lock()
    taking.__enter__()
    taken = holder()
    assert taken is not None and not taken.expired()
    lapsed.__exit__(None, None, None)  # the slow holder finishes: the lock is no longer its own
    assert holder() == taken
    taking.__exit__(None, None, None)
    assert holder() is None
