"""The per-account registry: each account's credentials from its reference (environment
prefix, Secrets Manager secret, the Lambda's deployed secret ids), one clear message for each
way a reference is wrong, and the implicit TWILIO_* account of a stack without accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkshortening.stack.model import TwilioAccount
from linkshortening.twilio.accounts import SECRET_IDS_ENV, TwilioAccounts
from linkshortening.twilio.errors import TwilioSetupError

AC, KEY = "AC" + "1" * 32, "SK" + "2" * 32
BRAND = TwilioAccount("brand-a", AC, "TWILIO_BRAND_A", secret_id="lsctl/t/brand-a")
PLAIN = TwilioAccount("plain", "AC" + "3" * 32, "LSCTL_PLAIN")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_BRAND_A_ACCOUNT_SID", "LSCTL_PLAIN_API_KEY", "LSCTL_PLAIN_AUTH_TOKEN",
                 "LSCTL_PLAIN_ACCOUNT_SID", SECRET_IDS_ENV):
        monkeypatch.delenv(name, raising=False)


def test_api_key_from_the_prefix_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSCTL_PLAIN_API_KEY", KEY)
    monkeypatch.setenv("LSCTL_PLAIN_API_SECRET", "s3")
    monkeypatch.setenv("LSCTL_PLAIN_AUTH_TOKEN", "token")
    creds = TwilioAccounts([PLAIN]).credentials("plain")
    assert (creds.account_sid, creds.username, creds.password) == (PLAIN.account_sid, KEY, "s3")


def test_auth_token_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "t").write_text("tok\n")
    monkeypatch.setenv("LSCTL_PLAIN_AUTH_TOKEN_FILE", str(tmp_path / "t"))
    creds = TwilioAccounts([PLAIN]).credentials("plain")
    assert (creds.username, creds.password, creds.kind) == (PLAIN.account_sid, "tok",
                                                           "auth-token")


def test_a_prefix_naming_another_account_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSCTL_PLAIN_ACCOUNT_SID", AC)
    with pytest.raises(TwilioSetupError, match=r"LSCTL_PLAIN_ACCOUNT_SID is AC1+, but "
                       r"lsctl:twilioAccounts\.plain is AC3+"):
        TwilioAccounts([PLAIN]).credentials("plain")


def test_missing_secret_names_the_variable() -> None:
    with pytest.raises(Exception, match="LSCTL_PLAIN_AUTH_TOKEN") as caught:
        TwilioAccounts([PLAIN]).credentials("plain")
    assert "account plain" in str(caught.value)


def test_secrets_manager_secret_by_the_stack_or_the_deployment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def read(secret_id: str) -> str:
        asked.append(secret_id)
        return json.dumps({"account_sid": AC, "api_key": KEY, "api_secret": "x"})

    creds = TwilioAccounts([BRAND], read_secret_string=read).credentials("brand-a")
    assert (creds.username, creds.password) == (KEY, "x")
    monkeypatch.setenv(SECRET_IDS_ENV, json.dumps({"brand-a": "arn:deployed"}))
    TwilioAccounts([BRAND], read_secret_string=read).credentials("brand-a")
    assert asked == ["lsctl/t/brand-a", "arn:deployed"]


@pytest.mark.parametrize(("value", "words"), [
    ("not json", "is not a JSON object of strings"),
    (json.dumps({"account_sid": "AC" + "9" * 32, "auth_token": "t"}), "holds account AC9"),
    (json.dumps({"api_key": KEY}), "neither api_key + api_secret nor auth_token"),
])
def test_bad_secrets_say_what_to_store(value: str, words: str) -> None:
    with pytest.raises(TwilioSetupError) as caught:
        TwilioAccounts([BRAND], read_secret_string=lambda _: value).credentials("brand-a")
    assert words in str(caught.value) and "Fix: store" in str(caught.value)
    assert "\"t\"" not in str(caught.value)  # never the secret itself


def test_no_accounts_is_the_twilio_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", AC)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tok")
    monkeypatch.delenv("TWILIO_API_KEY", raising=False)
    accounts = TwilioAccounts()
    assert accounts.names == ("default",)
    assert accounts.credentials("default").account_sid == AC
    with pytest.raises(TwilioSetupError, match="no Twilio account brand-a"):
        accounts.credentials("brand-a")


def test_one_account_gets_its_own_client_not_a_router(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSCTL_PLAIN_AUTH_TOKEN", "tok")
    accounts = TwilioAccounts([PLAIN])
    api = accounts.for_domains({"DN" + "a" * 32: "plain"}, {"MG" + "b" * 32: "plain"})
    assert api is accounts.api("plain")
    assert type(api).__name__ == "LinkShorteningApi"
