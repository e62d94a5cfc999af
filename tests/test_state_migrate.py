"""`lsctl state migrate`: a stack's directory or Secrets Manager state copied into S3 (moto),
verified, under both locks, the source left as it was."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import boto3
import pytest

from acme_renewer.challenge import ChallengeRecord
from acme_renewer.s3_state import S3Backend
from acme_renewer.state import (
    Backend,
    DirectoryBackend,
    RenewerState,
    SecretsManagerBackend,
    StoredAccount,
    StoredCertificate,
)
from linkshortening.cli.main import main
from linkshortening.stack.s3_url import S3Location
from sandbox.lifecycle import SandboxState
from tests.test_s3_state import BUCKET

CERT = StoredCertificate(("m.test",), "ecdsa-p256", "-----BEGIN CERTIFICATE-----\n",
                         "2026-11-01T00:00:00+00:00", "2027-01-30T00:00:00+00:00")
ACCOUNT = StoredAccount("https://ca/dir", "https://ca/acct/7", b"-----BEGIN PRIVATE KEY-----\n")
RECORD = ChallengeRecord("m.test", "_acme-challenge.m.test", "m.test", "v")


def fill(backend: Backend) -> list[str]:
    """A stack's state as runs leave it: an account, a certificate, its key, an ARI window
    and an interrupted run's journal; its keys."""
    import datetime as dt

    state = RenewerState(backend)
    state.save_account(ACCOUNT)
    state.save_certificate("m.test", CERT, b"-----BEGIN PRIVATE KEY-----\nm\n")
    state.save_ari("m.test", None, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    state.save_pending_records([RECORD])
    return sorted(["domains/m.test/cert.json", "domains/m.test/key.pem",
                   "domains/m.test/ari.json", "pending-challenges.json",
                   next(k for k in listed(backend) if k.startswith("accounts/"))])


def listed(backend: Backend) -> list[str]:
    keys: list[str] = backend.list_keys()  # type: ignore[attr-defined]
    return keys


def stack_file(tmp_path: Path, state: str) -> Path:
    path = tmp_path / "Pulumi.mig.yaml"
    path.write_text(textwrap.dedent(f"""\
        config:
          lsctl:acme: {{email: ops@lsctl.test, agreeTos: true, state: {state}}}
          lsctl:domains:
            - {{fqdn: m.test, zone: m.test, domainSid: DN{"a" * 32}}}
        """))
    return path


@pytest.fixture
def dest(sandbox_env: SandboxState) -> S3Backend:
    s3 = boto3.client("s3", endpoint_url=sandbox_env.aws_endpoint, region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    kms = boto3.client("kms", endpoint_url=sandbox_env.aws_endpoint, region_name="us-east-1")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    return S3Backend(s3, S3Location(BUCKET, f"lsctl/mig{uuid.uuid4().hex[:8]}"), key)


def migrate(stack: Path, dest: S3Backend, capsys: pytest.CaptureFixture[str],
            *extra: str) -> tuple[int, str]:
    code = main(["state", "migrate", "--stack", str(stack), "--to", str(dest.location),
                 "--kms-key-id", str(dest.kms_key_id), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def copied_exactly(source: Backend, dest: S3Backend, keys: list[str]) -> None:
    assert listed(dest) == keys
    for key in keys:
        assert dest.read(key) == source.read(key), key
        head = dest.client.head_object(Bucket=BUCKET, Key=f"{dest.location.prefix}/{key}")
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == \
            dest.kms_key_id, key
    assert listed(source) == keys  # never deleted


def test_migrate_from_a_directory(tmp_path: Path, dest: S3Backend,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = DirectoryBackend(tmp_path / "state")
    keys = fill(source)
    stack = stack_file(tmp_path, f"{{backend: directory, location: {source.root}}}")

    code, output = migrate(stack, dest, capsys, "--dry-run")
    assert code == 0 and "would copy 5 objects" in output, output
    assert listed(dest) == []

    code, output = migrate(stack, dest, capsys)
    assert code == 0, output
    assert f"copied and verified 5 objects: 1 ACME account(s), 1 challenge journal, " \
           f"3 domain object(s), for 1 domains from {source.root} to {dest.location}" in output
    assert f"rm -r {source.root}" in output and f"location: {dest.location}" in output
    copied_exactly(source, dest, keys)

    assert migrate(stack, dest, capsys)[0] == 0  # again: nothing differs, nothing changes
    copied_exactly(source, dest, keys)


def test_migrate_refuses_a_destination_holding_other_state(
        tmp_path: Path, dest: S3Backend, capsys: pytest.CaptureFixture[str]) -> None:
    source = DirectoryBackend(tmp_path / "state")
    fill(source)
    dest.write("domains/m.test/key.pem", b"another key")
    stack = stack_file(tmp_path, f"{{backend: directory, location: {source.root}}}")
    code, output = migrate(stack, dest, capsys)
    assert code == 2 and "already holds different state at 1 keys " \
                         "(e.g. domains/m.test/key.pem)" in output, output
    assert listed(dest) == ["domains/m.test/key.pem"]  # nothing written
    assert dest.read("domains/m.test/key.pem") == b"another key"


def test_migrate_waits_for_no_run_holding_the_source(tmp_path: Path, dest: S3Backend,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = DirectoryBackend(tmp_path / "state")
    fill(source)
    stack = stack_file(tmp_path, f"{{backend: directory, location: {source.root}}}")
    with source.lock():
        code, output = migrate(stack, dest, capsys)
    assert code == 2 and "another lsctl renew holds" in output, output
    assert listed(dest) == []


def test_migrate_from_secrets_manager(tmp_path: Path, dest: S3Backend, sandbox_env: SandboxState,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    client = boto3.client("secretsmanager", endpoint_url=sandbox_env.aws_endpoint,
                          region_name="us-east-1")
    source = SecretsManagerBackend(client, f"lsctl/sm{uuid.uuid4().hex[:6]}")
    keys = fill(source)
    stack = stack_file(tmp_path, f"{{backend: secretsmanager, location: {source.prefix}}}")
    code, output = migrate(stack, dest, capsys)
    assert code == 0 and "copied and verified 5 objects" in output, output
    assert f"Values={source.prefix}/" in output
    copied_exactly(source, dest, keys)


@pytest.mark.parametrize(("to", "problem"), [
    ("https://bucket/p", "'https://bucket/p' is not an s3://bucket/prefix URL"),
    ("s3://Bad_Bucket/p", "'Bad_Bucket' is not an S3 bucket name"),
])
def test_migrate_names_a_bad_destination(tmp_path: Path, sandbox_env: SandboxState, to: str,
                                         problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    stack = stack_file(tmp_path, f"{{backend: directory, location: {tmp_path / 'state'}}}")
    code = main(["state", "migrate", "--stack", str(stack), "--to", to])
    err = capsys.readouterr().err
    assert code == 2 and f"lsctl state migrate: --to: {problem}" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
