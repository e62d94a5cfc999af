"""The JSON report, documented by drift/schema/drift-report.schema.json. `schema_version`
changes only when a field changes meaning or goes away; new fields may appear."""

from __future__ import annotations

import json
from dataclasses import asdict

from drift.reports import Report

SCHEMA_VERSION = 1


def render(report: Report) -> str:
    return json.dumps({
        "schema_version": SCHEMA_VERSION,
        "stack": report.stack,
        "checked_at": report.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
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
            "unreachable": len(report.unreachable),
        },
        "findings": [asdict(f) for f in report.findings],
        "unreachable": [asdict(u) for u in report.unreachable],
        "renewals": [{"domain": r.domain, "due": r.due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "why": r.why} for r in report.renewals],
    }, indent=2) + "\n"
