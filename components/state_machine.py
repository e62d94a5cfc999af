"""The fan-out's state machine in Amazon States Language, built from dataclasses.

Plan (Task) -> RenewShards (Map: one RenewShard Task per shard, Retry on Lambda's service
errors, Catch recording the shard as failed) -> Report (Task) -> Outcome (Choice) -> Failed
(Fail) when a domain or a shard failed, else Done (Succeed). `definition()` is the JSON
the Pulumi component deploys and the tests execute (tests/asl.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Lambda's own transient failures (Step Functions' documented retry set for Lambda tasks).
LAMBDA_SERVICE_ERRORS = ("Lambda.ServiceException", "Lambda.AWSLambdaException",
                         "Lambda.SdkClientException", "Lambda.TooManyRequestsException")
DEFAULT_MAX_CONCURRENCY = 4  # shards at once: Let's Encrypt's 300 new orders / 3 h per account


@dataclass(frozen=True)
class Retry:
    errors: tuple[str, ...]
    interval_seconds: int = 2
    max_attempts: int = 3
    backoff_rate: float = 2.0

    def asl(self) -> dict[str, Any]:
        return {"ErrorEquals": list(self.errors), "IntervalSeconds": self.interval_seconds,
                "MaxAttempts": self.max_attempts, "BackoffRate": self.backoff_rate}


@dataclass(frozen=True)
class Catch:
    errors: tuple[str, ...]
    next: str
    result_path: str

    def asl(self) -> dict[str, Any]:
        return {"ErrorEquals": list(self.errors), "Next": self.next,
                "ResultPath": self.result_path}


@dataclass(frozen=True)
class Task:
    resource: str
    next: str | None = None  # None: End
    parameters: dict[str, Any] | None = None
    result_path: str | None = None
    retry: tuple[Retry, ...] = ()
    catch: tuple[Catch, ...] = ()
    timeout_seconds: int | None = None
    comment: str = ""

    def asl(self) -> dict[str, Any]:
        state: dict[str, Any] = {"Type": "Task", "Resource": self.resource}
        if self.comment:
            state["Comment"] = self.comment
        if self.parameters is not None:
            state["Parameters"] = self.parameters
        if self.result_path is not None:
            state["ResultPath"] = self.result_path
        if self.timeout_seconds is not None:
            state["TimeoutSeconds"] = self.timeout_seconds
        if self.retry:
            state["Retry"] = [r.asl() for r in self.retry]
        if self.catch:
            state["Catch"] = [c.asl() for c in self.catch]
        return {**state, **_transition(self.next)}


@dataclass(frozen=True)
class Pass:
    next: str | None = None
    parameters: dict[str, Any] | None = None

    def asl(self) -> dict[str, Any]:
        state: dict[str, Any] = {"Type": "Pass"}
        if self.parameters is not None:
            state["Parameters"] = self.parameters
        return {**state, **_transition(self.next)}


@dataclass(frozen=True)
class Map:
    items_path: str
    item_selector: dict[str, Any]
    processor: Machine
    max_concurrency: int
    next: str | None = None
    result_path: str | None = None

    def asl(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Map", "ItemsPath": self.items_path, "ItemSelector": self.item_selector,
            "MaxConcurrency": self.max_concurrency,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **self.processor.asl()}}
        if self.result_path is not None:
            state["ResultPath"] = self.result_path
        return {**state, **_transition(self.next)}


@dataclass(frozen=True)
class ChoiceRule:
    variable: str
    numeric_greater_than: int
    next: str

    def asl(self) -> dict[str, Any]:
        return {"Variable": self.variable, "NumericGreaterThan": self.numeric_greater_than,
                "Next": self.next}


@dataclass(frozen=True)
class Choice:
    rules: tuple[ChoiceRule, ...]
    default: str

    def asl(self) -> dict[str, Any]:
        return {"Type": "Choice", "Choices": [r.asl() for r in self.rules],
                "Default": self.default}


@dataclass(frozen=True)
class Fail:
    error: str
    cause: str

    def asl(self) -> dict[str, Any]:
        return {"Type": "Fail", "Error": self.error, "Cause": self.cause}


@dataclass(frozen=True)
class Succeed:
    def asl(self) -> dict[str, Any]:
        return {"Type": "Succeed"}


State = Task | Pass | Map | Choice | Fail | Succeed


@dataclass(frozen=True)
class Machine:
    start_at: str
    states: dict[str, State] = field(default_factory=dict)
    comment: str = ""

    def asl(self) -> dict[str, Any]:
        machine: dict[str, Any] = {"StartAt": self.start_at,
                                   "States": {n: s.asl() for n, s in self.states.items()}}
        return {"Comment": self.comment, **machine} if self.comment else machine


def _transition(next_state: str | None) -> dict[str, Any]:
    return {"Next": next_state} if next_state else {"End": True}


@dataclass(frozen=True)
class Functions:
    plan: str  # Lambda function ARNs
    shard: str
    report: str


def machine(functions: Functions, stack: str, max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
            shard_timeout: int = 900) -> Machine:
    lambda_retry = Retry(LAMBDA_SERVICE_ERRORS, interval_seconds=2, max_attempts=6)
    shard = Machine("RenewShard", {
        "RenewShard": Task(
            functions.shard, comment="renew one shard of the plan; its report goes to the "
            "state store", timeout_seconds=shard_timeout, retry=(lambda_retry,),
            catch=(Catch(("States.ALL",), "ShardFailed", "$.error"),)),
        # A shard that raised (setup error, timeout, retries spent): recorded, not fatal to
        # the other shards; Report counts it.
        "ShardFailed": Pass(parameters={"shard.$": "$.shard", "error.$": "$.error"}),
    })
    return Machine("Plan", comment=f"lsctl renew fan-out for stack {stack}", states={
        "Plan": Task(functions.plan, "RenewShards", comment="decide and budget; write the plan",
                     # the execution's input whole: {} or {"force": true} both work
                     parameters={"stack": stack, "execution.$": "$$.Execution.Name",
                                 "input.$": "$"},
                     result_path="$.plan", retry=(lambda_retry,)),
        "RenewShards": Map("$.plan.shards", {
            "stack.$": "$.plan.stack", "execution.$": "$.plan.execution",
            "plan_key.$": "$.plan.plan_key", "force.$": "$.plan.force",
            "shard.$": "$$.Map.Item.Value.shard"}, shard, max_concurrency, "Report",
            "$.shards"),
        "Report": Task(functions.report, "Outcome", comment="merge, publish DaysToExpiry",
                       parameters={"plan.$": "$.plan", "shards.$": "$.shards"},
                       result_path="$.report", retry=(lambda_retry,)),
        "Outcome": Choice((ChoiceRule("$.report.failed", 0, "Failed"),
                           ChoiceRule("$.report.failed_shard_count", 0, "Failed")), "Done"),
        "Failed": Fail("DomainsFailed", "a domain or a shard failed: see the Report state's "
                                        "output (failed_domains, failed_shards)"),
        "Done": Succeed(),
    })


def definition(functions: Functions, stack: str,
               max_concurrency: int = DEFAULT_MAX_CONCURRENCY) -> str:
    return json.dumps(machine(functions, stack, max_concurrency).asl(), indent=2)
