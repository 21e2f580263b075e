// Results pages: poll the status JSON and update the job cards in place until every
// job is final. On a single job's page, reload once the job is final.
(function () {
  "use strict";

  var POLL_MS = 1000;
  var MAX_BACKOFF_MS = 10000;

  function getJSON(url) {
    return fetch(url, {
      headers: {Accept: "application/json"},
      cache: "no-store",
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  function poll(url, onData) {
    var delay = POLL_MS;
    function tick() {
      getJSON(url)
        .then(function (data) {
          delay = POLL_MS;
          if (onData(data) !== false) {
            window.setTimeout(tick, delay);
          }
        })
        .catch(function () {
          // Server restarting or network gone: keep trying, less often.
          delay = Math.min(delay * 2, MAX_BACKOFF_MS);
          window.setTimeout(tick, delay);
        });
    }
    window.setTimeout(tick, POLL_MS);
  }

  function field(card, name) {
    return card.querySelector("[data-field=" + name + "]");
  }

  function faceItem(face) {
    var item = document.createElement("li");
    item.className = "face " + (face.name ? "face-known" : "face-unknown");
    var name = document.createElement("span");
    name.className = "face-name";
    name.textContent = face.label;
    var distance = document.createElement("span");
    distance.className = "face-distance";
    distance.title = "Distance to the nearest enrolled face";
    distance.textContent = face.distance === null ? "no match" : face.distance.toFixed(3);
    item.append(name, distance);
    return item;
  }

  function renderFaces(list, job) {
    list.replaceChildren();
    job.faces.forEach(function (face) {
      list.appendChild(faceItem(face));
    });
    if (job.status === "SUCCESS" && !job.faces.length) {
      var none = document.createElement("li");
      none.className = "face face-none";
      none.textContent = "No face found";
      list.appendChild(none);
    }
  }

  function renderMedia(card, job) {
    var media = field(card, "media");
    var img = field(card, "image");
    if (job.result_url && img.getAttribute("src") !== job.result_url) {
      var next = new Image();
      next.onload = function () {
        img.src = job.result_url;
        img.alt = "Faces found in " + job.filename;
        media.classList.remove("is-waiting");
      };
      next.src = job.result_url;
    }
  }

  function updateCard(card, job) {
    var signature = [job.status, job.error, job.result_url].join("|");
    if (card.dataset.signature === signature) {
      return;
    }
    card.dataset.signature = signature;
    card.dataset.status = job.status;
    var badge = field(card, "status");
    badge.className = "badge badge-" + job.status.toLowerCase();
    badge.textContent = job.status_label;
    var wait = field(card, "wait");
    wait.hidden = job.final;
    wait.textContent = job.status === "STARTED" ? "Recognising faces…" : "Waiting for a worker…";
    var error = field(card, "error");
    // An error on a finished job is its failure; on an open one, a passing note.
    error.className = job.final ? "job-error" : "job-note";
    error.textContent = job.error;
    error.hidden = !job.error;
    field(card, "duration").textContent =
      job.duration === null ? "—" : job.duration.toFixed(2) + " s";
    field(card, "face_count").textContent = job.final ? String(job.face_count) : "—";
    renderFaces(field(card, "faces"), job);
    renderMedia(card, job);
  }

  function updateProgress(jobs) {
    var bar = document.getElementById("submission-bar");
    var label = document.getElementById("submission-label");
    if (!bar || !label) {
      return;
    }
    var finished = jobs.filter(function (job) {
      return job.final;
    }).length;
    bar.max = jobs.length;
    bar.value = finished;
    bar.classList.toggle("is-complete", finished === jobs.length);
    label.textContent = finished === jobs.length
      ? "All " + jobs.length + " finished"
      : finished + " of " + jobs.length + " finished";
  }

  var grid = document.getElementById("jobs");
  if (grid && grid.dataset.done !== "true") {
    poll(grid.dataset.statusUrl, function (data) {
      data.jobs.forEach(function (job) {
        var card = document.getElementById("job-" + job.id);
        if (card) {
          updateCard(card, job);
        }
      });
      updateProgress(data.jobs);
      return !data.done;
    });
  }

  var status = document.getElementById("job-status");
  if (status && status.dataset.final !== "true") {
    poll(status.dataset.statusUrl, function (job) {
      status.className = "badge badge-lg badge-" + job.status.toLowerCase();
      status.textContent = job.status_label;
      if (job.final) {
        window.location.reload();
        return false;
      }
      return true;
    });
  }
})();
