"""Fault knobs: what tests turn to make the emulator slow, flaky or strict."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from sandbox.twilio_emulator.errors import (
    DOMAIN_MESSAGES,
    RETRY_LATER,
    SERVICE_UNAVAILABLE,
    TOO_MANY_REQUESTS,
    ApiError,
)

FAULT_KINDS = ("429", "503", "30133")
CHOICES = {"no_certificate": ("404", "30120")}


@dataclass
class Knobs:
    """Settable at start (`SandboxOptions.twilio_faults`) and at run time (control endpoint)."""

    rate_limited: float = 0.0  # fraction of API requests answered 429 with Retry-After
    unavailable: float = 0.0  # fraction answered 503
    retry_later: float = 0.0  # fraction answered Twilio 30133 ("retry in a few minutes")
    retry_after: int = 1  # seconds, in the Retry-After header of the 429s
    validation_delay: float = 2.0  # seconds an accepted upload stays pending
    fail_validation: bool = False  # accepted uploads end their validation failed
    script: list[str] = field(default_factory=list)  # the next answers, in order: FAULT_KINDS
    no_certificate: str = "404"  # a domain without a certificate: "404", or "30120" (400)
    problem_details: bool = False  # errors in RFC 9457 shape (type, title, status, code, ...)
    validation_status: str = "pending"  # cert_in_validation.status of a pending upload
    # DomainSid -> the Twilio code every request on that domain is answered with (400):
    # 30101 unverified, 30106/30108 not ready, 30134 DNS setup incomplete, 30133 busy.
    domain_errors: dict[str, int] = field(default_factory=dict)

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply `changes`; ValueError names an unknown knob or a value of the wrong kind."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown knob {name!r}; knobs: {', '.join(known)}")
            setattr(self, name, _checked(name, value, getattr(self, name)))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _checked(name: str, value: object, current: object) -> object:
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name in CHOICES:
        if value not in CHOICES[name]:
            raise ValueError(f"{name} is one of {', '.join(CHOICES[name])}")
        return value
    if isinstance(current, str):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
        return value
    if isinstance(current, dict):
        if not isinstance(value, dict) or any(
                not isinstance(k, str) or v not in DOMAIN_MESSAGES for k, v in value.items()):
            raise ValueError(f"{name} maps DomainSid to one of "
                             f"{', '.join(map(str, DOMAIN_MESSAGES))}")
        return dict(value)
    if isinstance(current, list):
        if not isinstance(value, list) or any(v not in FAULT_KINDS for v in value):
            raise ValueError(f"{name} must be a list of {', '.join(FAULT_KINDS)}")
        return list(value)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a number >= 0")
    if name in ("rate_limited", "unavailable", "retry_later") and value > 1:
        raise ValueError(f"{name} is a fraction between 0 and 1")
    return int(value) if isinstance(current, int) else float(value)


class FaultInjector:
    """Decides, per API request, whether to answer with an injected fault."""

    def __init__(self, knobs: Knobs, seed: int | None = None) -> None:
        self.knobs = knobs
        self._random = random.Random(seed)
        self.lock = threading.Lock()  # also guards the knobs against the control endpoint

    def fault(self) -> ApiError | None:
        with self.lock:
            if self.knobs.script:
                return self._error(self.knobs.script.pop(0))
            roll = self._random.random()
            for kind, fraction in (("429", self.knobs.rate_limited),
                                   ("503", self.knobs.unavailable),
                                   ("30133", self.knobs.retry_later)):
                if roll < fraction:
                    return self._error(kind)
                roll -= fraction
            return None

    def _error(self, kind: str) -> ApiError:
        if kind == "429":
            return ApiError(429, TOO_MANY_REQUESTS, "Too Many Requests",
                            (("Retry-After", str(self.knobs.retry_after)),))
        if kind == "503":
            return ApiError(503, SERVICE_UNAVAILABLE, "Service is unavailable. Please try again")
        return ApiError(400, RETRY_LATER,
                        "Link Shortening is busy with this domain. Please retry in a few minutes")
