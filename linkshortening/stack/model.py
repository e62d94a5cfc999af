"""The declared model of one stack: DomainSpec, its DNS settings, ACME and renewal settings."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

from linkshortening.common.names import normalize
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.targets import DEFAULT_TTL, TwilioTargets

ACME_DIRECTORIES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
# lsctl:acme.rateLimits keys, each overriding one of the CA's limits (acme_renewer.limits).
RATE_LIMIT_KEYS = ("newOrdersPer3Hours", "certificatesPerRegisteredDomainPerWeek",
                   "certificatesPerExactSetPerWeek", "failedAuthorizationsPerNamePerHour",
                   "consecutiveFailuresBeforePause")
# acme: lsctl renews it; managed: Twilio does; external: it comes from elsewhere and is
# uploaded with `lsctl cert upload` (the renewer only reports its expiry).
CertificateMode = Literal["acme", "managed", "external"]
CERTIFICATE_MODES: tuple[CertificateMode, ...] = ("acme", "managed", "external")
ChallengeType = Literal["dns-01", "dns-persist-01"]
DnsProvider = Literal["route53", "rfc2136"]
# Who writes a zone's declared records (and, stack-wide, the Twilio-side settings): one writer
# each, so `pulumi up` and `lsctl apply` never undo each other.
Writer = Literal["pulumi", "lsctl"]


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
    # Pulumi declares records in Route53 zones only; RFC 2136 zones are written by lsctl apply.
    managed_by: Writer = "pulumi"


# The one implicit account of a stack without lsctl:twilioAccounts: the TWILIO_* variables.
DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class TwilioAccount:
    """One Twilio account of the Organization (lsctl:twilioAccounts), credentials by reference
    only: an environment prefix or a Secrets Manager secret for the jobs, a secret Pulumi
    config key for `pulumi up`. The secrets themselves never sit in the stack."""

    name: str
    account_sid: str
    env_prefix: str  # PREFIX_API_KEY + PREFIX_API_SECRET (preferred) or PREFIX_AUTH_TOKEN
    secret_id: str | None = None  # Secrets Manager: {api_key, api_secret} or {auth_token}
    pulumi_secret: str = ""  # lsctl:<this key>, set with `pulumi config set --secret`


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
    # DNS-PERSIST-01 (linkshortening.stack.persist_record): one permanent TXT record instead
    # of a challenge record per renewal; persist_until in UNIX seconds, as the record says it.
    challenge: ChallengeType = "dns-01"
    persist_until: int | None = None
    # lsctl:twilioAccounts: the account that uploads the certificate and sets the config, and
    # (service SID, account) for each Messaging Service whose association is made as another.
    account: str = DEFAULT_ACCOUNT
    service_accounts: tuple[tuple[str, str], ...] = ()

    def account_of(self, service_sid: str) -> str:
        """The account that owns (and associates) one of this domain's Messaging Services."""
        return dict(self.service_accounts).get(service_sid, self.account)

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
    profile: str | None = None  # an ACME profile; refused per run when the CA lacks it
    # An operator saw Twilio validate a certificate without a Common Name (tlsserver,
    # shortlived); until then the first such upload per domain is warned about.
    cnless_confirmed: bool = False
    eab_kid_env: str = "LSCTL_EAB_KID"  # External Account Binding, for CAs that need it
    eab_hmac_env: str = "LSCTL_EAB_HMAC"
    propagation_timeout: int = 120
    propagation_interval: float = 2.0
    # Off only where the authoritative servers cannot be asked (e.g. a Route53 stand-in with
    # no DNS, or a CA that is told to accept everything); the CA is then asked at once.
    propagation_check: bool = True
    state_backend: str = "directory"
    state_location: str | None = None  # directory path, Secrets Manager prefix, s3:// URL
    state_kms_key_id: str | None = None  # s3: the KMS key objects are encrypted with
    state_managed: bool = False  # s3: `pulumi up` deploys the bucket
    rate_limits: tuple[tuple[str, int], ...] = ()  # (RATE_LIMIT_KEYS key, value) overrides
    # What the persistent validation records bind to: printed by `lsctl acme account show`.
    challenge: str = "dns-01"  # the domains' default (dns-01 or dns-persist-01)
    persist_until: int | None = None  # the domains' default, UNIX seconds
    account_uri: str | None = None
    account_key_thumbprint: str | None = None
    account_hash_prefix: str | None = None  # the directory's meta.accountHashPrefix
    issuer_domain_names: tuple[str, ...] = ()  # empty: Let's Encrypt's, for its directories


@dataclass(frozen=True)
class RenewalSettings:
    """The scheduled renewal job `pulumi up` deploys (AWS Lambda + EventBridge Scheduler)."""

    # None: follow the profile's lifetime (linkshortening.stack.profiles.renewal_plan)
    schedule: str | None = None
    flexible_window_minutes: int = 60  # spread the start, as Let's Encrypt asks
    alarm_days: int | None = None  # alarm below this many days left; None: from the profile
    alarm_email: str | None = None
    memory_mb: int = 512
    timeout_seconds: int = 900
    enabled: bool = True  # false: no Lambda; `lsctl renew` runs from cron or CI instead
    # Reserve one concurrent execution so two runs never overlap. AWS refuses any reservation
    # that leaves under 10 unreserved, so accounts with the new-account quota of 10 set this
    # false; the state store's lock then keeps runs apart on its own.
    reserve_concurrency: bool = True
    # single: one Lambda renews the stack; fanout: a Step Functions state machine runs one
    # Lambda per shard. None: chosen by the stack's size (components.fanout.renewal_mode).
    mode: str | None = None
    max_concurrency: int = 4  # fanout: shards at once (the CA's and Twilio's limits)


# --- lsctl:driftIgnore (issue 18) ---------------------------------------------------------
@dataclass(frozen=True)
class DriftIgnore:
    """Drift an operator acknowledges for a while: reported, but not drift, through `until`
    (a date at most 90 days after the stack is loaded); it counts again the day after."""

    domain: str  # a declared domain or zone, or "*" for every one
    code: str  # a drift finding code (README: the codes table)
    until: datetime.date
    reason: str
# --- end lsctl:driftIgnore -----------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """One environment's declared domains and the settings they share."""

    name: str
    source: str
    domains: tuple[DomainSpec, ...]
    targets: TwilioTargets = field(default_factory=TwilioTargets)
    acme: AcmeSettings = field(default_factory=AcmeSettings)
    renewal: RenewalSettings = field(default_factory=RenewalSettings)
    twilio_managed_by: Writer = "pulumi"  # who sets domain config and Messaging Services
    aws_region: str | None = None  # the stack's aws:region (Pulumi's AWS provider setting)
    drift_ignore: tuple[DriftIgnore, ...] = ()  # lsctl:driftIgnore
    # lsctl:twilioAccounts; empty: one implicit account from the TWILIO_* variables
    twilio_accounts: tuple[TwilioAccount, ...] = ()

    def account(self, name: str) -> TwilioAccount | None:
        """The declared account `name`; None for the implicit default of a one-account stack."""
        return next((a for a in self.twilio_accounts if a.name == name), None)

    @property
    def account_names(self) -> tuple[str, ...]:
        """Every account the stack's calls are made as (the implicit default when none)."""
        return tuple(a.name for a in self.twilio_accounts) or (DEFAULT_ACCOUNT,)

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
