"""The renewer's state: ACME accounts (one per CA), issued certificates and keys, pending
challenge records.

Two backends behind one small interface: a local directory (atomic fsynced writes, 0600, an
flock so two runs never overlap) and AWS Secrets Manager (for the Lambda).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from acme_renewer.challenge import ChallengeRecord
from linkshortening.common.files import write_atomic

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

LOCK_STALE_AFTER = dt.timedelta(minutes=30)  # a Lambda run never lasts longer (15 min cap)
LEGACY_KEY, LEGACY_URL = "account/key.pem", "account/url"  # before accounts were kept per CA


class StateLocked(Exception):
    """Another run holds the state lock."""


class Backend(Protocol):
    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def lock(self) -> contextlib.AbstractContextManager[None]: ...


@dataclass(frozen=True)
class DirectoryBackend:
    """Files under one directory, each written atomically with mode 0600."""

    root: Path

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if key.startswith("/") or ".." in parts or "" in parts:  # keys come from domain names
            raise ValueError(f"bad state key {key!r}")
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


@dataclass
class SecretsManagerBackend:
    """One secret per key under `prefix`; the lock is a secret holding its holder's start time."""

    client: SecretsManagerClient
    prefix: str

    def _id(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def read(self, key: str) -> bytes | None:
        try:
            value = self.client.get_secret_value(SecretId=self._id(key))
        except self.client.exceptions.ResourceNotFoundException:
            return None
        return value.get("SecretBinary") or value.get("SecretString", "").encode()

    def write(self, key: str, data: bytes) -> None:
        try:
            self.client.put_secret_value(SecretId=self._id(key), SecretBinary=data)
        except self.client.exceptions.ResourceNotFoundException:
            self.client.create_secret(Name=self._id(key), SecretBinary=data)

    def delete(self, key: str) -> None:
        with contextlib.suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_secret(SecretId=self._id(key), ForceDeleteWithoutRecovery=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        # Best effort: the schedule runs twice a day with reserved concurrency 1; this only
        # guards against a manual run overlapping the scheduled one.
        held = self.read("lock")
        now = dt.datetime.now(dt.UTC)
        if held:
            since = dt.datetime.fromisoformat(held.decode())
            if now - since < LOCK_STALE_AFTER:
                raise StateLocked(f"another lsctl renew started at {since:%Y-%m-%d %H:%M} UTC "
                                  f"holds {self._id('lock')}")
        self.write("lock", now.isoformat().encode())
        try:
            yield
        finally:
            self.delete("lock")


@dataclass(frozen=True)
class StoredAccount:
    """An ACME account at one CA: the directory it was registered at, its URL and key."""

    directory: str
    url: str
    key_pem: bytes = field(repr=False)


def _account_key(directory: str) -> str:
    # A hash, not the URL: state keys come from a small safe alphabet.
    return f"accounts/{hashlib.sha256(directory.encode()).hexdigest()[:32]}.json"


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
        return StoredAccount(data["directory"], data["url"], data["key_pem"].encode())

    def save_account(self, account: StoredAccount) -> None:
        self.backend.write(_account_key(account.directory), json.dumps({
            "directory": account.directory, "url": account.url,
            "key_pem": account.key_pem.decode()}).encode())

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
