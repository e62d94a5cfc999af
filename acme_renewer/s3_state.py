"""The renewer's state in S3, for fleets: one object per state key under a prefix, each written
with SSE-KMS, and a lock taken by conditional write (as Terraform's S3 backend's lock file).

Keys map to objects one to one (`<prefix>/domains/<fqdn>/cert.json`, ...), so a run reads
what it reads today and rewrites only what changed: a certificate's key is rewritten only
with a new certificate, never with an ARI check (see the README's cost arithmetic).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from acme_renewer.state import StateLocked, check_key
from acme_renewer.state_lock import LOCK_STALE_AFTER, LockHolder, parse_holder
from linkshortening.stack.model import Stack
from linkshortening.stack.s3_url import S3Location
from linkshortening.stack.state_location import s3_location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LOCK_KEY = "lock"
# S3 answers a failed condition with 412; 409 when another conditional write on the same key
# is in flight (AWS: retry). Either way someone else got there first.
LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
MISSING = {"NoSuchKey", "404"}
ATTEMPTS = 3  # a lock released or taken over between our calls is looked at again, twice


class S3StateError(Exception):
    """S3 refused or could not be reached: one line naming the bucket and the fix."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass
class S3Backend:
    client: S3Client
    location: S3Location
    kms_key_id: str | None = None  # None: S3's AWS managed key (aws/s3) encrypts
    lock_ttl: dt.timedelta = LOCK_STALE_AFTER

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    @contextlib.contextmanager
    def _s3(self, doing: str) -> Iterator[None]:
        """AWS's errors as one line; the lock's and reads' own codes are handled inside."""
        try:
            yield
        except ClientError as exc:
            raise S3StateError(
                f"S3 refused to {doing} {self.location}: {_code(exc)}: "
                f"{exc.response.get('Error', {}).get('Message', '')}; check the bucket exists "
                "and the credentials may use it and its KMS key") from None
        except BotoCoreError as exc:
            raise S3StateError(f"could not {doing} {self.location}: {exc}; check AWS "
                               "credentials, region and network") from None

    def _encryption(self) -> dict[str, Any]:
        # Every write names SSE-KMS itself rather than trusting the bucket's default, and
        # asks for a bucket key: S3 then calls KMS once per bucket key, not once per object.
        extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms", "BucketKeyEnabled": True}
        if self.kms_key_id:
            extra["SSEKMSKeyId"] = self.kms_key_id
        return extra

    def read(self, key: str) -> bytes | None:
        with self._s3("read"):
            try:
                response = self.client.get_object(Bucket=self.location.bucket,
                                                  Key=self._key(key))
            except ClientError as exc:
                if _code(exc) in MISSING:
                    return None
                raise
            return response["Body"].read()

    def write(self, key: str, data: bytes) -> None:
        with self._s3("write to"):
            self._put(self._key(key), data)

    def _put(self, name: str, data: bytes, **conditions: str) -> str:
        """Write one object encrypted with KMS; its ETag. A store that answers without
        saying it encrypted with KMS (not S3, or S3 ignoring the header) gets its object
        removed again: private keys are never left in an object not encrypted with KMS."""
        extra: dict[str, Any] = {**self._encryption(), **conditions}
        response = self.client.put_object(Bucket=self.location.bucket, Key=name, Body=data,
                                          **extra)
        if response.get("ServerSideEncryption") != "aws:kms":
            self.client.delete_object(Bucket=self.location.bucket, Key=name)
            raise S3StateError(f"{self.location} did not encrypt {name} with KMS "
                               f"(ServerSideEncryption: {response.get('ServerSideEncryption')}"
                               "); use an S3 endpoint with SSE-KMS")
        return response["ETag"]

    def delete(self, key: str) -> None:
        with self._s3("delete from"):
            self.client.delete_object(Bucket=self.location.bucket, Key=self._key(key))

    def list_keys(self) -> list[str]:
        """Every state key under the prefix (not the lock)."""
        start = f"{self.location.prefix}/" if self.location.prefix else ""
        found: list[str] = []
        with self._s3("list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=start)
            for page in pages:
                found += [o["Key"].removeprefix(start) for o in page.get("Contents", [])]
        return sorted(k for k in found if k != LOCK_KEY)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        etag = self._acquire(LockHolder.new(self.lock_ttl))
        try:
            yield
        finally:
            self._release(etag)

    def _acquire(self, me: LockHolder) -> str:
        name = self._key(LOCK_KEY)
        for _ in range(ATTEMPTS):
            with contextlib.suppress(_LostRace):
                return self._conditional_put(name, me, IfNoneMatch="*")
            seen = self._lock_object(name)
            if seen is None:
                continue  # released between our two calls: try to create it again
            holder, etag = seen
            if holder is not None and not holder.expired():
                raise StateLocked(holder.describe(str(self.location)))
            # A dead holder's (or unreadable) lock: replace exactly the object we read. S3
            # applies If-Match atomically against the object's current ETag, and every lock
            # body differs (its owner id), so once one taker has written, the ETag the others
            # read no longer matches and their writes fail with 412: at most one takes over.
            # A holder that was merely slow and releases now deletes only if its own ETag
            # still matches (_release), so it cannot remove the new holder's lock either.
            with contextlib.suppress(_LostRace):
                return self._conditional_put(name, me, IfMatch=etag)
        seen = self._lock_object(name)
        if seen and seen[0]:
            raise StateLocked(seen[0].describe(str(self.location)))
        raise StateLocked(f"the state lock {self.location} changed hands {ATTEMPTS} times "
                          "while lsctl tried to take it; try again")

    def _conditional_put(self, name: str, me: LockHolder, **condition: str) -> str:
        with self._s3("take the lock of"):
            try:
                return self._put(name, me.to_json(), **condition)
            except ClientError as exc:
                if _code(exc) in LOST_RACE | MISSING:  # MISSING: If-Match on a deleted lock
                    raise _LostRace from None
                raise

    def _lock_object(self, name: str) -> tuple[LockHolder | None, str] | None:
        with self._s3("read the lock of"):
            try:
                response = self.client.get_object(Bucket=self.location.bucket, Key=name)
            except ClientError as exc:
                if _code(exc) in MISSING:
                    return None
                raise
            return parse_holder(response["Body"].read()), response["ETag"]

    def _release(self, etag: str) -> None:
        # Only our own lock: after it lapsed, another run may have taken it over (new ETag),
        # and that lock is not ours to delete.
        with self._s3("release the lock of"):
            try:
                self.client.delete_object(Bucket=self.location.bucket,
                                          Key=self._key(LOCK_KEY), IfMatch=etag)
            except ClientError as exc:
                if _code(exc) not in LOST_RACE | MISSING:
                    raise


class _LostRace(Exception):
    """Another writer's conditional write came first."""


def s3_backend(stack: Stack, project_dir: Path | None = None) -> S3Backend:
    """The stack's S3 state (lsctl:acme.state), with a boto3 client from the environment."""
    import boto3

    return S3Backend(boto3.client("s3"), s3_location(stack, project_dir),
                     stack.acme.state_kms_key_id)
