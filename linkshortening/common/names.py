"""Domain-name normalisation and zone membership, shared by config, records and checks."""

from __future__ import annotations


def normalize(name: str) -> str:
    """Lower-case, without the trailing dot: the one spelling lsctl compares."""
    return name.strip().rstrip(".").lower()


def in_zone(name: str, zone: str) -> bool:
    """True when `name` is the zone apex or below it."""
    name, zone = normalize(name), normalize(zone)
    return name == zone or name.endswith("." + zone)
