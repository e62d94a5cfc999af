"""The arrows of the layout, read from the source with `ast`: a new import that turns one round
fails here, naming the file, the line and the rule."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkshortening.common.errors import USER_ERRORS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("linkshortening", "acme_renewer", "drift", "sandbox", "components")
# Inside the core, which subjects each subject may import (itself always). `cli` is the front
# end and may import any of them; `common` is the floor and imports none.
CORE_ALLOWED: dict[str, frozenset[str]] = {
    "common": frozenset(),
    "stack": frozenset({"common"}),
    "dns": frozenset({"common"}),
    "twilio": frozenset({"common"}),
    "certs": frozenset({"common"}),
    "cli": frozenset({"common", "stack", "dns", "twilio", "certs"}),
}
# Top-level packages each package must never import (the Lambda and the CLI stay light).
FORBIDDEN: dict[str, frozenset[str]] = {
    "linkshortening": frozenset({"acme_renewer", "drift", "sandbox", "components"}),
    "acme_renewer": frozenset({"components"}),
    "drift": frozenset({"components"}),
    "sandbox": frozenset({"components"}),
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) for every import in the file, lazy and TYPE_CHECKING ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from linkshortening import dns` imports the subpackage `linkshortening.dns`.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def violations(root: Path) -> list[str]:
    found: list[str] = []
    edges: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            where = path.relative_to(root)
            for line, target in imports(path, root):
                head, *rest = target.split(".")
                if head in FORBIDDEN.get(package, ()):
                    found.append(f"{where}:{line}: {package} must not import {target}")
                if package == "linkshortening" and head == "linkshortening" and rest:
                    parts = where.parts
                    subject = parts[1] if len(parts) > 2 else ""
                    other = rest[0]
                    if not subject or other == subject or other not in CORE_ALLOWED:
                        continue
                    edges.setdefault(subject, set()).add(other)
                    allowed = CORE_ALLOWED.get(subject, frozenset())
                    if other not in allowed:
                        found.append(f"{where}:{line}: linkshortening.{subject} must not import "
                                     f"linkshortening.{other} (allowed: "
                                     f"{', '.join(sorted(allowed)) or 'none'})")
    found.extend(cycles(edges))
    return found


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """Import cycles between the core's subjects (the table above forbids them; this says so
    even when someone widens the table)."""
    out: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                out.append("cycle: " + " -> ".join([*trail[trail.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    return out


def test_the_tree_keeps_every_arrow() -> None:
    assert violations(ROOT) == []


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("rel", "text", "expected"), [
    ("linkshortening/dns/engine.py", "from linkshortening.twilio import api\n",
     "linkshortening.dns must not import linkshortening.twilio"),
    ("linkshortening/stack/parse.py", "def f():\n    import drift.checks\n",
     "linkshortening must not import drift.checks"),
    ("linkshortening/common/files.py", "from linkshortening import stack\n",
     "linkshortening.common must not import linkshortening.stack"),
    ("drift/cli.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
     "    from components.iam import x\n", "drift must not import components.iam"),
    ("sandbox/seed.py", "from components import program\n", "sandbox must not import components"),
    ("linkshortening/certs/keys.py", "from ..stack import model\n",
     "linkshortening.certs must not import linkshortening.stack"),
])
def test_a_forbidden_import_is_caught(tmp_path: Path, rel: str, text: str, expected: str) -> None:
    for package in PACKAGES:
        write(tmp_path, f"{package}/__init__.py", "")
    write(tmp_path, rel, text)
    found = violations(tmp_path)
    assert any(expected in line for line in found), found


def test_a_cycle_between_subjects_is_caught() -> None:
    assert cycles({"stack": {"dns"}, "dns": {"stack"}}) == ["cycle: dns -> stack -> dns"]


def test_every_subpackage_says_its_job_in_one_line() -> None:
    core = ROOT / "linkshortening"
    loose = sorted(p.name for p in core.glob("*.py") if p.name != "__init__.py")
    assert loose == [], "modules belong in a subject folder"
    for init in [core / "__init__.py", *sorted(core.glob("*/__init__.py"))]:
        tree = ast.parse(init.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and "\n" not in doc, f"{init}: a one-line docstring"
        assert len(tree.body) == 1, f"{init}: a docstring and nothing else (no re-exports)"


@pytest.mark.parametrize("qualified", sorted(USER_ERRORS))
def test_every_user_error_name_is_a_real_exception(qualified: str) -> None:
    module, _, name = qualified.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type) and issubclass(cls, BaseException)
