"""`lsctl records`: every record lsctl manages, whole, in every format; zone and nsupdate
output read by BIND's own tools (named-checkzone, nsupdate against a real named)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from linkshortening.dns.query import ask
from linkshortening.dns.rfc2136 import Endpoint, TsigKey
from linkshortening.stack.managed_records import managed_records
from linkshortening.stack.parse import parse_stack
from sandbox import bind, process
from tests.conftest import ROOT, lsctl_argv, subprocess_env
from tests.test_pulumi_program import route53_stack, run_program

VERIFICATION = "twilio-domain-verification=" + "0f" * 16
TARGET = "lsct.ashburn.us1.twilio.com"
ZONE = "records.test"


def stack_file(tmp_path: Path, zone: str = ZONE, **top: Any) -> Path:
    """A stack with a root domain (CAA) and a subdomain (verification TXT) in `zone`, and a
    subdomain in another zone; `top` adds stack-wide keys."""
    config: dict[str, Any] = {"lsctl:acme": {"agreeTos": True}}
    config.update({f"lsctl:{k}": v for k, v in top.items()})
    config["lsctl:dns"] = {"provider": "rfc2136", "tsigKeyName": "k"}
    config["lsctl:domains"] = [
        {"fqdn": zone, "zone": zone, "domainSid": "DN" + "1" * 32, "caa": True},
        {"fqdn": f"go.{zone}", "zone": zone, "domainSid": "DN" + "2" * 32, "ttl": 3600,
         "verificationTxt": VERIFICATION},
        {"fqdn": "sms.other.test", "zone": "other.test", "domainSid": "DN" + "3" * 32}]
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def records(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(lsctl_argv("records", *args), capture_output=True, text=True,
                          cwd=ROOT, env=env or subprocess_env(COLUMNS="80"), check=False)


def on_terminal(columns: int, *args: str) -> str:
    """`lsctl records` run on a terminal `columns` wide, as a person sees it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in subprocess_env(TERM="xterm", NO_COLOR="1").items()
           if k not in ("COLUMNS", "LINES")}
    with subprocess.Popen(lsctl_argv("records", *args), stdout=follower, stderr=follower,
                          cwd=ROOT, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the command exits
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait() == 0
    os.close(leader)
    return re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode())  # styles, not text


# --- what is managed ----------------------------------------------------------------------


def test_every_managed_record_in_a_pipe(tmp_path: Path) -> None:
    result = records("--stack", str(stack_file(tmp_path)))
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert {f"{ZONE}. 300 IN A 3.233.108.250", f"{ZONE}. 300 IN A 54.157.2.211",
            f'{ZONE}. 300 IN CAA 0 issue "letsencrypt.org"',
            f'{ZONE}. 300 IN CAA 0 issuewild "letsencrypt.org"',
            f"go.{ZONE}. 3600 IN CNAME {TARGET}.",
            f'_twilio.go.{ZONE}. 3600 IN TXT "{VERIFICATION}"',
            f"sms.other.test. 300 IN CNAME {TARGET}."} <= lines
    assert "…" not in result.stdout


def test_a_domain_alone_still_gets_its_zones_caa(tmp_path: Path) -> None:
    result = records("--stack", str(stack_file(tmp_path)), "--domain", f"go.{ZONE}",
                     "--format", "json")
    got = {(r["name"], r["type"], r["purpose"]) for r in json.loads(result.stdout)}
    assert got == {(f"go.{ZONE}", "CNAME", "target"),
                   (f"_twilio.go.{ZONE}", "TXT", "verification"), (ZONE, "CAA", "caa")}


def test_managed_records_are_what_pulumi_up_declares() -> None:
    """In Route53 zones `pulumi up` creates exactly the records `lsctl records` lists."""
    config = route53_stack(caa=True, verificationTxt=VERIFICATION, ttl=600)
    declared = {(r["name"], r["type"], r["ttl"], tuple(sorted(r["records"])))
                for r in run_program(config).records().values()}
    stack = parse_stack(config, "test", "t")
    listed = {(r.name, r.type, r.ttl, tuple(sorted(r.values))) for r in managed_records(stack)}
    assert listed == declared


# --- never cut ----------------------------------------------------------------------------


def test_table_in_a_pipe_keeps_every_value_whole(tmp_path: Path) -> None:
    result = records("--stack", str(stack_file(tmp_path, "a-rather-long-zone-name.test")),
                     "--format", "table")
    assert result.returncode == 0, result.stderr
    for value in (TARGET, VERIFICATION, "_twilio.go.a-rather-long-zone-name.test",
                  '0 issuewild "letsencrypt.org"'):
        assert value in result.stdout
    assert "…" not in result.stdout


def values_column(shown: str) -> str:
    return "".join(line.split("│")[4].strip() for line in shown.splitlines()
                   if line.count("│") == 5)


def test_table_on_an_80_column_terminal_keeps_the_target_on_one_line(tmp_path: Path) -> None:
    shown = on_terminal(80, "--domain", f"go.{ZONE}", "--domain", "sms.other.test",
                        "--stack", str(stack_file(tmp_path)))
    assert "┏" in shown and "…" not in shown  # the table, on a terminal, nothing cut
    assert TARGET in shown and max(len(line) for line in shown.splitlines()) <= 80
    assert VERIFICATION in values_column(shown)  # too long for 80 columns: folded, kept


def test_table_on_a_narrow_terminal_folds_instead_of_cutting(tmp_path: Path) -> None:
    shown = on_terminal(40, "--stack", str(stack_file(tmp_path)))
    assert "…" not in shown and max(len(line) for line in shown.splitlines()) <= 40
    column = values_column(shown)
    assert TARGET in column and VERIFICATION in column  # folded, every character kept


# --- formats and --output -----------------------------------------------------------------


def test_json_alias_and_format_json_agree(tmp_path: Path) -> None:
    stack = str(stack_file(tmp_path))
    alias, explicit = records("--stack", stack, "--json"), records("--stack", stack,
                                                                    "--format", "json")
    assert alias.stdout == explicit.stdout
    first = json.loads(alias.stdout)[0]
    assert first == {"domain": ZONE, "zone": ZONE, "name": ZONE, "type": "A", "ttl": 300,
                     "values": ["3.233.108.250", "3.233.187.46", "54.157.2.211"],
                     "purpose": "target"}


def test_json_is_byte_for_byte_what_asdict_gave(tmp_path: Path) -> None:
    """render_json builds shallow dicts for speed; the text must stay what dataclasses.asdict
    produced (field order, tuples as lists, indentation)."""
    from dataclasses import asdict

    from linkshortening.cli.record_formats import render_json
    from linkshortening.stack.load import load_stack_file
    found = managed_records(load_stack_file(stack_file(tmp_path)))
    assert len({r.type for r in found}) > 1
    assert render_json(found) == json.dumps([asdict(r) for r in found], indent=2) + "\n"


def test_output_files_take_the_format_of_their_extension(tmp_path: Path) -> None:
    stack = str(stack_file(tmp_path))
    result = records("--stack", stack, "--output", str(tmp_path / "r.zone"),
                     "--output", str(tmp_path / "r.json"),
                     "--format", "nsupdate", "--output", str(tmp_path / "r.txt"))
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert f"go.{ZONE}. 3600 IN CNAME {TARGET}." in (tmp_path / "r.zone").read_text()
    assert json.loads((tmp_path / "r.json").read_text())[0]["type"] == "A"
    assert "update add" in (tmp_path / "r.txt").read_text()


def test_output_with_an_unknown_extension_is_a_usage_error(tmp_path: Path) -> None:
    result = records("--stack", str(stack_file(tmp_path)), "--output",
                     str(tmp_path / "records.out"))
    assert result.returncode == 2
    assert result.stderr.startswith("lsctl: --output ") and "--format" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "records.out").exists()


def test_zone_lines_pass_named_checkzone(tmp_path: Path) -> None:
    zone_lines = records("--stack", str(stack_file(tmp_path)), "--domain", ZONE, "--domain",
                         f"go.{ZONE}", "--format", "zone").stdout
    assert f"go.{ZONE}. 3600 IN CNAME {TARGET}." in zone_lines
    zone_file = tmp_path / "records.test.db"
    zone_file.write_text(bind.zone_file(ZONE) + zone_lines)
    checked = subprocess.run(["named-checkzone", ZONE, str(zone_file)], capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Endpoint, TsigKey, Path]]:
    """A BIND 9 of its own serving records.test: the test rewrites its apex."""
    directory = tmp_path_factory.mktemp("named")
    key = bind.new_tsig_key()
    port = process.free_port()
    conf = bind.write_config(directory, (ZONE,), key, port)
    _, started = process.start("named", bind.argv(conf), directory / "named.log")
    try:
        process.wait_until(lambda: bind.serves(port, ZONE), 30, "named",
                           alive=lambda: process.is_running(started))
        key_file = directory / "tsig.key"
        key_file.write_text(f'key "{key.name}" {{ algorithm {key.algorithm}; '
                            f'secret "{key.secret}"; }};\n')
        yield Endpoint("127.0.0.1", port), key, key_file
    finally:
        process.stop(started)


def test_nsupdate_script_applied_by_nsupdate(named: tuple[Endpoint, TsigKey, Path],
                                             tmp_path: Path) -> None:
    server, _, key_file = named
    stack = str(stack_file(tmp_path, allowedIps=["192.0.2.1"]))
    script = records("--stack", stack, "--domain", ZONE, "--domain", f"go.{ZONE}",
                     "--format", "nsupdate").stdout
    # Twice: the second run replaces each set (delete, then add) instead of adding to it.
    for _ in range(2):
        applied = subprocess.run(["nsupdate", "-k", str(key_file)], text=True,
                                 input=f"server {server.host} {server.port}\n{script}",
                                 capture_output=True, check=False)
        assert applied.returncode == 0, applied.stderr
    answers = {(t, name): ask(server, name, t) for t, name in
               (("A", ZONE), ("CAA", ZONE), ("CNAME", f"go.{ZONE}"),
                ("TXT", f"_twilio.go.{ZONE}"))}
    assert answers["A", ZONE].values == ("192.0.2.1",)
    assert answers["CAA", ZONE].values == ('0 issue "letsencrypt.org"',
                                           '0 issuewild "letsencrypt.org"')
    assert (answers["CNAME", f"go.{ZONE}"].values, answers["CNAME", f"go.{ZONE}"].ttl) == (
        (TARGET,), 3600)
    assert answers["TXT", f"_twilio.go.{ZONE}"].values == (f'"{VERIFICATION}"',)


@pytest.mark.parametrize(("acme", "certificate", "warned"), [
    ("", "acme", True),
    ("  lsctl:acme: {agreeTos: true}\n", "acme", False),
    ("", "managed", False),
])
def test_records_warns_when_renew_would_refuse_the_terms(tmp_path: Path, acme: str,
                                                         certificate: str, warned: bool) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text("config:\n" + acme + "  lsctl:domains:\n"
                     "    - {fqdn: go.example.com, zone: example.com, certificate: " + certificate
                     + ", domainSid: DNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n")
    result = subprocess.run(lsctl_argv("records", "--stack", str(stack)), capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0 and "go.example.com." in result.stdout  # the pipe stays clean
    assert ("agreeTos is not true" in result.stderr) is warned


def test_the_profile_its_lifetime_and_the_renewal_rule_are_shown(tmp_path: Path) -> None:
    # Issue 17: per stack, which certificates lsctl renews, their lifetime, when they fall
    # due and how often the renewer runs; in zone and nsupdate output as a `;` comment.
    path = stack_file(tmp_path, acme={"profile": "shortlived"})
    result = records("--stack", str(path), "--format", "zone")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"; {ZONE}, go.{ZONE}, sms.other.test: certificates: profile "
                            "shortlived, 160-hour lifetime now; renewed with less than 33% of "
                            "its lifetime left (~53 hours before expiry)"), first
    assert "renewer runs rate(4 hours); expiry alarm below 1.1 days" in first
    table = records("--stack", str(path), "--format", "table")
    assert "profile shortlived, 160-hour lifetime" in table.stdout
    assert "profile shortlived" not in records("--stack", str(path), "--json").stdout
    # A declared alarm that would fire before every renewal: a warning here, refused at up.
    path = stack_file(tmp_path, acme={"profile": "tlsserver"}, renewal={"alarmDays": 21})
    result = records("--stack", str(path), "--format", "zone")
    assert result.returncode == 0
    assert "lsctl records: warning: " in result.stderr
    assert "lsctl:renewal.alarmDays: 21 days is not below the 15 days left" in result.stderr
