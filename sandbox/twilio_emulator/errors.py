"""Twilio's REST error responses: one body shape, and the error codes the emulator answers with."""

from __future__ import annotations

# Twilio's generic codes.
INVALID_PARAMETER = 20001
AUTHENTICATION = 20003
METHOD_NOT_ALLOWED = 20004
NOT_FOUND = 20404
TOO_MANY_REQUESTS = 20429
SERVICE_UNAVAILABLE = 20503
# Link Shortening's codes (Twilio's error catalogue, 301xx).
DOMAIN_SID_INVALID = 30100
DOMAIN_UNVERIFIED = 30101
DOMAIN_NOT_READY = (30106, 30108)
NO_CERTIFICATE = 30120  # "User has not uploaded cert for domain"
DNS_SETUP_INCOMPLETE = 30134
CERT_EXPIRED = 30102
NOT_PEM = 30116  # certificate or private key missing, or not PEM
CERT_UNPARSABLE = 30117
KEY_INVALID = 30118
KEY_MISMATCH = 30119
SELF_SIGNED = 30129
MESSAGING_SERVICE_TAKEN = 30130
CERT_NOT_VALIDATED = 30132
RETRY_LATER = 30133  # "please retry in a few minutes"


class ApiError(Exception):
    """An error answer: HTTP status, Twilio code, message, and extra headers (Retry-After)."""

    def __init__(self, status: int, code: int, message: str,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    def body(self, problem: bool = False) -> dict[str, object]:
        """Twilio's error body: its four classic members, or (`problem`) RFC 9457 problem
        details as Twilio's newer services answer them, with Twilio's `code` beside."""
        if problem:
            return {"type": f"https://www.twilio.com/docs/errors/{self.code}",
                    "title": TITLES.get(self.status, "Error"), "status": self.status,
                    "code": self.code, "detail": self.message}
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
                "status": self.status}


TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
          405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
          503: "Service Unavailable"}
# What Twilio says for the domain-level codes a test can make a domain answer (knob
# `domain_errors`); the wording is Twilio's error pages'.
DOMAIN_MESSAGES = {
    DOMAIN_UNVERIFIED: "Domain is unverified: verify it under your Organization through the "
                       "Admin Center to use it with Twilio Link Shortening",
    30106: "Domain is not ready for Link Shortening",
    30108: "Domain is not ready for Link Shortening",
    RETRY_LATER: "Certificate could not be uploaded. Please try again in a few minutes",
    DNS_SETUP_INCOMPLETE: "Domain DNS setup is not completed",
}


def not_found(path: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"The requested resource {path} was not found")


def invalid(parameter: str, problem: str) -> ApiError:
    return ApiError(400, INVALID_PARAMETER, f"Invalid parameter {parameter}: {problem}")


def upload_refused(code: int, message: str) -> ApiError:
    return ApiError(400, code, message)


def no_certificate(path: str, answer: str) -> ApiError:
    """A domain without a certificate: 404, or (knob `no_certificate="30120"`) 400/30120."""
    if answer == "30120":
        return ApiError(400, NO_CERTIFICATE, "User has not uploaded cert for domain")
    return not_found(path)
