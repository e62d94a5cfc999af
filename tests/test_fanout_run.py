"""`lsctl renew --plan-only` then `--shard K/N` against the sandbox: every due domain renewed
by exactly one shard, per-zone locks, and a second execution that finds nothing to do."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from acme_renewer.fanout.zone_state import lock_backend
from acme_renewer.state import DirectoryBackend
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.fanout_stack import fanout_stack
from tests.test_renew import renew, statuses

TWO_PER_SHARD = ["--per-domain-seconds", "1", "--shard-seconds", "362"]  # 360 fixed + 2


@pytest.fixture
def fan(tmp_path: Path, emulator: EmulatorControl, twilio_env: None) -> dict[str, Any]:
    stack, zones = fanout_stack(tmp_path / "Pulumi.fan.yaml", tmp_path / "state", emulator)
    return {"stack": stack, "zones": zones, "state": tmp_path / "state", "dir": tmp_path}


def test_plan_then_each_shard_renews_every_domain_once(
        fan: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    plan_file = fan["dir"] / "plan.json"
    code, _, output = renew(fan["stack"], "--plan-only", "--out", str(plan_file),
                            *TWO_PER_SHARD, capsys=capsys)
    assert code == 0, output
    assert not fan["state"].exists()  # a plan is a dry run: nothing written to the state
    plan = json.loads(plan_file.read_text())
    assert plan["version"] == 1 and plan["stack"] == "fan"
    assert [s["zones"] for s in plan["shards"]] == [["fan-a.test"],
                                                    ["fan-b.test", "lsctl.test"]]
    renewed: list[str] = []
    for shard in plan["shards"]:
        code, report, output = renew(fan["stack"], "--shard", f"{shard['index']}/2",
                                     "--plan", str(plan_file), capsys=capsys)
        assert code == 0, output
        assert set(statuses(report)) == set(shard["domains"])
        assert set(statuses(report).values()) == {"renewed"}, output
        renewed += statuses(report)
    assert sorted(renewed) == sorted(fan["zones"])
    journals = fan["state"] / "pending-challenges"
    assert not [p for p in journals.rglob("*") if p.is_file()]  # every journal emptied
    # A second execution of the same (now stale) plan decides again under the zone locks:
    # what the first renewed is not due, nothing is ordered twice.
    for shard in plan["shards"]:
        code, report, output = renew(fan["stack"], "--shard", f"{shard['index']}/2",
                                     "--plan", str(plan_file), capsys=capsys)
        assert code == 0 and set(statuses(report).values()) == {"not_due"}, output


def test_hash_shards_without_a_plan_split_the_stack_by_zone(
        fan: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, str] = {}
    for k in range(3):
        code, report, output = renew(fan["stack"], "--shard", f"{k}/3", capsys=capsys)
        assert code == 0, output
        for fqdn, status in statuses(report).items():
            assert fqdn not in seen  # no domain in two shards
            seen[fqdn] = status
        assert len({fan["zones"][f] for f in statuses(report)}) == len(
            {z for f, z in fan["zones"].items() if f in statuses(report)})
    assert seen == dict.fromkeys(fan["zones"], "renewed")


def test_a_zone_held_by_another_run_stops_only_the_shard_that_needs_it(
        fan: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    plan_file = fan["dir"] / "plan.json"
    assert renew(fan["stack"], "--plan-only", "--out", str(plan_file), *TWO_PER_SHARD,
                 capsys=capsys)[0] == 0
    with lock_backend(DirectoryBackend(fan["state"]), "fan-a.test").lock():
        code, _, output = renew(fan["stack"], "--shard", "0/2", "--plan", str(plan_file),
                                capsys=capsys)
        assert code == 2 and "another lsctl renew holds" in output, output
        assert "fan-a.test" in output and "Traceback" not in output
        code, report, output = renew(fan["stack"], "--shard", "1/2", "--plan", str(plan_file),
                                     capsys=capsys)
        assert code == 0 and set(statuses(report).values()) == {"renewed"}, output


def test_each_shard_journals_its_own_zones_only(tmp_path: Path) -> None:
    from acme_renewer.challenge import ChallengeRecord
    from acme_renewer.fanout.zone_state import ZoneState
    from acme_renewer.state import RenewerState
    from linkshortening.stack.model import DomainSpec

    state = RenewerState(DirectoryBackend(tmp_path))
    a = ZoneState(state, [DomainSpec("x.fan-a.test", "fan-a.test", "DN1")])
    b = ZoneState(state, [DomainSpec("y.fan-b.test", "fan-b.test", "DN2")])
    # x's challenge is delegated by CNAME into another zone: journalled under x's zone.
    delegated = ChallengeRecord("x.fan-a.test", "_acme-challenge.x.acme.test", "acme.test", "v")
    own = ChallengeRecord("y.fan-b.test", "_acme-challenge.y.fan-b.test", "fan-b.test", "w")
    a.save_pending_records([delegated])
    b.save_pending_records([own])
    assert a.pending_records() == [delegated] and b.pending_records() == [own]
    a.save_pending_records([])  # a's run cleaned up: b's journal stays
    assert a.pending_records() == [] and b.pending_records() == [own]
    assert state.pending_records() == []  # the whole-stack journal is not touched


def test_zone_locks_in_s3_exclude_the_same_zone_only(sandbox: SandboxState) -> None:
    """Two shards of different zones run side by side; a second holder of one zone is
    refused by S3's conditional write, and the locks are not state keys."""
    from acme_renewer.fanout.zone_state import ZoneLocked
    from acme_renewer.state import StateLocked
    from tests.test_s3_state import BUCKET, aws, backend

    client = aws(sandbox, "s3")
    client.create_bucket(Bucket=BUCKET)  # moto: creating one's own bucket again is fine
    store = backend(client, f"fan-{uuid.uuid4().hex[:6]}")
    with ZoneLocked(store, ["fan-a.test"]).lock(), ZoneLocked(store, ["fan-b.test"]).lock():
        with pytest.raises(StateLocked, match="another lsctl run"), \
                ZoneLocked(store, ["fan-b.test", "lsctl.test"]).lock():
            pass
        assert store.list_keys() == [f"locks/{z}/lock" for z in ("fan-a.test", "fan-b.test")]
    # released, including lsctl.test's taken before fan-b.test refused: nothing left
    assert store.list_keys() == []
