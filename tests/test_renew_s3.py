"""`lsctl renew` with its state in S3 (moto): certificates and keys land in KMS-encrypted
objects, and a run that finds the lock held exits 2 naming the holder."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest

from acme_renewer.s3_state import S3Backend
from linkshortening.stack.s3_url import S3Location
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain
from tests.lockrace import LOCKED
from tests.test_renew import renew, statuses, write_stack
from tests.test_s3_state import BUCKET


@pytest.fixture
def s3_stack(tmp_path: Path, emulator: EmulatorControl,
             sandbox_env: SandboxState) -> tuple[Path, S3Backend]:
    s3 = boto3.client("s3", endpoint_url=sandbox_env.aws_endpoint, region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    key = boto3.client("kms", endpoint_url=sandbox_env.aws_endpoint,
                       region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    sid, name = new_domain(emulator, f"s3{uuid.uuid4().hex[:6]}.lsctl.test")
    stack = write_stack(tmp_path / "Pulumi.s3.yaml", tmp_path / "unused",
                        [{"fqdn": name, "sid": sid}])
    location = S3Location(BUCKET, f"lsctl/renew{uuid.uuid4().hex[:6]}")
    text = stack.read_text().replace(
        f"state: {{backend: directory, location: {tmp_path / 'unused'}}}",
        f"state: {{backend: s3, location: '{location}', kmsKeyId: '{key}'}}")
    assert "backend: s3" in text
    stack.write_text(text)
    return stack, S3Backend(s3, location, key)


def test_renew_keeps_its_state_in_s3_encrypted(s3_stack: tuple[Path, S3Backend],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    stack, store = s3_stack
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and set(statuses(report).values()) == {"renewed"}, output
    [fqdn] = statuses(report)
    keys = store.list_keys()
    assert {f"domains/{fqdn}/cert.json", f"domains/{fqdn}/key.pem"} <= set(keys), keys
    assert any(k.startswith("accounts/") for k in keys), keys
    for key in keys:
        head = store.client.head_object(Bucket=BUCKET, Key=f"{store.location.prefix}/{key}")
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == store.kms_key_id, key
    assert store.read("lock") is None  # released
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and set(statuses(report).values()) == {"not_due"}, output


def test_a_run_finding_the_lock_held_exits_2_naming_the_holder(
        s3_stack: tuple[Path, S3Backend], capsys: pytest.CaptureFixture[str]) -> None:
    stack, store = s3_stack
    with store.lock():
        code, report, output = renew(stack, "--force", capsys=capsys)
    assert code == 2 and report is None, output
    [line] = output.strip().splitlines()
    assert line.startswith("lsctl: ") and LOCKED.match(line.removeprefix("lsctl: ")), line
    assert f"the state lock s3://{BUCKET}/{store.location.prefix} since" in line
