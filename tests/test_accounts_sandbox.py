"""Done-when of issue 15's accounts: a stack with three Twilio accounts, its domains and
Messaging Services spread across them, seeds, renews and drifts clean in the sandbox, and the
emulator's per-account counts show every call made as its own account; a Messaging Service
declared under the wrong account is a clear drift finding."""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from pathlib import Path

import pytest

from linkshortening.cli.main import main
from linkshortening.stack.load import load_stack_file
from sandbox.lifecycle import SandboxState
from sandbox.seed import seed
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain, new_messaging_service, point_at


def write_stack(path: Path, state_dir: Path, accounts: dict[str, str],
                domains: list[tuple[str, str, str, list[tuple[str, str]]]]) -> Path:
    """domains: (fqdn, DomainSid, account, [(Messaging Service, its account)])."""
    lines = ["config:", "  lsctl:acme:", "    email: ops@lsctl.test", "    agreeTos: true",
             "    propagationInterval: 0.1",
             f"    state: {{backend: directory, location: {state_dir}}}",
             "  lsctl:dns: {provider: rfc2136, tsigKeyName: lsctl-sandbox}",
             "  lsctl:twilio: {managedBy: lsctl}",
             "  lsctl:twilioAccounts:"]
    lines += [f"    {name}: {{accountSid: {sid}, envPrefix: {prefix}}}"
              for name, (sid, prefix) in ((n, v.split()) for n, v in accounts.items())]
    lines.append("  lsctl:domains:")
    for fqdn, sid, account, services in domains:
        listed = ", ".join(f"{{sid: {mg}, account: {owner}}}" for mg, owner in services)
        lines.append(f"    - {{fqdn: {fqdn}, zone: lsctl.test, domainSid: {sid}, "
                     f"account: {account}, fallbackUrl: 'https://{fqdn}/gone', "
                     f"messagingServiceSids: [{listed}]}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
          sid: str) -> Counter[str]:
    return Counter(after.get(sid, {})) - Counter(before.get(sid, {}))


@pytest.fixture
def three(tmp_path: Path, sandbox: SandboxState, emulator: EmulatorControl) -> dict[str, object]:
    tag = uuid.uuid4().hex[:6]
    accounts = {name: ("AC" + secrets.token_hex(16), f"LSCTL_T{tag}_{name.upper()}")
                for name in ("a", "b", "c")}
    services = {k: new_messaging_service() for k in ("a1", "c1", "b1", "b2", "c2")}
    plan = [("a", [("a1", "a"), ("c1", "c")]), ("b", [("b1", "b")]),
            ("c", [("c2", "c"), ("b2", "b")])]
    domains = []
    for account, listed in plan:
        fqdn = f"{account}{tag}.lsctl.test"
        sid, _ = new_domain(emulator, fqdn)
        domains.append((fqdn, sid, account, [(services[k], owner) for k, owner in listed]))
    spec = {n: f"{sid} {prefix}" for n, (sid, prefix) in accounts.items()}
    path = write_stack(tmp_path / "Pulumi.three.yaml", tmp_path / "state", spec, domains)
    return {"path": path, "accounts": accounts, "domains": domains, "services": services,
            "spec": spec, "tmp": tmp_path}


def test_three_accounts_seed_renew_and_drift_clean_each_as_its_own_account(
        three: dict[str, object], sandbox: SandboxState, emulator: EmulatorControl,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = three["path"]
    assert isinstance(path, Path)
    accounts: dict[str, tuple[str, str]] = three["accounts"]  # type: ignore[assignment]
    domains: list[tuple[str, str, str, list[tuple[str, str]]]] = \
        three["domains"]  # type: ignore[assignment]
    stack = load_stack_file(path)
    counts = emulator.requests()

    seeded = seed(stack, sandbox)
    assert seeded.ok, seeded.outcomes
    after_seed = emulator.requests()
    owned = Counter(owner for *_, listed in domains for _, owner in listed)
    for name, (sid, _) in accounts.items():
        made = delta(counts, after_seed, sid)
        assert made["associate"] == owned[name], (name, made)
        assert made["update_config"] == sum(1 for d in domains if d[2] == name), (name, made)

    point_at(sandbox, monkeypatch)  # now with each account's PREFIX_* variables
    code = main(["renew", "--stack", str(path), "--json", "--validation-poll", "0.1"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    after_renew = emulator.requests()
    for name, (sid, _) in accounts.items():
        made = delta(after_seed, after_renew, sid)
        assert made["upload_certificate"] == 1, (name, made)  # its own domain, no other

    code = main(["drift", "--stack", str(path), "--skip", "route53", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    after_drift = emulator.requests()
    for name, (sid, _) in accounts.items():
        made = delta(after_renew, after_drift, sid)
        assert made["validate_dns"] == 1 and made["fetch_service"] == owned[name], (name, made)
    sandbox_sid = sandbox.twilio_account_sid
    assert not delta(counts, after_drift, sandbox_sid), "a call was made as the sandbox account"

    # The same stack with one Messaging Service under the wrong account: a clear finding.
    fqdn, _, _, listed = domains[0]
    moved, owner = listed[1]  # owned by c
    wrong = path.read_text().replace(f"{{sid: {moved}, account: {owner}}}",
                                     f"{{sid: {moved}, account: b}}")
    wrong_path = path.with_name("Pulumi.wrong.yaml")
    tmp = three["tmp"]
    assert isinstance(tmp, Path)
    wrong_path.write_text(wrong.replace(str(tmp / "state"), str(tmp / "state-wrong")))
    code = main(["drift", "--stack", str(wrong_path), "--skip", "route53", "--skip", "tls",
                 "--format", "json"])
    found = json.loads(capsys.readouterr().out)
    assert code == 1
    findings = [f for f in found["findings"] if f["code"] == "twilio-service-wrong-account"]
    assert [(f["domain"], f["expected"]) for f in findings] == \
        [(fqdn, f"{moved} visible to account b")]
    assert "account:" in findings[0]["fix"]
