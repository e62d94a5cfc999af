"""DNS-PERSIST-01 in the renewer (draft-ietf-acme-dns-persist-02): the challenge as typed
`acme` messages registered the library's own way, and the check that the persistent record is
served by every authoritative nameserver before the challenge is answered.

Answering needs no DNS write and no cleanup: the record is declared by `pulumi up` (or added
by hand from `lsctl records`) and stays.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from acme import challenges, messages
from josepy.b64 import b64encode
from josepy.json_util import JSONObjectWithFields, field
from josepy.jwk import JWK

from linkshortening.dns import query as dnsquery
from linkshortening.dns.txt import txt_text
from linkshortening.stack.persist_record import (
    CHALLENGE,
    DRAFT,
    MAX_ISSUERS,
    IssueValue,
    accepts,
    hashed_account_uri,
    parse_issue_value,
    record_name,
)

if TYPE_CHECKING:
    from acme_renewer.issuance import AcmeSession


@challenges.ChallengeResponse.register
class DNSPersist01Response(challenges.ChallengeResponse):
    """The answer: an empty object, as for every RFC 8555 challenge (`type` is dropped)."""

    typ = CHALLENGE

    def __bool__(self) -> bool:
        # A message without fields is an empty mapping, so falsy, and ClientNetwork signs a
        # falsy payload as "" (POST-as-GET: a look, not an answer). The answer is "{}".
        return True


@challenges.Challenge.register
class DNSPersist01(challenges.Challenge):
    """-02 section 3: `issuerDomainNames` (renamed from -01's `issuer-domain-names`), no token."""

    typ = CHALLENGE
    # Kept as sent: a malformed list is judged (and fallen back from) where it is used, so
    # one odd challenge does not make the whole authorization unreadable.
    issuer_domain_names: tuple[str, ...] = field(
        "issuerDomainNames", omitempty=True, default=(),
        decoder=lambda names: tuple(str(n) for n in names) if isinstance(names, list) else ())

    def response(self) -> DNSPersist01Response:
        return DNSPersist01Response()


class PersistMeta(JSONObjectWithFields):
    """-02's directory `meta` fields, which the `acme` library's Directory.Meta drops."""

    issuer_domain_names: tuple[str, ...] = field(
        "issuerDomainNames", omitempty=True, default=(),
        decoder=lambda names: tuple(str(n) for n in names) if isinstance(names, list) else ())
    account_hash_prefix: str | None = field("accountHashPrefix", omitempty=True)


class PersistRecordMissing(Exception):
    """The record the CA will look for is not served by every authoritative nameserver."""


_meta_lock = threading.Lock()


def persist_meta(session: AcmeSession) -> PersistMeta:
    """The directory's -02 meta fields, read once per session."""
    with _meta_lock:
        cached: PersistMeta | None = getattr(session, "_persist_meta", None)
        if cached is None:
            # The session's own client: the same TLS trust and retries as every ACME call.
            response = session.client().net.get(session.account.directory_url)
            document: dict[str, Any] = response.json()
            cached = PersistMeta.from_json(document.get("meta") or {})
            session._persist_meta = cached  # type: ignore[attr-defined]
        return cached


def thumbprint(key: JWK) -> str:
    """RFC 7638 SHA-256 thumbprint of the public key, base64url: what -02 hashes."""
    return b64encode(key.public_key().thumbprint()).decode()


def choose(session: AcmeSession, authzr: messages.AuthorizationResource
           ) -> tuple[messages.ChallengeBody | None, str | None]:
    """The dns-persist-01 challenge to answer, its record checked on every nameserver; or
    None and why dns-01 is used instead. Raises PersistRecordMissing when the CA offers it
    but the record is not (yet) served: publishing it is `pulumi up`'s job, not the run's."""
    identifier = authzr.body.identifier.value
    challb = next((c for c in authzr.body.challenges if isinstance(c.chall, DNSPersist01)),
                  None)
    if challb is None:
        return None, f"{identifier}: the CA offers no {CHALLENGE} challenge; used dns-01"
    issuers = challb.chall.issuer_domain_names
    prefix = persist_meta(session).account_hash_prefix
    if not 1 <= len(issuers) <= MAX_ISSUERS or not prefix:
        why = (f"{len(issuers)} issuerDomainNames" if prefix else
               "a directory without meta.accountHashPrefix")
        return None, f"{identifier}: malformed {CHALLENGE} ({why}, {DRAFT}); used dns-01"
    assert session.account.account_url is not None
    uri = hashed_account_uri(prefix, identifier, thumbprint(session.account.key),
                             session.account.account_url)
    _check_served(record_name(identifier), issuers, uri, bool(authzr.body.wildcard))
    return challb, None


def _check_served(name: str, issuers: tuple[str, ...], accounturi: str, wildcard: bool) -> None:
    now = time.time()
    missing = []
    for server in dnsquery.nameservers(dnsquery.zone_of(name)):
        served = dnsquery.ask(server, name, "TXT").values
        values = [parse(v) for v in served]
        if not any(v is not None and accepts(v, issuers, accounturi, wildcard, now)
                   for v in values):
            missing.append(str(server))
    if missing:
        policy = "; policy=wildcard" if wildcard else ""
        raise PersistRecordMissing(
            f"{name} TXT \"{issuers[0]}; accounturi={accounturi}{policy}\" is not served by "
            f"{', '.join(missing)}: declare it (pulumi up, or lsctl records) and run again")


def parse(presentation: str) -> IssueValue | None:
    """A served TXT value as an IssueValue, or None when it is not one."""
    text = txt_text(presentation)
    if text is None:
        return None
    try:
        return parse_issue_value(text)
    except ValueError:
        return None
