"""Fleet renewal: many subdomains of one zone, end to end, and the DNS batches alone.

1. `lsctl renew` of N subdomains of lsctl.test in one stack (Pebble, BIND 9, the Twilio
   emulator with a 2 s validation delay): wall time and the statuses of the report. Every
   challenge record of the run lands in one zone, so it crosses RFC 2136's message size.
2. The RFC 2136 provider alone on the same BIND: present + cleanup of M challenge names in
   one zone (default 1,000 and 10,000), with the number of updates it took.

Run: .venv/bin/python -m bench.fleet_renewal [--domains 1000] [--names 1000 10000]
     [--timeout 900]
Debian's Pebble 2.4 can deadlock under many parallel orders (issue 14); a run that passes
--timeout is killed and reported as such, not retried.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path

import dns.name
import dns.rdata

from acme_renewer.challenge import ChallengeRecord, by_name, challenge_name
from acme_renewer.rfc2136_provider import Rfc2136Provider
from bench.common import BIN, emulator, machine, new_sid, sandbox, sandbox_env, table
from bench.renewal import write_stack
from linkshortening.dns.batches import split_rfc2136
from linkshortening.dns.rfc2136 import new_update
from sandbox.lifecycle import SandboxState

EMULATED_VALIDATION = 2.0  # seconds the Twilio emulator keeps an upload pending


def renew_row(state: SandboxState, work: Path, count: int, timeout: float) -> list[object]:
    tag = secrets.token_hex(3)
    sids = {new_sid(): f"f{i}x{tag}.lsctl.test" for i in range(count)}
    emulator(state).seed(sids)
    stack = write_stack(work, sids, interval=0.5)
    argv = [str(BIN / "lsctl"), "renew", "--stack", str(stack), "--json",
            "--validation-poll", "1"]
    start = time.perf_counter()
    try:
        result = subprocess.run(argv, env=sandbox_env(state), capture_output=True, text=True,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [f"lsctl renew, {count} subdomains of one zone", f"> {timeout:.0f}",
                f"killed after {timeout:.0f} s (Pebble deadlock?)"]
    elapsed = time.perf_counter() - start
    try:
        report = json.loads(result.stdout)
        counts = Counter(o["status"] for o in report["outcomes"])
        outcome = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    except (json.JSONDecodeError, KeyError):
        outcome = f"exit {result.returncode}: {result.stderr.strip().splitlines()[-1:]}"
    return [f"lsctl renew, {count} subdomains of one zone", f"{elapsed:.1f}", outcome]


def dns_rows(state: SandboxState, count: int) -> list[list[object]]:
    provider = Rfc2136Provider(state.dns, state.tsig_key())
    tag = secrets.token_hex(3)
    records = [ChallengeRecord(f"n{i}x{tag}.lsctl.test",
                               challenge_name(f"n{i}x{tag}.lsctl.test"), "lsctl.test",
                               base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
                               .rstrip("="))
               for i in range(count)]
    items = [(dns.name.from_text(name), [dns.rdata.from_text("IN", "TXT", f'"{v}"')
                                          for v in values])
             for name, values in by_name(records).items()]
    updates = len(split_rfc2136(partial(new_update, "lsctl.test", state.tsig_key()), items,
                                lambda update, item: update.add(item[0], 60, *item[1])))
    rows: list[list[object]] = []
    for phase, step in (("present", provider.present), ("cleanup", provider.cleanup)):
        start = time.perf_counter()
        failures = step(records)
        elapsed = time.perf_counter() - start
        failed = sum(len(f.records) for f in failures)
        rows.append([f"RFC 2136 {phase}, {count} names in one zone", f"{elapsed:.2f}",
                     f"{failed} failed; {updates} update(s)"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, nargs="*", default=[1000])
    parser.add_argument("--names", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="kill a renewal run after this many seconds")
    args = parser.parse_args()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp, \
            sandbox(Path(tmp) / "sandbox", twilio={"validation_delay": EMULATED_VALIDATION}) \
            as state:
        for count in args.names:
            rows += dns_rows(state, count)
        for count in args.domains:
            rows.append(renew_row(state, Path(tmp), count, args.timeout))
    print(f"### Fleet renewal, one zone ({machine()})\n")
    print(table(["what", "wall s", "outcome"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
