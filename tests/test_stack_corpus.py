"""The stack-fuzz corpus (tests/corpus/stack/cases.yaml) through the real CLI, each case within
2 s; and the libyaml and pure-Python loaders give the same result or message on every case."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import load_stack_file
from linkshortening.stack.model import Stack
from linkshortening.stack.yamlread import DEFAULT_LOADER, LOADERS
from tests.conftest import lsctl_argv

CORPUS = Path(__file__).resolve().parent / "corpus" / "stack"
GOOD_SID = "DN" + "a" * 32


def _fqdn(directory: Path, big: bool) -> Path:
    # 5 MB for the CLI (libyaml); 200 KB where the pure-Python scanner reads it (~0.5 us/char).
    name = "a" * (5_000_000 if big else 200_000)
    return _write(directory / "Pulumi.fqdn.yaml", "config:\n  lsctl:domains:\n"
                  f"    - fqdn: {name}\n      zone: example.com\n      domainSid: {GOOD_SID}\n")


def _nested_lists(directory: Path, big: bool) -> Path:
    return _write(directory / "Pulumi.lists.yaml",
                  "config:\n  lsctl:ttl: " + "[" * 20_000 + "]" * 20_000 + "\n")


def _nested_mappings(directory: Path, big: bool) -> Path:
    return _write(directory / "Pulumi.maps.yaml",
                  "config:\n  lsctl:acme: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n")


def _oversized(directory: Path, big: bool) -> Path:
    line = "# " + "x" * 1021 + "\n"  # 1 KiB
    return _write(directory / "Pulumi.big.yaml", "config: {}\n" + line * (9 * 1024))


def _shared_state(directory: Path, big: bool) -> Path:
    stacks = directory / "stacks"
    stacks.mkdir()
    for name, sid in (("a", "DN" + "a" * 32), ("b", "DN" + "b" * 32)):
        _write(stacks / f"Pulumi.{name}.yaml", f"""\
config:
  lsctl:acme: {{state: {{backend: secretsmanager, location: lsctl/shared}}}}
  lsctl:domains: [{{fqdn: {name}.example.com, zone: example.com, domainSid: {sid}}}]
""")
    return stacks / "Pulumi.b.yaml"


GENERATORS: dict[str, Callable[[Path, bool], Path]] = {
    "fqdn-5mb": _fqdn,
    "nested-lists-20000": _nested_lists,
    "nested-mappings-20000": _nested_mappings,
    "file-9mib": _oversized,
    "shared-state-location": _shared_state,
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _cases() -> list[Any]:
    manifest = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
    return [pytest.param(case, id=case.get("file", "").removesuffix(".yaml")
                         or case["generate"]) for case in manifest["cases"]]


CASES = _cases()


def stack_file(case: dict[str, Any], directory: Path, big: bool = True) -> Path:
    if "generate" in case:
        return GENERATORS[case["generate"]](directory, big)
    return CORPUS / str(case["file"])


def test_corpus_files_are_all_in_the_manifest() -> None:
    listed = {c.values[0].get("file") for c in CASES}
    assert {p.name for p in CORPUS.glob("*.yaml")} - {"cases.yaml"} == listed - {None}
    assert {c.values[0].get("generate") for c in CASES} - {None} == set(GENERATORS)


@pytest.mark.timeout(2)
@pytest.mark.parametrize("case", CASES)
def test_corpus_case_through_the_cli(case: dict[str, Any], tmp_path: Path) -> None:
    path = stack_file(case, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "LSCTL_DEBUG"}
    result = subprocess.run(lsctl_argv("records", "--stack", str(path), "--json"),
                            capture_output=True, check=False,
                            env={**env, "PYTHONIOENCODING": "utf-8"})
    out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    assert result.returncode == case["exit"], err
    says = case["says"] if isinstance(case["says"], list) else [case["says"]]
    if case["exit"] == 0:
        assert err == ""
        assert all(fragment in out for fragment in says), out
        return
    assert out == ""
    assert err.startswith(f"lsctl: {path}: ") and err.endswith("\n")
    assert err.count("\n") == 1, err  # one line
    assert "Fix: " in err and "internal error" not in err and "Traceback" not in err
    assert len(err) < 1000  # nothing echoed whole
    assert all(fragment in err for fragment in says), err


def _outcome(path: Path, loader: str) -> Stack | str:
    try:
        return load_stack_file(path, loader=loader)
    except ConfigError as exc:
        return str(exc)


@pytest.mark.skipif("libyaml" not in LOADERS, reason="PyYAML built without libyaml")
@pytest.mark.timeout(2)
@pytest.mark.parametrize("case", CASES)
def test_libyaml_and_python_loaders_agree(case: dict[str, Any], tmp_path: Path) -> None:
    path = stack_file(case, tmp_path, big=False)
    fast, pure = _outcome(path, "libyaml"), _outcome(path, "python")
    assert fast == pure
    assert isinstance(fast, Stack) == (case["exit"] == 0)


def test_libyaml_is_the_default_where_available() -> None:
    assert ("libyaml" if yaml.__with_libyaml__ else "python") == DEFAULT_LOADER
