"""The renewer's state: ACME accounts (one per CA), issued certificates and keys, pending
challenge records.

Backends behind one small interface: a local directory (atomic fsynced writes, 0600, an
flock so two runs never overlap), AWS Secrets Manager (small stacks on the Lambda) and S3
(fleets; acme_renewer.s3_state).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from acme_renewer.challenge import ChallengeRecord
from acme_renewer.ledger import Ledger
from acme_renewer.state_lock import LOCK_STALE_AFTER, LockHolder, parse_holder, released_marker
from linkshortening.common.files import write_atomic

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import GetSecretValueResponseTypeDef

LEGACY_KEY, LEGACY_URL = "account/key.pem", "account/url"  # before accounts were kept per CA


class StateLocked(Exception):
    """Another run holds the state lock."""


class Backend(Protocol):
    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def lock(self) -> contextlib.AbstractContextManager[None]: ...


def check_key(key: str) -> None:
    """Keys come from domain names: never absolute, never climbing out of the store."""
    parts = key.split("/")
    if key.startswith("/") or ".." in parts or "" in parts:
        raise ValueError(f"bad state key {key!r}")


@dataclass(frozen=True)
class DirectoryBackend:
    """Files under one directory, each written atomically with mode 0600."""

    root: Path

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        write_atomic(self._path(key), data)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_keys(self) -> list[str]:
        """Every state key (not the lock file, not a write in progress)."""
        if not self.root.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                      if p.is_file() and p.name != ".lock" and not p.name.endswith(".tmp"))

    def __str__(self) -> str:
        return str(self.root)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateLocked(f"another lsctl renew holds {self.root}/.lock; "
                                  "wait for it to finish") from None
            yield
        finally:
            os.close(fd)  # closing releases the flock, also when the process is killed


# A deleted key keeps its secret with this value: a force-deleted secret's name cannot be
# used again at once (AWS deletes asynchronously), and the next run would re-create it.
TOMBSTONE = "lsctl:deleted"
# The label a new lock version gets before it is made AWSCURRENT (put_secret_value needs one
# other than AWSCURRENT, or it would move AWSCURRENT unconditionally).
CANDIDATE_STAGE = "LSCTLCANDIDATE"


@dataclass
class SecretsManagerBackend:
    """One secret per key under `prefix`, for small stacks (a secret costs $0.40 a month:
    fleets use acme_renewer.s3_state). The lock is a secret holding its holder."""

    client: SecretsManagerClient
    prefix: str
    lock_ttl: dt.timedelta = LOCK_STALE_AFTER

    @classmethod
    def connect(cls, prefix: str, region: str | None = None,
                **options: Any) -> SecretsManagerBackend:
        """The backend through a client in the stack's region (common.aws.aws_client)."""
        from linkshortening.common.aws import aws_client

        return cls(aws_client("secretsmanager", region, **options), prefix)

    def _id(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def read(self, key: str) -> bytes | None:
        try:
            value = self.client.get_secret_value(SecretId=self._id(key))
        except self.client.exceptions.ResourceNotFoundException:
            return None
        if value.get("SecretString") == TOMBSTONE:
            return None
        return _secret_bytes(value)

    def write(self, key: str, data: bytes) -> None:
        try:
            self.client.put_secret_value(SecretId=self._id(key), SecretBinary=data)
        except self.client.exceptions.ResourceNotFoundException:
            self.client.create_secret(Name=self._id(key), SecretBinary=data)

    def delete(self, key: str) -> None:
        with contextlib.suppress(self.client.exceptions.ResourceNotFoundException):
            if self.read(key) is not None:
                self.client.put_secret_value(SecretId=self._id(key), SecretString=TOMBSTONE)

    def list_keys(self) -> list[str]:
        """Every state key under the prefix that holds a value (not the lock)."""
        start = f"{self.prefix}/"
        names = [secret["Name"]
                 for page in self.client.get_paginator("list_secrets").paginate(
                     Filters=[{"Key": "name", "Values": [start]}])
                 for secret in page["SecretList"] if secret["Name"].startswith(start)]
        keys = sorted(name.removeprefix(start) for name in names)
        return [k for k in keys if k != "lock" and self.read(k) is not None]

    def __str__(self) -> str:
        return f"Secrets Manager {self.prefix}/"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        me = LockHolder.new(self.lock_ttl)
        version = self._acquire(me)
        try:
            yield
        finally:
            # Released by the owner only: the swap fails when our version is no longer
            # current (our lock lapsed and another run took it over).
            self._swap(released_marker(me), version)

    def _acquire(self, me: LockHolder) -> str:
        """The lock secret's version we made current. CreateSecret is atomic: of two runs
        creating the lock, one gets ResourceExistsException. After that the secret stays
        (never deleted: its name would not be free again at once) and holds either a holder
        or a released marker; taking it over is a compare-and-swap of AWSCURRENT."""
        lock_id = self._id("lock")
        try:
            return self.client.create_secret(Name=lock_id, SecretString=me.to_json().decode(),
                                             ClientRequestToken=str(uuid.uuid4()))["VersionId"]
        except self.client.exceptions.ResourceExistsException:
            pass
        except self.client.exceptions.InvalidRequestException as exc:
            raise StateLocked(f"the lock secret {lock_id} is scheduled for deletion (by an "
                              f"older lsctl); try again in a few minutes ({exc})") from None
        current = self._current_lock(lock_id)
        holder = parse_holder(_secret_bytes(current))
        if holder is not None and not holder.expired():
            raise StateLocked(holder.describe(lock_id))
        swapped = self._swap(me.to_json(), current["VersionId"])
        if swapped is None:
            raise self._locked_now(lock_id)
        return swapped

    def _swap(self, value: bytes, expected: str) -> str | None:
        """Make `value` the lock's AWSCURRENT only if `expected` still is; its version."""
        lock_id = self._id("lock")
        token = self.client.put_secret_value(
            SecretId=lock_id, SecretString=value.decode(), ClientRequestToken=str(uuid.uuid4()),
            VersionStages=[CANDIDATE_STAGE])["VersionId"]
        try:
            # AWS: if AWSCURRENT is attached to another version than RemoveFromVersionId,
            # the operation fails. So of two runs that saw the same released (or expired)
            # lock, only the first moves AWSCURRENT; the other's version stays a candidate.
            self.client.update_secret_version_stage(
                SecretId=lock_id, VersionStage="AWSCURRENT", MoveToVersionId=token,
                RemoveFromVersionId=expected)
        except self.client.exceptions.InvalidParameterException:
            return None
        return token

    def _current_lock(self, lock_id: str) -> GetSecretValueResponseTypeDef:
        # AWSCURRENT named, not implied: the same on AWS, and moto (5.2.5) would otherwise
        # answer the version current before the last update_secret_version_stage.
        return self.client.get_secret_value(SecretId=lock_id, VersionStage="AWSCURRENT")

    def _locked_now(self, lock_id: str) -> StateLocked:
        current = self._current_lock(lock_id)
        holder = parse_holder(_secret_bytes(current))
        if holder is None:
            return StateLocked(f"the state lock {lock_id} changed hands while lsctl tried to "
                               "take it; try again")
        return StateLocked(holder.describe(lock_id))


def _secret_bytes(value: GetSecretValueResponseTypeDef) -> bytes:
    return value.get("SecretBinary") or value.get("SecretString", "").encode()


@dataclass(frozen=True)
class StoredAccount:
    """An ACME account at one CA: the directory it was registered at, its URL and key."""

    directory: str
    url: str
    key_pem: bytes = field(repr=False)
    deactivated: bool = False  # `lsctl acme account deactivate`: never used again
    # (thumbprint, ISO time it was retired) of each key rolled over from, oldest first.
    retired_keys: tuple[tuple[str, str], ...] = ()


def _account_key(directory: str, extension: str = ".json") -> str:
    # A hash, not the URL: state keys come from a small safe alphabet.
    return f"accounts/{hashlib.sha256(directory.encode()).hexdigest()[:32]}{extension}"


def _ledger_key(directory: str) -> str:
    return _account_key(directory).replace("accounts/", "ledgers/", 1)


@dataclass(frozen=True)
class StoredCertificate:
    """What the renewer last issued for a domain."""

    names: tuple[str, ...]
    key_type: str
    fullchain_pem: str
    not_before: str  # ISO 8601, UTC
    not_after: str
    # The ACME profile it was ordered with ("": none); None: stored before lsctl kept it.
    profile: str | None = None


class RenewerState:
    """Typed access to the backend's keys."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # One ACME account per CA directory: an account exists only at the CA that registered it.
    # Each is one entry (one secret in Secrets Manager), so key, URL and directory are written
    # together; the key is private: stored as PEM, never logged.
    def account(self, directory: str) -> StoredAccount | None:
        raw = self.backend.read(_account_key(directory))
        if raw is None:
            return None
        data = json.loads(raw)
        return StoredAccount(data["directory"], data["url"], data["key_pem"].encode(),
                             data.get("deactivated", False),
                             tuple((t, at) for t, at in data.get("retired_keys", ())))

    def save_account(self, account: StoredAccount) -> None:
        self.backend.write(_account_key(account.directory), json.dumps({
            "directory": account.directory, "url": account.url,
            "key_pem": account.key_pem.decode(), "deactivated": account.deactivated,
            "retired_keys": [list(k) for k in account.retired_keys]}).encode())

    # A key rollover's new key is written before the CA is asked to switch, so a run killed
    # after the CA switched still has the key the account now answers to.
    def pending_account_key(self, directory: str) -> bytes | None:
        return self.backend.read(_account_key(directory, ".next.pem"))

    def save_pending_account_key(self, directory: str, key_pem: bytes | None) -> None:
        if key_pem is None:
            self.backend.delete(_account_key(directory, ".next.pem"))
        else:
            self.backend.write(_account_key(directory, ".next.pem"), key_pem)

    def legacy_account(self) -> tuple[str, bytes] | None:
        """(URL, key) of the single account stored before accounts were kept per CA."""
        key, url = self.backend.read(LEGACY_KEY), self.backend.read(LEGACY_URL)
        return (url.decode(), key) if key and url else None

    def drop_legacy_account(self) -> None:
        self.backend.delete(LEGACY_KEY)
        self.backend.delete(LEGACY_URL)

    def certificate(self, fqdn: str) -> StoredCertificate | None:
        raw = self.backend.read(f"domains/{fqdn}/cert.json")
        if raw is None:
            return None
        data = json.loads(raw)
        data["names"] = tuple(data["names"])
        return StoredCertificate(**data)

    def key_pem(self, fqdn: str) -> bytes | None:
        return self.backend.read(f"domains/{fqdn}/key.pem")

    def save_certificate(self, fqdn: str, cert: StoredCertificate, key_pem: bytes) -> None:
        # Key first: a certificate on disk must never lack its key.
        self.backend.write(f"domains/{fqdn}/key.pem", key_pem)
        self.backend.write(f"domains/{fqdn}/cert.json", json.dumps(asdict(cert)).encode())

    def ari(self, fqdn: str) -> tuple[dt.datetime | None, dt.datetime] | None:
        """The CA's last renewal time for the domain and when it may be asked again."""
        raw = self.backend.read(f"domains/{fqdn}/ari.json")
        if raw is None:
            return None
        data = json.loads(raw)
        renew_at = dt.datetime.fromisoformat(data["renew_at"]) if data["renew_at"] else None
        return renew_at, dt.datetime.fromisoformat(data["next_check"])

    def save_ari(self, fqdn: str, renew_at: dt.datetime | None, next_check: dt.datetime) -> None:
        self.backend.write(f"domains/{fqdn}/ari.json", json.dumps({
            "renew_at": renew_at.isoformat() if renew_at else None,
            "next_check": next_check.isoformat()}).encode())

    # The rate ledger (acme_renewer.ledger): what this account spent of the CA's limits. One
    # per CA directory, like the account it counts for.
    def ledger(self, directory: str) -> Ledger:
        raw = self.backend.read(_ledger_key(directory))
        return Ledger.from_json(raw) if raw else Ledger()

    def save_ledger(self, directory: str, ledger: Ledger) -> None:
        self.backend.write(_ledger_key(directory), ledger.to_json())

    # Challenge records are written before they are created in DNS, so a crashed run's
    # leftovers are known to the next run, which removes them first.
    def pending_records(self) -> list[ChallengeRecord]:
        raw = self.backend.read("pending-challenges.json")
        return [ChallengeRecord(**r) for r in json.loads(raw)] if raw else []

    def save_pending_records(self, records: list[ChallengeRecord]) -> None:
        if records:
            self.backend.write("pending-challenges.json",
                               json.dumps([asdict(r) for r in records]).encode())
        else:
            self.backend.delete("pending-challenges.json")
