"""`RenewalSchedule`: the renewer as a Lambda on an EventBridge schedule, with its secrets,
least-privilege roles, log group, and alarms to an SNS topic."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.lambda_archive import HANDLER
from linkshortening.config import Stack

METRIC_NAMESPACE = "lsctl"


@dataclass(frozen=True)
class RenewalInputs:
    """What the schedule needs besides the stack: its code, zones and credentials."""

    code: pulumi.Archive
    stack_file_name: str
    zone_ids: list[pulumi.Output[str]]
    list_zones: bool  # some zone is found by name, so ListHostedZones is needed
    twilio_credentials: pulumi.Output[str]  # JSON for LSCTL_TWILIO_SECRET_ID (secret)
    tsig_secret: pulumi.Output[str] | None = None


class RenewalSchedule(pulumi.ComponentResource):
    """Twice a day (flexibly, as Let's Encrypt asks), `lsctl renew` for the whole stack."""

    def __init__(self, name: str, stack: Stack, inputs: RenewalInputs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lsctl:index:RenewalSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = stack.renewal
        region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self))
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        state_prefix = stack.acme.state_location or f"lsctl/{stack.name}/state"
        function_name = f"lsctl-renew-{stack.name}"

        self.twilio_secret = aws.secretsmanager.Secret(
            f"{name}-twilio", name=f"lsctl/{stack.name}/twilio", recovery_window_in_days=0,
            description="Twilio credentials of lsctl's renewer", opts=child)
        self.twilio_secret_version = aws.secretsmanager.SecretVersion(
            f"{name}-twilio", secret_id=self.twilio_secret.id,
            secret_string=inputs.twilio_credentials, opts=child)  # a secret Output
        credential_arns = [self.twilio_secret.arn]
        self.tsig_secret: aws.secretsmanager.Secret | None = None
        if inputs.tsig_secret is not None:
            self.tsig_secret = aws.secretsmanager.Secret(
                f"{name}-tsig", name=f"lsctl/{stack.name}/tsig", recovery_window_in_days=0,
                opts=child)
            aws.secretsmanager.SecretVersion(
                f"{name}-tsig", secret_id=self.tsig_secret.id,
                secret_string=inputs.tsig_secret, opts=child)  # a secret Output
            credential_arns.append(self.tsig_secret.arn)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{function_name}", retention_in_days=90,
            opts=child)
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps(iam.LAMBDA_TRUST),
                                 opts=child)
        self.policy = pulumi.Output.all(
            pulumi.Output.all(*inputs.zone_ids), region.region, account.account_id,
            self.log_group.arn, pulumi.Output.all(*credential_arns),
        ).apply(lambda v: iam.renewer_policy(
            zone_ids=list(v[0]), list_zones=inputs.list_zones,
            state_secret_arn_prefix=f"arn:aws:secretsmanager:{v[1]}:{v[2]}:secret:"
                                    f"{state_prefix}",
            credential_secret_arns=list(v[4]), log_group_arn=v[3],
            metric_namespace=METRIC_NAMESPACE))
        aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, policy=self.policy, opts=child)

        environment: dict[str, pulumi.Input[str]] = {
            "LSCTL_STACK_FILE": f"stacks/{inputs.stack_file_name}",
            "LSCTL_TWILIO_SECRET_ID": self.twilio_secret.arn,
            "LSCTL_METRIC_NAMESPACE": METRIC_NAMESPACE,
        }
        if self.tsig_secret is not None:
            environment["LSCTL_TSIG_SECRET_ID"] = self.tsig_secret.arn
        self.function = aws.lambda_.Function(
            f"{name}-function", name=function_name, runtime="python3.11", handler=HANDLER,
            code=inputs.code, role=self.role.arn, timeout=settings.timeout_seconds,
            memory_size=settings.memory_mb,
            # One run at a time: the state store's lock is the second line of defence.
            reserved_concurrent_executions=1,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]))

        self.scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role", assume_role_policy=json.dumps(iam.SCHEDULER_TRUST),
            opts=child)
        aws.iam.RolePolicy(f"{name}-scheduler-policy", role=self.scheduler_role.id,
                           policy=self.function.arn.apply(iam.scheduler_policy), opts=child)
        self.schedule = aws.scheduler.Schedule(
            f"{name}-schedule", schedule_expression=settings.schedule,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
                mode="FLEXIBLE", maximum_window_in_minutes=settings.flexible_window_minutes),
            target=aws.scheduler.ScheduleTargetArgs(arn=self.function.arn,
                                                    role_arn=self.scheduler_role.arn),
            opts=child)

        self.topic = aws.sns.Topic(f"{name}-alarms", opts=child)
        if settings.alarm_email:
            aws.sns.TopicSubscription(f"{name}-email", topic=self.topic.arn, protocol="email",
                                      endpoint=settings.alarm_email, opts=child)
        self.errors_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-errors", namespace="AWS/Lambda", metric_name="Errors",
            dimensions={"FunctionName": self.function.name}, statistic="Sum", period=3600,
            evaluation_periods=1, threshold=0, comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching", alarm_actions=[self.topic.arn],
            alarm_description="lsctl renew failed for some domain (see its log group)",
            opts=child)
        self.expiry_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-expiry", namespace=METRIC_NAMESPACE, metric_name="DaysToExpiry",
            dimensions={"Stack": stack.name}, statistic="Minimum", period=86400,
            evaluation_periods=1, threshold=settings.alarm_days,
            comparison_operator="LessThanThreshold",
            # No data means the renewer stopped reporting: that is worth an alarm too.
            treat_missing_data="breaching", alarm_actions=[self.topic.arn],
            alarm_description=f"a live Link Shortening certificate of stack {stack.name} "
                              f"expires within {settings.alarm_days} days, or the renewer "
                              "stopped reporting",
            opts=child)
        self.register_outputs({"functionArn": self.function.arn,
                               "scheduleArn": self.schedule.arn, "topicArn": self.topic.arn})
