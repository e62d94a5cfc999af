"""Validate the `lsctl:` keys of one stack into a `Stack` of `DomainSpec`s.

The Pulumi program, the renewer and the drift checker all read stacks through this module,
so what is declared, renewed and checked cannot disagree. Every problem is a `ConfigError`
naming the file, the key and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from linkshortening.common.names import in_zone, normalize
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import (
    ACME_DIRECTORIES,
    RATE_LIMIT_KEYS,
    AcmeSettings,
    DnsSettings,
    DomainSpec,
    RenewalSettings,
    Stack,
)
from linkshortening.stack.reader import Reader
from linkshortening.stack.targets import DEFAULT_ALLOWED_IPS, DEFAULT_TTL, TwilioTargets

NAMESPACE = "lsctl"
# The stack-level keys under `lsctl:`; the Pulumi program reads exactly these from pulumi.Config.
STACK_KEYS = ("domains", "allowedIps", "ttl", "dns", "acme", "renewal")
# Credentials for `pulumi up`, set with `pulumi config set --secret`: the Pulumi program reads
# them; the loader accepts them in the file (as {secure: ...}) and keeps them out of `Stack`.
SECRET_KEYS = ("twilioAccountSid", "twilioAuthToken", "twilioApiKey", "twilioApiSecret",
               "tsigSecret")
DOMAIN_SID = re.compile(r"^DN[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
# Twilio Admin > Domains, DNS method: a TXT record at _twilio.<domain> with this value.
VERIFICATION_TXT = re.compile(r"^twilio-domain-verification=[0-9a-fA-F]{32}$")
# RFC 1123 labels; a leading "*." is allowed only where wildcards are (altNames).
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
DNS_PROVIDERS = ("route53", "rfc2136")
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")

KEY_TYPES = ("ecdsa-p256", "rsa-2048")
STATE_BACKENDS = ("directory", "secretsmanager")


def parse_stack(config: Mapping[str, Any], source: str, name: str) -> Stack:
    """Validate the `lsctl:` keys of one stack (given without their namespace prefix)."""
    try:
        return _parse_stack(config, source, name)
    except ConfigError as exc:
        if not exc.key or exc.key.startswith("--"):
            raise
        # Report keys as they are written in the stack file and `pulumi config`.
        raise ConfigError(source, f"{NAMESPACE}:{exc.key}", exc.problem, exc.fix) from None


def _parse_stack(config: Mapping[str, Any], source: str, name: str) -> Stack:
    top = Reader(source, "", config)
    raw_ips = top.strings("allowedIps", lambda v, k: _ipv4(v, k, source))
    if top.get("allowedIps") is not None and not raw_ips:
        raise top.error("allowedIps", "is empty", "list Twilio's published IPs, or remove the key")
    ips = raw_ips or DEFAULT_ALLOWED_IPS
    ttl = top.integer("ttl", DEFAULT_TTL, 30, 86400)
    default_dns = _dns(source, top.key("dns"), top.get("dns"))
    acme = _acme(source, top.get("acme"))
    renewal = _renewal(source, top.get("renewal"))
    for secret in SECRET_KEYS:
        top.get(secret)  # accepted, read by the Pulumi program only
    raw_domains = top.get("domains", required=True,
                          fix="declare a list under lsctl:domains (see stacks/Pulumi.example.yaml)")
    if not isinstance(raw_domains, list) or not raw_domains:
        raise top.error("domains", "must be a non-empty list", "declare at least one domain")
    top.finish()

    domains: list[DomainSpec] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_domains):
        spec = _domain(source, f"domains[{i}]", raw, ttl, default_dns)
        if spec.fqdn in seen:
            raise ConfigError(source, f"domains[{i}].fqdn",
                              f"{spec.fqdn} is declared twice (also domains[{seen[spec.fqdn]}])",
                              "keep one entry per domain")
        seen[spec.fqdn] = i
        domains.append(spec)
    return Stack(name=name, source=source, domains=tuple(domains),
                 targets=TwilioTargets(allowed_ips=ips), acme=acme, renewal=renewal)


def _renewal(source: str, raw: object) -> RenewalSettings:
    if raw is None:
        return RenewalSettings()
    r = Reader(source, "renewal", raw)
    schedule = r.string("schedule") or "rate(12 hours)"
    if not re.match(r"^(rate|cron)\(.+\)$", schedule):
        raise r.error("schedule", f"{schedule!r} is not an EventBridge schedule expression",
                      "use rate(12 hours) or cron(17 3,15 * * ? *)")
    email = r.string("alarmEmail")
    if email is not None and "@" not in email:
        raise r.error("alarmEmail", f"{email!r} is not an e-mail address",
                      "give the address that should get expiry alarms")
    settings = RenewalSettings(
        schedule=schedule,
        flexible_window_minutes=r.integer("flexibleWindowMinutes", 60, 1, 1440),
        alarm_days=r.integer("alarmDays", 21, 1, 89),
        alarm_email=email,
        memory_mb=r.integer("memoryMb", 512, 128, 10240),
        timeout_seconds=r.integer("timeoutSeconds", 900, 60, 900),
        enabled=r.boolean("enabled", True),
        reserve_concurrency=r.boolean("reserveConcurrency", True),
    )
    r.finish()
    return settings


def _acme(source: str, raw: object) -> AcmeSettings:
    if raw is None:
        return AcmeSettings()
    r = Reader(source, "acme", raw)
    directory = r.string("directory") or "letsencrypt"
    url = ACME_DIRECTORIES.get(directory, directory)
    if urlsplit(url).scheme != "https":
        raise r.error("directory", f"{directory!r} is neither a known CA nor an https:// URL",
                      f"use {' or '.join(ACME_DIRECTORIES)}, or the CA's https directory URL")
    email = r.string("email")
    if email is not None and "@" not in email:
        raise r.error("email", f"{email!r} is not an e-mail address",
                      "give the address the CA should write to about expiring certificates")
    interval = r.get("propagationInterval")
    if interval is not None and (isinstance(interval, bool)
                                 or not isinstance(interval, int | float) or interval <= 0):
        raise r.error("propagationInterval", f"expected seconds > 0, got {interval!r}",
                      "use a number such as 2")
    fraction = r.get("renewWhenLifetimeLeft")
    if fraction is not None and (isinstance(fraction, bool)
                                 or not isinstance(fraction, int | float)
                                 or not 0 < fraction < 1):
        raise r.error("renewWhenLifetimeLeft", f"expected a fraction between 0 and 1, "
                      f"got {fraction!r}", "use e.g. 0.33 to renew with a third left")
    limits = Reader(source, "acme.rateLimits", r.get("rateLimits") or {})
    rate_limits = tuple((key, value) for key in RATE_LIMIT_KEYS
                        if (value := limits.integer(key, 0, 1, 10_000_000)))
    limits.finish()
    state = r.get("state") or {}
    s = Reader(source, "acme.state", state)
    settings = AcmeSettings(
        directory_url=url,
        email=email,
        agree_tos=r.boolean("agreeTos", False),
        key_type=r.choice("keyType", KEY_TYPES, "ecdsa-p256") or "ecdsa-p256",
        renew_fraction=float(fraction) if fraction is not None else 1 / 3,
        profile=r.string("profile"),
        eab_kid_env=r.string("eabKidEnv") or "LSCTL_EAB_KID",
        eab_hmac_env=r.string("eabHmacEnv") or "LSCTL_EAB_HMAC",
        propagation_timeout=r.integer("propagationTimeout", 120, 1, 3600),
        propagation_interval=float(interval) if interval is not None else 2.0,
        propagation_check=r.boolean("propagationCheck", True),
        state_backend=s.choice("backend", STATE_BACKENDS, "directory") or "directory",
        state_location=s.string("location"),
        rate_limits=rate_limits,
    )
    s.finish()
    r.finish()
    return settings


def _domain(source: str, path: str, raw: object, ttl: int,
            default_dns: DnsSettings | None) -> DomainSpec:
    r = Reader(source, path, raw)
    fqdn = _hostname(r.string("fqdn", True, "give the domain, e.g. fqdn: links.example.com"),
                     r.key("fqdn"), source, wildcard=False)
    zone = _hostname(r.string("zone", True, "give the DNS zone that holds it, e.g. example.com"),
                     r.key("zone"), source, wildcard=False)
    if not in_zone(fqdn, zone):
        raise r.error("fqdn", f"{fqdn} is outside its zone {zone}",
                      f"use a name ending in .{zone}, or set zone to the zone that holds {fqdn}")
    sid = r.string("domainSid", True, "copy the Domain SID from Console > Admin Center > Domains")
    assert sid is not None
    if not DOMAIN_SID.match(sid):
        raise r.error("domainSid", f"{sid!r} is not a Twilio Domain SID",
                      "copy it from Console > Admin Center > Domains "
                      "(DN followed by 32 hex digits)")
    services = r.strings("messagingServiceSids", lambda v, k: _service_sid(v, k, source))
    alt = r.strings("altNames", lambda v, k: _alt_name(v, k, source, zone))
    dns_raw = r.get("dns")
    spec = DomainSpec(
        fqdn=fqdn,
        zone=zone,
        domain_sid=sid,
        messaging_service_sids=services,
        fallback_url=_https(r, "fallbackUrl"),
        callback_url=_https(r, "callbackUrl"),
        continue_on_failure=r.boolean("continueOnFailure", True),
        disable_https=r.boolean("disableHttps", False),
        certificate=r.choice("certificate", ("acme", "managed"), "acme"),  # type: ignore[arg-type]
        alt_names=tuple(a for a in dict.fromkeys(alt) if a != fqdn),
        ttl=r.integer("ttl", ttl, 30, 86400),
        dns=_dns(source, r.key("dns"), dns_raw) if dns_raw is not None else default_dns,
        caa=r.boolean("caa", False),
        verification_txt=_verification_txt(r),
        allow_overwrite=r.boolean("allowOverwrite", False),
    )
    r.finish()
    return spec


def _dns(source: str, path: str, raw: object) -> DnsSettings | None:
    if raw is None:
        return None
    r = Reader(source, path, raw)
    provider = r.choice("provider", DNS_PROVIDERS, None)
    if provider is None:
        raise r.error("provider", "is required but missing", "set provider: route53 or rfc2136")
    if provider == "route53":
        settings = DnsSettings(provider="route53", hosted_zone_id=r.string("hostedZoneId"))
    else:
        algorithm = r.choice("tsigAlgorithm", TSIG_ALGORITHMS, "hmac-sha256")
        assert algorithm is not None
        settings = DnsSettings(
            provider="rfc2136",
            server=r.string("server"),
            tsig_key_name=r.string("tsigKeyName", True, "name the TSIG key the server accepts"),
            tsig_algorithm=algorithm,
            tsig_secret_env=r.string("tsigSecretEnv") or "LSCTL_TSIG_SECRET",
        )
    r.finish()
    return settings


def _hostname(value: str | None, key: str, source: str, wildcard: bool) -> str:
    assert value is not None
    name = normalize(value)
    labels = name.split(".")
    if wildcard and labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2 or len(name) > 253 or not all(LABEL.match(label) for label in labels):
        raise ConfigError(source, key, f"{value!r} is not a valid domain name",
                          "use a fully qualified name such as links.example.com")
    return name


def _alt_name(value: str, key: str, source: str, zone: str) -> str:
    name = _hostname(value, key, source, wildcard=True)
    if not in_zone(name.removeprefix("*."), zone):
        raise ConfigError(source, key, f"{name} is outside the zone {zone}",
                          f"use names ending in .{zone}")
    return name


def _service_sid(value: str, key: str, source: str) -> str:
    if not MESSAGING_SERVICE_SID.match(value):
        raise ConfigError(source, key, f"{value!r} is not a Messaging Service SID",
                          "copy it from Console > Messaging > Services (MG followed by 32 hex "
                          "digits)")
    return value


def _ipv4(value: str, key: str, source: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ConfigError(source, key, f"{value!r} is not an IPv4 address",
                          "list Twilio's published Link Shortening IPs") from None


def _verification_txt(r: Reader) -> str | None:
    value = r.string("verificationTxt")
    if value is not None and not VERIFICATION_TXT.match(value):
        raise r.error("verificationTxt", f"{value!r} is not a Twilio domain-verification value",
                      "copy it from Twilio Admin > Domains > Verify (DNS method): "
                      "twilio-domain-verification= followed by 32 hex digits")
    return value


def _https(r: Reader, name: str) -> str | None:
    url = r.string(name)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise r.error(name, f"{url!r} is not an https:// URL",
                      "Twilio calls and redirects only to https URLs: use https://...")
    return url
