"""The renewer's state store: local directory (atomic, 0600, locked) and Secrets Manager."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from acme_renewer.challenge import ChallengeRecord
from acme_renewer.state import (
    DirectoryBackend,
    RenewerState,
    SecretsManagerBackend,
    StateLocked,
    StoredAccount,
    StoredCertificate,
)
from acme_renewer.state_lock import LockHolder, parse_holder
from sandbox.lifecycle import SandboxState
from tests.lockrace import (
    contend,
    one_holder_named_by_the_loser,
    taken_over_then_released_by_its_owner_only,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CERT = StoredCertificate(("a.test", "*.a.test"), "ecdsa-p256", "-----BEGIN CERTIFICATE-----\n",
                         "2026-11-01T00:00:00+00:00", "2027-01-30T00:00:00+00:00")
DIRECTORY = "https://ca/directory"
ACCOUNT = StoredAccount(DIRECTORY, "https://ca/acct/1", b"-----BEGIN PRIVATE KEY-----\n")
RECORD = ChallengeRecord("a.test", "_acme-challenge.a.test", "a.test", "v")


def round_trip(state: RenewerState) -> None:
    assert state.account(DIRECTORY) is None and state.certificate("a.test") is None
    state.save_account(ACCOUNT)
    assert state.account(DIRECTORY) == ACCOUNT
    assert state.account("https://other-ca/directory") is None  # one account per CA
    state.save_certificate("a.test", CERT, b"key")
    assert state.certificate("a.test") == CERT and state.key_pem("a.test") == b"key"
    state.save_pending_records([RECORD])
    assert state.pending_records() == [RECORD]
    state.save_pending_records([])
    assert state.pending_records() == []


def test_directory_backend(tmp_path: Path) -> None:
    round_trip(RenewerState(DirectoryBackend(tmp_path)))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o777 == 0o600, path
    assert not list(tmp_path.rglob("*.tmp"))


def test_directory_lock_excludes_a_second_run(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    with backend.lock():
        other = subprocess.run(
            [sys.executable, "-c", "import sys; from pathlib import Path;"
             "from acme_renewer.state import DirectoryBackend, StateLocked\n"
             "try:\n with DirectoryBackend(Path(sys.argv[1])).lock(): sys.exit(0)\n"
             "except StateLocked as e: print(e); sys.exit(3)", str(tmp_path)],
            capture_output=True, text=True, check=False)
        assert other.returncode == 3 and "another lsctl renew" in other.stdout
    with backend.lock():  # released after the first run
        pass


def test_bad_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad state key"):
        DirectoryBackend(tmp_path).write("../escape", b"x")


def secrets_manager(sandbox: SandboxState) -> SecretsManagerClient:
    client: SecretsManagerClient = boto3.client(
        "secretsmanager", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def test_secrets_manager_backend(sandbox: SandboxState) -> None:
    client = secrets_manager(sandbox)
    backend = SecretsManagerBackend(client, f"lsctl/{uuid.uuid4().hex[:6]}")
    round_trip(RenewerState(backend))
    with backend.lock(), pytest.raises(StateLocked, match="another lsctl run"), backend.lock():
        pass
    with backend.lock():
        pass


def lock_holder(client: SecretsManagerClient, prefix: str) -> LockHolder | None:
    try:
        value = client.get_secret_value(SecretId=f"{prefix}/lock", VersionStage="AWSCURRENT")
    except client.exceptions.ResourceNotFoundException:
        return None
    return parse_holder(value["SecretString"].encode())


def test_secrets_manager_lock_lets_one_of_two_concurrent_runs_in(sandbox: SandboxState) -> None:
    # The reproduction: 15 pairs of concurrent runs; before, one pair both held the
    # lock and two losers crashed with ResourceExistsException.
    client = secrets_manager(sandbox)
    for _ in range(15):
        prefix = f"lsctl/race{uuid.uuid4().hex[:6]}"
        stores = [SecretsManagerBackend(secrets_manager(sandbox), prefix) for _ in range(2)]
        one_holder_named_by_the_loser(*contend(stores, partial(lock_holder, client, prefix)))


def test_secrets_manager_lock_secret_is_released_not_deleted(sandbox: SandboxState) -> None:
    client = secrets_manager(sandbox)
    prefix = f"lsctl/{uuid.uuid4().hex[:6]}"
    for _ in range(3):  # taken again at once: its name was never given up
        with SecretsManagerBackend(client, prefix).lock():
            assert lock_holder(client, prefix) is not None
        assert lock_holder(client, prefix) is None  # a released marker, not a holder
        assert "DeletedDate" not in client.describe_secret(SecretId=f"{prefix}/lock")


def test_secrets_manager_expired_lock_taken_over_released_by_owner_only(
        sandbox: SandboxState) -> None:
    client = secrets_manager(sandbox)
    prefix = f"lsctl/{uuid.uuid4().hex[:6]}"
    taken_over_then_released_by_its_owner_only(
        SecretsManagerBackend(client, prefix, lock_ttl=dt.timedelta(0)),
        SecretsManagerBackend(client, prefix), partial(lock_holder, client, prefix))


def test_secrets_manager_lock_of_an_older_lsctl_is_honoured(sandbox: SandboxState) -> None:
    client = secrets_manager(sandbox)
    prefix = f"lsctl/{uuid.uuid4().hex[:6]}"
    backend = SecretsManagerBackend(client, prefix)
    backend.write("lock", dt.datetime.now(dt.UTC).isoformat().encode())  # as it wrote it
    with pytest.raises(StateLocked, match=r"another lsctl run \(an older lsctl\) has held"), \
            backend.lock():
        pass
    backend.write("lock", (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat().encode())
    with backend.lock():  # an hour old: its holder is dead
        pass


def test_secrets_manager_delete_keeps_the_secret(sandbox: SandboxState) -> None:
    # A force-deleted name is not free again at once on AWS: the journal, deleted at the end
    # of one run and written by the next, must not be deleted and re-created.
    client = secrets_manager(sandbox)
    backend = SecretsManagerBackend(client, f"lsctl/{uuid.uuid4().hex[:6]}")
    state = RenewerState(backend)
    state.save_pending_records([RECORD])
    state.save_pending_records([])
    assert state.pending_records() == []
    assert "DeletedDate" not in client.describe_secret(
        SecretId=f"{backend.prefix}/pending-challenges.json")
    assert backend.list_keys() == []
    state.save_pending_records([RECORD])
    assert state.pending_records() == [RECORD]
    assert backend.list_keys() == ["pending-challenges.json"]
