"""The shard plan and `--shard K/N`: packing by zone, the plan file, the hash split."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from acme_renewer.fanout.plan import PLAN_VERSION, Cost, load_plan, make_plan
from acme_renewer.fanout.shards import ShardRef, parse_shard, select, zone_shard
from linkshortening.cli.main import main
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import load_stack_file


def due(*zones: tuple[str, int]) -> list[tuple[str, str]]:
    return [(f"d{i}.{zone}", zone) for zone, count in zones for i in range(count)]


def test_a_zone_stays_in_one_shard_and_shards_fit_the_capacity() -> None:
    cost = Cost(per_domain_seconds=10, shard_seconds=400, fixed_seconds=360)  # 4 per shard
    plan = make_plan("s", due(("a.test", 3), ("b.test", 2), ("c.test", 1), ("d.test", 2)),
                     cost)
    assert cost.capacity == 4
    for zone in ("a.test", "b.test", "c.test", "d.test"):
        assert sum(zone in s.zones for s in plan.shards) == 1
    assert all(len(s.domains) <= 4 for s in plan.shards)
    assert sorted(f for s in plan.shards for f in s.domains) == sorted(
        f for f, _ in due(("a.test", 3), ("b.test", 2), ("c.test", 1), ("d.test", 2)))
    assert len(plan.shards) == 2  # 3+1 and 2+2: first-fit decreasing packs them tight
    assert [s.estimated_seconds for s in plan.shards] == [400, 400]


def test_a_zone_larger_than_a_shard_gets_its_own_and_a_note() -> None:
    plan = make_plan("s", due(("big.test", 5), ("small.test", 1)),
                     Cost(per_domain_seconds=10, shard_seconds=380, fixed_seconds=360))
    assert [s.zones for s in plan.shards] == [("big.test",), ("small.test",)]
    assert "big.test has 5 due domains" in plan.notes[0]


def test_the_plan_file_round_trips_and_another_version_is_refused() -> None:
    plan = make_plan("s", due(("a.test", 2)), Cost())
    data = plan.to_json()
    assert data["version"] == PLAN_VERSION
    assert load_plan(plan.dumps(), "plan.json") == plan
    with pytest.raises(ConfigError, match=r"plan.json: version: plan version 99.*--plan-only"):
        load_plan(json.dumps({**data, "version": 99}), "plan.json")
    with pytest.raises(ConfigError, match="not a shard plan"):
        load_plan("{not json", "plan.json")


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2", "0/0", "1/2/3"])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(text)


def test_the_hash_split_is_stable_and_covers_every_zone_once() -> None:
    zones = [f"z{i}.test" for i in range(200)]
    split = [zone_shard(z, 4) for z in zones]
    assert split == [zone_shard(z, 4) for z in zones]  # the same in every worker
    assert set(split) == {0, 1, 2, 3}
    # sha256, not Python's salted hash(): a fixed value pins it across processes
    assert zone_shard("lsctl.test", 4) == int.from_bytes(
        __import__("hashlib").sha256(b"lsctl.test").digest()[:8], "big") % 4


def stack_file(tmp_path: Path, zones: dict[str, str]) -> Path:
    path = tmp_path / "Pulumi.fan.yaml"
    path.write_text(textwrap.dedent(f"""\
        config:
          lsctl:acme: {{email: ops@lsctl.test, agreeTos: true,
                       state: {{backend: directory, location: {tmp_path / 'state'}}}}}
          lsctl:dns: {{provider: rfc2136, tsigKeyName: lsctl-sandbox}}
          lsctl:domains:
        """) + "".join(f"    - {{fqdn: {f}, zone: {z}, domainSid: DN{i:032x}}}\n"
                       for i, (f, z) in enumerate(zones.items())))
    return path


def test_select_by_plan_and_by_hash(tmp_path: Path) -> None:
    stack = load_stack_file(stack_file(tmp_path, {"a.fan-a.test": "fan-a.test",
                                                  "b.fan-a.test": "fan-a.test",
                                                  "c.fan-b.test": "fan-b.test"}))
    hashed = [select(stack.domains, ShardRef(k, 2)) for k in range(2)]
    assert sorted(s.fqdn for part in hashed for s in part) == sorted(
        s.fqdn for s in stack.domains)
    assert all(len({s.zone for s in part}) <= 2 for part in hashed)
    plan = make_plan("fan", [("c.fan-b.test", "fan-b.test")], Cost())
    assert [s.fqdn for s in select(stack.domains, ShardRef(0, 1), plan)] == ["c.fan-b.test"]
    with pytest.raises(ConfigError, match=r"the plan has 1 shard\(s\).*--shard K/1"):
        select(stack.domains, ShardRef(0, 2), plan)


@pytest.mark.parametrize(("extra", "message"), [
    (["--shard", "4/4"], "'4/4' names no shard of 4"),
    (["--shard", "x"], "'x' is not K/N"),
    (["--plan", "p.json"], "add --shard K/N"),
    (["--shard", "0/1", "--plan", "missing.json"], "cannot read the plan"),
    (["--out", "p.json"], "add --plan-only"),
    (["--plan-only", "--shard", "0/2"], "--plan-only plans the whole stack"),
    (["--shard", "0/1", "--plan", "other.json"], "the plan is of stack 'other', not 'fan'"),
])
def test_the_cli_refuses_bad_fanout_arguments_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        extra: list[str], message: str) -> None:
    stack = stack_file(tmp_path, {"a.fan-a.test": "fan-a.test"})
    (tmp_path / "other.json").write_text(make_plan("other", [], Cost()).dumps())
    monkeypatch.chdir(tmp_path)
    assert main(["renew", "--stack", str(stack), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
