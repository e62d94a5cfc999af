"""`lsctl state migrate`: copy a stack's renewer state (ACME accounts, certificates, keys, ARI
windows, the challenge journal) from its local directory or Secrets Manager into S3."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from acme_renewer.s3_state import S3Backend
    from acme_renewer.state import Backend
    from linkshortening.stack.model import Stack

WHERE = "lsctl state migrate"
EPILOG = """\
Copies every key of the stack's current state (lsctl:acme.state) into --to, under the lock
of both stores (no run can change either meanwhile), reads each object back to verify it,
and prints what it copied. The source is never deleted: once the copy is verified, set
lsctl:acme.state to {backend: s3, location: <the --to URL>, kmsKeyId: <key>} and delete the
old state by hand (the command prints how). Running it again copies nothing twice.

exit status: 0 copied (or nothing to copy), 2 configuration or setup error, or the
destination already holds different state."""


@runtime_checkable
class Listable(Protocol):
    """A source store that can say which keys it holds (directory, Secrets Manager)."""

    def list_keys(self) -> list[str]: ...


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="state_command", metavar="SUBCOMMAND", required=True)
    migrate = sub.add_parser("migrate", help="copy the stack's state into S3",
                             description="copy the stack's state into S3", epilog=EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    migrate.add_argument("--stack", required=True,
                         help="stack name (stacks/Pulumi.NAME.yaml) or path to a stack file")
    migrate.add_argument("--to", required=True, metavar="s3://BUCKET/PREFIX",
                         help="where to copy it (without a prefix: lsctl/<project>/<stack>)")
    migrate.add_argument("--kms-key-id", metavar="KEY",
                         help="the KMS key to encrypt with (default: the stack's "
                              "lsctl:acme.state.kmsKeyId, else S3's aws/s3 key)")
    migrate.add_argument("--dry-run", action="store_true",
                         help="say what would be copied; take no lock, write nothing")


def run(args: argparse.Namespace) -> int:
    from linkshortening.stack.errors import ConfigError
    from linkshortening.stack.load import find_project_dir, load_stack, stack_path

    stack = load_stack(args.stack)
    try:
        project_dir: Path | None = find_project_dir(stack_path(args.stack).resolve().parent)
    except ConfigError:
        project_dir = None
    source = _source(stack, project_dir)
    dest = _destination(stack, project_dir, args.to, args.kms_key_id)
    keys = migrate(source, dest, dry_run=args.dry_run)
    verb = "would copy" if args.dry_run else "copied and verified"
    print(f"{verb} {_summary(keys)} from {source} to {dest.location}")
    if not args.dry_run and keys:
        print(f"next: set lsctl:acme.state in {stack.source} to {{backend: s3, location: "
              f"{dest.location}{_kms_hint(dest)}}}, run `lsctl renew --stack {stack.name} "
              f"--dry-run`, then delete the old state by hand: {_delete_hint(source)}")
    return 0


def migrate(source: Backend, dest: S3Backend, *, dry_run: bool = False) -> list[str]:
    """Copy every key of `source` into `dest` under both locks; the keys copied. Keys that
    `dest` already holds with the same bytes are left alone; different bytes stop the copy
    before anything is written."""
    from contextlib import nullcontext

    from linkshortening.stack.errors import ConfigError

    with nullcontext() if dry_run else source.lock(), nullcontext() if dry_run else dest.lock():
        keys = _keys(source)
        held = set(dest.list_keys())
        values = {key: source.read(key) for key in keys}
        clash = [k for k in keys if k in held and dest.read(k) != values[k]]
        if clash:
            raise ConfigError(WHERE, "--to", f"{dest.location} already holds different state "
                              f"at {len(clash)} keys (e.g. {clash[0]})",
                              "migrate into an empty prefix, or remove those objects first")
        if dry_run:
            return keys
        for key in keys:
            data = values[key]
            if data is not None and key not in held:
                dest.write(key, data)
        for key in keys:
            if dest.read(key) != values[key]:  # read back through S3 and KMS
                raise ConfigError(WHERE, "--to", f"{dest.location}/{key} reads back "
                                  "different from what was written; the source is unchanged",
                                  "run the command again")
        return keys


def _keys(source: Backend) -> list[str]:
    if not isinstance(source, Listable):
        raise TypeError(f"{source} cannot list its keys")
    return source.list_keys()


def _source(stack: Stack, project_dir: Path | None) -> Backend:
    from acme_renewer.wiring import state_store
    from linkshortening.stack.errors import ConfigError

    if stack.acme.state_backend == "s3":
        raise ConfigError(stack.source, "lsctl:acme.state.backend", "is already s3",
                          "run migrate while the stack still names its old backend")
    return state_store(stack, project_dir).backend


def _destination(stack: Stack, project_dir: Path | None, url: str,
                 kms_key_id: str | None) -> S3Backend:
    import boto3

    from acme_renewer.s3_state import S3Backend
    from linkshortening.stack.errors import ConfigError
    from linkshortening.stack.s3_url import S3Location, split_s3_url
    from linkshortening.stack.state_location import default_prefix, project_of

    try:
        bucket, prefix = split_s3_url(url)
    except ValueError as exc:
        raise ConfigError(WHERE, "--to", str(exc), "use s3://bucket/prefix") from None
    location = S3Location(bucket, prefix or default_prefix(project_of(stack, project_dir),
                                                           stack.name))
    return S3Backend(boto3.client("s3"), location, kms_key_id or stack.acme.state_kms_key_id)


def _summary(keys: Sequence[str]) -> str:
    kinds: Counter[str] = Counter()
    domains = set()
    for key in keys:
        top = key.split("/")[0]
        if top == "domains":
            domains.add(key.split("/")[1])
        kinds[{"accounts": "ACME account(s)", "account": "legacy account object(s)",
               "domains": "domain object(s)"}.get(top, "other object(s)")
              if key != "pending-challenges.json" else "challenge journal"] += 1
    if not keys:
        return "nothing (the source holds no state)"
    parts = [f"{n} {kind}" for kind, n in sorted(kinds.items())]
    return f"{len(keys)} objects: {', '.join(parts)}, for {len(domains)} domains"


def _kms_hint(dest: S3Backend) -> str:
    return f", kmsKeyId: {dest.kms_key_id}" if dest.kms_key_id else ""


def _delete_hint(source: Backend) -> str:
    from acme_renewer.state import DirectoryBackend, SecretsManagerBackend

    if isinstance(source, DirectoryBackend):
        return f"rm -r {source.root}"
    if isinstance(source, SecretsManagerBackend):
        return (f"aws secretsmanager list-secrets --filters Key=name,Values={source.prefix}/ "
                "--query 'SecretList[].Name' --output text | xargs -n1 "
                "aws secretsmanager delete-secret --secret-id")
    return "remove it with the store's own tools"
