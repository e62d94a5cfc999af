"""`lsctl drift` on a sandbox holding every kind of drift: real BIND 9 (with a stale second
nameserver), moto's Route53, the Twilio emulator and its edge serving certificates."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import xmlschema

from linkshortening.cli import main
from linkshortening.rfc2136 import replace_rrset
from linkshortening.targets import DEFAULT_ALLOWED_IPS
from sandbox import process
from sandbox.lifecycle import SandboxOptions, SandboxState, running
from sandbox.seed import sandbox_api
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain
from tests.conftest import ROOT, TWILIO_KNOBS

IPS = tuple(DEFAULT_ALLOWED_IPS)
TARGET = "lsct.ashburn.us1.twilio.com"
SCHEMA = ROOT / "drift" / "schema"
ROOTS = ("clean.test", "r4.test", "rm.test", "raaaa.test", "caa.test", "stale.test", "r53.test")
ZONES = ("drift.test", *ROOTS)
# domain -> (records to write: {type: values}, the exact findings expected)
CASES: dict[str, tuple[dict[str, tuple[str, ...]], set[str]]] = {
    "clean.test": ({"A": IPS}, set()),
    "r4.test": ({"A": (*IPS, "192.0.2.4")}, {"a-extra-ip", "twilio-dns-invalid"}),
    "rm.test": ({"A": IPS[:2]}, {"a-missing-ip", "twilio-dns-invalid"}),
    "raaaa.test": ({"A": IPS, "AAAA": ("2001:db8::1",)}, {"aaaa-present"}),
    "caa.test": ({"A": IPS, "CAA": ('0 issue "pki.goog"',)}, {"caa-forbids-letsencrypt"}),
    "stale.test": ({"A": IPS}, {"nameservers-disagree"}),
    "r53.test": ({"A": IPS}, {"route53-differs"}),
    "go.drift.test": ({"CNAME": (TARGET,)}, set()),
    "wrong.drift.test": ({"CNAME": ("links.example.net",)},
                         {"cname-wrong-target", "twilio-dns-invalid"}),
    "ainstead.drift.test": ({"A": IPS}, {"a-instead-of-cname"}),
    "txt.drift.test": ({"CNAME": (TARGET,)}, {"challenge-leftover"}),
    "exp.drift.test": ({"CNAME": (TARGET,)},
                       {"twilio-certificate-expiring", "served-certificate-expiring"}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The drifting sandbox, its stack file, and the environment that points at it."""
    options = SandboxOptions(zones=ZONES, stale_zones=("stale.test",),
                             twilio_faults=TWILIO_KNOBS)
    with running(tmp_path_factory.mktemp("drift"), options) as state:
        sids = {name: "DN" + secrets.token_hex(16) for name in CASES}
        control = EmulatorControl(state.twilio_base_url, state.ca_bundle,
                                  state.twilio_account_sid, state.twilio_auth_token_file)
        control.seed({sid: name for name, sid in sids.items()})
        control.configure(trust_roots=[make_chain().root.cert_pem])
        key = state.tsig_key()
        for name, (records, _) in CASES.items():
            zone = name if name in ROOTS else "drift.test"
            for rdtype, values in records.items():
                owner = zone if rdtype == "CAA" else name
                replace_rrset(state.dns, zone, owner + ".", rdtype, 300, values, key)
        replace_rrset(state.dns, "drift.test", "_acme-challenge.txt.drift.test.", "TXT", 60,
                      ('"left-behind"',), key)
        api = sandbox_api(state)
        now = dt.datetime.now(dt.UTC)
        for name, sid in sids.items():
            days = 10 if name == "exp.drift.test" else 80
            chain = make_chain((name,), not_after=now + dt.timedelta(days=days))
            api.upload_certificate(sid, chain.tls_cert)
        assert all(r.ok for r in api.wait_for_validation(list(sids.values()), timeout=30,
                                                         poll_interval=0.1))
        route53 = boto3.client("route53", endpoint_url=state.aws_endpoint,
                               region_name="us-east-1", aws_access_key_id="testing",
                               aws_secret_access_key="testing")
        zone_id = route53.create_hosted_zone(Name="r53.test", CallerReference="drift")[
            "HostedZone"]["Id"]
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {
                "Name": "r53.test.", "Type": "A", "TTL": 300,
                "ResourceRecords": [{"Value": ip} for ip in IPS[:2]]}}]})
        stack = Path(state.directory) / "Pulumi.drift.yaml"
        stack.write_text(textwrap.dedent("""\
            config:
              lsctl:dns: {provider: rfc2136, tsigKeyName: lsctl-sandbox}
              lsctl:domains:
            """) + "".join(
            f"    - {{fqdn: {name}, zone: {name if name in ROOTS else 'drift.test'}, "
            f"domainSid: {sid}"
            + (", dns: {provider: route53}" if name == "r53.test" else "") + "}\n"
            for name, sid in sids.items()))
        env = dict(state.env())
        env["TWILIO_AUTH_TOKEN"] = state.twilio_auth_token_file.read_text().strip()
        yield {"state": state, "stack": stack, "env": env}


@pytest.fixture
def drift(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Any:
    for name, value in world["env"].items():
        monkeypatch.setenv(name, value)
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["drift", "--stack", str(world["stack"]), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_each_case_gives_exactly_its_findings(drift: Any) -> None:
    code, out, err = drift("--format", "json")
    assert code == 1, err
    report = json.loads(out)
    jsonschema.validate(report, json.loads((SCHEMA / "drift-report.schema.json").read_text()))
    assert report["unreachable"] == []
    found: dict[str, set[str]] = {name: set() for name in CASES}
    for finding in report["findings"]:
        found[finding["domain"]].add(finding["code"])
    assert found == {name: expected for name, (_, expected) in CASES.items()}
    by_code = {f["code"]: f for f in report["findings"] if f["domain"] != "r4.test"}
    stale = by_code["nameservers-disagree"]
    assert "127.0.0.2" in stale["actual"] and "127.0.0.1" in stale["actual"]
    assert by_code["route53-differs"]["where"] == "Route53"
    assert by_code["served-certificate-expiring"]["severity"] == "warning"
    assert by_code["twilio-dns-invalid"]["actual"].startswith("is_valid: false (CNAME of")


def test_fail_on_warning_and_domain_filter(drift: Any) -> None:
    assert drift("--domain", "clean.test", "--domain", "go.drift.test")[0] == 0
    assert drift("--domain", "txt.drift.test")[0] == 0  # a warning alone
    assert drift("--domain", "txt.drift.test", "--fail-on", "warning")[0] == 1


def test_junit_markdown_and_text(drift: Any, tmp_path: Path) -> None:
    output = tmp_path / "drift.xml"
    code, out, _ = drift("--format", "junit", "--output", str(output))
    assert code == 1 and out == ""
    schema = xmlschema.XMLSchema(str(SCHEMA / "junit.xsd"))
    schema.validate(str(output))
    decoded: Any = schema.to_dict(str(output))
    suites: list[Any] = decoded["testsuite"]
    assert len(suites) == len(CASES)
    r4 = next(s for s in suites if s["@name"] == "r4.test")
    failed = {c["@name"] for c in r4["testcase"] if "failure" in c}
    assert failed == {"records", "twilio-dns"}
    assert len(r4["testcase"]) == 10  # one per check
    code, out, _ = drift("--format", "markdown")
    assert out.startswith("## lsctl drift: stack `drift`: DRIFT")
    assert "| error | `rm.test` | a-missing-ip |" in out
    code, out, _ = drift()
    assert "a-extra-ip" in out and "clean.test" in out


def test_unreachable_nameserver_exits_2_and_says_which(world: dict[str, Any],
                                                       drift: Any) -> None:
    state: SandboxState = world["state"]
    stale = next(s for s in state.services if s.name == "named-stale")
    process.stop(stale)
    code, out, err = drift("--domain", "stale.test", "--domain", "clean.test",
                           "--format", "json")
    assert code == 2, err
    report = json.loads(out)
    (lost,) = report["unreachable"]
    assert lost["domain"] == "stale.test"
    assert lost["source"] == f"nameserver 127.0.0.2:{state.dns_port}"
    code, out, _ = drift("--domain", "stale.test")
    assert code == 2 and "127.0.0.2" in out
