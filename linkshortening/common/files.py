"""Atomic, private file writes: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write `data` to `path` via a fsynced temp file in the same directory, then rename."""
    payload = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # before any byte lands, so a secret is never world-readable
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename itself is durable only once the directory entry is flushed.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OutputPathError(Exception):
    """An --output path lsctl cannot write: the message says what is wrong with it."""


def check_output_path(path: Path) -> None:
    """Refuse, before any work is done, an output path a write would fail on."""
    if path.is_dir():
        raise OutputPathError(f"output {path} is a directory. Fix: give a file name, "
                              f"e.g. {path / 'out.pem'}")
    if path.exists() and not path.is_file():
        raise OutputPathError(f"output {path} is not a regular file. Fix: give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise OutputPathError(f"output {path}: its directory {parent} does not exist. "
                              "Fix: create it, or give another path")
    try:  # the write goes through a temp file beside the target: try exactly that
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise OutputPathError(f"output {path}: cannot create files in {parent} "
                              f"({exc.strerror}). Fix: choose a writable directory") from None
    os.close(fd)
    Path(tmp).unlink()


def write_output(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """write_atomic for a user-given output path: a failure names the path, not a traceback."""
    check_output_path(path)
    try:
        write_atomic(path, data, mode)
    except OSError as exc:
        raise OutputPathError(f"output {path}: cannot be written ({exc.strerror}). "
                              "Fix: choose a writable file") from None
