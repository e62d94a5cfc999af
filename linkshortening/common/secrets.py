"""Secrets from the environment: `NAME`, or a file named by `NAME_FILE`.

The `_FILE` form lets `lsctl sandbox env` (and container platforms) hand over a secret
without it ever being printed.
"""

from __future__ import annotations

import os
from pathlib import Path


class MissingSecret(Exception):
    """A required secret is in neither `NAME` nor the file named by `NAME_FILE`."""

    def __init__(self, name: str, purpose: str) -> None:
        self.name = name
        super().__init__(
            f"{purpose}: environment variable {name} is not set. "
            f"Fix: export {name}=..., or {name}_FILE=/path/to/file holding it"
        )


def read_secret(name: str, purpose: str) -> str:
    """The secret's value, stripped of surrounding whitespace."""
    value = os.environ.get(name)
    if value:
        return value.strip()
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            text = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MissingSecret(
                name, f"{purpose} ({name}_FILE={file_name}: {exc.strerror})") from None
        if text:
            return text
    raise MissingSecret(name, purpose)
