// Dashboard: draw the charts, then refresh every figure, chart and table from
// /dashboard/data without reloading the page.
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.dataset.url;
  var pollMs = (parseInt(root.dataset.pollSeconds, 10) || 5) * 1000;
  var live = document.getElementById("live-indicator");
  var generatedAt = document.getElementById("generated-at");
  var initial = document.getElementById("dashboard-initial");
  var current = initial ? JSON.parse(initial.textContent) : null;
  var windowName = "hour";
  var WINDOW_MS = {hour: 3600000, day: 86400000};
  var BUCKET_MS = {hour: 60000, day: 1800000};
  var QUEUE_COLORS = {high: "#e11d48", default: "#4f46e5", bulk: "#0891b2"};
  var EXTRA_COLORS = ["#ca8a04", "#7c3aed", "#059669"];

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  function formatDate(iso, withSeconds) {
    if (!iso) {
      return "—";
    }
    var d = new Date(iso);
    var text = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
    return withSeconds ? text + ":" + pad(d.getSeconds()) : text;
  }

  var formats = {
    int: function (value) {
      return value === null ? "—" : String(value);
    },
    seconds: function (value) {
      return value === null ? "—" : value.toFixed(2) + " s";
    },
    rate: function (value) {
      return value.toFixed(2) + "/min";
    },
    rate3: function (value) {
      return value.toFixed(3) + "/min";
    },
  };

  function lookup(data, path) {
    return path.split(".").reduce(function (value, key) {
      return value === null || value === undefined ? value : value[key];
    }, data);
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    row.appendChild(td);
    return td;
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function span(text, className) {
    var s = document.createElement("span");
    s.textContent = text;
    s.className = className;
    return s;
  }

  function emptyRow(body, columns, text) {
    var row = document.createElement("tr");
    row.className = "empty-row";
    var td = cell(row, text);
    td.colSpan = columns;
    body.appendChild(row);
  }

  // --- Charts -----------------------------------------------------------------

  function seconds(value) {
    return value < 10 ? value.toFixed(2) + " s" : value.toFixed(0) + " s";
  }

  function chartRange(data) {
    var points = data.series[windowName];
    var from = points.length ? new Date(points[0].t).getTime() : Date.now() - WINDOW_MS[windowName];
    return {from: new Date(from), to: new Date(from + WINDOW_MS[windowName])};
  }

  function seriesOf(points, key) {
    return points.map(function (p) {
      return {t: p.t, y: p[key]};
    });
  }

  function queueSeries(history) {
    var names = {};
    history.forEach(function (p) {
      Object.keys(p.depths || {}).forEach(function (name) {
        names[name] = true;
      });
    });
    var extra = 0;
    var series = Object.keys(names).sort().map(function (name) {
      return {
        label: name,
        color: QUEUE_COLORS[name] || EXTRA_COLORS[extra++ % EXTRA_COLORS.length],
        points: history.map(function (p) {
          return {t: p.t, y: p.depths && name in p.depths ? p.depths[name] : null};
        }),
      };
    });
    series.push({
      label: "unacked",
      color: "#9ca3af",
      points: history.map(function (p) {
        return {t: p.t, y: p.unacked === undefined ? null : p.unacked};
      }),
    });
    return series;
  }

  function drawCharts(data) {
    if (!window.FaceCharts || !data.series) {
      return;
    }
    var points = data.series[windowName];
    var range = chartRange(data);
    var common = {from: range.from, to: range.to};
    var perMinute = function (v) {
      return v < 10 ? v.toFixed(v < 1 ? 2 : 1) : v.toFixed(0);
    };
    window.FaceCharts.draw(document.getElementById("chart-throughput"), Object.assign({
      kind: "bars",
      format: perMinute,
      empty: "No job finished in this window",
      series: [{label: "jobs/min", color: "#4f46e5", points: seriesOf(points, "jobs_per_minute")}],
    }, common));
    window.FaceCharts.draw(document.getElementById("chart-duration"), Object.assign({
      format: seconds,
      empty: "No durations yet",
      series: [
        {label: "p50", color: "#4f46e5", points: seriesOf(points, "p50")},
        {label: "p95", color: "#f59e0b", points: seriesOf(points, "p95")},
      ],
    }, common));
    window.FaceCharts.draw(document.getElementById("chart-failures"), Object.assign({
      format: function (v) {
        return (v * 100).toFixed(v < 0.1 ? 1 : 0) + " %";
      },
      empty: "No failures in this window",
      series: [{label: "failure rate", color: "#dc2626", points: seriesOf(points, "failure_rate")}],
    }, common));
    var history = (data.queue_history || {})[windowName] || [];
    window.FaceCharts.draw(document.getElementById("chart-queues"), Object.assign({
      format: function (v) {
        return Number.isInteger(v) ? String(v) : v.toFixed(1);
      },
      legend: true,
      empty: history.length ? "Queues empty" : "No readings yet (beat records one every 5 min)",
      series: queueSeries(history),
    }, common));
  }

  root.querySelectorAll("[data-window]").forEach(function (button) {
    button.addEventListener("click", function () {
      windowName = button.dataset.window;
      root.querySelectorAll("[data-window]").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === button));
      });
      if (current) {
        drawCharts(current);
      }
    });
  });

  // --- Tables -----------------------------------------------------------------

  function renderJobs(jobs) {
    var body = document.getElementById("latest-jobs");
    body.replaceChildren();
    jobs.forEach(function (job) {
      var row = document.createElement("tr");
      cell(row, "").appendChild(link(job.url, "#" + job.id));
      cell(row, job.filename, "truncate").title = job.filename;
      var badge = span(job.status_label, "badge badge-" + job.status.toLowerCase());
      cell(row, "").appendChild(badge);
      cell(row, job.recognized_name || "—");
      cell(row, String(job.face_count), "num");
      cell(row, formats.seconds(job.duration), "num");
      cell(row, job.worker || "—", "truncate");
      cell(row, formatDate(job.created_at, true));
      body.appendChild(row);
    });
    if (!jobs.length) {
      emptyRow(body, 8, "No jobs yet.");
    }
  }

  function renderPerformance(stats) {
    var body = document.getElementById("performance-rows");
    body.replaceChildren();
    stats.forEach(function (stat) {
      var row = document.createElement("tr");
      cell(row, formatDate(stat.t, false));
      cell(row, stat.mode);
      cell(row, String(stat.num_images), "num");
      cell(row, String(stat.num_workers), "num");
      cell(row, stat.total_time.toFixed(2) + " s", "num");
      cell(row, stat.avg_time.toFixed(3) + " s", "num");
      cell(row, stat.images_per_second.toFixed(2), "num");
      body.appendChild(row);
    });
    if (!stats.length) {
      emptyRow(body, 7, "No runs yet.");
    }
  }

  function statusLine(good, text) {
    var p = document.createElement("p");
    p.className = "status-line " + (good ? "status-good" : "status-bad");
    var dot = document.createElement("span");
    dot.className = "dot";
    p.append(dot, text);
    return p;
  }

  function note(text) {
    var p = document.createElement("p");
    p.className = "muted small break";
    p.textContent = text;
    return p;
  }

  function renderWorkers(workers) {
    var box = document.getElementById("workers");
    box.replaceChildren();
    if (!workers.broker) {
      box.append(statusLine(false, "Broker unreachable · no workers can be reached"),
        note(workers.error));
    } else if (workers.workers.length) {
      var count = workers.workers.length;
      box.appendChild(statusLine(true, count + (count === 1 ? " worker" : " workers") + " online"));
    } else {
      box.append(statusLine(false, "No worker online"),
        note("Jobs wait in the queue until a worker starts."));
    }
  }

  function renderWorkerRows(rows) {
    var body = document.getElementById("worker-rows");
    body.replaceChildren();
    rows.forEach(function (worker) {
      var row = document.createElement("tr");
      var name = span("", "worker-name " + (worker.online ? "is-online" : "is-offline"));
      var code = document.createElement("code");
      code.textContent = worker.name;
      name.appendChild(code);
      cell(row, "").appendChild(name);
      var running = cell(row, "");
      if (!worker.running.length) {
        running.appendChild(span("idle", "muted"));
      }
      worker.running.forEach(function (job, index) {
        if (index) {
          running.append(", ");
        }
        running.append(link(job.url, "#" + job.id), " ", span(job.filename, "muted"));
      });
      cell(row, String(worker.finished_hour), "num");
      cell(row, String(worker.finished_day), "num");
      cell(row, String(worker.failed_day), "num");
      cell(row, formats.seconds(worker.avg_duration), "num");
      body.appendChild(row);
    });
    if (!rows.length) {
      emptyRow(body, 6, "No worker has been seen today.");
    }
  }

  function renderProblems(id, jobs, emptyText, withAttempts) {
    var list = document.getElementById(id);
    list.replaceChildren();
    jobs.forEach(function (job) {
      var item = document.createElement("li");
      var detail = job.error || "no reason recorded";
      if (withAttempts) {
        detail += " · " + job.attempts + (job.attempts === 1 ? " attempt" : " attempts");
      }
      item.append(link(job.url, "#" + job.id + " " + job.filename),
        span(detail, "muted small break"));
      list.appendChild(item);
    });
    if (!jobs.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = emptyText;
      list.appendChild(empty);
    }
  }

  function renderQueues(queues) {
    var total = document.getElementById("queue-total");
    var detail = document.getElementById("queue-detail");
    if (!queues) {
      total.textContent = "—";
      detail.textContent = "broker unreachable";
      return;
    }
    total.textContent = String(queues.total);
    detail.textContent = Object.keys(queues.depths).map(function (name) {
      return name + " " + queues.depths[name];
    }).join(" · ") + " · unacked " + (queues.unacked === null ? "—" : queues.unacked);
  }

  function render(data) {
    current = data;
    root.querySelectorAll("[data-metric]").forEach(function (node) {
      var format = formats[node.dataset.format] || formats.int;
      var value = lookup(data, node.dataset.metric);
      node.textContent = value === undefined ? "—" : format(value);
    });
    renderWorkers(data.workers);
    renderWorkerRows(data.worker_rows);
    renderProblems("failures", data.failures, "No failed jobs.", false);
    renderProblems("dead-letters", data.dead_letters, "No dead letters.", true);
    renderQueues(data.queues);
    renderJobs(data.latest_jobs);
    renderPerformance(data.performance);
    drawCharts(data);
    generatedAt.dateTime = data.generated_at;
    generatedAt.textContent = formatDate(data.generated_at, true).slice(11);
  }

  function refresh() {
    if (document.hidden) {
      window.setTimeout(refresh, pollMs);
      return;
    }
    fetch(url, {headers: {Accept: "application/json"}, cache: "no-store", credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        render(data);
        live.classList.remove("is-stale");
        live.textContent = "Live";
      })
      .catch(function () {
        live.classList.add("is-stale");
        live.textContent = "Offline";
      })
      .then(function () {
        window.setTimeout(refresh, pollMs);
      });
  }

  // Server-rendered times are in the server's zone; show every time in the browser's.
  root.querySelectorAll("#latest-jobs time").forEach(function (node) {
    node.textContent = formatDate(node.dateTime, true);
  });
  generatedAt.textContent = formatDate(generatedAt.dateTime, true).slice(11);
  if (current) {
    drawCharts(current);
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (current) {
        drawCharts(current);
      }
    }, 200);
  });
  window.setTimeout(refresh, pollMs);
})();
