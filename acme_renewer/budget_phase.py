"""The rate budget inside one run: after the decision, plan which due domains are ordered
(the rest `deferred`); after issuance, write what was spent into the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from acme_renewer.account import ca_endpoint
from acme_renewer.budget import Budget, Due, plan
from acme_renewer.limits import limits_for
from linkshortening.stack.model import AcmeSettings

if TYPE_CHECKING:
    from acme_renewer.issuance import AcmeSession
    from acme_renewer.pipeline import _Work
    from acme_renewer.state import RenewerState


class RunBudget:
    def __init__(self, acme: AcmeSettings, state: RenewerState) -> None:
        # The CA this run talks to (LSCTL_ACME_DIRECTORY points the sandbox at Pebble).
        self.directory = ca_endpoint(acme).directory
        self.limits = limits_for(self.directory, acme.rate_limits)
        self.state = state
        self.ledger = state.ledger(self.directory)
        self.budget: Budget | None = None  # None: nothing was to be ordered
        self._exempt: set[str] = set()

    def admit(self, due: list[_Work], session: AcmeSession | None, now: dt.datetime,
              note: Callable[[str, str], None]) -> list[_Work]:
        """The due domains this run goes on with; the others are marked deferred.

        Re-uploads of a stored certificate order nothing and always go on."""
        ordering = [w for w in due if not w.reupload]
        if not ordering:
            return due
        has_ari = session is not None and session.has_ari
        result = plan([_candidate(w, has_ari, now) for w in ordering], self.ledger,
                      self.limits, now)
        self.budget = result.budget
        self._exempt = {d.fqdn for d in result.ordered if d.ari_renewal}
        by_fqdn = {w.spec.fqdn: w for w in ordering}
        for deferral in result.deferred:
            defer(by_fqdn[deferral.due.fqdn], deferral.until, deferral.reason)
        if result.deferred:
            note("budget", f"{len(result.deferred)} due domain(s) deferred by the CA's rate "
                           f"limits; the next run orders them as the budget allows")
        return [w for w in due if w.outcome.status != "deferred"]

    def record(self, issued: list[_Work], note: Callable[[str, str], None]) -> None:
        """Orders, failed authorizations and rateLimited answers into the ledger (saved at
        once); a domain the CA rate-limited is deferred, not failed."""
        now = dt.datetime.now(dt.UTC)
        touched = False
        rate_limited: list[_Work] = []
        for item in issued:
            issue = item.issue
            if issue is None:
                continue
            touched = True
            if issue.order is not None and item.spec.fqdn not in self._exempt:
                self.ledger.record_order(issue.names, now)
            for name in issue.failed_names:
                self.ledger.record_failure(name, now)
            if issue.fullchain_pem is not None:
                for name in issue.names:
                    self.ledger.record_success(name.removeprefix("*."))
            if issue.rate_limited_until is not None:
                self.ledger.pause(issue.rate_limited_until)
                rate_limited.append(item)
        for item in rate_limited:  # the pause holds the whole account: one date for all
            assert self.ledger.paused_until is not None
            defer(item, self.ledger.paused_until, item.outcome.detail)
        if touched:
            self.ledger.prune(now)
            try:
                self.state.save_ledger(self.directory, self.ledger)
            except Exception as exc:  # the certificates are issued: report, do not lose them
                note("budget", f"the rate ledger could not be saved ({exc.__class__.__name__}: "
                               f"{exc}); the next run plans without this run's orders")


def defer(item: _Work, until: dt.datetime, reason: str) -> None:
    item.outcome.status = "deferred"
    item.outcome.deferred_until = until
    item.outcome.detail = f"{reason}; next try from {until:%Y-%m-%d %H:%M}Z"


def _candidate(item: _Work, has_ari: bool, now: dt.datetime) -> Due:
    stored = item.stored
    expires = item.outcome.expires or (dt.datetime.fromisoformat(stored.not_after)
                                       if stored else None)
    left = expires - now if expires is not None else None
    # An ARI renewal: `replaces` is sent (a stored certificate, a CA with ARI) and the time
    # the CA's window suggested has come, for a certificate that has not expired.
    ari = (has_ari and stored is not None and item.ari_time is not None
           and item.ari_time <= now and left is not None and left > dt.timedelta(0))
    return Due(item.spec.fqdn, item.spec.names, left, ari)
