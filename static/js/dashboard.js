// Dashboard: refresh the figures, workers and tables from /dashboard/data.
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
      return String(value);
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

  function emptyRow(body, columns, text) {
    var row = document.createElement("tr");
    row.className = "empty-row";
    var td = cell(row, text);
    td.colSpan = columns;
    body.appendChild(row);
  }

  function renderJobs(jobs) {
    var body = document.getElementById("latest-jobs");
    body.replaceChildren();
    jobs.forEach(function (job) {
      var row = document.createElement("tr");
      var link = document.createElement("a");
      link.href = job.url;
      link.textContent = "#" + job.id;
      cell(row, "").appendChild(link);
      cell(row, job.filename, "truncate").title = job.filename;
      var badge = document.createElement("span");
      badge.className = "badge badge-" + job.status.toLowerCase();
      badge.textContent = job.status_label;
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
      cell(row, formatDate(stat.timestamp, false));
      cell(row, stat.mode);
      cell(row, String(stat.num_images), "num");
      cell(row, stat.total_time.toFixed(2) + " s", "num");
      cell(row, stat.avg_time.toFixed(3) + " s", "num");
      cell(row, stat.images_per_second.toFixed(2), "num");
      body.appendChild(row);
    });
    if (!stats.length) {
      emptyRow(body, 6, "No runs yet.");
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
      var list = document.createElement("ul");
      list.className = "worker-list";
      workers.workers.forEach(function (name) {
        var item = document.createElement("li");
        var code = document.createElement("code");
        code.textContent = name;
        item.appendChild(code);
        list.appendChild(item);
      });
      box.appendChild(list);
    } else {
      box.append(statusLine(false, "No worker online"),
        note("Jobs wait in the queue until a worker starts."));
    }
  }

  function render(data) {
    root.querySelectorAll("[data-metric]").forEach(function (node) {
      var format = formats[node.dataset.format] || formats.int;
      var value = lookup(data, node.dataset.metric);
      node.textContent = value === undefined ? "—" : format(value);
    });
    renderWorkers(data.workers);
    renderJobs(data.latest_jobs);
    renderPerformance(data.performance);
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
  window.setTimeout(refresh, pollMs);
})();
