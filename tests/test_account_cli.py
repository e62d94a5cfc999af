"""`lsctl acme account show|create|rollover|deactivate` against Pebble (key change and
deactivation are RFC 8555's, which Pebble 2.4 implements)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from josepy.jwk import JWK

from acme_renewer.account import open_session
from acme_renewer.persist import thumbprint
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.cli.main import main
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import AcmeSettings
from sandbox.lifecycle import SandboxState

THUMB = "A" * 43


def account_stack(tmp_path: Path, *, agree: bool = True, persist: bool = False,
                  thumb: str | None = None) -> Path:
    extra = ""
    if persist:
        extra = (f"    challenge: dns-persist-01\n"
                 f"    accountUri: https://ca.invalid/acct/1\n"
                 f"    accountKeyThumbprint: {thumb or THUMB}\n"
                 f"    accountHashPrefix: https://ca.invalid/account-hash/\n"
                 f"    issuerDomainNames: [ca.invalid]\n")
    path = tmp_path / "Pulumi.acct.yaml"
    path.write_text(
        "config:\n"
        "  lsctl:acme:\n"
        f"    agreeTos: {str(agree).lower()}\n"
        f"    state: {{backend: directory, location: {tmp_path / 'state'}}}\n"
        + extra
        + "  lsctl:dns: {provider: rfc2136, tsigKeyName: lsctl-sandbox}\n"
        "  lsctl:domains:\n"
        f"    - {{fqdn: a{uuid.uuid4().hex[:6]}.lsctl.test, zone: lsctl.test, "
        f"domainSid: DN{'0' * 32}}}\n")
    return path


def lsctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["acme", "account", *args])
    out, err = capsys.readouterr()
    return code, out, err


def stored_key(tmp_path: Path, sandbox: SandboxState) -> JWK:
    stored = RenewerState(DirectoryBackend(tmp_path / "state")).account(sandbox.acme_directory)
    assert stored is not None
    return JWK.load(stored.key_pem)


def test_create_show_then_create_again_is_a_no_op(sandbox_env: SandboxState, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    stack = str(account_stack(tmp_path))
    code, _, err = lsctl(capsys, "show", "--stack", stack)
    assert code == 1 and "lsctl acme account create" in err
    code, out, _ = lsctl(capsys, "create", "--stack", stack)
    assert code == 0
    url = out.split("registered ", 1)[1].split(" ", 1)[0]
    assert url.startswith("https://127.0.0.1:")
    # The exact stack commands the persist records need, with this account's values.
    thumb = thumbprint(stored_key(tmp_path, sandbox_env))
    assert f"--path lsctl:acme.accountUri '{url}'" in out
    assert f"--path lsctl:acme.accountKeyThumbprint '{thumb}'" in out
    code, out, _ = lsctl(capsys, "show", "--stack", stack)
    assert code == 0 and f"account URL:         {url}" in out
    assert "status at the CA:    valid" in out and thumb in out
    code, out, _ = lsctl(capsys, "create", "--stack", stack)
    assert code == 0 and f"already stored for {sandbox_env.acme_directory}: {url}" in out


def test_create_needs_the_terms_agreed(sandbox_env: SandboxState, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = lsctl(capsys, "create", "--stack", str(account_stack(tmp_path, agree=False)))
    assert code == 2 and "lsctl:acme.agreeTos" in err and "Traceback" not in err


def test_rollover_changes_the_key_at_the_ca(sandbox_env: SandboxState, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    stack = str(account_stack(tmp_path))
    assert lsctl(capsys, "create", "--stack", stack)[0] == 0
    old = stored_key(tmp_path, sandbox_env)
    code, out, err = lsctl(capsys, "rollover", "--stack", stack)
    assert code == 0, err
    new = stored_key(tmp_path, sandbox_env)
    assert thumbprint(new) != thumbprint(old)
    assert f"rolled over from:  {thumbprint(old)}" in out
    assert "warning" not in err  # no domain uses dns-persist-01: nothing to republish
    state = RenewerState(DirectoryBackend(tmp_path / "state"))
    assert state.pending_account_key(sandbox_env.acme_directory) is None
    # The CA now answers to the new key: a session with it works, the old one is refused.
    code, out, _ = lsctl(capsys, "show", "--stack", stack)
    assert code == 0 and "status at the CA:    valid" in out
    settings = AcmeSettings(agree_tos=True)
    session = open_session(settings, state, "stack")
    assert thumbprint(session.account.key) == thumbprint(new)


def test_rollover_warns_and_asks_when_records_are_bound_to_the_key(
        sandbox_env: SandboxState, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    stack = str(account_stack(tmp_path, persist=True))
    assert lsctl(capsys, "create", "--stack", stack)[0] == 0
    old = thumbprint(stored_key(tmp_path, sandbox_env))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = lsctl(capsys, "rollover", "--stack", stack)
    assert code == 1 and "bound to the account key" in err and "--yes" in err
    assert thumbprint(stored_key(tmp_path, sandbox_env)) == old  # nothing changed
    code, out, err = lsctl(capsys, "rollover", "--stack", stack, "--yes")
    assert code == 0 and "pulumi up" in err
    new = thumbprint(stored_key(tmp_path, sandbox_env))
    assert new != old and f"lsctl:acme.accountKeyThumbprint '{new}'" in out


def test_deactivate_asks_then_marks_the_state(sandbox_env: SandboxState, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    stack = str(account_stack(tmp_path))
    assert lsctl(capsys, "create", "--stack", stack)[0] == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert lsctl(capsys, "deactivate", "--stack", stack)[0] == 1
    code, out, _ = lsctl(capsys, "deactivate", "--stack", stack, "--yes")
    assert code == 0 and "deactivated" in out
    state = RenewerState(DirectoryBackend(tmp_path / "state"))
    stored = state.account(sandbox_env.acme_directory)
    assert stored is not None and stored.deactivated
    # The CA refuses the account now (asked with the key, not lsctl's flag).
    from dataclasses import replace

    state.save_account(replace(stored, deactivated=False))
    code, out, _ = lsctl(capsys, "show", "--stack", stack)
    assert code == 0 and "refused by the CA" in out
    state.save_account(stored)
    # The renewer never uses a deactivated account, and says how to get another.
    with pytest.raises(ConfigError, match=r"deactivated.*lsctl acme account create"):
        open_session(AcmeSettings(agree_tos=True), state, "stack")
    code, out, _ = lsctl(capsys, "create", "--stack", stack)
    assert code == 0 and "registered" in out


def test_a_refused_rollover_keeps_the_old_key(sandbox_env: SandboxState, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The new key is stored only once the CA accepted it: here the CA refuses a key that
    another account already has (RFC 8555 7.3.5: 409 Conflict)."""
    from acme_renewer import account_cli

    stack = str(account_stack(tmp_path))
    assert lsctl(capsys, "create", "--stack", stack)[0] == 0
    before = thumbprint(stored_key(tmp_path, sandbox_env))
    other = RenewerState(DirectoryBackend(tmp_path / "other"))
    open_session(AcmeSettings(agree_tos=True), other, "stack")
    taken = other.account(sandbox_env.acme_directory)
    assert taken is not None
    monkeypatch.setattr(account_cli, "_new_key",
                        lambda: (taken.key_pem, JWK.load(taken.key_pem)))
    code, _, err = lsctl(capsys, "rollover", "--stack", stack)
    assert code == 2 and "lsctl:" in err and "Traceback" not in err
    assert thumbprint(stored_key(tmp_path, sandbox_env)) == before
    state = RenewerState(DirectoryBackend(tmp_path / "state"))
    assert state.pending_account_key(sandbox_env.acme_directory) is None
    assert lsctl(capsys, "show", "--stack", stack)[1].count("status at the CA:    valid") == 1


def test_a_rollover_killed_after_the_ca_switched_is_finished(
        sandbox_env: SandboxState, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from acme_renewer import account_cli

    stack = str(account_stack(tmp_path))
    assert lsctl(capsys, "create", "--stack", stack)[0] == 0
    state = RenewerState(DirectoryBackend(tmp_path / "state"))
    stored = state.account(sandbox_env.acme_directory)
    assert stored is not None
    pem, key = account_cli._new_key()
    # What a run killed between the CA's answer and the state write leaves behind.
    state.save_pending_account_key(stored.directory, pem)
    open_session(AcmeSettings(agree_tos=True), state, "stack").client().change_key(key)
    code, out, err = lsctl(capsys, "rollover", "--stack", stack)
    assert code == 0 and "interrupted rollover had gone through" in err
    # The recovered key was used for the next rollover, which the CA accepted.
    assert f"rolled over from:  {thumbprint(key)}" in out
    assert state.pending_account_key(stored.directory) is None
