"""`lsctl import`: a zone's existing Link Shortening domains become a stack file that loads,
with the `pulumi import` file naming the records as the program names them. Read from the
sandbox BIND 9 by AXFR and from Route53 on moto."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from linkshortening.cli.main import main
from linkshortening.dns.rfc2136 import replace_rrset
from linkshortening.stack.load import load_stack_file
from linkshortening.stack.targets import CNAME_TARGET, DEFAULT_ALLOWED_IPS
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain, new_messaging_service

VERIFY = "twilio-domain-verification=" + "ab" * 16


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["import", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_from_bind_by_axfr(sandbox_env: SandboxState, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    tag = secrets.token_hex(3)
    key, server, zone = sandbox_env.tsig_key(), sandbox_env.dns, "lsctl.test"
    replace_rrset(server, zone, f"{zone}.", "A", 300, DEFAULT_ALLOWED_IPS, key)
    replace_rrset(server, zone, f"go{tag}.{zone}.", "CNAME", 600, (CNAME_TARGET + ".",), key)
    replace_rrset(server, zone, f"_twilio.go{tag}.{zone}.", "TXT", 600, (f'"{VERIFY}"',), key)
    replace_rrset(server, zone, f"a{tag}.{zone}.", "A", 300, DEFAULT_ALLOWED_IPS, key)
    output = tmp_path / "Pulumi.imported.yaml"
    code, out, err = run(capsys, "--stack", "imported", "--zone", zone, "--dns", "rfc2136",
                         "--tsig-key-name", key.name, "--output", str(output))
    assert code == 0, err
    assert f"wrote {output}" in out
    stack = load_stack_file(output)
    by_name = {d.fqdn: d for d in stack.domains}
    assert by_name[zone].is_root and by_name[f"go{tag}.{zone}"].ttl == 600
    assert by_name[f"go{tag}.{zone}"].verification_txt == VERIFY
    assert f"a{tag}.{zone}" not in by_name and f"a{tag}.{zone} has Twilio's IPs" in err
    assert stack.domains[0].dns is not None and stack.domains[0].dns.server == str(server)
    assert "placeholder" in output.read_text()
    assert not output.with_name("Pulumi.imported.import.json").exists()  # RFC 2136: no Pulumi
    assert main(["records", "--stack", str(output)]) == 0
    capsys.readouterr()
    # Never overwrites.
    code, _, err = run(capsys, "--stack", "imported", "--zone", zone, "--dns", "rfc2136",
                       "--tsig-key-name", key.name, "--output", str(output))
    assert code == 2 and "never overwrites" in err


def test_axfr_refused_is_one_line(sandbox_env: SandboxState, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WRONG_SECRET", "c2VjcmV0LXRoYXQtaXMtd3Jvbmc=")
    code, _, err = run(capsys, "--stack", "x", "--zone", "lsctl.test", "--dns", "rfc2136",
                       "--tsig-key-name", sandbox_env.tsig_key().name, "--tsig-secret-env",
                       "WRONG_SECRET", "--output", str(tmp_path / "Pulumi.x.yaml"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "zone transfer of lsctl.test" in err and "Traceback" not in err
    assert not (tmp_path / "Pulumi.x.yaml").exists()


@pytest.fixture
def route53_zone(sandbox_env: SandboxState) -> dict[str, Any]:
    client = boto3.client("route53")
    zone = f"imp{secrets.token_hex(3)}.test"
    zone_id = client.create_hosted_zone(Name=zone, CallerReference=zone)["HostedZone"]["Id"]
    records = [(f"{zone}.", "A", 600, DEFAULT_ALLOWED_IPS),
               (f"go.{zone}.", "CNAME", 300, ("LSCT.ashburn.us1.twilio.com.",)),
               (f"_twilio.go.{zone}.", "TXT", 300, (f'"{VERIFY}"',)),
               (f"www.{zone}.", "A", 300, ("192.0.2.10",))]
    changes: list[Any] = [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": kind, "TTL": ttl,
            "ResourceRecords": [{"Value": v} for v in values]}}
        for name, kind, ttl, values in records]
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return {"zone": zone, "id": zone_id.removeprefix("/hostedzone/")}


def test_import_from_route53_with_twilio_settings(
        route53_zone: dict[str, Any], emulator: EmulatorControl, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    zone, zone_id = route53_zone["zone"], route53_zone["id"]
    sid, _ = new_domain(emulator, f"go.{zone}")
    service = new_messaging_service()
    from linkshortening.twilio.api import LinkShorteningApi

    api = LinkShorteningApi.from_env()
    api.update_config(sid, fallback_url="https://example.com/expired", continue_on_failure=False)
    api.associate_messaging_service(sid, service)
    output = tmp_path / "Pulumi.adopted.yaml"
    code, out, err = run(capsys, "--stack", "adopted", "--zone", zone, "--output", str(output),
                         "--domain-sid", f"go.{zone}={sid}", "--messaging-service", service)
    assert code == 0, err
    stack = load_stack_file(output)
    apex, sub = stack.domains
    assert (apex.fqdn, apex.ttl, apex.domain_sid) == (zone, 600, "DN" + "0" * 32)
    assert apex.dns is not None and apex.dns.hosted_zone_id == zone_id
    assert (sub.domain_sid, sub.messaging_service_sids) == (sid, (service,))
    assert (sub.fallback_url, sub.continue_on_failure) == ("https://example.com/expired", False)
    assert sub.verification_txt == VERIFY and sub.certificate == "acme"
    document = json.loads(output.with_name("Pulumi.adopted.import.json").read_text())
    imports = {r["name"]: r for r in document["resources"]}
    assert imports[f"go.{zone}-cname"] == {
        "type": "aws:route53/record:Record", "name": f"go.{zone}-cname", "parent": f"go.{zone}",
        "id": f"{zone_id}_go.{zone}_CNAME"}
    assert imports[f"go.{zone}-verification"]["id"] == f"{zone_id}__twilio.go.{zone}_TXT"
    assert imports[f"{zone}-a"]["id"] == f"{zone_id}_{zone}_A"
    assert imports[zone] == {"type": "lsctl:index:LinkShorteningDomain", "name": zone,
                             "component": True}
    assert f"pulumi import aws:route53/record:Record go.{zone}-cname {zone_id}_go.{zone}_CNAME" \
        in out
    # The program names these records exactly so, with the same values: import, no re-create.
    from tests.test_pulumi_program import run_program

    config = yaml.safe_load(output.read_text())["config"]
    program = run_program({k.removeprefix("lsctl:"): v for k, v in config.items()})
    declared = program.records()
    assert set(declared) == {n for n, r in imports.items() if r["type"].startswith("aws:")}
    assert declared[f"go.{zone}-cname"]["records"] == [CNAME_TARGET]
    assert declared[f"{zone}-a"]["ttl"] == 600


def test_nothing_found_writes_nothing(route53_zone: dict[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    client = boto3.client("route53")
    empty = f"empty{secrets.token_hex(3)}.test"
    client.create_hosted_zone(Name=empty, CallerReference=empty)
    code, _, err = run(capsys, "--stack", "e", "--zone", empty,
                       "--output", str(tmp_path / "Pulumi.e.yaml"))
    assert code == 1 and "no Link Shortening domain" in err
    assert not (tmp_path / "Pulumi.e.yaml").exists()
    code, _, err = run(capsys, "--stack", "e", "--zone", route53_zone["zone"], "--domain-sid",
                       "nope", "--output", str(tmp_path / "Pulumi.e.yaml"))
    assert code == 2 and "--domain-sid 'nope'" in err
