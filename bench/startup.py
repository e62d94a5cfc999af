"""Start-up time of `lsctl --help` beside the floor: a bare `python -c pass` of the same venv.

Run: .venv/bin/python -m bench.startup [--runs N]. Prints one Markdown table (medians and the
ratio to the interpreter floor); the target is under 0.3 s for each lsctl command.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import machine
from linkshortening.cli.main import COMMANDS

BIN = Path(sys.executable).parent
CASES = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "lsctl --help": [str(BIN / "lsctl"), "--help"],
    **{f"lsctl {name} --help": [str(BIN / "lsctl"), name, "--help"] for name in COMMANDS},
}


def median_seconds(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    # Interleave nothing fancy: each case runs back to back; medians absorb the noise.
    results = {name: median_seconds(argv, args.runs) for name, argv in CASES.items()}
    floor = results["python -c pass (floor)"]
    print(f"### Start-up ({machine()})\n")
    print(f"| command | median of {args.runs} (s) | ratio to python floor | under 0.3 s |")
    print("|---|---|---|---|")
    for name, seconds in results.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds / floor:.1f}x | "
              f"{'yes' if seconds < 0.3 else 'NO'} |")
    return 0 if all(s < 0.3 for s in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
