"""One run report from the shards' reports: outcomes merged, failed shards named."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from acme_renewer.pipeline import Outcome, Status

SHOWN_FAILURES = 20  # the execution's output stays small: the full report is in the store


def outcome_of(data: dict[str, Any]) -> Outcome:
    """An outcome back from report_json's form."""
    def when(value: object) -> dt.datetime | None:
        return dt.datetime.fromisoformat(str(value)) if value else None

    return Outcome(str(data["domain"]), cast(Status, data["status"]),
                   str(data["detail"]), when(data.get("expires")), list(data.get("warnings", [])),
                   when(data.get("deferred_until")))


@dataclass
class RunReport:
    stack: str
    outcomes: list[Outcome] = field(default_factory=list)
    failed_shards: list[dict[str, Any]] = field(default_factory=list)  # {"shard", "error"}

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> dict[str, Any]:
        return {"stack": self.stack, "domains": len(self.outcomes),
                "counts": dict(sorted(Counter(o.status for o in self.outcomes).items())),
                "failed": len(self.failed),
                "failed_domains": [{"domain": o.fqdn, "detail": o.detail}
                                   for o in self.failed[:SHOWN_FAILURES]],
                "failed_shards": self.failed_shards[:SHOWN_FAILURES],
                "failed_shard_count": len(self.failed_shards)}
