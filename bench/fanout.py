"""Fan-out: N local workers, each `lsctl renew --shard K/N --plan plan.json`, beside one
`lsctl renew` of the same number of domains (fresh domains for each run).

The domains are spread over 16 zones of the sandbox's BIND; the plan (`--plan-only`, its
own row) packs them into exactly N shards of whole zones (--shard-seconds chosen so a
shard holds domains/N). The workers share the single run's 8 parallel requests
(`--workers 8/N` each): Debian's Pebble 2.4 deadlocks under more parallel orders (issue 14),
so the speed-up measured is that of overlapping the waits, not of more load on the CA.
Wall time of a fan-out row is from the first worker's start to the
last one's end, the plan not included. Pebble, BIND, the Twilio emulator (2 s validation)
and the workers share the machine's cores: where the speed-up stops growing, the table's
last column says which was busiest (CPU seconds of each service during the run).

Run: .venv/bin/python -m bench.fanout [--domains 1000] [--workers 1 2 4] [--timeout 900]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

from bench.common import BIN, emulator, machine, new_sid, sandbox, sandbox_env, table
from sandbox.lifecycle import SandboxState

ZONES = tuple(f"z{i:02d}.fan.test" for i in range(16))
EMULATED_VALIDATION = 2.0
PER_RUN_WORKERS = 8  # RenewOptions.workers of the single run


def write_stack(work: Path, state: SandboxState, count: int) -> Path:
    tag = secrets.token_hex(3)
    names = {new_sid(): (f"d{i}x{tag}.{ZONES[i % len(ZONES)]}", ZONES[i % len(ZONES)])
             for i in range(count)}
    emulator(state).seed({sid: name for sid, (name, _) in names.items()})
    stack = work / f"Pulumi.fan{tag}.yaml"
    stack.write_text(textwrap.dedent(f"""\
        config:
          lsctl:acme:
            agreeTos: true
            propagationInterval: 0.5
            state: {{backend: directory, location: {work / stack.stem}}}
          lsctl:dns: {{provider: rfc2136, tsigKeyName: lsctl-sandbox}}
          lsctl:domains:
        """) + "".join(f"    - {{fqdn: {n}, zone: {z}, domainSid: {s}}}\n"
                       for s, (n, z) in names.items()))
    return stack


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """utime + stime of each service process so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            out[name] = 0.0
    return out


def busiest(before: dict[str, float], after: dict[str, float], workers_cpu: float,
            wall: float) -> str:
    used = {name: after[name] - before[name] for name in after}
    used["lsctl workers"] = workers_cpu
    ranked = sorted(used.items(), key=lambda kv: -kv[1])
    total = sum(used.values())
    return ", ".join(f"{n} {s:.0f}s" for n, s in ranked[:3]) + \
        f" (all {total / wall:.2f} of 2 cores)"


def statuses(outputs: list[str]) -> str:
    counts: Counter[str] = Counter()
    for out in outputs:
        try:
            counts.update(o["status"] for o in json.loads(out)["outcomes"])
        except (json.JSONDecodeError, KeyError):
            counts["unreadable report"] += 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def run_workers(argvs: list[list[str]], env: dict[str, str], timeout: float,
                ) -> tuple[float, list[str], float, bool]:
    start = time.perf_counter()
    procs = [subprocess.Popen(a, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) for a in argvs]
    outputs, killed = [], False
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=max(1.0, timeout -
                                                        (time.perf_counter() - start)))[0])
        except subprocess.TimeoutExpired:
            proc.kill()
            outputs.append(proc.communicate()[0])
            killed = True
    wall = time.perf_counter() - start
    usage = os.times()
    return wall, outputs, usage.children_user + usage.children_system, killed


def service_pids(state: SandboxState) -> dict[str, int]:
    return {s.name: s.pid for s in state.services}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, nargs="*", default=[1000])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    lsctl = str(BIN / "lsctl")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp, \
            sandbox(Path(tmp) / "sandbox", twilio={"validation_delay": EMULATED_VALIDATION},
                    zones=ZONES) as state:
        env, pids = sandbox_env(state), service_pids(state)
        for count in args.domains:
            single = None
            for workers in [0, *args.workers]:  # 0: the single-process run
                stack = write_stack(Path(tmp), state, count)
                base = [lsctl, "renew", "--stack", str(stack), "--json",
                        "--validation-poll", "1"]
                if workers == 0:
                    argvs, label = [base], f"lsctl renew, {count} domains, one process"
                else:
                    plan = Path(tmp) / f"{stack.stem}.plan.json"
                    started = time.perf_counter()
                    subprocess.run([lsctl, "renew", "--stack", str(stack), "--plan-only",
                                    "--out", str(plan), "--per-domain-seconds", "1",
                                    # slack of one zone: exactly `workers` shards
                                    "--shard-seconds", str(360 + math.ceil(count / workers)
                                                           + math.ceil(count / len(ZONES)))],
                                   env=env, check=True, capture_output=True)
                    shards = len(json.loads(plan.read_text())["shards"])
                    rows.append([f"lsctl renew --plan-only, {count} domains",
                                 f"{time.perf_counter() - started:.1f}", "", "",
                                 f"{shards} shard(s)"])
                    # Pebble 2.4 deadlocks under many parallel orders (issue 14): the
                    # workers share the single run's 8 parallel requests.
                    argvs = [[*base, "--shard", f"{k}/{shards}", "--plan", str(plan),
                              "--workers", str(max(1, PER_RUN_WORKERS // shards))]
                             for k in range(shards)]
                    label = f"{shards} workers --shard K/{shards}, {count} domains"
                before = cpu_seconds(pids)
                cpu_before = os.times()
                wall, outputs, _, killed = run_workers(argvs, env, args.timeout)
                cpu_after = os.times()
                workers_cpu = (cpu_after.children_user + cpu_after.children_system
                               - cpu_before.children_user - cpu_before.children_system)
                single = single or wall
                speedup = f"{single / wall:.2f}x" if workers else "1.00x"
                per_worker = f"{single / wall / len(argvs):.2f}" if workers else ""
                outcome = statuses(outputs) + (" (killed at timeout)" if killed else "")
                rows.append([label, f"{wall:.1f}", speedup, per_worker,
                             f"{outcome}; busiest: "
                             f"{busiest(before, cpu_seconds(pids), workers_cpu, wall)}"])
                print(rows[-1], file=sys.stderr, flush=True)
    print(f"### Fan-out: N workers of `lsctl renew --shard K/N` ({machine()})\n")
    print(table(["what", "wall s", "speed-up", "per worker", "outcome"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
