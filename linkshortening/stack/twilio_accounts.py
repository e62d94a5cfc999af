"""lsctl:twilioAccounts: the Twilio accounts of one Organization a stack's calls are made as.

A domain names the account that uploads its certificate and sets its config (`account:`,
default: the stack's default account); each Messaging Service association may name the
account that owns the service (default: the domain's). Credentials are references only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from linkshortening.stack import values
from linkshortening.stack.errors import ConfigError, kind, quoted
from linkshortening.stack.model import DEFAULT_ACCOUNT, DomainSpec, TwilioAccount
from linkshortening.stack.reader import Reader, one_line

KEY = "twilioAccounts"
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
# Secrets Manager accepts names or ARNs of letters, digits and /_+=.@-: (up to 2048).
SECRET_ID = re.compile(r"[A-Za-z0-9/_+=.@:-]{1,2048}")
PULUMI_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")

account_sid = values.matching(ACCOUNT_SID, "a Twilio Account SID",
                              "copy it from Console > Account info (AC followed by 32 hex digits)")
secret_id = values.matching(SECRET_ID, "a Secrets Manager secret name or ARN",
                            "give the secret's name, e.g. lsctl/prod/twilio/brand-a")
pulumi_key = values.matching(PULUMI_KEY, "a Pulumi config key name",
                             "give a key under lsctl:, e.g. twilioBrandA (letters, digits, _.-)")


def env_prefix_for(name: str) -> str:
    """The default variable prefix of account `name`: brand-a -> TWILIO_BRAND_A."""
    return "TWILIO_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def pulumi_secret_for(name: str) -> str:
    """The default secret config key holding account `name`'s credentials for `pulumi up`."""
    return f"twilioCredentials-{name}"


def parse_accounts(source: str, raw: object) -> tuple[TwilioAccount, ...]:
    """The declared accounts, in file order; () when the key is absent."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(source, KEY, f"expected a non-empty mapping, got {kind(raw)}",
                          "map each account name to {accountSid: AC..., envPrefix: ...}")
    accounts: list[TwilioAccount] = []
    by_sid: dict[str, str] = {}
    for name, body in raw.items():
        key = f"{KEY}.{name}"
        if not isinstance(name, str) or not ACCOUNT_NAME.fullmatch(name):
            raise ConfigError(source, key, f"{quoted(name)} is not an account name",
                              "use letters, digits, - and _ (up to 63), e.g. brand-a")
        r = Reader(source, key, body)
        sid = r.string("accountSid", True, "copy the Account SID from Console > Account info")
        assert sid is not None
        sid = account_sid(sid, r.key("accountSid"), source)
        if sid.upper() in by_sid:
            raise r.error("accountSid", f"{sid} is also the accountSid of {by_sid[sid.upper()]}",
                          "declare each account once, under one name")
        by_sid[sid.upper()] = name
        env = r.string("envPrefix")
        env = values.env_name(env, r.key("envPrefix"), source) if env else env_prefix_for(name)
        sm = r.string("secretId")
        pk = r.string("pulumiSecret")
        accounts.append(TwilioAccount(
            name=name, account_sid=sid, env_prefix=env,
            secret_id=secret_id(sm, r.key("secretId"), source) if sm else None,
            pulumi_secret=pulumi_key(pk, r.key("pulumiSecret"), source) if pk
            else pulumi_secret_for(name)))
        r.finish()
    return tuple(accounts)


def default_account(source: str, accounts: Sequence[TwilioAccount],
                    declared: str | None) -> str | None:
    """The account of domains that name none: lsctl:twilio.defaultAccount, the only declared
    account, or the implicit TWILIO_* one; None when several are declared and none is chosen."""
    if declared is not None:
        known(source, "twilio.defaultAccount", declared, accounts)
        return declared
    if not accounts:
        return DEFAULT_ACCOUNT
    return accounts[0].name if len(accounts) == 1 else None


def known(source: str, key: str, name: str, accounts: Sequence[TwilioAccount]) -> str:
    """`name` if lsctl:twilioAccounts declares it, else the one clear message."""
    names = [a.name for a in accounts]
    if name in names:
        return name
    if not names:
        raise ConfigError(source, key, f"names the account {quoted(name)}, but the stack "
                          f"declares no {KEY}",
                          f"declare it under lsctl:{KEY} (name: {{accountSid: AC...}}), "
                          "or remove the key to use the TWILIO_* variables")
    raise ConfigError(source, key, f"{quoted(name)} is not an account of lsctl:{KEY}",
                      f"use one of: {', '.join(names)}, or declare it under lsctl:{KEY}")


def domain_accounts(r: Reader, accounts: Sequence[TwilioAccount], default: str | None
                    ) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """A domain's account, its Messaging Service SIDs, and (service, account) for those
    associated as another account. Items are `MG...` or `{sid: MG..., account: name}`."""
    named = r.string("account")
    if named is not None:
        account = known(r.source, r.key("account"), named, accounts)
    elif default is None:
        raise r.error("account", "is required: the stack declares several accounts and no "
                      "lsctl:twilio.defaultAccount",
                      f"name one of {', '.join(a.name for a in accounts)}, or set "
                      "lsctl:twilio.defaultAccount")
    else:
        account = default
    raw = r.get("messagingServiceSids")
    if raw is None:
        return account, (), ()
    if not isinstance(raw, list):
        raise r.error("messagingServiceSids", f"expected a list, got {kind(raw)}",
                      "write a YAML list")
    sids: list[str] = []
    others: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        key = f"{r.key('messagingServiceSids')}[{i}]"
        if isinstance(item, str):
            sids.append(values.service_sid(one_line(item, r.source, key), key, r.source))
            continue
        if not isinstance(item, Mapping):
            raise ConfigError(r.source, key, f"expected a string or a mapping, got {kind(item)}",
                              "write MG... or {sid: MG..., account: name}")
        s = Reader(r.source, key, item)
        sid = s.string("sid", True, "give the Messaging Service SID, e.g. sid: MG...")
        assert sid is not None
        sid = values.service_sid(sid, s.key("sid"), r.source)
        owner = s.string("account")
        s.finish()
        sids.append(sid)
        if owner is not None and known(r.source, s.key("account"), owner, accounts) != account:
            others.append((sid, owner))
    return account, tuple(sids), tuple(others)


def refuse_two_accounts(source: str, domains: Sequence[DomainSpec]) -> None:
    """A Messaging Service belongs to one account: declared under two, one association call
    would always fail. Checked before the one-domain-per-service rule, whose message it is not."""
    owners: dict[str, tuple[str, str]] = {}
    for i, spec in enumerate(domains):
        for k, service in enumerate(spec.messaging_service_sids):
            key, owner = f"domains[{i}].messagingServiceSids[{k}]", spec.account_of(service)
            seen = owners.setdefault(service, (owner, key))
            if seen[0] != owner:
                raise ConfigError(source, key,
                                  f"{service} is declared under account {owner} here and under "
                                  f"account {seen[0]} at {seen[1]}; a Messaging Service belongs "
                                  "to one account",
                                  "name the account that owns it in Console > Messaging > "
                                  "Services, in both places")
