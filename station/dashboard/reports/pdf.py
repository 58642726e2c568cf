"""The session report as a PDF, with fpdf2 (pure Python; runs on a Pi).

A4, in this order: a header (pseudonym, date, time, duration, station, sound sets), the
objective data paragraph or the therapist's saved note, presses per input as a table, the
engagement figures, the timeline as a strip chart (`pdf_timeline`), and the observations with
their notes. Every page's footer names the client and the session.

Text is set in DejaVu Sans (Debian's ``fonts-dejavu-core``), which has the characters notes
are written in; without it the PDF falls back to the PDF's built-in Helvetica, which only has
Latin-1 (other characters become ``?``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace, XPos, YPos

from station.dashboard.reports import pdf_timeline
from station.dashboard.reports.paragraph import (
    cue_words,
    goal_lines,
    objective_data,
    sensor_lines,
)
from station.dashboard.reports.session_report import SessionReport
from station.dashboard.reports.words import (
    TAG_WORDS,
    by_count,
    clock,
    date_words,
    duration_words,
    join_words,
    one_decimal,
    plural,
    reason_words,
)

FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"),)
"""Where Debian's fonts-dejavu-core puts its TTF files."""

INK = (33, 33, 33)
MUTED = (100, 100, 100)
HEADING = (31, 73, 125)
BOX = (245, 247, 250)
RULE = (200, 205, 212)


@dataclass(frozen=True)
class ReportFonts:
    """A regular and a bold TrueType font with the characters reports need."""

    regular: Path
    bold: Path


def find_fonts(folders: tuple[Path, ...] = FONT_FOLDERS) -> ReportFonts | None:
    """DejaVu Sans in the first of `folders` that has it; None if none does."""
    for folder in folders:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return ReportFonts(regular, bold)
    return None


_UNIT_SPACE = re.compile(r"(\d|\bh|\bmin) (?=(?:h|min|s|ms|\d))")
_LATIN1 = str.maketrans({"–": "-", "—": "-", "…": "...", "‘": "'", "’": "'", "“": '"',
                         "”": '"', "→": "->"})


class _Document(FPDF):
    def __init__(self, fonts: ReportFonts | None, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        self.unicode = fonts is not None
        if fonts is not None:
            self.add_font("Report", "", str(fonts.regular))
            self.add_font("Report", "B", str(fonts.bold))
            self.face = "Report"
        else:
            self.face = "Helvetica"
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)

    def text_of(self, text: str) -> str:
        """`text` as the font can show it."""
        if self.unicode:
            return text
        return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    def normalize_text(self, text: str) -> str:  # fpdf2 calls this for every text it sets
        return super().normalize_text(self.text_of(text))

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.face, size=7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 4, f"{self.footer_text} · page {self.page_no()} of {{nb}}", align="C")


def session_pdf(
    report: SessionReport, *, fonts: ReportFonts | None, note: str | None = None,
    printed: datetime | None = None, note_source: str = "",
) -> bytes:
    """The PDF of `report`. `note` is the therapist's saved session note (None: the objective
    data paragraph drafted from the numbers); `note_source`, when given, says under the
    heading which it is (who saved which version when, or that it is the draft); `printed`,
    when given, is shown as the time the report was made. `fonts` None uses the built-in
    Helvetica (Latin-1 only)."""
    client = join_words(list(report.clients)) or "no client"
    pdf = _Document(fonts, f"{client} · session {report.session_id} · pseudonymised "
                           "engagement data")
    pdf.set_title(f"Session report {client} {report.session_id}")
    pdf.set_author("Sensory Music Station")
    pdf.set_creator("Sensory Music Station dashboard")
    if printed is not None:
        pdf.set_creation_date(printed)
    pdf.add_page()
    _header(pdf, report, client, printed)
    _section(pdf, "Session note" if note is not None else "Objective data")
    if note_source:
        _line(pdf, note_source)
    _boxed(pdf, note if note is not None else objective_data(report))
    _section(pdf, "Presses per input")
    _inputs(pdf, report)
    _section(pdf, "Engagement")
    _facts(pdf, _engagement(report))
    goals = [(f"Goal {name}", words) for name, words in goal_lines(report.summary)]
    cues = cue_words(report.summary)
    if goals or cues:
        _section(pdf, "Cues and goals")
        _facts(pdf, ([("Cues", cues)] if cues else []) + goals)
    sensors = sensor_lines(report.summary)
    if sensors:
        _section(pdf, "Sensors")
        _facts(pdf, sensors)
    _timeline(pdf, report)
    _section(pdf, "Observations and notes")
    _observations(pdf, report)
    return bytes(pdf.output())


def _section(pdf: _Document, title: str, space: float = 14.0) -> None:
    if pdf.get_y() + space > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font(pdf.face, "B", 12)
    pdf.set_text_color(*HEADING)
    pdf.cell(0, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(2)
    pdf.set_text_color(*INK)


def _header(pdf: _Document, report: SessionReport, client: str,
            printed: datetime | None) -> None:
    pdf.set_font(pdf.face, "B", 18)
    pdf.set_text_color(*HEADING)
    pdf.cell(0, 9, "Session report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.face, "B", 13)
    pdf.set_text_color(*INK)
    when = date_words(report.started) if report.started else "date not recorded"
    pdf.cell(0, 7, f"{client} · {when}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    facts = [("Client", client), ("Date", when), ("Time", _times(report)),
             ("Duration", duration_words(report.duration_s)
              if report.duration_s is not None else "not recorded"),
             ("Station", f"{report.station.name} (site {report.station.site})"),
             ("Sound sets", _sound_sets(report)),
             ("Session", f"{report.session_id}, "
              + ("ended at the station" if report.ended_by == "session_end"
                 else "interrupted (no end was recorded)")),
             ("Figures", "as the station summarised the session"
              if report.summary_source == "station"
              else "recomputed by the dashboard from the stored events")]
    if printed is not None:
        facts.append(("Report made", f"{date_words(printed)}, {printed:%H:%M}"))
    _facts(pdf, facts)


def _times(report: SessionReport) -> str:
    if report.started is None:
        return "not recorded"
    zone = f" ({report.started.tzname()})" if report.started.tzname() else ""
    if report.ended is None:
        return f"from {report.started:%H:%M}{zone}"
    # Within one minute the minutes alone would say "11:14 to 11:14".
    shown = "%H:%M" if f"{report.started:%H:%M}" != f"{report.ended:%H:%M}" else "%H:%M:%S"
    return f"{report.started.strftime(shown)} to {report.ended.strftime(shown)}{zone}"


def _sound_sets(report: SessionReport) -> str:
    if not report.sound_sets:
        return "not recorded"
    if len(report.sound_sets) == 1:
        return report.sound_sets[0].sound_set
    return ", ".join(f"{period.sound_set} from {clock(period.since.seconds)}"
                     for period in report.sound_sets)


def _facts(pdf: _Document, facts: list[tuple[str, str]]) -> None:
    pdf.set_font(pdf.face, size=10)
    label = FontFace(emphasis="", color=MUTED)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(col_widths=(38, 136), first_row_as_headings=False, borders_layout="NONE",
                   text_align="LEFT", line_height=5.2, padding=(0.6, 1, 0.6, 0),
                   align="LEFT", width=174) as table:
        for name, value in facts:
            row = table.row()
            row.cell(name, style=label)
            row.cell(value)


def _boxed(pdf: _Document, text: str) -> None:
    # A number keeps its unit on its line ("4 min 10 s" never ends a line with "4 min 10").
    text = _UNIT_SPACE.sub("\\1\u00a0", text)
    pdf.set_font(pdf.face, size=10.5)
    pdf.set_fill_color(*BOX)
    pdf.set_draw_color(*RULE)
    pdf.multi_cell(0, 5.6, text, border=1, fill=True, align="L", padding=(3, 4, 3, 4),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: _Document, titles: tuple[str, ...], widths: tuple[float, ...],
           align: tuple[str, ...]) -> Any:
    """A report table (174 mm wide, rules between rows) with its heading row written."""
    heading = FontFace(emphasis="BOLD", fill_color=(232, 238, 246))
    pdf.set_font(pdf.face, size=10)
    pdf.set_fill_color(255, 255, 255)
    table = pdf.table(col_widths=widths, headings_style=heading, line_height=5.6,
                      text_align=align, width=174, align="LEFT",
                      borders_layout="HORIZONTAL_LINES", padding=(0.8, 1.5))
    return _with_heading(table, titles)


@contextlib.contextmanager
def _with_heading(table: Any, titles: tuple[str, ...]) -> Iterator[Any]:
    with table as opened:
        row = opened.row()
        for title in titles:
            row.cell(title)
        yield opened


def _inputs(pdf: _Document, report: SessionReport) -> None:
    if not report.inputs:
        _line(pdf, "No presses were recorded.")
        return
    with _table(pdf, ("Input", "Accepted", "Not counted", "Why not counted"),
                (40, 22, 28, 84), ("LEFT", "RIGHT", "RIGHT", "LEFT")) as table:
        for tally in report.inputs:
            row = table.row()
            row.cell(tally.input)
            row.cell(f"{tally.accepted:,}")
            row.cell(f"{tally.rejected_total:,}")
            row.cell(_reasons(tally.rejected) or "-")
        if len(report.inputs) > 1:
            total = FontFace(emphasis="BOLD")
            row = table.row()
            row.cell("All inputs", style=total)
            row.cell(f"{report.accepted:,}", style=total)
            row.cell(f"{sum(report.rejected.values()):,}", style=total)
            row.cell(_reasons(report.rejected) or "-", style=total)


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[code]} {reason_words(code)}" for code in by_count(counts))


def _engagement(report: SessionReport) -> list[tuple[str, str]]:
    rate = report.presses_per_minute
    hold: dict[str, Any] = report.hold_ms
    gap = report.summary.get("engaged_gap_s")
    gap_words = f" (presses at most {duration_words(float(gap))} apart)" if gap else ""
    tags = report.observation_tags
    tagged = ", ".join(f"{tags[tag]} {TAG_WORDS[tag]}" for tag in TAG_WORDS if tags.get(tag))
    return [
        ("Accepted presses", f"{report.accepted:,}" + (
            f", {one_decimal(rate)} per minute" if rate is not None else "")),
        ("Active time", f"{duration_words(report.active_s)} in engaged stretches{gap_words}"),
        ("Longest stretch", f"{duration_words(report.longest_stretch_s)}, "
                            f"{plural(report.longest_stretch_presses, 'press', 'presses')}"),
        ("Hold time", f"median {hold['median']:.0f} ms, mean {hold['mean']:.0f} ms, longest "
                      f"{hold['max']:.0f} ms ({plural(int(hold['count']), 'press', 'presses')})"
         if hold.get("count") else "no releases recorded"),
        ("Tagged responses", f"{report.tagged:,}: {tagged}" if report.tagged else "none"),
    ]


def _timeline(pdf: _Document, report: SessionReport) -> None:
    _section(pdf, "Timeline", space=12.0 + pdf_timeline.height(report))
    pdf.ln(1)
    bottom = pdf_timeline.draw(pdf, report, pdf.face, pdf.get_y())
    pdf.set_text_color(*INK)
    pdf.set_xy(pdf.l_margin, bottom)


def _observations(pdf: _Document, report: SessionReport) -> None:
    if not report.observations:
        _line(pdf, "No observations were recorded.")
        return
    with _table(pdf, ("#", "Time", "Tag", "Note"), (9, 36, 34, 95),
                ("RIGHT", "LEFT", "LEFT", "LEFT")) as table:
        for number, observation in enumerate(report.observations, start=1):
            row = table.row()
            row.cell(str(number))
            row.cell(f"{clock(observation.at.seconds)} · {observation.at.at:%H:%M}")
            row.cell(TAG_WORDS.get(observation.tag or "", observation.tag or "-"))
            row.cell(observation.note or "-")


def _line(pdf: _Document, text: str) -> None:
    pdf.set_font(pdf.face, size=10)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
