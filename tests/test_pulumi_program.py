"""The Pulumi program and its components under Pulumi's own mocks (no CLI here).

One style for the whole suite: per-test `set_mocks`, the program run with runpy inside
`pulumi.runtime.test`, which waits for every registration before the assertions.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.conftest import ROOT

SID = "DN" + "a" * 32
MG = "MG" + "b" * 32
ACCOUNT = "AC" + "c" * 32


@dataclass
class Mocks(pulumi.runtime.Mocks):
    resources: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append((args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        state.setdefault("arn", f"arn:aws:mock:::{args.name}")
        if args.typ == "aws:lambda/function:Function":
            state["arn"] = f"arn:aws:lambda:us-east-1:123456789012:function:{args.inputs['name']}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "aws:route53/getZone:getZone":
            return {"zoneId": f"Z{args.args['name'].upper().replace('.', '')}",
                    "name": args.args["name"]}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn", "userId": "u", "id": "x"}, []
        return {}, []

    def of_type(self, suffix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, inputs) for typ, name, inputs in self.resources if typ.endswith(suffix)]


def run_program(config: dict[str, Any], secrets: dict[str, str] | None = None,
                stack: str = "t") -> tuple[Mocks, dict[str, Any]]:
    """Run __main__.py under mocks; return the mocks (what was registered) and the exports."""
    mocks = Mocks()
    exports: dict[str, Any] = {}
    original = pulumi.export
    pulumi.runtime.set_mocks(mocks, project="lsctl", stack=stack, preview=False)
    values = {f"lsctl:{k}": json.dumps(v) if not isinstance(v, str) else v
              for k, v in config.items()}
    values.update({f"lsctl:{k}": v for k, v in (secrets or {}).items()})
    pulumi.runtime.set_all_config(values, secret_keys=[f"lsctl:{k}" for k in secrets or {}])

    def capture(name: str, value: Any) -> None:
        exports[name] = value
        original(name, value)

    namespace: dict[str, Any] = {}

    def program() -> None:
        namespace.update(runpy.run_path(str(ROOT / "__main__.py")))

    pulumi.export = capture
    try:
        pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    finally:
        pulumi.export = original
    exports["__namespace__"] = namespace
    return mocks, exports


def stack_config(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in data["config"].items()
            if k.startswith("lsctl:") and not (isinstance(v, dict) and "secure" in v)}


def route53_stack(**domain: Any) -> dict[str, Any]:
    return {"dns": {"provider": "route53"}, "domains": [
        {"fqdn": "example.com", "zone": "example.com", "domainSid": SID, **domain},
        {"fqdn": "go.example.org", "zone": "example.org", "domainSid": "DN" + "d" * 32,
         "dns": {"provider": "route53", "hostedZoneId": "ZORG"}}]}


def test_sandbox_stack_exports_each_domain() -> None:
    _, exports = run_program(stack_config("sandbox"))
    assert exports["lsctl.test"]["recordType"] == "A"
    assert exports["lsctl.test"]["values"] == ["3.233.108.250", "3.233.187.46", "54.157.2.211"]
    assert exports["go.lsctl.test"]["values"] == ["lsct.ashburn.us1.twilio.com"]


def test_exactly_the_expected_records() -> None:
    mocks, _ = run_program(route53_stack())
    records = {name: inputs for name, inputs in mocks.of_type("route53/record:Record")}
    assert set(records) == {"example.com-a", "go.example.org-cname"}
    root, sub = records["example.com-a"], records["go.example.org-cname"]
    assert (root["type"], root["name"], root["zoneId"]) == ("A", "example.com", "ZEXAMPLECOM")
    assert sorted(root["records"]) == ["3.233.108.250", "3.233.187.46", "54.157.2.211"]
    assert (sub["type"], sub["records"], sub["zoneId"]) == (
        "CNAME", ["lsct.ashburn.us1.twilio.com"], "ZORG")
    assert "allowOverwrite" not in root and root["ttl"] == 300
    assert not mocks.of_type("RenewalSchedule")  # no Twilio credentials: no schedule


def test_caa_verification_txt_and_allow_overwrite_when_asked() -> None:
    mocks, _ = run_program(route53_stack(caa=True, verificationTxt="twilio-verify=abc",
                                         allowOverwrite=True, ttl=600))
    records = {name: inputs for name, inputs in mocks.of_type("route53/record:Record")}
    assert records["example.com-caa"]["records"] == ['0 issue "letsencrypt.org"',
                                                     '0 issuewild "letsencrypt.org"']
    assert records["example.com-caa"]["name"] == "example.com"
    assert records["example.com-verification"]["records"] == ["twilio-verify=abc"]
    assert records["example.com-a"]["allowOverwrite"] is True
    assert records["example.com-a"]["ttl"] == 600
    assert "allowOverwrite" not in records["go.example.org-cname"]


CREDENTIALS = {"twilioAccountSid": ACCOUNT, "twilioAuthToken": "token-value-secret"}


@pytest.fixture
def prebuilt_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "handler.py").write_text("")
    monkeypatch.setenv("LSCTL_LAMBDA_ARCHIVE", str(tmp_path))


def test_renewal_policy_is_least_privilege(prebuilt_archive: None) -> None:
    config = route53_stack(messagingServiceSids=[MG])
    config["acme"] = {"agreeTos": True, "state": {"backend": "secretsmanager",
                                                   "location": "lsctl/t/state"}}
    mocks, _ = run_program(config, CREDENTIALS)
    (_, role_policy), = [p for p in mocks.of_type("iam/rolePolicy:RolePolicy")
                            if p[0] == "renewal-policy"]
    policy = json.loads(role_policy["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    change = by_sid["ChallengeRecordsOnly"]
    assert change["Action"] == "route53:ChangeResourceRecordSets"
    assert change["Resource"] == ["arn:aws:route53:::hostedzone/ZEXAMPLECOM",
                                  "arn:aws:route53:::hostedzone/ZORG"]
    assert change["Condition"]["ForAllValues:StringEquals"][
        "route53:ChangeResourceRecordSetsRecordTypes"] == ["TXT"]
    assert change["Condition"]["ForAllValues:StringLike"][
        "route53:ChangeResourceRecordSetsNormalizedRecordNames"] == ["_acme-challenge.*"]
    assert by_sid["WaitForChanges"]["Resource"] == "arn:aws:route53:::change/*"
    assert by_sid["OwnState"]["Resource"] == \
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:lsctl/t/state/*"
    assert by_sid["OwnCredentials"]["Resource"] == ["arn:aws:mock:::renewal-twilio"]
    assert by_sid["ExpiryMetric"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "lsctl"}}
    assert by_sid["FindZonesByName"]["Resource"] == "*"  # example.com is found by name
    # Nothing else is allowed: every statement is one of the above, none uses a wildcard
    # action, and only ListHostedZones and the namespaced metric have Resource "*".
    assert set(by_sid) == {"ChallengeRecordsOnly", "ReadDeclaredZones", "WaitForChanges",
                           "FindZonesByName", "OwnState", "OwnCredentials", "OwnLogs",
                           "ExpiryMetric"}
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        assert all("*" not in action for action in actions)
        assert statement["Effect"] == "Allow"
    (_, scheduler), = [p for p in mocks.of_type("iam/rolePolicy:RolePolicy")
                       if p[0] == "renewal-scheduler-policy"]
    assert json.loads(scheduler["policy"])["Statement"] == [{
        "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:lsctl-renew-t"}]


def test_schedule_alarms_and_function(prebuilt_archive: None) -> None:
    config = route53_stack()
    config["renewal"] = {"alarmDays": 14, "alarmEmail": "ops@example.com",
                         "flexibleWindowMinutes": 30}
    mocks, _ = run_program(config, CREDENTIALS)
    (_, schedule), = mocks.of_type("scheduler/schedule:Schedule")
    assert schedule["scheduleExpression"] == "rate(12 hours)"
    assert schedule["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 30}
    alarms = {name: inputs for name, inputs in mocks.of_type("cloudwatch/metricAlarm:MetricAlarm")}
    expiry = alarms["renewal-expiry"]
    assert (expiry["namespace"], expiry["metricName"], expiry["threshold"],
            expiry["comparisonOperator"]) == ("lsctl", "DaysToExpiry", 14, "LessThanThreshold")
    assert expiry["dimensions"] == {"Stack": "t"}
    errors = alarms["renewal-errors"]
    assert (errors["namespace"], errors["metricName"]) == ("AWS/Lambda", "Errors")
    (_, subscription), = mocks.of_type("sns/topicSubscription:TopicSubscription")
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@example.com")
    (_, function), = mocks.of_type("lambda/function:Function")
    assert function["handler"] == "acme_renewer.lambda_handler.lambda_handler"
    assert function["runtime"] == "python3.11"
    assert function["environment"]["variables"]["LSCTL_STACK_FILE"] == "stacks/Pulumi.t.yaml"
    (_, logs), = mocks.of_type("cloudwatch/logGroup:LogGroup")
    assert logs["name"] == "/aws/lambda/lsctl-renew-t"
    secrets = {name for name, _ in mocks.of_type("secretsmanager/secret:Secret")}
    assert secrets == {"renewal-twilio"}


def test_credential_outputs_are_secret(prebuilt_archive: None) -> None:
    config = route53_stack(messagingServiceSids=[MG])
    secrets_seen: dict[str, bool] = {}
    mocks, exports = run_program(config, CREDENTIALS)
    namespace = exports["__namespace__"]
    renewal = namespace["renewal"]
    domains = namespace["domains"]
    checks = {"twilio secret": renewal.twilio_secret_version.secret_string}
    for resource in domains[0].twilio:
        checks[resource._name] = resource.auth

    async def collect() -> None:
        for label, output in checks.items():
            secrets_seen[label] = await output.is_secret()

    pulumi.runtime.sync_await._sync_await(collect())
    assert secrets_seen and all(secrets_seen.values()), secrets_seen
    dynamic = [inputs for typ, _, inputs in mocks.resources
               if typ == "pulumi-python:dynamic:Resource"]
    assert {d.get("messaging_service_sid") for d in dynamic} >= {MG}


def test_bad_config_is_a_clean_pulumi_error() -> None:
    config = stack_config("sandbox")
    config["domains"][0]["domainSid"] = "DN-nope"
    expected = r"stacks/Pulumi\.t\.yaml: lsctl:domains\[0\]\.domainSid: 'DN-nope' is not"
    with pytest.raises(pulumi.RunError, match=expected):
        run_program(config)


def test_example_stack(prebuilt_archive: None) -> None:
    mocks, exports = run_program(stack_config("example"),
                                 {**CREDENTIALS, "tsigSecret": "tsig-secret-value"})
    records = {inputs["name"] for _, inputs in mocks.of_type("route53/record:Record")}
    # sms.example.org lives on the org's own RFC 2136 servers: no Route53 record for it.
    assert records == {"example-links.com", "go.example.com"}
    assert set(exports) - {"__namespace__"} == {"example-links.com", "go.example.com",
                                                "sms.example.org"}
    secrets = {name for name, _ in mocks.of_type("secretsmanager/secret:Secret")}
    assert secrets == {"renewal-twilio", "renewal-tsig"}
    (_, function), = mocks.of_type("lambda/function:Function")
    assert "LSCTL_TSIG_SECRET_ID" in function["environment"]["variables"]
