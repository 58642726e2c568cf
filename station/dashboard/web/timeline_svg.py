"""The session report page's timeline, drawn on the server as SVG: no script, and the same
picture as the PDF's strip chart (`reports.pdf_timeline`: its span, ticks and lanes): a band
per sound set, a lane per input with a mark as wide as each press was held, a short mark
under it for each press not counted, and numbered observations, over minutes from the start.

The picture is for the eye; the page's tables say the same in text for a screen reader.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from station.dashboard.reports.pdf_timeline import lanes, span_seconds, tick_step
from station.dashboard.reports.session_report import SessionReport
from station.dashboard.reports.words import clock

WIDTH = 900.0
LABEL = 140.0
RIGHT = 16.0
BAND = 26.0
LANE = 40.0
OBSERVATIONS = 30.0
AXIS = 34.0
PRESS = "#1b5e66"
NOT_COUNTED = "#b34700"
OBSERVATION = "#1e6b3a"
BANDS = ("#e3eef0", "#eef3e0", "#fbeedd", "#ece9f4")
MIN_MARK = 2.5  # a press too short to see still shows


def timeline_svg(report: SessionReport) -> Markup:
    """The timeline of `report` as an ``<svg>`` element (safe to put in a page)."""
    seconds = span_seconds(report)
    names = lanes(report)
    plot = WIDTH - LABEL - RIGHT

    def x(at: float) -> float:
        return LABEL + plot * min(max(at, 0.0), seconds) / seconds

    top = BAND
    lanes_bottom = top + LANE * len(names)
    observations_bottom = lanes_bottom + (OBSERVATIONS if report.observations else 0.0)
    height = observations_bottom + AXIS
    parts = []
    for number, period in enumerate(report.sound_sets):
        following = report.sound_sets[number + 1].since.seconds if number + 1 < len(
            report.sound_sets) else seconds
        left, right = x(period.since.seconds), x(following)
        parts.append(f'<rect x="{left:.1f}" y="0" width="{max(right - left, 1):.1f}" '
                     f'height="{lanes_bottom:.1f}" fill="{BANDS[number % len(BANDS)]}"/>')
        if right - left >= 9.0 * len(period.sound_set) + 12:  # else the facts above name it
            parts.append(f'<text x="{left + 6:.1f}" y="17" class="band">'
                         f"{escape(period.sound_set)}</text>")
    step = tick_step(seconds)
    for tick in range(0, int(seconds) + 1, step):
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top:.1f}" '
                     f'y2="{observations_bottom + 6:.1f}" class="grid"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{observations_bottom + 24:.1f}" '
                     f'class="tick">{clock(tick)}</text>')
    for row, name in enumerate(names):
        y = top + LANE * row
        parts.append(f'<text x="{LABEL - 10:.1f}" y="{y + LANE / 2 + 6:.1f}" class="lane">'
                     f"{escape(name)}</text>")
        parts.append(f'<line x1="{LABEL:.1f}" x2="{WIDTH - RIGHT:.1f}" y1="{y + LANE:.1f}" '
                     f'y2="{y + LANE:.1f}" class="rule"/>')
        for press in (p for p in report.presses if p.input == name):
            held = (press.hold_ms or 0.0) / 1000.0
            width = max(x(press.at.seconds + held) - x(press.at.seconds), MIN_MARK)
            parts.append(f'<rect x="{x(press.at.seconds):.1f}" y="{y + 6:.1f}" '
                         f'width="{width:.1f}" height="{LANE * 0.5:.1f}" fill="{PRESS}"/>')
        for rejection in (r for r in report.rejections if r.input == name):
            parts.append(f'<rect x="{x(rejection.at.seconds) - 1:.1f}" '
                         f'y="{y + LANE * 0.62:.1f}" width="3" height="{LANE * 0.3:.1f}" '
                         f'fill="{NOT_COUNTED}"/>')
    for number, observation in enumerate(report.observations, start=1):
        cx, cy = x(observation.at.seconds), lanes_bottom + OBSERVATIONS / 2
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="11" fill="{OBSERVATION}"/>')
        parts.append(f'<text x="{cx:.1f}" y="{cy + 5:.1f}" class="number">{number}</text>')
    if report.observations:
        parts.append(f'<text x="{LABEL - 10:.1f}" y="{lanes_bottom + OBSERVATIONS / 2 + 6:.1f}" '
                     'class="lane">observations</text>')
    label = (f"Timeline of the session over {clock(seconds)} (minutes:seconds): "
             f"{len(report.presses)} presses, {len(report.rejections)} not counted, "
             f"{len(report.observations)} observations. The tables below give the numbers.")
    return Markup(
        f'<svg class="timeline" viewBox="0 0 {WIDTH:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts) + "</svg>")
