"""Chain ordering on a loop of same-named certificates: `lsctl cert check|bundle` and order_chain.

The loop (tests/certfactory.py issuer_loop: each certificate issued by the one before it, the
first by the last, all with one name) is the input that made the old ordering try every pair.
Each measurement is a subprocess with a time limit, so a slow ordering is reported, not waited
for. `--source DIR` runs another checkout's lsctl (e.g. `git worktree add /tmp/before REV`) with
this checkout's loop files, for before/after numbers.

Run: .venv/bin/python -m bench.cert_chain [--sizes 300 1800] [--runs 3] [--limit 60]
     [--source DIR]. Prints one Markdown table of medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, machine, table
from tests.certfactory import issuer_loop, pem

DOMAIN = "link.example.com"
# Times order_chain alone, in the checkout on sys.path: argv is cert file, key file, "key"/"".
# The certificates are read with cryptography, past lsctl's chain-size limit.
ORDER_SNIPPET = """
import sys, time
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from linkshortening.certs.tlscert import order_chain
certs = x509.load_pem_x509_certificates(open(sys.argv[1], 'rb').read())
key = load_pem_private_key(open(sys.argv[2], 'rb').read(), None) if sys.argv[3] else None
start = time.perf_counter()
order_chain(certs, key)
print(time.perf_counter() - start)
"""


def write_loop(directory: Path, count: int) -> tuple[Path, Path]:
    loop = issuer_loop(count, [DOMAIN])
    cert, key = directory / f"loop{count}.crt", directory / f"loop{count}.key"
    cert.write_text("\n".join(pem(c.cert) for c in loop) + "\n")
    key.write_text(loop[0].key_pem)
    return cert, key


def measure(argv: list[str], source: Path, limit: float, inner: bool) -> float | None:
    """Seconds (wall time, or what the command prints when `inner`); None past `limit`."""
    start = time.perf_counter()
    try:  # `python -c` puts its working directory first on sys.path: `source` is imported
        done = subprocess.run(argv, cwd=source, capture_output=True, text=True, timeout=limit,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return None
    elapsed = time.perf_counter() - start
    if inner:
        if done.returncode != 0:
            raise SystemExit(f"bench: {argv[2:]} failed:\n{done.stderr[-2000:]}")
        return float(done.stdout.strip())
    return elapsed


def median_or_limit(argv: list[str], source: Path, runs: int, limit: float,
                    inner: bool = False) -> str:
    samples = []
    for _ in range(runs):
        seconds = measure(argv, source, limit, inner)
        if seconds is None:
            return f"> {limit:.0f}"
        samples.append(seconds)
    return f"{statistics.median(samples):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1800])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="the checkout whose lsctl runs (default: this one)")
    args = parser.parse_args()
    source = args.source.resolve()
    lsctl = [sys.executable, "-c", "import sys; from linkshortening.cli.main import main; "
             "sys.exit(main())"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.sizes:
            cert, key = write_loop(Path(tmp), count)
            files = ["--cert", str(cert), "--key", str(key), "--domain", DOMAIN]
            order = [sys.executable, "-c", ORDER_SNIPPET, str(cert), str(key)]
            rows.append([count, f"{cert.stat().st_size // 1024} KB",
                         median_or_limit([*lsctl, "cert", "check", *files], source, args.runs,
                                         args.limit),
                         median_or_limit([*lsctl, "cert", "bundle", *files], source, args.runs,
                                         args.limit),
                         median_or_limit([*order, "key"], source, args.runs, args.limit, True),
                         median_or_limit([*order, ""], source, args.runs, args.limit, True)])
    print(f"### Chain ordering on a same-named certificate loop ({machine()})\n")
    print(f"lsctl from {source}; medians of {args.runs} runs in seconds, each cut at "
          f"{args.limit:.0f} s.\n")
    print(table(["certificates", "file", "`cert check`", "`cert bundle`",
                 "order_chain, key given", "order_chain, no key"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
