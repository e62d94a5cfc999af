"""DNS-PERSIST-01's persistent validation record, as draft-ietf-acme-dns-persist-02 (20 Sep
2026) writes it: pure data, no I/O.

One TXT record at `_validation-persist.<domain>` per issuer domain name:

    "<issuer-domain-name>; accounturi=<accountHashPrefix>sha-256/<hash>[; policy=wildcard]
     [; persistUntil=<UNIX seconds>]"

-02 no longer puts the account URL in clear (as -00/-01 did): section 4.1 makes `accounturi`
a hashed URI, base64url(SHA-256(len(domain) || domain || thumbprint || account URL)), where
`domain` is the name the record sits at (without the label), `thumbprint` the 43 characters of
the account key's RFC 7638 thumbprint, and the prefix the CA's directory `meta.accountHashPrefix`.
So the record is bound to the account key too: a key rollover changes every value (the CA keeps
the thumbprints an account used, but lsctl republishes rather than rely on that).

The Pulumi program declares these records, `lsctl records` shows them, drift compares the
served ones, and the renewer checks them before answering the challenge: all through here.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import ACME_DIRECTORIES, DomainSpec, Stack

DRAFT = "draft-ietf-acme-dns-persist-02"
CHALLENGE = "dns-persist-01"
LABEL = "_validation-persist"
HASH_NAME = "sha-256"  # RFC 6920 Hash Name String; the one -02 makes mandatory for both ends
POLICY_WILDCARD = "wildcard"
LETS_ENCRYPT_ISSUERS = ("letsencrypt.org",)  # what Let's Encrypt's CP/CPS names
MAX_ISSUERS = 10  # -02 section 3: more is a malformed challenge


@dataclass(frozen=True)
class PersistAccount:
    """What the record binds to: the ACME account (URL and key) and the CA's names for itself."""

    account_url: str
    thumbprint: str  # base64url SHA-256 JWK thumbprint of the account key (RFC 7638)
    hash_prefix: str  # the directory's meta.accountHashPrefix
    issuer_domain_names: tuple[str, ...]


@dataclass(frozen=True)
class IssueValue:
    """One record value, RFC 8659 issue-value syntax with -02's parameters."""

    issuer: str
    accounturi: str
    wildcard: bool = False
    persist_until: int | None = None

    def text(self) -> str:
        parts = [self.issuer, f"accounturi={self.accounturi}"]
        if self.wildcard:
            parts.append(f"policy={POLICY_WILDCARD}")
        if self.persist_until is not None:
            parts.append(f"persistUntil={self.persist_until}")
        return "; ".join(parts)


@dataclass(frozen=True)
class PersistRecord:
    """The TXT record set one domain declares at one name (a value per issuer)."""

    domain: str  # the declared domain that asks for it
    name: str  # _validation-persist.<base>
    base: str  # the name it validates, and that the hash is bound to
    values: tuple[IssueValue, ...]

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(v.text() for v in self.values)


def record_name(domain: str) -> str:
    return f"{LABEL}.{domain.removeprefix('*.')}"


def hashed_account_uri(prefix: str, domain: str, thumbprint: str, account_url: str) -> str:
    """-02 section 4.1: `<prefix>sha-256/<base64url(SHA-256(len || domain || key || URL))>`."""
    name = domain.encode("ascii")
    if not 0 < len(name) <= 253:
        raise ValueError(f"{domain!r} is not a domain name a record can be bound to")
    digest = hashlib.sha256(bytes([len(name)]) + name + thumbprint.encode("ascii")
                            + account_url.encode("ascii")).digest()
    return f"{prefix}{HASH_NAME}/{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def parse_issue_value(text: str) -> IssueValue:
    """Read a served value (tags case-insensitive, unknown ones ignored, as -02 says); a
    value that is not an issue-value with an accounturi raises ValueError."""
    issuer, *params = (part.strip(" \t") for part in text.split(";"))
    if not issuer:
        raise ValueError("no issuer-domain-name")
    seen: dict[str, str] = {}
    for param in params:
        tag, sep, value = param.partition("=")
        tag = tag.strip(" \t").lower()
        if not sep or not tag:
            raise ValueError(f"{param!r} is not a tag=value parameter")
        if tag in seen:
            raise ValueError(f"{tag} is given twice")
        seen[tag] = value.strip(" \t")
    if not seen.get("accounturi"):
        raise ValueError("no accounturi parameter")
    until = seen.get("persistuntil")
    if until is not None and not until.isdigit():
        raise ValueError(f"persistUntil={until} is not a UNIX time in seconds")
    return IssueValue(issuer, seen["accounturi"],
                      seen.get("policy", "").lower() == POLICY_WILDCARD,
                      int(until) if until is not None else None)


def accepts(value: IssueValue, issuers: tuple[str, ...], accounturi: str, wildcard: bool,
            now: float) -> bool:
    """Whether a CA following -02 would accept `value` for this account (section 4)."""
    return (value.issuer in issuers and value.accounturi == accounturi
            and (value.wildcard or not wildcard)
            and (value.persist_until is None or value.persist_until > now))


def bases(spec: DomainSpec) -> tuple[tuple[str, bool], ...]:
    """The names a domain's records validate, each with whether a wildcard needs it: the
    domain and its altNames, a wildcard's base being the name under the star."""
    found: dict[str, bool] = {}
    for name in spec.names:
        base = name.removeprefix("*.")
        found[base] = found.get(base, False) or name.startswith("*.")
    return tuple(found.items())


def persist_records(spec: DomainSpec, account: PersistAccount) -> tuple[PersistRecord, ...]:
    """The records a dns-persist-01 domain declares (none for dns-01): one name per base,
    `policy=wildcard` only where a wildcard needs it."""
    if spec.challenge != CHALLENGE:
        return ()
    records = []
    for base, wildcard in bases(spec):
        uri = hashed_account_uri(account.hash_prefix, base, account.thumbprint,
                                 account.account_url)
        records.append(PersistRecord(spec.fqdn, record_name(base), base, tuple(
            IssueValue(issuer, uri, wildcard, spec.persist_until)
            for issuer in account.issuer_domain_names)))
    return tuple(records)


def uses_persist(stack: Stack) -> bool:
    return any(d.challenge == CHALLENGE for d in stack.domains)


def persist_account(stack: Stack) -> PersistAccount:
    """The account settings of the stack's persist records, or a ConfigError saying how to
    get them (`lsctl acme account create` prints each)."""
    acme = stack.acme
    fix = (f"run `lsctl acme account show --stack {stack.name}` (or `create`) and set the "
           "values it prints")
    for key, value in (("accountUri", acme.account_uri),
                       ("accountKeyThumbprint", acme.account_key_thumbprint),
                       ("accountHashPrefix", acme.account_hash_prefix)):
        if not value:
            raise ConfigError(stack.source, f"lsctl:acme.{key}",
                              f"is not set, and a domain uses {CHALLENGE}", fix)
    assert acme.account_uri and acme.account_key_thumbprint and acme.account_hash_prefix
    return PersistAccount(acme.account_uri, acme.account_key_thumbprint,
                          acme.account_hash_prefix, issuer_domain_names(stack))


def issuer_domain_names(stack: Stack) -> tuple[str, ...]:
    """lsctl:acme.issuerDomainNames, else Let's Encrypt's own for its directories."""
    if stack.acme.issuer_domain_names:
        return stack.acme.issuer_domain_names
    if stack.acme.directory_url in ACME_DIRECTORIES.values():
        return LETS_ENCRYPT_ISSUERS
    raise ConfigError(stack.source, "lsctl:acme.issuerDomainNames",
                      f"is not set, and {stack.acme.directory_url} is not Let's Encrypt",
                      "set the names the CA's directory lists in meta.issuerDomainNames "
                      f"(`lsctl acme account show --stack {stack.name}` prints them)")
