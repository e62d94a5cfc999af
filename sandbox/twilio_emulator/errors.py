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

    def body(self) -> dict[str, object]:
        """Twilio's error body: exactly these four members."""
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
                "status": self.status}


def not_found(path: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"The requested resource {path} was not found")


def invalid(parameter: str, problem: str) -> ApiError:
    return ApiError(400, INVALID_PARAMETER, f"Invalid parameter {parameter}: {problem}")


def upload_refused(code: int, message: str) -> ApiError:
    return ApiError(400, code, message)
