"""Least-privilege IAM policy documents for the renewal Lambda and its schedule: pure data.

Kept apart from the resources so the documents can be read and tested as plain JSON.
"""

from __future__ import annotations

import json
from typing import Any

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
SCHEDULER_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def zone_arn(zone_id: str) -> str:
    """A hosted zone's ARN (Route53 ARNs have neither region nor account)."""
    return f"arn:aws:route53:::hostedzone/{zone_id.removeprefix('/hostedzone/')}"


def renewer_policy(*, zone_ids: list[str], list_zones: bool, state_secret_arn_prefix: str,
                   credential_secret_arns: list[str], log_group_arn: str,
                   metric_namespace: str) -> str:
    """What the renewer does, and nothing more (see acme_renewer.route53_provider)."""
    zones = [zone_arn(z) for z in sorted(set(zone_ids))]
    statements: list[dict[str, Any]] = []
    if zones:
        statements += [
            {"Sid": "ChallengeRecordsOnly", "Effect": "Allow",
             "Action": "route53:ChangeResourceRecordSets", "Resource": zones,
             "Condition": {
                 "ForAllValues:StringEquals": {
                     "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                     "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"]},
                 "ForAllValues:StringLike": {
                     "route53:ChangeResourceRecordSetsNormalizedRecordNames":
                         ["_acme-challenge.*"]}}},
            {"Sid": "ReadDeclaredZones", "Effect": "Allow",
             "Action": "route53:ListResourceRecordSets", "Resource": zones},
            {"Sid": "WaitForChanges", "Effect": "Allow", "Action": "route53:GetChange",
             "Resource": "arn:aws:route53:::change/*"},
        ]
    if list_zones:  # only when a zone is found by name: ListHostedZones has no resource scope
        statements.append({"Sid": "FindZonesByName", "Effect": "Allow",
                           "Action": "route53:ListHostedZones", "Resource": "*"})
    statements += [
        # What acme_renewer.state.SecretsManagerBackend calls, on its own prefix only.
        {"Sid": "OwnState", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                    "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret"],
         "Resource": f"{state_secret_arn_prefix}/*"},
        {"Sid": "OwnCredentials", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": sorted(credential_secret_arns)},
        {"Sid": "OwnLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"{log_group_arn}:*"},
        {"Sid": "ExpiryMetric", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
         "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": metric_namespace}}},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def scheduler_policy(function_arn: str) -> str:
    """The schedule may invoke the renewer and nothing else."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}]},
        sort_keys=True)
