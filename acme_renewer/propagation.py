"""Wait until every authoritative nameserver of each zone serves every challenge value.

One wait for the whole run: all records are checked together, each round asking only the
(server, name) pairs still missing, all at once through the project's DNS engine (thousands
of questions to a few servers), never past the wait's timeout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from acme_renewer.challenge import ChallengeRecord, by_zone
from linkshortening.common.progress import OnWait, WaitProgress
from linkshortening.dns import query as dnsquery
from linkshortening.dns.engine import Question, ask_all
from linkshortening.dns.rfc2136 import Endpoint

QUERY_TIMEOUT = 1.0  # seconds per try of one question (the engine retries twice)


class PropagationTimeout(Exception):
    """Some server still lacks some value; `missing` says which."""

    def __init__(self, missing: dict[ChallengeRecord, list[Endpoint]], timeout: float) -> None:
        self.missing = missing
        sample = "; ".join(f"{r.name} on {', '.join(map(str, servers))}"
                           for r, servers in list(missing.items())[:5])
        super().__init__(f"{len(missing)} challenge record(s) not served by every authoritative "
                         f"nameserver after {timeout:g}s: {sample}")


def wait_for_propagation(records: Sequence[ChallengeRecord], timeout: float = 120.0,
                         interval: float = 2.0, progress: OnWait | None = None) -> None:
    """Return when all records are served everywhere; raise PropagationTimeout otherwise.

    `progress` hears after every round how many records every nameserver serves."""
    started = time.monotonic()
    pending: dict[ChallengeRecord, list[Endpoint]] = {}
    for zone, records_in_zone in by_zone(records).items():
        servers = list(dnsquery.nameservers(zone))
        for record in records_in_zone:
            pending[record] = list(servers)
    total = len(pending)
    deadline = started + timeout
    while True:
        served = _served(pending, deadline - time.monotonic())
        for record, servers in list(pending.items()):
            servers[:] = [s for s in servers if f'"{record.value}"' not in served[s, record.name]]
            if not servers:
                del pending[record]
        if progress:
            progress(WaitProgress(total - len(pending), total, "challenge records",
                                  time.monotonic() - started, timeout))
        if not pending:
            return
        if time.monotonic() + interval > deadline:
            raise PropagationTimeout(pending, timeout)
        time.sleep(interval)  # the propagation poll interval (configurable)


def _served(pending: dict[ChallengeRecord, list[Endpoint]],
            left: float) -> dict[tuple[Endpoint, str], tuple[str, ...]]:
    """The TXT values each (server, name) still missing a record serves, asked in one batch;
    a server that does not answer serves nothing this round."""
    pairs = list(dict.fromkeys((s, r.name) for r, servers in pending.items() for s in servers))
    timeout = max(0.1, min(QUERY_TIMEOUT, left / 3))  # three tries within what is left
    # One process: the wait is network-bound, a process pool costs more than it saves here.
    replies = ask_all([Question(server, name, "TXT") for server, name in pairs],
                      timeout=timeout, processes=1)
    return {pair: reply.answer().values for pair, reply in zip(pairs, replies, strict=True)}
