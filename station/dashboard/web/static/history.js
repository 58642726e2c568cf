// The client page's trend charts, drawn with uPlot (served by the dashboard from where
// scripts/fetch-npm-assets.sh put it) from the page's own JSON block: no inline script, no
// request of its own. Each chart marks the changes (sound set, client settings) with a
// dashed line and the number the page's list gives them.
"use strict";

(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof uPlot === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const colours = ["#1b5e66", "#b34700", "#5b4a9e", "#1e6b3a"];
  const DAY = 86400;
  const monthYear = uPlot.fmtDate("{MMM} {YYYY}");
  const dayMonth = uPlot.fmtDate("{D} {MMM}");
  const dayTime = uPlot.fmtDate("{D} {MMM} {HH}:{mm}");

  // Ticks as a therapist reads dates (1 Dec, Dec 2026), coarser the longer the history.
  function tickLabels(u, splits, axisIndex, space, increment) {
    const format = increment >= 28 * DAY ? monthYear : increment >= DAY ? dayMonth : dayTime;
    return splits.map((value) => format(new Date(value * 1000)));
  }

  // The sessions with a margin either side, so no point sits on the frame; a few days
  // around a single session.
  function xRange() {
    const first = Math.min(...data.x);
    const last = Math.max(...data.x);
    const margin = Math.max((last - first) * 0.05, 2 * DAY);
    return [first - margin, last + margin];
  }

  function markersPlugin(markers) {
    return {
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            const { top, height } = u.bbox;
            const ratio = window.devicePixelRatio || 1;
            ctx.save();
            ctx.strokeStyle = "#6b4e16";
            ctx.fillStyle = "#6b4e16";
            ctx.lineWidth = 1.5 * ratio;
            ctx.setLineDash([5 * ratio, 4 * ratio]);
            ctx.font = `bold ${13 * ratio}px system-ui, sans-serif`;
            ctx.textAlign = "center";
            let previous = -Infinity;
            let row = 0;
            for (const marker of markers) {
              const x = Math.round(u.valToPos(marker.x, "x", true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) {
                continue;
              }
              // Changes close together (a session begun with another sound set, then one
              // changed in it) get their numbers one under the other, never on top.
              row = x - previous < 18 * ratio ? row + 1 : 0;
              previous = x;
              const labelY = top + (11 + 13 * row) * ratio;
              ctx.beginPath();
              ctx.moveTo(x, labelY + 3 * ratio);
              ctx.lineTo(x, top + height);
              ctx.stroke();
              ctx.fillText(String(marker.number), x + (row ? 8 * ratio : 0), labelY);
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  // A goal's criterion: a solid line across the chart at its percentage, labelled.
  function criterionPlugin(percent) {
    return {
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            const ratio = window.devicePixelRatio || 1;
            const y = Math.round(u.valToPos(percent, "y", true));
            ctx.save();
            ctx.strokeStyle = "#1e6b3a";
            ctx.fillStyle = "#1e6b3a";
            ctx.lineWidth = 2 * ratio;
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            ctx.font = `bold ${12 * ratio}px system-ui, sans-serif`;
            ctx.textAlign = "right";
            ctx.fillText(`criterion ${percent} %`, u.bbox.left + u.bbox.width - 4 * ratio,
                         y - 5 * ratio);
            ctx.restore();
          },
        ],
      },
    };
  }

  function widthOf(element) {
    return Math.max(260, Math.floor(element.getBoundingClientRect().width));
  }

  const plots = [];
  for (const chart of data.charts) {
    const element = document.getElementById(`chart-${chart.id}`);
    if (!element) {
      continue;
    }
    const options = {
      width: widthOf(element),
      height: 220,
      scales: {
        x: { time: true, range: xRange },
        y: { range: chart.criterion === undefined
          ? (u, min, max) => [0, Math.max(max, 1) * 1.1] : () => [0, 105] },
      },
      axes: [
        { values: tickLabels, space: 90 },
        { label: chart.unit, size: 60 },
      ],
      // The legend names the lines; the numbers are in the table below.
      legend: { live: false },
      series: [
        { label: "session" },
        ...chart.series.map((line, index) => ({
          label: line.label,
          stroke: colours[index % colours.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 8, fill: colours[index % colours.length] },
        })),
      ],
      cursor: { drag: { x: false, y: false } },
      plugins: [markersPlugin(data.markers),
        ...(chart.criterion === undefined ? [] : [criterionPlugin(chart.criterion)])],
    };
    const plot = new uPlot(options, [data.x, ...chart.series.map((line) => line.values)], element);
    element.dataset.markers = String(data.markers.length);
    element.dataset.drawn = "true";
    plots.push([plot, element]);
  }

  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      for (const [plot, element] of plots) {
        plot.setSize({ width: widthOf(element), height: 220 });
      }
    }, 150);
  });
})();
