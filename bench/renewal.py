"""Renewal throughput: lsctl against certbot (certbot-dns-rfc2136) and lego (rfc2136).

All issue by DNS-01 against the same sandbox Pebble and BIND 9. lsctl's time is end to end:
issuance, upload to the Twilio emulator and Twilio's validation (emulated delay 2 s); the peers
stop at issuance. Peers run one invocation per certificate, as people script them.

Run: .venv/bin/python -m bench.renewal [--sizes 10 100] [--runs 3] [--full | --quick]
By default every peer is measured at every size except certbot with its default propagation
wait, which sleeps 60 s per certificate and is measured on 2 domains and extrapolated (marked);
--full measures it too (100 minutes at 100 domains), --quick extrapolates every peer from the
smallest size.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    BIN,
    emulator,
    machine,
    median,
    new_sid,
    require,
    sandbox,
    sandbox_env,
    table,
    timed,
)
from sandbox.lifecycle import SandboxState

EMULATED_VALIDATION = 2.0  # seconds the Twilio emulator keeps an upload pending


def names(count: int) -> list[str]:
    tag = secrets.token_hex(3)
    return [f"r{i}x{tag}.lsctl.test" for i in range(count)]


def write_stack(work: Path, sids: dict[str, str], interval: float = 0.2,
                zones: dict[str, str] | None = None, acme_extra: str = "") -> Path:
    """A sandbox stack of `sids` (DomainSid -> name), its state beside it.

    `zones` maps a name to its zone (default lsctl.test); `acme_extra` is more lsctl:acme
    settings, one `key: value` line each (e.g. a rateLimits budget)."""
    zone_of = zones or {}
    entries = "".join(f"    - {{fqdn: {n}, zone: {zone_of.get(n, 'lsctl.test')}, "
                      f"domainSid: {s}}}\n" for s, n in sids.items())
    extra = "".join(f"    {line}\n" for line in acme_extra.splitlines() if line.strip())
    stack = work / f"Pulumi.bench{secrets.token_hex(3)}.yaml"
    stack.write_text(textwrap.dedent(f"""\
        config:
          lsctl:acme:
            agreeTos: true
            propagationInterval: {interval}
            state: {{backend: directory, location: {work / stack.stem}}}
        """) + extra + "  lsctl:dns: {provider: rfc2136, tsigKeyName: lsctl-sandbox}\n"
                      "  lsctl:domains:\n" + entries)
    return stack


def lsctl_seconds(state: SandboxState, work: Path, count: int) -> float:
    domains = names(count)
    sids = {new_sid(): name for name in domains}
    emulator(state).seed(sids)
    stack = write_stack(work, sids)
    return timed([str(BIN / "lsctl"), "renew", "--stack", str(stack), "--validation-poll",
                  "0.5"], sandbox_env(state), f"lsctl renew ({count} domains)")


def certbot_seconds(state: SandboxState, work: Path, count: int,
                    propagation: int | None) -> float:
    certbot = require("certbot", "certbot python3-certbot-dns-rfc2136")
    run = work / f"certbot-{secrets.token_hex(3)}"
    run.mkdir()
    ini = run / "rfc2136.ini"
    ini.write_text(f"dns_rfc2136_server = 127.0.0.1\n"
                   f"dns_rfc2136_port = {state.dns_port}\n"
                   f"dns_rfc2136_name = {state.tsig_key_name}\n"
                   f"dns_rfc2136_secret = {state.tsig_key().secret}\n"
                   f"dns_rfc2136_algorithm = HMAC-SHA256\n")
    ini.chmod(0o600)
    env = sandbox_env(state, REQUESTS_CA_BUNDLE=str(state.ca_bundle))
    wait = [] if propagation is None else ["--dns-rfc2136-propagation-seconds", str(propagation)]
    total = 0.0
    for name in names(count):
        total += timed([certbot, "certonly", "--non-interactive", "--agree-tos",
                        "-m", "ops@lsctl.test", "--server", state.acme_directory,
                        "--dns-rfc2136", "--dns-rfc2136-credentials", str(ini), *wait,
                        "-d", name, "--config-dir", str(run / "config"),
                        "--work-dir", str(run / "work"), "--logs-dir", str(run / "logs")],
                       env, f"certbot for {name}")
    return total


def lego_seconds(state: SandboxState, work: Path, count: int) -> float:
    lego = require("lego", "lego")
    run = work / f"lego-{secrets.token_hex(3)}"
    env = sandbox_env(state, LEGO_CA_CERTIFICATES=str(state.ca_bundle),
                      RFC2136_NAMESERVER=str(state.dns),
                      RFC2136_TSIG_KEY=state.tsig_key_name + ".",
                      RFC2136_TSIG_SECRET=state.tsig_key().secret,
                      RFC2136_TSIG_ALGORITHM="hmac-sha256.")
    total = 0.0
    for name in names(count):
        # --dns.disable-cp: lego would ask the zone's NS on port 53, where no sandbox server
        # listens; this skips its propagation check (lsctl's own check stays on).
        total += timed([lego, "--server", state.acme_directory, "--email", "ops@lsctl.test",
                        "--accept-tos", "--dns", "rfc2136", "--dns.disable-cp",
                        "--dns.resolvers", str(state.dns), "--domains", name,
                        "--path", str(run), "run"], env, f"lego for {name}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--runs", type=int, default=3, help="lsctl runs per size (median)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--full", action="store_true",
                       help="measure every peer at every size, even the 60 s-wait certbot")
    scope.add_argument("--quick", action="store_true",
                       help="measure the peers at the smallest size only and extrapolate")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp, \
            sandbox(Path(tmp) / "sandbox", twilio={"validation_delay": EMULATED_VALIDATION}) \
            as state:
        work = Path(tmp)
        lsctl_seconds(state, work, 1)  # warm-up: account registration, imports
        sample = min(args.sizes) if args.quick else max(args.sizes)
        peers: dict[str, Callable[[int], float]] = {
            "certbot, propagation 0 s": lambda n: certbot_seconds(state, work, n, 0),
            "lego (rfc2136, defaults)": lambda n: lego_seconds(state, work, n),
            "certbot, default propagation (60 s)":
                lambda n: certbot_seconds(state, work, n, None),
        }
        # The default-propagation certbot sleeps 60 s per certificate: sampled on 2 domains
        # (its time per domain is that sleep, so the line is exact enough).
        samples = {"certbot, default propagation (60 s)": min(2, sample)}
        per_domain: dict[str, float] = {}
        for size in args.sizes:
            ours = median([lsctl_seconds(state, work, size) for _ in range(args.runs)])
            rows.append(["lsctl renew (with upload + validation)", size, f"{ours:.1f}",
                         f"{ours / size:.3f}", "1.0x", "measured, median of "
                         f"{args.runs}"])
            for peer, run in peers.items():
                limit = size if args.full else samples.get(peer, sample)
                if size <= limit:
                    seconds = run(size)
                    per_domain[peer] = seconds / size
                    how = "measured"
                else:
                    if peer not in per_domain:
                        per_domain[peer] = run(limit) / limit
                    seconds = per_domain[peer] * size
                    how = f"extrapolated from {limit} domains"
                rows.append([peer, size, f"{seconds:.1f}", f"{seconds / size:.3f}",
                             f"{seconds / ours:.1f}x", how])
    print(f"### Renewal throughput ({machine()})\n")
    print(table(["client", "domains", "total s", "s per domain", "peer / lsctl", "how"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
