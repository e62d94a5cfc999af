"""Validate the `lsctl:` keys of one stack into a `Stack` of `DomainSpec`s.

The Pulumi program, the renewer and the drift checker all read stacks through this module,
so what is declared, renewed and checked cannot disagree. Every problem is a `ConfigError`
naming the file, the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from linkshortening.common.names import in_zone
from linkshortening.stack import persist_config, twilio_accounts, values
from linkshortening.stack.drift_ignore import KEY as DRIFT_IGNORE
from linkshortening.stack.drift_ignore import parse_drift_ignore
from linkshortening.stack.errors import ConfigError, quoted
from linkshortening.stack.model import (
    ACME_DIRECTORIES,
    CERTIFICATE_MODES,
    RATE_LIMIT_KEYS,
    AcmeSettings,
    DnsSettings,
    DomainSpec,
    RenewalSettings,
    Stack,
    TwilioAccount,
)
from linkshortening.stack.reader import Reader, pulumi_scalar
from linkshortening.stack.s3_url import split_s3_url
from linkshortening.stack.targets import DEFAULT_ALLOWED_IPS, DEFAULT_TTL, TwilioTargets

NAMESPACE = "lsctl"
# The stack-level keys under `lsctl:`; the Pulumi program reads exactly these from pulumi.Config.
STACK_KEYS = ("domains", "allowedIps", "ttl", "dns", "acme", "renewal", "twilio",
              "driftIgnore", "twilioAccounts")
# Credentials for `pulumi up`, set with `pulumi config set --secret`: the Pulumi program reads
# them; the loader accepts them in the file (as {secure: ...}) and keeps them out of `Stack`.
SECRET_KEYS = ("twilioAccountSid", "twilioAuthToken", "twilioApiKey", "twilioApiSecret",
               "tsigSecret")
DNS_PROVIDERS = ("route53", "rfc2136")
WRITERS = ("pulumi", "lsctl")
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")

KEY_TYPES = ("ecdsa-p256", "rsa-2048")
STATE_BACKENDS = ("directory", "secretsmanager", "s3")


def parse_stack(config: Mapping[str, Any], source: str, name: str,
                today: dt.date | None = None) -> Stack:
    """Validate the `lsctl:` keys of one stack (given without their namespace prefix);
    `today` (UTC by default) bounds lsctl:driftIgnore's dates."""
    try:
        return _parse_stack(config, source, name, today or dt.datetime.now(dt.UTC).date())
    except ConfigError as exc:
        if not exc.key or exc.key.startswith("--"):
            raise
        # Report keys as they are written in the stack file and `pulumi config`.
        raise ConfigError(source, f"{NAMESPACE}:{exc.key}", exc.problem, exc.fix) from None


def _parse_stack(config: Mapping[str, Any], source: str, name: str, today: dt.date) -> Stack:
    top = Reader(source, "", config)
    raw_ips = top.strings("allowedIps", lambda v, k: values.ipv4(v, k, source))
    if top.get("allowedIps") is not None and not raw_ips:
        raise top.error("allowedIps", "is empty", "list Twilio's published IPs, or remove the key")
    ips = raw_ips or DEFAULT_ALLOWED_IPS
    ttl = top.integer("ttl", DEFAULT_TTL, 30, 86400)
    default_dns = _dns(source, top.key("dns"), top.get("dns"))
    acme = _acme(source, top.get("acme"))
    renewal = _renewal(source, top.get("renewal"))
    accounts = twilio_accounts.parse_accounts(source, top.get(twilio_accounts.KEY))
    twilio_writer, default_account = _twilio(source, top.get("twilio"), accounts)
    raw_ignore = top.get(DRIFT_IGNORE)  # lsctl:driftIgnore, checked once domains are known
    for secret in (*SECRET_KEYS, *(a.pulumi_secret for a in accounts)):
        top.get(secret)  # accepted, read by the Pulumi program only
    raw_domains = top.get("domains", required=True,
                          fix="declare a list under lsctl:domains (see stacks/Pulumi.example.yaml)")
    if not isinstance(raw_domains, list) or not raw_domains:
        raise top.error("domains", "must be a non-empty list", "declare at least one domain")
    top.finish()

    domains = tuple(_domain(source, f"domains[{i}]", raw, ttl, default_dns, acme,
                            accounts, default_account)
                    for i, raw in enumerate(raw_domains))
    twilio_accounts.refuse_two_accounts(source, domains)
    _refuse_shared(source, domains)
    ignore = parse_drift_ignore(source, raw_ignore, {n for d in domains for n in (d.fqdn, d.zone)},
                                today)
    return Stack(name=name, source=source, domains=domains,
                 targets=TwilioTargets(allowed_ips=ips), acme=acme, renewal=renewal,
                 twilio_managed_by="lsctl" if twilio_writer == "lsctl" else "pulumi",
                 drift_ignore=ignore, twilio_accounts=accounts)


def _twilio(source: str, raw: object, accounts: tuple[TwilioAccount, ...]
            ) -> tuple[str, str | None]:
    """`lsctl:twilio: {managedBy: pulumi | lsctl, defaultAccount: name}`: who sets the
    Twilio-side settings, and the account of domains that name none."""
    if raw is None:
        return "pulumi", twilio_accounts.default_account(source, accounts, None)
    r = Reader(source, "twilio", raw)
    writer = r.choice("managedBy", WRITERS, "pulumi") or "pulumi"
    default = twilio_accounts.default_account(source, accounts, r.string("defaultAccount"))
    r.finish()
    return writer, default


def _renewal(source: str, raw: object) -> RenewalSettings:
    if raw is None:
        return RenewalSettings()
    r = Reader(source, "renewal", raw)
    settings = RenewalSettings(
        # Both follow the profile's lifetime when absent; a declared one is checked against
        # it at `pulumi up` (linkshortening.stack.profiles), never when the renewer loads.
        schedule=_checked(r, "schedule", values.schedule),
        flexible_window_minutes=r.integer("flexibleWindowMinutes", 60, 1, 1440),
        alarm_days=r.integer("alarmDays", 0, 1, 365) if r.get("alarmDays") is not None
        else None,
        alarm_email=_checked(r, "alarmEmail", values.matching(
            values.EMAIL, "an e-mail address", "give the address that should get expiry alarms")),
        memory_mb=r.integer("memoryMb", 512, 128, 10240),
        timeout_seconds=r.integer("timeoutSeconds", 900, 60, 900),
        enabled=r.boolean("enabled", True),
        reserve_concurrency=r.boolean("reserveConcurrency", True),
        mode=r.choice("mode", ("single", "fanout"), None),
        max_concurrency=r.integer("maxConcurrency", 4, 1, 40),
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
        raise r.error("directory",
                      f"{quoted(directory)} is neither a known CA nor an https:// URL",
                      f"use {' or '.join(ACME_DIRECTORIES)}, or the CA's https directory URL")
    email = _checked(r, "email", values.matching(
        values.EMAIL, "an e-mail address",
        "give the address the CA should write to about expiring certificates"))
    interval = _number(r, "propagationInterval", 0, 3600, "seconds between 0 and 3600",
                       "use a number such as 2")
    fraction = _number(r, "renewWhenLifetimeLeft", 0, 1, "a fraction between 0 and 1",
                       "use e.g. 0.33 to renew with a third left")
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
        profile=_checked(r, "profile", values.profile),
        cnless_confirmed=r.boolean("cnlessConfirmed", False),
        eab_kid_env=_checked(r, "eabKidEnv", values.env_name) or "LSCTL_EAB_KID",
        eab_hmac_env=_checked(r, "eabHmacEnv", values.env_name) or "LSCTL_EAB_HMAC",
        propagation_timeout=r.integer("propagationTimeout", 120, 1, 3600),
        propagation_interval=float(interval) if interval is not None else 2.0,
        propagation_check=r.boolean("propagationCheck", True),
        state_backend=s.choice("backend", STATE_BACKENDS, "directory") or "directory",
        state_location=s.string("location"),
        state_kms_key_id=s.string("kmsKeyId"),
        state_managed=s.boolean("managed", False),
        rate_limits=rate_limits,
        **persist_config.acme_keys(r),
    )
    _check_s3_state(s, settings)
    s.finish()
    r.finish()
    return settings


def _check_s3_state(s: Reader, settings: AcmeSettings) -> None:
    if settings.state_backend != "s3":
        for key in ("kmsKeyId", "managed"):
            if s.get(key) is not None:
                raise s.error(key, "applies only to backend: s3", "remove it, or use s3")
        return
    if settings.state_location is None:
        raise s.error("location", "is required for backend s3",
                      "give the bucket and prefix, e.g. s3://my-bucket/lsctl/prod")
    try:
        split_s3_url(settings.state_location)
    except ValueError as exc:
        raise s.error("location", str(exc), "use s3://bucket/prefix") from None


def _domain(source: str, path: str, raw: object, ttl: int,
            default_dns: DnsSettings | None, acme: AcmeSettings,
            accounts: tuple[TwilioAccount, ...], default_account: str | None) -> DomainSpec:
    r = Reader(source, path, raw)
    fqdn = _required(r, "fqdn", "give the domain, e.g. fqdn: links.example.com",
                     lambda v, k, s: values.hostname(v, k, s, wildcard=False))
    zone = _required(r, "zone", "give the DNS zone that holds it, e.g. example.com",
                     lambda v, k, s: values.hostname(v, k, s, wildcard=False))
    if not in_zone(fqdn, zone):
        raise r.error("fqdn", f"{fqdn} is outside its zone {zone}",
                      f"use a name ending in .{zone}, or set zone to the zone that holds {fqdn}")
    sid = _required(r, "domainSid", "copy the Domain SID from Console > Admin Center > Domains",
                    values.domain_sid)
    account, services, service_accounts = twilio_accounts.domain_accounts(
        r, accounts, default_account)
    alt = r.strings("altNames", lambda v, k: values.alt_name(v, k, source, zone))
    dns_raw = r.get("dns")
    alt_names = tuple(a for a in dict.fromkeys(alt) if a != fqdn)
    certificate = r.choice("certificate", CERTIFICATE_MODES, "acme")
    spec = DomainSpec(
        fqdn=fqdn,
        zone=zone,
        domain_sid=sid,
        messaging_service_sids=services,
        fallback_url=_https(r, "fallbackUrl"),
        callback_url=_https(r, "callbackUrl"),
        continue_on_failure=r.boolean("continueOnFailure", True),
        disable_https=r.boolean("disableHttps", False),
        certificate=certificate,  # type: ignore[arg-type]
        alt_names=alt_names,
        ttl=r.integer("ttl", ttl, 30, 86400),
        dns=_dns(source, r.key("dns"), dns_raw) if dns_raw is not None else default_dns,
        caa=r.boolean("caa", False),
        verification_txt=_checked(r, "verificationTxt", values.verification_txt),
        allow_overwrite=r.boolean("allowOverwrite", False),
        account=account,
        service_accounts=service_accounts,
        **persist_config.domain_keys(r, acme, alt_names, certificate or "acme"),
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
        writer = r.choice("managedBy", WRITERS, "pulumi")
        settings = DnsSettings(provider="route53",
                               hosted_zone_id=_checked(r, "hostedZoneId", values.hosted_zone_id),
                               managed_by="lsctl" if writer == "lsctl" else "pulumi")
    else:
        if r.choice("managedBy", WRITERS, "lsctl") == "pulumi":
            raise r.error("managedBy", "pulumi declares records only in Route53 zones",
                          "remove it: lsctl apply writes the records of RFC 2136 zones")
        algorithm = r.choice("tsigAlgorithm", TSIG_ALGORITHMS, "hmac-sha256")
        assert algorithm is not None
        settings = DnsSettings(
            provider="rfc2136",
            server=_checked(r, "server", values.server),
            tsig_key_name=_required(r, "tsigKeyName", "name the TSIG key the server accepts",
                                    values.tsig_key_name),
            tsig_algorithm=algorithm,
            tsig_secret_env=_checked(r, "tsigSecretEnv", values.env_name) or "LSCTL_TSIG_SECRET",
            managed_by="lsctl",
        )
    r.finish()
    return settings


def _checked(r: Reader, name: str, check: values.Check) -> str | None:
    """The string at `name` (None when absent), passed through `check`."""
    value = r.string(name)
    return None if value is None else check(value, r.key(name), r.source)


def _required(r: Reader, name: str, fix: str, check: values.Check) -> str:
    value = r.string(name, True, fix)
    assert value is not None
    return check(value, r.key(name), r.source)


def _number(r: Reader, name: str, low: float, high: float, what: str,
            fix: str) -> float | None:
    """A finite number strictly between low and high: `.nan` compares false with anything."""
    value = pulumi_scalar(r.get(name))
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not low < value < high):
        raise r.error(name, f"expected {what}, got {quoted(value)}", fix)
    return float(value)


def _refuse_shared(source: str, domains: Sequence[DomainSpec]) -> None:
    """One fqdn, one Domain SID, one domain per Messaging Service: two fqdns on one SID would
    overwrite each other's certificate, and Twilio refuses a shared service (30130) late."""
    fqdns: dict[str, int] = {}
    sids: dict[str, int] = {}
    services: dict[str, tuple[int, int]] = {}
    for i, spec in enumerate(domains):
        if spec.fqdn in fqdns:
            raise ConfigError(source, f"domains[{i}].fqdn",
                              f"{spec.fqdn} is declared twice (also domains[{fqdns[spec.fqdn]}])",
                              "keep one entry per domain")
        fqdns[spec.fqdn] = i
        if spec.domain_sid in sids:
            j = sids[spec.domain_sid]
            raise ConfigError(source, f"domains[{i}].domainSid",
                              f"{spec.domain_sid} is also the domainSid of domains[{j}] "
                              f"({domains[j].fqdn})",
                              f"each domain has its own SID: copy the one of {spec.fqdn} from "
                              "Console > Admin Center > Domains")
        sids[spec.domain_sid] = i
        for k, service in enumerate(spec.messaging_service_sids):
            if service in services:
                j, m = services[service]
                raise ConfigError(source, f"domains[{i}].messagingServiceSids[{k}]",
                                  f"{service} is also at domains[{j}].messagingServiceSids[{m}] "
                                  f"({domains[j].fqdn}); a Messaging Service can use one domain "
                                  "only (Twilio error 30130)",
                                  "list each Messaging Service under one domain, once")
            services[service] = (i, k)


def _https(r: Reader, name: str) -> str | None:
    url = r.string(name)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise r.error(name, f"{quoted(url)} is not an https:// URL",
                      "Twilio calls and redirects only to https URLs: use https://...")
    return url
