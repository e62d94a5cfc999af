"""Twilio's published Link Shortening DNS targets, in one place.

Source: Twilio's Link Shortening onboarding guide. Twilio says the IPs can change with
notice, so a stack may override them (`lsctl:allowedIps`); everything else reads them here.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ALLOWED_IPS: tuple[str, ...] = ("3.233.187.46", "3.233.108.250", "54.157.2.211")
CNAME_TARGET = "lsct.ashburn.us1.twilio.com"
DEFAULT_TTL = 300


@dataclass(frozen=True)
class TwilioTargets:
    """Where a Link Shortening domain must point: root domains by A, subdomains by CNAME."""

    allowed_ips: tuple[str, ...] = DEFAULT_ALLOWED_IPS
    cname_target: str = CNAME_TARGET
