"""Which exceptions are the user's to fix (one clear line, exit 2) rather than lsctl's bugs."""

from __future__ import annotations

# Names, not imports: checking an error must not import the modules that define them.
USER_ERRORS = {
    "linkshortening.stack.errors.ConfigError",
    "linkshortening.certs.keys.InputFileError",  # and its KeyFileError, CertFileError
    "linkshortening.common.secrets.MissingSecret",
    "linkshortening.common.files.OutputPathError",
    "linkshortening.common.https.HttpsSetupError",
    "linkshortening.common.errors.SetupError",
    "acme_renewer.wiring.SetupProblems",
    "linkshortening.dns.rfc2136.DnsUpdateError",
    "sandbox.process.ServiceError",
    "linkshortening.dns.query.DnsLookupError",
    "acme_renewer.state.StateLocked",
    "acme_renewer.s3_state.S3StateError",
    "linkshortening.dns.route53.Route53Error",
    "linkshortening.dns.zonedata.ZoneTransferError",
    "acme.errors.Error",  # the ACME server refused the account or the request
    "requests.exceptions.RequestException",  # a server (the CA) could not be reached
    "linkshortening.twilio.errors.TwilioApiError",
    "linkshortening.twilio.errors.TwilioSetupError",
    "drift.cli.UsageError",
    "linkshortening.cli.arguments.OutputUsageError",
    "drift.plan.changes.PlanError",
    "drift.apply_cli.ApplyRefused",
}


class SetupError(Exception):
    """A service cannot be used as set up: credentials missing, rejected, denied or expired,
    or an endpoint unreachable. The message names what is missing and how to set it."""


def is_user_error(exc: BaseException) -> bool:
    return any(f"{cls.__module__}.{cls.__qualname__}" in USER_ERRORS for cls in type(exc).__mro__)
