"""Long work shows it is alive: the propagation and validation waits report progress
(timestamped lines off a terminal, a live bar on one), and Ctrl-C says what was left in flight
and exits 130."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from acme_renewer.live import RunOutput
from linkshortening.common.progress import WaitProgress
from linkshortening.dns.query import ask
from sandbox.lifecycle import SandboxOptions, SandboxState, running
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import TWILIO_KNOBS, lsctl_argv, new_domain, point_at
from tests.test_renew import write_stack

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


class Clock:
    def __init__(self, now: float = 1_796_303_131.0) -> None:  # 2026-12-03T13:05:31Z
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_lines_off_a_terminal_are_timestamped_and_spaced() -> None:
    stream, clock = io.StringIO(), Clock()
    out = RunOutput(stream, terminal=False, clock=clock, every=5.0)
    out.phase("present", None, "3 certificate(s)")
    for second, done in ((0, 0), (2, 4), (4, 8), (6, 12), (8, 12), (11.5, 40)):
        clock.now = 1_796_303_131.0 + second
        out.wait("propagation", WaitProgress(done, 40, "challenge records", second, 120))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "2026-12-03T13:05:31Z lsctl renew: present: 3 certificate(s)",
        "2026-12-03T13:05:31Z lsctl renew: propagation: 0/40 challenge records; 0s of 120s, "
        "gives up at 2026-12-03T13:07:31Z",
        # 2 s and 4 s are within five seconds of the last line: not shown
        "2026-12-03T13:05:37Z lsctl renew: propagation: 12/40 challenge records; 6s of 120s, "
        "gives up at 2026-12-03T13:07:31Z",
        # the end is always shown
        "2026-12-03T13:05:42Z lsctl renew: propagation: 40/40 challenge records; 12s of 120s, "
        "gives up at 2026-12-03T13:07:31Z",
    ]


def test_on_a_terminal_a_live_bar_that_goes_away() -> None:
    stream, clock = io.StringIO(), Clock()
    out = RunOutput(stream, terminal=True, clock=clock)
    out.phase("propagate", None, "1 certificate(s)")
    out.wait("validation", WaitProgress(1, 3, "certificates", 4, 600))
    drawn = plain(stream.getvalue())
    assert re.search(r"validation\W+1/3 certificates 0:00:\d\d of 600s \(until 13:15:27Z\)",
                     drawn), drawn
    out.wait("validation", WaitProgress(3, 3, "certificates", 9, 600))
    assert out._bar is None  # stopped once every one has its answer, and erased:
    assert "\x1b[2K" in stream.getvalue()
    assert plain(stream.getvalue()).endswith("validation: 3/3 certificates after 9s\n")
    out.close()


def plain(drawn: str) -> str:
    """Terminal output without its escape sequences (colours, cursor moves)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)


@pytest.fixture
def stale_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """A sandbox whose zone has a second nameserver that never takes updates: a propagation
    wait there lasts until its propagationTimeout."""
    options = SandboxOptions(zones=("lsctl.test",), stale_zones=("lsctl.test",),
                             twilio_faults=TWILIO_KNOBS)
    with running(tmp_path_factory.mktemp("stale"), options) as state:
        yield state


def test_ctrl_c_during_propagation_says_what_was_left(
        stale_sandbox: SandboxState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(stale_sandbox, monkeypatch)
    control = EmulatorControl(stale_sandbox.twilio_base_url, stale_sandbox.ca_bundle,
                              stale_sandbox.twilio_account_sid,
                              stale_sandbox.twilio_auth_token_file)
    fqdn = f"c{uuid.uuid4().hex[:6]}.lsctl.test"
    sid, _ = new_domain(control, fqdn)
    stack = write_stack(tmp_path / "Pulumi.ctrlc.yaml", tmp_path / "state",
                        [{"fqdn": fqdn, "sid": sid}])
    stack.write_text(stack.read_text().replace("propagationInterval: 0.1",
                                               "propagationInterval: 0.1\n"
                                               "    propagationTimeout: 600"))
    run = subprocess.Popen(lsctl_argv("renew", "--stack", str(stack), "--validation-poll", "0.1"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ), stdin=subprocess.DEVNULL)
    lines: list[str] = []
    waiting = threading.Event()

    def read() -> None:
        assert run.stderr is not None
        for line in run.stderr:
            lines.append(line.rstrip("\n"))
            if " lsctl renew: propagation: " in line:
                waiting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert waiting.wait(120), "\n".join(lines)  # the wait has begun and says so
        journal = tmp_path / "state" / "pending-challenges.json"
        # Journalled before published: the record the wait is waiting for is on file.
        assert f"_acme-challenge.{fqdn}" in {r["name"] for r in json.loads(journal.read_text())}
        assert ask(stale_sandbox.dns, f"_acme-challenge.{fqdn}", "TXT").values
        run.send_signal(signal.SIGINT)
        assert run.wait(60) == 130, "\n".join(lines)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    reader.join(10)
    progress = [line for line in lines if " lsctl renew: propagation: " in line]
    assert re.fullmatch(STAMP + r" lsctl renew: propagation: 0/1 challenge records; \d+s of "
                        r"600s, gives up at " + STAMP, progress[0]), progress
    said = "\n".join(lines[lines.index(progress[-1]) + 1:])
    assert "lsctl renew: interrupted during propagation." in said, said
    assert "ACME orders placed (1 certificate(s)) stay pending at the CA" in said, said
    assert "Traceback" not in said and "internal error" not in said, said
    # On the way out the run removed its records; the message says what the journal says.
    if journal.exists():
        assert "still published" in said and "removes them first" in said, said
    else:
        assert "the challenge records were removed on the way out" in said, said
        assert ask(stale_sandbox.dns, f"_acme-challenge.{fqdn}", "TXT").values == ()

    # The next run (the stale server aside) starts from whatever was left and finishes.
    stack.write_text(stack.read_text().replace("propagationTimeout: 600",
                                               "propagationCheck: false"))
    done = subprocess.run(lsctl_argv("renew", "--stack", str(stack), "--validation-poll", "0.1",
                                     "--json"),
                          capture_output=True, text=True, env=dict(os.environ), timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert [o["status"] for o in json.loads(done.stdout)["outcomes"]] == ["renewed"]
    assert ask(stale_sandbox.dns, f"_acme-challenge.{fqdn}", "TXT").values == ()
    assert not journal.exists()
    validation = [line for line in done.stderr.splitlines() if "lsctl renew: validation: " in line]
    assert validation and re.fullmatch(
        STAMP + r" lsctl renew: validation: 1/1 certificates; \d+s of 600s, gives up at " + STAMP,
        validation[-1]), done.stderr
