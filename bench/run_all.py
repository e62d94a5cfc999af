"""`make bench`: run every benchmark, print each table, and write bench/RESULTS.md.

A benchmark whose peer cannot run exits non-zero; so does this, after writing what it has,
marked incomplete. Benchmarks are never part of `make test`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
import time

from bench.common import ROOT, machine

BENCHMARKS: list[tuple[str, list[str]]] = [
    ("bench.startup", []),
    ("bench.validation_wait", []),
    ("bench.renewal", []),
    ("bench.route53_calls", []),
    ("bench.drift_dns", []),
    ("bench.fleet", []),
    ("bench.writes_per_year", []),
    ("bench.cert_chain", []),
    ("bench.fleet_renewal", []),
    ("bench.fanout", []),
    ("bench.scale_renewal", []),
    ("bench.scale", []),
]


def main() -> int:
    sections, failed = [], []
    for module, args in BENCHMARKS:
        if importlib.util.find_spec(module) is None:
            failed.append(module)
            sections.append(f"### {module}\n\nnot present in this checkout.\n")
            continue
        command = f"{sys.executable} -m {module} {' '.join(args)}".strip()
        print(f"==> {command}", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                                capture_output=True, text=True, check=False)
        took = time.perf_counter() - started
        print(result.stdout, end="", flush=True)
        if result.returncode != 0:
            failed.append(module)
            print(result.stderr[-3000:], file=sys.stderr)
        status = "" if result.returncode == 0 else f" **(exit {result.returncode})**"
        sections.append(f"{result.stdout.strip()}\n\n`{module}` took {took:.0f} s{status}.\n")
    header = (f"# Benchmark results\n\nWritten by `make bench` "
              f"(`.venv/bin/python -m bench.run_all`) on "
              f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, at commit {_commit()}.\n"
              f"Machine: {machine()}.\n"
              "Numbers are medians where a benchmark says so; compare ratios, not seconds: the "
              "machine is shared and noisy.\n")
    if failed:
        header += f"\n**Incomplete: {', '.join(failed)} did not finish.**\n"
    (ROOT / "bench" / "RESULTS.md").write_text(header + "\n" + "\n".join(sections))
    print(f"wrote {ROOT / 'bench' / 'RESULTS.md'}")
    return 1 if failed else 0


def _commit() -> str:
    """The checkout measured, so a number can be traced to its code."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, check=False).stdout.strip()
    if not head:
        return "unknown (not a git checkout)"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    return f"{head} (with uncommitted changes)" if dirty else head


if __name__ == "__main__":
    sys.exit(main())
