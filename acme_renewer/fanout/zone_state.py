"""The state a shard works with: the stack's store, locked and journalled per zone.

Shards of one run work side by side, so none may take the stack's one lock. Each shard
instead takes one lock per zone it renews (sorted, each with the store's own atomic lock:
flock, S3 conditional write, Secrets Manager CreateSecret), and keeps its challenge journal
per zone. A domain belongs to exactly one zone, so two runs holding a domain's zone lock at
once is impossible; whichever comes second decides again under the lock and finds the
certificate the first stored not due. The locks live in the store under locks/<zone>/
(inside the prefix the renewer's IAM policy grants; the directory's .lock files and S3's
released locks are not keys; Secrets Manager keeps a released marker there, as for its
stack lock)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict

from acme_renewer.challenge import ChallengeRecord
from acme_renewer.state import Backend, DirectoryBackend, RenewerState, SecretsManagerBackend
from linkshortening.stack.model import DomainSpec


def journal_key(zone: str) -> str:
    return f"pending-challenges/{zone}.json"


def lock_backend(backend: Backend, zone: str) -> Backend:
    """A backend of the same kind beside `backend`, used only for its lock."""
    from acme_renewer.s3_state import S3Backend

    if isinstance(backend, DirectoryBackend):
        return DirectoryBackend(backend.root / "locks" / zone)
    if isinstance(backend, S3Backend):
        prefix = backend.location.prefix
        location = dataclasses.replace(
            backend.location, prefix=f"{prefix}/locks/{zone}" if prefix else f"locks/{zone}")
        return dataclasses.replace(backend, location=location)
    if isinstance(backend, SecretsManagerBackend):
        return dataclasses.replace(backend, prefix=f"{backend.prefix}/locks/{zone}")
    raise TypeError(f"no per-zone lock for {type(backend).__name__}")


class ZoneLocked:
    """`backend` with its lock() replaced by the locks of `zones`."""

    def __init__(self, backend: Backend, zones: Sequence[str]) -> None:
        self.inner, self.zones = backend, tuple(sorted(set(zones)))

    def read(self, key: str) -> bytes | None:
        return self.inner.read(key)

    def write(self, key: str, data: bytes) -> None:
        self.inner.write(key, data)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def __str__(self) -> str:
        return str(self.inner)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with contextlib.ExitStack() as held:  # a zone already held: StateLocked, all released
            for zone in self.zones:
                held.enter_context(lock_backend(self.inner, zone).lock())
            yield


class ZoneState(RenewerState):
    """RenewerState whose lock and challenge journal are those of `specs`' zones only.

    A record is journalled under its domain's zone, not the zone it lands in (a challenge
    delegated by CNAME lands elsewhere): the journal follows the lock that guards it."""

    def __init__(self, state: RenewerState, specs: Sequence[DomainSpec]) -> None:
        self.locked = ZoneLocked(state.backend, [s.zone for s in specs])
        self.zone_of = {name: s.zone for s in specs for name in s.names}
        super().__init__(self.locked)

    def pending_records(self) -> list[ChallengeRecord]:
        records: list[ChallengeRecord] = []
        for zone in self.locked.zones:
            raw = self.backend.read(journal_key(zone))
            records += [ChallengeRecord(**r) for r in json.loads(raw)] if raw else []
        return records

    def save_pending_records(self, records: list[ChallengeRecord]) -> None:
        grouped: dict[str, list[ChallengeRecord]] = {}
        for record in records:
            grouped.setdefault(self.zone_of.get(record.identifier, record.zone),
                               []).append(record)
        for zone in self.locked.zones:
            if zone in grouped:
                self.backend.write(journal_key(zone), json.dumps(
                    [asdict(r) for r in grouped[zone]]).encode())
            else:
                self.backend.delete(journal_key(zone))
