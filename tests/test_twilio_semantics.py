"""Twilio's error semantics beyond its OpenAPI description, end to end on the emulator: 404 and
30120 both mean "no certificate", 30133 is tried again for minutes (never past the deadline,
never holding up other domains), domain codes are drift findings, RFC 9457 error bodies are
read like the classic ones, undocumented validation statuses wait, and the edge serves a
managed domain's own certificate."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from components.twilio_resources import ManagedCertificateProvider
from drift.checks import judge_domain
from drift.facts import DomainFacts
from drift.probes import tls, twilio
from linkshortening.cli.main import main
from linkshortening.common.deadline import Deadline
from linkshortening.stack.model import DomainSpec
from linkshortening.stack.targets import TwilioTargets
from linkshortening.twilio.api import LinkShorteningApi, TwilioSettings
from linkshortening.twilio.codes import CODES, lookup
from linkshortening.twilio.errors import TwilioApiError
from linkshortening.twilio.models import DomainCertificate
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain
from tests.conftest import new_domain
from tests.test_renew import renew, statuses, write_stack
from tests.test_twilio_providers import engine_copy, stack_config  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("twilio_env", "test_ca_trusted")


class Recorder:
    """The client's raw exchanges and its (fake) sleeps, in the order they happened."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []  # (kind, domain or "", status)
        self.sleeps: list[float] = []
        self.now = 1000.0
        self.after_sleep: Callable[[], None] = lambda: None

    def __call__(self, response: requests.Response) -> None:
        sid = next((p for p in response.url.split("/") if p.startswith("DN")), "")
        self.events.append(("http", sid, response.status_code))

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.events.append(("sleep", "", round(seconds)))
        self.sleeps.append(seconds)
        self.now += seconds
        self.after_sleep()

    def api(self, deadline: Deadline | None = None) -> LinkShorteningApi:
        return LinkShorteningApi(TwilioSettings.from_env(), response_hooks=[self],
                                 deadline=deadline, sleep=self.sleep, clock=self.clock)


# --- 30120 and 404: "no certificate", everywhere ---------------------------------------------

ANSWERS = pytest.mark.parametrize("answer", ["404", "30120"])
STATUS = {"404": 404, "30120": 400}


@ANSWERS
def test_client_and_drift_read_either_answer_as_no_certificate(
        emulator: EmulatorControl, answer: str) -> None:
    sid, name = new_domain(emulator)
    emulator.configure(no_certificate=answer)
    with pytest.raises(TwilioApiError) as none:
        LinkShorteningApi.from_env().fetch_certificate(sid)
    assert none.value.no_certificate and none.value.status == STATUS[answer]
    spec = DomainSpec(name, "lsctl.test", sid)
    probed = twilio.probe([spec])[name]
    assert probed.unreachable == () and probed.value is not None
    assert probed.value.certificate_expires is None
    found = judge_domain(DomainFacts(spec, twilio=probed.value), TwilioTargets(),
                         dt.datetime.now(dt.UTC))
    assert "twilio-no-certificate" in [f.code for f in found]


@ANSWERS
def test_first_certificate_is_issued_whichever_answer(
        tmp_path: Path, emulator: EmulatorControl, answer: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    sid, name = new_domain(emulator)
    emulator.configure(no_certificate=answer)
    stack = write_stack(tmp_path / "Pulumi.first.yaml", tmp_path / "state",
                        [{"fqdn": name, "sid": sid}])
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output
    assert statuses(report) == {name: "renewed"}


@ANSWERS
def test_managed_provider_reads_either_answer_as_unmanaged(
        stack_config: dict[str, str], emulator: EmulatorControl,  # noqa: F811
        answer: str) -> None:
    sid, _ = new_domain(emulator)
    emulator.configure(no_certificate=answer)
    provider = engine_copy(ManagedCertificateProvider(), stack_config)
    outs = provider.read(sid, {"domain_sid": sid, "managed": True, "requesting": None}).outs
    assert outs is not None and (outs["managed"], outs["requesting"]) == (False, False)


# --- 30133: minutes of backoff with jitter, bounded by the deadline ---------------------------


@pytest.mark.parametrize(("deadline", "bound"), [(300.0, 300.0), (None, 600.0)])
def test_30133_is_tried_again_for_minutes_until_the_deadline(
        emulator: EmulatorControl, deadline: float | None, bound: float) -> None:
    sid, name = new_domain(emulator)
    emulator.configure(domain_errors={sid: 30133})
    fake = Recorder()
    api = fake.api(Deadline.after(deadline, fake.clock) if deadline else None)
    with pytest.raises(TwilioApiError) as busy:
        api.upload_certificate(sid, make_chain((name,)).tls_cert)
    assert busy.value.code == 30133 and "until the run's deadline" in str(busy.value)
    # Exponential with "equal jitter": retry n waits between half and all of
    # min(120 s, 15 s * 2^(n-1)).
    for n, pause in enumerate(fake.sleeps, 1):
        ceiling = min(120.0, 15.0 * 2 ** (n - 1))
        assert ceiling / 2 <= pause <= ceiling, (n, fake.sleeps)
    # Never past the deadline, and given up only when the next pause (at most 120 s) would
    # have crossed it.
    assert bound - 120 <= sum(fake.sleeps) < bound
    assert [e for e in fake.events if e[0] == "http"] == [("http", sid, 400)] * (
        len(fake.sleeps) + 1)


def test_a_busy_domain_holds_up_no_other_domain(emulator: EmulatorControl) -> None:
    busy, busy_name = new_domain(emulator)
    free = dict(new_domain(emulator) for _ in range(3))
    emulator.configure(domain_errors={busy: 30133})
    fake = Recorder()
    api = fake.api()

    def twilio_catches_up() -> None:
        if len(fake.sleeps) == 2:
            emulator.configure(domain_errors={})

    fake.after_sleep = twilio_catches_up
    bundles = {sid: make_chain((name,)).tls_cert for sid, name in
               {busy: busy_name, **free}.items()}
    # One worker: a pause that held it would hold every other upload behind the busy one.
    results = api.upload_certificates(bundles, workers=1)
    assert all(isinstance(r, DomainCertificate) for r in results.values()), results
    first_sleep = next(i for i, e in enumerate(fake.events) if e[0] == "sleep")
    done = {e[1] for e in fake.events[:first_sleep] if e[0] == "http" and e[2] < 300}
    assert done == set(free)
    assert [e[2] for e in fake.events if e[1] == busy] == [400, 400, 201]


# --- domain codes: drift findings with the fix, not "could not check" -------------------------


@pytest.mark.parametrize("code", [30101, 30106, 30108, 30134])
def test_domain_codes_are_findings_with_the_fix(emulator: EmulatorControl, tmp_path: Path,
                                                code: int,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    sid, name = new_domain(emulator)
    emulator.configure(domain_errors={sid: code})
    stack = write_stack(tmp_path / "Pulumi.codes.yaml", tmp_path / "state",
                        [{"fqdn": name, "sid": sid}])
    exit_code = main(["drift", "--stack", str(stack), "--skip", "dns", "--skip", "tls",
                      "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert (exit_code, report["unreachable"]) == (1, [])  # drift, not "could not check"
    (finding,) = report["findings"]
    entry = lookup(code)
    assert entry is not None and entry.finding
    assert (finding["code"], finding["severity"], finding["check"]) == (
        entry.finding, "error", "twilio-dns")
    assert finding["actual"].startswith(f"{code}: ") and "fix" not in finding["expected"]
    # The fix is a field of its own: Twilio's table's, or for 30134 which writer publishes.
    assert finding["fix"] == entry.fix if code != 30134 else \
        finding["fix"].endswith("wait until every nameserver serves them, then run again")


def test_one_table_files_each_code_under_its_resource() -> None:
    category = {code: entry.category for code, entry in CODES.items()}
    # The old range(30116, 30133) called all of these "certificate errors"; only these are.
    assert {c for c in range(30116, 30133) if category.get(c) == "certificate"} == {
        30116, 30117, 30118, 30119, 30129, 30131, 30132}
    assert CODES[30131].severity == "warning"
    assert [category[c] for c in (30121, 30122, 30123)] == ["url"] * 3
    assert [category[c] for c in (30124, 30127, 30130)] == ["messaging-service"] * 3
    assert category[30120] == "no-certificate" and category[30133] == "retryable"
    assert [c for c, kind in category.items() if kind == "retryable"] == [30133]
    refused = TwilioApiError(400, 30134, "Domain DNS setup is not completed")
    assert not refused.retryable and "Fix: publish the records" in str(refused)
    assert TwilioApiError(400, 30133, "busy").retryable


# --- RFC 9457 problem details -----------------------------------------------------------------


def test_problem_details_are_read_like_classic_errors(emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    emulator.configure(problem_details=True)
    fake = Recorder()
    api = LinkShorteningApi(TwilioSettings.from_env(), response_hooks=[fake], sleep=fake.sleep)
    with pytest.raises(TwilioApiError) as missing:
        api.fetch_certificate(sid)
    assert (missing.value.status, missing.value.code) == (404, 20404)
    assert missing.value.no_certificate and not missing.value.retryable
    assert "was not found" in missing.value.message
    assert missing.value.more_info == "https://www.twilio.com/docs/errors/20404"
    with pytest.raises(TwilioApiError) as unknown:
        api.fetch_config("DN" + "e" * 32)
    assert (unknown.value.status, unknown.value.code) == (400, 30100)
    assert [e[2] for e in fake.events] == [404, 400] and fake.sleeps == []  # no retries


# --- cert_in_validation.status beyond "pending" -----------------------------------------------


def test_undocumented_validation_status_waits_and_is_reported(
        emulator: EmulatorControl) -> None:
    api = LinkShorteningApi.from_env()
    (quick, quick_name), (slow, slow_name) = new_domain(emulator), new_domain(emulator)
    emulator.configure(validation_status="in_review", validation_delay=0.5)
    api.upload_certificate(quick, make_chain((quick_name,)).tls_cert)
    emulator.configure(validation_delay=60)
    api.upload_certificate(slow, make_chain((slow_name,)).tls_cert)
    validated, timed_out = api.wait_for_validation([quick, slow], timeout=2,
                                                   poll_interval=0.1)
    assert validated.state == "validated", validated.detail
    assert timed_out.state == "timed_out" and "'in_review'" in timed_out.detail
    facts = twilio.probe([DomainSpec(slow_name, "lsctl.test", slow)])[slow_name].value
    assert facts is not None and facts.validation_status == "in_review"
    assert not facts.validation_failed


# --- the edge serves a managed domain's own name ---------------------------------------------


def test_edge_serves_a_managed_certificate_for_the_name(sandbox_env: SandboxState,
                                                        emulator: EmulatorControl) -> None:
    sid, name = new_domain(emulator)
    emulator.configure(validation_delay=0)
    api = LinkShorteningApi.from_env()
    api.request_managed_cert(sid)
    live = _poll(lambda: api.fetch_certificate(sid), lambda c: bool(c.managed))
    served = tls.probe([DomainSpec(name, "lsctl.test", sid)])[name].value
    assert served is not None and served.names == (name,)
    assert served.not_after == live.date_expires


def _poll(get: Any, ready: Any, timeout: float = 10.0) -> Any:
    """Poll until ready (readiness, not a sleep of a guessed length)."""
    limit = time.monotonic() + timeout
    while True:
        value = get()
        if ready(value) or time.monotonic() > limit:
            return value
        time.sleep(0.05)


# --- the deadline a run hands the client ------------------------------------------------------


def test_validation_wait_ends_at_the_clients_deadline(emulator: EmulatorControl) -> None:
    sid, name = new_domain(emulator)
    emulator.configure(validation_delay=600)
    api = LinkShorteningApi(TwilioSettings.from_env(), deadline=Deadline.after(0.5))
    api.upload_certificate(sid, make_chain((name,)).tls_cert)
    # The caller allows ten minutes; the run's deadline says half a second is left.
    [result] = api.wait_for_validation([sid], timeout=600, poll_interval=0.1)
    assert result.state == "timed_out"


def test_lambda_gives_the_client_its_remaining_time_less_a_margin() -> None:
    from acme_renewer.lambda_handler import DEADLINE_MARGIN, _deadline

    class Context:  # what Lambda passes: only the method the handler reads
        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    deadline = _deadline(Context()).child(DEADLINE_MARGIN)
    left = 900 - DEADLINE_MARGIN
    assert deadline.bounded and left - 5 < deadline.remaining() <= left
    assert not _deadline(None).bounded  # outside Lambda (tests): no deadline
