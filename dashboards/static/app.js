// Draw every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">.
// Data arrives as JSON (never as script), so the page needs no inline script and the CSP
// can forbid it. Chart.js is served from /static/vendor (npm package, no CDN).
(function () {
  "use strict";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function draw(canvas) {
    if (canvas.dataset.drawn === "1" || typeof window.Chart === "undefined") { return; }
    var data = readJSON(canvas.dataset.chart);
    if (!data || !Array.isArray(data.labels) || !Array.isArray(data.series)) { return; }
    var kind = canvas.dataset.kind === "bar" ? "bar" : "line";
    var datasets = data.series.map(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: String(s.label), data: s.data, borderColor: colour, backgroundColor: colour,
        spanGaps: true, pointRadius: 3, borderWidth: 2
      };
    });
    new window.Chart(canvas, {
      type: kind,
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: kind === "bar" ? { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } : {},
        plugins: { legend: { position: "bottom" } }
      }
    });
    canvas.dataset.drawn = "1";
  }

  function drawAll(root) {
    var canvases = (root || document).querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) { draw(canvases[i]); }
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { drawAll(ev.target); });
})();
