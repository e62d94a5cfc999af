"""RFC 8659 in one question: may this CA issue for this name, given its relevant CAA set?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CRITICAL = 128  # the issuer-critical flag: a CA must refuse a critical property it does not know
KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "issuevmc",
                        "contactemail", "contactphone"})


@dataclass(frozen=True)
class Property:
    flags: int
    tag: str
    value: str


def parse(record: str) -> Property | None:
    """`0 issue "letsencrypt.org; validationmethods=dns-01"` -> its parts; None if malformed."""
    parts = record.split(None, 2)
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    value = parts[2]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return Property(int(parts[0]), parts[1].lower(), value)


def permits(records: Iterable[str], issuer: str, wildcard: bool) -> bool:
    """Whether the CA whose issuer domain name is `issuer` may issue (RFC 8659 sections 4.2
    and 4.3): no `issue` property means anyone may; `issuewild`, when present, rules wildcard
    names; an empty value (`;`) means no one."""
    properties = [p for p in map(parse, records) if p is not None]
    if any(p.flags & CRITICAL and p.tag not in KNOWN_TAGS for p in properties):
        return False
    issue = [p for p in properties if p.tag == "issue"]
    wild = [p for p in properties if p.tag == "issuewild"]
    relevant = wild if wildcard and wild else issue
    if not relevant:
        return True
    return any(_issuer(p.value) == issuer.lower() for p in relevant)


def _issuer(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()
