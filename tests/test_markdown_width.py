"""The drift Markdown fits a GitHub job summary: rendered with a GFM renderer (markdown-it-py,
with GFM's table extension) under a stylesheet approximating GitHub's, in headless Chromium at
1012 px, nothing is wider than the page and no table needs its own scrollbar."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from drift.reports import markdown
from tests.conftest import ROOT
from tests.drift_sample import sample_report

WIDTH = 1012  # GitHub's job summary (and a pull request comment) at its widest
CSS = ROOT / "tests" / "assets" / "github-markdown.css"
# Off the network (this machine's is closed, and a test must not phone home) and headless.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio")
# After layout: the page's width, and every element wider than its box (a table that would
# scroll inside itself), written where --dump-dom shows it.
MEASURE = """<script>
window.addEventListener("load", () => {
  const wide = [...document.querySelectorAll(".markdown-body *")]
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
    .map(e => e.tagName + ":" + e.scrollWidth + ">" + e.clientWidth);
  document.getElementById("measure").textContent = JSON.stringify(
    {page: document.documentElement.scrollWidth, wide: wide});
});
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (make setup installs Debian's chromium)")


def page(text: str) -> str:
    body = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(
        text)
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS.read_text()}"
            f"</style></head><body><article class='markdown-body'>{body}</article>"
            f"<pre id='measure'></pre>{MEASURE}</body></html>")


def measure(html: str, tmp_path: Path, height: int = 4000) -> dict[str, object]:
    """Lay `html` out at WIDTH in Chromium: its measurements, and a screenshot beside it."""
    browser = chromium()
    source = tmp_path / "summary.html"
    source.write_text(html)
    common = [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
              f"--window-size={WIDTH},{height}"]
    try:
        dom = subprocess.run([*common, "--dump-dom", source.as_uri()], capture_output=True,
                             text=True, timeout=120, check=False)
        shot = subprocess.run([*common, f"--screenshot={tmp_path / 'summary.png'}",
                               source.as_uri()], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"Chromium could not start here: {exc}")
    if dom.returncode != 0 or "<pre id=\"measure\">{" not in dom.stdout:
        pytest.skip(f"Chromium could not start here (exit {dom.returncode}): "
                    f"{dom.stderr.strip().splitlines()[-1:] or 'no output'}")
    assert shot.returncode == 0 and (tmp_path / "summary.png").stat().st_size > 1000
    found: dict[str, object] = json.loads(
        dom.stdout.split('<pre id="measure">', 1)[1].split("</pre>", 1)[0])
    return found


def test_the_summary_fits_githubs_width(tmp_path: Path) -> None:
    text = markdown.render(sample_report(1000))
    findings_table = text.split("**Details:**")[0]
    assert findings_table.count("\n| ") < 20  # 1,000 noisy domains are one row, not 1,000
    assert "**1000**: l0.<wbr>customer" in findings_table and "and 995 more" in findings_table
    found = measure(page(text), tmp_path)
    assert found == {"page": WIDTH, "wide": []}, found


def test_the_measure_sees_a_table_too_wide(tmp_path: Path) -> None:
    """The check is live: the old six-column table of long cells does not fit."""
    sid = "MG" + "0" * 32
    row = (f"| error | `l0.customer-notifications-and-links.marketing-department-of-example.com` "
           f"| `twilio-association-differs` | {sid} uses DN{'1' * 32} | {sid} uses "
           f"DN{'2' * 32} | Twilio Messaging Service |")
    text = ("| severity | domain | finding | expected | actual | where |\n"
            "|---|---|---|---|---|---|\n" + row + "\n")
    found = measure(page(text), tmp_path, height=600)
    assert found["wide"] and str(found["wide"]).startswith("['TABLE:")
