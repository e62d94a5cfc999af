"""`RenewalSchedule`: the renewer as a Lambda on an EventBridge schedule, with its secrets,
least-privilege roles, log group, and alarms to an SNS topic."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import iam
from components.fanout import RenewalFanout, renewal_mode, start_execution_policy
from components.lambda_archive import HANDLER
from linkshortening.stack.model import Stack
from linkshortening.stack.profiles import renewal_plan
from linkshortening.stack.s3_url import S3Location
from linkshortening.twilio.accounts import SECRET_IDS_ENV

METRIC_NAMESPACE = "lsctl"
RUNTIME = "python3.11"  # what components.lambda_archive builds the dependencies for
SCHEDULE_GROUP = "default"  # named in the scheduler role's trust policy


def credential_secret_name(stack: Stack, what: str) -> str:
    # Outside the state prefix, so the renewer may read its credentials but never write them.
    return f"lsctl-renewer/{stack.name}/{what}"


@dataclass(frozen=True)
class RenewalInputs:
    """What the schedule needs besides the stack: its code, zones and credentials."""

    code: pulumi.Archive
    stack_file_name: str
    # Where the renewer keeps its state (linkshortening.stack.state_location, as it reads it).
    state_prefix: str
    # The Route53 zones the renewer writes challenges in, and the exact challenge records of
    # each, packed into managed policies (iam.pack_challenges): zone -> record names.
    zone_ids: dict[str, pulumi.Output[str]]
    challenges: list[dict[str, list[str]]]
    list_zones: bool  # some zone is found by name, so ListHostedZones is needed
    twilio_credentials: pulumi.Output[str] | None  # JSON for LSCTL_TWILIO_SECRET_ID (secret)
    tsig_secret: pulumi.Output[str] | None = None
    # Backend s3: the bucket and prefix (state_prefix is then its prefix), and the KMS key.
    s3_state: S3Location | None = None
    kms_key_id: str | None = None
    # lsctl:twilioAccounts: account name -> its secret JSON; one secret each, named in
    # LSCTL_TWILIO_SECRET_IDS (linkshortening.twilio.accounts), instead of the one above
    account_credentials: dict[str, pulumi.Output[str]] = field(default_factory=dict)


class RenewalSchedule(pulumi.ComponentResource):
    """`lsctl renew` for the whole stack, as often as its profile's lifetime needs (twice a
    day for 45 days and more, every 4 hours for shortlived), flexibly, as Let's Encrypt asks."""

    def __init__(self, name: str, stack: Stack, inputs: RenewalInputs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lsctl:index:RenewalSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = stack.renewal
        self.plan = renewal_plan(stack, dt.datetime.now(dt.UTC))
        function_name = f"lsctl-renew-{stack.name}"

        secret_env: dict[str, pulumi.Input[str]] = {}
        credential_arns: list[pulumi.Output[str]] = []
        self.twilio_secret: aws.secretsmanager.Secret | None = None
        if inputs.twilio_credentials is not None:
            self.twilio_secret, self.twilio_secret_version = self._secret(
                f"{name}-twilio", credential_secret_name(stack, "twilio"),
                "Twilio credentials of lsctl's renewer", inputs.twilio_credentials)
            credential_arns.append(self.twilio_secret.arn)
            secret_env["LSCTL_TWILIO_SECRET_ID"] = self.twilio_secret.arn
        # One secret per Twilio account; the renewer reads exactly these (iam.renewer_policy).
        self.account_secret_versions = {
            account: self._secret(f"{name}-twilio-{account}",
                                  credential_secret_name(stack, f"twilio-{account}"),
                                  f"Twilio credentials of account {account} for lsctl's "
                                  "renewer", value)
            for account, value in inputs.account_credentials.items()}
        self.account_secrets = {a: v[0] for a, v in self.account_secret_versions.items()}
        credential_arns += [s.arn for s in self.account_secrets.values()]
        if self.account_secrets:
            names = list(self.account_secrets)
            secret_env[SECRET_IDS_ENV] = pulumi.Output.all(
                *(s.arn for s in self.account_secrets.values())).apply(
                    lambda arns: json.dumps(dict(zip(names, arns, strict=True))))
        self.tsig_secret: aws.secretsmanager.Secret | None = None
        self.tsig_secret_version: aws.secretsmanager.SecretVersion | None = None
        if inputs.tsig_secret is not None:
            self.tsig_secret, self.tsig_secret_version = self._secret(
                f"{name}-tsig", credential_secret_name(stack, "tsig"),
                "TSIG secret of lsctl's renewer (RFC 2136 zones)", inputs.tsig_secret)
            credential_arns.append(self.tsig_secret.arn)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{function_name}", retention_in_days=90,
            opts=child)
        self._region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self)).region
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOptions(parent=self)).account_id
        self.role = aws.iam.Role(f"{name}-role",
                                 assume_role_policy=self._account.apply(iam.lambda_trust),
                                 opts=child)
        self.policy = self._renewer_policy(inputs, credential_arns)
        self.policy_resource = aws.iam.RolePolicy(f"{name}-policy", role=self.role.id,
                                                  policy=self.policy, opts=child)
        self.challenge_policies = [self._challenge_policy(f"{name}-challenges-{i}", part,
                                                          inputs.zone_ids)
                                   for i, part in enumerate(inputs.challenges)]

        environment: dict[str, pulumi.Input[str]] = {
            "LSCTL_STACK_FILE": f"stacks/{inputs.stack_file_name}",
            **secret_env,
            "LSCTL_METRIC_NAMESPACE": METRIC_NAMESPACE,
        }
        if self.tsig_secret is not None:
            environment["LSCTL_TSIG_SECRET_ID"] = self.tsig_secret.arn
        self.function = aws.lambda_.Function(
            f"{name}-function", name=function_name, runtime=RUNTIME, handler=HANDLER,
            code=inputs.code, role=self.role.arn, timeout=settings.timeout_seconds,
            memory_size=settings.memory_mb,
            # One run at a time: the state store's lock is the second line of defence, and
            # the only one where the account's quota leaves nothing to reserve.
            reserved_concurrent_executions=1 if settings.reserve_concurrency else None,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]))
        # The schedule invokes asynchronously; Lambda would retry a failed run twice within
        # minutes, repeating failed ACME validations against the CA's limits. The next
        # scheduled run is the retry; the Errors alarm says that one failed.
        self.invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-invoke", function_name=self.function.name, maximum_retry_attempts=0,
            opts=child)

        # renewal.mode fanout: the schedule starts the state machine instead (README:
        # Fan-out on Step Functions).
        self.mode = renewal_mode(stack)
        self.fanout: RenewalFanout | None = None
        target: pulumi.Output[str] = self.function.arn
        target_policy: Callable[[str], str] = iam.scheduler_policy
        if self.mode == "fanout":
            self.fanout = RenewalFanout(f"{name}-fanout", stack, inputs.code, self.role.arn,
                                        environment, self._account, self._region,
                                        [self.policy_resource], child)
            target, target_policy = self.fanout.state_machine.arn, start_execution_policy

        self.scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role", assume_role_policy=pulumi.Output.all(
                self._account, self._region).apply(
                    lambda v: iam.scheduler_trust(v[0], v[1], SCHEDULE_GROUP)),
            opts=child)
        aws.iam.RolePolicy(f"{name}-scheduler-policy", role=self.scheduler_role.id,
                           policy=target.apply(target_policy), opts=child)
        self.schedule = aws.scheduler.Schedule(
            f"{name}-schedule", schedule_expression=self.plan.schedule, group_name=SCHEDULE_GROUP,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
                mode="FLEXIBLE", maximum_window_in_minutes=settings.flexible_window_minutes),
            target=aws.scheduler.ScheduleTargetArgs(arn=target, role_arn=self.scheduler_role.arn,
                                                    input="{}" if self.fanout else None),
            description=f"lsctl renew for stack {stack.name}", opts=child)

        self._alarms(name, stack)
        self.register_outputs({"functionArn": self.function.arn,
                               "scheduleArn": self.schedule.arn, "topicArn": self.topic.arn})

    def _secret(self, name: str, secret_name: str, description: str,
                value: pulumi.Output[str]) -> tuple[aws.secretsmanager.Secret,
                                                     aws.secretsmanager.SecretVersion]:
        child = pulumi.ResourceOptions(parent=self)
        # No recovery window: the value lives in the Pulumi config anyway, and a 30-day
        # window would make a re-created stack clash with the deleted secret's name.
        secret = aws.secretsmanager.Secret(name, name=secret_name, description=description,
                                           recovery_window_in_days=0, opts=child)
        version = aws.secretsmanager.SecretVersion(name, secret_id=secret.id,
                                                   secret_string=value, opts=child)
        return secret, version

    def _renewer_policy(self, inputs: RenewalInputs,
                        credential_arns: list[pulumi.Output[str]]) -> pulumi.Output[str]:
        prefix, s3 = inputs.state_prefix, inputs.s3_state
        return pulumi.Output.all(
            self._region, self._account, self.log_group.arn, pulumi.Output.all(*credential_arns),
        ).apply(lambda v: iam.renewer_policy(
            route53=bool(inputs.zone_ids), list_zones=inputs.list_zones,
            state_secret_arn_prefix=None if s3 else
            f"arn:aws:secretsmanager:{v[0]}:{v[1]}:secret:{prefix}",
            state_statements=iam.s3_state_statements(
                s3.bucket, s3.prefix, inputs.kms_key_id and iam.kms_key_arn(
                    inputs.kms_key_id, v[0], v[1]), v[0]) if s3 else (),
            credential_secret_arns=list(v[3]), log_group_arn=v[2],
            metric_namespace=METRIC_NAMESPACE))

    def _challenge_policy(self, name: str, part: dict[str, list[str]],
                          zone_ids: dict[str, pulumi.Output[str]]) -> aws.iam.Policy:
        """Managed, not inline: a role's inline policies share 10,240 characters, while each
        managed policy has 6,144 of its own (iam.pack_challenges fills up to ten)."""
        zones = list(part)
        document = pulumi.Output.all(*(zone_ids[zone] for zone in zones)).apply(
            lambda ids: iam.challenge_policy(part, dict(zip(zones, ids, strict=True))))
        policy = aws.iam.Policy(name, policy=document,
                                description="lsctl renew: the declared domains' DNS-01 records",
                                opts=pulumi.ResourceOptions(parent=self))
        aws.iam.RolePolicyAttachment(name, role=self.role.id, policy_arn=policy.arn,
                                     opts=pulumi.ResourceOptions(parent=self))
        return policy

    def _alarms(self, name: str, stack: Stack) -> None:
        child = pulumi.ResourceOptions(parent=self)
        settings = stack.renewal
        self.topic = aws.sns.Topic(f"{name}-alarms", opts=child)
        self.email: aws.sns.TopicSubscription | None = None
        if settings.alarm_email:
            self.email = aws.sns.TopicSubscription(
                f"{name}-email", topic=self.topic.arn, protocol="email",
                endpoint=settings.alarm_email, opts=child)
        self.errors_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-errors", namespace="AWS/Lambda", metric_name="Errors",
            dimensions={"FunctionName": self.function.name}, statistic="Sum", period=3600,
            evaluation_periods=1, threshold=0, comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching", alarm_actions=[self.topic.arn],
            alarm_description="lsctl renew failed for some domain (see its log group)",
            opts=child)
        self.executions_alarm: aws.cloudwatch.MetricAlarm | None = None
        if self.fanout is not None:  # fanout: the Lambda's Errors stay 0, the execution fails
            self.executions_alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-executions", namespace="AWS/States", metric_name="ExecutionsFailed",
                dimensions={"StateMachineArn": self.fanout.state_machine.arn}, statistic="Sum",
                period=3600, evaluation_periods=1, threshold=0,
                comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn], alarm_description="lsctl renew fan-out failed "
                "for some domain or shard (see the execution's Report state)", opts=child)
        self.expiry_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-expiry", namespace=METRIC_NAMESPACE, metric_name="DaysToExpiry",
            dimensions={"Stack": stack.name}, statistic="Minimum", period=86400,
            evaluation_periods=1, threshold=self.plan.alarm_days,
            comparison_operator="LessThanThreshold",
            # No data for a day means the renewer stopped reporting: worth an alarm too.
            treat_missing_data="breaching", alarm_actions=[self.topic.arn],
            alarm_description=f"a live Link Shortening certificate of stack {stack.name} "
                              f"expires within {self.plan.alarm_days:g} days (half the "
                              f"renewal margin of its {self.plan.profile} profile), or the "
                              "renewer stopped reporting",
            opts=child)
