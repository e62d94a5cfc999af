"""Route53 API calls of one renewal run: lsctl against certbot with certbot-dns-route53.

Both run on the same moto server (counted from its request log) for N domains in one hosted
zone, against a Pebble that does not validate (PEBBLE_VA_ALWAYS_VALID=1): moto holds the
records but serves no DNS. certbot runs once per certificate, as people script it; it comes
from a pinned PyPI install in .bench/peers (Debian's needs a boto3 too old for
AWS_ENDPOINT_URL). Target: a constant number of change calls per zone per run.

Run: .venv/bin/python -m bench.route53_calls [--domains 100]
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import boto3

from bench.common import (
    BIN,
    ROOT,
    PeerFailed,
    emulator,
    machine,
    new_sid,
    sandbox,
    sandbox_env,
    table,
    timed,
)
from sandbox.lifecycle import SandboxState

PEERS = ROOT / ".bench" / "peers"
CERTBOT_PINS = ("certbot==5.8.0", "certbot-dns-route53==5.8.0")
REQUEST = re.compile(r'"(GET|POST|DELETE) (/2013-04-01/[^ ]*) HTTP')


def peers_certbot() -> Path:
    certbot = PEERS / "bin" / "certbot"
    if not certbot.exists():
        uv = ROOT / ".tools" / "bin" / "uv"
        for argv in ([str(uv), "venv", "-q", "--python", "python3", str(PEERS)],
                     [str(uv), "pip", "install", "-q", "--python", str(PEERS / "bin" / "python"),
                      *CERTBOT_PINS]):
            if subprocess.run(argv, check=False).returncode != 0:
                raise PeerFailed(f"could not install {' '.join(CERTBOT_PINS)} into {PEERS}")
    return certbot


def route53_calls(state: SandboxState, since: int) -> tuple[Counter[str], int]:
    """API calls in moto's log after line `since`, by kind; and the new line count."""
    lines = (state.path / "logs" / "moto.log").read_text(errors="replace").splitlines()
    kinds: Counter[str] = Counter()
    for line in lines[since:]:
        match = REQUEST.search(line)
        if not match:
            continue
        method, path = match.groups()
        if method == "POST" and path.rstrip("/").endswith("/rrset"):
            kinds["ChangeResourceRecordSets"] += 1
        elif "/change/" in path:
            kinds["GetChange"] += 1
        elif method == "GET" and path.rstrip("/").endswith("/rrset"):
            kinds["ListResourceRecordSets"] += 1
        elif method == "GET" and path.rstrip("/").endswith("/hostedzone"):
            kinds["ListHostedZones"] += 1
        else:
            kinds[f"{method} other"] += 1
    return kinds, len(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=100)
    args = parser.parse_args()
    certbot = peers_certbot()
    with tempfile.TemporaryDirectory(prefix="lsctl-bench-") as tmp, \
            sandbox(Path(tmp) / "sandbox", pebble_env={"PEBBLE_VA_ALWAYS_VALID": "1"},
                    twilio={"validation_delay": 0.5}) as state:
        work = Path(tmp)
        env = sandbox_env(state, REQUESTS_CA_BUNDLE=str(state.ca_bundle))
        boto3.client("route53", endpoint_url=state.aws_endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing",
                     ).create_hosted_zone(Name="lsctl.test", CallerReference=secrets.token_hex(4))
        tag = secrets.token_hex(3)
        sids = {new_sid(): f"a{i}x{tag}.lsctl.test" for i in range(args.domains)}
        emulator(state).seed(sids)
        stack = work / "Pulumi.route53.yaml"
        stack.write_text(textwrap.dedent(f"""\
            config:
              lsctl:acme:
                agreeTos: true
                propagationCheck: false
                state: {{backend: directory, location: {work / 'state'}}}
              lsctl:dns: {{provider: route53}}
              lsctl:domains:
            """) + "".join(f"    - {{fqdn: {n}, zone: lsctl.test, domainSid: {s}}}\n"
                           for s, n in sids.items()))
        _, mark = route53_calls(state, 0)
        ours_s = timed([str(BIN / "lsctl"), "renew", "--stack", str(stack),
                        "--validation-poll", "0.5"], env, "lsctl renew (route53)")
        ours, mark = route53_calls(state, mark)
        theirs_s = 0.0
        for i in range(args.domains):
            theirs_s += timed([str(certbot), "certonly", "-n", "--agree-tos",
                               "-m", "ops@lsctl.test", "--server", state.acme_directory,
                               "--dns-route53", "-d", f"c{i}x{tag}.lsctl.test",
                               "--config-dir", str(work / "c"), "--work-dir", str(work / "w"),
                               "--logs-dir", str(work / "l")], env, "certbot --dns-route53")
        theirs, _ = route53_calls(state, mark)
    kinds = sorted(set(ours) | set(theirs))
    rows = [[kind, ours[kind], theirs[kind],
             f"{theirs[kind] / ours[kind]:.0f}x" if ours[kind] and theirs[kind] else "-"]
            for kind in kinds]
    rows.append(["all Route53 calls", sum(ours.values()), sum(theirs.values()),
                 f"{sum(theirs.values()) / max(1, sum(ours.values())):.0f}x"])
    rows.append(["wall time s", f"{ours_s:.1f}", f"{theirs_s:.1f}", f"{theirs_s / ours_s:.0f}x"])
    print(f"### Route53 API calls, {args.domains} domains in one zone ({machine()})\n")
    print(table(["call", "lsctl renew (one run)", f"certbot x {args.domains}", "certbot / lsctl"],
                rows))
    return 0 if ours["ChangeResourceRecordSets"] <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
