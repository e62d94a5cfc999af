"""The fan-out's state machine: valid ASL, and executed end to end against the sandbox with
the plan, shard and report handlers run in-process (tests/asl.py says why not moto)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from acme_renewer.fanout import handlers
from components.state_machine import Functions, definition
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.asl import ExecutionFailed, Interpreter, validate
from tests.fanout_stack import fanout_stack
from tests.test_lambda import lambda_environment

FUNCTIONS = Functions(*(f"arn:aws:lambda:us-east-1:123456789012:function:lsctl-{n}"
                        for n in ("plan", "shard", "report")))


def asl(max_concurrency: int = 2) -> dict[str, Any]:
    return dict(json.loads(definition(FUNCTIONS, "fan", max_concurrency)))


def test_the_definition_follows_the_asl_rules() -> None:
    machine = asl()
    assert validate(machine) == []
    assert machine["States"]["RenewShards"]["MaxConcurrency"] == 2
    task = machine["States"]["RenewShards"]["ItemProcessor"]["States"]["RenewShard"]
    assert "Lambda.ServiceException" in task["Retry"][0]["ErrorEquals"]
    assert task["Catch"][0] == {"ErrorEquals": ["States.ALL"], "Next": "ShardFailed",
                                "ResultPath": "$.error"}


@pytest.mark.parametrize(("break_it", "problem"), [
    (lambda m: m["States"]["Plan"].update(Next="Nowhere"), "transition to 'Nowhere'"),
    (lambda m: m["States"].update(Orphan={"Type": "Succeed"}), "Orphan: unreachable"),
    (lambda m: m["States"]["Report"].pop("Next"), "exactly one of Next and End"),
    (lambda m: m["States"]["Failed"].update(Next="Done"), "a Fail state has no Next"),
    (lambda m: m["States"]["RenewShards"]["ItemProcessor"]["States"]["RenewShard"]["Catch"]
     [0].update(ErrorEquals=[]), "ErrorEquals a non-empty array"),
    (lambda m: m.update(StartAt="Missing"), "StartAt 'Missing' names no state"),
])
def test_the_validator_finds_broken_definitions(break_it: Any, problem: str) -> None:
    machine = copy.deepcopy(asl())
    break_it(machine)
    assert any(problem in p for p in validate(machine)), validate(machine)


@pytest.fixture
def lambda_env(sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None,
               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """As in Lambda: only the secret IDs in the environment (see test_lambda.py)."""
    tag = uuid.uuid4().hex[:6]
    stack, zones = fanout_stack(tmp_path / "Pulumi.fan.yaml", tmp_path / "state", emulator)
    lambda_environment(sandbox, monkeypatch, tag, stack)
    monkeypatch.setenv("LSCTL_PER_DOMAIN_SECONDS", "1")
    monkeypatch.setenv("LSCTL_SHARD_SECONDS", "362")  # two domains a shard: two shards
    return {"zones": zones, "state": tmp_path / "state", "namespace": f"lsctl-{tag}"}


def interpreter() -> Interpreter:
    return Interpreter({FUNCTIONS.plan: handlers.plan_handler,
                        FUNCTIONS.shard: handlers.shard_handler,
                        FUNCTIONS.report: handlers.report_handler})


def test_an_execution_renews_every_shard_and_reports_once(lambda_env: dict[str, Any]) -> None:
    run = interpreter()
    output = run.execute(asl(), {}, name="exec-1")
    report = output["report"]
    assert report["counts"] == {"renewed": 4} and report["failed"] == 0
    assert report["failed_shard_count"] == 0 and len(output["shards"]) == 2
    assert ("Done", "Entered") in run.history.events
    assert run.history.events.count(("RenewShard", "Exited")) == 2
    # The payloads stay small; the full reports are in the state store.
    assert len(json.dumps(output)) < 2048
    merged = json.loads((lambda_env["state"] / "fanout" / "exec-1" / "report.json").read_text())
    assert sorted(o["domain"] for o in merged["outcomes"]) == sorted(lambda_env["zones"])
    metrics = boto3.client("cloudwatch").list_metrics(
        Namespace=lambda_env["namespace"])["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["DaysToExpiry"]
    # A second execution finds nothing due: no shards, and it succeeds.
    again = interpreter().execute(asl(), {}, name="exec-2")
    assert again["plan"]["shards"] == [] and again["report"]["domains"] == 0


def test_a_failed_shard_is_caught_and_fails_the_execution(
        lambda_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real = handlers.shard_handler

    def second_shard_breaks(event: dict[str, Any], context: object) -> dict[str, Any]:
        if event["shard"] == 1:
            raise PermissionError("AccessDenied reading the TSIG secret")
        return real(event, context)

    run = Interpreter({FUNCTIONS.plan: handlers.plan_handler,
                       FUNCTIONS.shard: second_shard_breaks,
                       FUNCTIONS.report: handlers.report_handler})
    with pytest.raises(ExecutionFailed) as failed:
        run.execute(asl(), {}, name="exec-3")
    assert failed.value.error == "DomainsFailed"
    assert ("RenewShard", "Caught PermissionError") in run.history.events
    summary = json.loads((lambda_env["state"] / "fanout" / "exec-3" / "report.json")
                         .read_text())
    assert summary["failed_shards"] == [{"shard": 1, "error": "PermissionError",
                                         "cause": "AccessDenied reading the TSIG secret"}]
    assert summary["counts"] == {"renewed": 2}  # the other shard went on


def test_a_failed_domain_fails_the_execution(lambda_env: dict[str, Any],
                                             emulator: EmulatorControl) -> None:
    emulator.configure(fail_validation=True)  # Twilio fails every upload's validation
    run = interpreter()
    with pytest.raises(ExecutionFailed) as failed:
        run.execute(asl(), {}, name="exec-4")
    assert failed.value.error == "DomainsFailed"
    summary = json.loads((lambda_env["state"] / "fanout" / "exec-4" / "report.json")
                         .read_text())
    assert summary["failed"] == 4 and summary["failed_shards"] == []
