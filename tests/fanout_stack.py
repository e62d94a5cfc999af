"""A stack across the sandbox's three zones, for the fan-out tests and bench/fanout.py."""

from __future__ import annotations

import uuid
from pathlib import Path

from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain
from tests.test_renew import write_stack

FANOUT_ZONES = ("fan-a.test", "fan-b.test", "lsctl.test")


def fanout_stack(path: Path, state_dir: Path, emulator: EmulatorControl,
                 per_zone: tuple[int, ...] = (2, 1, 1)) -> tuple[Path, dict[str, str]]:
    """The stack file, and fqdn -> zone of its domains (each known to the emulator)."""
    tag = uuid.uuid4().hex[:6]
    domains = []
    for zone, count in zip(FANOUT_ZONES, per_zone, strict=True):
        for i in range(count):
            sid, fqdn = new_domain(emulator, f"f{tag}-{i}.{zone}")
            domains.append({"fqdn": fqdn, "sid": sid, "zone": zone})
    return write_stack(path, state_dir, domains), {d["fqdn"]: d["zone"] for d in domains}
