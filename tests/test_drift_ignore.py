"""lsctl:driftIgnore in the stack: rules that expire, refused without an end, beyond 90 days or
without a reason (one line naming the key and the fix), for a code drift does not know, or for
a domain the stack does not declare."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from drift.ignore import check_codes
from linkshortening.cli.main import main
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import DriftIgnore, Stack
from linkshortening.stack.parse import parse_stack

TODAY = dt.date(2026, 11, 27)
DOMAINS = [{"fqdn": "go.example.com", "zone": "example.com", "domainSid": "DN" + "a" * 32}]


def parse(rules: Any, today: dt.date = TODAY) -> tuple[DriftIgnore, ...]:
    config = {"domains": DOMAINS, "driftIgnore": rules}
    return parse_stack(config, "Pulumi.t.yaml", "t", today=today).drift_ignore


def test_rules_load_with_a_date_as_yaml_writes_it_or_as_text() -> None:
    rules = parse([
        {"domain": "go.example.com", "code": "ttl-differs", "until": dt.date(2026, 12, 31),
         "reason": "CHG-1"},
        {"domain": "example.com", "code": "caa-forbids-letsencrypt", "until": "2027-02-25",
         "reason": "the CA moves in February"},  # exactly 90 days
        {"domain": "*", "code": "challenge-leftover", "until": "2026-11-01", "reason": "old"}])
    assert rules[0] == DriftIgnore("go.example.com", "ttl-differs", dt.date(2026, 12, 31),
                                   "CHG-1")
    assert [r.domain for r in rules] == ["go.example.com", "example.com", "*"]
    assert rules[2].until < TODAY  # expired rules still load: their findings count again


@pytest.mark.parametrize(("rule", "key", "problem", "fix"), [
    ({"domain": "go.example.com", "code": "ttl-differs", "reason": "x"}, "driftIgnore[0].until",
     "is required but missing", "an ignore rule must expire"),
    ({"domain": "go.example.com", "code": "ttl-differs", "until": "2027-02-26", "reason": "x"},
     "driftIgnore[0].until", "2027-02-26 is more than 90 days away", "no later than 2027-02-25"),
    ({"domain": "go.example.com", "code": "ttl-differs", "until": "next week", "reason": "x"},
     "driftIgnore[0].until", "is not an ISO date", "give an ISO date"),
    ({"domain": "go.example.com", "code": "ttl-differs", "until": "2026-12-01"},
     "driftIgnore[0].reason", "is required but missing", "say why"),
    ({"domain": "go.example.com", "code": "ttl-differs", "until": "2026-12-01", "reason": " "},
     "driftIgnore[0].reason", "is empty", "say why"),
    ({"domain": "other.example.net", "code": "ttl-differs", "until": "2026-12-01",
      "reason": "x"}, "driftIgnore[0].domain", "is not a domain or zone of this stack",
     "or * for all"),
    ({"domain": "*", "code": "TTL differs", "until": "2026-12-01", "reason": "x"},
     "driftIgnore[0].code", "is not a finding code", "the codes table"),
    ({"domain": "*", "code": "ttl-differs", "until": "2026-12-01", "reason": "x", "note": 1},
     "driftIgnore[0].note", "is not a known key", "remove it"),
])
def test_a_bad_rule_names_the_key_and_the_fix(rule: dict[str, Any], key: str, problem: str,
                                             fix: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse([rule])
    assert caught.value.key == f"lsctl:{key}"
    assert problem in caught.value.problem and fix in caught.value.fix


def test_the_90_days_count_from_the_day_the_stack_is_loaded() -> None:
    rule = [{"domain": "*", "code": "ttl-differs", "until": "2027-02-25", "reason": "x"}]
    assert parse(rule, TODAY)
    with pytest.raises(ConfigError, match="more than 90 days away"):
        parse(rule, TODAY - dt.timedelta(days=1))


def test_an_unknown_code_is_refused_by_drift_before_probing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)).isoformat()
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text(yaml.safe_dump({"config": {
        "lsctl:domains": DOMAINS,
        "lsctl:driftIgnore": [{"domain": "*", "code": "a-extr-ip", "until": until,
                               "reason": "typo"}]}}))
    assert main(["drift", "--stack", str(stack)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lsctl: {stack}: lsctl:driftIgnore[0].code: 'a-extr-ip' is not a "
                          "finding code of lsctl drift") and "Traceback" not in err
    known = parse([{"domain": "*", "code": "a-extra-ip", "until": "2026-12-01", "reason": "x"}])
    check_codes(Stack("t", "s", (), drift_ignore=known))  # a code drift reports passes
