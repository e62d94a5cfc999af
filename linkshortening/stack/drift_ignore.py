"""`lsctl:driftIgnore`: drift acknowledged for a while, never for good.

    lsctl:driftIgnore:
      - {domain: go.example.com, code: ttl-differs, until: 2026-12-31, reason: "CHG-1234"}

`domain` is a declared domain or zone, or `*`; `until` an ISO date at most MAX_DAYS after the
day the stack is loaded (a rule without an end is a check switched off); `reason` says why, so
the report can. Whether `code` is one of drift's codes is drift's to check (the core does not
know the table).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection

from linkshortening.stack.errors import ConfigError, kind, quoted
from linkshortening.stack.model import DriftIgnore
from linkshortening.stack.reader import Reader

KEY = "driftIgnore"
MAX_DAYS = 90
CODE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
EXAMPLE = "{domain: go.example.com, code: ttl-differs, until: 2026-12-31, reason: CHG-1234}"


def parse_drift_ignore(source: str, raw: object, names: Collection[str],
                       today: dt.date) -> tuple[DriftIgnore, ...]:
    """The rules, each checked; `names` are the declared domains and zones."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(source, KEY, f"expected a list, got {kind(raw)}",
                          f"write a list of rules, e.g. [{EXAMPLE}]")
    return tuple(_rule(source, f"{KEY}[{i}]", item, names, today)
                 for i, item in enumerate(raw))


def _rule(source: str, path: str, raw: object, names: Collection[str],
          today: dt.date) -> DriftIgnore:
    r = Reader(source, path, raw)
    domain = (r.string("domain", True, "name a declared domain or zone, or * for all") or "")
    domain = domain.lower().rstrip(".")
    if domain != "*" and domain not in names:
        raise r.error("domain", f"{quoted(domain)} is not a domain or zone of this stack",
                      "name a declared domain or zone, or * for all")
    code = r.string("code", True, "name the finding code to acknowledge, e.g. ttl-differs")
    assert code is not None
    if not CODE.fullmatch(code):
        raise r.error("code", f"{quoted(code)} is not a finding code",
                      "use a code from lsctl drift's report (README: the codes table)")
    until = _until(r, today)
    reason = (r.string("reason", True, "say why the drift is acceptable until then (a "
                                       "ticket, a change window)") or "").strip()
    if not reason:
        raise r.error("reason", "is empty", "say why the drift is acceptable until then")
    r.finish()
    return DriftIgnore(domain, code, until, reason)


def _until(r: Reader, today: dt.date) -> dt.date:
    limit = today + dt.timedelta(days=MAX_DAYS)
    fix = f"give an ISO date no later than {limit.isoformat()} ({MAX_DAYS} days from today)"
    value = r.get("until", True, fix + "; an ignore rule must expire")
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise r.error("until", f"{quoted(value)} is not an ISO date (YYYY-MM-DD)",
                          fix) from None
    if not isinstance(value, dt.date):
        raise r.error("until", f"expected an ISO date, got {kind(value)}", fix)
    if value > limit:
        raise r.error("until", f"{value.isoformat()} is more than {MAX_DAYS} days away",
                      fix + "; renew the rule when it expires if the drift must stay")
    return value
