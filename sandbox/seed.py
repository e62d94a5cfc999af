"""Seed the sandbox with a stack: `lsctl apply` of it, with every zone in the sandbox's BIND 9
and the Twilio settings in its emulator (the sandbox has no Pulumi, so lsctl writes it all)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drift.plan.access import Access
from drift.plan.apply import apply_plan
from drift.plan.changes import Outcome, Plan, RecordSet
from drift.plan.planner import make_plan, wanted_sets
from linkshortening.dns.query import ask
from linkshortening.stack.model import DnsSettings, Stack
from sandbox.accounts import sandbox_accounts_api, sandbox_api, seed_accounts

if TYPE_CHECKING:
    from sandbox.lifecycle import SandboxState


@dataclass(frozen=True)
class Seeded:
    plan: Plan
    outcomes: list[Outcome]
    answers: list[tuple[RecordSet, RecordSet | None]]  # declared, and what BIND answers

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes) and all(d == a for d, a in self.answers)


def seed(stack: Stack, state: SandboxState) -> Seeded:
    """Plan and apply `stack` in the sandbox, then ask BIND 9 for every declared set."""
    local = sandbox_stack(stack, state)
    seed_accounts(stack, state)  # each Messaging Service under its account, before apply
    access = sandbox_access(state, stack.source, stack)
    plan = make_plan(local, local.domains, access)
    outcomes = apply_plan(plan, access)
    answers = []
    for want in wanted_sets(local, local.domains):
        if want.desired is not None:
            name, rdtype = want.key
            found = ask(state.dns, name, rdtype)
            answers.append((want.desired, RecordSet.of(name, rdtype, found.ttl, found.values)
                            if found.values and found.ttl is not None else None))
    return Seeded(plan, outcomes, answers)


def sandbox_stack(stack: Stack, state: SandboxState) -> Stack:
    """The stack as the sandbox runs it: every zone on its BIND 9, written by lsctl with the
    sandbox's TSIG key, and the Twilio settings lsctl's."""
    dns = DnsSettings(provider="rfc2136", server=str(state.dns),
                      tsig_key_name=state.tsig_key_name, tsig_algorithm=state.tsig_algorithm,
                      managed_by="lsctl")
    return dataclasses.replace(
        stack, domains=tuple(dataclasses.replace(d, dns=dns) for d in stack.domains),
        twilio_managed_by="lsctl")


def sandbox_access(state: SandboxState, source: str, stack: Stack | None = None) -> Access:
    """The sandbox's BIND 9, TSIG key and emulator (each call as its stack account), whatever
    the environment says."""
    return dataclasses.replace(Access.from_env(source),
                               primary=lambda zone, settings: state.dns,
                               tsig_key=lambda settings: state.tsig_key(),
                               twilio=lambda: sandbox_api(state) if stack is None
                               else sandbox_accounts_api(stack, state))
