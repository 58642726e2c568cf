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
  const dateOnly = uPlot.fmtDate("{D} {MMM} {YYYY}");
  const dateTime = uPlot.fmtDate("{D} {MMM} {YYYY} {HH}:{mm}");

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
            ctx.font = `${12 * ratio}px system-ui, sans-serif`;
            ctx.textAlign = "center";
            for (const marker of markers) {
              const x = Math.round(u.valToPos(marker.x, "x", true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) {
                continue;
              }
              ctx.beginPath();
              ctx.moveTo(x, top + 14 * ratio);
              ctx.lineTo(x, top + height);
              ctx.stroke();
              ctx.fillText(String(marker.number), x, top + 11 * ratio);
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  function widthOf(element) {
    return Math.max(260, Math.floor(element.getBoundingClientRect().width));
  }

  // One session has no span of time: give the axis a day either side.
  function xRange(u, min, max) {
    return min === max ? [min - 86400, max + 86400] : [min, max];
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
      scales: { x: { time: true, range: xRange }, y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.1] } },
      axes: [
        { values: (u, splits) => splits.map((value) => dateOnly(new Date(value * 1000))) },
        { label: chart.unit, size: 60 },
      ],
      series: [
        { label: "session", value: (u, value) => (value == null ? "–" : dateTime(new Date(value * 1000))) },
        ...chart.series.map((line, index) => ({
          label: line.label,
          stroke: colours[index % colours.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 8, fill: colours[index % colours.length] },
        })),
      ],
      cursor: { drag: { x: false, y: false } },
      plugins: [markersPlugin(data.markers)],
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
