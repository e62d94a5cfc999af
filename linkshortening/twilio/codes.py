"""Twilio's Link Shortening error codes: what each means, what kind it is, and the fix.

The one table every caller asks (the client's retry rule, the renewer's messages, drift's
findings). Sources: Twilio's error pages (https://www.twilio.com/docs/api/errors/<code>) and
the onboarding guide. Twilio's OpenAPI description declares none of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal[
    "domain",  # the DomainSid cannot be used for Link Shortening yet (or at all)
    "no-certificate",  # the domain has no certificate: the same as HTTP 404 on Certificate
    "certificate",  # Twilio refused an uploaded certificate or key: a new upload fixes it
    "url",  # FallbackUrl / CallbackUrl
    "messaging-service",  # MessagingServiceSid and its association
    "request",  # a request lsctl should not have sent
    "link",  # raised while shortening or resolving links, not by these resources
    "retryable",  # Twilio is busy: the same request succeeds later
]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class TwilioCode:
    code: int
    meaning: str
    category: Category
    fix: str
    severity: Severity = "error"
    finding: str = ""  # drift's finding code, for the codes drift reports as drift

    @property
    def more_info(self) -> str:
        return f"https://www.twilio.com/docs/errors/{self.code}"


_UPLOAD = "upload a new bundle: `lsctl cert check` says what Twilio will refuse"
_VERIFY = ("verify the domain in your Twilio Organization (Admin Center > Domains) and use "
           "its DomainSid as domainSid")
_DNS = ("publish the records `lsctl records` lists (pulumi up), wait until every "
        "nameserver serves them, then run again")

CODES: dict[int, TwilioCode] = {c.code: c for c in (
    TwilioCode(30100, "Domain SID is invalid: not a domain of your Twilio Organization",
               "domain", "copy the DomainSid from Admin Center > Domains into domainSid "
               "(a SID, not a URL)", finding="twilio-domain-unknown"),
    TwilioCode(30101, "Domain is unverified in your Twilio Organization", "domain", _VERIFY,
               finding="twilio-domain-unverified"),
    # 30106 and 30108: answered for a domain that is not ready for Link Shortening; Twilio's
    # pages for them could not be read, so they are handled as 30101 is.
    TwilioCode(30106, "Domain is not ready for Link Shortening", "domain", _VERIFY,
               finding="twilio-domain-not-ready"),
    TwilioCode(30108, "Domain is not ready for Link Shortening", "domain", _VERIFY,
               finding="twilio-domain-not-ready"),
    TwilioCode(30134, "Domain DNS setup is not completed", "domain", _DNS,
               finding="twilio-dns-setup-incomplete"),
    TwilioCode(30107, "Domain private certificate has not been uploaded", "no-certificate",
               "run `lsctl renew` (certificate: acme) or `pulumi up` (certificate: managed)"),
    TwilioCode(30120, "User has not uploaded cert for domain", "no-certificate",
               "run `lsctl renew` (certificate: acme) or `pulumi up` (certificate: managed)"),
    TwilioCode(30116, "Certificate or private key is missing", "certificate", _UPLOAD),
    TwilioCode(30117, "Certificate cannot be parsed", "certificate", _UPLOAD),
    TwilioCode(30118, "Private key is invalid (PKCS #8 PEM, no extra leading or trailing "
               "newlines)", "certificate", _UPLOAD),
    TwilioCode(30119, "Certificate and private key do not match", "certificate", _UPLOAD),
    TwilioCode(30129, "Certificate is self signed", "certificate",
               "upload a chain from a public CA (Let's Encrypt: `lsctl renew`)"),
    TwilioCode(30132, "Certificate cannot be validated", "certificate", _UPLOAD),
    TwilioCode(30135, "Twilio cannot issue the managed certificate", "certificate",
               _DNS + "; CAA must allow letsencrypt.org"),
    TwilioCode(30131, "Certificate expires soon", "certificate",
               "run `lsctl renew` (or check the renewal schedule's last runs)",
               severity="warning"),
    TwilioCode(30109, "Callback URL is invalid", "url",
               "set callbackUrl to an absolute http(s) URL"),
    TwilioCode(30121, "Fallback URL is missing", "url", "set fallbackUrl in the stack"),
    TwilioCode(30122, "Fallback URL is invalid", "url",
               "set fallbackUrl to an absolute http(s) URL"),
    TwilioCode(30123, "Callback URL is missing", "url", "set callbackUrl in the stack"),
    TwilioCode(30105, "Shortened link not found and no fallback URL set", "url",
               "set fallbackUrl so expired links still land somewhere", severity="warning"),
    TwilioCode(30124, "Messaging Service SID is empty", "messaging-service",
               "list the Messaging Service SIDs (MG...) under messagingServiceSids"),
    TwilioCode(30127, "Messaging Service SID is invalid", "messaging-service",
               "use a Messaging Service SID (MG...) of an account in the Organization"),
    TwilioCode(30130, "Messaging Service already belongs to another domain's configuration",
               "messaging-service",
               "dissociate it from the other domain, or list it under one domain only"),
    TwilioCode(30128, "Action is invalid", "request", "report it: lsctl sent a request "
               "Twilio does not take"),
    TwilioCode(30103, "Links not shortened: Link Shortening failed", "link",
               "keep continueOnFailure: true; Twilio support if it persists"),
    TwilioCode(30104, "Shortened link not found; redirected to the fallback URL", "link",
               "nothing to fix: links expire after 90 days", severity="warning"),
    TwilioCode(30110, "The link's destination domain is blocked", "link",
               "ask Twilio support; use another destination"),
    TwilioCode(30133, "Certificate could not be uploaded; try again in a few minutes",
               "retryable", "nothing: lsctl retries it until the run's deadline"),
)}


def lookup(code: int | None) -> TwilioCode | None:
    return CODES.get(code) if code is not None else None


def in_category(code: int | None, *categories: Category) -> bool:
    entry = lookup(code)
    return entry is not None and entry.category in categories
