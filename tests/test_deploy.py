"""deploy/: renewing outside AWS. The systemd units pass `systemd-analyze verify`; the crontab
line runs as cron would run it; the CronJob cannot overlap and takes secrets by reference."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from linkshortening.stack.load import load_stack
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import ROOT, subprocess_env

DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
SECRET_VARIABLES = ("TWILIO_AUTH_TOKEN", "TWILIO_API_SECRET", "LSCTL_TSIG_SECRET")


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and keys (a key may repeat, as LoadCredential does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            current.setdefault(key, []).append(value)
    return sections


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # Installed at /opt/lsctl; here the checkout stands in, whose .venv/bin/lsctl exists.
    for name in ("lsctl-renew@.service", "lsctl-renew@.timer"):
        text = (SYSTEMD / name).read_text().replace("/opt/lsctl", str(ROOT))
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no",
                             str(tmp_path / "lsctl-renew@prod.service"),
                             str(tmp_path / "lsctl-renew@prod.timer")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_systemd_service_runs_renew_once_with_secrets_as_files() -> None:
    service = unit("lsctl-renew@.service")["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"] == ["/opt/lsctl/.venv/bin/lsctl renew --stack %i"]
    assert service["StateDirectory"] == ["lsctl"]  # /var/lib/lsctl for the directory backend
    environment = " ".join(service["Environment"])
    for secret in ("TWILIO_API_SECRET", "LSCTL_TSIG_SECRET"):
        assert f"{secret}_FILE=%d/" in environment  # from LoadCredential, never inline
    assert all(f"{s}=" not in environment for s in SECRET_VARIABLES)
    timer = unit("lsctl-renew@.timer")
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def crontab() -> tuple[dict[str, str], list[str]]:
    lines = [line for line in (DEPLOY / "cron" / "lsctl-renew.crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    env = dict(line.split("=", 1) for line in lines if "=" in line.split()[0])
    return env, [line for line in lines if "=" not in line.split()[0]]


def test_crontab_line_runs_as_cron_runs_it(sandbox: SandboxState, emulator: EmulatorControl,
                                           tmp_path: Path) -> None:
    """The line's command, through /bin/sh as cron runs it, here against the sandbox stack
    (--dry-run: the session's sandbox is shared) with the checkout for /opt/lsctl."""
    emulator.seed({d.domain_sid: d.fqdn for d in load_stack("sandbox").domains})
    env, (entry,) = crontab()
    assert all(f"{s}=" not in "\n".join(f"{k}=" for k in env) for s in SECRET_VARIABLES)
    schedule, command = entry.split(maxsplit=5)[:5], entry.split(maxsplit=5)[5]
    assert schedule == ["23", "5,17", "*", "*", "*"]
    log = tmp_path / "renew.log"
    command = (command.replace("/opt/lsctl", str(ROOT)).replace("/var/log/lsctl/renew-prod.log",
                                                                 str(log))
               .replace("--stack prod", "--stack sandbox --dry-run --json")
               .replace("/tmp/lsctl-renew-prod.lock", str(tmp_path / "lock")))
    sandbox_env = {**sandbox.env(), "TWILIO_AUTH_TOKEN": sandbox.twilio_auth_token_file
                   .read_text().strip()}
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                            env=subprocess_env(**sandbox_env), check=False, timeout=120)
    assert result.returncode == 0, log.read_text() if log.exists() else result.stderr
    # The log the line names holds the run: progress lines (stderr), then the report.
    text = log.read_text()
    report = json.loads(text[text.index("{"):])
    assert report["stack"] == "sandbox" and report["outcomes"]


def cronjob() -> dict[str, Any]:
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "cronjob.yaml").read_text()))
    found: dict[str, Any] = next(d for d in documents if d["kind"] == "CronJob")
    assert {d["kind"] for d in documents} == {"CronJob", "ServiceAccount"}
    return found


def test_kubernetes_cronjob_never_overlaps_and_takes_secrets_by_reference() -> None:
    job = cronjob()
    assert job["apiVersion"] == "batch/v1"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(job["spec"]["schedule"].split()) == 5
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    (container,) = pod["containers"]
    assert container["command"][-3:] == ["renew", "--stack", "prod"]
    assert container["command"][0].endswith("/.venv/bin/lsctl")
    env = {e["name"]: e for e in container["env"]}
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_API_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "lsctl-prod"
    assert not [n for n in env if n in SECRET_VARIABLES]  # secrets only as mounted files
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    secret_dir = str(Path(env["TWILIO_API_SECRET_FILE"]["value"]).parent)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts[secret_dir]]["secret"]["secretName"] == "lsctl-prod"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
