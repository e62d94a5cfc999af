"""Twilio validation wait: 100 uploads, each pending for an emulated 3 s, then validated.

lsctl uploads in parallel and polls every domain in the same rounds
(`LinkShorteningApi.wait_for_validation`); the peer is the guide's flow done per domain,
upload then wait, whose total is the sum of the delays. Target: under two delays.

Run: .venv/bin/python -m bench.validation_wait [--domains 100] [--delay 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import emulator, machine, median, sandbox, sandbox_env, table
from linkshortening.twilio.api import LinkShorteningApi
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain


def one_run(api: LinkShorteningApi, control: EmulatorControl, count: int) -> float:
    tag = secrets.token_hex(3)
    domains = {"DN" + secrets.token_hex(16): f"v{n}x{tag}.lsctl.test" for n in range(count)}
    control.seed(domains)
    bundles = {sid: make_chain((name,)).tls_cert for sid, name in domains.items()}
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda item: api.upload_certificate(*item), bundles.items()))
    results = api.wait_for_validation(domains, timeout=120, poll_interval=0.25)
    elapsed = time.perf_counter() - started
    if not all(r.ok for r in results):
        raise SystemExit(f"bench: {sum(not r.ok for r in results)} validations failed")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=100)
    parser.add_argument("--delay", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp, \
            sandbox(Path(tmp) / "sandbox", twilio={"validation_delay": args.delay}) as state:
        os.environ.update(sandbox_env(state))
        control = emulator(state)
        control.configure(trust_roots=[make_chain().root.cert_pem])
        api = LinkShorteningApi.from_env()
        total = median([one_run(api, control, args.domains) for _ in range(args.runs)])
    serial = args.domains * args.delay
    print(f"### Twilio validation wait ({machine()})\n")
    print(table(["flow", "uploads", "delay s", "total s", "in delays", "vs one by one"], [
        [f"lsctl (parallel upload, one polling round for all; median of {args.runs})",
         args.domains, args.delay, f"{total:.2f}", f"{total / args.delay:.2f}",
         f"{serial / total:.0f}x faster"],
        ["one by one: upload, wait, next (sum of the delays)", args.domains, args.delay,
         f"{serial:.0f}", f"{args.domains}", "1x"],
    ]))
    return 0 if total < 2 * args.delay else 1


if __name__ == "__main__":
    sys.exit(main())
