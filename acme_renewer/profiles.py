"""The stack's ACME profile at run time: the CA must offer it (else one error for the run),
and the first certificate without a Common Name per domain is warned about, because Twilio
does not document whether its validator accepts one (issue 17)."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from acme_renewer.issuance import AcmeSession
from acme_renewer.state import StoredCertificate
from linkshortening.stack.errors import ConfigError, quoted
from linkshortening.stack.model import Stack
from linkshortening.stack.profiles import PROFILES

KEY = "lsctl:acme.profile"
CONFIRM_KEY = "lsctl:acme.cnlessConfirmed"


def check_offered(stack: Stack, session: AcmeSession) -> None:
    """Refuse the run when the directory's `meta.profiles` lacks the declared profile: an
    order without it would get the CA's default lifetime, silently."""
    wanted = stack.acme.profile
    if wanted is None:
        return
    offered = session.offered_profiles
    if wanted in offered:
        return
    lists = f"it offers {', '.join(offered)}" if offered else "it offers no profiles"
    raise ConfigError(stack.source, KEY,
                      f"{quoted(wanted)} is not a profile of {session.account.directory_url} "
                      f"({lists})",
                      f"use one of {', '.join(offered)}, or remove the key" if offered
                      else "remove the key: this CA issues its one kind of certificate")


def has_common_name(fullchain_pem: str) -> bool:
    leaf = x509.load_pem_x509_certificate(fullchain_pem.encode())
    return bool(leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME))


def _without_cn(fullchain_pem: str, profile: str | None) -> bool:
    known = PROFILES.get(profile or "")
    return not has_common_name(fullchain_pem) or (known is not None and not known.common_name)


def cnless_warning(stack: Stack, fqdn: str, fullchain_pem: str, profile: str | None,
                   earlier: StoredCertificate | None) -> str | None:
    """A warning for the first upload of a certificate without a Common Name to `fqdn` (no
    such certificate stored for it before), until an operator confirms Twilio takes them."""
    if stack.acme.cnless_confirmed or not _without_cn(fullchain_pem, profile):
        return None
    if earlier is not None and _without_cn(earlier.fullchain_pem, earlier.profile):
        return None  # uploaded before (and the renewer stores only what it uploads)
    return (f"first certificate without a Common Name for {fqdn} (profile "
            f"{profile or 'the CA default'}): Twilio does not document whether it accepts "
            f"one; check that this upload validates, then set {CONFIRM_KEY}: true")
