"""Drift's DNS throughput: 10,000 root domains (10,000 zones) in one BIND 9, A and AAAA each.

lsctl's engine (linkshortening.dnsengine: one UDP socket per server, replies matched by id)
against a plain dnspython asyncio loop (dns.asyncquery.udp, a semaphore of 100) and against
dnsperf's ceiling for the same server. Target: at least 10,000 queries per second.

Run: .venv/bin/python -m bench.drift_dns [--domains 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message

from bench.common import PeerFailed, machine, median, require, table
from linkshortening.dnsengine import Question, ask_all
from linkshortening.rfc2136 import Endpoint
from linkshortening.targets import DEFAULT_ALLOWED_IPS
from sandbox import bind, process


def start_bind(directory: Path, count: int) -> tuple[Endpoint, list[str], process.Started]:
    zones = tuple(f"d{i}.bench" for i in range(count))
    key = bind.new_tsig_key()
    port = process.free_port()
    conf = bind.write_config(directory, zones, key, port)
    for zone in zones:  # root domains: Twilio's A records at each apex
        with (directory / f"{zone}.db").open("a") as handle:
            handle.writelines(f"@ IN A {ip}\n" for ip in DEFAULT_ALLOWED_IPS)
    _, started = process.start("named", bind.argv(conf), directory / "named.log")
    process.wait_until(lambda: bind.serves(port, zones[-1]), 120, "BIND 9 with the zones",
                       alive=lambda: process.is_running(started), log=directory / "named.log")
    return Endpoint("127.0.0.1", port), list(zones), started


def lsctl_qps(server: Endpoint, names: list[str]) -> float:
    questions = [Question(server, n, t) for n in names for t in ("A", "AAAA")]
    start = time.perf_counter()
    answers = ask_all(questions, concurrency=256)
    elapsed = time.perf_counter() - start
    if sum(a.rcode == "NOERROR" for a in answers) != len(questions):  # every one answered
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

        results = await asyncio.gather(*(one(n, t) for n in names for t in ("A", "AAAA")))
        return sum(results)

    start = time.perf_counter()
    ok = asyncio.run(run())
    elapsed = time.perf_counter() - start
    if ok != 2 * len(names):
        raise PeerFailed("the plain dnspython loop got failed answers")
    return ok / elapsed


def dnsperf_qps(server: Endpoint, names: list[str], work: Path) -> float:
    dnsperf = require("dnsperf", "dnsperf")
    data = work / "queries.txt"
    data.write_text("".join(f"{n} {t}\n" for n in names for t in ("A", "AAAA")))
    result = subprocess.run([dnsperf, "-s", server.host, "-p", str(server.port), "-d", str(data),
                             "-l", "5", "-c", "8", "-T", "2", "-q", "1000"],
                            capture_output=True, text=True, check=False)
    found = re.search(r"Queries per second:\s+([0-9.]+)", result.stdout)
    if result.returncode != 0 or not found:
        raise PeerFailed(f"dnsperf failed: {result.stderr.strip() or result.stdout[-500:]}")
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp:
        work = Path(tmp)
        server, names, started = start_bind(work / "bind", args.domains)
        try:
            ceiling = median([dnsperf_qps(server, names, work) for _ in range(args.runs)])
            ours = median([lsctl_qps(server, names) for _ in range(args.runs)])
            plain = median([plain_qps(server, names) for _ in range(args.runs)])
        finally:
            process.stop(started)
    print(f"### Drift DNS throughput, {args.domains} root domains x A+AAAA on one BIND 9 "
          f"({machine()})\n")
    print(table(["client", "queries/s (median)", "of dnsperf's ceiling", "vs plain loop"], [
        ["lsctl drift's engine (dnsengine)", f"{ours:,.0f}", f"{ours / ceiling:.0%}",
         f"{ours / plain:.1f}x"],
        ["plain dnspython asyncio loop (semaphore 100)", f"{plain:,.0f}",
         f"{plain / ceiling:.0%}", "1.0x"],
        ["dnsperf (ceiling)", f"{ceiling:,.0f}", "100%", f"{ceiling / plain:.1f}x"],
    ]))
    return 0 if ours >= 10000 else 1


if __name__ == "__main__":
    sys.exit(main())
