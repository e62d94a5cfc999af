"""The sandbox's real services: Pebble over TLS, BIND 9 with TSIG, moto; and clean shutdown."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import boto3
import dns.message
import dns.query
import dns.rcode
import dns.update
import pytest
import yaml

from linkshortening.dns.query import ask
from linkshortening.dns.rfc2136 import DnsUpdateError, TsigKey, replace_rrset
from sandbox import process
from sandbox.lifecycle import SandboxOptions, SandboxState, down, running, status, up
from sandbox.process import ServiceError
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import ROOT, lsctl_argv, subprocess_env


def test_acme_directory_answers_over_tls_with_the_sandbox_ca(sandbox: SandboxState) -> None:
    context = ssl.create_default_context(cafile=str(sandbox.ca_bundle))
    with urllib.request.urlopen(sandbox.acme_directory, context=context, timeout=5) as resp:
        directory = json.load(resp)
    assert {"newAccount", "newNonce", "newOrder"} <= directory.keys()
    # Verification is really on: without the sandbox CA the handshake is refused.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(sandbox.acme_directory, context=ssl.create_default_context(),
                               timeout=5)
    assert "BEGIN CERTIFICATE" in sandbox.pebble_root.read_text()


def test_tsig_signed_update_is_applied(sandbox: SandboxState) -> None:
    replace_rrset(sandbox.dns, "lsctl.test", "signed.lsctl.test.", "TXT", 60, ('"hello"',),
                  sandbox.tsig_key())
    answer = ask(sandbox.dns, "signed.lsctl.test", "TXT")
    assert answer.values == ('"hello"',) and answer.ttl == 60


def test_unsigned_update_is_refused(sandbox: SandboxState) -> None:
    update = dns.update.UpdateMessage("lsctl.test")
    update.replace("unsigned", 60, "TXT", '"nope"')
    response = dns.query.tcp(update, sandbox.dns.host, port=sandbox.dns.port, timeout=5)
    assert response.rcode() == dns.rcode.REFUSED
    assert ask(sandbox.dns, "unsigned.lsctl.test", "TXT").values == ()


def test_update_with_a_wrong_key_is_refused(sandbox: SandboxState) -> None:
    forged = TsigKey(sandbox.tsig_key_name, "hmac-sha256", "c2VjcmV0LW5vdC10aGUtcmVhbC1vbmU=")
    with pytest.raises(DnsUpdateError, match=r"NOTAUTH|REFUSED|BADSIG|signature"):
        replace_rrset(sandbox.dns, "lsctl.test", "forged.lsctl.test.", "TXT", 60, ('"x"',),
                      forged)
    assert ask(sandbox.dns, "forged.lsctl.test", "TXT").values == ()


def test_route53_call_to_moto(sandbox: SandboxState) -> None:
    client = boto3.client("route53", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    created = client.create_hosted_zone(Name="moto-check.test", CallerReference="t1")
    zone_id = created["HostedZone"]["Id"]
    zones = client.list_hosted_zones()["HostedZones"]
    assert any(z["Id"] == zone_id and z["Name"] == "moto-check.test." for z in zones)
    secrets = boto3.client("secretsmanager", endpoint_url=sandbox.aws_endpoint,
                           region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
    secrets.create_secret(Name="lsctl/check", SecretString="v")
    assert secrets.get_secret_value(SecretId="lsctl/check")["SecretString"] == "v"


def test_logs_are_kept_in_the_state_directory(sandbox: SandboxState) -> None:
    logs = {p.name for p in (sandbox.path / "logs").iterdir()}
    assert {"named.log", "pebble.log", "moto.log"} <= logs
    assert (sandbox.path / "tsig.secret").stat().st_mode & 0o777 == 0o600


def test_after_down_no_process_is_left(tmp_path: Path) -> None:
    with running(tmp_path, SandboxOptions(zones=("other.test",))) as state:
        services = list(state.services)
        assert [name for name, _, alive in status(tmp_path) if alive] == ["named", "pebble",
                                                                         "moto", "twilio"]
    assert services and not any(process.is_running(s) for s in services)
    assert not any(_pid_alive(s.pid) for s in services)
    assert not (tmp_path / "state.json").exists()


def test_second_up_in_the_same_directory_is_refused(tmp_path: Path) -> None:
    state = up(tmp_path, SandboxOptions(zones=("again.test",)))
    try:
        with pytest.raises(ServiceError, match="already running"):
            up(tmp_path, SandboxOptions(zones=("again.test",)))
    finally:
        down(tmp_path)
    assert not any(process.is_running(s) for s in state.services)


def test_cli_up_env_seed_status_down(tmp_path: Path) -> None:
    env = subprocess_env(LSCTL_SANDBOX_DIR=str(tmp_path / "cli"))

    def lsctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(lsctl_argv(*args), capture_output=True, text=True, env=env,
                              cwd=ROOT, check=False, timeout=120)

    none = lsctl("sandbox", "status")
    assert none.returncode == 1 and "no sandbox is running" in none.stdout, none.stderr
    started = lsctl("sandbox", "up", "--stack", "sandbox")
    assert started.returncode == 0, started.stderr
    try:
        exported = lsctl("sandbox", "env").stdout
        assert "export LSCTL_RFC2136_SERVER=127.0.0.1:" in exported
        assert "unset TWILIO_REGION" in exported
        secret = (tmp_path / "cli" / "tsig.secret").read_text().strip()
        assert secret not in exported + started.stdout + started.stderr
        seeded = lsctl("sandbox", "seed", "--stack", "sandbox")
        assert seeded.returncode == 0, seeded.stderr
        assert "lsct.ashburn.us1.twilio.com" in seeded.stdout and "NO" not in seeded.stdout
        assert secret not in seeded.stdout + seeded.stderr
        assert lsctl("sandbox", "status").returncode == 0
        _second_up_reuses_what_fits(tmp_path, lsctl)
    finally:
        state = SandboxState.load(tmp_path / "cli")
        stopped = lsctl("sandbox", "down")
    assert stopped.returncode == 0
    assert 'eval "$(lsctl sandbox env --unset)"' in stopped.stderr  # this shell points at it
    assert not any(process.is_running(s) for s in state.services)
    gone = lsctl("sandbox", "status")
    assert gone.returncode == 1 and "no sandbox is running" in gone.stdout


def _second_up_reuses_what_fits(tmp_path: Path,
                                lsctl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    before = SandboxState.load(tmp_path / "cli")
    again = lsctl("sandbox", "up", "--stack", "sandbox")
    assert again.returncode == 0 and "already running" in again.stderr, again.stderr
    # Another stack in the same zone: reused, its domains made known to the emulator.
    extra = tmp_path / "Pulumi.extra.yaml"
    sid = "DN" + "e" * 32
    extra.write_text(yaml.safe_dump({"config": {
        "lsctl:dns": {"provider": "rfc2136", "tsigKeyName": "lsctl-sandbox"},
        "lsctl:domains": [{"fqdn": "extra.lsctl.test", "zone": "lsctl.test",
                           "domainSid": sid}]}}))
    assert lsctl("sandbox", "up", "--stack", str(extra)).returncode == 0
    after = SandboxState.load(tmp_path / "cli")
    assert [s.pid for s in after.services] == [s.pid for s in before.services]
    control = EmulatorControl(after.twilio_base_url, after.ca_bundle, after.twilio_account_sid,
                              after.twilio_auth_token_file)
    assert control.config()["domains"][sid] == "extra.lsctl.test"
    # A zone it does not serve cannot be added to a running BIND: refused, with the fix.
    extra.write_text(extra.read_text().replace("lsctl.test", "elsewhere.test"))
    refused = lsctl("sandbox", "up", "--stack", str(extra))
    assert refused.returncode == 2 and "elsewhere.test" in refused.stderr
    assert "lsctl sandbox down" in refused.stderr and "Traceback" not in refused.stderr


def test_env_unset_clears_what_env_exported(sandbox: SandboxState, tmp_path: Path) -> None:
    """In a real shell: after `eval` of env then env --unset, none of its variables is left."""
    env = subprocess_env(LSCTL_SANDBOX_DIR=sandbox.directory)
    lsctl = " ".join(lsctl_argv())
    script = (f'eval "$({lsctl} sandbox env)" && env > set.txt && '
              f'eval "$({lsctl} sandbox env --unset)" && env > cleared.txt')
    subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, check=True)
    names = {line.split("=", 1)[0] for line in (tmp_path / "set.txt").read_text().splitlines()}
    exported = {line.split("=", 1)[0].removeprefix("export ") for line in subprocess.run(
        lsctl_argv("sandbox", "env"), env=env, capture_output=True, text=True,
        check=True).stdout.splitlines() if line.startswith("export ")}
    assert exported <= names and "TWILIO_AUTH_TOKEN" in exported
    left = (tmp_path / "cleared.txt").read_text()
    assert not [n for n in exported if f"\n{n}=" in "\n" + left]


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="not installed; run `make setup`"):
        process.start("ghost", ["/nonexistent/ghostd"], tmp_path / "ghost.log")


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
