"""A TXT record's text: its presentation form (`"part one" "part two"`) back to one string."""

from __future__ import annotations

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype


def txt_text(presentation: str) -> str | None:
    """The character-strings of one TXT rdata joined (RFC 7208 style); None if unreadable.

    dnspython reads the quoting and escapes; a value over 255 octets arrives split."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, presentation)
    except (dns.exception.DNSException, ValueError):
        return None
    strings: tuple[bytes, ...] = rdata.strings  # type: ignore[attr-defined]
    try:
        return b"".join(strings).decode("ascii")
    except UnicodeDecodeError:
        return None
