"""The run's deadline (issue 14, item 2): a CA that hangs costs its in-flight domains, not
the run. `lsctl renew --deadline` against Pebble behind a proxy that never answers finalize:
the run returns, reports the domain deferred (exit 0), leaves no challenge record in DNS or
the journal, and the next run renews it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.dns.query import ask
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain
from tests.hung_ca import HungCa
from tests.test_profiles_renew import write_stack
from tests.test_renew import renew, statuses

DEADLINE = 20.0
SLACK = 10.0  # loading the stack, the access checks, Python's own start: not the CA's wait


@pytest.fixture
def hung_ca(sandbox: SandboxState, twilio_env: None,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[HungCa]:
    with HungCa(sandbox) as ca:
        monkeypatch.setenv("LSCTL_ACME_DIRECTORY", ca.directory_url)
        yield ca


@pytest.mark.parametrize("hang_on", ["/finalize-order/", "/order-plz"])
def test_a_hung_ca_defers_its_domains_by_the_deadline_and_the_next_run_renews(
        hang_on: str, hung_ca: HungCa, emulator: EmulatorControl, sandbox: SandboxState,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid, fqdn = new_domain(emulator)
    state_dir = tmp_path / "state"
    stack = write_stack(tmp_path / "Pulumi.d.yaml", state_dir, fqdn, sid)
    hung_ca.hang_on = hang_on
    started = time.monotonic()
    code, report, output = renew(stack, "--deadline", f"{DEADLINE:g}s", capsys=capsys)
    took = time.monotonic() - started
    # A bound, not a timing assertion: without the deadline the run waits 45 s per request.
    assert took < DEADLINE + SLACK, output
    assert hung_ca.hung, "the proxy never saw the request it hangs on"
    assert code == 0 and statuses(report) == {fqdn: "deferred"}, output
    assert "the run's deadline" in report["outcomes"][0]["detail"], output
    assert RenewerState(DirectoryBackend(state_dir)).pending_records() == []
    assert ask(sandbox.dns, f"_acme-challenge.{fqdn}.", "TXT").values == ()

    hung_ca.hang_on = None  # the CA recovered
    code, report, output = renew(stack, "--deadline", "5m", capsys=capsys)
    assert code == 0 and statuses(report) == {fqdn: "renewed"}, output


@pytest.mark.parametrize("value", ["soon", "0", "-5m", "10x"])
def test_a_bad_deadline_is_one_line_and_exit_2(
        value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "Pulumi.d.yaml", tmp_path / "state", "a.lsctl.test", "DN1")
    with pytest.raises(SystemExit) as exit_:
        renew(stack, f"--deadline={value}", capsys=capsys)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"--deadline: {value!r} is not a duration" in err and "Traceback" not in err, err
