"""DNS-PERSIST-01 in the Pulumi program (Pulumi's mocks): the declared _validation-persist
records are exactly what `lsctl records` shows, and a stack renewed only by dns-persist-01
gives its renewer no Route53 permission at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from linkshortening.cli.main import main
from linkshortening.stack.persist_record import hashed_account_uri
from tests.test_pulumi_program import (
    ROLE,
    SECRETS_MANAGER,
    SID,
    may_write_txt,
    prebuilt_archive,  # noqa: F401  (the autouse fixture, for this module too)
    route53_stack,
    run_program,
)

URI, THUMB = "https://acme.example/acct/42", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
PREFIX = "https://acme.example/account-hash/"
ACCOUNT: dict[str, Any] = {"accountUri": URI, "accountKeyThumbprint": THUMB,
                           "accountHashPrefix": PREFIX, "issuerDomainNames": ["acme.example"]}


def persist_stack(*, everywhere: bool = True, renew: bool = False) -> dict[str, Any]:
    config = route53_stack(altNames=["*.example.com"], policy="wildcard",
                           persistUntil="2027-12-31T00:00:00Z", challenge="dns-persist-01")
    config["acme"] = {**ACCOUNT, **(SECRETS_MANAGER if renew else {})}
    if everywhere:
        config["domains"][1]["challenge"] = "dns-persist-01"
    if renew:
        config["renewal"] = {}
    return config


def shown_by_lsctl_records(config: dict[str, Any], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text(yaml.safe_dump({"config": {f"lsctl:{k}": v for k, v in config.items()}}))
    assert main(["records", "--stack", str(stack), "--format", "json"]) == 0
    shown: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return shown


def test_declared_records_are_what_lsctl_records_shows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = persist_stack()
    declared = {(r["name"], r["type"], r["ttl"], tuple(r["records"]), r["zoneId"])
                for r in run_program(config).records().values()
                if r["name"].startswith("_validation-persist.")}
    shown = {(r["name"], r["type"], r["ttl"], tuple(r["values"]))
             for r in shown_by_lsctl_records(config, tmp_path, capsys)
             if r["purpose"] == "persist"}
    assert {d[:4] for d in declared} == shown
    assert {d[4] for d in declared} == {"ZEXAMPLECOM", "ZORG"}
    # The wire format of draft -02: the hashed account URI, bound to the name it sits at.
    uri = hashed_account_uri(PREFIX, "example.com", THUMB, URI)
    assert ("_validation-persist.example.com", "TXT", 300,
            (f"acme.example; accounturi={uri}; policy=wildcard; persistUntil=1830211200",)
            ) in shown
    org = next(s for s in shown if s[0] == "_validation-persist.go.example.org")
    assert "policy=" not in org[3][0]  # no wildcard there: the record authorizes no more


def test_records_need_the_account_first() -> None:
    config = persist_stack()
    del config["acme"]["accountKeyThumbprint"]
    with pytest.raises(pulumi.RunError, match=r"lsctl:acme\.accountKeyThumbprint: is not set"
                                              r".*lsctl acme account show"):
        run_program(config)


def test_no_route53_write_when_every_domain_persists() -> None:
    statements = run_program(persist_stack(renew=True)).role_statements(ROLE)
    actions = {a for s in statements
               for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert not {a for a in actions if a.startswith("route53:")}, actions
    assert {s["Sid"] for s in statements} == {"OwnState", "OwnCredentials", "OwnLogs",
                                              "ExpiryMetric"}


def test_only_dns01_domains_keep_their_challenge_names() -> None:
    statements = run_program(persist_stack(everywhere=False, renew=True)).role_statements(ROLE)
    assert may_write_txt(statements, "ZORG", "_acme-challenge.go.example.org")
    assert not may_write_txt(statements, "ZEXAMPLECOM", "_acme-challenge.example.com")
    assert {s["Sid"] for s in statements} >= {"WaitForChanges", "ChallengeRecordsOnly"}
    assert SID  # the persist domain keeps its Twilio-side resources (other tests)
