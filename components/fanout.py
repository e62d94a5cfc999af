"""`renewal.mode: fanout`: the renewer as a Step Functions state machine (plan, a Map of
shard Lambdas, report), started by the schedule. The IAM documents are pure functions, the
resources a component under RenewalSchedule."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from acme_renewer.fanout.plan import Cost
from components import iam
from components.state_machine import Functions, definition
from linkshortening.stack.model import Stack

HANDLERS = {"plan": "acme_renewer.fanout.handlers.plan_handler",
            "shard": "acme_renewer.fanout.handlers.shard_handler",
            "report": "acme_renewer.fanout.handlers.report_handler"}
# Above one shard's worth of ACME domains (acme_renewer.fanout.plan.Cost's capacity, 160 by
# the default cost model) a single Lambda may not finish a renewal wave: fan out.
FANOUT_ABOVE = Cost().capacity


def renewal_mode(stack: Stack) -> str:
    """The stack's renewal.mode, or by size: fanout above one shard's worth of domains."""
    if stack.renewal.mode:
        return stack.renewal.mode
    acme = sum(d.certificate == "acme" for d in stack.domains)
    return "fanout" if acme > FANOUT_ABOVE else "single"


def states_trust(account_id: str, region: str) -> str:
    """Step Functions, for this account's state machines only (confused deputy guidance)."""
    return iam._trust("states.amazonaws.com", {
        "aws:SourceAccount": account_id,
        "aws:SourceArn": f"arn:aws:states:{region}:{account_id}:stateMachine:*"})


def state_machine_policy(function_arns: Sequence[str]) -> str:
    """The state machine may invoke exactly the fan-out's functions."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "InvokeRenewalFunctions", "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Resource": sorted(function_arns)}]}, sort_keys=True)


def start_execution_policy(state_machine_arn: str) -> str:
    """The schedule may start the renewal state machine and nothing else."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "states:StartExecution",
        "Resource": state_machine_arn}]}, sort_keys=True)


class RenewalFanout(pulumi.ComponentResource):
    """The plan, shard and report functions (one code archive, the renewer's role) and the
    state machine that runs them."""

    def __init__(self, name: str, stack: Stack, code: pulumi.Archive, role_arn: pulumi.Input[str],
                 environment: Mapping[str, pulumi.Input[str]], account: pulumi.Output[str],
                 region: pulumi.Output[str], depends_on: Sequence[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lsctl:index:RenewalFanout", name, None, opts)
        from components.renewal import RUNTIME  # renewal imports this module

        child = pulumi.ResourceOptions(parent=self)
        settings = stack.renewal
        shard_seconds = min(Cost.shard_seconds, settings.timeout_seconds * 2 / 3)
        self.functions: dict[str, aws.lambda_.Function] = {}
        for step, handler in HANDLERS.items():
            function_name = f"lsctl-renew-{stack.name}-{step}"
            logs = aws.cloudwatch.LogGroup(f"{name}-{step}-logs", retention_in_days=90,
                                           name=f"/aws/lambda/{function_name}", opts=child)
            self.functions[step] = aws.lambda_.Function(
                f"{name}-{step}", name=function_name, runtime=RUNTIME, handler=handler,
                code=code, role=role_arn, timeout=settings.timeout_seconds,
                memory_size=settings.memory_mb,
                environment=aws.lambda_.FunctionEnvironmentArgs(variables={
                    **environment, "LSCTL_SHARD_SECONDS": f"{shard_seconds:g}"}),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, *depends_on]))
        arns = [f.arn for f in self.functions.values()]
        self.role = aws.iam.Role(f"{name}-states-role", assume_role_policy=pulumi.Output.all(
            account, region).apply(lambda v: states_trust(v[0], v[1])), opts=child)
        aws.iam.RolePolicy(f"{name}-states-policy", role=self.role.id,
                           policy=pulumi.Output.all(*arns).apply(state_machine_policy),
                           opts=child)
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-machine", name=f"lsctl-renew-{stack.name}", role_arn=self.role.arn,
            definition=pulumi.Output.all(*arns).apply(lambda a: definition(
                Functions(*a), stack.name, settings.max_concurrency)), opts=child)
        self.register_outputs({"stateMachineArn": self.state_machine.arn})
