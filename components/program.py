"""One stack's declarations: a zone component per Route53 zone, a domain component per domain,
and the renewal schedule, with the checks that keep `pulumi up` from deploying a renewer that
could not work."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components import iam
from components.domain import LinkShorteningDomain
from components.lambda_archive import ArchiveError, build
from components.renewal import RenewalInputs, RenewalSchedule, credential_secret_name
from components.stack_config import Credentials, config_error
from components.state_bucket import StateBucket
from components.zone import LinkShorteningZone
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.managed_records import persist_managed
from linkshortening.stack.model import DomainSpec, Stack
from linkshortening.stack.parse import NAMESPACE
from linkshortening.stack.persist_record import CHALLENGE, persist_account, uses_persist
from linkshortening.stack.profiles import renewal_problems
from linkshortening.stack.s3_url import split_s3_url
from linkshortening.stack.state_location import (
    default_prefix,
    s3_location,
    secrets_manager_prefix,
)

# A prebuilt code directory for the Lambda (tests, or a CI that builds it once).
ARCHIVE_ENV = "LSCTL_LAMBDA_ARCHIVE"
# The variable acme_renewer.lambda_handler fills from the TSIG secret (a name, not a secret).
LAMBDA_TSIG_ENV = "LSCTL_TSIG_SECRET"


@dataclass(frozen=True)
class Program:
    zones: dict[str, LinkShorteningZone]
    domains: list[LinkShorteningDomain]
    renewal: RenewalSchedule | None
    state_bucket: StateBucket | None = None

    @property
    def exports(self) -> dict[str, dict[str, Any]]:
        """Per domain: fqdn, zone, record type, values, TTL and hosted zone id."""
        return {d.spec.fqdn: d.exports for d in self.domains}


def declare(stack: Stack, credentials: Credentials, project_dir: Path) -> Program:
    for i, spec in enumerate(stack.domains):
        if spec.dns is None:
            raise _error(stack, f"domains[{i}].dns", f"no DNS provider is set for {spec.fqdn}",
                         "set lsctl:dns (or the domain's dns) to route53, for Pulumi to "
                         "declare its records, or rfc2136, when your own servers hold the zone")
        if not _pulumi_writes(spec) and (spec.caa or spec.verification_txt
                                         or spec.challenge == CHALLENGE):
            pulumi.log.warn(f"{spec.fqdn}: zone {spec.zone} is written by lsctl, not Pulumi: "
                            f"`lsctl apply --stack {stack.name}` writes its records (caa, "
                            f"verificationTxt and {CHALLENGE} records included)")
    try:
        account = persist_account(stack) if uses_persist(stack) else None
    except ConfigError as exc:
        raise config_error(exc) from None
    zones = _zones(stack)
    # One writer per zone and for the Twilio settings: what lsctl apply writes, Pulumi leaves.
    domains = [LinkShorteningDomain(spec, stack.targets,
                                    zones[spec.zone].zone_id if _pulumi_writes(spec) else None,
                                    twilio=stack.twilio_managed_by == "pulumi",
                                    persist=persist_managed(spec, account),
                                    accounts={a.name: a for a in stack.twilio_accounts})
               for spec in stack.domains]
    return Program(zones, domains, _renewal(stack, credentials, zones, project_dir),
                   _state_bucket(stack))


def _state_bucket(stack: Stack) -> StateBucket | None:
    """The state bucket, when the stack says `pulumi up` manages it (also for a renewer run
    from cron or CI: it needs the bucket as much as the Lambda does)."""
    acme = stack.acme
    if acme.state_backend != "s3" or not acme.state_managed or not acme.state_location:
        return None
    bucket, _ = split_s3_url(acme.state_location)
    return StateBucket("state", bucket, acme.state_kms_key_id)


def _in_route53(spec: DomainSpec) -> bool:
    return spec.dns is not None and spec.dns.provider == "route53"


def _pulumi_writes(spec: DomainSpec) -> bool:
    """Records in a Route53 zone not marked `managedBy: lsctl`."""
    return _in_route53(spec) and spec.dns is not None and spec.dns.managed_by == "pulumi"


def _zones(stack: Stack) -> dict[str, LinkShorteningZone]:
    """One component per Route53 zone: looked up once, CAA once whoever asks for it."""
    zones: dict[str, LinkShorteningZone] = {}
    for zone in stack.zones:
        specs = [d for d in stack.domains if d.zone == zone and _in_route53(d)]
        if not specs:
            continue
        ids = sorted({d.dns.hosted_zone_id for d in specs if d.dns and d.dns.hosted_zone_id})
        if len(ids) > 1:
            raise _error(stack, "domains", f"the domains of zone {zone} name different hosted "
                         f"zones ({', '.join(ids)})", "give them the same dns.hostedZoneId")
        caa = [d for d in specs if d.caa and _pulumi_writes(d)]
        zones[zone] = LinkShorteningZone(
            zone, ids[0] if ids else None, caa_ttl=caa[0].ttl if caa else None,
            allow_overwrite=any(d.allow_overwrite for d in caa))
    return zones


def _renewal(stack: Stack, credentials: Credentials, zones: dict[str, LinkShorteningZone],
             project_dir: Path) -> RenewalSchedule | None:
    acme = [d for d in stack.domains if d.certificate == "acme"]
    if not stack.renewal.enabled or not acme:
        return None  # renewed elsewhere (lsctl renew from cron/CI), or Twilio-managed only
    prefix = _check_renewable(stack, acme, project_dir)
    for problem in renewal_problems(stack, dt.datetime.now(dt.UTC)):
        raise config_error(problem)  # a schedule too slow, an alarm too early for the profile
    # DNS-PERSIST-01 domains are renewed without a DNS write: no challenge records, so no
    # Route53 permission at all when every domain of the stack uses it.
    route53 = [d for d in acme if _in_route53(d) and d.challenge != CHALLENGE]
    rfc2136 = [d for d in acme if not _in_route53(d)]
    if rfc2136 and credentials.tsig_secret is None:
        raise _error(stack, "tsigSecret", f"is not set, but {rfc2136[0].fqdn} is renewed "
                     "through RFC 2136", f"pulumi config set --secret {NAMESPACE}:tsigSecret ...")
    names = {zone: iam.challenge_record_names(n for d in route53 if d.zone == zone
                                              for n in d.names)
             for zone in dict.fromkeys(d.zone for d in route53)}
    try:
        challenges = iam.pack_challenges(names)
    except iam.PolicyTooLarge as exc:
        raise _error(stack, "domains", str(exc), "split the domains over several stacks (a "
                     "renewer each), or set lsctl:renewal.enabled: false and run lsctl renew "
                     "from cron or CI") from None
    return RenewalSchedule("renewal", stack, RenewalInputs(
        code=pulumi.FileArchive(str(_lambda_code(stack, project_dir))),
        stack_file_name=f"Pulumi.{stack.name}.yaml",
        state_prefix=prefix,
        zone_ids={zone: zones[zone].zone_id for zone in names},
        challenges=challenges,
        list_zones=any(not (d.dns and d.dns.hosted_zone_id) for d in route53),
        twilio_credentials=None if credentials.accounts else credentials.twilio_json(),
        account_credentials=credentials.accounts,
        tsig_secret=credentials.tsig_secret if rfc2136 else None,
        s3_state=s3_location(stack, project_dir) if stack.acme.state_backend == "s3" else None,
        kms_key_id=stack.acme.state_kms_key_id))


def _check_renewable(stack: Stack, acme: list[DomainSpec], project_dir: Path) -> str:
    """What would make the Lambda fail at its first run, refused at `pulumi up` instead;
    then the Secrets Manager (or S3) prefix of its state, exactly as the renewer derives it."""
    backend = stack.acme.state_backend
    if backend not in ("secretsmanager", "s3"):
        raise _error(stack, "acme.state.backend", f"{backend!r} keeps the "
                     "renewer's state in files, which AWS Lambda loses after every run",
                     "use {backend: s3, location: s3://bucket/prefix} (fleets) or {backend: "
                     "secretsmanager} (location lsctl/<project>/<stack> unless set), or set "
                     "lsctl:renewal.enabled: false and run lsctl renew from cron or CI")
    try:
        prefix = (s3_location(stack, project_dir).prefix if backend == "s3"
                  else secrets_manager_prefix(stack, project_dir))
    except ConfigError as exc:
        raise config_error(exc) from None
    key = stack.acme.state_kms_key_id
    if backend == "s3" and key and (key.startswith("alias/") or ":alias/" in key):
        raise _error(stack, "acme.state.kmsKeyId", f"{key!r} is an alias, which IAM cannot "
                     "grant the renewer exactly", "give the key's ARN or key ID")
    if backend == "secretsmanager" and credential_secret_name(stack, "twilio").startswith(
            prefix + "/"):
        raise _error(stack, "acme.state.location", f"{prefix!r} holds the renewer's "
                     "credential secrets, which it must not be able to overwrite",
                     "remove the location: the default, "
                     f"{default_prefix('<project>', stack.name)}, is the stack's own")
    for spec in acme:
        dns, i = spec.dns, stack.domains.index(spec)
        if dns is None or dns.provider != "rfc2136":
            continue
        if not dns.server:
            raise _error(stack, f"domains[{i}].dns.server", "is not set, and the renewal "
                         "Lambda has no LSCTL_RFC2136_SERVER", "give the primary's host:port")
        if dns.tsig_secret_env != LAMBDA_TSIG_ENV:
            raise _error(stack, f"domains[{i}].dns.tsigSecretEnv", f"{dns.tsig_secret_env!r}"
                         f" is not what the renewal Lambda sets ({LAMBDA_TSIG_ENV}, from "
                         f"{NAMESPACE}:tsigSecret)", "remove the key")
    return prefix


def _lambda_code(stack: Stack, project_dir: Path) -> Path:
    prebuilt = os.environ.get(ARCHIVE_ENV)
    if prebuilt:
        return Path(prebuilt)
    stack_file = project_dir / "stacks" / f"Pulumi.{stack.name}.yaml"
    if not stack_file.is_file():
        raise _error(stack, "", "the renewal Lambda bundles the stack file, which is missing",
                     f"keep the stack's config in {stack_file}")
    try:
        return build(project_dir, stack_file, project_dir / ".build" / "lambda")
    except ArchiveError as exc:
        raise pulumi.RunError(f"building the renewal Lambda's code: {exc}") from None


def _error(stack: Stack, key: str, problem: str, fix: str) -> pulumi.RunError:
    full = f"{NAMESPACE}:{key}" if key else ""
    return config_error(ConfigError(stack.source, full, problem, fix))
