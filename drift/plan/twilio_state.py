"""The Twilio-side settings lsctl manages, as Twilio has them: each domain's config and the
domain each declared Messaging Service uses, read from a pool of threads."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkshortening.stack.model import DomainSpec

if TYPE_CHECKING:
    from linkshortening.twilio.api import LinkShorteningApi
    from linkshortening.twilio.models import DomainConfig

WORKERS = 16  # as the drift probe: well below Twilio's concurrency limit per account


@dataclass(frozen=True)
class TwilioLive:
    config: DomainConfig
    services: dict[str, str | None]  # Messaging Service SID -> the DomainSid it uses (None)


def read_all(api: LinkShorteningApi, specs: Sequence[DomainSpec]) -> dict[str, TwilioLive]:
    with ThreadPoolExecutor(max(1, min(WORKERS, len(specs)))) as pool:
        return dict(zip((s.fqdn for s in specs), pool.map(lambda s: read(api, s), specs),
                        strict=True))


def read(api: LinkShorteningApi, spec: DomainSpec) -> TwilioLive:
    return TwilioLive(api.fetch_config(spec.domain_sid),
                      {sid: service_domain(api, sid) for sid in spec.messaging_service_sids})


def service_domain(api: LinkShorteningApi, service: str) -> str | None:
    """The DomainSid a Messaging Service uses; None when it uses none (Twilio's 404)."""
    from linkshortening.twilio.errors import TwilioApiError

    try:
        return api.fetch_messaging_service_domain(service).domain_sid
    except TwilioApiError as exc:
        if exc.status == 404:
            return None
        raise
