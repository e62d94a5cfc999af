"""lsctl:twilioAccounts: accounts by name, credentials by reference, and one clear message
for each way a stack can get them wrong."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import load_stack_file
from linkshortening.stack.model import DEFAULT_ACCOUNT

AC_A, AC_B, AC_C = ("AC" + c * 32 for c in "abc")
MG = ["MG" + f"{i:032x}" for i in range(6)]
DN = ["DN" + f"{i:032x}" for i in range(6)]

ACCOUNTS = f"""\
  lsctl:twilioAccounts:
    brand-a: {{accountSid: {AC_A}}}
    brand-b: {{accountSid: {AC_B}, envPrefix: LSCTL_B, secretId: lsctl/t/twilio/brand-b}}
    brand-c: {{accountSid: {AC_C}, pulumiSecret: twilioC}}
  lsctl:twilio: {{defaultAccount: brand-a}}
"""


def stack(tmp_path: Path, domains: str, head: str = ACCOUNTS) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text("config:\n" + head + "  lsctl:domains:\n"
                    + textwrap.indent(textwrap.dedent(domains), "    "))
    return path


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    return str(caught.value)


def test_accounts_domains_and_services_resolve(tmp_path: Path) -> None:
    loaded = load_stack_file(stack(tmp_path, f"""\
        - {{fqdn: a.example.com, zone: example.com, domainSid: {DN[0]},
            messagingServiceSids: [{MG[0]}]}}
        - fqdn: b.example.com
          zone: example.com
          domainSid: {DN[1]}
          account: brand-b
          messagingServiceSids: [{MG[1]}, {{sid: {MG[2]}, account: brand-c}},
                                 {{sid: {MG[3]}, account: brand-b}}]
        """))
    a, b = loaded.domains
    assert (a.account, a.account_of(MG[0])) == ("brand-a", "brand-a")
    assert b.account == "brand-b"
    assert [b.account_of(s) for s in MG[1:4]] == ["brand-b", "brand-c", "brand-b"]
    assert b.messaging_service_sids == tuple(MG[1:4])
    accounts = {x.name: x for x in loaded.twilio_accounts}
    assert accounts["brand-a"].env_prefix == "TWILIO_BRAND_A"
    assert accounts["brand-a"].pulumi_secret == "twilioCredentials-brand-a"
    assert (accounts["brand-b"].env_prefix, accounts["brand-b"].secret_id) == \
        ("LSCTL_B", "lsctl/t/twilio/brand-b")
    assert accounts["brand-c"].pulumi_secret == "twilioC"
    assert loaded.account_names == ("brand-a", "brand-b", "brand-c")


def test_a_stack_without_accounts_has_the_one_implicit_account(tmp_path: Path) -> None:
    loaded = load_stack_file(stack(tmp_path, f"""\
        - {{fqdn: a.example.com, zone: example.com, domainSid: {DN[0]},
            messagingServiceSids: [{MG[0]}]}}
        """, head=""))
    assert loaded.twilio_accounts == ()
    assert loaded.account_names == (DEFAULT_ACCOUNT,)
    assert loaded.domains[0].account_of(MG[0]) == DEFAULT_ACCOUNT


def test_one_declared_account_is_the_default(tmp_path: Path) -> None:
    head = f"  lsctl:twilioAccounts:\n    only: {{accountSid: {AC_A}}}\n"
    loaded = load_stack_file(stack(tmp_path, f"""\
        - {{fqdn: a.example.com, zone: example.com, domainSid: {DN[0]}}}
        """, head=head))
    assert loaded.domains[0].account == "only"


def test_pulumi_secret_keys_of_accounts_are_accepted(tmp_path: Path) -> None:
    head = ACCOUNTS + "  lsctl:twilioC: {secure: v1:abc}\n" \
        "  lsctl:twilioCredentials-brand-a: {secure: v1:def}\n"
    load_stack_file(stack(tmp_path, f"""\
        - {{fqdn: a.example.com, zone: example.com, domainSid: {DN[0]}}}
        """, head=head))


@pytest.mark.parametrize(("domains", "key", "words"), [
    (f"- {{fqdn: a.example.com, zone: example.com, domainSid: {DN[0]}, account: brand-z}}",
     "lsctl:domains[0].account", "'brand-z' is not an account of lsctl:twilioAccounts"),
    (f"- {{fqdn: a.example.com, zone: example.com, domainSid: {DN[0]},\n"
     f"    messagingServiceSids: [{{sid: {MG[0]}, account: nope}}]}}",
     "lsctl:domains[0].messagingServiceSids[0].account", "'nope' is not an account"),
])
def test_unknown_account_referenced(tmp_path: Path, domains: str, key: str, words: str) -> None:
    message = refused(stack(tmp_path, domains))
    assert f": {key}: " in message and words in message
    assert "use one of: brand-a, brand-b, brand-c" in message


def test_unknown_default_account(tmp_path: Path) -> None:
    head = ACCOUNTS.replace("defaultAccount: brand-a", "defaultAccount: brand-q")
    message = refused(stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                      f"domainSid: {DN[0]}}}", head=head))
    assert "lsctl:twilio.defaultAccount: 'brand-q' is not an account" in message


def test_account_named_without_any_declared(tmp_path: Path) -> None:
    message = refused(stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                      f"domainSid: {DN[0]}, account: brand-a}}", head=""))
    assert "declares no twilioAccounts" in message and "TWILIO_*" in message


def test_several_accounts_and_no_default_need_an_account(tmp_path: Path) -> None:
    head = ACCOUNTS.replace("  lsctl:twilio: {defaultAccount: brand-a}\n", "")
    message = refused(stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                      f"domainSid: {DN[0]}}}", head=head))
    assert "lsctl:domains[0].account: is required" in message


@pytest.mark.parametrize(("sid", "where"), [
    ("AC" + "a" * 31, "brand-a"), ("ACX" + "a" * 31, "brand-a"), ("SK" + "a" * 32, "brand-a"),
    (AC_A + "\n", "brand-a"),
])
def test_bad_account_sid(tmp_path: Path, sid: str, where: str) -> None:
    head = f"  lsctl:twilioAccounts:\n    {where}: {{accountSid: {sid!r}}}\n"
    head = head.replace("'", '"').replace("\n\"", '\\n"')
    message = refused(stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                      f"domainSid: {DN[0]}}}", head=head))
    assert f"lsctl:twilioAccounts.{where}.accountSid" in message
    assert "AC followed by 32 hex digits" in message or "unprintable" in message


def test_one_account_sid_under_two_names(tmp_path: Path) -> None:
    head = (f"  lsctl:twilioAccounts:\n    x: {{accountSid: {AC_A}}}\n"
            f"    y: {{accountSid: {AC_A}}}\n")
    message = refused(stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                      f"domainSid: {DN[0]}, account: x}}", head=head))
    assert "lsctl:twilioAccounts.y.accountSid" in message and "also the accountSid of x" in message


def test_one_messaging_service_under_two_accounts(tmp_path: Path) -> None:
    message = refused(stack(tmp_path, f"""\
        - {{fqdn: a.example.com, zone: example.com, domainSid: {DN[0]},
            messagingServiceSids: [{MG[0]}]}}
        - {{fqdn: b.example.com, zone: example.com, domainSid: {DN[1]},
            messagingServiceSids: [{{sid: {MG[0]}, account: brand-b}}]}}
        """))
    assert "lsctl:domains[1].messagingServiceSids[0]" in message
    assert "under account brand-b here and under account brand-a at " \
        "domains[0].messagingServiceSids[0]" in message


@pytest.mark.parametrize("body", [
    "  lsctl:twilioAccounts: []\n", "  lsctl:twilioAccounts: {}\n",
    "  lsctl:twilioAccounts:\n    'bad name': {accountSid: " + AC_A + "}\n",
    "  lsctl:twilioAccounts:\n    a: {accountSid: " + AC_A + ", authToken: x}\n",
    "  lsctl:twilioAccounts:\n    a: {accountSid: " + AC_A + ", envPrefix: 'A B'}\n",
])
def test_malformed_accounts_name_the_key(tmp_path: Path, body: str) -> None:
    message = refused(stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                      f"domainSid: {DN[0]}}}", head=body))
    assert "lsctl:twilioAccounts" in message and "Fix:" in message
    assert "\n" not in message
