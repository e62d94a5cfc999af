"""The run's deadline: monotonic, a child ends a margin earlier, nothing waits past it."""

from __future__ import annotations

import math

from linkshortening.common.deadline import Deadline


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_remaining_expired_and_allows() -> None:
    clock = Clock()
    deadline = Deadline.after(60, clock)
    assert (deadline.remaining(), deadline.expired, deadline.bounded) == (60, False, True)
    assert deadline.allows(59.9) and not deadline.allows(60)
    clock.now += 61
    assert (deadline.remaining(), deadline.expired, deadline.allows(0)) == (0, True, False)


def test_child_ends_a_margin_earlier_and_within_a_bound() -> None:
    clock = Clock()
    run = Deadline.after(600, clock)
    assert run.child(margin=30).remaining() == 570
    assert run.child(within=100).remaining() == 100  # the nearer of the two
    assert run.child(margin=30, within=900).remaining() == 570
    assert run.child(margin=900).expired  # no time left is no time, never negative
    assert run.child(margin=900).remaining() == 0


def test_never_is_unbounded_but_a_child_can_bound_it() -> None:
    clock = Clock()
    never = Deadline.never(clock)
    assert never.remaining() == math.inf and not never.bounded and never.allows(1e9)
    assert never.child(margin=30).remaining() == math.inf
    assert never.child(within=10).remaining() == 10
