/* GridCollect charts: any <canvas data-chart="ID"> with a <script type="application/json" id="ID">
   holding {labels, datasets, scales, indexAxis, links} is drawn with the vendored Chart.js, on page load and
   after htmx swaps a panel in. Each chart sits next to a table with the same numbers. */
(function () {
  function draw(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      var spec = JSON.parse(source.textContent);
      canvas.dataset.drawn = "1";
      new Chart(canvas, {
        type: spec.type || "line",
        data: { labels: spec.labels, datasets: spec.datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: spec.indexAxis || "x",
          interaction: { mode: "index", intersect: false },
          scales: spec.scales || {},
          plugins: { legend: { position: "bottom" } },
          // Optional {links: [url per label]}: a click on a bar opens the list behind it (the
          // same links are in the table next to the chart, for keyboards and screen readers).
          onClick: spec.links ? function (event, elements) {
            if (elements.length && spec.links[elements[0].index]) window.location.href = spec.links[elements[0].index];
          } : undefined,
        },
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
