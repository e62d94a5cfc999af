"""The one error of stack loading: where the problem is, what it is, and how to fix it."""

from __future__ import annotations

import datetime

SHOWN = 60  # characters of an input value a message quotes; a 5 MB value is never echoed whole
KEY_SHOWN = 160  # characters of a key path a message names


class ConfigError(Exception):
    """A stack file problem: where it is, what is wrong, and how to fix it."""

    def __init__(self, source: str, key: str, problem: str, fix: str) -> None:
        key = clip(key, KEY_SHOWN, count=False)  # keys come from the file too: one bounded line
        self.source, self.key, self.problem, self.fix = source, key, problem, fix
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}. Fix: {fix}")


def clip(text: str, limit: int = SHOWN, count: bool = True) -> str:
    """`text` on one line (control characters escaped), cut to `limit` with an ellipsis (and
    the full length, when `count`)."""
    cut = text[:limit + 1]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    if len(text) > limit:
        return f"{cut[:limit]}... ({len(text):,} characters)" if count else f"{cut[:limit]}..."
    return cut


def quoted(value: object) -> str:
    """A value as messages show it: strings quoted and clipped, containers described, never a
    whole `repr()` (an alias bomb's shared list would take minutes and gigabytes to print)."""
    if isinstance(value, str | bytes):
        text = repr(value[:SHOWN])
        more = len(value) - SHOWN
        return f"{text}... ({len(value):,} characters)" if more > 0 else text
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        # repr() of an int past 4,300 digits raises ValueError; say how big it is instead.
        return repr(value) if value.bit_length() <= 200 else f"a {value.bit_length()}-bit number"
    if isinstance(value, datetime.date):
        return repr(value.isoformat())
    return kind(value)


def kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
