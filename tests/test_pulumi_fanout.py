"""renewal.mode fanout under Pulumi's mocks: the state machine, its role (invoking exactly the
fan-out's functions), the schedule now starting it, and the mode chosen by stack size."""

from __future__ import annotations

import json

from acme_renewer.fanout.plan import Cost
from components.fanout import FANOUT_ABOVE, renewal_mode
from linkshortening.stack.model import DomainSpec, RenewalSettings, Stack
from tests.asl import validate
from tests.test_pulumi_program import prebuilt_archive, renewal_stack, run_program

__all__ = ["prebuilt_archive"]  # the autouse fixture: the Lambda's code, a stand-in

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:lsctl-renew-t"


def test_fanout_registers_the_state_machine_its_role_and_the_schedule_target() -> None:
    run = run_program(renewal_stack(mode="fanout", maxConcurrency=3))
    (machine,) = run.mocks.of_type("sfn/stateMachine:StateMachine").values()
    asl = json.loads(machine["definition"])
    assert validate(asl) == []
    assert asl["States"]["RenewShards"]["MaxConcurrency"] == 3
    shard = asl["States"]["RenewShards"]["ItemProcessor"]["States"]["RenewShard"]
    assert shard["Resource"] == f"{FUNCTION}-shard"
    functions = run.mocks.of_type("lambda/function:Function")
    assert {f["handler"] for f in functions.values()} >= {
        "acme_renewer.fanout.handlers.plan_handler",
        "acme_renewer.fanout.handlers.shard_handler",
        "acme_renewer.fanout.handlers.report_handler"}
    # Its role may invoke the three fan-out functions and nothing else.
    assert run.policy("renewal-fanout-states-policy")["Statement"] == [{
        "Sid": "InvokeRenewalFunctions", "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Resource": [f"{FUNCTION}-{s}" for s in ("plan", "report", "shard")]}]
    roles = run.mocks.of_type("iam/role:Role")
    trust = json.loads(roles["renewal-fanout-states-role"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    # The schedule starts an execution; its role may do exactly that.
    (schedule,) = run.mocks.of_type("scheduler/schedule:Schedule").values()
    assert schedule["target"]["arn"] == "arn:aws:mock:::renewal-fanout-machine"
    assert schedule["target"]["input"] == "{}"
    assert run.policy("renewal-scheduler-policy")["Statement"] == [{
        "Effect": "Allow", "Action": "states:StartExecution",
        "Resource": "arn:aws:mock:::renewal-fanout-machine"}]
    assert "renewal-executions" in run.mocks.of_type("cloudwatch/metricAlarm:MetricAlarm")


def test_single_mode_keeps_the_lambda_target() -> None:
    run = run_program(renewal_stack(mode="single"))
    assert not run.mocks.of_type("sfn/stateMachine:StateMachine")
    (schedule,) = run.mocks.of_type("scheduler/schedule:Schedule").values()
    assert schedule["target"]["arn"] == FUNCTION
    assert "input" not in schedule["target"] or schedule["target"]["input"] is None


def test_the_default_mode_follows_the_stack_size() -> None:
    def stack(domains: int, mode: str | None = None) -> Stack:
        specs = tuple(DomainSpec(f"d{i}.example.com", "example.com", f"DN{i:032x}")
                      for i in range(domains))
        return Stack("t", "t.yaml", specs, renewal=RenewalSettings(mode=mode))

    assert FANOUT_ABOVE == Cost().capacity == 160
    assert renewal_mode(stack(FANOUT_ABOVE)) == "single"
    assert renewal_mode(stack(FANOUT_ABOVE + 1)) == "fanout"
    assert renewal_mode(stack(FANOUT_ABOVE + 1, "single")) == "single"
