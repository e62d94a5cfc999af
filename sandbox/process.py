"""Child processes of the sandbox: start on a free port, poll readiness, stop without leftovers."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


class ServiceError(Exception):
    """A sandbox service did not start or stop; the message names it and its log."""


def free_port() -> int:
    """A TCP and UDP port free on 127.0.0.1 right now (DNS servers need both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise ServiceError("no free port on 127.0.0.1")


def wait_until(ready: Callable[[], bool], timeout: float, what: str,
               alive: Callable[[], bool] = lambda: True, log: Path | None = None) -> None:
    """Poll `ready` with a short growing interval; fail early if the process died."""
    deadline = time.monotonic() + timeout
    interval = 0.02
    while True:
        if ready():
            return
        if not alive():
            raise ServiceError(f"{what} exited during start-up{_log_hint(log)}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} was not ready after {timeout:g}s{_log_hint(log)}")
        time.sleep(interval)  # a poll interval, not a wait for the service
        interval = min(interval * 1.5, 0.25)


def _log_hint(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
    return f"; see {log}" + ("".join(f"\n    {line}" for line in tail) if tail else "")


def _die_with_parent() -> None:
    # Linux only: the child gets SIGKILL if the process that started it dies, so an aborted
    # test run cannot leave services behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Started:
    """A running service: its pid (with start time, so a recycled pid is never killed)."""

    name: str
    pid: int
    start_ticks: int
    log: str


def start(name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None, attached: bool = True,
          ) -> tuple[subprocess.Popen[bytes], Started]:
    """Start `argv` in its own session with stdout+stderr into `log`.

    `attached` ties the child's life to ours (tests, demo); detached children outlive the
    `lsctl sandbox up` that started them and are stopped by pid.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=full_env, cwd=cwd, start_new_session=True,
                preexec_fn=_die_with_parent if attached else None,
            )
        except FileNotFoundError:
            raise ServiceError(f"{name}: {argv[0]} is not installed; run `make setup`") from None
    return proc, Started(name, proc.pid, _start_ticks(proc.pid) or 0, str(log))


def _start_ticks(pid: int) -> int | None:
    """Process start time from /proc, or None when the pid does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 after the ")" that ends the command name (which may contain spaces).
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_running(started: Started) -> bool:
    """True when the very process we started is alive (and not a zombie)."""
    ticks = _start_ticks(started.pid)
    if ticks is None or ticks != started.start_ticks:
        return False
    state = Path(f"/proc/{started.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def stop(started: Started, timeout: float = 10.0) -> None:
    """SIGTERM the service's process group, SIGKILL what is left after `timeout`."""
    if not is_running(started):
        _reap(started.pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(started.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(started) and time.monotonic() < deadline:
        _reap(started.pid)
        time.sleep(0.02)
    if is_running(started):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGKILL)
        while is_running(started):
            _reap(started.pid)
            time.sleep(0.02)
    _reap(started.pid)


def _reap(pid: int) -> None:
    # Our own children must be waited for, or they linger as zombies.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
