"""Least-privilege IAM policy documents for the renewal Lambda and its schedule: pure data.

Kept apart from the resources so the documents can be read and tested as plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from acme_renewer.challenge import challenge_name

# IAM's limits, counted in characters other than white space: a role's inline policies
# together, one customer managed policy, and the managed policies a role may have attached
# (AWS's default quota; it can be raised to 20).
INLINE_LIMIT = 10_240
MANAGED_LIMIT = 6_144
MANAGED_PER_ROLE = 10
# Route53 hosted zone IDs are at most 32 characters: policies are packed as if each were, so
# real zone IDs can only make them shorter.
ZONE_ID_LENGTH = 32
# What DNS-01 needs: add and remove TXT values (UPSERT, DELETE), nothing else.
CHALLENGE_CONDITIONS = {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                        "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"]}
NAMES_KEY = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
# The characters Route53's normalized record names keep as they are; any other is \ooo.
PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class PolicyTooLarge(Exception):
    """The exact challenge names do not fit the managed policies a role may have."""


def lambda_trust(account_id: str) -> str:
    """Lambda, for this account only. AWS documents no aws:SourceArn that Lambda sets when it
    assumes an execution role, so none is required (it would stop the function)."""
    return _trust("lambda.amazonaws.com", {"aws:SourceAccount": account_id})


def scheduler_trust(account_id: str, region: str, schedule_group: str) -> str:
    """EventBridge Scheduler, for schedules of this account's group only (AWS's confused
    deputy guidance: aws:SourceArn is the schedule group's ARN, never a schedule's)."""
    return _trust("scheduler.amazonaws.com", {
        "aws:SourceAccount": account_id,
        "aws:SourceArn": f"arn:aws:scheduler:{region}:{account_id}:"
                         f"schedule-group/{schedule_group}"})


def _trust(service: str, conditions: dict[str, str]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": conditions}}]}, sort_keys=True)


def zone_arn(zone_id: str) -> str:
    """A hosted zone's ARN (Route53 ARNs have neither region nor account)."""
    return f"arn:aws:route53:::hostedzone/{zone_id.removeprefix('/hostedzone/')}"


def challenge_record_names(names: Iterable[str]) -> list[str]:
    """The `_acme-challenge.<name>` records of certificate names (`*.x` answers at
    `_acme-challenge.x`), as Route53's condition key spells them: lower case, no trailing dot,
    other characters than a-z 0-9 - _ . as a backslash and three octal digits."""
    records = {challenge_name(name) for name in names}
    return sorted("".join(c if c in PLAIN else "".join(f"\\{b:03o}" for b in c.encode())
                          for c in record) for record in records)


def pack_challenges(names_by_zone: Mapping[str, Sequence[str]]) -> list[dict[str, list[str]]]:
    """The challenge records of each zone (zone -> record names) split into as few managed
    policies as hold them (whole zones where they fit), each under MANAGED_LIMIT, or
    PolicyTooLarge past MANAGED_PER_ROLE of them."""
    parts: list[dict[str, list[str]]] = [{}]
    for zone, names in names_by_zone.items():
        for name in names:
            parts[-1].setdefault(zone, []).append(name)
            if _size(parts[-1]) <= MANAGED_LIMIT:
                continue
            parts[-1][zone].pop()
            if not parts[-1][zone]:
                del parts[-1][zone]
            parts.append({zone: [name]})
            if len(parts) > MANAGED_PER_ROLE:
                total = sum(len(n) for n in names_by_zone.values())
                raise PolicyTooLarge(
                    f"the {total} challenge records of {len(names_by_zone)} zones need more "
                    f"than the {MANAGED_PER_ROLE} managed policies of "
                    f"{MANAGED_LIMIT} characters an IAM role may have")
    return [part for part in parts if part]


def _size(part: Mapping[str, Sequence[str]]) -> int:
    longest = {zone: f"Z{i:0{ZONE_ID_LENGTH - 1}d}" for i, zone in enumerate(part)}
    return len(challenge_policy(part, longest))


def challenge_policy(part: Mapping[str, Sequence[str]], zone_ids: Mapping[str, str]) -> str:
    """May UPSERT and DELETE TXT records of exactly these names in these zones, and read the
    zones' records. One statement covers the part's zones: Route53 refuses a record whose name
    is outside its zone, so a name can only be written in the zone that holds it."""
    zones = sorted({zone_arn(zone_ids[zone]) for zone in part})
    names = sorted({name for zone_names in part.values() for name in zone_names})
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ChallengeRecordsOnly", "Effect": "Allow",
         "Action": "route53:ChangeResourceRecordSets", "Resource": zones,
         "Condition": {"ForAllValues:StringEquals": {**CHALLENGE_CONDITIONS, NAMES_KEY: names}}},
        {"Sid": "ReadDeclaredZones", "Effect": "Allow",
         "Action": "route53:ListResourceRecordSets", "Resource": zones},
    ]}, sort_keys=True, separators=(",", ":"))


def kms_key_arn(key: str, region: str, account_id: str) -> str:
    """The ARN of a KMS key given as ARN or key ID; ValueError for an alias (IAM cannot name
    a key by its alias, and an alias can be moved to another key)."""
    if key.startswith("arn:") and ":key/" in key:
        return key
    if key.startswith("alias/") or ":alias/" in key:
        raise ValueError(f"{key!r} is an alias")
    return f"arn:aws:kms:{region}:{account_id}:key/{key}"


def s3_state_statements(bucket: str, prefix: str, kms_key: str | None,
                        region: str) -> list[dict[str, Any]]:
    """What acme_renewer.s3_state.S3Backend calls, on its own prefix and key only. Without a
    key of the stack's, S3's AWS managed key (aws/s3) encrypts: its key policy already lets
    the account's principals use it through S3, so no KMS statement is needed."""
    statements: list[dict[str, Any]] = [
        {"Sid": "OwnStateObjects", "Effect": "Allow",
         "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*"},
        # Also what turns a missing object into 404 rather than 403 for GetObject.
        {"Sid": "ListOwnState", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}},
    ]
    if kms_key:
        statements.append({
            "Sid": "StateKeyThroughS3", "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": kms_key,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}})
    return statements


def renewer_policy(*, route53: bool, list_zones: bool, state_secret_arn_prefix: str | None,
                   credential_secret_arns: list[str], log_group_arn: str,
                   metric_namespace: str,
                   state_statements: Sequence[dict[str, Any]] = ()) -> str:
    """What the renewer does besides writing challenges (challenge_policy), and nothing more
    (see acme_renewer.route53_provider). Its state: a Secrets Manager prefix, or
    `state_statements` (s3_state_statements)."""
    statements: list[dict[str, Any]] = []
    if route53:
        statements.append({"Sid": "WaitForChanges", "Effect": "Allow",
                           "Action": "route53:GetChange",
                           "Resource": "arn:aws:route53:::change/*"})
    if list_zones:  # only when a zone is found by name: ListHostedZones has no resource scope
        statements.append({"Sid": "FindZonesByName", "Effect": "Allow",
                           "Action": "route53:ListHostedZones", "Resource": "*"})
    if state_secret_arn_prefix is not None:
        # What acme_renewer.state.SecretsManagerBackend calls, on its own prefix only (the
        # lock is taken over by moving AWSCURRENT; no secret is ever deleted).
        statements.append({
            "Sid": "OwnState", "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                       "secretsmanager:CreateSecret", "secretsmanager:UpdateSecretVersionStage"],
            "Resource": f"{state_secret_arn_prefix}/*"})
    statements += [*state_statements]
    statements += [
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
