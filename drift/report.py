"""The drift report: the findings of one run, its exit code, and its four renderings."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from xml.etree import ElementTree as ET

from drift.checks import CHECKS, Finding

SCHEMA_VERSION = 1
EXIT_CLEAN, EXIT_DRIFT, EXIT_UNCHECKED = 0, 1, 2


@dataclass(frozen=True)
class Report:
    stack: str
    domains: tuple[str, ...]
    findings: tuple[Finding, ...]
    unreachable: tuple[tuple[str, str, str], ...]  # (domain or "*", source, why)
    checked_at: dt.datetime
    fail_on: str = "error"

    def failing(self) -> list[Finding]:
        levels = ("error",) if self.fail_on == "error" else ("error", "warning")
        return [f for f in self.findings if f.severity in levels]

    @property
    def exit_code(self) -> int:
        if self.unreachable:
            return EXIT_UNCHECKED
        return EXIT_DRIFT if self.failing() else EXIT_CLEAN


def to_json(report: Report) -> str:
    """Documented in drift/schema/drift-report.schema.json; `schema_version` changes only when
    a field changes meaning or goes away."""
    return json.dumps({
        "schema_version": SCHEMA_VERSION,
        "stack": report.stack,
        "checked_at": report.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exit_code": report.exit_code,
        "fail_on": report.fail_on,
        "domains": list(report.domains),
        "summary": {
            "domains": len(report.domains),
            "errors": sum(f.severity == "error" for f in report.findings),
            "warnings": sum(f.severity == "warning" for f in report.findings),
            "unreachable": len(report.unreachable),
        },
        "findings": [asdict(f) for f in report.findings],
        "unreachable": [{"domain": d, "source": s, "detail": why}
                        for d, s, why in report.unreachable],
    }, indent=2)


def to_junit(report: Report) -> str:
    """One test case per domain and check, so CI test tabs list what failed where."""
    suites = ET.Element("testsuites", name=f"lsctl drift {report.stack}")
    for domain in report.domains:
        cases = []
        for check in CHECKS:
            case = ET.Element("testcase", name=check, classname=f"lsctl.drift.{domain}",
                              time="0")
            mine = [f for f in report.findings if f.domain == domain and f.check == check]
            failing = [f for f in mine if f in report.failing()]
            for finding in failing:
                failure = ET.SubElement(case, "failure", message=_line(finding),
                                        type=finding.code)
                failure.text = _detail(finding)
            others = [f for f in mine if f not in failing]
            if others:
                ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in others)
            cases.append(case)
        lost = [(s, why) for d, s, why in report.unreachable if d == domain]
        if lost:
            case = ET.Element("testcase", name="reachability", classname=f"lsctl.drift.{domain}",
                              time="0")
            for source, why in lost:
                ET.SubElement(case, "error", message=f"{source}: {why}", type="unreachable")
            cases.append(case)
        suite = ET.SubElement(
            suites, "testsuite", name=domain, tests=str(len(cases)),
            failures=str(sum(c.find("failure") is not None for c in cases)),
            errors=str(sum(c.find("error") is not None for c in cases)), skipped="0",
            time="0", timestamp=report.checked_at.strftime("%Y-%m-%dT%H:%M:%S"))
        suite.extend(cases)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


def to_markdown(report: Report) -> str:
    """For a CI job summary ($GITHUB_STEP_SUMMARY)."""
    status = {EXIT_CLEAN: "clean", EXIT_DRIFT: "DRIFT",
              EXIT_UNCHECKED: "COULD NOT CHECK"}[report.exit_code]
    lines = [f"## lsctl drift: stack `{report.stack}`: {status}", "",
             f"{len(report.domains)} domain(s) checked at "
             f"{report.checked_at:%Y-%m-%d %H:%M} UTC; "
             f"{sum(f.severity == 'error' for f in report.findings)} error(s), "
             f"{sum(f.severity == 'warning' for f in report.findings)} warning(s).", ""]
    if report.findings:
        lines += ["| severity | domain | finding | expected | actual | where |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {f.severity} | `{f.domain}` | {f.code} | {_md(f.expected)} | "
                  f"{_md(f.actual)} | {_md(f.where)} |" for f in report.findings]
    if report.unreachable:
        lines += ["", "**Could not check:**", ""]
        lines += [f"- `{d}`: {s}: {_md(why)}" for d, s, why in report.unreachable]
    return "\n".join(lines) + "\n"


def _line(finding: Finding) -> str:
    return f"{finding.severity} {finding.code}: expected {finding.expected}; " \
           f"actual {finding.actual} ({finding.where})"


def _detail(finding: Finding) -> str:
    return (f"expected: {finding.expected}\nactual:   {finding.actual}\n"
            f"where:    {finding.where}")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
