"""Drift's DNS throughput: 10,000 root domains (10,000 zones) in one BIND 9, A and AAAA each.

lsctl's engine (linkshortening.dns.engine: one UDP socket per server, replies matched by id,
large batches spread over the cores), on one core and on all, against a plain dnspython
asyncio loop (dns.asyncquery.udp, a semaphore of 100) and against dnsperf's ceiling for the
same server; then lsctl drift's whole DNS probe on the same 10,000 domains (nameservers
through the resolver, then A, AAAA, challenge TXT and CAA on each). Target: 10,000 q/s.

Run: .venv/bin/python -m bench.drift_dns [--domains 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message

from bench.common import PeerFailed, machine, median, table
from linkshortening.dns import engine as dnsengine
from linkshortening.dns.engine import Question, ask_all
from linkshortening.dns.rfc2136 import Endpoint
from linkshortening.stack.model import DomainSpec
from linkshortening.stack.targets import DEFAULT_ALLOWED_IPS, TwilioTargets
from sandbox import bind, process

TYPES = ("A", "AAAA")


def start_bind(directory: Path, count: int) -> tuple[Endpoint, list[str], process.Started]:
    """The sandbox's BIND 9 configuration with `count` root zones holding Twilio's IPs."""
    zones = tuple(f"d{i}.bench" for i in range(count))
    port = process.free_port()
    conf = bind.write_config(directory, zones, bind.new_tsig_key(), port)
    for zone in zones:
        with (directory / f"{zone}.db").open("a") as handle:
            handle.writelines(f"@ IN A {ip}\n" for ip in DEFAULT_ALLOWED_IPS)
    _, started = process.start("named", bind.argv(conf), directory / "named.log")
    process.wait_until(lambda: bind.serves(port, zones[-1]), 120, "BIND 9 with the zones",
                       alive=lambda: process.is_running(started), log=directory / "named.log")
    return Endpoint("127.0.0.1", port), list(zones), started


def dnsperf_binary() -> str:
    """dnsperf, installed from Debian when missing (as root); a benchmark without its ceiling
    would be half a comparison, so failing to get it stops the benchmark."""
    found = shutil.which("dnsperf")
    if found:
        return found
    if os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        installed = subprocess.run(["apt-get", "install", "-y", "-qq", "dnsperf"], env=env,
                                   capture_output=True, text=True, check=False)
        found = shutil.which("dnsperf")
        if found:
            return found
        raise PeerFailed(f"apt-get install dnsperf failed: {installed.stderr.strip()[-500:]}")
    raise PeerFailed("dnsperf is missing: apt-get install dnsperf (as root; make bench does)")


def dnsperf_qps(dnsperf: str, server: Endpoint, names: list[str], work: Path) -> float:
    data = work / "queries.txt"
    data.write_text("".join(f"{n} {t}\n" for n in names for t in TYPES))
    result = subprocess.run([dnsperf, "-s", server.host, "-p", str(server.port), "-d", str(data),
                             "-l", "5", "-c", "8", "-T", "2", "-q", "1000"],
                            capture_output=True, text=True, check=False)
    found = re.search(r"Queries per second:\s+([0-9.]+)", result.stdout)
    if result.returncode != 0 or not found:
        raise PeerFailed(f"dnsperf failed: {result.stderr.strip() or result.stdout[-500:]}")
    return float(found.group(1))


def engine_qps(server: Endpoint, names: list[str], processes: int) -> float:
    questions = [Question(server, n, t) for n in names for t in TYPES]
    start = time.perf_counter()
    replies = ask_all(questions, processes=processes)
    elapsed = time.perf_counter() - start
    if any(r.rcode != "NOERROR" for r in replies):
        raise PeerFailed("lsctl's engine got failed answers")
    return len(questions) / elapsed


def plain_qps(server: Endpoint, names: list[str]) -> float:
    async def run() -> int:
        limit = asyncio.Semaphore(100)

        async def one(name: str, rdtype: str) -> bool:
            async with limit:
                query = dns.message.make_query(name, rdtype)
                query.flags &= ~dns.flags.RD
                response = await dns.asyncquery.udp(query, server.host, port=server.port,
                                                    timeout=2)
                return response.rcode() == 0

        return sum(await asyncio.gather(*(one(n, t) for n in names for t in TYPES)))

    start = time.perf_counter()
    ok = asyncio.run(run())
    elapsed = time.perf_counter() - start
    if ok != len(TYPES) * len(names):
        raise PeerFailed("the plain dnspython loop got failed answers")
    return ok / elapsed


def probe_seconds(server: Endpoint, names: list[str]) -> tuple[float, int]:
    """lsctl drift's DNS probe over every domain, as `lsctl drift` runs it."""
    from drift.probes import dns as dns_probe

    os.environ["LSCTL_DNS_RESOLVER"] = str(server)  # the zones' NS point at 127.0.0.1
    os.environ["LSCTL_AUTHORITATIVE_PORT"] = str(server.port)
    specs = [DomainSpec(n, n, "DN" + "0" * 32) for n in names]
    asked = 0
    real_ask = dnsengine.ask_all

    def counting(questions: Sequence[Question]) -> list[dnsengine.Reply]:
        nonlocal asked
        asked += len(questions)
        return real_ask(questions)

    start = time.perf_counter()
    result = dns_probe.probe(specs, TwilioTargets(), ask=counting)
    elapsed = time.perf_counter() - start
    lost = [u for probed in result.domains.values() for u in probed.unreachable]
    if lost:
        raise PeerFailed(f"the drift probe could not ask: {lost[:3]}")
    return elapsed, asked


def runs_of(measure: Callable[[], float], runs: int) -> float:
    return median([measure() for _ in range(runs)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    dnsperf = dnsperf_binary()
    cores = min(os.cpu_count() or 1, dnsengine.MAX_PROCESSES)
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp:
        work = Path(tmp)
        server, names, started = start_bind(work / "bind", args.domains)
        try:
            ceiling = runs_of(lambda: dnsperf_qps(dnsperf, server, names, work), args.runs)
            one = runs_of(lambda: engine_qps(server, names, 1), args.runs)
            pool_started = time.perf_counter()
            engine_qps(server, names[:100], cores)  # the worker processes start once, here
            pool_start = time.perf_counter() - pool_started
            ours = runs_of(lambda: engine_qps(server, names, cores), args.runs)
            plain = runs_of(lambda: plain_qps(server, names), args.runs)
            probe, asked = min(probe_seconds(server, names) for _ in range(args.runs))
        finally:
            process.stop(started)
    print(f"### Drift DNS throughput, {args.domains:,} root domains x A+AAAA on one BIND 9 "
          f"({machine()})\n")
    print(table(["client", "queries/s (median)", "of dnsperf's ceiling", "vs plain loop"], [
        [f"lsctl's engine, {cores} processes", f"{ours:,.0f}", f"{ours / ceiling:.0%}",
         f"{ours / plain:.1f}x"],
        ["lsctl's engine, 1 process", f"{one:,.0f}", f"{one / ceiling:.0%}",
         f"{one / plain:.1f}x"],
        ["plain dnspython asyncio loop (semaphore 100)", f"{plain:,.0f}",
         f"{plain / ceiling:.0%}", "1.0x"],
        ["dnsperf (ceiling)", f"{ceiling:,.0f}", "100%", f"{ceiling / plain:.1f}x"],
    ]))
    print(f"\nlsctl drift's whole DNS probe of the {args.domains:,} domains: {probe:.1f} s "
          f"({asked:,} questions: NS and addresses through the resolver, then A, AAAA, "
          f"challenge TXT and CAA at each nameserver; best of {args.runs}). Starting the "
          f"{cores} worker processes, once per lsctl run: {pool_start:.2f} s. Target "
          f"10,000 q/s: {'met' if ours >= 10000 else 'not met'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
