"""The stack keys of DNS-PERSIST-01: `challenge`, `persistUntil` and `policy` per domain (the
first two also stack-wide under lsctl:acme), and the account the records bind to."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from linkshortening.stack import values
from linkshortening.stack.errors import quoted
from linkshortening.stack.model import AcmeSettings
from linkshortening.stack.persist_record import CHALLENGE, MAX_ISSUERS, POLICY_WILDCARD
from linkshortening.stack.reader import Reader

CHALLENGES = ("dns-01", CHALLENGE)
THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256, unpadded
HTTPS_VALUE = re.compile(r"https://[!-:<-~]+")  # printable, no ';' (it ends a parameter)
ISSUER = re.compile(r"(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)*(?!-)[a-z0-9-]{1,63}(?<!-)")
# (key, AcmeSettings field, pattern, what it is, what to copy)
ACCOUNT_KEYS = (
    ("accountUri", "account_uri", HTTPS_VALUE, "an https:// account URL",
     "account URL"),
    ("accountKeyThumbprint", "account_key_thumbprint", THUMBPRINT,
     "a 43-character base64url JWK thumbprint", "key thumbprint"),
    ("accountHashPrefix", "account_hash_prefix", HTTPS_VALUE,
     "an https:// URL prefix without ';' or spaces", "directory's meta.accountHashPrefix"),
)
UNTIL_FIX = "write a UTC time such as 2027-06-30T00:00:00Z (or a date, 2027-06-30)"


def acme_keys(r: Reader) -> dict[str, Any]:
    """The lsctl:acme keys of DNS-PERSIST-01, as AcmeSettings fields."""
    found: dict[str, Any] = {
        "challenge": r.choice("challenge", CHALLENGES, "dns-01"),
        "persist_until": persist_until(r),
        "issuer_domain_names": _issuers(r),
    }
    for key, field, pattern, what, source in ACCOUNT_KEYS:
        value = r.string(key)
        found[field] = None if value is None else values.matching(
            pattern, what, f"copy the {source} `lsctl acme account show` prints")(
                value, r.key(key), r.source)
    return found


def domain_keys(r: Reader, acme: AcmeSettings, alt_names: tuple[str, ...],
                certificate: str) -> dict[str, Any]:
    """A domain's `challenge`, `persistUntil` and `policy` (validated against its altNames)."""
    challenge = r.choice("challenge", CHALLENGES, acme.challenge) or "dns-01"
    until = persist_until(r)
    policy = r.choice("policy", (POLICY_WILDCARD,), None)
    wildcards = [a for a in alt_names if a.startswith("*.")]
    if challenge != CHALLENGE:
        for key, given in (("policy", policy), ("persistUntil", until)):
            if given is not None:
                raise r.error(key, f"applies to {CHALLENGE} only, and this domain uses "
                              f"{challenge}", f"remove it, or set challenge: {CHALLENGE}")
        return {"challenge": challenge}
    if certificate != "acme":
        raise r.error("challenge", f"{CHALLENGE} is for certificates lsctl renews, and this "
                      f"domain's certificate is {certificate}", "remove the challenge key")
    if wildcards and policy is None:
        raise r.error("policy", f"is missing, and altNames hold {wildcards[0]}",
                      f"add policy: {POLICY_WILDCARD} (the record then authorizes every name "
                      f"under {wildcards[0].removeprefix('*.')})")
    if policy is not None and not wildcards:
        raise r.error("policy", f"{POLICY_WILDCARD} authorizes every subdomain, and no altName "
                      "is a wildcard", "remove it: the record should authorize what the "
                      "certificate names, no more")
    return {"challenge": challenge,
            "persist_until": until if until is not None else acme.persist_until}


def persist_until(r: Reader) -> int | None:
    """`persistUntil` as UNIX seconds: a UTC time or date (YAML may hand either over parsed)."""
    raw = r.get("persistUntil")
    if raw is None:
        return None
    when: dt.datetime | None = None
    if isinstance(raw, dt.datetime):
        when = raw
    elif isinstance(raw, dt.date):
        when = dt.datetime(raw.year, raw.month, raw.day)
    elif isinstance(raw, str):
        try:
            when = dt.datetime.fromisoformat(raw)
        except ValueError:
            when = None
    if when is None:
        raise r.error("persistUntil", f"{quoted(raw)} is not a time", UNTIL_FIX)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def _issuers(r: Reader) -> tuple[str, ...]:
    names = r.strings("issuerDomainNames", lambda v, k: values.matching(
        ISSUER, "a lower-case A-label domain name without a trailing dot",
        "copy the names the directory lists in meta.issuerDomainNames")(v, k, r.source))
    if r.get("issuerDomainNames") is not None and not 1 <= len(names) <= MAX_ISSUERS:
        raise r.error("issuerDomainNames", f"holds {len(names)} names",
                      f"list 1 to {MAX_ISSUERS}, as the CA's directory does")
    return names

