"""The DNS-PERSIST-01 record (draft-ietf-acme-dns-persist-02) on plain data: the hashed
account URI against the draft's example, the issue-value both ways, the stack keys with
their rules, the challenge as a typed `acme` message, and drift's persist check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from acme import messages
from josepy.jwk import JWKEC

from acme_renewer.persist import DNSPersist01, DNSPersist01Response, PersistMeta, thumbprint
from drift.checks import judge_domain
from drift.persist import Declared, KeyOnFile
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.parse import parse_stack
from linkshortening.stack.persist_record import (
    IssueValue,
    PersistAccount,
    accepts,
    hashed_account_uri,
    parse_issue_value,
    persist_account,
    persist_records,
)
from linkshortening.stack.targets import CNAME_TARGET, TwilioTargets
from tests.test_drift_checks import NOW, NS1, NS2, SID, facts, server

# Draft -02 section 10.2's example: this thumbprint and account URL, at example.com.
THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
URL, PREFIX = "https://ca.example/acct/123", "https://ca.example/account-hash/"
ACCOUNT = PersistAccount(URL, THUMB, PREFIX, ("authority.example",))


def test_hashed_account_uri_is_the_drafts_example() -> None:
    assert hashed_account_uri(PREFIX, "example.com", THUMB, URL) == \
        PREFIX + "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw"
    # The cross-domain form the draft allows ("*" for the domain): another value.
    assert hashed_account_uri(PREFIX, "*", THUMB, URL).endswith(
        "NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug")


def test_issue_value_both_ways() -> None:
    value = IssueValue("authority.example", PREFIX + "sha-256/x", True, 1767225600)
    text = value.text()
    assert text == (f"authority.example; accounturi={PREFIX}sha-256/x; policy=wildcard; "
                    "persistUntil=1767225600")
    assert parse_issue_value(text) == value
    # Tags are case-insensitive, white space around parts is not significant, unknown
    # parameters are ignored, any policy but wildcard is none (section 4).
    assert parse_issue_value(" authority.example;AccountURI=u ; Policy=WILDCARD;future=1") == \
        IssueValue("authority.example", "u", True)
    assert parse_issue_value("authority.example; accounturi=u; policy=other").wildcard is False
    for bad in ("authority.example", "; accounturi=u", "a.example; accounturi=u; x",
                "a.example; accounturi=u; accounturi=v", "a.example; persistUntil=tomorrow;"
                " accounturi=u"):
        with pytest.raises(ValueError):
            parse_issue_value(bad)


def test_what_a_ca_accepts() -> None:
    uri, issuers = "u", ("authority.example",)
    plain = IssueValue("authority.example", uri)
    assert accepts(plain, issuers, uri, wildcard=False, now=0)
    assert not accepts(plain, issuers, uri, wildcard=True, now=0)  # a wildcard needs policy
    assert not accepts(plain, ("other.example",), uri, wildcard=False, now=0)
    assert not accepts(plain, issuers, "v", wildcard=False, now=0)
    ending = dataclasses.replace(plain, persist_until=100)
    assert accepts(ending, issuers, uri, False, now=99)
    assert not accepts(ending, issuers, uri, False, now=100)


def stack(domain: dict[str, Any], **acme: Any) -> Any:
    base = {"fqdn": "go.example.com", "zone": "example.com", "domainSid": SID}
    return parse_stack({"acme": acme, "domains": [{**base, **domain}]}, "stack.yaml", "t")


PERSIST = {"challenge": "dns-persist-01"}
ACME = {"accountUri": URL, "accountKeyThumbprint": THUMB, "accountHashPrefix": PREFIX}


def test_records_per_base_name_with_policy_only_where_a_wildcard_needs_it() -> None:
    spec = stack({**PERSIST, "altNames": ["*.go.example.com", "www.example.com"],
                  "policy": "wildcard"}).domains[0]
    records = persist_records(spec, ACCOUNT)
    assert [(r.name, r.base, [v.wildcard for v in r.values]) for r in records] == [
        ("_validation-persist.go.example.com", "go.example.com", [True]),
        ("_validation-persist.www.example.com", "www.example.com", [False])]
    # Each record's hash is bound to its own name: no value can be copied across names.
    assert records[0].values[0].accounturi == hashed_account_uri(
        PREFIX, "go.example.com", THUMB, URL)
    assert records[0].values[0].accounturi != records[1].values[0].accounturi
    assert persist_records(stack({}).domains[0], ACCOUNT) == ()  # dns-01: none


@pytest.mark.parametrize(("domain", "acme", "message"), [
    ({**PERSIST, "altNames": ["*.go.example.com"]}, {},
     r"domains\[0\]\.policy: is missing, and altNames hold \*\.go\.example\.com"),
    ({**PERSIST, "policy": "wildcard"}, {}, r"policy: wildcard authorizes every subdomain"),
    ({"policy": "wildcard", "altNames": ["*.go.example.com"]}, {},
     r"policy: applies to dns-persist-01 only"),
    ({**PERSIST, "certificate": "managed"}, {}, r"challenge: dns-persist-01 is for"),
    ({**PERSIST, "persistUntil": "soon"}, {}, r"persistUntil: 'soon' is not a time"),
    ({"challenge": "http-01"}, {}, r"challenge: 'http-01' is not one of"),
    ({}, {"accountKeyThumbprint": "short"}, r"accountKeyThumbprint: .* 43-character"),
    ({}, {"accountHashPrefix": "https://x/; policy=wildcard"}, r"accountHashPrefix"),
    ({}, {"issuerDomainNames": ["CA.Example."]}, r"issuerDomainNames\[0\]"),
])
def test_bad_persist_keys_name_the_key_and_the_fix(domain: dict[str, Any], acme: dict[str, Any],
                                                   message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        stack(domain, **acme)


def test_stack_wide_defaults_and_persist_until() -> None:
    parsed = stack({"persistUntil": "2027-06-30"}, challenge="dns-persist-01",
                   persistUntil="2028-01-01T00:00:00Z")
    spec = parsed.domains[0]
    assert spec.challenge == "dns-persist-01"
    assert spec.persist_until == int(dt.datetime(2027, 6, 30, tzinfo=dt.UTC).timestamp())
    assert stack({}, challenge="dns-persist-01",
                 persistUntil=dt.date(2028, 1, 1)).domains[0].persist_until == 1830297600
    assert stack({"challenge": "dns-01"}, challenge="dns-persist-01").domains[0].challenge == \
        "dns-01"


def test_issuer_names_default_to_lets_encrypts_only_for_its_directories() -> None:
    assert persist_account(stack(PERSIST, **ACME)).issuer_domain_names == ("letsencrypt.org",)
    with pytest.raises(ConfigError, match=r"lsctl:acme\.issuerDomainNames: is not set"):
        persist_account(stack(PERSIST, directory="https://ca.example/dir", **ACME))
    with pytest.raises(ConfigError, match=r"lsctl:acme\.accountUri: is not set.*account show"):
        persist_account(stack(PERSIST))


def test_the_challenge_is_a_typed_acme_message() -> None:
    body = messages.ChallengeBody.from_json({
        "type": "dns-persist-01", "url": "https://ca.example/chal/1", "status": "pending",
        "issuerDomainNames": ["authority.example", "ca.example.net"]})
    assert isinstance(body.chall, DNSPersist01)
    assert body.chall.issuer_domain_names == ("authority.example", "ca.example.net")
    response = body.chall.response()
    assert isinstance(response, DNSPersist01Response)
    # RFC 8555: the answer is "{}" (a falsy message would be sent as a POST-as-GET).
    assert response.json_dumps() == "{}" and bool(response)
    meta = PersistMeta.from_json({"issuerDomainNames": ["a.example"],
                                  "accountHashPrefix": PREFIX, "profiles": {}})
    assert (meta.issuer_domain_names, meta.account_hash_prefix) == (("a.example",), PREFIX)


def test_thumbprint_is_rfc7638_base64url() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    assert len(thumbprint(key)) == 43 and thumbprint(key) == thumbprint(key.public_key())


# --- drift ---------------------------------------------------------------------------------


def drift_findings(served: dict[str, tuple[str, ...]], *, until: int | None = None,
                   on_file: KeyOnFile | None = None) -> list[tuple[str, str, str]]:
    spec = stack({**PERSIST, "altNames": ["*.go.example.com"], "policy": "wildcard",
                  **({"persistUntil": dt.datetime.fromtimestamp(until, dt.UTC).isoformat()}
                     if until else {})}).domains[0]
    declared = Declared({spec.fqdn: persist_records(spec, ACCOUNT)}, THUMB, on_file)
    answers = dataclasses.replace(server(NS1, cname=CNAME_TARGET), persist=tuple(served.items()))
    found = judge_domain(facts(spec, answers), TwilioTargets(), NOW, declared)
    return [(f.code, f.severity, f.where) for f in found]


NAME = "_validation-persist.go.example.com"


def declared_text(**changes: Any) -> str:
    value = dataclasses.replace(IssueValue("authority.example", hashed_account_uri(
        PREFIX, "go.example.com", THUMB, URL), True), **changes)
    return json.dumps(value.text())


def test_drift_clean_when_every_nameserver_serves_the_record() -> None:
    other_ca = json.dumps("other.example; accounturi=https://other.example/a/1")
    assert drift_findings({NAME: (declared_text(), other_ca)}) == []


@pytest.mark.parametrize(("served", "code"), [
    ((), "persist-missing"),
    ((json.dumps("other.example; accounturi=x"),), "persist-missing"),
    ((declared_text(accounturi=PREFIX + "sha-256/" + "A" * 43),), "persist-account-differs"),
    ((declared_text(wildcard=False),), "persist-policy-differs"),
    ((declared_text(persist_until=1),), "persist-until-differs"),
])
def test_drift_finds_each_difference(served: tuple[str, ...], code: str) -> None:
    assert drift_findings({NAME: served}) == [(code, "error", f"nameserver {NS1}")]


def test_drift_asks_every_nameserver() -> None:
    # The first server is right, the second lacks the record.
    spec = stack({**PERSIST, "altNames": ["*.go.example.com"], "policy": "wildcard"}).domains[0]
    declared = Declared({spec.fqdn: persist_records(spec, ACCOUNT)}, THUMB)
    good = dataclasses.replace(server(NS1, cname=CNAME_TARGET),
                               persist=((NAME, (declared_text(),)),))
    bare = dataclasses.replace(server(NS2, cname=CNAME_TARGET), persist=((NAME, ()),))
    found = judge_domain(facts(spec, good, bare), TwilioTargets(), NOW, declared)
    assert [(f.code, f.where) for f in found] == [("persist-missing", f"nameserver {NS2}")]


def test_persist_until_within_the_warning_window() -> None:
    soon = int((NOW + dt.timedelta(days=20)).timestamp())
    text = declared_text(persist_until=soon)
    assert drift_findings({NAME: (text,)}, until=soon) == [
        ("persist-until-soon", "warning", "stack")]
    gone = int((NOW - dt.timedelta(days=1)).timestamp())
    assert drift_findings({NAME: (declared_text(persist_until=gone),)}, until=gone) == [
        ("persist-until-soon", "error", "stack")]


def test_a_rollover_not_yet_republished_is_a_warning() -> None:
    rolled = KeyOnFile("B" * 43, ((THUMB, "2026-11-20T10:00:00+00:00"),))
    assert drift_findings({NAME: (declared_text(),)}, on_file=rolled) == [
        ("persist-key-rolled-over", "warning", "renewer state")]
    assert drift_findings({NAME: (declared_text(),)}, on_file=KeyOnFile(THUMB)) == []
