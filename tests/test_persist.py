"""DNS-PERSIST-01 end to end in the sandbox, against the local responder of
tests/persist_responder.py (draft -02): the record Pulumi declares is what `lsctl records`
shows; seeded into BIND, `lsctl renew` issues with no DNS write (BIND's own update log);
drift is clean, then finds a tampered record. And the fallbacks: a CA without the challenge
(Pebble itself) means dns-01, said per domain; a record not served means a clear failure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from linkshortening.cli.main import main
from linkshortening.dns.rfc2136 import replace_rrset
from linkshortening.stack.load import load_stack_file
from sandbox.lifecycle import SandboxState
from sandbox.seed import seed
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain
from tests.persist_responder import ISSUER, PersistResponder, always_valid_pebble
from tests.test_pulumi_program import run_program


@pytest.fixture(scope="module")
def responder(sandbox: SandboxState, tmp_path_factory: pytest.TempPathFactory,
              _emulator_control: EmulatorControl) -> Iterator[PersistResponder]:
    with always_valid_pebble(sandbox, tmp_path_factory.mktemp("pebble-av")) as (port, root):
        _emulator_control.configure(trust_roots=[root])  # it issues the uploaded chains
        with PersistResponder(sandbox, port) as running:
            yield running


@dataclass
class Persisted:
    path: Path
    config: dict[str, Any]  # the lsctl: keys, without the prefix
    fqdn: str


def write(path: Path, config: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump({"config": {f"lsctl:{k}": v for k, v in config.items()}}))


def lsctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


SENTINEL = "_sentinel-"


def updates_received(sandbox: SandboxState) -> int:
    """The dynamic updates BIND applied, from its own log: a sentinel update is written and
    its line awaited first, so every earlier update is in the log when counting."""
    sentinel = f"{SENTINEL}{uuid.uuid4().hex[:8]}.lsctl.test"
    replace_rrset(sandbox.dns, "lsctl.test", sentinel + ".", "TXT", 60, ('"sentinel"',),
                  sandbox.tsig_key())
    log = sandbox.path / "logs" / "named.log"
    from sandbox.process import wait_until

    wait_until(lambda: sentinel in log.read_text(), 10.0, "BIND's update log")
    return sum("updating zone" in line and SENTINEL not in line
               for line in log.read_text().splitlines())


def renewed(persisted: Persisted, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`lsctl renew` of the stack's one domain: its outcome."""
    code, output, err = lsctl(capsys, "renew", "--stack", str(persisted.path), "--json",
                              "--validation-poll", "0.1")
    assert code == 0, output + err
    (outcome,) = json.loads(output)["outcomes"]
    assert outcome["status"] == "renewed", output
    found: dict[str, Any] = outcome
    return found


@pytest.fixture
def persisted(sandbox_env: SandboxState, responder: PersistResponder, emulator: EmulatorControl,
              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str]) -> Persisted:
    """A dns-persist-01 stack (apex + wildcard), its account created by `lsctl acme account
    create` at the responder and its values set as the command says."""
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", responder.directory_url)
    fqdn = f"p{uuid.uuid4().hex[:6]}.lsctl.test"
    sid, _ = new_domain(emulator, fqdn)
    config: dict[str, Any] = {
        "acme": {"email": "ops@lsctl.test", "agreeTos": True, "propagationInterval": 0.1,
                 "challenge": "dns-persist-01",
                 "state": {"backend": "directory", "location": str(tmp_path / "state")}},
        "dns": {"provider": "rfc2136", "tsigKeyName": "lsctl-sandbox"},
        "renewal": {"enabled": False},
        "domains": [{"fqdn": fqdn, "zone": "lsctl.test", "domainSid": sid,
                     "altNames": [f"*.{fqdn}"], "policy": "wildcard"}]}
    path = tmp_path / "Pulumi.persist.yaml"
    write(path, config)
    code, output, err = lsctl(capsys, "acme", "account", "create", "--stack", str(path))
    assert code == 0, err
    for line in output.splitlines():  # what `pulumi config set --path` would write
        if "pulumi config set" in line:
            key, value = line.split("--path ", 1)[1].split(" ", 1)
            key = key.strip("'").removeprefix("lsctl:acme.")
            value = value.strip("'")
            if key.startswith("issuerDomainNames["):
                config["acme"].setdefault("issuerDomainNames", []).append(value)
            else:
                config["acme"][key] = value
    assert config["acme"]["issuerDomainNames"] == [ISSUER]
    assert config["acme"]["accountHashPrefix"] == responder.hash_prefix
    write(path, config)
    return Persisted(path, config, fqdn)


def declared_by_pulumi(config: dict[str, Any]) -> dict[str, tuple[int, tuple[str, ...]]]:
    """The _validation-persist records the program declares (Route53 under mocks: the same
    record set whichever DNS holds the zone)."""
    route53 = {**config, "dns": {"provider": "route53"}}
    return {r["name"]: (r["ttl"], tuple(r["records"]))
            for r in run_program(route53).records().values()
            if r["name"].startswith("_validation-persist.")}


def test_persist_flow_end_to_end(persisted: Persisted, sandbox_env: SandboxState,
                                 responder: PersistResponder,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    declared = declared_by_pulumi(persisted.config)
    code, output, err = lsctl(capsys, "records", "--stack", str(persisted.path), "--format",
                              "json")
    assert code == 0, err
    shown = {r["name"]: (r["ttl"], tuple(r["values"])) for r in json.loads(output)
             if r["purpose"] == "persist"}
    assert declared == shown == {f"_validation-persist.{persisted.fqdn}": (300, (
        shown[f"_validation-persist.{persisted.fqdn}"][1][0],))}
    (value,) = shown[f"_validation-persist.{persisted.fqdn}"][1]
    assert value.startswith(f"{ISSUER}; accounturi={responder.hash_prefix}sha-256/")
    assert value.endswith("; policy=wildcard")

    # What `pulumi up` would write, written into the sandbox's BIND (and the domain's CNAME,
    # and its Twilio-side settings, so drift has everything to compare).
    stack = load_stack_file(persisted.path)
    seed(stack, sandbox_env)
    for name, (ttl, values) in declared.items():
        replace_rrset(sandbox_env.dns, "lsctl.test", name + ".", "TXT", ttl,
                      tuple(json.dumps(v) for v in values), sandbox_env.tsig_key())

    before = updates_received(sandbox_env)
    assert renewed(persisted, capsys)["warnings"] == []
    assert updates_received(sandbox_env) == before  # no DNS write, no cleanup
    assert sorted(responder.validated[-2:]) == [persisted.fqdn, persisted.fqdn]  # + wildcard

    code, output, err = lsctl(capsys, "drift", "--stack", str(persisted.path), "--format",
                              "json")
    drift = json.loads(output)
    assert code == 0 and drift["findings"] == [], output

    # A hand edit: the record now names another account (what -02 hashes differs).
    name = f"_validation-persist.{persisted.fqdn}"
    tampered = value.replace(value.split("sha-256/")[1].split(";")[0], "A" * 43)
    replace_rrset(sandbox_env.dns, "lsctl.test", name + ".", "TXT", 300,
                  (json.dumps(tampered),), sandbox_env.tsig_key())
    code, output, err = lsctl(capsys, "drift", "--stack", str(persisted.path), "--format",
                              "json")
    drift = json.loads(output)
    assert code == 1, output
    (finding,) = drift["findings"]
    assert (finding["code"], finding["check"], finding["severity"]) == (
        "persist-account-differs", "persist", "error")
    assert value in finding["expected"] and tampered in finding["actual"]


def test_a_record_not_served_fails_the_domain_with_the_value_to_publish(
        persisted: Persisted, sandbox_env: SandboxState, responder: PersistResponder,
        capsys: pytest.CaptureFixture[str]) -> None:
    answered = len(responder.validated)
    code, output, _ = lsctl(capsys, "renew", "--stack", str(persisted.path), "--json")
    assert code == 1
    assert f"_validation-persist.{persisted.fqdn} TXT" in output
    assert f"{ISSUER}; accounturi={responder.hash_prefix}sha-256/" in output
    assert "is not served by" in output and "Traceback" not in output
    assert len(responder.validated) == answered  # never answered without the record


def test_a_ca_without_the_challenge_means_dns01_said_per_domain(
        persisted: Persisted, sandbox_env: SandboxState, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", sandbox_env.acme_directory)  # Pebble itself
    before = updates_received(sandbox_env)
    assert f"{persisted.fqdn}: the CA offers no dns-persist-01 challenge; used dns-01" in \
        renewed(persisted, capsys)["warnings"]
    # dns-01's writes are in BIND's log: the count the persist flow holds at zero is real.
    assert updates_received(sandbox_env) >= before + 2
