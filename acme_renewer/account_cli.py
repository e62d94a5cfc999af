"""`lsctl acme account show|create|rollover|deactivate`: the stack's ACME account at its CA.

Accounts are kept per CA directory in the renewer's state (acme_renewer.account); these
commands show one, register one, roll its key over (RFC 8555 7.3.5) and deactivate it, and
print what the DNS-PERSIST-01 records need (account URL, key thumbprint, the directory's
accountHashPrefix and issuerDomainNames) as `pulumi config set` lines for the stack.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from josepy.jwk import JWK

    from acme_renewer.account import CaEndpoint
    from acme_renewer.issuance import AcmeSession
    from acme_renewer.state import RenewerState, StoredAccount
    from linkshortening.stack.model import Stack

EPILOG = """\
The account lives in the renewer's state (lsctl:acme.state), one per CA directory
(lsctl:acme.directory, or LSCTL_ACME_DIRECTORY): a staging account is never used against
production. create needs lsctl:acme.agreeTos: true (and EAB variables when the CA asks).

DNS-PERSIST-01 (draft-ietf-acme-dns-persist-02) binds each _validation-persist record to the
account URL and the account KEY: after a rollover every record must be republished (set the
new lsctl:acme.accountKeyThumbprint, then pulumi up). rollover says so and asks first when a
domain of the stack uses dns-persist-01; deactivate stops every record at once.

exit status: 0 done, 1 no account to act on (or not confirmed), 2 setup error or CA refusal."""

ACTIONS = {
    "show": "print the account: directory, URL, key thumbprint, status at the CA, and the "
            "stack values the persist records need",
    "create": "register an account at the stack's CA (nothing is done if one exists)",
    "rollover": "replace the account key at the CA (RFC 8555 key change), then store it",
    "deactivate": "deactivate the account at the CA (irreversible) and mark it in the state",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    objects = parser.add_subparsers(dest="object", metavar="OBJECT", required=True)
    account = objects.add_parser("account", help="the stack's ACME account at its CA",
                                 description="the stack's ACME account at its CA",
                                 epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = account.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in ACTIONS.items():
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--stack", required=True,
                            help="stack name (stacks/Pulumi.NAME.yaml) or path to a stack file")
        if name in ("rollover", "deactivate"):
            action.add_argument("--yes", action="store_true",
                                help="do it without asking (for scripts)")


def run(args: argparse.Namespace) -> int:
    context = _Context.load(args.stack)
    action = {"show": _show, "create": _create, "rollover": _rollover,
              "deactivate": _deactivate}[args.action]
    return action(context, args)


@dataclass(frozen=True)
class _Context:
    stack: Stack
    state: RenewerState
    ca: CaEndpoint

    @classmethod
    def load(cls, stack_arg: str) -> _Context:
        from acme_renewer.account import ca_endpoint
        from acme_renewer.wiring import state_store
        from linkshortening.stack.errors import ConfigError
        from linkshortening.stack.load import find_project_dir, load_stack, stack_path

        stack = load_stack(stack_arg)
        try:
            project: Path | None = find_project_dir(stack_path(stack_arg).resolve().parent)
        except ConfigError:
            project = None
        return cls(stack, state_store(stack, project), ca_endpoint(stack.acme))

    def stored(self) -> StoredAccount | None:
        return self.state.account(self.ca.directory)

    def session(self, stored: StoredAccount) -> AcmeSession:
        from acme_renewer.account import session_for

        return session_for(self.stack.acme, self.ca, stored)

    def persist_domains(self) -> list[str]:
        from linkshortening.stack.persist_record import CHALLENGE

        return [d.fqdn for d in self.stack.domains if d.challenge == CHALLENGE]


def _missing(context: _Context) -> int:
    print(f"no ACME account is stored for {context.ca.directory}; register one with: "
          f"lsctl acme account create --stack {context.stack.name}", file=sys.stderr)
    return 1


def _show(context: _Context, _args: argparse.Namespace) -> int:
    from acme import errors

    stored = context.stored()
    if stored is None:
        return _missing(context)
    session = context.session(stored)
    status = "deactivated (in lsctl's state)" if stored.deactivated else "?"
    if not stored.deactivated:
        try:
            status = _status(session)
        except errors.Error as exc:  # a deactivated or unknown account is refused
            status = f"refused by the CA: {exc}"
    _print_account(context, stored, session, status)
    return 0


def _status(session: AcmeSession) -> str:
    from acme import messages

    regr = messages.RegistrationResource(uri=session.account.account_url,
                                         body=messages.Registration())
    found = session.client().query_registration(regr)
    return str(found.body.status or "valid")


def _print_account(context: _Context, stored: StoredAccount, session: AcmeSession,
                   status: str) -> None:
    from acme_renewer.persist import persist_meta, thumbprint

    key = session.account.key
    meta = persist_meta(session)
    print(f"directory:           {stored.directory}")
    print(f"account URL:         {stored.url}")
    print(f"status at the CA:    {status}")
    print(f"key:                 {_key_type(key)}, thumbprint {thumbprint(key)}")
    for retired, at in stored.retired_keys:
        print(f"  rolled over from:  {retired} ({at})")
    print(f"issuerDomainNames:   {', '.join(meta.issuer_domain_names) or '(not listed)'}")
    print(f"accountHashPrefix:   {meta.account_hash_prefix or '(not listed: no -02 persist)'}")
    _print_config(context, stored.url, thumbprint(key), meta.account_hash_prefix,
                  meta.issuer_domain_names)


def _key_type(key: object) -> str:
    from josepy.jwk import JWKEC

    return "ECDSA P-256 (ES256)" if isinstance(key, JWKEC) else "RSA (RS256)"


def _print_config(context: _Context, url: str, thumb: str, prefix: str | None,
                  issuers: tuple[str, ...]) -> None:
    """The stack values the persist records are computed from, and which differ now."""
    acme, name = context.stack.acme, context.stack.name
    wanted = [("accountUri", url, acme.account_uri),
              ("accountKeyThumbprint", thumb, acme.account_key_thumbprint)]
    if prefix:
        wanted.append(("accountHashPrefix", prefix, acme.account_hash_prefix))
    lines = [f"pulumi config set --stack {name} --path lsctl:acme.{key} '{value}'"
             for key, value, have in wanted if value != have]
    if issuers and tuple(acme.issuer_domain_names) != issuers:
        lines += [f"pulumi config set --stack {name} --path "
                  f"'lsctl:acme.issuerDomainNames[{i}]' {issuer}"
                  for i, issuer in enumerate(issuers)]
    if not lines:
        print(f"the stack's lsctl:acme values match this account ({len(wanted)} checked)")
        return
    print("for DNS-PERSIST-01 records, set in the stack (then pulumi up):")
    for line in lines:
        print(f"  {line}")


def _create(context: _Context, _args: argparse.Namespace) -> int:
    from acme_renewer.account import register

    stored = context.stored()
    if stored is not None and not stored.deactivated:
        print(f"an account is already stored for {context.ca.directory}: {stored.url}")
        _print_account(context, stored, context.session(stored), "valid (stored)")
        return 0
    if not context.stack.acme.agree_tos:
        from linkshortening.stack.errors import ConfigError

        raise ConfigError(context.stack.source, "lsctl:acme.agreeTos", "the CA's terms of "
                          "service are not agreed", "read the CA's terms, then set "
                          "agreeTos: true")
    created = register(context.stack.acme, context.ca)
    context.state.save_account(created)
    print(f"registered {created.url} at {context.ca.directory}")
    _print_account(context, created, context.session(created), "valid")
    return 0


def _rollover(context: _Context, args: argparse.Namespace) -> int:
    from acme_renewer.persist import thumbprint

    stored = context.stored()
    if stored is None or stored.deactivated:
        return _missing(context)
    stored = _finish_interrupted(context, stored)
    persisted = context.persist_domains()
    if persisted:
        print(f"warning: {len(persisted)} domain(s) use dns-persist-01 "
              f"({', '.join(persisted[:5])}{', ...' if len(persisted) > 5 else ''}). Their "
              "_validation-persist records are bound to the account key (draft -02): after "
              "the rollover, set the new lsctl:acme.accountKeyThumbprint and run pulumi up "
              "to republish them; until then lsctl drift reports them.", file=sys.stderr)
        if not _confirmed(args, "roll the account key over"):
            return 1
    new_pem, new_key = _new_key()
    old = context.session(stored)
    context.state.save_pending_account_key(stored.directory, new_pem)
    try:
        old.client().change_key(new_key)
    except Exception:
        context.state.save_pending_account_key(stored.directory, None)  # the CA said no
        raise
    rolled = replace(stored, key_pem=new_pem, retired_keys=(
        *stored.retired_keys, (thumbprint(old.account.key), _now())))
    context.state.save_account(rolled)
    context.state.save_pending_account_key(stored.directory, None)
    print(f"the CA accepted the new key for {stored.url}; stored it")
    _print_account(context, rolled, context.session(rolled), "valid")
    return 0


def _finish_interrupted(context: _Context, stored: StoredAccount) -> StoredAccount:
    """A rollover killed after writing its new key: keep whichever key the CA now knows."""
    from acme import client, errors, messages
    from josepy.jwk import JWK

    from acme_renewer.acme_network import ResilientNetwork
    from acme_renewer.issuance import USER_AGENT
    from acme_renewer.key_change import algorithm
    from acme_renewer.persist import thumbprint

    pending = context.state.pending_account_key(stored.directory)
    if pending is None:
        return stored
    key = JWK.load(pending)
    net = ResilientNetwork(key, alg=algorithm(key), user_agent=USER_AGENT,
                           verify_ssl=context.ca.ca_bundle or True, server=context.ca.directory)
    lookup = client.ClientV2(client.ClientV2.get_directory(context.ca.directory, net), net)
    try:
        # onlyReturnExisting: the CA names the account this key belongs to, registering none.
        lookup.new_account(messages.NewRegistration(only_return_existing=True))
        took = False  # a 201 would be a new account: not ours
    except errors.ConflictError as exc:
        took = exc.location == stored.url
    except errors.Error:
        took = False  # the CA knows no account with this key: the rollover never happened
    if took:
        stored = replace(stored, key_pem=pending, retired_keys=(
            *stored.retired_keys, (thumbprint(JWK.load(stored.key_pem)), _now())))
        context.state.save_account(stored)
        print("an interrupted rollover had gone through at the CA: its new key is stored now",
              file=sys.stderr)
    context.state.save_pending_account_key(stored.directory, None)
    return stored


def _deactivate(context: _Context, args: argparse.Namespace) -> int:
    from acme import messages

    stored = context.stored()
    if stored is None or stored.deactivated:
        return _missing(context)
    persisted = context.persist_domains()
    warning = (f"; the _validation-persist records of {len(persisted)} domain(s) stop "
               "authorizing at once" if persisted else "")
    print(f"deactivating {stored.url} at {context.ca.directory} cannot be undone: no "
          f"certificate can be ordered with it again{warning}.", file=sys.stderr)
    if not _confirmed(args, "deactivate the account"):
        return 1
    session = context.session(stored)
    regr = messages.RegistrationResource(uri=stored.url, body=messages.Registration())
    session.client().deactivate_registration(regr)
    context.state.save_account(replace(stored, deactivated=True))
    print(f"deactivated {stored.url}; `lsctl acme account create --stack "
          f"{context.stack.name}` registers a new one")
    return 0


def _confirmed(args: argparse.Namespace, what: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print(f"not confirmed: rerun with --yes to {what}", file=sys.stderr)
        return False
    answer = input(f"{what}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _new_key() -> tuple[bytes, JWK]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from josepy.jwk import JWKEC

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem, JWKEC(key=private)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
