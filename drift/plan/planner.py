"""Declared vs live: the changes that make the zones lsctl writes, and the Twilio settings it
writes, what the stack declares. Reading is in dns_state / twilio_state; the diffs are pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drift.plan.access import Access
from drift.plan.changes import (
    ACTIONS,
    Deferred,
    DnsChange,
    Plan,
    RecordSet,
    TwilioChange,
    TwilioValue,
    Zone,
    ZonePlan,
)
from drift.plan.dns_state import Key, Live, read_primary, read_route53, zone_id_of
from drift.plan.twilio_state import TwilioLive, read_all
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.managed_records import ManagedRecord, managed_records
from linkshortening.stack.model import DnsSettings, DomainSpec, Stack

# Types that must not sit beside Twilio's target at the domain's name: an AAAA sends IPv6
# clients elsewhere; a CNAME allows no other data, so an A where the CNAME belongs goes.
MUST_BE_ABSENT = {"A": ("AAAA",), "CNAME": ("A", "AAAA")}
# The domain config's fields as the stack file names them, and DomainSpec's attributes.
CONFIG_FIELDS = (("fallbackUrl", "fallback_url"), ("callbackUrl", "callback_url"),
                 ("continueOnFailure", "continue_on_failure"), ("disableHttps", "disable_https"))


@dataclass(frozen=True)
class Wanted:
    """One record set lsctl manages: what it must be, or None where it must not exist."""

    zone: str
    domain: str
    key: Key
    desired: RecordSet | None


def make_plan(stack: Stack, specs: Sequence[DomainSpec], access: Access) -> Plan:
    """Read what lsctl writes (only that) and diff it against the stack."""
    zones: list[ZonePlan] = []
    deferred: list[Deferred] = []
    wanted = wanted_sets(stack, specs)
    for zone, settings in zone_settings(stack, specs).items():
        members = tuple(s.fqdn for s in specs if s.zone == zone)
        if settings.managed_by == "pulumi":
            deferred.append(Deferred("zone", zone, "pulumi", members))
            continue
        ours = [w for w in wanted if w.zone == zone]
        target, live = _read_zone(zone, settings, [w.key for w in ours], access)
        zones.append(ZonePlan(target, dns_changes(ours, live)))
    twilio: tuple[TwilioChange, ...] = ()
    if stack.twilio_managed_by == "lsctl":
        twilio = twilio_changes(specs, read_all(access.twilio(), specs))
    else:
        deferred.append(Deferred("twilio", "Twilio settings", "pulumi",
                                 tuple(s.fqdn for s in specs)))
    return Plan(stack.name, tuple(zones), twilio, tuple(deferred))


def _read_zone(zone: str, settings: DnsSettings, keys: list[Key],
               access: Access) -> tuple[Zone, Live]:
    if settings.provider == "rfc2136":
        server = access.primary(zone, settings)
        return (Zone(zone, "rfc2136", "lsctl", str(server), settings),
                read_primary(zone, server, keys))
    client = access.route53()
    zone_id = zone_id_of(client, zone, settings)
    return (Zone(zone, "route53", "lsctl", zone_id, settings),
            read_route53(client, zone, zone_id, keys))


def zone_settings(stack: Stack, specs: Sequence[DomainSpec]) -> dict[str, DnsSettings]:
    """Each selected zone's DNS settings: every domain of the zone (in the whole stack) must
    name the same writer, or two writers would fight over it."""
    found: dict[str, DnsSettings] = {}
    for zone in dict.fromkeys(s.zone for s in specs):
        first: tuple[int, DnsSettings] | None = None
        for i, spec in enumerate(stack.domains):
            if spec.zone != zone:
                continue
            if spec.dns is None:
                raise ConfigError(stack.source, f"lsctl:domains[{i}].dns", f"no DNS provider "
                                  f"is set for {spec.fqdn}", "set lsctl:dns (or the domain's "
                                  "dns) to route53 or rfc2136")
            if first is None:
                first = (i, spec.dns)
            elif _writer(spec.dns) != _writer(first[1]):
                raise ConfigError(stack.source, f"lsctl:domains[{i}].dns", f"zone {zone} is "
                                  f"written differently here than in domains[{first[0]}]",
                                  "give every domain of a zone the same provider, server, "
                                  "hostedZoneId and managedBy")
        assert first is not None
        found[zone] = first[1]
    return found


def _writer(settings: DnsSettings) -> tuple[str | None, ...]:
    return (settings.provider, settings.managed_by, settings.server, settings.hosted_zone_id)


def wanted_sets(stack: Stack, specs: Sequence[DomainSpec]) -> list[Wanted]:
    """Every record set lsctl manages for `specs`: `pulumi up`'s declarations (managed_records),
    and the types that must not sit beside Twilio's target."""
    wanted: list[Wanted] = []
    for record in managed_records(stack, tuple(specs)):
        wanted.append(Wanted(record.zone, record.domain, (record.name, record.type),
                             desired_set(record)))
        if record.purpose == "target":
            wanted += [Wanted(record.zone, record.domain, (record.name, rdtype), None)
                       for rdtype in MUST_BE_ABSENT.get(record.type, ())]
    return wanted


def desired_set(record: ManagedRecord) -> RecordSet:
    # The stack (and Route53's API) write TXT without quotes; DNS shows them quoted.
    values = [f'"{v}"' if record.type == "TXT" else v for v in record.values]
    return RecordSet.of(record.name, record.type, record.ttl, values)


def dns_changes(wanted: Sequence[Wanted], live: Live) -> tuple[DnsChange, ...]:
    """Deletes, then updates, then creates (a name's A goes before its CNAME comes)."""
    changes = []
    for want in wanted:
        seen, native = live.get(want.key, (None, None))
        if want.desired is None and seen is not None:
            changes.append(DnsChange("delete", want.zone, want.domain, seen, None, native))
        elif want.desired is not None and seen is None:
            changes.append(DnsChange("create", want.zone, want.domain, None, want.desired))
        elif want.desired is not None and seen is not None and seen != want.desired:
            changes.append(DnsChange("update", want.zone, want.domain, seen, want.desired,
                                     native))
    return tuple(sorted(changes, key=lambda c: ACTIONS.index(c.action)))


def twilio_changes(specs: Sequence[DomainSpec],
                   live: Mapping[str, TwilioLive]) -> tuple[TwilioChange, ...]:
    changes: list[TwilioChange] = []
    for spec in specs:
        seen = live[spec.fqdn]
        config = config_change(spec, seen)
        if config is not None:
            changes.append(config)
        for service, domain in seen.services.items():
            if domain != spec.domain_sid:
                changes.append(TwilioChange("create" if domain is None else "update",
                                            spec.fqdn, "messaging-service", service,
                                            {"domainSid": domain},
                                            {"domainSid": spec.domain_sid}))
    return tuple(changes)


def config_change(spec: DomainSpec, seen: TwilioLive) -> TwilioChange | None:
    """The config fields that differ. A URL the stack does not declare is left alone (Twilio
    cannot unset one), and so is a flag Twilio does not report."""
    before: dict[str, TwilioValue] = {}
    after: dict[str, TwilioValue] = {}
    for key, attribute in CONFIG_FIELDS:
        want, have = getattr(spec, attribute), getattr(seen.config, attribute)
        if want is None or (have is None and isinstance(want, bool)) or want == have:
            continue
        before[key], after[key] = have, want
    if not after:
        return None
    return TwilioChange("update", spec.fqdn, "domain-config", spec.domain_sid, before, after)
