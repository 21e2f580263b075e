// Performance page: images per second of every run, sequential against distributed.
(function () {
  "use strict";

  var box = document.getElementById("performance-chart");
  var source = document.getElementById("performance-points");
  if (!box || !source || !window.FaceCharts) {
    return;
  }
  var points = JSON.parse(source.textContent);
  var picker = document.getElementById("performance-source");
  var MODES = [
    {mode: "sequential", label: "sequential", color: "#6b7280"},
    {mode: "distributed", label: "distributed", color: "#4f46e5"},
  ];

  function shown() {
    // Images per second depend on the folder: plot one folder's runs at a time.
    var folder = picker ? picker.value : null;
    return points.filter(function (p) {
      return folder === null || p.source === folder;
    });
  }

  function draw() {
    var runs = shown();
    window.FaceCharts.draw(box, {
      legend: true,
      dots: true,
      height: 240,
      empty: "No runs yet",
      format: function (v) {
        return v.toFixed(v < 10 ? 2 : 1);
      },
      series: MODES.map(function (m) {
        return {
          label: m.label,
          color: m.color,
          points: runs.filter(function (p) {
            return p.mode === m.mode;
          }).map(function (p) {
            return {t: p.t, y: p.images_per_second};
          }),
        };
      }),
    });
  }

  draw();
  if (picker) {
    picker.addEventListener("change", draw);
  }
  var timer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(draw, 200);
  });
})();
