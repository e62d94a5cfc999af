"""Typed reads of one stack-file mapping, each failure a ConfigError naming the key."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from linkshortening.stack.errors import ConfigError, kind, quoted


class Reader:
    """Validates one mapping of the stack file, remembering which keys it consumed."""

    def __init__(self, source: str, path: str, data: object) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(source, path, f"expected a mapping, got {kind(data)}", MAPPING_FIX)
        self.source, self.path, self.data = source, path, data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), problem, fix)

    def get(self, name: str, required: bool = False, fix: str = "") -> Any:
        self.seen.add(name)
        if name not in self.data or self.data[name] is None:
            if required:
                raise ConfigError(self.source, self.key(name), "is required but missing", fix)
            return None
        return self.data[name]

    def string(self, name: str, required: bool = False, fix: str = "") -> str | None:
        value = self.get(name, required, fix)
        if value is not None and not isinstance(value, str):
            raise self.error(name, f"expected a string, got {kind(value)}", fix or "quote it")
        if value is not None:
            one_line(value, self.source, self.key(name))
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        value = pulumi_scalar(value)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {quoted(value)}",
                             "write true or false")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        value = pulumi_scalar(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(name, f"expected a whole number {low}..{high}, got {quoted(value)}",
                             f"use a number between {low} and {high}")
        return value

    def strings(self, name: str, check: Callable[[str, str], str]) -> tuple[str, ...]:
        value = self.get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error(name, f"expected a list, got {kind(value)}", "write a YAML list")
        out = []
        for i, item in enumerate(value):
            key = f"{self.key(name)}[{i}]"
            if not isinstance(item, str):
                raise ConfigError(self.source, key, f"expected a string, got {kind(item)}",
                                  "quote it")
            out.append(check(one_line(item, self.source, key), key))
        return tuple(out)

    def choice(self, name: str, options: tuple[str, ...], default: str | None) -> str | None:
        value = self.string(name)
        if value is None:
            return default
        if value not in options:
            raise self.error(name, f"{quoted(value)} is not one of {', '.join(options)}",
                             f"use one of: {', '.join(options)}")
        return value

    def finish(self) -> None:
        """Refuse keys nobody read: a typo must not silently drop a setting."""
        unknown = [k for k in self.data if k not in self.seen]
        if unknown:
            key = str(unknown[0])
            close = difflib.get_close_matches(key, self.seen, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise self.error(key, "is not a known key",
                             f"{hint}remove it or use one of: {', '.join(sorted(self.seen))}")


MAPPING_FIX = "write it as a YAML mapping of key: value"


def one_line(value: str, source: str, key: str) -> str:
    """Refuse unprintable characters: a quoted "DN...\\n" would otherwise travel into Twilio
    URLs (`/Domains/DN...%0A`); no value of a stack file has a line break, tab or NUL."""
    if value.isprintable():
        return value
    at = next(i for i, c in enumerate(value) if not c.isprintable())
    raise ConfigError(source, key, f"{quoted(value)} has an unprintable character "
                      f"({repr(value[at])[1:-1]}) at position {at + 1}",
                      "write the value on one line without it (in double quotes, \\n and \\t "
                      "are a line break and a tab)")


# `pulumi config set KEY 600` and `pulumi config set KEY true` write strings ("600", "true");
# the Pulumi program reads them back as JSON (`Config.get_object`), so lsctl does the same.
_PULUMI_INT = re.compile(r"-?[0-9]{1,18}")
_PULUMI_FLOAT = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?")


def pulumi_scalar(value: object) -> object:
    """A number or boolean as `pulumi config set` writes it ("600", "0.5", "true"), typed;
    anything else unchanged."""
    if not isinstance(value, str):
        return value
    if value in ("true", "false"):
        return value == "true"
    if _PULUMI_INT.fullmatch(value):
        return int(value)
    if _PULUMI_FLOAT.fullmatch(value):
        return float(value)
    return value
