"""Splitting DNS changes at each protocol's limits: RFC 2136 message size, Route53 quotas."""

from __future__ import annotations

import base64
import secrets
from functools import partial
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.update

from linkshortening.dns.batches import (
    MAX_TCP_MESSAGE,
    MAX_UPDATE_SIZE,
    route53_cost,
    split_rfc2136,
    split_route53_changes,
    wire_size,
)
from linkshortening.dns.rfc2136 import TsigKey, new_update

KEY = TsigKey("lsctl-test", "hmac-sha256", base64.b64encode(secrets.token_bytes(32)).decode())


def acme_value() -> str:
    """A value shaped like a DNS-01 key authorization digest: 43 base64url characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


Item = tuple[dns.name.Name, dns.rdata.Rdata]


def add_txt(update: dns.update.UpdateMessage, item: Item) -> None:
    update.add(item[0], 60, item[1])


def names(count: int) -> list[Item]:
    return [(dns.name.from_text(f"_acme-challenge.d{i:05d}.lsctl.test"),
             dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, f'"{acme_value()}"'))
            for i in range(count)]


def split(items: list[Item], limit: int = MAX_UPDATE_SIZE) -> list[tuple[Any, list[Item]]]:
    return split_rfc2136(partial(new_update, "lsctl.test", KEY), items, add_txt, limit)


def rendered(items: list[Item]) -> int:
    update = new_update("lsctl.test", KEY)
    for item in items:
        add_txt(update, item)
    return wire_size(update)


def test_one_update_holds_what_fits_and_every_update_fits() -> None:
    # 1,000 challenge names are ~77 KB in one message: more than DNS over TCP can carry.
    items = names(1000)
    assert rendered(items) > MAX_TCP_MESSAGE
    batches = split(items)
    assert len(batches) == 2
    assert [i for _, batch in batches for i in batch] == items  # in order, none lost
    for update, _ in batches:
        size = len(update.to_wire())  # TSIG included, as sent
        assert size <= MAX_UPDATE_SIZE
        assert update.keyring is not None  # each batch is signed


def test_a_message_exactly_at_the_limit_is_one_update() -> None:
    items = names(300)
    size = rendered(items)
    assert [batch for _, batch in split(items, limit=size)] == [items]
    smaller = split(items, limit=size - 1)
    assert len(smaller) == 2
    assert all(len(update.to_wire()) <= size - 1 for update, _ in smaller)


def test_an_item_too_large_alone_gets_an_update_of_its_own() -> None:
    items = names(3)
    alone = rendered(items[:1])
    batches = split(items, limit=alone - 1)
    assert [batch for _, batch in batches] == [[i] for i in items]


def delete(value: str, count: int = 1) -> Any:
    return {"Action": "DELETE", "ResourceRecordSet": {
        "Name": "x.example.", "Type": "TXT", "TTL": 60,
        "ResourceRecords": [{"Value": value}] * count}}


def upsert(value: str, count: int = 1) -> Any:
    return {**delete(value, count), "Action": "UPSERT"}


def test_route53_counts_upsert_twice() -> None:
    assert route53_cost(delete("abc", 2)) == (2, 6)
    assert route53_cost(upsert("abc", 2)) == (4, 12)


def test_route53_exactly_1000_records_is_one_batch() -> None:
    changes = [delete("v") for _ in range(1000)]
    assert split_route53_changes(changes) == [changes]


def test_route53_999_records_and_one_upsert_is_two_batches() -> None:
    changes = [delete("v") for _ in range(999)] + [upsert("v")]
    assert split_route53_changes(changes) == [changes[:999], changes[999:]]


def test_route53_exactly_32000_characters_is_one_batch() -> None:
    changes = [delete("v" * 320) for _ in range(100)]  # 100 records, 32,000 characters
    assert split_route53_changes(changes) == [changes]
    over = [*changes[:-1], delete("v" * 321)]
    assert split_route53_changes(over) == [over[:-1], over[-1:]]


def test_route53_characters_of_upserts_count_twice() -> None:
    # A DNS-01 value with its quotes is 45 characters: 355 UPSERTs fit 32,000, not 356.
    value = f'"{acme_value()}"'
    changes = [upsert(value) for _ in range(1000)]
    sizes = [len(batch) for batch in split_route53_changes(changes)]
    assert sizes == [355, 355, 290]
    assert [len(b) for b in split_route53_changes([delete(value)] * 1000)] == [711, 289]
