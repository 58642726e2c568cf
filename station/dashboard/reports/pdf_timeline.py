"""The session's timeline as a strip chart, drawn with fpdf2's own primitives (no images): a
band per sound set, one lane per input with a mark for every accepted press (as wide as the
press was held) and a short mark under it for every press not counted, and numbered marks for
the observations, over minutes from the start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fpdf import FPDF

from station.dashboard.reports.session_report import SessionReport
from station.dashboard.reports.words import clock

PRESS = (31, 73, 125)
NOT_COUNTED = (217, 95, 2)
OBSERVATION = (27, 120, 55)
AXIS = (90, 90, 90)
GRID = (225, 225, 225)
BANDS = ((222, 235, 247), (229, 245, 224), (253, 238, 220), (239, 237, 245))
LABEL_WIDTH = 30.0  # mm
LANE = 8.0  # mm per input
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)  # seconds


@dataclass(frozen=True)
class Strip:
    """Where the chart is drawn (mm) and the seconds its width stands for."""

    left: float
    width: float
    seconds: float

    def x(self, seconds: float) -> float:
        return self.left + self.width * min(max(seconds, 0.0), self.seconds) / self.seconds


def span_seconds(report: SessionReport) -> float:
    """The seconds the chart covers: the session's duration, or its last mark."""
    last = max([p.at.seconds for p in report.presses]
               + [r.at.seconds for r in report.rejections]
               + [o.at.seconds for o in report.observations] + [0.0])
    return max(report.duration_s or 0.0, last, 1.0)


def tick_step(seconds: float, most: int = 8) -> int:
    """Seconds between axis ticks, so that at most `most` intervals fit."""
    return next((step for step in TICK_STEPS if seconds / step <= most), TICK_STEPS[-1])


def lanes(report: SessionReport) -> list[str]:
    return [tally.input for tally in report.inputs] or ["(no input)"]


def height(report: SessionReport) -> float:
    """The chart's height (mm), with its axis and legend."""
    observations = 7.0 if report.observations else 0.0
    return 6.0 + 3.0 + LANE * len(lanes(report)) + observations + 6.0 + 7.0


def draw(pdf: FPDF, report: SessionReport, font: str, top: float) -> float:
    """Draw the timeline at `top` (mm) across the page's width; its bottom (mm)."""
    left = pdf.l_margin + LABEL_WIDTH
    strip = Strip(left, pdf.w - pdf.r_margin - left, span_seconds(report))
    y = _sound_sets(pdf, report, strip, font, top)
    lane_top = y + 3.0
    _grid(pdf, strip, lane_top, LANE * len(lanes(report)))
    for index, name in enumerate(lanes(report)):
        _lane(pdf, report, strip, font, name, lane_top + index * LANE)
    y = lane_top + LANE * len(lanes(report))
    y = _observations(pdf, report, strip, font, y)
    y = _axis(pdf, strip, font, y + 1.0)
    return _legend(pdf, font, y + 2.0)


def _label(pdf: FPDF, font: str, text: str, y: float, size: float = 8.0) -> None:
    pdf.set_font(font, size=size)
    pdf.set_text_color(60, 60, 60)
    pdf.set_xy(pdf.l_margin, y)
    pdf.cell(LABEL_WIDTH - 2.0, 4.0, _fit(pdf, text, LABEL_WIDTH - 2.0), align="R")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text`, cut with an ellipsis to fit `width` (mm) in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text + "..."


def _fill(pdf: FPDF, colour: tuple[int, int, int]) -> None:
    pdf.set_fill_color(*colour)


def _sound_sets(pdf: FPDF, report: SessionReport, strip: Strip, font: str, top: float) -> float:
    _label(pdf, font, "sound set", top + 1.0)
    periods = report.sound_sets
    for index, period in enumerate(periods):
        start = strip.x(period.since.seconds)
        end = strip.x(periods[index + 1].since.seconds) if index + 1 < len(periods) else (
            strip.left + strip.width)
        _fill(pdf, BANDS[index % len(BANDS)])
        pdf.rect(start, top, max(end - start, 0.3), 6.0, style="F")
        pdf.set_font(font, size=7.5)
        pdf.set_text_color(40, 40, 40)
        if end - start > 8.0:
            pdf.set_xy(start + 0.5, top + 1.0)
            pdf.cell(end - start - 1.0, 4.0, _fit(pdf, period.sound_set, end - start - 1.0))
    return top + 6.0


def _grid(pdf: FPDF, strip: Strip, top: float, lane_height: float) -> None:
    pdf.set_draw_color(*GRID)
    pdf.set_line_width(0.2)
    step = tick_step(strip.seconds)
    seconds = 0
    while seconds <= strip.seconds:
        pdf.line(strip.x(seconds), top, strip.x(seconds), top + lane_height)
        seconds += step


def _lane(pdf: FPDF, report: SessionReport, strip: Strip, font: str, name: str,
          top: float) -> None:
    _label(pdf, font, name, top + 2.0)
    pdf.set_draw_color(*GRID)
    pdf.line(strip.left, top + LANE - 0.5, strip.left + strip.width, top + LANE - 0.5)
    _fill(pdf, PRESS)
    seconds_per_mm = strip.seconds / strip.width
    for press in report.presses:
        if press.input == name:
            held = (press.hold_ms or 0.0) / 1000.0
            width = max(held / seconds_per_mm, 0.35)
            pdf.rect(strip.x(press.at.seconds), top + 1.0, width, 4.5, style="F")
    _fill(pdf, NOT_COUNTED)
    for rejection in report.rejections:
        if rejection.input == name:
            pdf.rect(strip.x(rejection.at.seconds), top + 5.8, 0.5, 1.5, style="F")


def _observations(pdf: FPDF, report: SessionReport, strip: Strip, font: str,
                  top: float) -> float:
    if not report.observations:
        return top
    _label(pdf, font, "observations", top + 1.5)
    _fill(pdf, OBSERVATION)
    pdf.set_font(font, size=6.5)
    last_label = -1e9
    for number, observation in enumerate(report.observations, start=1):
        x = strip.x(observation.at.seconds)
        pdf.polygon([(x, top + 1.0), (x - 1.2, top + 3.2), (x + 1.2, top + 3.2)], style="F")
        if x - last_label >= 4.0:  # numbers that would overlap are left to the table
            pdf.set_text_color(*OBSERVATION)
            pdf.set_xy(x - 3.0, top + 3.3)
            pdf.cell(6.0, 3.0, str(number), align="C")
            last_label = x
    return top + 7.0


def _axis(pdf: FPDF, strip: Strip, font: str, top: float) -> float:
    pdf.set_draw_color(*AXIS)
    pdf.set_line_width(0.25)
    pdf.line(strip.left, top, strip.left + strip.width, top)
    pdf.set_font(font, size=7.5)
    pdf.set_text_color(*AXIS)
    step = tick_step(strip.seconds)
    seconds = 0
    while seconds <= strip.seconds:
        x = strip.x(seconds)
        pdf.line(x, top, x, top + 1.2)
        # The first label starts at its tick, the others are centred on theirs.
        pdf.set_xy(x if seconds == 0 else x - 8.0, top + 1.3)
        pdf.cell(16.0, 3.5, clock(seconds), align="L" if seconds == 0 else "C")
        seconds += step
    _label(pdf, font, "time from the start", top + 1.3, size=7.5)
    return top + 5.0


def _legend(pdf: FPDF, font: str, top: float) -> float:
    x = pdf.l_margin + LABEL_WIDTH
    items: list[tuple[tuple[int, int, int], str, Any]] = [
        (PRESS, "accepted press (as wide as it was held)", (1.2, 3.5)),
        (NOT_COUNTED, "press not counted", (0.6, 1.5)),
        (OBSERVATION, "observation (numbered as below)", None),
    ]
    pdf.set_font(font, size=7.5)
    for colour, text, size in items:
        _fill(pdf, colour)
        if size is None:
            pdf.polygon([(x + 0.6, top + 0.6), (x - 0.6, top + 2.8), (x + 1.8, top + 2.8)],
                        style="F")
        else:
            pdf.rect(x, top + 3.5 - size[1], size[0], size[1], style="F")
        pdf.set_text_color(60, 60, 60)
        pdf.set_xy(x + 2.5, top)
        pdf.cell(pdf.get_string_width(text) + 1.0, 4.0, text)
        x += pdf.get_string_width(text) + 9.0
    return top + 5.0
