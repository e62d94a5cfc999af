"""Split DNS changes into batches each protocol accepts.

RFC 2136 updates must fit one DNS message over TCP; Route53 change batches must stay within
its ResourceRecord and Value-character limits. Pure: these build and measure, never send.
Batches keep the input order and are contiguous, so a caller can map them back to its items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import dns.exception
import dns.update

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ChangeTypeDef

T = TypeVar("T")

# DNS over TCP frames a message with a 16-bit length (RFC 1035 4.2.2): 65,535 bytes at most.
MAX_TCP_MESSAGE = 65_535
# Headroom below the hard limit: some servers and middleboxes cut a few bytes short of it,
# and a batch of 64,000 bytes costs no more round trips than one of 65,535 would.
MAX_UPDATE_SIZE = 64_000

# Route53 ChangeResourceRecordSets quotas (DNSLimitations in the Route53 Developer Guide):
# at most 1,000 ResourceRecord elements and 32,000 characters in all Value elements per
# request; an UPSERT counts each of its records and characters twice.
ROUTE53_MAX_RECORDS = 1_000
ROUTE53_MAX_VALUE_CHARS = 32_000


def pack(items: Sequence[T], cost: Callable[[T], tuple[int, ...]],
         limits: tuple[int, ...]) -> list[list[T]]:
    """Greedy, in order: each batch takes items while every summed cost stays within its
    limit. An item over a limit on its own gets a batch of its own (its refusal then costs
    only that item)."""
    batches: list[list[T]] = []
    used = list(limits)  # as if full: the first item opens a batch
    for item in items:
        costs = cost(item)
        if batches and all(u + c <= lim for u, c, lim in zip(used, costs, limits, strict=True)):
            batches[-1].append(item)
            used = [u + c for u, c in zip(used, costs, strict=True)]
        else:
            batches.append([item])
            used = list(costs)
    return batches


def split_rfc2136(new_update: Callable[[], dns.update.UpdateMessage], items: Sequence[T],
                  add: Callable[[dns.update.UpdateMessage, T], None],
                  limit: int = MAX_UPDATE_SIZE) -> list[tuple[dns.update.UpdateMessage, list[T]]]:
    """`items` as few updates as fit in `limit` bytes each, rendered with their TSIG.

    `new_update` makes an empty (signed) update for the zone; `add` puts one item into it.
    Each item is measured on its own in an empty update (name compression against the zone
    included; unsigned, as the TSIG's size is the same in every update); compression inside
    a batch only shrinks it, and every batch is rendered once more, signed, to check it
    fits: the sizes are measured, not guessed.
    """
    base = wire_size(new_update())
    zone = new_update().origin
    unsigned = wire_size(dns.update.UpdateMessage(zone))

    def cost(item: T) -> tuple[int]:
        probe = dns.update.UpdateMessage(zone)
        add(probe, item)
        return (wire_size(probe) - unsigned,)

    result: list[tuple[dns.update.UpdateMessage, list[T]]] = []
    for batch in pack(items, cost, (limit - base,)):
        result += _fitting(new_update, batch, add, limit)
    return result


def _fitting(new_update: Callable[[], dns.update.UpdateMessage], batch: list[T],
             add: Callable[[dns.update.UpdateMessage, T], None],
             limit: int) -> list[tuple[dns.update.UpdateMessage, list[T]]]:
    update = new_update()
    for item in batch:
        add(update, item)
    if len(batch) == 1 or wire_size(update) <= limit:
        return [(update, batch)]
    half = len(batch) // 2  # not reached while sizes only add up; kept so the rule holds
    return (_fitting(new_update, batch[:half], add, limit)
            + _fitting(new_update, batch[half:], add, limit))


def wire_size(update: dns.update.UpdateMessage) -> int:
    """The rendered size, TSIG included; one more than TCP can carry if it cannot."""
    try:
        return len(update.to_wire(max_size=MAX_TCP_MESSAGE))
    except dns.exception.TooBig:
        return MAX_TCP_MESSAGE + 1


def route53_cost(change: ChangeTypeDef) -> tuple[int, int]:
    """(ResourceRecord elements, Value characters) of one change, as Route53 counts them."""
    records = change["ResourceRecordSet"].get("ResourceRecords", [])
    weight = 2 if change["Action"] == "UPSERT" else 1
    return weight * len(records), weight * sum(len(r["Value"]) for r in records)


def split_route53_changes(changes: Sequence[ChangeTypeDef],
                          max_records: int = ROUTE53_MAX_RECORDS,
                          max_chars: int = ROUTE53_MAX_VALUE_CHARS) -> list[list[ChangeTypeDef]]:
    """`changes` as change batches within both of Route53's per-request limits."""
    return pack(changes, route53_cost, (max_records, max_chars))
