"""The S3 state store against moto in server mode: round trip, SSE-KMS on every object, and
the conditional-write lock (one holder at a time, dead holders taken over, owner-only release)."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

from acme_renewer.s3_state import LOCK_KEY, S3Backend, S3StateError
from acme_renewer.state import RenewerState, StateLocked
from acme_renewer.state_lock import LockHolder
from linkshortening.stack.s3_url import S3Location
from sandbox.lifecycle import SandboxState
from tests.lockrace import (
    LOCKED,
    contend,
    one_holder_named_by_the_loser,
    taken_over_then_released_by_its_owner_only,
)
from tests.test_state import round_trip

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "lsctl-state-test"


def aws(sandbox: SandboxState, service: str) -> S3Client:
    client: S3Client = boto3.client(
        service, endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",  # type: ignore[call-overload]
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}))
    return client


@pytest.fixture(scope="module")
def s3(sandbox: SandboxState) -> S3Client:
    client = aws(sandbox, "s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def kms_key(sandbox: SandboxState) -> str:
    kms = boto3.client("kms", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return kms.create_key(Description="lsctl state test")["KeyMetadata"]["Arn"]


def backend(s3: S3Client, prefix: str, kms_key: str | None = None,
            ttl: dt.timedelta = dt.timedelta(minutes=30)) -> S3Backend:
    return S3Backend(s3, S3Location(BUCKET, prefix), kms_key, ttl)


@pytest.fixture
def prefix() -> str:
    return f"lsctl/t{uuid.uuid4().hex[:8]}"


def test_round_trip_every_object_encrypted_with_the_key(s3: S3Client, kms_key: str,
                                                       prefix: str) -> None:
    store = backend(s3, prefix, kms_key)
    round_trip(RenewerState(store))
    keys = store.list_keys()
    assert "domains/a.test/key.pem" in keys and any(k.startswith("accounts/") for k in keys)
    for key in keys:
        head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}/{key}")
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == kms_key, key
        assert head["BucketKeyEnabled"] is True, key
    store.delete("domains/a.test/key.pem")
    assert store.read("domains/a.test/key.pem") is None
    assert "domains/a.test/key.pem" not in store.list_keys()


def test_without_a_key_s3s_own_kms_key_encrypts(s3: S3Client, prefix: str) -> None:
    store = backend(s3, prefix)
    store.write("domains/b.test/key.pem", b"key")
    head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}/domains/b.test/key.pem")
    assert head["ServerSideEncryption"] == "aws:kms" and "SSEKMSKeyId" not in head


class NoEncryption(http.server.BaseHTTPRequestHandler):
    """An S3-like endpoint that stores objects but ignores SSE headers (answers without
    x-amz-server-side-encryption), recording what it was asked."""

    requests: list[tuple[str, str]] = []  # noqa: RUF012  (shared by the handler's instances)

    def _answer(self, status: int) -> None:
        self.requests.append((self.command, self.path))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(status)
        self.send_header("ETag", '"e"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self._answer(200)

    def do_DELETE(self) -> None:
        self._answer(204)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def unencrypting_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoEncryption)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_object_the_store_did_not_encrypt_is_removed(unencrypting_endpoint: str) -> None:
    client = boto3.client("s3", endpoint_url=unencrypting_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"max_attempts": 1}))
    NoEncryption.requests.clear()
    store = S3Backend(client, S3Location(BUCKET, "p"))
    with pytest.raises(S3StateError, match=r"did not encrypt p/domains/c\.test/key\.pem with KMS"):
        store.write("domains/c.test/key.pem", b"private")
    assert [m for m, _ in NoEncryption.requests] == ["PUT", "DELETE"]


def test_s3_errors_are_one_line_naming_the_bucket(s3: S3Client) -> None:
    store = S3Backend(s3, S3Location("no-such-bucket-here", "p"))
    with pytest.raises(S3StateError, match=r"S3 refused to write to s3://no-such-bucket-here/p: "
                                           r"NoSuchBucket"):
        store.write("x.json", b"{}")


def test_a_second_run_is_locked_out_naming_the_holder(s3: S3Client, prefix: str) -> None:
    first, second = backend(s3, prefix), backend(s3, prefix)
    with first.lock():
        with pytest.raises(StateLocked) as locked, second.lock():
            pass
        match = LOCKED.match(str(locked.value))
        holder = held_by(s3, prefix)
        assert match and holder, locked.value
        assert match["owner"] == holder.owner
        assert match["since"] == f"{holder.since:%Y-%m-%d %H:%M:%S}"
    assert held_by(s3, prefix) is None  # released
    with second.lock():
        pass


def test_an_expired_lock_is_taken_over_and_only_its_owner_releases(s3: S3Client,
                                                                    prefix: str) -> None:
    taken_over_then_released_by_its_owner_only(
        backend(s3, prefix, ttl=dt.timedelta(0)), backend(s3, prefix), partial(held_by, s3, prefix))


def held_by(s3: S3Client, prefix: str) -> LockHolder | None:
    from acme_renewer.state_lock import parse_holder

    try:
        body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{LOCK_KEY}")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return parse_holder(body)


def test_an_unreadable_lock_is_taken_over(s3: S3Client, prefix: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{LOCK_KEY}", Body=b"not json")
    with backend(s3, prefix).lock():
        assert held_by(s3, prefix) is not None


def test_fifty_pairs_of_concurrent_runs_never_hold_the_lock_together(
        sandbox: SandboxState, s3: S3Client) -> None:
    pool = Config(retries={"max_attempts": 1}, max_pool_connections=4)
    clients = [boto3.client("s3", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=pool) for _ in range(2)]
    for _ in range(50):
        prefix = f"race/{uuid.uuid4().hex[:8]}"
        one_holder_named_by_the_loser(*contend(
            [S3Backend(c, S3Location(BUCKET, prefix)) for c in clients],
            partial(held_by, s3, prefix)))


def test_two_runs_taking_over_one_dead_lock_let_in_one(sandbox: SandboxState,
                                                       s3: S3Client) -> None:
    for _ in range(20):
        prefix = f"takeover/{uuid.uuid4().hex[:8]}"
        dead = LockHolder("0" * 32 + " on gone pid 1", dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                          dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC))
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{LOCK_KEY}", Body=dead.to_json())
        one_holder_named_by_the_loser(*contend(
            [backend(aws(sandbox, "s3"), prefix) for _ in range(2)],
            partial(held_by, s3, prefix)))
