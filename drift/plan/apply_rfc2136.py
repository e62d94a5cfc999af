"""A zone's changes as RFC 2136 updates: atomic, with prerequisites (RFC 2136 2.4) that the
server checks before applying anything, so an edit made since the plan fails the update
(YXRRSET/NXRRSET) instead of being overwritten. One update per zone, split only where one
DNS message could not hold it; a name's changes always travel together."""

from __future__ import annotations

from collections.abc import Sequence

import dns.name
import dns.rdata
import dns.update

from drift.plan.changes import DnsChange, Outcome, RecordSet, ZonePlan
from linkshortening.dns.rfc2136 import (
    DnsUpdateError,
    Endpoint,
    TsigKey,
    new_update,
    rdatas,
    send_update,
)

# A DNS message over TCP holds 65,535 octets; stay clear of it (TSIG and rounding included).
MAX_MESSAGE = 60_000
# The server's answers when a prerequisite did not hold (RFC 2136 2.4, 3.2).
PREREQUISITE_FAILED = {"YXRRSET", "NXRRSET", "YXDOMAIN", "NXDOMAIN"}


def apply_zone(plan: ZonePlan, server: Endpoint, key: TsigKey,
               limit: int = MAX_MESSAGE) -> list[Outcome]:
    updates = build_updates(plan.zone.name, plan.changes, key, limit)
    outcomes = []
    for i, (update, changes) in enumerate(updates, 1):
        target = f"zone {plan.zone.name}" + (f" (update {i} of {len(updates)})"
                                             if len(updates) > 1 else "")
        try:
            send_update(server, update)
        except DnsUpdateError as exc:
            outcomes.append(Outcome(target, len(changes), False, _failure(plan, server, exc)))
            continue
        outcomes.append(Outcome(target, len(changes), True,
                                f"{len(changes)} change(s) applied at {server}"))
    return outcomes


def _failure(plan: ZonePlan, server: Endpoint, exc: DnsUpdateError) -> str:
    if exc.rcode in PREREQUISITE_FAILED:
        return (f"not applied: the zone changed since the plan ({server} answered "
                f"{exc.rcode}: a record set is no longer as the plan saw it); nothing of this "
                f"update was written and the edit stays. Run `lsctl plan` again to see it")
    return f"not applied: {exc}"


def build_updates(zone: str, changes: Sequence[DnsChange], key: TsigKey,
                  limit: int = MAX_MESSAGE) -> list[tuple[dns.update.UpdateMessage,
                                                          list[DnsChange]]]:
    """As few updates as fit in `limit` octets each: every change's size is measured alone, so
    the sum is an upper bound (name compression only makes the real message smaller)."""
    base = len(new_update(zone, key).to_wire())
    groups: list[list[DnsChange]] = []
    size = base
    for name_changes in _by_name(changes):
        cost = len(_update(zone, name_changes, key).to_wire()) - base
        if cost + base > limit:
            raise DnsUpdateError(f"zone {zone}: the changes at {name_changes[0].name} alone "
                                 f"need {cost + base} octets, more than one DNS message holds")
        if not groups or size + cost > limit:
            groups.append([])
            size = base
        groups[-1] += name_changes
        size += cost
    return [(_update(zone, group, key), group) for group in groups]


def _by_name(changes: Sequence[DnsChange]) -> list[list[DnsChange]]:
    names: dict[str, list[DnsChange]] = {}
    for change in changes:
        names.setdefault(change.name, []).append(change)
    return list(names.values())


def _update(zone: str, changes: Sequence[DnsChange], key: TsigKey) -> dns.update.UpdateMessage:
    """Prerequisites: each set exactly as the plan saw it, or absent. Then every removal before
    any addition (a CNAME added beside other data would be ignored, RFC 2136 3.4.2.2)."""
    update = new_update(zone, key)
    for change in changes:
        owner = dns.name.from_text(change.name)
        if change.before is None:
            update.absent(owner, change.type)
        else:
            update.present(owner, *_rdatas(change.before))
    for change in changes:
        if change.before is not None:
            update.delete(dns.name.from_text(change.name), change.type)
    for change in changes:
        if change.after is not None:
            update.add(dns.name.from_text(change.name), change.after.ttl,
                       *_rdatas(change.after))
    return update


def _rdatas(found: RecordSet) -> list[dns.rdata.Rdata]:
    return rdatas(found.type, found.values)
