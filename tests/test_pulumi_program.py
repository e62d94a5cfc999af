"""The Pulumi program and its components under Pulumi's own mocks (no CLI here).

One style for the whole suite: per-test `set_mocks`, the program run with runpy inside
`pulumi.runtime.test`, which waits for every registration before the assertions.
"""

from __future__ import annotations

import fnmatch
import json
import runpy
from collections.abc import Callable, Iterator
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
TOKEN = "token-value-never-in-clear"
TSIG = "tsig-value-never-in-clear"
CREDENTIALS = {"twilioAccountSid": ACCOUNT, "twilioAuthToken": TOKEN}
SECRETS_MANAGER = {"agreeTos": True, "state": {"backend": "secretsmanager"}}
DYNAMIC = "pulumi-python:dynamic:Resource"


@dataclass
class Mocks(pulumi.runtime.Mocks):
    resources: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append((args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        state.setdefault("arn", f"arn:aws:mock:::{args.name}")
        if args.typ == "aws:lambda/function:Function":
            state["arn"] = f"arn:aws:lambda:us-east-1:123456789012:function:{args.inputs['name']}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:route53/getZone:getZone":
            return {"zoneId": f"Z{args.args['name'].upper().replace('.', '')}",
                    "name": args.args["name"]}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn", "userId": "u", "id": "x"}, []
        return {}, []

    def of_type(self, suffix: str) -> dict[str, dict[str, Any]]:
        return {name: inputs for typ, name, inputs in self.resources if typ.endswith(suffix)}


@dataclass
class Run:
    mocks: Mocks
    exports: dict[str, Any]
    namespace: dict[str, Any]

    def records(self) -> dict[str, dict[str, Any]]:
        return self.mocks.of_type("route53/record:Record")

    def policy(self, name: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            self.mocks.of_type("iam/rolePolicy:RolePolicy")[name]["policy"])
        return document

    def managed_policies(self, role: str) -> dict[str, str]:
        """The managed policies attached to `role`: resource name -> document (as sent)."""
        arns = {a["policyArn"] for a in self.mocks.of_type(
            "iam/rolePolicyAttachment:RolePolicyAttachment").values() if a["role"] == role}
        return {name: inputs["policy"] for name, inputs in
                self.mocks.of_type("iam/policy:Policy").items()
                if f"arn:aws:mock:::{name}" in arns}

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        """Every statement that grants `role` something: inline and attached."""
        inline = [json.loads(i["policy"]) for i in
                  self.mocks.of_type("iam/rolePolicy:RolePolicy").values() if i["role"] == role]
        managed = [json.loads(d) for d in self.managed_policies(role).values()]
        return [s for document in inline + managed for s in document["Statement"]]

    def trust(self, role: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            self.mocks.of_type("iam/role:Role")[role]["assumeRolePolicy"])
        return document


def allows(statements: list[dict[str, Any]], action: str, resource: str,
           context: dict[str, list[str]]) -> bool:
    """IAM's evaluation, for the operators these policies use: an Allow statement whose
    action and resource match and whose every condition holds (multi-valued keys with
    ForAllValues: each value of the request must match one of the policy's)."""
    def listed(value: str | list[str]) -> list[str]:
        return [value] if isinstance(value, str) else value

    def holds(operator: str, key: str, wanted: str | list[str]) -> bool:
        matchers: dict[str, Callable[[str, str], bool]] = {
            "StringEquals": lambda v, w: v == w, "StringLike": fnmatch.fnmatchcase}
        match = matchers[operator.removeprefix("ForAllValues:")]
        values = context[key]
        if operator.startswith("ForAllValues:"):
            return all(any(match(v, w) for w in listed(wanted)) for v in values)
        return len(values) == 1 and any(match(values[0], w) for w in listed(wanted))

    return any(
        s["Effect"] == "Allow" and action in listed(s["Action"])
        and any(fnmatch.fnmatchcase(resource, r) for r in listed(s["Resource"]))
        and all(holds(op, key, wanted) for op, keys in s.get("Condition", {}).items()
                for key, wanted in keys.items())
        for s in statements)


def may_write_txt(statements: list[dict[str, Any]], zone_id: str, *names: str) -> bool:
    """Whether one ChangeResourceRecordSets call may UPSERT TXT records at `names`."""
    return allows(statements, "route53:ChangeResourceRecordSets",
                  f"arn:aws:route53:::hostedzone/{zone_id}", {
                      "route53:ChangeResourceRecordSetsNormalizedRecordNames": list(names),
                      "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"] * len(names),
                      "route53:ChangeResourceRecordSetsActions": ["UPSERT"] * len(names)})


def run_program(config: dict[str, Any], secrets: dict[str, str] | None = None,
                stack: str = "t", clear: dict[str, str] | None = None) -> Run:
    """Run __main__.py under mocks with `config` (plain), `secrets` (set with --secret) and
    `clear` (credentials set without --secret)."""
    mocks = Mocks()
    exports: dict[str, Any] = {}
    original = pulumi.export
    pulumi.runtime.set_mocks(mocks, project="lsctl", stack=stack, preview=False)
    values = {f"lsctl:{k}": json.dumps(v) if not isinstance(v, str) else v
              for k, v in config.items()}
    secrets = CREDENTIALS if secrets is None else secrets
    values.update({f"lsctl:{k}": v for k, v in {**secrets, **(clear or {})}.items()})
    pulumi.runtime.set_all_config(values, secret_keys=[f"lsctl:{k}" for k in secrets])

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
    return Run(mocks, exports, namespace)


def resolve(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    """An Output's value and whether it is secret (after the program has run)."""
    async def both() -> tuple[Any, bool]:
        return await output.future(), await output.is_secret()

    result: tuple[Any, bool] = pulumi.runtime.sync_await._sync_await(both())
    return result


def stack_config(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in data["config"].items()
            if k.startswith("lsctl:") and not (isinstance(v, dict) and "secure" in v)}


def route53_stack(**domain: Any) -> dict[str, Any]:
    return {"dns": {"provider": "route53"}, "renewal": {"enabled": False}, "domains": [
        {"fqdn": "example.com", "zone": "example.com", "domainSid": SID, **domain},
        {"fqdn": "go.example.org", "zone": "example.org", "domainSid": "DN" + "d" * 32,
         "dns": {"provider": "route53", "hostedZoneId": "/hostedzone/ZORG"}}]}


def renewal_stack(**renewal: Any) -> dict[str, Any]:
    config = route53_stack(messagingServiceSids=[MG])
    config["acme"] = SECRETS_MANAGER
    config["renewal"] = renewal
    return config


@pytest.fixture(autouse=True)
def prebuilt_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Lambda's code: a stand-in (tests/test_lambda_archive.py builds the real one)."""
    (tmp_path / "handler.py").write_text("")
    monkeypatch.setenv("LSCTL_LAMBDA_ARCHIVE", str(tmp_path))
    yield


# --- records ------------------------------------------------------------------------------


def test_sandbox_stack_exports_each_domain() -> None:
    config = {**stack_config("sandbox"), "renewal": {"enabled": False}}
    config["domains"][0]["caa"] = True  # an RFC 2136 zone: a warning, no record
    run = run_program(config)
    assert run.exports["lsctl.test"]["recordType"] == "A"
    assert run.exports["lsctl.test"]["values"] == ["3.233.108.250", "3.233.187.46",
                                                   "54.157.2.211"]
    assert run.exports["go.lsctl.test"]["values"] == ["lsct.ashburn.us1.twilio.com"]
    assert run.exports["go.lsctl.test"]["zoneId"] is None  # RFC 2136: no Route53 records
    assert not run.records()


def test_exactly_the_expected_records() -> None:
    run = run_program(route53_stack())
    records = run.records()
    assert set(records) == {"example.com-a", "go.example.org-cname"}
    root, sub = records["example.com-a"], records["go.example.org-cname"]
    assert (root["type"], root["name"], root["zoneId"]) == ("A", "example.com", "ZEXAMPLECOM")
    assert sorted(root["records"]) == ["3.233.108.250", "3.233.187.46", "54.157.2.211"]
    assert (sub["type"], sub["name"], sub["records"], sub["zoneId"]) == (
        "CNAME", "go.example.org", ["lsct.ashburn.us1.twilio.com"], "ZORG")
    assert "allowOverwrite" not in root and "allowOverwrite" not in sub
    assert root["ttl"] == sub["ttl"] == 300
    # The zone given by id is not looked up; the other is, by name, once.
    assert [a for t, a in run.mocks.calls if t == "aws:route53/getZone:getZone"] == [
        {"name": "example.com", "privateZone": False}]
    zone_id, _ = resolve(run.exports["example.com"]["zoneId"])
    assert zone_id == "ZEXAMPLECOM"
    assert not run.mocks.of_type("RenewalSchedule")  # renewal disabled: no schedule


def test_caa_verification_txt_and_allow_overwrite_when_asked() -> None:
    verification = "twilio-domain-verification=" + "ab" * 16
    config = route53_stack(caa=True, verificationTxt=verification, allowOverwrite=True,
                           ttl=600)
    # Another domain of the same zone asking for CAA too: still one CAA record set.
    config["domains"].append({"fqdn": "l.example.com", "zone": "example.com",
                              "domainSid": "DN" + "e" * 32, "caa": True})
    records = run_program(config).records()
    assert set(records) == {"example.com-a", "example.com-verification", "example.com-caa",
                            "l.example.com-cname", "go.example.org-cname"}
    caa = records["example.com-caa"]
    assert (caa["name"], caa["type"], caa["zoneId"]) == ("example.com", "CAA", "ZEXAMPLECOM")
    assert caa["records"] == ['0 issue "letsencrypt.org"', '0 issuewild "letsencrypt.org"']
    txt = records["example.com-verification"]
    assert (txt["name"], txt["type"], txt["records"]) == (
        "_twilio.example.com", "TXT", [verification])
    for name in ("example.com-a", "example.com-verification", "example.com-caa"):
        assert records[name]["allowOverwrite"] is True, name
    assert records["example.com-a"]["ttl"] == 600
    assert "allowOverwrite" not in records["l.example.com-cname"]
    assert "allowOverwrite" not in records["go.example.org-cname"]


def test_twilio_side_resources_per_domain() -> None:
    config = route53_stack(messagingServiceSids=[MG], fallbackUrl="https://e.example/gone",
                           continueOnFailure=False)
    config["domains"][1]["certificate"] = "managed"
    run = run_program(config)
    dynamic = {name: inputs for typ, name, inputs in run.mocks.resources if typ == DYNAMIC}
    assert set(dynamic) == {"example.com-config", f"example.com-{MG}",
                            "go.example.org-config", "go.example.org-managed-cert"}
    assert dynamic["example.com-config"]["fallback_url"] == "https://e.example/gone"
    assert dynamic["example.com-config"]["continue_on_failure"] is False
    assert dynamic[f"example.com-{MG}"]["messaging_service_sid"] == MG
    assert dynamic["go.example.org-managed-cert"]["managed"] is True


# --- configuration errors -----------------------------------------------------------------


def test_bad_config_is_a_clean_pulumi_error() -> None:
    config = stack_config("sandbox")
    config["domains"][0]["domainSid"] = "DN-nope"
    expected = r"stacks/Pulumi\.t\.yaml: lsctl:domains\[0\]\.domainSid: 'DN-nope' is not"
    with pytest.raises(pulumi.RunError, match=expected):
        run_program(config)


@pytest.mark.parametrize(("secrets", "clear", "message"), [
    ({}, {}, r"lsctl:twilioAccountSid: is not set\. Fix: pulumi config set --secret"),
    ({"twilioAccountSid": ACCOUNT}, {}, r"lsctl:twilioAuthToken: is not set"),
    ({"twilioAccountSid": ACCOUNT}, {"twilioAuthToken": TOKEN},
     r"lsctl:twilioAuthToken: is set in clear text"),
    ({"twilioAccountSid": ACCOUNT, "twilioApiKey": "SK" + "1" * 32}, {"twilioAuthToken": TOKEN},
     r"lsctl:twilioApiSecret: is not set"),
])
def test_credentials_are_required_and_secret(secrets: dict[str, str], clear: dict[str, str],
                                             message: str) -> None:
    # Without credentials `up` would plan to delete every Twilio-side resource: refused.
    with pytest.raises(pulumi.RunError, match=message):
        run_program(route53_stack(), secrets, clear=clear)


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c.pop("dns"), r"lsctl:domains\[0\]\.dns: no DNS provider is set"),
    (lambda c: c.update(acme={"state": {"backend": "directory"}}, renewal={}),
     r"lsctl:acme\.state\.backend: 'directory' keeps the renewer's state in files"),
    (lambda c: c.update(acme={"state": {"backend": "secretsmanager",
                                        "location": "lsctl-renewer"}}, renewal={}),
     r"lsctl:acme\.state\.location: 'lsctl-renewer' holds the renewer's credential"),
    (lambda c: c.update(acme=SECRETS_MANAGER, renewal={}, dns={
        "provider": "rfc2136", "tsigKeyName": "k", "server": "ns1.example.com"}),
     r"lsctl:tsigSecret: is not set, but example\.com is renewed through RFC 2136"),
    (lambda c: c.update(acme=SECRETS_MANAGER, renewal={}, dns={
        "provider": "rfc2136", "tsigKeyName": "k"}),
     r"lsctl:domains\[0\]\.dns\.server: is not set"),
    (lambda c: c.update(acme={"state": {"backend": "s3", "location": "s3://b-1/p",
                                        "kmsKeyId": "alias/lsctl"}}, renewal={}),
     r"lsctl:acme\.state\.kmsKeyId: 'alias/lsctl' is an alias"),
])
def test_a_renewer_that_could_not_run_is_refused(change: Any, message: str) -> None:
    config = route53_stack()
    change(config)
    with pytest.raises(pulumi.RunError, match=message):
        run_program(config)


# --- the renewal schedule -----------------------------------------------------------------


ROLE = "renewal-role-id"  # the renewer's role, as its policies name it (its id is its name)
NAMES = "route53:ChangeResourceRecordSetsNormalizedRecordNames"


def test_renewal_policy_is_least_privilege() -> None:
    config = renewal_stack()
    # A Twilio-managed domain in a third zone: the renewer never writes there.
    config["domains"].append({"fqdn": "m.example.net", "zone": "example.net",
                              "domainSid": "DN" + "f" * 32, "certificate": "managed"})
    run = run_program(config)
    policy = run.policy("renewal-policy")
    assert policy["Version"] == "2012-10-17"
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["WaitForChanges"]["Resource"] == "arn:aws:route53:::change/*"
    assert by_sid["FindZonesByName"]["Action"] == "route53:ListHostedZones"  # example.com
    assert by_sid["OwnState"]["Resource"] == \
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:lsctl/lsctl/t/*"
    assert sorted(by_sid["OwnState"]["Action"]) == [
        "secretsmanager:CreateSecret", "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
    assert by_sid["OwnCredentials"] == {
        "Sid": "OwnCredentials", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": ["arn:aws:mock:::renewal-twilio"]}
    assert by_sid["OwnLogs"]["Resource"] == "arn:aws:mock:::renewal-logs:*"
    assert by_sid["ExpiryMetric"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "lsctl"}}
    assert set(by_sid) == {"WaitForChanges", "FindZonesByName", "OwnState", "OwnCredentials",
                           "OwnLogs", "ExpiryMetric"}
    # The challenge records, in a managed policy of their own (see the size test below).
    managed = run.managed_policies(ROLE)
    assert list(managed) == ["renewal-challenges-0"]
    zones = ["arn:aws:route53:::hostedzone/ZEXAMPLECOM", "arn:aws:route53:::hostedzone/ZORG"]
    assert json.loads(managed["renewal-challenges-0"]) == {
        "Version": "2012-10-17", "Statement": [
            {"Sid": "ChallengeRecordsOnly", "Effect": "Allow",
             "Action": "route53:ChangeResourceRecordSets", "Resource": zones,
             "Condition": {"ForAllValues:StringEquals": {
                 "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                 "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"],
                 NAMES: ["_acme-challenge.example.com", "_acme-challenge.go.example.org"]}}},
            {"Sid": "ReadDeclaredZones", "Effect": "Allow",
             "Action": "route53:ListResourceRecordSets", "Resource": zones}]}
    # Nothing else: all Allow, no wildcard action, and "*" only where AWS offers no resource
    # scope (ListHostedZones; PutMetricData, by namespace).
    for statement in run.role_statements(ROLE):
        actions = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions)
        if statement["Resource"] == "*":
            assert statement["Sid"] in ("FindZonesByName", "ExpiryMetric")
    assert run.policy("renewal-scheduler-policy")["Statement"] == [{
        "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:lsctl-renew-t"}]


def test_challenges_only_at_the_declared_names() -> None:
    # go.example.com declared in example.com: its role answers DNS-01 for it and its altNames
    # (a wildcard at its base name), for no other name of the zone, and in no other zone.
    config = renewal_stack()
    config["domains"] = [{"fqdn": "go.example.com", "zone": "example.com", "domainSid": SID,
                          "altNames": ["*.go.example.com", "L.Example.com."]}]
    statements = run_program(config).role_statements(ROLE)
    assert not may_write_txt(statements, "ZEXAMPLECOM", "_acme-challenge.www.example.com")
    assert may_write_txt(statements, "ZEXAMPLECOM", "_acme-challenge.go.example.com",
                         "_acme-challenge.l.example.com")
    # One name outside the list spoils the whole change batch.
    assert not may_write_txt(statements, "ZEXAMPLECOM", "_acme-challenge.go.example.com",
                             "_acme-challenge.www.example.com")
    for name in ("_acme-challenge.x.go.example.com", "_acme-challenge.example.com",
                 "go.example.com", "_acme-challenge.go.example.com.evil.example"):
        assert not may_write_txt(statements, "ZEXAMPLECOM", name), name
    assert not may_write_txt(statements, "ZOTHER", "_acme-challenge.go.example.com")
    assert [s["Condition"]["ForAllValues:StringEquals"][NAMES] for s in statements
            if s.get("Sid") == "ChallengeRecordsOnly"] == [
        ["_acme-challenge.go.example.com", "_acme-challenge.l.example.com"]]


def test_large_stacks_split_their_challenges_over_managed_policies() -> None:
    # A role's inline policies share 10,240 characters; each managed policy has 6,144.
    config = renewal_stack()
    alt = [f"links{i}.example.com" for i in range(400)]
    config["domains"][0]["altNames"] = alt
    run = run_program(config)
    managed = run.managed_policies(ROLE)
    assert 1 < len(managed) <= 10
    for document in managed.values():
        assert len("".join(document.split())) <= 6144
    inline = run.mocks.of_type("iam/rolePolicy:RolePolicy")["renewal-policy"]["policy"]
    assert len("".join(inline.split())) <= 10240
    listed = [n for d in managed.values() for s in json.loads(d)["Statement"]
              if s["Sid"] == "ChallengeRecordsOnly"
              for n in s["Condition"]["ForAllValues:StringEquals"][NAMES]]
    assert sorted(listed) == sorted({"_acme-challenge.example.com",
                                     "_acme-challenge.go.example.org",
                                     *(f"_acme-challenge.{a}" for a in alt)})
    statements = run.role_statements(ROLE)
    assert may_write_txt(statements, "ZEXAMPLECOM", "_acme-challenge.links399.example.com")
    assert may_write_txt(statements, "ZORG", "_acme-challenge.go.example.org")
    assert not may_write_txt(statements, "ZEXAMPLECOM", "_acme-challenge.links400.example.com")


def test_more_challenges_than_a_role_can_hold_are_refused() -> None:
    config = renewal_stack()
    config["domains"][0]["altNames"] = [f"links{i}.example.com" for i in range(3000)]
    with pytest.raises(pulumi.RunError, match=r"lsctl:domains: the 3002 challenge records of 2 "
                                              r"zones need more than the 10 managed policies"):
        run_program(config)


def test_roles_trust_only_this_accounts_lambda_and_schedule_group() -> None:
    run = run_program(renewal_stack())
    assert run.trust("renewal-role")["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]
    assert run.trust("renewal-scheduler-role")["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {
            "aws:SourceAccount": "123456789012",
            "aws:SourceArn": "arn:aws:scheduler:us-east-1:123456789012:schedule-group/default"}}}]
    schedule = run.mocks.of_type("scheduler/schedule:Schedule")["renewal-schedule"]
    assert schedule["groupName"] == "default"  # the group the trust policy names


def test_zones_given_by_id_need_no_zone_listing() -> None:
    config = renewal_stack()
    config["domains"][0]["dns"] = {"provider": "route53", "hostedZoneId": "ZCOM"}
    run = run_program(config)
    assert "FindZonesByName" not in {s["Sid"] for s in run.policy("renewal-policy")["Statement"]}
    [challenges] = [s for s in run.role_statements(ROLE) if s["Sid"] == "ChallengeRecordsOnly"]
    assert challenges["Resource"] == [
        "arn:aws:route53:::hostedzone/ZCOM", "arn:aws:route53:::hostedzone/ZORG"]


def test_state_prefix_is_where_the_renewer_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The renewer (here as in the Lambda: no project directory given) finds the project's name
    # in the Pulumi.yaml above the stack file; the program's role allows exactly that prefix.
    from acme_renewer.state import SecretsManagerBackend
    from acme_renewer.wiring import state_store
    from linkshortening.stack.load import load_stack_file

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    stack = load_stack_file(ROOT / "stacks" / "Pulumi.example.yaml")
    backend = state_store(stack).backend
    assert isinstance(backend, SecretsManagerBackend)
    assert backend.prefix == "lsctl/lsctl/example"
    run = run_program(stack_config("example"), {**CREDENTIALS, "tsigSecret": TSIG},
                      stack="example")
    by_sid = {s["Sid"]: s for s in run.policy("renewal-policy")["Statement"]}
    assert by_sid["OwnState"]["Resource"] == \
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{backend.prefix}/*"
    explicit = {**stack_config("example"), "acme": {
        **stack_config("example")["acme"], "state": {"backend": "secretsmanager",
                                                     "location": "team/links"}}}
    run = run_program(explicit, {**CREDENTIALS, "tsigSecret": TSIG}, stack="example")
    by_sid = {s["Sid"]: s for s in run.policy("renewal-policy")["Statement"]}
    assert by_sid["OwnState"]["Resource"].endswith(":secret:team/links/*")


def test_schedule_alarms_and_function() -> None:
    run = run_program(renewal_stack(alarmDays=14, alarmEmail="ops@example.com",
                                    flexibleWindowMinutes=30, memoryMb=1024))
    schedule = run.mocks.of_type("scheduler/schedule:Schedule")["renewal-schedule"]
    assert schedule["scheduleExpression"] == "rate(12 hours)"
    assert schedule["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 30}
    assert schedule["target"]["arn"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:lsctl-renew-t"
    assert schedule["target"]["roleArn"] == "arn:aws:mock:::renewal-scheduler-role"
    scheduler_trust = json.loads(
        run.mocks.of_type("iam/role:Role")["renewal-scheduler-role"]["assumeRolePolicy"])
    assert scheduler_trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    alarms = run.mocks.of_type("cloudwatch/metricAlarm:MetricAlarm")
    expiry = alarms["renewal-expiry"]
    assert (expiry["namespace"], expiry["metricName"], expiry["statistic"], expiry["threshold"],
            expiry["comparisonOperator"]) == ("lsctl", "DaysToExpiry", "Minimum", 14,
                                              "LessThanThreshold")
    assert expiry["dimensions"] == {"Stack": "t"}
    assert expiry["alarmActions"] == ["arn:aws:mock:::renewal-alarms"]
    errors = alarms["renewal-errors"]
    assert (errors["namespace"], errors["metricName"], errors["threshold"],
            errors["comparisonOperator"]) == ("AWS/Lambda", "Errors", 0, "GreaterThanThreshold")
    assert errors["dimensions"] == {"FunctionName": "lsctl-renew-t"}
    subscription = run.mocks.of_type("sns/topicSubscription:TopicSubscription")["renewal-email"]
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@example.com")
    function = run.mocks.of_type("lambda/function:Function")["renewal-function"]
    assert function["handler"] == "acme_renewer.lambda_handler.lambda_handler"
    assert (function["runtime"], function["memorySize"], function["timeout"]) == (
        "python3.11", 1024, 900)
    assert function["reservedConcurrentExecutions"] == 1  # one run at a time
    assert function["environment"]["variables"] == {
        "LSCTL_STACK_FILE": "stacks/Pulumi.t.yaml",
        "LSCTL_TWILIO_SECRET_ID": "arn:aws:mock:::renewal-twilio",
        "LSCTL_METRIC_NAMESPACE": "lsctl"}
    invoke = run.mocks.of_type("lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert invoke["renewal-invoke"]["maximumRetryAttempts"] == 0
    logs = run.mocks.of_type("cloudwatch/logGroup:LogGroup")["renewal-logs"]
    assert logs["name"] == "/aws/lambda/lsctl-renew-t"
    secrets = run.mocks.of_type("secretsmanager/secret:Secret")
    assert {s["name"] for s in secrets.values()} == {"lsctl-renewer/t/twilio"}


@pytest.mark.parametrize(("profile", "schedule", "threshold"), [
    ("shortlived", "rate(4 hours)", 1.1),  # 160 h, due with 53 h left: runs every 4 hours
    ("tlsserver", "rate(12 hours)", 7.5),  # 45 days, due with 15 days left
])
def test_schedule_and_alarm_follow_the_profile(profile: str, schedule: str,
                                               threshold: float) -> None:
    # Issue 17: the schedule and the expiry alarm come from the profile's lifetime, never
    # from a 90-day assumption (a 21-day alarm would fire before every 45-day renewal).
    config = renewal_stack()
    config["acme"] = {**SECRETS_MANAGER, "profile": profile}
    run = run_program(config)
    assert run.mocks.of_type("scheduler/schedule:Schedule")["renewal-schedule"][
        "scheduleExpression"] == schedule
    expiry = run.mocks.of_type("cloudwatch/metricAlarm:MetricAlarm")["renewal-expiry"]
    assert expiry["threshold"] == threshold
    assert profile in expiry["alarmDescription"]


@pytest.mark.parametrize(("renewal", "message"), [
    ({"schedule": "rate(12 hours)"}, r"lsctl:renewal\.schedule: rate\(12 hours\) runs fewer "
     r"than 6 times in the 53 hours a certificate is due \(profile shortlived issues 160-hour "
     r"certificates\)\. Fix: run at least every 8 hours"),
    ({"alarmDays": 3}, r"lsctl:renewal\.alarmDays: 3 days is not below the 53 hours left"),
])
def test_a_schedule_or_alarm_wrong_for_the_profile_is_refused(renewal: dict[str, Any],
                                                              message: str) -> None:
    config = renewal_stack(**renewal)
    config["acme"] = {**SECRETS_MANAGER, "profile": "shortlived"}
    with pytest.raises(pulumi.RunError, match=message):
        run_program(config)


def test_no_reservation_where_the_account_has_none_to_give() -> None:
    run = run_program(renewal_stack(reserveConcurrency=False))
    function = run.mocks.of_type("lambda/function:Function")["renewal-function"]
    assert "reservedConcurrentExecutions" not in function


def test_no_schedule_without_domains_to_renew() -> None:
    config = renewal_stack()
    for domain in config["domains"]:
        domain["certificate"] = "managed"
    assert not run_program(config).mocks.of_type("lambda/function:Function")


def test_credential_outputs_are_secret() -> None:
    config = renewal_stack()
    config["domains"][1]["dns"] = {"provider": "rfc2136", "tsigKeyName": "k",
                                   "server": "ns1.example.org"}
    run = run_program(config, {**CREDENTIALS, "tsigSecret": TSIG})
    renewal = run.namespace["program"].renewal
    twilio, twilio_secret = resolve(renewal.twilio_secret_version.secret_string)
    assert twilio_secret and json.loads(twilio) == {"account_sid": ACCOUNT, "auth_token": TOKEN}
    tsig, tsig_secret = resolve(renewal.tsig_secret_version.secret_string)
    assert tsig_secret and tsig == TSIG
    function = run.mocks.of_type("lambda/function:Function")["renewal-function"]
    assert function["environment"]["variables"]["LSCTL_TSIG_SECRET_ID"] == \
        "arn:aws:mock:::renewal-tsig"
    # Only the two secret versions carry a credential; no other resource, dynamic ones
    # included (their providers read the credentials from the config at run time), and no
    # stack output.
    for typ, name, inputs in run.mocks.resources:
        if typ != "aws:secretsmanager/secretVersion:SecretVersion":
            assert TOKEN not in str(inputs) and TSIG not in str(inputs), name
    assert TOKEN not in str(run.exports)


def test_api_key_credentials_for_the_renewer() -> None:
    api_key = "SK" + "2" * 32
    run = run_program(renewal_stack(), {"twilioAccountSid": ACCOUNT, "twilioApiKey": api_key,
                                        "twilioApiSecret": TOKEN})
    value, secret = resolve(run.namespace["program"].renewal.twilio_secret_version.secret_string)
    assert secret and json.loads(value) == {"account_sid": ACCOUNT, "api_key": api_key,
                                            "api_secret": TOKEN}


def test_example_stack() -> None:
    run = run_program(stack_config("example"), {**CREDENTIALS, "tsigSecret": TSIG},
                      stack="example")
    records = {(inputs["name"], inputs["type"]) for inputs in run.records().values()}
    # sms.example.org lives on the org's own RFC 2136 servers: no Route53 record for it.
    assert records == {("example-links.com", "A"), ("example-links.com", "CAA"),
                       ("go.example.com", "CNAME")}
    assert set(run.exports) == {"example-links.com", "go.example.com", "sms.example.org"}
    secrets = run.mocks.of_type("secretsmanager/secret:Secret")
    assert {s["name"] for s in secrets.values()} == {"lsctl-renewer/example/twilio",
                                                     "lsctl-renewer/example/tsig"}
    by_sid = {s["Sid"]: s for s in run.policy("renewal-policy")["Statement"]}
    assert by_sid["OwnState"]["Resource"].endswith(":secret:lsctl/lsctl/example/*")


# A stack file exactly as `pulumi config set` writes it: `lsctl:ttl 600` and
# `lsctl:renewal.enabled false` as strings, `--path` values typed, `lsctl:domains` set as one
# JSON value, a `--secret` as {secure: ...}.
PULUMI_WRITTEN = """\
config:
  aws:region: us-east-1
  lsctl:ttl: "600"
  lsctl:acme:
    agreeTos: true
    propagationTimeout: "300"
    propagationInterval: "0.5"
    renewWhenLifetimeLeft: "0.25"
  lsctl:renewal:
    enabled: "false"
    alarmDays: "14"
  lsctl:dns: '{"provider": "route53"}'
  lsctl:domains: '[{"fqdn": "go.example.com", "zone": "example.com",
    "domainSid": "DNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "caa": "true", "ttl": "120"}]'
  lsctl:twilioAuthToken:
    secure: v1:c2FsdA==:c2VjcmV0
"""
YAML_TYPED = """\
config:
  aws:region: us-east-1
  lsctl:ttl: 600
  lsctl:acme: {agreeTos: true, propagationTimeout: 300, propagationInterval: 0.5,
               renewWhenLifetimeLeft: 0.25}
  lsctl:renewal: {enabled: false, alarmDays: 14}
  lsctl:dns: {provider: route53}
  lsctl:domains:
    - {fqdn: go.example.com, zone: example.com, domainSid: DNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,
       caa: true, ttl: 120}
"""


def test_config_as_pulumi_writes_it_loads_like_yaml_typed(tmp_path: Path) -> None:
    from components.stack_config import load_from_pulumi
    from linkshortening.stack.load import load_stack_file

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    written = tmp_path / "a" / "Pulumi.t.yaml"
    typed = tmp_path / "b" / "Pulumi.t.yaml"
    written.write_text(PULUMI_WRITTEN)
    typed.write_text(YAML_TYPED)
    from_file, expected = load_stack_file(written), load_stack_file(typed)
    assert (from_file.domains, from_file.acme, from_file.renewal) == (
        expected.domains, expected.acme, expected.renewal)
    assert from_file.domains[0].ttl == 120 and from_file.renewal.enabled is False

    # The program gets each top-level value as Pulumi hands it over: text, objects as JSON.
    pulumi.runtime.set_mocks(Mocks(), project="lsctl", stack="t", preview=False)
    config = yaml.safe_load(PULUMI_WRITTEN)["config"]
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()
         if k.startswith("lsctl:") and k != "lsctl:twilioAuthToken"})
    from_program = load_from_pulumi()
    assert (from_program.domains, from_program.acme, from_program.renewal) == (
        expected.domains, expected.acme, expected.renewal)


# --- the S3 state store ---------------------------------------------------------------------

STATE_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def s3_stack(managed: bool = True, key: str | None = STATE_KEY, **renewal: Any) -> dict[str, Any]:
    config = renewal_stack(**renewal)
    state = {"backend": "s3", "location": "s3://lsctl-state-prod/fleet", "managed": managed,
             **({"kmsKeyId": key} if key else {})}
    config["acme"] = {"agreeTos": True, "state": state}
    return config


def test_a_managed_state_bucket_is_private_versioned_and_encrypted() -> None:
    run = run_program(s3_stack())
    [(name, bucket)] = run.mocks.of_type("s3/bucket:Bucket").items()
    assert bucket["bucket"] == "lsctl-state-prod" and bucket["forceDestroy"] is False
    versioning = run.mocks.of_type("s3/bucketVersioning:BucketVersioning")["state-versioning"]
    assert versioning["bucket"] == f"{name}-id"
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    block = run.mocks.of_type("s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[
        "state-public-access"]
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy",
                                          "ignorePublicAcls", "restrictPublicBuckets"))
    [rule] = run.mocks.of_type("BucketServerSideEncryptionConfiguration")[
        "state-encryption"]["rules"]
    assert rule == {"applyServerSideEncryptionByDefault": {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": STATE_KEY}, "bucketKeyEnabled": True}
    [lifecycle] = run.mocks.of_type("BucketLifecycleConfiguration")["state-lifecycle"]["rules"]
    assert lifecycle["status"] == "Enabled" and lifecycle["filter"] == {}
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    [deny] = json.loads(run.mocks.of_type("s3/bucketPolicy:BucketPolicy")["state-policy"][
        "policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}


def test_the_renewer_may_use_exactly_its_prefix_and_key() -> None:
    statements = run_program(s3_stack()).role_statements(ROLE)
    sids = {s["Sid"] for s in statements}
    assert "OwnState" not in sids  # no Secrets Manager state
    objects = "arn:aws:s3:::lsctl-state-prod/fleet/"
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert allows(statements, action, objects + "domains/a.test/key.pem", {})
        assert allows(statements, action, objects + "lock", {})
        assert not allows(statements, action, "arn:aws:s3:::lsctl-state-prod/other/lock", {})
        assert not allows(statements, action, "arn:aws:s3:::lsctl-state-prodx/fleet/lock", {})
    assert not allows(statements, "s3:GetObject", "arn:aws:s3:::lsctl-state-prod/fleet", {})
    bucket = "arn:aws:s3:::lsctl-state-prod"
    assert allows(statements, "s3:ListBucket", bucket, {"s3:prefix": ["fleet/"]})
    assert not allows(statements, "s3:ListBucket", bucket, {"s3:prefix": ["other/"]})
    via_s3 = {"kms:ViaService": ["s3.us-east-1.amazonaws.com"]}
    for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"):
        assert allows(statements, action, STATE_KEY, via_s3)
        assert not allows(statements, action, STATE_KEY,
                          {"kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"]})
        assert not allows(statements, action, STATE_KEY.replace("1234abcd", "9999abcd"), via_s3)


def test_an_unmanaged_bucket_is_not_declared_and_a_key_id_becomes_its_arn() -> None:
    run = run_program(s3_stack(managed=False, key="1234abcd-12ab-34cd-56ef-1234567890ab"))
    assert run.mocks.of_type("s3/bucket:Bucket") == {}
    [key] = [s for s in run.role_statements(ROLE) if s["Sid"] == "StateKeyThroughS3"]
    assert key["Resource"] == STATE_KEY


def test_without_a_key_s3s_own_key_needs_no_kms_grant() -> None:
    run = run_program(s3_stack(key=None))
    assert not any(s["Action"][0].startswith("kms:") for s in run.role_statements(ROLE)
                   if isinstance(s["Action"], list))
    [rule] = run.mocks.of_type("BucketServerSideEncryptionConfiguration")[
        "state-encryption"]["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}


def test_a_managed_bucket_is_declared_for_a_renewer_outside_aws_too() -> None:
    run = run_program(s3_stack(enabled=False))
    assert list(run.mocks.of_type("s3/bucket:Bucket")) == ["state"]
    assert run.mocks.of_type("lambda/function:Function") == {}
