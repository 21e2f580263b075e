// FaceCharts: small SVG time-series charts, no dependencies.
//
//   FaceCharts.draw(element, {
//     series: [{label: "p50", color: "#4f46e5", points: [{t: Date|ISO, y: number|null}]}],
//     from: Date, to: Date,           // x range (defaults to the points' range)
//     kind: "line" | "bars",          // bars: one bar per point of the first series
//     format: function (y) {...},     // y-axis and tooltip text
//     empty: "No data",               // shown when every y is null
//     dots: true,                     // always show the points (sparse series)
//     height: 240                     // pixels (default 170)
//   });
//
// Each point gets a <title> tooltip; the legend is HTML under the chart.
window.FaceCharts = (function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var DEFAULT_HEIGHT = 170;
  var HEIGHT = DEFAULT_HEIGHT;
  var MARGIN = {top: 10, right: 12, bottom: 22, left: 46};

  function node(name, attrs, parent) {
    var el = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) {
      el.setAttribute(key, attrs[key]);
    });
    if (parent) {
      parent.appendChild(el);
    }
    return el;
  }

  function time(value) {
    return value instanceof Date ? value.getTime() : new Date(value).getTime();
  }

  function niceMax(value) {
    if (!(value > 0)) {
      return 1;
    }
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i += 1) {
      if (value <= steps[i] * power) {
        return steps[i] * power;
      }
    }
    return 10 * power;
  }

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  function clock(ms, span) {
    var d = new Date(ms);
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (span > 2 * 86400000) {
      return pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    }
    return span < 600000 ? hm + ":" + pad(d.getSeconds()) : hm;
  }

  function extent(options) {
    var times = [];
    var top = 0;
    options.series.forEach(function (s) {
      s.points.forEach(function (p) {
        times.push(time(p.t));
        if (p.y !== null && p.y !== undefined && p.y > top) {
          top = p.y;
        }
      });
    });
    var from = options.from ? time(options.from) : Math.min.apply(null, times);
    var to = options.to ? time(options.to) : Math.max.apply(null, times);
    if (!(to > from)) {
      to = from + 60000;
    }
    return {from: from, to: to, top: niceMax(top), hasData: times.length > 0 && top > 0};
  }

  function axes(svg, scale, options, width) {
    var format = options.format || String;
    for (var i = 0; i <= 4; i += 1) {
      var value = (scale.top * i) / 4;
      var y = scale.y(value);
      node("line", {x1: MARGIN.left, x2: width - MARGIN.right, y1: y, y2: y,
        class: i === 0 ? "chart-axis" : "chart-gridline"}, svg);
      var label = node("text", {x: MARGIN.left - 6, y: y + 4, class: "chart-label",
        "text-anchor": "end"}, svg);
      label.textContent = format(value);
    }
    var ticks = Math.max(2, Math.min(6, Math.floor(width / 110)));
    for (var j = 0; j <= ticks; j += 1) {
      var t = scale.from + ((scale.to - scale.from) * j) / ticks;
      var text = node("text", {x: scale.x(t), y: HEIGHT - 6, class: "chart-label",
        "text-anchor": j === 0 ? "start" : j === ticks ? "end" : "middle"}, svg);
      text.textContent = clock(t, scale.to - scale.from);
    }
  }

  function tooltip(el, s, p, format) {
    var title = node("title", {}, el);
    var d = new Date(time(p.t));
    title.textContent = s.label + " · " + pad(d.getHours()) + ":" + pad(d.getMinutes()) +
      " · " + (p.y === null || p.y === undefined ? "no data" : format(p.y));
  }

  function line(svg, scale, s, format, options) {
    var path = "";
    var pen = "M";
    s.points.forEach(function (p) {
      if (p.y === null || p.y === undefined) {
        pen = "M";
        return;
      }
      path += pen + scale.x(time(p.t)).toFixed(1) + " " + scale.y(p.y).toFixed(1) + " ";
      pen = "L";
    });
    if (path) {
      node("path", {d: path, fill: "none", stroke: s.color, "stroke-width": 2,
        "stroke-linejoin": "round", "stroke-linecap": "round"}, svg);
    }
    s.points.forEach(function (p) {
      if (p.y === null || p.y === undefined) {
        return;
      }
      var dot = node("circle", {cx: scale.x(time(p.t)), cy: scale.y(p.y), r: 3,
        fill: s.color, class: options.dots ? "chart-dot chart-dot-shown" : "chart-dot"}, svg);
      tooltip(dot, s, p, format);
    });
  }

  function bars(svg, scale, s, format) {
    var slot = (scale.width - MARGIN.left - MARGIN.right) / Math.max(1, s.points.length);
    s.points.forEach(function (p) {
      if (!p.y) {
        return;
      }
      var y = scale.y(p.y);
      var rect = node("rect", {x: scale.x(time(p.t)) + 1, y: y,
        width: Math.max(1, slot - 2), height: scale.y(0) - y, fill: s.color, rx: 1}, svg);
      tooltip(rect, s, p, format);
    });
  }

  function legend(element, series) {
    var box = document.createElement("div");
    box.className = "chart-legend";
    series.forEach(function (s) {
      var item = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.append(swatch, s.label);
      box.appendChild(item);
    });
    element.appendChild(box);
  }

  function draw(element, options) {
    HEIGHT = options.height || DEFAULT_HEIGHT;
    var width = Math.max(240, element.clientWidth || 480);
    var box = extent(options);
    var format = options.format || String;
    var scale = {
      from: box.from,
      to: box.to,
      top: box.top,
      width: width,
      x: function (t) {
        return MARGIN.left + ((t - box.from) / (box.to - box.from)) *
          (width - MARGIN.left - MARGIN.right);
      },
      y: function (v) {
        return HEIGHT - MARGIN.bottom - (v / box.top) * (HEIGHT - MARGIN.top - MARGIN.bottom);
      },
    };
    element.replaceChildren();
    var svg = node("svg", {viewBox: "0 0 " + width + " " + HEIGHT, width: width,
      height: HEIGHT, role: "img", class: "chart-svg"});
    if (options.title) {
      node("title", {}, svg).textContent = options.title;
    }
    axes(svg, scale, options, width);
    options.series.forEach(function (s) {
      (options.kind === "bars" ? bars : line)(svg, scale, s, format, options);
    });
    if (!box.hasData) {
      var note = node("text", {x: width / 2, y: HEIGHT / 2, class: "chart-empty",
        "text-anchor": "middle"}, svg);
      note.textContent = options.empty || "No data yet";
    }
    element.appendChild(svg);
    if (options.series.length > 1 || options.legend) {
      legend(element, options.series);
    }
  }

  return {draw: draw};
})();
