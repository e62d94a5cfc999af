"""The DNS-PERSIST-01 check: every authoritative nameserver serves each declared
`_validation-persist` record (draft-ietf-acme-dns-persist-02) exactly: the issuer, the hashed
account URI (so the account URL and key), the policy and persistUntil, which must not be
within the warning window; and the account key the records are bound to is still the key
the renewer holds (a rollover makes every record stale: -02 hashes the key into it).

The rollover rule, kept simple: the stack says which key the records were published for
(lsctl:acme.accountKeyThumbprint); the renewer's state says which key the account has now,
and which it rolled over from. They differ only after a rollover that was not followed by
republishing, which `lsctl acme account rollover` warns of before it happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drift.facts import DomainFacts
from linkshortening.dns.txt import txt_text
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import Stack
from linkshortening.stack.persist_record import (
    DRAFT,
    IssueValue,
    PersistRecord,
    parse_issue_value,
    persist_account,
    persist_records,
    uses_persist,
)

if TYPE_CHECKING:
    from drift.checks import Finding, Severity

WARN_DAYS, ERROR_DAYS = 30, 7  # as for certificates: persistUntil is an expiry too
CHECK = "persist"
# (facts, code, severity, check, expected, actual, where) -> Finding: drift.checks._finding
MakeFinding = Callable[[DomainFacts, str, "Severity", str, str, str, str], "Finding"]


@dataclass(frozen=True)
class KeyOnFile:
    """The renewer's stored account key for the stack's CA, and the keys it rolled over from."""

    thumbprint: str
    retired: tuple[tuple[str, str], ...] = ()  # (thumbprint, when retired)


@dataclass(frozen=True)
class Declared:
    """What the stack declares for its dns-persist-01 domains."""

    records: dict[str, tuple[PersistRecord, ...]]  # fqdn -> its records
    thumbprint: str  # the key the records are computed for (lsctl:acme.accountKeyThumbprint)
    on_file: KeyOnFile | None = None  # None: the renewer's state could not be read


def declared(stack: Stack, on_file: KeyOnFile | None = None) -> Declared | None:
    """None when no domain uses dns-persist-01; a ConfigError when the account is unset."""
    if not uses_persist(stack):
        return None
    account = persist_account(stack)
    return Declared({d.fqdn: persist_records(d, account) for d in stack.domains},
                    account.thumbprint, on_file)


def key_on_file(stack: Stack) -> KeyOnFile | None:
    """The renewer's current account key for the stack's CA, best effort: drift runs in CI
    that may not read the renewer's state; the rollover check is then left out."""
    from pathlib import Path

    from josepy.jwk import JWK

    from acme_renewer.account import ca_endpoint
    from acme_renewer.persist import thumbprint
    from acme_renewer.wiring import state_store
    from linkshortening.stack.load import find_project_dir

    try:
        project: Path | None = find_project_dir(Path(stack.source).resolve().parent)
    except ConfigError:
        project = None
    try:
        stored = state_store(stack, project).account(ca_endpoint(stack.acme).directory)
        if stored is None:
            return None
        return KeyOnFile(thumbprint(JWK.load(stored.key_pem)), stored.retired_keys)
    except Exception:  # no state here, no credentials for it: not drift's to report
        return None


def check(facts: DomainFacts, wanted: Declared | None, now: dt.datetime,
          make: MakeFinding) -> Iterator[Finding]:
    if wanted is None or facts.dns is None:
        return
    records = wanted.records.get(facts.spec.fqdn, ())
    for record in records:
        for server in facts.dns.servers:
            served = dict(server.persist).get(record.name, ())
            finding = _compare(record, served)
            if finding is not None:
                code, actual = finding
                yield make(facts, code, "error", CHECK, _describe(record), actual,
                           f"nameserver {server.server}")
                break  # once per record: the first nameserver that differs
    if records:
        yield from _until(facts, records[0], now, make)
        yield from _rolled_over(facts, wanted, make)


def _describe(record: PersistRecord) -> str:
    return f"{record.name} TXT " + " ".join(f'"{t}"' for t in record.texts)


def _compare(record: PersistRecord, served: tuple[str, ...]) -> tuple[str, str] | None:
    """(code, what was seen) when the served values are not the declared ones."""
    seen = "TXT " + " ".join(served) if served else "no TXT record"
    issuers = {v.issuer for v in record.values}
    ours = [v for v in (_parse(s) for s in served) if v is not None and v.issuer in issuers]
    if not ours:
        return "persist-missing", seen
    if set(ours) == set(record.values):
        return None
    if {(v.issuer, v.accounturi) for v in ours} != {(v.issuer, v.accounturi)
                                                     for v in record.values}:
        return "persist-account-differs", seen
    if {v.wildcard for v in ours} != {v.wildcard for v in record.values}:
        return "persist-policy-differs", seen
    return "persist-until-differs", seen


def _parse(presentation: str) -> IssueValue | None:
    text = txt_text(presentation)
    try:
        return parse_issue_value(text) if text is not None else None
    except ValueError:
        return None


def _until(facts: DomainFacts, record: PersistRecord, now: dt.datetime,
           make: MakeFinding) -> Iterator[Finding]:
    until = record.values[0].persist_until if record.values else None
    if until is None:
        return
    when = dt.datetime.fromtimestamp(until, dt.UTC)
    days = (when - now).total_seconds() / 86400
    if days > WARN_DAYS:
        return
    severity: Severity = "error" if days <= ERROR_DAYS else "warning"
    actual = (f"persistUntil {when:%Y-%m-%d %H:%M} UTC, in {days:.0f} days" if days > 0
              else f"persistUntil {when:%Y-%m-%d %H:%M} UTC has passed: the CA ignores it")
    yield make(facts, "persist-until-soon", severity, CHECK,
               f"persistUntil more than {WARN_DAYS} days ahead (lsctl:...persistUntil)",
               actual, "stack")


def _rolled_over(facts: DomainFacts, wanted: Declared, make: MakeFinding) -> Iterator[Finding]:
    on_file = wanted.on_file
    if on_file is None or on_file.thumbprint == wanted.thumbprint:
        return
    when = next((at for t, at in on_file.retired if t == wanted.thumbprint), None)
    since = f", rolled over {when}" if when else ""
    yield make(facts, "persist-key-rolled-over", "warning", CHECK,
               f"records bound to the account's current key {on_file.thumbprint} ({DRAFT} "
               "hashes the key in: set lsctl:acme.accountKeyThumbprint, then pulumi up)",
               f"records bound to {wanted.thumbprint}{since}", "renewer state")
