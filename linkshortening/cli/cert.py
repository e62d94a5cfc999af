"""`lsctl cert`: convert keys to PKCS#8, preflight a certificate and key, print the TlsCert."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from linkshortening.cli.arguments import add_json_format, wants_json

if TYPE_CHECKING:  # heavy imports happen in run(), so `lsctl --help` stays fast
    from cryptography import x509

    from linkshortening.certs.keys import KeyFile
    from linkshortening.certs.preflight import Problem

EXIT_PROBLEMS = 1
FORMATS = "PEM or DER (PKCS#8, PKCS#1, SEC1) or PKCS#12 (.p12/.pfx)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Passwords come from an environment variable (--password-env VAR, or "
                     "VAR_FILE)\nor a prompt on a terminal; never from the command line.")
    sub = parser.add_subparsers(dest="cert_command", metavar="ACTION", required=True)
    convert = sub.add_parser(
        "convert-key", help="convert any private key to the unencrypted PKCS#8 PEM Twilio takes",
        description="Convert a private key to unencrypted PKCS#8 PEM (-----BEGIN PRIVATE "
                    "KEY-----). Exit 0: converted; 2: unreadable or unsupported key.")
    convert.add_argument("input", metavar="IN", help=f"key file, {FORMATS}; - for stdin")
    _output(convert)
    _password(convert)
    check = sub.add_parser(
        "check", help="find what Twilio would reject before uploading",
        description="Preflight the TlsCert that `lsctl cert bundle` would build from these "
                    "files. Exit 0: ready to upload (warnings allowed); 1: problems found; "
                    "2: unreadable input.")
    _inputs(check)
    check.add_argument("--domain", required=True, help="the Link Shortening domain")
    add_json_format(check)
    _min_days(check)
    bundle = sub.add_parser(
        "bundle", help="print the exact TlsCert value: chain in order, no root, PKCS#8 key",
        description="Build the TlsCert value (leaf, intermediates, PKCS#8 key) and refuse it "
                    "if preflight finds errors. Exit 0: written; 1: problems found; "
                    "2: unreadable input.")
    _inputs(bundle)
    bundle.add_argument("--domain", help="also check that the certificate covers this domain")
    _min_days(bundle)
    _output(bundle)
    upload = sub.add_parser(
        "upload", help="preflight, bundle and upload a certificate from elsewhere to Twilio",
        description="For a certificate: external domain: preflight, build the TlsCert, upload "
                    "it to the domain's DomainSid and wait for Twilio's validation. Exit 0: "
                    "validated; 1: refused by the preflight or Twilio; 2: setup or input "
                    "error.")
    _inputs(upload)
    _min_days(upload)
    from linkshortening.cli import cert_upload

    cert_upload.configure(upload)


def _inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cert", metavar="FILE",
                        help="certificate chain, PEM or DER (default: the certificates inside "
                             "--key, for PKCS#12 or a combined PEM)")
    parser.add_argument("--key", metavar="FILE", required=True, help=f"private key, {FORMATS}")
    _password(parser)


def _password(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-env", metavar="VAR",
                        help="environment variable holding the key's password (or VAR_FILE)")


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="write to OUT (atomically, mode 0600) instead of stdout")


def _min_days(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-days", type=_days, default=30, metavar="N",
                        help="warn when the certificate expires within N days (default 30)")


def _days(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    if args.cert_command == "upload":
        from linkshortening.cli.cert_upload import upload

        return upload(args, _preflight)
    actions = {"convert-key": _convert, "check": _check, "bundle": _bundle}
    return actions[args.cert_command](args)


def _convert(args: argparse.Namespace) -> int:
    from linkshortening.certs.keys import (
        GENERATE_HINT,
        KeyFileError,
        pkcs8_pem,
        unsupported_reason,
    )

    key_file = _read_key(args.input, args.password_env)
    reason = unsupported_reason(key_file.key)
    if reason:
        raise KeyFileError(args.input, reason, GENERATE_HINT, code=30118)
    _emit(pkcs8_pem(key_file.key), args.output)
    return 0


def _check(args: argparse.Namespace) -> int:
    from linkshortening.certs.preflight import is_ready

    _, problems = _preflight(args)
    if wants_json(args):
        import json
        from dataclasses import asdict

        print(json.dumps({"ready": is_ready(problems),
                          "problems": [asdict(p) for p in problems]}, indent=2))
    elif sys.stdout.isatty():
        _print_table(problems, args.domain)
    else:
        _print_lines(problems, sys.stdout)
        print(f"ready to upload for {args.domain}" if is_ready(problems)
              else f"not ready: {_count(problems)}")
    return 0 if is_ready(problems) else EXIT_PROBLEMS


def _bundle(args: argparse.Namespace) -> int:
    from linkshortening.certs.preflight import is_ready

    tls_cert, problems = _preflight(args)
    _print_lines(problems, sys.stderr)
    if not is_ready(problems):
        print(f"lsctl: not writing the TlsCert: {_count(problems)}", file=sys.stderr)
        return EXIT_PROBLEMS
    _emit(tls_cert, args.output)
    return 0


def _preflight(args: argparse.Namespace) -> tuple[str, list[Problem]]:
    """The TlsCert built from the files, and what preflight finds in it and in the files."""
    from datetime import UTC, datetime

    from linkshortening.certs.preflight import check_tls_cert
    from linkshortening.certs.tlscert import build_tls_cert

    key_file = _read_key(args.key, args.password_env)
    certs, cert_format = _read_certs(args.cert, args.key, key_file)
    tls_cert = build_tls_cert(certs, key_file.key)
    notes = _input_notes(certs, cert_format, key_file)
    return tls_cert, notes + check_tls_cert(tls_cert, args.domain, datetime.now(UTC),
                                            min_days=args.min_days)


def _read_key(path: str, password_env: str | None) -> KeyFile:
    """Password from --password-env, else a prompt on a terminal, else a clear error."""
    from linkshortening.certs.keys import STDIN, KeyPasswordNeeded, read_key_file

    password = None
    if password_env:
        from linkshortening.common.secrets import read_secret

        password = read_secret(password_env, f"password for {path}").encode()
    try:
        return read_key_file(path, password)
    except KeyPasswordNeeded:
        if password is not None or path == STDIN or not sys.stdin.isatty():
            raise  # nobody to ask: the error says to use --password-env
    import getpass

    return read_key_file(path, getpass.getpass(f"Password for {path}: ").encode())


def _read_certs(cert_path: str | None, key_path: str,
                key_file: KeyFile) -> tuple[tuple[x509.Certificate, ...], str]:
    from linkshortening.certs.tlscert import CertFileError, read_certificates, require_chain_size

    if cert_path:
        cert_file = read_certificates(cert_path)
        return cert_file.certificates, cert_file.format
    if not key_file.certificates:
        raise CertFileError(key_path, "holds no certificate and --cert was not given",
                            "pass --cert FILE with the certificate chain", code=30116)
    require_chain_size(len(key_file.certificates), key_path)
    return key_file.certificates, "PEM" if key_file.format.startswith("PEM") else key_file.format


def _input_notes(certs: tuple[x509.Certificate, ...], cert_format: str,
                 key_file: KeyFile) -> list[Problem]:
    """What the files get wrong that the bundle fixes: worth knowing before pasting them."""
    from linkshortening.certs.keys import TWILIO_FORMAT
    from linkshortening.certs.preflight import Problem
    from linkshortening.certs.tlscert import order_chain

    fix = "upload the output of lsctl cert bundle, which fixes this"
    notes = []
    if key_file.format != TWILIO_FORMAT:
        notes.append(Problem(None, "warning", f"the key file is {key_file.format}; Twilio "
                             "accepts only unencrypted PKCS#8 PEM", fix + " (or lsctl cert "
                             "convert-key)"))
    if cert_format != "PEM":
        notes.append(Problem(None, "warning", f"the certificate is stored as {cert_format}; "
                             "Twilio needs PEM", fix))
    if order_chain(certs, key_file.key) != list(certs):
        notes.append(Problem(None, "warning", "the certificate file is not in upload order "
                             "(leaf, then intermediates, no root)", fix))
    return notes


def _emit(text: str, output: str | None) -> None:
    if output:
        from pathlib import Path

        from linkshortening.common.files import write_output

        write_output(Path(output), text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _count(problems: list[Problem]) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    return f"{errors} error(s), {len(problems) - errors} warning(s)"


def _print_lines(problems: list[Problem], stream: TextIO) -> None:
    for p in problems:
        code = f" {p.code}" if p.code else ""
        print(f"{p.severity}{code}: {p.message}\n  fix: {p.fix}", file=stream)


def _print_table(problems: list[Problem], domain: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    if problems:
        table = Table(title=f"Preflight for {domain}")
        for column in ("severity", "code", "problem", "fix"):
            table.add_column(column)
        for p in problems:
            style = "red" if p.severity == "error" else "yellow"
            table.add_row(f"[{style}]{p.severity}[/]", str(p.code or ""), escape(p.message),
                          escape(p.fix))
        console.print(table)
    ready = not any(p.severity == "error" for p in problems)
    console.print(f"[green]ready to upload for {escape(domain)}[/]" if ready
                  else f"[red]not ready: {_count(problems)}[/]")
