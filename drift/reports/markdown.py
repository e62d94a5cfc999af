"""Markdown for a CI job summary ($GITHUB_STEP_SUMMARY): status, counts, one table row per
finding (capped: the summary has a size limit; the JUnit and JSON reports have everything)."""

from __future__ import annotations

from drift.reports import STACK, Report

MAX_ROWS = 500
HEADLINE = {"clean": "clean", "drift": "DRIFT", "unchecked": "COULD NOT CHECK"}


def render(report: Report) -> str:
    lines = [f"## lsctl drift: stack `{report.stack}`: {HEADLINE[report.status]}", "",
             f"{len(report.domains)} domain(s) checked at {report.checked_at:%Y-%m-%d %H:%M} "
             f"UTC in {report.duration:.1f} s: {report.count('error')} error(s), "
             f"{report.count('warning')} warning(s), {len(report.unreachable_grouped())} "
             f"source(s) not reachable; {len(report.clean_domains())} domain(s) clean.", ""]
    if report.findings:
        lines += ["| severity | domain | finding | expected | actual | where |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {f.severity} | `{f.domain}` | `{f.code}` | {_cell(f.expected)} | "
                  f"{_cell(f.actual)} | {_cell(f.where)} |" for f in report.findings[:MAX_ROWS]]
        if len(report.findings) > MAX_ROWS:
            lines.append(f"\n... and {len(report.findings) - MAX_ROWS} more findings: see the "
                         "JUnit or JSON report.")
        lines.append("")
    if report.unreachable:
        lines += ["**Could not check:**", ""]
        for source, detail, domains in report.unreachable_grouped():
            about = ", ".join(f"`{d}`" for d in domains[:5] if d != STACK) or "the stack"
            more = f" and {len(domains) - 5} more" if len(domains) > 5 else ""
            lines.append(f"- {_cell(source)}: {_cell(detail)} ({about}{more})")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
