"""The JSON report, documented by drift/schema/drift-report.schema.json. `schema_version`
changes only when a field changes meaning or goes away; new fields may appear.

Version 2: every finding has `title`, `fix` and `command`, `zone`, `affects` (a zone-wide
finding is one entry for its zone, naming its domains) and `acknowledged`; `groups` sums the
findings up by code; `not_configured` lists the sources never asked for lack of a setting
(they were under `unreachable` in version 1); `certificates` gives each domain's days left."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from drift.certificates import CertificateStatus
from drift.checks import Finding
from drift.remediation import title
from drift.reports import SAMPLE, Lost, Report

SCHEMA_VERSION = 2


def render(report: Report) -> str:
    return json.dumps({
        "schema_version": SCHEMA_VERSION,
        "stack": report.stack,
        "checked_at": _time(report.checked_at),
        "duration_seconds": round(report.duration, 3),
        "status": report.status,
        "exit_code": report.exit_code,
        "fail_on": report.fail_on,
        "skipped": list(report.skipped),
        "domains": list(report.domains),
        "summary": {
            "domains": len(report.domains),
            "clean": len(report.clean_domains()),
            "errors": report.count("error"),
            "warnings": report.count("warning"),
            "acknowledged": len(report.acknowledged),
            "unreachable": len(report.unreachable),
            "not_configured": len(report.not_configured),
        },
        "findings": [_finding(f) for f in report.findings],
        "groups": [{"code": g.code, "severity": g.severity, "title": title(g.code),
                    "count": g.count, "sample": list(g.sample(SAMPLE)), "fix": g.fix,
                    "command": g.generic_command}
                   for g in report.groups()],
        "unreachable": [_lost(u) for u in report.unreachable],
        "not_configured": [{**_lost(u), "setting": u.setting} for u in report.not_configured],
        "certificates": [_certificate(c) for c in report.certificates],
        "renewals": [{"domain": r.domain, "due": r.due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "why": r.why} for r in report.renewals],
    }, indent=2) + "\n"


def _finding(f: Finding) -> dict[str, Any]:
    ack = f.acknowledged
    return {"code": f.code, "severity": f.severity, "check": f.check, "domain": f.domain,
            "zone": f.zone, "affects": list(f.affects), "title": title(f.code),
            "expected": f.expected, "actual": f.actual, "where": f.where, "fix": f.fix,
            "command": f.command,
            "acknowledged": {"until": ack.until.isoformat(), "reason": ack.reason}
            if ack else None}


def _lost(u: Lost) -> dict[str, Any]:
    return {"domain": u.domain, "probe": u.probe, "source": u.source, "detail": u.detail}


def _certificate(c: CertificateStatus) -> dict[str, Any]:
    return {"domain": c.domain, "mode": c.mode,
            "expires": _time(c.expires) if c.expires else None, "days_left": c.days_left,
            "next_renewal": _time(c.next_renewal) if c.next_renewal else None,
            "source": c.source}


def _time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
