"""JUnit XML (drift/schema/junit.xsd): one test suite per domain, one test case per check, so a
CI test tab lists what failed where. A failing finding is a <failure> whose message ends with
its fix and whose body has the exact command; a source that could not be asked (or is not
configured) an <error>; a check not made (--skip, not applicable) <skipped>; warnings below
--fail-on and acknowledged findings go to <system-out>. A zone-wide finding is one failure in
the zone's own suite ("<zone> (zone)"); its domains' cases point there."""

from __future__ import annotations

import socket
from xml.etree import ElementTree as ET

from drift.checks import CHECKS, STACK_CHECKS, Finding
from drift.reports import STACK, Lost, Report, acknowledged_line, fix_line, line


def render(report: Report) -> str:
    findings: dict[tuple[str, str], list[Finding]] = {}
    zone_wide: dict[tuple[str, str], list[Finding]] = {}  # (domain, check) -> its zone's
    zones: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if finding.affects:
            zones.setdefault(finding.domain, []).append(finding)
            for domain in finding.affects:
                zone_wide.setdefault((domain, finding.check), []).append(finding)
        else:
            findings.setdefault((finding.domain, finding.check), []).append(finding)
    suites = ET.Element("testsuites", name=f"lsctl drift {report.stack}",
                        time=f"{report.duration:.3f}")
    for domain in report.domains:
        _suite(suites, report, domain, [
            _case(report, domain, check, findings.get((domain, check), []),
                  zone_wide.get((domain, check), [])) for check in CHECKS])
    for zone, found in zones.items():
        _suite(suites, report, f"{zone} (zone)", [
            _case(report, zone, check, [f for f in found if f.check == check], zone=True)
            for check in dict.fromkeys(f.check for f in found)])
    _suite(suites, report, f"{report.stack} (stack)", [
        _case(report, STACK, check, findings.get((STACK, check), [])) for check in STACK_CHECKS])
    for total in ("tests", "failures", "errors"):
        suites.set(total, str(sum(int(s.get(total, "0")) for s in suites)))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _suite(suites: ET.Element, report: Report, name: str, cases: list[ET.Element]) -> None:
    suite = ET.SubElement(
        suites, "testsuite", name=name, tests=str(len(cases)),
        failures=str(_count(cases, "failure")), errors=str(_count(cases, "error")),
        skipped=str(_count(cases, "skipped")), time="0",
        timestamp=report.checked_at.strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname())
    suite.extend(cases)


def _case(report: Report, domain: str, check: str, findings: list[Finding],
          elsewhere: list[Finding] | None = None, zone: bool = False) -> ET.Element:
    case = ET.Element("testcase", name=check, classname=f"lsctl.drift.{domain}", time="0")
    why_not = None if zone else report.not_made(domain, check) if domain != STACK else (
        "not asked (--skip dns)" if "dns" in report.skipped else None)
    if why_not is not None:
        ET.SubElement(case, "skipped", message=why_not)
        return case
    passing = []
    for finding in findings:
        if report.fails(finding):
            fix = fix_line(finding)
            failure = ET.SubElement(case, "failure", type=finding.code,
                                    message=line(finding) + (f"; fix: {fix}" if fix else ""))
            failure.text = (f"expected: {finding.expected}\nactual:   {finding.actual}\n"
                            f"where:    {finding.where}"
                            + (f"\naffects:  {', '.join(finding.affects)}"
                               if finding.affects else "")
                            + (f"\nfix:      {finding.fix}" if finding.fix else "")
                            + (f"\nrun:      {finding.command}" if finding.command else ""))
        else:
            ack = acknowledged_line(finding)
            passing.append(line(finding) + (f" ({ack})" if ack else ""))
    passing += [f"zone-wide, reported once in suite {f.domain} (zone): {f.code}"
                for f in elsewhere or ()]
    for lost in () if zone else _undecided(report, domain, check):
        message = f"{lost.source} not configured: set {lost.setting}" if lost.setting else \
            f"could not ask {lost.source}: {lost.detail}"
        ET.SubElement(case, "error", message=message,
                      type="not-configured" if lost.setting else "unreachable")
    if passing:
        ET.SubElement(case, "system-out").text = "\n".join(passing)
    return case


def _undecided(report: Report, domain: str, check: str) -> list[Lost]:
    if domain == STACK:
        return [u for u in (*report.unreachable, *report.not_configured) if u.domain == STACK]
    return report.undecided(domain, check)


def _count(cases: list[ET.Element], kind: str) -> int:
    return sum(case.find(kind) is not None for case in cases)
