"""The renewer's state store: local directory (atomic, 0600, locked) and Secrets Manager."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

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
from sandbox.lifecycle import SandboxState

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


def test_secrets_manager_backend(sandbox: SandboxState) -> None:
    client = boto3.client("secretsmanager", endpoint_url=sandbox.aws_endpoint,
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    backend = SecretsManagerBackend(client, f"lsctl/{uuid.uuid4().hex[:6]}")
    round_trip(RenewerState(backend))
    with backend.lock(), pytest.raises(StateLocked, match="another lsctl renew"), backend.lock():
        pass
    with backend.lock():
        pass
