"""What the workflows need to know about the stack files, from the files themselves.

    stacks.py list                      JSON list of the real stacks (not sandbox, example)
    stacks.py value STACK KEY [DEFAULT] one config value: aws:region, lsctl:renewal.enabled

`list` runs on any Python 3; `value` needs PyYAML (the project's .venv/bin/python).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STACKS = Path(__file__).resolve().parents[2] / "stacks"
NOT_DEPLOYED = {"sandbox", "example"}  # the demo's and the documented example


def real_stacks() -> list[str]:
    names = (p.name.removeprefix("Pulumi.").removesuffix(".yaml")
             for p in STACKS.glob("Pulumi.*.yaml"))
    return sorted(n for n in names if n not in NOT_DEPLOYED)


def value(stack: str, key: str, default: str | None) -> str:
    """`aws:region`, or a dotted path into a mapping: `lsctl:acme.state.backend`."""
    import yaml

    config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    top, *path = key.split(".")
    found: object = config.get(top)
    for part in path:
        found = found.get(part) if isinstance(found, dict) else None
    if found is None:
        if default is None:
            raise SystemExit(f"stacks/Pulumi.{stack}.yaml: {key} is not set")
        return default
    return str(found).lower() if isinstance(found, bool) else str(found)


def main(argv: list[str]) -> int:
    if argv[:1] == ["list"]:
        print(json.dumps(real_stacks()))
        return 0
    if argv[:1] == ["value"] and len(argv) in (3, 4):
        print(value(argv[1], argv[2], argv[3] if len(argv) == 4 else None))
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
