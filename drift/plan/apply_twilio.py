"""Twilio-side changes through LinkShorteningApi: each setting read again just before it is
written, so one changed since the plan (in the Console, say) is reported, not overwritten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from drift.plan.changes import Outcome, TwilioChange, TwilioValue
from drift.plan.planner import CONFIG_FIELDS
from drift.plan.render import setting
from drift.plan.twilio_state import service_domain

if TYPE_CHECKING:
    from linkshortening.twilio.api import LinkShorteningApi


def apply_changes(changes: Sequence[TwilioChange], api: LinkShorteningApi) -> list[Outcome]:
    return [_apply(change, api) for change in changes]


def describe(change: TwilioChange) -> str:
    if change.resource == "domain-config":
        return f"{change.domain} domain config ({change.sid})"
    return f"{change.domain} Messaging Service {change.sid}"


def _apply(change: TwilioChange, api: LinkShorteningApi) -> Outcome:
    from linkshortening.twilio.errors import TwilioApiError, TwilioSetupError

    target = describe(change)
    try:
        now = _current(change, api)
        moved = [f"{key} is now {now.get(key)}, the plan saw {seen}"
                 for key, seen in change.before.items() if now.get(key) != seen]
        if moved:
            return Outcome(target, 1, False, "not applied: changed since the plan ("
                           + "; ".join(moved) + "). Run `lsctl plan` again", "twilio")
        _write(change, api)
    except (TwilioApiError, TwilioSetupError) as exc:
        return Outcome(target, 1, False, f"not applied: {exc}", "twilio")
    return Outcome(target, 1, True, ", ".join(f"{k}={setting(v)}"
                                              for k, v in change.after.items()), "twilio")


def _current(change: TwilioChange, api: LinkShorteningApi) -> dict[str, TwilioValue]:
    if change.resource == "messaging-service":
        return {"domainSid": service_domain(api, change.sid)}
    config = api.fetch_config(change.sid)
    return {key: getattr(config, attribute) for key, attribute in CONFIG_FIELDS}


def _write(change: TwilioChange, api: LinkShorteningApi) -> None:
    if change.resource == "domain-config":
        after = change.after
        api.update_config(change.sid, fallback_url=_text(after.get("fallbackUrl")),
                          callback_url=_text(after.get("callbackUrl")),
                          continue_on_failure=_flag(after.get("continueOnFailure")),
                          disable_https=_flag(after.get("disableHttps")))
        return
    previous, wanted = change.before.get("domainSid"), change.after["domainSid"]
    if isinstance(previous, str):  # a service uses one domain: leave the old one first
        api.dissociate_messaging_service(previous, change.sid)
    assert isinstance(wanted, str)
    api.associate_messaging_service(wanted, change.sid)


def _text(value: TwilioValue) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: TwilioValue) -> bool | None:
    return value if isinstance(value, bool) else None
