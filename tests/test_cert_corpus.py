"""The cert-fuzz corpus (tests/corpus/cert/cases.toml) through the real `lsctl cert` CLI."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.certfactory import Chain, cached_key, issuer_loop, make_chain, pem, pkcs8
from tests.conftest import lsctl_argv

CORPUS = Path(__file__).resolve().parent / "corpus" / "cert"
CASES: list[dict[str, Any]] = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]
DOMAIN = "link.example.com"
COMMANDS = ("check", "bundle")

Built = tuple[bytes, bytes]  # the certificate file's bytes and the key file's


def _files(chain: Chain, cert: str | None = None) -> Built:
    return (cert if cert is not None else chain.chain_pem + "\n").encode(), \
        chain.leaf.key_pem.encode()


def _loop(count: int, same_name: bool = True) -> Built:
    loop = issuer_loop(count, [DOMAIN], same_name=same_name)
    return ("\n".join(pem(c.cert) for c in loop) + "\n").encode(), loop[0].key_pem.encode()


def _der() -> Built:
    chain = make_chain([DOMAIN], intermediates=0)
    return chain.leaf.cert.public_bytes(serialization.Encoding.DER), chain.leaf.key_pem.encode()


def _extra_newlines() -> Built:
    chain = make_chain([DOMAIN])
    cert = "\n\n" + "\n\n\n".join(pem(c) for c in chain.certs) + "\n\n\n"
    return cert.encode(), ("\n\n" + chain.leaf.key_pem + "\n\n").encode()


def _root_included() -> Built:
    chain = make_chain([DOMAIN])
    return _files(chain, "\n".join(pem(c) for c in (*chain.certs, chain.root.cert)) + "\n")


BUILDERS: dict[str, Callable[[], Built]] = {
    "good": lambda: _files(make_chain([DOMAIN])),
    "san_without_cn": lambda: _files(make_chain([DOMAIN], common_name="")),
    "root_included": _root_included,
    "extra_newlines": _extra_newlines,
    "der": _der,
    "wrong_key": lambda: (_files(make_chain([DOMAIN]))[0],
                          pkcs8(cached_key("ec256", 7)).encode()),
    "cn_without_san": lambda: _files(make_chain([], common_name=DOMAIN)),
    "loop_2": lambda: _loop(2, same_name=False),
    "loop_300": lambda: _loop(300),
    "loop_1800": lambda: _loop(1800),
}


@pytest.fixture(scope="session")
def _built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """Builder name -> its certificate file and key file, built once per session."""
    directory = tmp_path_factory.mktemp("cert-corpus")
    made: dict[str, tuple[Path, Path]] = {}

    def files(name: str) -> tuple[Path, Path]:
        if name not in made:
            cert, key = BUILDERS[name]()
            made[name] = (directory / f"{name}.crt", directory / f"{name}.key")
            made[name][0].write_bytes(cert)
            made[name][1].write_bytes(key)
        return made[name]

    return files


@pytest.fixture
def case_files(request: pytest.FixtureRequest,
               _built: Callable[[str], tuple[Path, Path]]) -> tuple[Path, Path]:
    # A fixture, so that building (the 1,800-certificate loop takes a second) is not timed.
    case = request.param
    cert, key = _built(case["build"])
    return (CORPUS / case["cert"] if "cert" in case else cert,
            CORPUS / case["key"] if "key" in case else key)


def test_every_case_names_a_builder_and_existing_files() -> None:
    assert len({case["name"] for case in CASES}) == len(CASES)
    for case in CASES:
        assert case["build"] in BUILDERS, case["name"]
        assert all((CORPUS / case[part]).is_file() for part in ("cert", "key") if part in case)
        assert all(set(case[command]) == {"exit", "says"} for command in COMMANDS)


@pytest.mark.timeout(30, func_only=True)  # a hang guard, not a timing bound: shared machines
@pytest.mark.parametrize(("case_files", "case", "command"),
                         [(case, case, command) for case in CASES for command in COMMANDS],
                         ids=[f"{case['name']}-{command}" for case in CASES
                              for command in COMMANDS],
                         indirect=["case_files"])
def test_corpus_case(case_files: tuple[Path, Path], case: dict[str, Any], command: str) -> None:
    cert, key = case_files
    done = subprocess.run(lsctl_argv("cert", command, "--cert", str(cert), "--key", str(key),
                                     "--domain", DOMAIN),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    expected = case[command]
    output = done.stdout + done.stderr
    assert done.returncode == expected["exit"], output
    assert expected["says"] in output
    assert "Traceback" not in output and "internal error" not in output
    if expected["exit"] == 2:
        assert done.stdout == "" and done.stderr.count("\n") == 1
        assert done.stderr.startswith("lsctl: ") and (str(cert) in done.stderr
                                                       or str(key) in done.stderr)
    if command == "bundle":
        assert done.stdout.startswith("-----BEGIN CERTIFICATE-----\n") == (done.returncode == 0)
