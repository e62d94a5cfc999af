"""What `lsctl renew` shows on stderr while it works, so a long wait never looks frozen.

On a terminal: phase lines, and during the two long waits (DNS propagation, Twilio's
validation) a live rich progress bar (done of total, elapsed, when it gives up) that vanishes
once the wait ends. Otherwise (cron, CI, a pipe): one timestamped line per phase, and during a
wait one line at most every few seconds, e.g.
`2026-12-03T13:05:31Z lsctl renew: propagation: 12/40 challenge records ...`.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from linkshortening.common.progress import WaitProgress

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

LINE_EVERY = 5.0  # seconds between two lines about the same wait, when not on a terminal
PREFIX = "lsctl renew"


def iso(moment: float) -> str:
    """A Unix time as ISO 8601 UTC to the second, e.g. 2026-12-03T13:05:31Z."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(status: WaitProgress, now: float) -> str:
    """`12/40 challenge records; 14s of 120s, gives up at 2026-12-03T13:07:17Z`."""
    gives_up = now - status.elapsed + status.timeout
    return (f"{status.done}/{status.total} {status.unit}; {status.elapsed:.0f}s of "
            f"{status.timeout:g}s, gives up at {iso(gives_up)}")


class RunOutput:
    """The run's progress printer: `phase` and `wait` are the pipeline's two callbacks."""

    def __init__(self, stream: TextIO | None = None, *, terminal: bool | None = None,
                 clock: Callable[[], float] = time.time, every: float = LINE_EVERY) -> None:
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, force_terminal=terminal,
                               highlight=False)
        self.terminal = self.console.is_terminal
        self._clock = clock
        self._every = every
        self._started = clock()
        self._last_line: dict[str, float] = {}
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._bar_wait: str | None = None
        self.seen: dict[str, str] = {}  # phase -> its last message, for what Ctrl-C left
        self.waiting: str | None = None  # the wait under way, if any

    @property
    def doing(self) -> str:
        """The wait or phase under way: what a Ctrl-C interrupts."""
        return self.waiting or next(reversed(self.seen), "start-up")

    def phase(self, phase: str, domain: str | None, message: str) -> None:
        self.seen[phase] = message
        self._end_bar()
        self.waiting = None
        where = f" {domain}" if domain else ""
        if self.terminal:
            from rich.text import Text

            self.console.print(Text.assemble((f"{self._clock() - self._started:6.1f}s ", "dim"),
                                             (phase, "bold"), f"{where}: {message}"))
        else:
            self._line(f"{phase}{where}: {message}")

    def wait(self, what: str, status: WaitProgress) -> None:
        self.waiting = what
        if self.terminal:
            self._show_bar(what, status)
            if status.done >= status.total:
                self._end_bar()
                self.phase(what, None, f"{status.done}/{status.total} {status.unit} after "
                                       f"{status.elapsed:.0f}s")
            return
        now = self._clock()
        last = self._last_line.get(what)
        if last is None or status.done >= status.total or now - last >= self._every:
            self._last_line[what] = now
            self._line(f"{what}: {describe(status, now)}")

    def close(self) -> None:
        self._end_bar()

    def _line(self, text: str) -> None:
        print(f"{iso(self._clock())} {PREFIX}: {text}", file=self.console.file, flush=True)

    def _show_bar(self, what: str, status: WaitProgress) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        gives_up = self._clock() - status.elapsed + status.timeout
        limit = f"of {status.timeout:g}s (until {iso(gives_up)[11:]})"  # short: one line
        if self._bar is not None and self._bar_wait == what and self._task is not None:
            self._bar.update(self._task, completed=status.done, total=status.total, limit=limit)
            return
        self._end_bar()
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=10),
                             MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
                             TimeElapsedColumn(), TextColumn("{task.fields[limit]}"),
                             console=self.console, transient=True)
        self._task = self._bar.add_task(what, total=status.total, completed=status.done,
                                        unit=status.unit, limit=limit)
        self._bar_wait = what
        self._bar.start()

    def _end_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar = self._task = self._bar_wait = None
