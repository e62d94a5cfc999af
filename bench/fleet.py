"""The fleet simulator's year: 1,000 and 10,000 domains at 90, 64 and 45 days and 160 hours,
two runs a day, against a simulated CA that enforces Let's Encrypt's limits (bench.fleet_sim),
driving lsctl's real decision and rate budget. Prints one Markdown table and draws the
days-left distribution over the year (bench/fleet.png).

Run: .venv/bin/python -m bench.fleet [--days 365] [--domains 1000 10000] [--png bench/fleet.png]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from acme_renewer.limits import LETS_ENCRYPT
from bench.common import ROOT, machine, table
from bench.fleet_sim import FleetConfig, FleetResult, simulate

PROFILES = {"90 d": dt.timedelta(days=90), "64 d": dt.timedelta(days=64),
            "45 d": dt.timedelta(days=45), "160 h": dt.timedelta(hours=160)}
FAILING = 0.005  # a domain in 200 whose DNS never validates (a broken delegation)


@dataclass(frozen=True)
class Scenario:
    label: str
    profile: str
    config: FleetConfig


def scenarios(sizes: Sequence[int], days: float) -> list[Scenario]:
    out = [Scenario("", name, FleetConfig(n, days, life, failing=FAILING))
           for n in sizes for name, life in PROFILES.items()]
    big = max(sizes)
    out += [
        Scenario("no ARI", "45 d", FleetConfig(big, days, PROFILES["45 d"], ari=False,
                                               failing=FAILING)),
        Scenario("no ARI", "160 h", FleetConfig(big, days, PROFILES["160 h"], ari=False,
                                                failing=FAILING)),
        Scenario("a run every 3 h", "90 d", FleetConfig(big, min(days, 30), PROFILES["90 d"],
                                                        runs_per_day=8, failing=FAILING)),
        Scenario("subdomains in ONE registered domain", "90 d", FleetConfig(
            big, days, PROFILES["90 d"], failing=FAILING, subdomains_per_domain=big)),
    ]
    return out


def row(scenario: Scenario, result: FleetResult, took: float) -> list[str]:
    c, limits = scenario.config, LETS_ENCRYPT
    onboarded = [r for i, r in enumerate(result.runs) if result.onboarded_runs is None
                 or i >= result.onboarded_runs]
    deferrals = [r.deferred for r in onboarded] or [0]
    onboarding = (f"{result.onboarded_runs} runs ({result.onboarded_days:.1f} d)"
                  if result.onboarded_runs and result.onboarded_days is not None
                  else f"not within {c.days:g} d")
    least = f"{result.least_days_left:.1f}" if result.least_days_left is not None else "-"
    return [f"{c.domains:,}", scenario.profile, scenario.label or "-",
            f"{c.days:g} d x {c.runs_per_day}/d",
            f"{result.most_orders_3h} / {limits.orders_per_account}",
            f"{result.most_per_domain_week} / {limits.certificates_per_registered_domain}",
            f"{result.most_per_set_week} / {limits.certificates_per_exact_set}",
            f"{result.most_failures_hour} / {limits.failed_authorizations_per_name}",
            f"{result.most_consecutive_spent:.0f} / {limits.consecutive_failures_pause}",
            str(result.refused), onboarding, least, str(result.expired_seen),
            f"{statistics.mean(deferrals):.1f} / {max(deferrals)}",
            f"{result.orders:,} ({result.exempt:,})", f"{took:.0f}"]


HEADERS = ["domains", "lifetime", "variant", "simulated", "most orders in 3 h / limit",
           "most certs per registered domain in 7 d / limit",
           "most per exact set in 7 d / limit", "most failed authz per name per hour / limit",
           "most consecutive failures spent / pause", "CA refusals",
           "onboarding (all new)", "least days left", "expired (domain-runs)",
           "deferred per run after onboarding (mean / max)", "orders (ARI-exempt)",
           "sim s"]


def draw(results: Sequence[tuple[Scenario, FleetResult]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True)
    for axis, (scenario, result) in zip(axes.flat, results, strict=False):
        points = [(r.at, r.days_left) for r in result.runs if r.days_left is not None]
        days = [(at - result.runs[0].at).total_seconds() / 86400 for at, _ in points]
        for column, label, style in ((3, "most", ":"), (2, "median", "-"),
                                     (1, "5th percentile", "--"), (0, "least", "-")):
            axis.plot(days, [s[column] for _, s in points], style, label=label,
                      linewidth=1.6 if label == "least" else 1.0)
        axis.axhline(0, color="red", linewidth=0.8)
        axis.set_title(f"{scenario.config.domains:,} domains, {scenario.profile} certificates"
                       f"{', ' + scenario.label if scenario.label else ''}")
        axis.set_ylabel("days left")
        axis.grid(alpha=0.3)
    for axis in axes[-1]:
        axis.set_xlabel("simulated day (onboarding every domain from day 0)")
    axes.flat[0].legend(loc="upper right")
    fig.suptitle("lsctl renew twice a day against Let's Encrypt's limits: days left over the "
                 "simulated year")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365)
    parser.add_argument("--domains", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--png", type=Path, default=ROOT / "bench" / "fleet.png")
    args = parser.parse_args(argv)
    results: list[tuple[Scenario, FleetResult]] = []
    rows = []
    for scenario in scenarios(args.domains, args.days):
        started = time.perf_counter()
        result = simulate(scenario.config)
        rows.append(row(scenario, result, time.perf_counter() - started))
        results.append((scenario, result))
    big = max(args.domains)
    draw([(s, r) for s, r in results if s.config.domains == big and not s.label], args.png)
    print(f"### Fleet simulator: a simulated year against Let's Encrypt's limits ({machine()})"
          "\n\nlsctl's real `decide` and rate budget (`acme_renewer.budget`) twice a day "
          "(EventBridge's 60-minute flexible window as jitter) against a simulated CA that "
          "enforces Let's Encrypt's production limits over sliding windows and serves ARI "
          "windows (two thirds of the lifetime, a thirtieth either side). Half the domains "
          "are roots (each its own registered domain, across .com, .co.uk, .com.au, .net, "
          ".de), half subdomains, 20 to a registered domain unless said; every domain starts "
          f"without a certificate; {FAILING:.1%} never validate (broken DNS). Counted orders "
          "exclude ARI renewals, which the CA exempts. Limits: "
          f"{LETS_ENCRYPT}. Run: `.venv/bin/python -m bench.fleet`.\n")
    print(table(HEADERS, rows))
    try:
        shown = args.png.resolve().relative_to(ROOT)
    except ValueError:
        shown = args.png
    print(f"\nDays left over the year, {big:,} domains: `{shown}`.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
