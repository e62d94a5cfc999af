"""`lsctl records` renderers at fleet size print exactly what the straightforward ones print
(issue 14: the table's rows are written without rich's layout, zones grouped in one pass)."""

from __future__ import annotations

from typing import Any

import pytest

from linkshortening.cli import records as cli
from linkshortening.cli.record_formats import render_nsupdate, render_zone
from linkshortening.stack.managed_records import LETS_ENCRYPT_CAA, ManagedRecord

IPS = ("3.233.108.250", "3.233.187.46", "54.157.2.211")
TARGET = ("lsct.ashburn.us1.twilio.com",)


def fleet(count: int) -> tuple[ManagedRecord, ...]:
    """Root domains (A, CAA), subdomains (CNAME, verification TXT), zones interleaved."""
    records: list[ManagedRecord] = []
    for i in range(count):
        root = f"r{i}.test"
        records.append(ManagedRecord(root, root, root, "A", 300, IPS, "target"))
        sub = f"s{i}.fleet.test"
        records.append(ManagedRecord(sub, "fleet.test", sub, "CNAME", 3600, TARGET, "target"))
        records.append(ManagedRecord(sub, "fleet.test", f"_twilio.{sub}", "TXT", 300,
                                     ("twilio-domain-verification=" + "0f" * 16,),
                                     "verification"))
        records.append(ManagedRecord(root, root, root, "CAA", 300, LETS_ENCRYPT_CAA, "caa"))
    return tuple(records)


def rich_only(records: tuple[ManagedRecord, ...]) -> str:
    """The table as rich lays out every row: the reference."""
    table = cli._table(records, "fleet", "stacks/Pulumi.fleet.yaml")
    return cli._rich_text(table, cli._natural_width(table))


def test_plain_table_is_rich_s_table_character_for_character(
        monkeypatch: pytest.MonkeyPatch) -> None:
    records = fleet(30)
    expected = rich_only(records)
    laid_out: list[int] = []
    original = cli._rich_text

    def counting(table: Any, width: int) -> str:
        laid_out.append(table.row_count)
        return original(table, width)

    monkeypatch.setattr(cli, "_rich_text", counting)
    assert cli._plain_table(records, "fleet", "stacks/Pulumi.fleet.yaml") == expected
    assert laid_out == [1]  # rich drew the frame around one row; the rest were written


@pytest.mark.parametrize("odd", ["[bold]x[/bold]", "café.test", ":smile: here", "tab\there"])
def test_cells_rich_would_read_differently_leave_the_table_to_rich(odd: str) -> None:
    records = (*fleet(3), ManagedRecord("x.test", "x.test", "x.test", "TXT", 60, (odd,),
                                        "verification"))
    assert cli._plain_table(records, "fleet", "stacks/Pulumi.fleet.yaml") == rich_only(records)


def test_zone_and_nsupdate_group_interleaved_zones_as_one_zone_at_a_time() -> None:
    records = fleet(20)
    zones = list(dict.fromkeys(r.zone for r in records))
    one_by_one = [tuple(r for r in records if r.zone == z) for z in zones]
    assert render_zone(records, "s") == "\n".join(render_zone(part, "s")
                                                  for part in one_by_one)
    scripts = [render_nsupdate(part, "s").splitlines()[1:] for part in one_by_one]
    assert render_nsupdate(records, "s").splitlines()[1:] == [line for script in scripts
                                                              for line in script]
