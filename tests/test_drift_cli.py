"""`lsctl drift` end to end on a sandbox holding every kind of drift: real BIND 9 (with a stale
second nameserver and a dead one), moto's Route53, the Twilio emulator and its edge serving
the certificates; every report format checked against its schema."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import xmlschema

from linkshortening.cli.main import main
from linkshortening.dns.rfc2136 import replace_rrset
from linkshortening.stack.targets import CNAME_TARGET, DEFAULT_ALLOWED_IPS
from sandbox.accounts import sandbox_api
from sandbox.lifecycle import SandboxOptions, SandboxState, running
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain
from tests.conftest import ROOT, TWILIO_KNOBS, lsctl_argv

IPS = tuple(DEFAULT_ALLOWED_IPS)
SCHEMA = ROOT / "drift" / "schema"
SERVICE, OTHER_SERVICE = "MG" + secrets.token_hex(16), "MG" + secrets.token_hex(16)
ALL_ZONES_ROOTS = ("clean.test", "r4.test", "rm.test", "raaaa.test", "caa.test", "stale.test",
                   "r53.test", "r53ok.test", "ttl.test", "cfg.test", "nocert.test")
DEAD_ZONE = "dead.test"
ZONES = ("drift.test", *ALL_ZONES_ROOTS, DEAD_ZONE)
# The certificate the edge serves for a domain without one is the sandbox's own listener
# certificate: it covers no domain (and, fresh, has most of its 30-day lifetime left).
NO_CERT = {"twilio-no-certificate", "served-certificate-wrong-name"}


@dataclass(frozen=True)
class Case:
    records: dict[str, tuple[str, ...]]  # written into BIND 9: type -> values
    findings: set[str]  # exactly what lsctl drift must find
    ttl: int = 300
    stack: str = ""  # extra keys of the domain's stack entry


CASES: dict[str, Case] = {
    "clean.test": Case({"A": IPS}, set()),
    "r4.test": Case({"A": (*IPS, "192.0.2.4")}, {"a-extra-ip", "twilio-dns-invalid"}),
    "rm.test": Case({"A": IPS[:2]}, {"a-missing-ip", "twilio-dns-invalid"}),
    "raaaa.test": Case({"A": IPS, "AAAA": ("2001:db8::1",)}, {"aaaa-present"}),
    "caa.test": Case({"A": IPS, "CAA": ('0 issue "pki.goog"',)}, {"caa-forbids-letsencrypt"}),
    "stale.test": Case({"A": IPS}, {"nameservers-disagree"}),
    "r53.test": Case({"A": IPS}, {"route53-differs"}, stack=", dns: {provider: route53}"),
    "r53ok.test": Case({"A": IPS}, set(), stack=", dns: {provider: route53}"),
    "ttl.test": Case({"A": IPS}, {"ttl-differs"}, ttl=3600),
    "cfg.test": Case({"A": IPS}, {"twilio-config-differs", "twilio-association-differs"},
                     stack=f", fallbackUrl: 'https://example.com/expired', "
                           f"messagingServiceSids: [{SERVICE}]"),
    "nocert.test": Case({"A": IPS}, NO_CERT),
    "go.drift.test": Case({"CNAME": (CNAME_TARGET,)}, set()),
    "wrong.drift.test": Case({"CNAME": ("links.example.net",)},
                             {"cname-wrong-target", "twilio-dns-invalid"}),
    "ainstead.drift.test": Case({"A": IPS}, {"a-instead-of-cname"}),
    "txt.drift.test": Case({"CNAME": (CNAME_TARGET,)}, {"challenge-leftover"}),
    "exp.drift.test": Case({"CNAME": (CNAME_TARGET,)},
                           {"twilio-certificate-expiring", "served-certificate-expiring"}),
    # Issue 17: a tlsserver-like certificate, 45 days and no Common Name, 25 days left:
    # clean (names from the SAN; 30 days is not a warning for a 45-day lifetime).
    "cnless.drift.test": Case({"CNAME": (CNAME_TARGET,)}, set()),
}


def zone_of(name: str) -> str:
    return name if not name.endswith(".drift.test") else "drift.test"


@dataclass(frozen=True)
class World:
    state: SandboxState
    stack: Path  # every case
    dead: Path  # a domain with a dead second nameserver, beside a clean one
    env: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    options = SandboxOptions(zones=ZONES, stale_zones=("stale.test",),
                             twilio_faults=TWILIO_KNOBS)
    with running(tmp_path_factory.mktemp("drift"), options) as state:
        sids = {name: "DN" + secrets.token_hex(16) for name in (*CASES, DEAD_ZONE)}
        control = EmulatorControl(state.twilio_base_url, state.ca_bundle,
                                  state.twilio_account_sid, state.twilio_auth_token_file)
        control.seed({sid: name for name, sid in sids.items()})
        control.configure(trust_roots=[make_chain().root.cert_pem])
        _write_dns(state, sids)
        _upload_certificates(state, sids)
        _route53(state)
        api = sandbox_api(state)
        api.associate_messaging_service(sids["clean.test"], SERVICE)  # taken by another
        directory = Path(state.directory)
        stack = directory / "Pulumi.drift.yaml"
        stack.write_text(_stack(f"    - {{fqdn: {name}, zone: {zone_of(name)}, "
                                f"domainSid: {sids[name]}{case.stack}}}\n"
                                for name, case in CASES.items()))
        dead = directory / "Pulumi.dead.yaml"
        dead.write_text(_stack(f"    - {{fqdn: {name}, zone: {name}, domainSid: {sids[name]}}}\n"
                               for name in (DEAD_ZONE, "clean.test")))
        env = {**state.env(),
               "TWILIO_AUTH_TOKEN": state.twilio_auth_token_file.read_text().strip()}
        yield World(state, stack, dead, env)


def _stack(domains: Iterator[str]) -> str:
    return textwrap.dedent("""\
        config:
          lsctl:dns: {provider: rfc2136, tsigKeyName: lsctl-sandbox}
          lsctl:domains:
        """) + "".join(domains)


def _write_dns(state: SandboxState, sids: dict[str, str]) -> None:
    key = state.tsig_key()
    for name, case in CASES.items():
        for rdtype, values in case.records.items():
            owner = zone_of(name) if rdtype == "CAA" else name
            replace_rrset(state.dns, zone_of(name), owner + ".", rdtype, case.ttl, values, key)
    replace_rrset(state.dns, "drift.test", "_acme-challenge.txt.drift.test.", "TXT", 60,
                  ('"left-behind"',), key)
    # dead.test: a second nameserver at an address where nothing listens.
    replace_rrset(state.dns, DEAD_ZONE, f"{DEAD_ZONE}.", "A", 300, IPS, key)
    replace_rrset(state.dns, DEAD_ZONE, f"ns9.{DEAD_ZONE}.", "A", 300, ("127.0.0.3",), key)
    replace_rrset(state.dns, DEAD_ZONE, f"{DEAD_ZONE}.", "NS", 300,
                  (f"ns1.{DEAD_ZONE}", f"ns9.{DEAD_ZONE}"), key)


def _upload_certificates(state: SandboxState, sids: dict[str, str]) -> None:
    api = sandbox_api(state)
    now = dt.datetime.now(dt.UTC)
    uploaded = [sid for name, sid in sids.items() if name != "nocert.test"]
    for name, sid in sids.items():
        if name == "cnless.drift.test":
            api.upload_certificate(sid, make_chain(
                (name,), not_before=now - dt.timedelta(days=20),
                not_after=now + dt.timedelta(days=25), common_name="").tls_cert)
        elif name != "nocert.test":
            # exp: 10 days of a 90-day lifetime left (under a quarter: a warning)
            days = 10 if name == "exp.drift.test" else 80
            api.upload_certificate(sid, make_chain((name,), not_before=now + dt.timedelta(
                days=days - 90), not_after=now + dt.timedelta(days=days)).tls_cert)
    results = api.wait_for_validation(uploaded, timeout=30, poll_interval=0.1)
    assert all(r.ok for r in results), results


def _route53(state: SandboxState) -> None:
    client = boto3.client("route53", endpoint_url=state.aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    for zone, ips in (("r53.test", IPS[:2]), ("r53ok.test", IPS)):
        zone_id = client.create_hosted_zone(Name=zone, CallerReference=zone)["HostedZone"]["Id"]
        client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {
                "Name": f"{zone}.", "Type": "A", "TTL": 300,
                "ResourceRecords": [{"Value": ip} for ip in ips]}}]})


Drift = Callable[..., tuple[int, str, str]]


@pytest.fixture
def drift(world: World, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Drift:
    """`lsctl drift --stack <world's stack> ARGS` in this process: (exit code, out, err)."""
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, stack: Path | None = None) -> tuple[int, str, str]:
        code = main(["drift", "--stack", str(stack or world.stack), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def validate_json(text: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(text)
    jsonschema.validate(report, json.loads((SCHEMA / "drift-report.schema.json").read_text()))
    return report


def test_each_case_gives_exactly_its_findings(drift: Drift) -> None:
    code, out, err = drift("--format", "json")
    assert code == 1, err
    report = validate_json(out)
    assert report["unreachable"] == [] and report["status"] == "drift"
    found: dict[str, set[str]] = {name: set() for name in CASES}
    for finding in report["findings"]:
        found[finding["domain"]].add(finding["code"])
    assert found == {name: case.findings for name, case in CASES.items()}
    assert report["summary"]["clean"] == 4  # clean, r53ok, go.drift, cnless.drift
    renewals = {r["domain"]: r for r in report["renewals"]}
    assert renewals["cnless.drift.test"]["why"] == "1/3 of a 45-day lifetime left"
    assert "nocert.test" not in renewals  # the edge's own certificate is not Twilio's


def test_findings_say_what_where(drift: Drift, world: World) -> None:
    report = validate_json(drift("--format", "json")[1])
    by = {(f["domain"], f["code"]): f for f in report["findings"]}
    port = world.state.dns_port
    stale = by[("stale.test", "nameservers-disagree")]
    assert stale["actual"] == (f"ns1.stale.test (127.0.0.1:{port}) says A {' '.join(sorted(IPS))}"
                               f"; ns2.stale.test (127.0.0.2:{port}) says nothing")
    assert by[("r4.test", "a-extra-ip")]["actual"] == "A 192.0.2.4, " + ", ".join(sorted(IPS))
    assert by[("r4.test", "twilio-dns-invalid")]["actual"].startswith(
        "is_valid: false (r4.test: unexpected A records 192.0.2.4")
    assert by[("r53.test", "route53-differs")]["where"] == "Route53"
    assert by[("ttl.test", "ttl-differs")]["actual"] == "3600"
    assert by[("caa.test", "caa-forbids-letsencrypt")]["where"].startswith(
        "CAA at caa.test (nameserver ns1.caa.test")
    assert by[("txt.drift.test", "challenge-leftover")]["actual"] == 'TXT "left-behind"'
    assert by[("cfg.test", "twilio-association-differs")]["actual"].endswith(
        "uses " + report_sid(world, "clean.test"))
    for code in ("twilio-certificate-expiring", "served-certificate-expiring"):
        assert by[("exp.drift.test", code)]["severity"] == "warning"
        assert "in 10 days" in by[("exp.drift.test", code)]["actual"]
    assert by[("exp.drift.test", "served-certificate-expiring")]["where"] == \
        "TLS exp.drift.test at 127.0.0.1:" + world.env["LSCTL_TLS_ENDPOINT"].rsplit(":", 1)[1]


def report_sid(world: World, name: str) -> str:
    text = world.stack.read_text()
    line = next(line for line in text.splitlines() if f"fqdn: {name}," in line)
    return line.split("domainSid: ")[1].split(",")[0].rstrip("}")


def test_fail_on_and_domain_filter(drift: Drift) -> None:
    assert drift("--domain", "clean.test", "--domain", "go.drift.test")[0] == 0
    assert drift("--domain", "txt.drift.test")[0] == 0  # a warning alone is not drift
    assert drift("--domain", "txt.drift.test", "--fail-on", "warning")[0] == 1
    code, _, err = drift("--domain", "nowhere.test")
    assert code == 2 and "nowhere.test is not declared" in err


def test_junit_one_case_per_domain_and_check(drift: Drift, tmp_path: Path) -> None:
    output = tmp_path / "drift.xml"
    code, out, _ = drift("--format", "junit", "--output", str(output))
    assert code == 1 and out == ""
    schema = xmlschema.XMLSchema(str(SCHEMA / "junit.xsd"))
    schema.validate(str(output))
    decoded: Any = schema.to_dict(str(output))
    suites = {s["@name"]: s for s in decoded["testsuite"]}
    # Zone-wide findings are one failure in their zone's suite.
    assert set(suites) == {*CASES, "drift (stack)", "stale.test (zone)", "caa.test (zone)"}
    r4 = {c["@name"]: c for c in suites["r4.test"]["testcase"]}
    assert len(r4) == 11
    assert "skipped" in r4["persist"]  # not a dns-persist-01 domain
    assert {name for name, case in r4.items() if "failure" in case} == {"records", "twilio-dns"}
    assert "skipped" in r4["route53"]  # not a Route53 domain
    assert "skipped" not in {c["@name"]: c for c in suites["r53.test"]["testcase"]}["route53"]
    txt = {c["@name"]: c for c in suites["txt.drift.test"]["testcase"]}
    assert "failure" not in txt["challenge"] and "left-behind" in txt["challenge"]["system-out"]


def test_markdown_and_text(drift: Drift, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    code, out, _ = drift("--format", "text", "--format", "markdown", "--output", str(summary),
                         "--format", "json", "--output", str(tmp_path / "drift.json"))
    assert code == 1
    assert "lsctl drift --stack drift: drift" in out and "a-extra-ip" in out
    # When each certificate falls due and why (issue 17), the soonest first, ten at most.
    assert "exp.drift.test: due since " in out and "(1/3 of a 90-day lifetime left" in out
    assert re.search(r"cnless\.drift\.test: next renewal ~\S+ \S+ UTC \(1/3 of a 45-day "
                     r"lifetime left; earlier if the CA's ARI window says so\)", out)
    assert re.search(r"\.\.\. and \d+ more renewals", out)
    assert "\x1b[" not in out  # no colours where there is no terminal
    markdown = summary.read_text()
    assert markdown.startswith("<!-- lsctl-drift -->\n## lsctl drift: stack `drift`: DRIFT")
    assert "| error | <code>a-missing-ip</code> root domain lacks some of Twilio's A records | " \
           "rm.<wbr>test | <code>lsctl apply --stack drift</code> |" in markdown
    validate_json((tmp_path / "drift.json").read_text())
    code, _, err = drift("--format", "json", "--format", "markdown")
    assert code == 2 and "more than one --format for standard output" in err


def test_dead_nameserver_exits_2_and_says_which(drift: Drift, world: World) -> None:
    code, out, err = drift("--format", "json", stack=world.dead)
    assert code == 2, err
    report = validate_json(out)
    (lost,) = report["unreachable"]
    assert lost["domain"] == DEAD_ZONE and lost["probe"] == "dns"
    assert lost["source"] == f"nameserver ns9.{DEAD_ZONE} (127.0.0.3:{world.state.dns_port})"
    assert lost["detail"] == "UNREACHABLE (Connection refused), asked A"
    assert report["findings"] == [] and report["status"] == "unchecked"
    code, out, _ = drift(stack=world.dead)
    assert code == 2 and "could not check" in out and "127.0.0.3" in out
    code, out, _ = drift("--format", "junit", stack=world.dead)
    assert 'type="unreachable"' in out and "ns9.dead.test" in out


def test_skip_a_source(drift: Drift, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    code, out, _ = drift("--domain", "clean.test", "--format", "json")
    assert code == 2  # Twilio cannot be asked without credentials: said, not hidden
    report = validate_json(out)
    assert report["unreachable"] == []  # not configured is not unreachable
    (missing,) = report["not_configured"]
    assert (missing["source"], missing["probe"]) == ("Twilio", "twilio")
    assert missing["setting"].startswith("TWILIO_AUTH_TOKEN (or TWILIO_API_KEY")
    code, out, _ = drift("--domain", "clean.test", "--skip", "twilio", "--format", "junit")
    assert code == 0 and 'message="not asked (--skip twilio)"' in out


# --- misreports, on the real parts (issue 18) -----------------------------------------------


def test_a_zone_missing_from_dns_is_a_finding_not_unreachable(drift: Drift, world: World,
                                                              tmp_path: Path) -> None:
    """BIND answers for drift.test: NXDOMAIN for a zone that does not exist, and no NS
    records for a name that exists but is no zone. Both are findings about the zone."""
    replace_rrset(world.state.dns, "drift.test", "notazone.drift.test.", "TXT", 60,
                  ('"a name, not a zone"',), world.state.tsig_key())
    stack = tmp_path / "Pulumi.zones.yaml"
    stack.write_text(_stack(iter((
        f"    - {{fqdn: a.nozone.drift.test, zone: nozone.drift.test, domainSid: DN{'1' * 32}}}\n",
        f"    - {{fqdn: b.nozone.drift.test, zone: nozone.drift.test, domainSid: DN{'2' * 32}}}\n",
        f"    - {{fqdn: c.notazone.drift.test, zone: notazone.drift.test, "
        f"domainSid: DN{'3' * 32}}}\n"))))
    code, out, err = drift("--format", "json", "--skip", "twilio", "--skip", "tls", stack=stack)
    assert code == 1, err
    report = validate_json(out)
    assert report["unreachable"] == [] and report["not_configured"] == []
    found = {f["domain"]: f for f in report["findings"]}
    assert set(found) == {"nozone.drift.test", "notazone.drift.test"}
    missing, empty = found["nozone.drift.test"], found["notazone.drift.test"]
    assert (missing["code"], missing["actual"], missing["affects"]) == (
        "zone-not-delegated", "NXDOMAIN for nozone.drift.test NS",
        ["a.nozone.drift.test", "b.nozone.drift.test"])
    assert missing["where"] == f"resolver {world.state.dns}"
    assert (empty["code"], empty["actual"]) == (
        "zone-not-delegated", "no NS records for notazone.drift.test NS")
    assert "delegate it at the registrar" in missing["fix"]


def test_missing_aws_credentials_are_not_configured(world: World, tmp_path: Path) -> None:
    """In a process of its own: boto3's default session keeps the credentials it found."""
    env = {k: v for k, v in {**os.environ, **world.env}.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                        "AWS_PROFILE")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true")  # no instance role to wait for
    args = ["drift", "--stack", str(world.stack), "--domain", "r53ok.test", "--skip", "dns",
            "--skip", "twilio", "--skip", "tls"]
    done = subprocess.run(lsctl_argv(*args, "--format", "json"), capture_output=True,
                          text=True, env=env, check=False)
    assert done.returncode == 2, done.stderr
    report = validate_json(done.stdout)
    assert report["unreachable"] == []
    (missing,) = report["not_configured"]
    assert (missing["source"], missing["domain"]) == ("Route53", "r53ok.test")
    assert missing["setting"].startswith("AWS_PROFILE, or AWS_ACCESS_KEY_ID")
    table = subprocess.run(lsctl_argv(*args), capture_output=True, text=True, env=env,
                           check=False).stdout
    assert "not configured" in table and "set AWS_PROFILE" in table
    assert "unreachable" not in table


def test_output_takes_the_format_of_its_extension(drift: Drift, tmp_path: Path) -> None:
    code, out, _ = drift("--domain", "clean.test", "--output", str(tmp_path / "r.json"),
                         "--output", str(tmp_path / "r.md"), "--output", str(tmp_path / "r.xml"))
    assert (code, out) == (0, "")
    assert validate_json((tmp_path / "r.json").read_text())["status"] == "clean"
    assert (tmp_path / "r.md").read_text().startswith("<!-- lsctl-drift -->\n## lsctl drift")
    assert (tmp_path / "r.xml").read_text().startswith('<?xml version="1.0"')
    code, _, err = drift("--domain", "clean.test", "--output", str(tmp_path / "r.csv"))
    assert code == 2 and "no format for the extension '.csv'" in err


def test_acknowledged_drift_is_shown_and_does_not_fail(drift: Drift, world: World,
                                                       tmp_path: Path) -> None:
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)).isoformat()
    line = next(line for line in world.stack.read_text().splitlines() if "fqdn: r4.test," in line)
    stack = tmp_path / "Pulumi.acked.yaml"
    stack.write_text(_stack(iter((line + "\n",))) + (
        "  lsctl:driftIgnore:\n"
        f'    - {{domain: r4.test, code: a-extra-ip, until: {until}, reason: "CHG-7, IP moves"}}\n'
        f"    - {{domain: '*', code: twilio-dns-invalid, until: {until}, reason: same change}}\n"))
    code, out, err = drift(stack=stack)
    assert code == 0, out + err
    assert f"acknowledged until {until}: CHG-7, IP moves" in out
    report = validate_json(drift("--format", "json", stack=stack)[1])
    assert report["summary"]["acknowledged"] == 2 and report["status"] == "clean"
