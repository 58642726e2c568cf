"""The session report as a PDF: the text read back out of it with pypdf, and every page
rendered by poppler's pdftoppm."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from station.dashboard.reports.paragraph import objective_data
from station.dashboard.reports.pdf import FONT_FOLDERS, ReportFonts, find_fonts, session_pdf
from station.dashboard.reports.session_report import SessionReport, build_report
from station.dashboard.reports.summary import summary_of
from tests.dashboard.report_events import PART, SessionScript, example_session, pages_text

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def fonts() -> ReportFonts:
    found = find_fonts()
    if found is None:
        pytest.fail(f"no DejaVu Sans in {FONT_FOLDERS}: run 'make test' (it installs Debian's "
                    "fonts-dejavu-core as root) or 'apt-get install fonts-dejavu-core'")
    return found


def report_of(script: SessionScript) -> SessionReport:
    return build_report(PART, script.events, summary_of(script.events, 10.0), "station",
                        BERLIN)


def test_the_pdf_has_the_header_paragraph_counts_and_observations(fonts: ReportFonts) -> None:
    report = report_of(example_session())
    pdf = session_pdf(report, fonts=fonts, printed=datetime(2025, 11, 26, 9, 30, tzinfo=BERLIN))
    assert pdf.startswith(b"%PDF-")
    pages = pages_text(pdf)
    text = " ".join(pages)
    for expected in (
        "Session report", "C-7F3K · Tuesday 25 November 2025", "Time 14:00 to 14:12 (CET)",
        "Duration 12 min", "Station room-1 (site demo-site)", "Sound sets calm-bells",
        "Session 3fa9c1d2e4b5, ended at the station",
        "Report made Wednesday 26 November 2025, 09:30",
        "Objective data", objective_data(report),
        "Presses per input", "Input Accepted Not counted Why not counted",
        "big-blue 28 0 -", "head-switch 28 0 -",
        "big-red 28 6 4 too short, 2 too soon after the last press",
        "All inputs 84 6 4 too short, 2 too soon after the last press",
        "Accepted presses 84, 7.0 per minute",
        "Longest stretch 4 min 10 s, 51 presses", "Tagged responses 5: 3 independent, 1 "
        "prompted, 1 hand-over-hand", "Timeline", "sound set", "observations",
        "Observations and notes", "2 2:21 · 14:02 prompted reached across",
        "5 7:31 · 14:07 independent smiled",
    ):
        assert expected in text, f"{expected!r} not in the PDF's text:\n{text}"
    for number, page in enumerate(pages, start=1):
        assert page.strip().endswith(
            f"C-7F3K · session 3fa9c1d2e4b5 · pseudonymised engagement data · page {number} "
            f"of {len(pages)}")


def test_a_saved_note_replaces_the_drafted_paragraph_in_any_language(
    fonts: ReportFonts
) -> None:
    note = "Übte „Tempo“ – λ-Rhythmus, ждал сигнала. Started the session smiling."
    text = " ".join(pages_text(session_pdf(report_of(example_session()), fonts=fonts,
                                           note=note)))
    assert "Session note" in text and note in text
    assert "Objective data" not in text and "84 presses were accepted" not in text


def test_without_dejavu_the_builtin_font_shows_latin_text(tmp_path: Path) -> None:
    assert find_fonts((tmp_path,)) is None
    script = example_session()
    text = " ".join(pages_text(session_pdf(report_of(script), fonts=None,
                                           note="Übte – sehr gut, ждал")))
    assert "Session note Übte - sehr gut, ????" in text
    assert "big-red 28 6 4 too short, 2 too soon after the last press" in text


def test_a_long_session_breaks_across_pages_and_every_page_renders(
    fonts: ReportFonts, tmp_path: Path
) -> None:
    script = SessionScript().start()
    for minute in range(40):
        script.at(minute * 60.0 + 5).press("big-red" if minute % 2 else "head-switch", 700.0)
        script.at(minute * 60.0 + 20).observe("prompted" if minute % 3 else "independent",
                                              f"minute {minute}: reached for the switch")
    script.at(40 * 60.0 + 10).sound("drum-circle")
    script.at(45 * 60.0).end()
    report = report_of(script)
    pdf = session_pdf(report, fonts=fonts)
    pages = pages_text(pdf)
    assert len(pages) >= 2
    text = " ".join(pages)
    assert "Sound sets calm-bells from 0:00, drum-circle from 40:10" in text
    assert "40 39:20 · 14:39 independent minute 39: reached for the switch" in text
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is missing: apt-get install poppler-utils (make test does)"
    (tmp_path / "report.pdf").write_bytes(pdf)
    subprocess.run([pdftoppm, "-png", "-r", "80", str(tmp_path / "report.pdf"),
                    str(tmp_path / "page")], check=True, capture_output=True, timeout=60)
    rendered = sorted(tmp_path.glob("page-*.png"))
    assert len(rendered) == len(pages)
    assert all(path.stat().st_size > 5000 for path in rendered)
