"""The one way lsctl builds AWS clients, and what an AWS failure tells the user to fix.

The region is the stack's `aws:region` (what Pulumi uses), else the standard AWS chain:
AWS_REGION (the variable every AWS SDK reads; boto3 alone does not), AWS_DEFAULT_REGION,
the profile's config. Credentials always come from the
standard chain (variables, profile, SSO, container or instance role).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from linkshortening.common.errors import SetupError

if TYPE_CHECKING:
    import boto3

# Error codes AWS answers (query, REST-XML and JSON protocols spell some differently).
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
REJECTED = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
            "InvalidSignatureException", "AuthFailure"}
CREDENTIALS_FIX = ("export AWS_PROFILE=<profile> (or AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY), or run with an IAM role attached")
QUICK = {"max_attempts": 2, "connect_timeout": 5.0, "read_timeout": 15.0}  # setup checks


def aws_session(region: str | None = None) -> boto3.session.Session:
    """A session in `region` (the stack's aws:region), else the standard chain's region."""
    import boto3

    return boto3.session.Session(region_name=region or os.environ.get("AWS_REGION") or None)


def aws_region(region: str | None = None) -> str | None:
    """The region clients will use: the stack's, else the standard chain's, else None."""
    return region or aws_session().region_name


def aws_client(service: str, region: str | None = None, *, max_attempts: int = 10,
               connect_timeout: float = 60.0, read_timeout: float = 60.0) -> Any:
    """A client for `service` in the stack's region; standard retries (throttling with
    backoff and jitter: Route53 allows five calls a second)."""
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": max_attempts},
                    connect_timeout=connect_timeout, read_timeout=read_timeout)
    return aws_session(region).client(service, config=config)  # type: ignore[call-overload]


def aws_setup_error(exc: BaseException, service: str) -> SetupError | None:
    """The one-line setup problem behind a boto3 failure calling `service` (e.g. "Route53
    (lsctl:dns)"), or None when it is not one (throttling, a missing resource, a bug)."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ProfileNotFound):
        return SetupError(f"AWS: {exc} (for {service}). Fix: add the profile to "
                          "~/.aws/config, or export AWS_PROFILE naming one that exists")
    if isinstance(exc, bx.NoRegionError):
        return SetupError(f"AWS: no region is set for {service}. Fix: set aws:region in the "
                          "stack (pulumi config set aws:region us-east-1) or export AWS_REGION")
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return SetupError(f"AWS: no credentials found for {service}. Fix: {CREDENTIALS_FIX}")
    if isinstance(exc, (bx.SSOError, bx.TokenRetrievalError, bx.UnauthorizedSSOTokenError,
                        bx.CredentialRetrievalError)):
        return SetupError(f"AWS: the credentials for {service} could not be loaded "
                          f"({exc.__class__.__name__}). Fix: renew them (aws sso login, or "
                          f"fresh STS credentials), or {CREDENTIALS_FIX}")
    if isinstance(exc, bx.SSLError):
        return SetupError(f"AWS: TLS verification of the {service} endpoint failed. Fix: set "
                          "AWS_CA_BUNDLE to a bundle that verifies it, or check AWS_ENDPOINT_URL")
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError,
                        bx.ConnectionClosedError, bx.ReadTimeoutError)):
        where = exc.kwargs.get("endpoint_url", "its endpoint")
        return SetupError(f"AWS: cannot reach {service} at {where} "
                          f"({exc.__class__.__name__}). Fix: check the network and proxy, "
                          "or AWS_ENDPOINT_URL if it is set")
    if isinstance(exc, bx.ClientError):
        return _refused(exc, service)
    return None


def _refused(exc: Any, service: str) -> SetupError | None:
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", "")).rstrip(".")
    said = f" ({code}: {message})" if message else f" ({code})"
    call = exc.operation_name
    if code in DENIED:
        return SetupError(f"AWS: {service} denied {call}{said}. Fix: allow it in the IAM "
                          "policy of the role or user lsctl runs as (see "
                          "`aws sts get-caller-identity`)")
    if code in EXPIRED:
        return SetupError(f"AWS: the credentials for {service} have expired{said}. Fix: renew "
                          "them (aws sso login, or fresh STS credentials) and run again")
    if code in REJECTED:
        return SetupError(f"AWS: {service} rejected the credentials{said}. Fix: "
                          f"{CREDENTIALS_FIX}, with a key that is active")
    return None
