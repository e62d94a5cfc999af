"""Who holds a state store's lock: an owner id, since when, and until when a dead holder's
lock stands. The S3 and Secrets Manager locks store this as JSON; a store's own conditional
write makes taking it atomic (acme_renewer.s3_state, acme_renewer.state)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from dataclasses import dataclass

# A run never lasts longer (the Lambda's cap is 15 minutes, `lsctl renew` has its deadline):
# a lock older than this was left by a dead holder and may be taken over.
LOCK_STALE_AFTER = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class LockHolder:
    owner: str  # uuid, host and pid: unique per run, and says where to look for it
    since: dt.datetime
    expires: dt.datetime

    @classmethod
    def new(cls, ttl: dt.timedelta = LOCK_STALE_AFTER) -> LockHolder:
        now = dt.datetime.now(dt.UTC)
        owner = f"{uuid.uuid4().hex} on {socket.gethostname()} pid {os.getpid()}"
        return cls(owner, now, now + ttl)

    def to_json(self) -> bytes:
        return json.dumps({"owner": self.owner, "since": self.since.isoformat(),
                           "expires": self.expires.isoformat()}).encode()

    def expired(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(dt.UTC)) >= self.expires

    def describe(self, where: str) -> str:
        """StateLocked's one line: who holds `where`, since when, and when it lapses."""
        return (f"another lsctl run ({self.owner}) has held the state lock {where} since "
                f"{self.since:%Y-%m-%d %H:%M:%S} UTC; wait for it to finish (were it dead, "
                f"its lock lapses at {self.expires:%H:%M:%S} UTC)")


def released_marker(by: LockHolder) -> bytes:
    """What a released lock holds where the store keeps the lock object (Secrets Manager)."""
    return json.dumps({"released": dt.datetime.now(dt.UTC).isoformat(),
                       "by": by.owner}).encode()


def parse_holder(raw: bytes) -> LockHolder | None:
    """The holder in a lock's content; None when it was released or cannot be read (such a
    lock is taken over, conditionally, like an expired one)."""
    try:
        text = raw.decode()
        data = json.loads(text) if text.startswith("{") else {
            # Before owner ids, the Secrets Manager lock held only its start time.
            "owner": "an older lsctl", "since": text,
            "expires": (dt.datetime.fromisoformat(text) + LOCK_STALE_AFTER).isoformat()}
        if "released" in data:
            return None
        return LockHolder(str(data["owner"]), _utc(data["since"]), _utc(data["expires"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _utc(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
