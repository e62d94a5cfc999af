"""JUnit XML (drift/schema/junit.xsd): one test suite per domain, one test case per check, so a
CI test tab lists what failed where. A failing finding is a <failure>, a source that could not
be asked an <error>, a check not made (--skip, not applicable) <skipped>; warnings below
--fail-on go to <system-out>."""

from __future__ import annotations

import socket
from xml.etree import ElementTree as ET

from drift.checks import CHECKS, STACK_CHECKS, Finding
from drift.reports import STACK, Lost, Report, line


def render(report: Report) -> str:
    findings: dict[tuple[str, str], list[Finding]] = {}
    for finding in report.findings:
        findings.setdefault((finding.domain, finding.check), []).append(finding)
    suites = ET.Element("testsuites", name=f"lsctl drift {report.stack}",
                        time=f"{report.duration:.3f}")
    for domain in (*report.domains, STACK):
        checks = STACK_CHECKS if domain == STACK else CHECKS
        cases = [_case(report, domain, check, findings.get((domain, check), []))
                 for check in checks]
        suite = ET.SubElement(
            suites, "testsuite", name=domain if domain != STACK else f"{report.stack} (stack)",
            tests=str(len(cases)), failures=str(_count(cases, "failure")),
            errors=str(_count(cases, "error")), skipped=str(_count(cases, "skipped")),
            time="0", timestamp=report.checked_at.strftime("%Y-%m-%dT%H:%M:%S"),
            hostname=socket.gethostname())
        suite.extend(cases)
    for total in ("tests", "failures", "errors"):
        suites.set(total, str(sum(int(s.get(total, "0")) for s in suites)))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _case(report: Report, domain: str, check: str, findings: list[Finding]) -> ET.Element:
    case = ET.Element("testcase", name=check, classname=f"lsctl.drift.{domain}", time="0")
    why_not = report.not_made(domain, check) if domain != STACK else (
        "not asked (--skip dns)" if "dns" in report.skipped else None)
    if why_not is not None:
        ET.SubElement(case, "skipped", message=why_not)
        return case
    passing = []
    for finding in findings:
        if report.fails(finding):
            failure = ET.SubElement(case, "failure", message=line(finding), type=finding.code)
            failure.text = (f"expected: {finding.expected}\nactual:   {finding.actual}\n"
                            f"where:    {finding.where}")
        else:
            passing.append(line(finding))
    for lost in _undecided(report, domain, check):
        ET.SubElement(case, "error", message=f"could not ask {lost.source}: {lost.detail}",
                      type="unreachable")
    if passing:
        ET.SubElement(case, "system-out").text = "\n".join(passing)
    return case


def _undecided(report: Report, domain: str, check: str) -> list[Lost]:
    if domain == STACK:
        return [u for u in report.unreachable if u.domain == STACK]
    return report.undecided(domain, check)


def _count(cases: list[ET.Element], kind: str) -> int:
    return sum(case.find(kind) is not None for case in cases)
