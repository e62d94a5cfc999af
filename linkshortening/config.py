"""Load one Pulumi stack file into validated `DomainSpec`s.

The Pulumi program, the renewer and the drift checker all read stacks through this module,
so what is declared, renewed and checked cannot disagree. Every problem is a `ConfigError`
naming the file, the key and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from linkshortening.names import in_zone, normalize
from linkshortening.targets import DEFAULT_ALLOWED_IPS, DEFAULT_TTL, TwilioTargets

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

ACME_DIRECTORIES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
KEY_TYPES = ("ecdsa-p256", "rsa-2048")
STATE_BACKENDS = ("directory", "secretsmanager")

CertificateMode = Literal["acme", "managed"]
DnsProvider = Literal["route53", "rfc2136"]


class ConfigError(Exception):
    """A stack file problem: where it is, what is wrong, and how to fix it."""

    def __init__(self, source: str, key: str, problem: str, fix: str) -> None:
        self.source, self.key, self.problem, self.fix = source, key, problem, fix
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class DnsSettings:
    """How lsctl writes records in a zone (DNS-01 challenges, sandbox seeding)."""

    provider: DnsProvider
    hosted_zone_id: str | None = None  # route53; found by longest suffix match when absent
    server: str | None = None  # rfc2136 "host" or "host:port"; LSCTL_RFC2136_SERVER overrides
    tsig_key_name: str | None = None
    tsig_algorithm: str = "hmac-sha256"
    # The name of the variable holding the secret; the secret itself never sits in the file.
    tsig_secret_env: str = "LSCTL_TSIG_SECRET"  # noqa: S105


@dataclass(frozen=True)
class DomainSpec:
    """One declared Link Shortening domain."""

    fqdn: str
    zone: str
    domain_sid: str
    messaging_service_sids: tuple[str, ...] = ()
    fallback_url: str | None = None
    callback_url: str | None = None
    continue_on_failure: bool = True
    disable_https: bool = False
    certificate: CertificateMode = "acme"
    alt_names: tuple[str, ...] = ()
    ttl: int = DEFAULT_TTL
    dns: DnsSettings | None = None
    caa: bool = False  # declare CAA at the zone apex allowing letsencrypt.org (Route53 only)
    verification_txt: str | None = None  # Twilio's verification value, at _twilio.<fqdn>
    allow_overwrite: bool = False  # adopt hand-made records instead of failing on them

    @property
    def is_root(self) -> bool:
        """A root domain is its zone's apex (A records); anything below is a subdomain (CNAME)."""
        return self.fqdn == self.zone

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the certificate must cover: the domain first, then its extra SANs."""
        return (self.fqdn, *self.alt_names)


@dataclass(frozen=True)
class AcmeSettings:
    """How the renewer talks ACME and where it keeps its state."""

    directory_url: str = ACME_DIRECTORIES["letsencrypt"]  # $LSCTL_ACME_DIRECTORY overrides
    email: str | None = None
    agree_tos: bool = False  # the CA's terms must be agreed explicitly, in the stack file
    key_type: str = "ecdsa-p256"
    renew_fraction: float = 1 / 3  # renew with less than this share of the lifetime left
    profile: str | None = None  # an ACME profile, used when the directory offers it
    eab_kid_env: str = "LSCTL_EAB_KID"  # External Account Binding, for CAs that need it
    eab_hmac_env: str = "LSCTL_EAB_HMAC"
    propagation_timeout: int = 120
    propagation_interval: float = 2.0
    # Off only where the authoritative servers cannot be asked (e.g. a Route53 stand-in with
    # no DNS, or a CA that is told to accept everything); the CA is then asked at once.
    propagation_check: bool = True
    state_backend: str = "directory"
    state_location: str | None = None  # directory path, or Secrets Manager name prefix


@dataclass(frozen=True)
class RenewalSettings:
    """The scheduled renewal job `pulumi up` deploys (AWS Lambda + EventBridge Scheduler)."""

    schedule: str = "rate(12 hours)"  # twice a day, as Let's Encrypt asks of batch clients
    flexible_window_minutes: int = 60  # spread the start, as Let's Encrypt asks
    alarm_days: int = 21  # alarm when a live certificate has fewer days left than this
    alarm_email: str | None = None
    memory_mb: int = 512
    timeout_seconds: int = 900
    enabled: bool = True  # false: no Lambda; `lsctl renew` runs from cron or CI instead
    # Reserve one concurrent execution so two runs never overlap. AWS refuses any reservation
    # that leaves under 10 unreserved, so accounts with the new-account quota of 10 set this
    # false; the state store's lock then keeps runs apart on its own.
    reserve_concurrency: bool = True


@dataclass(frozen=True)
class Stack:
    """One environment's declared domains and the settings they share."""

    name: str
    source: str
    domains: tuple[DomainSpec, ...]
    targets: TwilioTargets = field(default_factory=TwilioTargets)
    acme: AcmeSettings = field(default_factory=AcmeSettings)
    renewal: RenewalSettings = field(default_factory=RenewalSettings)

    @property
    def zones(self) -> tuple[str, ...]:
        """The distinct zones of the stack, in declaration order."""
        return tuple(dict.fromkeys(d.zone for d in self.domains))

    def select(self, fqdns: list[str] | None) -> tuple[DomainSpec, ...]:
        """The domains named by `--domain` (all when none), or a ConfigError for an unknown one."""
        if not fqdns:
            return self.domains
        by_name = {d.fqdn: d for d in self.domains}
        wanted = [normalize(f) for f in fqdns]
        unknown = [f for f in wanted if f not in by_name]
        if unknown:
            raise ConfigError(
                self.source,
                "--domain",
                f"{', '.join(unknown)} is not declared in this stack",
                f"use one of: {', '.join(by_name)}",
            )
        return tuple(by_name[f] for f in dict.fromkeys(wanted))


# ---------------------------------------------------------------------------------------
# Reading values: each reader takes (value, key path) and raises ConfigError naming the key.


class _Reader:
    """Validates one mapping of the stack file, remembering which keys it consumed."""

    def __init__(self, source: str, path: str, data: object) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(source, path, f"expected a mapping, got {_kind(data)}", _MAPPING_FIX)
        self.source, self.path, self.data = source, path, data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), problem, fix)

    def get(self, name: str, required: bool = False, fix: str = "") -> Any:
        self.seen.add(name)
        if name not in self.data or self.data[name] is None:
            if required:
                raise ConfigError(self.source, self.key(name), "is required but missing", fix)
            return None
        return self.data[name]

    def string(self, name: str, required: bool = False, fix: str = "") -> str | None:
        value = self.get(name, required, fix)
        if value is not None and not isinstance(value, str):
            raise self.error(name, f"expected a string, got {_kind(value)}", fix or "quote it")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {value!r}", "write true or false")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(name, f"expected a whole number {low}..{high}, got {value!r}",
                             f"use a number between {low} and {high}")
        return value

    def strings(self, name: str, check: Callable[[str, str], str]) -> tuple[str, ...]:
        value = self.get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error(name, f"expected a list, got {_kind(value)}", "write a YAML list")
        out = []
        for i, item in enumerate(value):
            key = f"{self.key(name)}[{i}]"
            if not isinstance(item, str):
                raise ConfigError(self.source, key, f"expected a string, got {_kind(item)}",
                                  "quote it")
            out.append(check(item, key))
        return tuple(out)

    def choice(self, name: str, options: tuple[str, ...], default: str | None) -> str | None:
        value = self.string(name)
        if value is None:
            return default
        if value not in options:
            raise self.error(name, f"{value!r} is not one of {', '.join(options)}",
                             f"use one of: {', '.join(options)}")
        return value

    def finish(self) -> None:
        """Refuse keys nobody read: a typo must not silently drop a setting."""
        unknown = [k for k in self.data if k not in self.seen]
        if unknown:
            raise self.error(str(unknown[0]), "is not a known key",
                             f"remove it or use one of: {', '.join(sorted(self.seen))}")


_MAPPING_FIX = "write it as a YAML mapping of key: value"


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------
# Parsing


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
    top = _Reader(source, "", config)
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
    r = _Reader(source, "renewal", raw)
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
    r = _Reader(source, "acme", raw)
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
    state = r.get("state") or {}
    s = _Reader(source, "acme.state", state)
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
    )
    s.finish()
    r.finish()
    return settings


def _domain(source: str, path: str, raw: object, ttl: int,
            default_dns: DnsSettings | None) -> DomainSpec:
    r = _Reader(source, path, raw)
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
    r = _Reader(source, path, raw)
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


def _verification_txt(r: _Reader) -> str | None:
    value = r.string("verificationTxt")
    if value is not None and not VERIFICATION_TXT.match(value):
        raise r.error("verificationTxt", f"{value!r} is not a Twilio domain-verification value",
                      "copy it from Twilio Admin > Domains > Verify (DNS method): "
                      "twilio-domain-verification= followed by 32 hex digits")
    return value


def _https(r: _Reader, name: str) -> str | None:
    url = r.string(name)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise r.error(name, f"{url!r} is not an https:// URL",
                      "Twilio calls and redirects only to https URLs: use https://...")
    return url


# ---------------------------------------------------------------------------------------
# Files


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> object:
    """Parse a YAML file, turning every failure into a ConfigError naming the file."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found",
                          "check the path, or create it from stacks/Pulumi.example.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot be read ({exc.__class__.__name__})",
                          "make it a readable UTF-8 text file") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(source, "", f"invalid YAML at {where}: {problem}",
                          "fix the YAML syntax there (indentation, quotes, colons)") from None


def load_stack_file(path: Path, name: str | None = None) -> Stack:
    """Load `Pulumi.<stack>.yaml`: the `lsctl:` keys are ours, other namespaces are Pulumi's."""
    source = str(path)
    data = read_yaml(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("config"), Mapping):
        raise ConfigError(source, "config", "a Pulumi stack file needs a top-level config mapping",
                          "start the file with `config:` and put lsctl:domains under it")
    ours: dict[str, Any] = {}
    for key, value in data["config"].items():
        namespace, _, bare = str(key).partition(":")
        if namespace == NAMESPACE and bare:
            ours[bare] = value
    stack_name = name or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return parse_stack(ours, source, stack_name)


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory holding Pulumi.yaml, from `start` (default: cwd) upwards."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    raise ConfigError(str(here), "", "no Pulumi.yaml here or in any parent directory",
                      "run lsctl inside the project, or pass --stack as a path to a stack file")


def stack_path(stack: str, project_dir: Path | None = None) -> Path:
    """Resolve `--stack`: a path to a stack file, or a name under the project's stacks/."""
    candidate = Path(stack)
    if candidate.suffix in (".yaml", ".yml") or candidate.parent != Path():
        return candidate
    return find_project_dir(project_dir) / "stacks" / f"Pulumi.{stack}.yaml"


def load_stack(stack: str, project_dir: Path | None = None) -> Stack:
    """Load a stack by name (stacks/Pulumi.<name>.yaml) or by path."""
    path = stack_path(stack, project_dir)
    name = stack if path.name == f"Pulumi.{stack}.yaml" else None
    return load_stack_file(path, name)
