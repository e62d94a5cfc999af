"""Checks of single stack-file values: domain names, SIDs, schedules, addresses, names.

Every pattern is applied with `re.fullmatch`: `re.match` with `$` also accepts a trailing
newline ("DN...2\\n"), which then travels into Twilio URLs. Each check returns the value
(normalised where that is the point) or raises a ConfigError naming the key and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from linkshortening.common.names import in_zone, normalize
from linkshortening.stack.errors import ConfigError, quoted

DOMAIN_SID = re.compile(r"DN[0-9a-fA-F]{32}")
MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
# Twilio Admin > Domains, DNS method: a TXT record at _twilio.<domain> with this value.
VERIFICATION_TXT = re.compile(r"twilio-domain-verification=[0-9a-fA-F]{32}")
# RFC 1123 labels, ASCII only; a leading "*." is allowed only where wildcards are (altNames).
LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# EventBridge Scheduler's recurring expressions: rate(value unit) and six cron fields.
SCHEDULE = re.compile(r"rate\([1-9][0-9]{0,5} (?:minute|hour|day)s?\)"
                      r"|cron\((?:[0-9A-Za-z*?,/#-]+ ){5}[0-9A-Za-z*?,/#-]+\)")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `host`, `host:port`, `[v6]:port` or a bare IPv6 address, as rfc2136.Endpoint.parse reads it.
SERVER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::[0-9]{1,5})?|[0-9A-Fa-f:.]+")
HOSTED_ZONE_ID = re.compile(r"(?:/hostedzone/)?[A-Z0-9]{1,32}")
TSIG_KEY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,253}")
PROFILE = re.compile(r"[A-Za-z0-9._-]{1,64}")

Check = Callable[[str, str, str], str]  # (value, key, source) -> the value to keep
ASCII_FIX = ("write names in ASCII; give an internationalised name as its punycode A-label, "
             "e.g. xn--bcher-kva.example for bücher.example")


def matching(pattern: re.Pattern[str], what: str, fix: str) -> Check:
    """A check that `value` is entirely `pattern` (what: "an e-mail address")."""
    def check(value: str, key: str, source: str) -> str:
        if not pattern.fullmatch(value):
            raise ConfigError(source, key, f"{quoted(value)} is not {what}", fix)
        return value
    return check


domain_sid = matching(DOMAIN_SID, "a Twilio Domain SID", "copy it from Console > Admin Center > "
                      "Domains (DN followed by 32 hex digits)")
service_sid = matching(MESSAGING_SERVICE_SID, "a Messaging Service SID", "copy it from Console > "
                       "Messaging > Services (MG followed by 32 hex digits)")
verification_txt = matching(VERIFICATION_TXT, "a Twilio domain-verification value",
                            "copy it from Twilio Admin > Domains > Verify (DNS method): "
                            "twilio-domain-verification= followed by 32 hex digits")


def hostname(value: str, key: str, source: str, wildcard: bool) -> str:
    """A fully qualified ASCII name, lower case, without the trailing dot."""
    if not value.isascii():
        # lower() and NFKC fold lookalikes (the Kelvin sign U+212A becomes "k"): a name that
        # only becomes valid by folding is not the name the operator sees, so refuse it.
        at = next(i for i, c in enumerate(value) if not c.isascii())
        raise ConfigError(source, key, f"{quoted(value)} is not ASCII (U+{ord(value[at]):04X} "
                          f"at position {at + 1})", ASCII_FIX)
    name = normalize(value)
    if len(name) > 253:
        raise ConfigError(source, key, f"{quoted(value)} is longer than a domain name can be "
                          "(253 characters)", "use a fully qualified name such as "
                          "links.example.com")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise ConfigError(source, key, f"{quoted(value)} is an IP address, not a domain name",
                          "Link Shortening domains are names: use one such as links.example.com")
    labels = name.split(".")
    if wildcard and labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2 or not all(LABEL.fullmatch(label) for label in labels):
        raise ConfigError(source, key, f"{quoted(value)} is not a valid domain name",
                          "use a fully qualified name such as links.example.com")
    if labels[-1].isdigit():
        raise ConfigError(source, key, f"{quoted(value)} ends in an all-numeric label, "
                          "which no top-level domain is", "use a name such as links.example.com")
    return name


def alt_name(value: str, key: str, source: str, zone: str) -> str:
    name = hostname(value, key, source, wildcard=True)
    if not in_zone(name.removeprefix("*."), zone):
        raise ConfigError(source, key, f"{name} is outside the zone {zone}",
                          f"use names ending in .{zone}")
    return name


def ipv4(value: str, key: str, source: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ConfigError(source, key, f"{quoted(value)} is not an IPv4 address",
                          "list Twilio's published Link Shortening IPs") from None


schedule = matching(SCHEDULE, "an EventBridge schedule expression",
                    "use rate(12 hours) or cron(17 3,15 * * ? *)")
env_name = matching(ENV_NAME, "an environment variable name",
                    "name the variable, e.g. LSCTL_TSIG_SECRET (letters, digits, _)")
server = matching(SERVER, "a DNS server address",
                  "use host, host:port or [IPv6]:port, e.g. ns1.example.org:53")
hosted_zone_id = matching(HOSTED_ZONE_ID, "a Route53 hosted zone ID",
                          "copy it from Route53 > Hosted zones, e.g. Z0123456789ABCDEFGHIJ")
tsig_key_name = matching(TSIG_KEY_NAME, "a TSIG key name",
                         "use the key name the server accepts, e.g. lsctl-acme")
profile = matching(PROFILE, "an ACME profile name", "use a name the CA offers, e.g. tlsserver")
