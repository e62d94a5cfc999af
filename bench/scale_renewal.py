"""Renewal at fleet scale, end to end: `lsctl renew` in the sandbox (Pebble, BIND 9, the
Twilio emulator with a 2 s validation delay), one fresh sandbox per row.

Rows (issue 14, item 7):
  subdomains  N subdomains of one zone (lsctl.test): every challenge in one zone, so RFC 2136
              updates are split to fit a DNS message.
  roots       N root domains, each its own zone on BIND.
  budget      N domains, half roots and half subdomains, with `lsctl:acme.rateLimits:
              {newOrdersPer3Hours: 300}` in the stack. Every domain is due: the emulator serves
              each an expired certificate (uploaded outside lsctl), each expiring at another
              minute, in shuffled order. The run must renew exactly the 300 that expired first
              and defer the rest, with no failure.

A row that misses its correctness condition (statuses) makes the benchmark exit 1; its time is
reported against the target, never asserted. A run past --timeout is killed and fails its row.

Run: .venv/bin/python -m bench.scale_renewal [--rows subdomains roots budget]
     [--domains 1000 1000 10000] [--profile DIR] [--timeout 900]
--domains gives one count per row, in the order of --rows. --profile writes a cProfile of each
lsctl process, every thread (bench.thread_profile; DIR/<row>.prof) and prints its top functions
by own time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import pstats
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import BIN, emulator, machine, new_sid, sandbox, sandbox_env, table
from bench.renewal import EMULATED_VALIDATION, write_stack
from sandbox import bind
from sandbox.lifecycle import SandboxState

BUDGET = 300  # Let's Encrypt's new orders per account per 3 hours
TARGETS = {"subdomains": 20.0, "roots": 20.0, "budget": 600.0}  # seconds (issue 14)
DEFAULT_COUNTS = {"subdomains": 1000, "roots": 1000, "budget": 10000}
SUBDOMAIN_ZONE = "lsctl.test"
BIND_LOAD_WAIT = 300.0  # seconds for named to load thousands of zones
CPU_NOTES: list[str] = []  # where each run's CPU went, printed under the table


@dataclass
class Fleet:
    """A row's domains: DomainSid -> name, each name's zone, and what the run must show."""

    row: str
    sids: dict[str, str]
    zones: dict[str, str]
    acme_extra: str = ""
    expiries: dict[str, dt.datetime] = field(default_factory=dict)  # seeded live certs
    must_renew: set[str] = field(default_factory=set)

    @property
    def sandbox_zones(self) -> list[str]:
        return [SUBDOMAIN_ZONE, *sorted(set(self.zones.values()) - {SUBDOMAIN_ZONE})]


def fleet(row: str, count: int) -> Fleet:
    tag = secrets.token_hex(3)
    roots = {"subdomains": 0, "roots": count, "budget": count // 2}[row]
    names = [f"root{i}x{tag}.test" for i in range(roots)]
    names += [f"s{i}x{tag}.{SUBDOMAIN_ZONE}" for i in range(count - roots)]
    zones = {n: (n if i < roots else SUBDOMAIN_ZONE) for i, n in enumerate(names)}
    sids = {new_sid(): n for n in names}
    result = Fleet(row, sids, zones)
    if row == "budget":
        result.acme_extra = f"rateLimits: {{newOrdersPer3Hours: {BUDGET}}}"
        # Urgency differs by domain: expired 1..count minutes ago, shuffled across roots and
        # subdomains, so "the 300 most urgent" is a set the planner must find.
        order = list(sids)
        random.Random(tag).shuffle(order)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        result.expiries = {sid: now - dt.timedelta(minutes=count - i)
                           for i, sid in enumerate(order)}
        result.must_renew = {sids[sid] for sid in order[:BUDGET]}
    return result


def wait_for_zones(state: SandboxState, zones: Sequence[str]) -> None:
    """The sandbox waits for its first zone; named loads thousands more after it."""
    deadline = time.monotonic() + BIND_LOAD_WAIT
    for zone in (zones[-1], *zones[::max(1, len(zones) // 20)]):
        while not bind.serves(state.dns_port, zone):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: BIND did not serve {zone} in {BIND_LOAD_WAIT:.0f} s")
            time.sleep(0.2)  # polling readiness, not waiting out a guess


def service_cpu(state: SandboxState) -> dict[str, float]:
    """CPU seconds (user + system) each sandbox service has used so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for service in state.services:
        try:
            fields = Path(f"/proc/{service.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[service.name] = (int(fields[11]) + int(fields[12])) / tick
    return used


def cpu_line(elapsed: float, lsctl: float, before: dict[str, float],
             after: dict[str, float]) -> str:
    """Where the run's CPU went: lsctl's process and each service, as seconds of wall."""
    parts = [f"lsctl {lsctl:.1f}"] + [f"{name} {after[name] - before.get(name, 0.0):.1f}"
                                      for name in sorted(after)]
    return f"CPU s in {elapsed:.1f} s wall (2 cores = {2 * elapsed:.0f} CPU s): " + \
        ", ".join(parts)


def has_deadline_flag(env: dict[str, str]) -> bool:
    out = subprocess.run([str(BIN / "lsctl"), "renew", "--help"], env=env,
                         capture_output=True, text=True, check=False).stdout
    return "--deadline" in out


def check(f: Fleet, outcomes: list[dict[str, object]]) -> str | None:
    """What is wrong with the run's statuses, or None."""
    statuses = {str(o["domain"]): str(o["status"]) for o in outcomes}
    if set(statuses) != set(f.sids.values()):
        return f"the report has {len(statuses)} domains, the stack {len(f.sids)}"
    if f.row != "budget":
        bad = [f"{d} {s}" for d, s in statuses.items() if s != "renewed"]
        return f"{len(bad)} not renewed, e.g. {bad[:3]}" if bad else None
    renewed = {d for d, s in statuses.items() if s == "renewed"}
    others = Counter(s for s in statuses.values() if s not in ("renewed", "deferred"))
    if others:
        return f"statuses other than renewed/deferred: {dict(others)}"
    if renewed != f.must_renew:
        wrong = len(renewed - f.must_renew)
        return (f"renewed {len(renewed)}, {wrong} of them not among the {BUDGET} most urgent "
                f"({len(f.must_renew - renewed)} of those not renewed)")
    return None


def run_row(row: str, count: int, work: Path, timeout: float,
            profile: Path | None) -> tuple[list[object], bool, str | None]:
    f = fleet(row, count)
    zones = f.sandbox_zones
    with sandbox(work / f"sandbox-{row}", twilio={"validation_delay": EMULATED_VALIDATION},
                 zones=zones) as state:
        wait_for_zones(state, zones)
        control = emulator(state)
        control.seed(f.sids)
        if f.expiries:
            control.seed_certificates(f.expiries)
        stack = write_stack(work, f.sids, interval=0.5, zones=f.zones, acme_extra=f.acme_extra)
        env = sandbox_env(state)
        argv = [str(BIN / "lsctl"), "renew", "--stack", str(stack), "--json",
                "--validation-poll", "1"]
        if row == "budget" and has_deadline_flag(env):
            argv += ["--deadline", "600"]
        prof = None
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            prof = profile / f"{row}.prof"
            argv = [sys.executable, "-m", "bench.thread_profile", str(prof), *argv]
        label = f"{row}: {count:,} domains" + (" (--deadline 600)" if "--deadline" in argv
                                                 else "")
        cpu_before, children = service_cpu(state), resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        try:
            result = subprocess.run(argv, env=env, capture_output=True, text=True,
                                    timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return ([label, f"> {timeout:.0f}", "-", f"killed after {timeout:.0f} s", "no"],
                    False, None)
        elapsed = time.perf_counter() - start
        done = resource.getrusage(resource.RUSAGE_CHILDREN)
        lsctl_cpu = (done.ru_utime - children.ru_utime) + (done.ru_stime - children.ru_stime)
        note = cpu_line(elapsed, lsctl_cpu, cpu_before, service_cpu(state))
        CPU_NOTES.append(f"{label}: {note}")
        print(CPU_NOTES[-1], file=sys.stderr, flush=True)
    try:
        report = json.loads(result.stdout)
        outcomes = report["outcomes"]
    except (json.JSONDecodeError, KeyError):
        tail = (result.stderr.strip().splitlines() or [""])[-1]
        return [label, f"{elapsed:.1f}", "-", f"exit {result.returncode}: {tail}", "no"], \
            False, None
    counts = Counter(str(o["status"]) for o in outcomes)
    problem = check(f, outcomes)
    statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(counts.items()))
    budget = report.get("budget")
    if budget:
        statuses += f"; budget used {budget['used']} + ordered {budget['ordered']}, " \
                    f"left {budget['left']}"
    target = TARGETS[row]
    row_out: list[object] = [label, f"{elapsed:.1f}", f"{elapsed / target:.2f}x of {target:.0f} s",
                             statuses, "yes" if problem is None else f"no: {problem}"]
    return row_out, problem is None, str(prof) if prof else None


def top(prof: str, lines: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", choices=list(DEFAULT_COUNTS),
                        default=list(DEFAULT_COUNTS))
    parser.add_argument("--domains", type=int, nargs="+",
                        help="one count per row (default 1000 1000 10000)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="kill a run after this many seconds")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="cProfile each lsctl process into DIR/<row>.prof")
    args = parser.parse_args()
    counts = args.domains or [DEFAULT_COUNTS[r] for r in args.rows]
    if len(counts) != len(args.rows):
        parser.error(f"--domains gives {len(counts)} counts for {len(args.rows)} rows: "
                     "give one per row")
    rows, ok, profiles = [], True, []
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp:
        for row, count in zip(args.rows, counts, strict=True):
            out, passed, prof = run_row(row, count, Path(tmp), args.timeout, args.profile)
            print(" | ".join(str(c) for c in out), file=sys.stderr, flush=True)
            rows.append(out)
            ok = ok and passed
            if prof:
                profiles.append((row, prof))
    print(f"### Renewal at fleet scale ({machine()})\n")
    print(table(["run", "wall s", "vs target", "statuses", "correct"], rows))
    if CPU_NOTES:
        print("\n" + "\n".join(f"- {note}" for note in CPU_NOTES))
    for row, prof in profiles:
        print(f"\ncProfile of lsctl, row {row} ({prof}):\n\n```\n{top(prof)}```")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
