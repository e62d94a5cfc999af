"""A stack across the sandbox's three zones, for the fan-out tests and bench/fanout.py."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain

FANOUT_ZONES = ("fan-a.test", "fan-b.test", "lsctl.test")


def fanout_stack(path: Path, state_dir: Path, emulator: EmulatorControl,
                 per_zone: tuple[int, ...] = (2, 1, 1)) -> tuple[Path, dict[str, str]]:
    """The stack file, and fqdn -> zone of its domains (each known to the emulator)."""
    tag = uuid.uuid4().hex[:6]
    zones: dict[str, str] = {}
    entries = []
    for zone, count in zip(FANOUT_ZONES, per_zone, strict=True):
        for i in range(count):
            sid, fqdn = new_domain(emulator, f"f{tag}-{i}.{zone}")
            zones[fqdn] = zone
            entries.append(f"    - {{fqdn: {fqdn}, zone: {zone}, domainSid: {sid}}}\n")
    path.write_text(textwrap.dedent(f"""\
        config:
          lsctl:acme:
            email: ops@lsctl.test
            agreeTos: true
            propagationInterval: 0.1
            state: {{backend: directory, location: {state_dir}}}
          lsctl:dns: {{provider: rfc2136, tsigKeyName: lsctl-sandbox}}
          lsctl:domains:
        """) + "".join(entries))
    return path, zones
