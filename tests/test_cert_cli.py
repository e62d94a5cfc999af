"""`lsctl cert convert-key | check | bundle`: exit codes, outputs, and never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import stat
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkshortening.cli.main import main
from tests.certfactory import Chain, cached_key, make_chain, pkcs8
from tests.conftest import lsctl_argv

DOMAIN = "link.example.com"
PASSWORD = "s3cret pass"
CHAIN = make_chain([DOMAIN], intermediates=2)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["cert", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nobody to prompt


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return CHAIN.write(tmp_path)


def legacy_key(tmp_path: Path, password: str | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password
        else serialization.NoEncryption())
    path = tmp_path / "legacy.key"
    path.write_bytes(CHAIN.leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption))
    return path


# ---- convert-key ----

def test_convert_key_to_stdout_matches_openssl(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    path = legacy_key(tmp_path)
    code, out, err = run(capsys, "convert-key", str(path))
    expected = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(path)],
                              capture_output=True, text=True, check=True).stdout
    assert (code, out, err) == (0, expected, "")


def test_convert_key_writes_0600_atomically(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    out_path = tmp_path / "out" / "key.pem"
    out_path.parent.mkdir()  # a missing directory is refused (tests/test_output_paths.py)
    code, out, _ = run(capsys, "convert-key", str(legacy_key(tmp_path)), "-o", str(out_path))
    assert code == 0 and out == ""
    assert out_path.read_text() == pkcs8(CHAIN.leaf.key)
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    assert [p.name for p in out_path.parent.iterdir()] == ["key.pem"]


def test_password_from_env_or_env_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = legacy_key(tmp_path, PASSWORD)
    monkeypatch.setenv("KEY_PASS", PASSWORD)
    assert run(capsys, "convert-key", str(path), "--password-env", "KEY_PASS")[1] == \
        pkcs8(CHAIN.leaf.key)
    monkeypatch.delenv("KEY_PASS")
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSWORD + "\n")
    monkeypatch.setenv("KEY_PASS_FILE", str(secret))
    assert run(capsys, "convert-key", str(path), "--password-env", "KEY_PASS")[0] == 0


def test_encrypted_key_without_password_and_no_terminal(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    path = legacy_key(tmp_path, PASSWORD)
    code, out, err = run(capsys, "convert-key", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and str(path) in err and "--password-env" in err


def test_prompts_on_a_terminal(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = legacy_key(tmp_path, PASSWORD)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return PASSWORD

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert run(capsys, "convert-key", str(path))[:2] == (0, pkcs8(CHAIN.leaf.key))
    assert asked == [f"Password for {path}: "]


def test_unset_password_variable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "convert-key", str(legacy_key(tmp_path, PASSWORD)),
                       "--password-env", "LSCTL_TEST_UNSET_VAR")
    assert code == 2 and "LSCTL_TEST_UNSET_VAR" in err


def test_wrong_password_never_echoes_it(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY_PASS", "not-the-password")
    code, out, err = run(capsys, "convert-key", str(legacy_key(tmp_path, PASSWORD)),
                         "--password-env", "KEY_PASS")
    assert (code, out) == (2, "") and "wrong password" in err
    assert "not-the-password" not in err


def test_unsupported_key_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "small.key"
    path.write_text(pkcs8(cached_key("rsa1024")))
    code, out, err = run(capsys, "convert-key", str(path), "-o", str(tmp_path / "o.pem"))
    assert (code, out) == (2, "") and "1024 bits" in err and "30118" in err
    assert not (tmp_path / "o.pem").exists()


def test_convert_key_from_stdin(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    raw = legacy_key(tmp_path).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert run(capsys, "convert-key", "-")[:2] == (0, pkcs8(CHAIN.leaf.key))


# ---- check ----

def test_check_ready(capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]) -> None:
    cert, key = files
    code, out, _ = run(capsys, "check", "--cert", str(cert), "--key", str(key),
                       "--domain", DOMAIN)
    assert code == 0 and out == f"ready to upload for {DOMAIN}\n"


def test_check_json_shape(capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]) -> None:
    cert, key = files
    code, out, _ = run(capsys, "check", "--cert", str(cert), "--key", str(key),
                       "--domain", "go.example.org", "--json")
    report = json.loads(out)
    assert code == 1 and report["ready"] is False
    assert list(report) == ["ready", "problems"]
    assert list(report["problems"][0]) == ["code", "severity", "message", "fix"]


def test_check_lists_codes_and_fixes(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    chain = make_chain([DOMAIN], datetime.now(UTC) - timedelta(days=90),
                       datetime.now(UTC) - timedelta(days=1))
    cert, _ = chain.write(tmp_path)
    other = tmp_path / "other.key"
    other.write_text(pkcs8(cached_key("ec256", 9)))
    code, out, _ = run(capsys, "check", "--cert", str(cert), "--key", str(other),
                       "--domain", DOMAIN)
    assert code == 1
    assert "error 30102: the certificate expired" in out and "error 30119:" in out
    assert out.count("  fix: ") == 2 and out.endswith("not ready: 2 error(s), 0 warning(s)\n")


def test_warnings_alone_still_exit_0(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    chain = make_chain([DOMAIN], not_after=datetime.now(UTC) + timedelta(days=20))
    cert, key = chain.write(tmp_path)
    args = ("check", "--cert", str(cert), "--key", str(key), "--domain", DOMAIN)
    code, out, _ = run(capsys, *args)
    assert code == 0 and "warning 30131: the certificate expires in" in out
    assert run(capsys, *args, "--min-days", "7")[1] == f"ready to upload for {DOMAIN}\n"


def test_check_reports_what_the_files_get_wrong_that_bundle_fixes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cert = tmp_path / "shuffled.crt"
    cert.write_bytes(b"".join(c.cert_pem.encode() for c in
                              (CHAIN.root, *reversed(CHAIN.intermediates), CHAIN.leaf)))
    code, out, _ = run(capsys, "check", "--cert", str(cert), "--key",
                       str(legacy_key(tmp_path)), "--domain", DOMAIN)
    assert code == 0
    assert "the key file is PEM SEC1" in out and "not in upload order" in out


def test_check_pkcs12_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    p12 = tmp_path / "bundle.pfx"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"x", CHAIN.leaf.key, CHAIN.leaf.cert, [c.cert for c in CHAIN.intermediates],
        serialization.BestAvailableEncryption(PASSWORD.encode())))
    monkeypatch.setenv("P12_PASS", PASSWORD)
    code, out, _ = run(capsys, "check", "--key", str(p12), "--password-env", "P12_PASS",
                       "--domain", DOMAIN)
    assert code == 0 and "PKCS#12" in out


@pytest.mark.parametrize("bad", ["cert", "key", "missing"])
def test_unreadable_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                                files: tuple[Path, Path], bad: str) -> None:
    cert, key = files
    if bad == "missing":
        cert = target = cert.with_name("nope.crt")
    else:
        target = cert if bad == "cert" else key
        target.write_text("garbage\n")
    code, out, err = run(capsys, "check", "--cert", str(cert), "--key", str(key),
                         "--domain", DOMAIN)
    assert (code, out) == (2, "")
    assert err.startswith(f"lsctl: {target}: ") and err.count("\n") == 1


def test_check_in_a_subprocess_never_shows_a_traceback(tmp_path: Path,
                                                       files: tuple[Path, Path]) -> None:
    cert, key = files
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"\x00\xff" * 50)
    for key_arg, expected in ((key, 0), (garbage, 2)):
        done = subprocess.run(lsctl_argv("cert", "check", "--cert", str(cert), "--key",
                                         str(key_arg), "--domain", DOMAIN),
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert done.returncode == expected, done.stderr
        assert "Traceback" not in done.stderr + done.stdout


# ---- bundle ----

def test_bundle_prints_the_exact_tls_cert(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    cert = tmp_path / "with-root.crt"
    cert.write_text("\n\n".join([CHAIN.root.cert_pem, *(c.cert_pem for c in
                                                       (*CHAIN.intermediates, CHAIN.leaf))]))
    code, out, err = run(capsys, "bundle", "--cert", str(cert), "--key",
                         str(legacy_key(tmp_path)), "--domain", DOMAIN)
    assert (code, out) == (0, CHAIN.tls_cert)
    assert "not in upload order" in err


def test_bundle_to_file(capsys: pytest.CaptureFixture[str], files: tuple[Path, Path],
                        tmp_path: Path) -> None:
    cert, key = files
    target = tmp_path / "tls.pem"
    assert run(capsys, "bundle", "--cert", str(cert), "--key", str(key), "-o", str(target)) == \
        (0, "", "")
    assert target.read_text() == CHAIN.tls_cert
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_bundle_refuses_what_twilio_would_reject(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    chain: Chain = make_chain(["*.example.com"])
    cert, key = chain.write(tmp_path)
    target = tmp_path / "tls.pem"
    code, out, err = run(capsys, "bundle", "--cert", str(cert), "--key", str(key),
                         "--domain", "a.b.example.com", "-o", str(target))
    assert (code, out) == (1, "") and "covers exactly one label" in err
    assert not target.exists()


# ---- properties: mutated input never leaves a traceback or a partial file ----

def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        choice = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if choice == "flip" and buf:
            buf[at] ^= data.draw(st.integers(1, 255))
        elif choice == "cut":
            del buf[at:at + data.draw(st.integers(1, 50))]
        else:
            buf[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    return bytes(buf)


def _main_quietly(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


KEY_SAMPLES = [
    pkcs8(CHAIN.leaf.key).encode(),
    CHAIN.leaf.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()),
    CHAIN.leaf.key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption()),
]


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_convert_key_output_is_whole_or_absent(data: st.DataObject) -> None:
    raw = _mutate(data, data.draw(st.sampled_from(KEY_SAMPLES)))
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.key", Path(tmp) / "out.pem"
        source.write_bytes(raw)
        code, out, err = _main_quietly(["cert", "convert-key", str(source), "-o", str(target)])
        assert code in (0, 2) and out == ""
        if code == 0:
            assert target.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
        else:
            assert not target.exists()
            assert err.startswith(f"lsctl: {source}: ") and err.count("\n") == 1
            assert "internal error" not in err
        assert sorted(p.name for p in Path(tmp).iterdir()) == \
            sorted(["in.key"] + (["out.pem"] if code == 0 else []))


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_bundle_with_mutated_files_is_whole_or_absent(data: st.DataObject) -> None:
    mutate_cert = data.draw(st.booleans())
    cert_raw = (CHAIN.chain_pem + "\n").encode()
    key_raw = pkcs8(CHAIN.leaf.key).encode()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key, target = Path(tmp) / "c.crt", Path(tmp) / "k.key", Path(tmp) / "t.pem"
        cert.write_bytes(_mutate(data, cert_raw) if mutate_cert else cert_raw)
        key.write_bytes(key_raw if mutate_cert else _mutate(data, key_raw))
        code, out, err = _main_quietly(["cert", "bundle", "--cert", str(cert), "--key",
                                        str(key), "-o", str(target)])
        assert code in (0, 1, 2) and out == ""
        assert "internal error" not in err and "Traceback" not in err
        if code == 2:
            assert str(cert if mutate_cert else key) in err and err.count("\n") == 1
        assert target.exists() == (code == 0)
