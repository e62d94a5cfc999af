"""`lsctl sandbox`: start, stop, inspect and seed the local sandbox."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from sandbox.lifecycle import SandboxState

EPILOG = """\
typical session:
  lsctl sandbox up                 # start BIND 9, Pebble, moto and the Twilio emulator
  eval "$(lsctl sandbox env)"      # point lsctl, boto3, ACME and Twilio clients at them
  lsctl sandbox seed               # write the sandbox stack's records by RFC 2136
  lsctl sandbox down               # stop everything; no process is left behind
  eval "$(lsctl sandbox env --unset)"  # and forget it in this shell

State, generated config and logs live in --dir (default: .sandbox/ in the project)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the sandbox services in the background")
    up.add_argument("--stack", default="sandbox",
                    help="stack whose zones the DNS server serves and whose domains the "
                         "Twilio emulator knows (default: sandbox)")
    up.add_argument("--stale-zone", action="append", default=[], metavar="ZONE",
                    help="also serve ZONE from a second nameserver (127.0.0.2, same port) "
                         "that never takes updates, as a lagging secondary looks to "
                         "lsctl drift (repeatable; adds 127.0.0.2 to lo, as root)")
    actions.add_parser("down", help="stop every sandbox service")
    actions.add_parser("status", help="show each service and whether it runs (exit 1 if one "
                                      "does not, or no sandbox runs)")
    env = actions.add_parser("env", help="print shell exports for the running sandbox (no "
                                         "secrets); --unset: the lines that clear them")
    env.add_argument("--unset", action="store_true",
                     help='print `unset` lines for everything `lsctl sandbox env` exports: '
                          'eval "$(lsctl sandbox env --unset)" after `lsctl sandbox down`')
    seed = actions.add_parser(
        "seed", help="write a stack's records into the sandbox DNS (and print its answers) "
                     "and its Twilio-side settings into the emulator")
    seed.add_argument("--stack", default="sandbox", help="stack to seed (default: sandbox)")
    for child in actions.choices.values():
        child.add_argument("--dir", type=Path, default=None,
                           help="sandbox state directory (default: $LSCTL_SANDBOX_DIR or "
                                ".sandbox/ in the project)")


def sandbox_dir(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    if os.environ.get("LSCTL_SANDBOX_DIR"):
        return Path(os.environ["LSCTL_SANDBOX_DIR"])
    from linkshortening.stack.errors import ConfigError
    from linkshortening.stack.load import find_project_dir

    try:
        return find_project_dir() / ".sandbox"
    except ConfigError:
        return Path.cwd() / ".sandbox"


def run(args: argparse.Namespace) -> int:
    directory = sandbox_dir(args.dir)
    handler = {"up": _up, "down": _down, "status": _status, "env": _env, "seed": _seed}
    return handler[args.action](args, directory)


def _up(args: argparse.Namespace, directory: Path) -> int:
    from rich.console import Console

    from linkshortening.stack.load import load_stack
    from sandbox.lifecycle import SandboxOptions, reuse, up

    stack = load_stack(args.stack)
    stale = tuple(dict.fromkeys(args.stale_zone))
    unknown = [z for z in stale if z not in stack.zones]
    if unknown:
        from sandbox.process import ServiceError

        raise ServiceError(f"--stale-zone {', '.join(unknown)}: not a zone of stack "
                           f"{stack.name} ({', '.join(stack.zones)})")
    console = Console(stderr=True)
    domains = {spec.domain_sid: spec.fqdn for spec in stack.domains}
    options = SandboxOptions(zones=stack.zones, attached=False, twilio_domains=domains,
                             stale_zones=stale)
    state = reuse(directory, options)
    if state is not None:
        console.print(f"sandbox already running in {state.directory}: reusing it")
    else:
        with console.status("starting BIND 9, Pebble, moto and the Twilio emulator..."):
            state = up(directory, options)
        console.print(f"sandbox up in {state.directory}")
    _describe(console, state, len(domains), stack.name)
    return 0


def _describe(console: Console, state: SandboxState, domains: int, stack: str) -> None:
    from sandbox.lifecycle import STALE_ADDRESS

    console.print(f"  DNS (BIND 9)   {state.dns}  zones: {', '.join(state.zones)}")
    if state.stale_zones:
        console.print(f"  stale DNS      {STALE_ADDRESS}:{state.dns_port}  "
                      f"zones: {', '.join(state.stale_zones)}")
    console.print(f"  ACME (Pebble)  {state.acme_directory}")
    console.print(f"  AWS (moto)     {state.aws_endpoint}")
    console.print(f"  Twilio API     {state.twilio_base_url}  (emulator, "
                  f"{domains} domains of stack {stack})")
    console.print('next: eval "$(lsctl sandbox env)"')


def _down(args: argparse.Namespace, directory: Path) -> int:
    from sandbox.lifecycle import down

    stopped = down(directory)
    print(f"sandbox down ({', '.join(stopped) or 'nothing was running'})")
    if os.environ.get("LSCTL_SANDBOX_DIR"):  # this shell still points at it
        print('clear its variables from this shell: eval "$(lsctl sandbox env --unset)"',
              file=sys.stderr)
    return 0


def _status(args: argparse.Namespace, directory: Path) -> int:
    from sandbox.lifecycle import STATE_FILE, status

    if not (directory / STATE_FILE).exists():
        print(f"no sandbox is running in {directory}; start one with `lsctl sandbox up`")
        return 1
    rows = status(directory)
    for name, pid, alive in rows:
        print(f"{name:11} pid {pid:<8} {'running' if alive else 'NOT RUNNING'}")
    return 0 if all(alive for _, _, alive in rows) else 1


def _env(args: argparse.Namespace, directory: Path) -> int:
    from sandbox.lifecycle import SandboxState, exported_names, shell_exports

    if args.unset:  # needs no running sandbox: it is what to run after `sandbox down`
        from sandbox.process import ServiceError

        try:  # a running one's seeded accounts (lsctl:twilioAccounts) export more
            running: SandboxState | None = SandboxState.load(directory)
        except ServiceError:
            running = None
        print("".join(f"unset {name}\n" for name in exported_names(running)), end="")
        return 0
    state = SandboxState.load(directory)
    # twilio-python rewrites a custom base URL's host when these are set.
    print(shell_exports(state.env(), unset=("TWILIO_REGION", "TWILIO_EDGE"),
                        secret_files=state.secret_files()), end="")
    return 0


def _seed(args: argparse.Namespace, directory: Path) -> int:
    from rich.console import Console
    from rich.table import Table

    from drift.apply_cli import report
    from drift.plan import render
    from linkshortening.stack.load import load_stack
    from sandbox.lifecycle import SandboxState
    from sandbox.seed import seed

    stack = load_stack(args.stack)
    state = SandboxState.load(directory)
    missing = [z for z in stack.zones if z not in state.zones]
    if missing:
        from sandbox.process import ServiceError

        raise ServiceError(f"the sandbox does not serve {', '.join(missing)}; "
                           f"restart it with `lsctl sandbox up --stack {args.stack}`")
    seeded = seed(stack, state)  # lsctl apply, on the sandbox's BIND 9 and emulator
    print(render.text(seeded.plan, "sandbox seed"), end="")
    report(seeded.outcomes)
    table = Table(title=f"What {state.dns} answers after seeding stack {stack.name}")
    for column in ("name", "type", "ttl", "answer", "matches declared"):
        table.add_column(column)
    for declared, answer in seeded.answers:
        table.add_row(declared.name, declared.type, str(answer.ttl) if answer else "-",
                      "\n".join(answer.values) if answer else "nothing",
                      "yes" if answer == declared else "NO")
    Console().print(table)
    applied = sum(o.changes for o in seeded.outcomes if o.ok and o.kind == "twilio")
    print(f"applied {applied} Twilio-side setting(s) to the emulator (domain config, "
          "Messaging Service associations)")
    return 0 if seeded.ok else 1
