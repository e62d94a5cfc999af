"""The renewal job in AWS Lambda: the same pipeline as `lsctl renew`, fed from Secrets Manager.

Environment (set by the RenewalSchedule component):
  LSCTL_STACK_FILE         the stack file in the archive (default stacks/Pulumi.<stack>.yaml)
  LSCTL_TWILIO_SECRET_ID   secret holding {"account_sid", "auth_token"} or
                           {"account_sid", "api_key", "api_secret"}
  LSCTL_TWILIO_SECRET_IDS  instead, for a stack with lsctl:twilioAccounts: JSON account name
                           -> secret id, one secret per account of the same shape, read by
                           linkshortening.twilio.accounts when that account's client is built
  LSCTL_TSIG_SECRET_ID     optional: secret holding the TSIG secret (RFC 2136 zones)
  LSCTL_METRIC_NAMESPACE   CloudWatch namespace for DaysToExpiry (default lsctl)
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linkshortening.common.deadline import Deadline

# Left of the invocation's time when the Twilio client stops retrying and waiting: enough to
# record state, publish the metric and return the report.
DEADLINE_MARGIN = 30.0
TWILIO_KEYS = {"account_sid": "TWILIO_ACCOUNT_SID", "auth_token": "TWILIO_AUTH_TOKEN",
               "api_key": "TWILIO_API_KEY", "api_secret": "TWILIO_API_SECRET"}


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Renew every due domain; return the report (status per domain) as JSON-able data."""
    import boto3

    from acme_renewer.cli import report_json
    from acme_renewer.pipeline import RenewOptions, renew_stack
    from acme_renewer.wiring import run_parts
    from linkshortening.stack.load import load_stack_file

    secrets = boto3.client("secretsmanager")
    _load_secrets(secrets)
    stack = load_stack_file(stack_file(event))
    specs = stack.select(event.get("domains"))
    # Every credential checked before the first ACME call; every phase (ACME, DNS, Twilio)
    # stops retrying and waiting DEADLINE_MARGIN before the invocation's end.
    deadline = _deadline(context).child(DEADLINE_MARGIN)
    parts = run_parts(stack, deadline=deadline)
    report = renew_stack(stack, specs, parts.state, parts.api, parts.dns, parts.open_account,
                         RenewOptions(force=bool(event.get("force", False)),
                                      dry_run=bool(event.get("dry_run", False)),
                                      deadline=deadline),
                         lambda phase, domain, message: print(
                             json.dumps({"phase": phase, "domain": domain, "message": message})))
    _publish_days_to_expiry(boto3.client("cloudwatch"), report, stack.name)
    result = report_json(report)
    print(json.dumps(result))
    if report.exit_code:
        # A failed invocation is what the CloudWatch Errors alarm counts.
        raise RuntimeError(f"{len(report.failed)} domain(s) failed: "
                           + ", ".join(o.fqdn for o in report.failed))
    return result


def stack_file(event: dict[str, Any]) -> Path:
    """The stack file in the archive (shared with acme_renewer.fanout.handlers)."""
    return Path(os.environ.get("LSCTL_STACK_FILE")
                or Path(__file__).resolve().parent.parent / "stacks" /
                f"Pulumi.{event.get('stack', 'prod')}.yaml")


def _deadline(context: object) -> Deadline:
    """The invocation's end, from Lambda's context; none outside Lambda (a test's context)."""
    from linkshortening.common.deadline import Deadline

    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return Deadline.after(remaining() / 1000) if callable(remaining) else Deadline.never()


def _load_secrets(client: Any) -> None:
    """Credentials into the environment variables the clients read; values never logged."""
    twilio_id = os.environ.get("LSCTL_TWILIO_SECRET_ID")
    if twilio_id:
        values = json.loads(client.get_secret_value(SecretId=twilio_id)["SecretString"])
        for key, variable in TWILIO_KEYS.items():
            if values.get(key):
                os.environ[variable] = values[key]
    tsig_id = os.environ.get("LSCTL_TSIG_SECRET_ID")
    if tsig_id:
        os.environ["LSCTL_TSIG_SECRET"] = client.get_secret_value(
            SecretId=tsig_id)["SecretString"].strip()


def _publish_days_to_expiry(cloudwatch: Any, report: Any, stack: str) -> None:
    """The fewest days left of any domain's live certificate: the alarm fires days before
    Twilio's 30131 warning would."""
    now = dt.datetime.now(dt.UTC)
    days = [(o.expires - now).total_seconds() / 86400 for o in report.outcomes if o.expires]
    if not days:
        return
    cloudwatch.put_metric_data(
        Namespace=os.environ.get("LSCTL_METRIC_NAMESPACE", "lsctl"),
        MetricData=[{"MetricName": "DaysToExpiry", "Dimensions": [
            {"Name": "Stack", "Value": stack}], "Value": min(days), "Unit": "None"}])
