// Upload page: drag and drop, thumbnails, and an XHR upload with a progress bar.
// Without JavaScript the form still posts normally and the server redirects.
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var dropzone = document.getElementById("dropzone");
  var thumbs = document.getElementById("thumbs");
  var summary = document.getElementById("picked-summary");
  var progress = document.getElementById("progress");
  var bar = document.getElementById("progress-bar");
  var label = document.getElementById("progress-label");
  var errorBox = document.getElementById("upload-error");
  var button = document.getElementById("upload-button");
  var maxFiles = parseInt(form.dataset.maxFiles, 10) || 50;
  var maxBytes = parseInt(form.dataset.maxBytes, 10) || Infinity;
  var accepted = ["image/jpeg", "image/png", "image/webp"];
  var picked = []; // {file, url, item}
  var busy = false;

  form.classList.add("is-enhanced");
  form.noValidate = true; // this script checks the choice itself, dropped files included

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB";
  }

  function showErrors(lines) {
    errorBox.replaceChildren();
    lines.forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      errorBox.appendChild(p);
    });
    errorBox.hidden = lines.length === 0;
  }

  function syncInput() {
    // Keep the real input in step so that `required` and a plain submit still work.
    try {
      var transfer = new DataTransfer();
      picked.forEach(function (entry) {
        transfer.items.add(entry.file);
      });
      input.files = transfer.files;
    } catch (err) {
      // Older browsers: the XHR below sends `picked` anyway.
    }
  }

  function updateSummary() {
    var bytes = picked.reduce(function (sum, entry) {
      return sum + entry.file.size;
    }, 0);
    summary.textContent = picked.length
      ? picked.length + (picked.length === 1 ? " photo · " : " photos · ") + megabytes(bytes)
      : "";
    thumbs.hidden = picked.length === 0;
  }

  function thumbnail(entry) {
    var item = document.createElement("li");
    item.className = "thumb";
    var img = document.createElement("img");
    img.src = entry.url;
    img.alt = "";
    var name = document.createElement("span");
    name.className = "thumb-name";
    name.textContent = entry.file.name;
    name.title = entry.file.name;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "thumb-remove";
    remove.setAttribute("aria-label", "Remove " + entry.file.name);
    remove.textContent = "×";
    remove.addEventListener("click", function () {
      if (!busy) {
        removeEntry(entry);
      }
    });
    item.append(img, name, remove);
    return item;
  }

  function removeEntry(entry) {
    picked = picked.filter(function (other) {
      return other !== entry;
    });
    URL.revokeObjectURL(entry.url);
    entry.item.remove();
    syncInput();
    updateSummary();
  }

  function problemWith(file) {
    if (file.type && accepted.indexOf(file.type) === -1) {
      return file.name + " is not a JPEG, PNG or WebP image.";
    }
    if (file.size > maxBytes) {
      return file.name + " is " + megabytes(file.size) + "; the limit is " + megabytes(maxBytes) + ".";
    }
    if (file.size === 0) {
      return file.name + " is empty.";
    }
    return null;
  }

  function addFiles(files) {
    var problems = [];
    Array.prototype.forEach.call(files, function (file) {
      var duplicate = picked.some(function (entry) {
        return entry.file.name === file.name && entry.file.size === file.size &&
          entry.file.lastModified === file.lastModified;
      });
      var problem = problemWith(file);
      if (duplicate) {
        return;
      }
      if (problem) {
        problems.push(problem);
      } else if (picked.length >= maxFiles) {
        problems.push("At most " + maxFiles + " photos can be uploaded at once; " + file.name + " was left out.");
      } else {
        var entry = {file: file, url: URL.createObjectURL(file)};
        entry.item = thumbnail(entry);
        thumbs.appendChild(entry.item);
        picked.push(entry);
      }
    });
    syncInput();
    updateSummary();
    showErrors(problems);
  }

  function markRefused(refused) {
    refused.forEach(function (item) {
      picked.forEach(function (entry) {
        if (entry.file.name === item.filename && !entry.item.classList.contains("is-refused")) {
          entry.item.classList.add("is-refused");
          var note = document.createElement("span");
          note.className = "thumb-error";
          note.textContent = "Refused";
          entry.item.appendChild(note);
        }
      });
    });
  }

  function setProgress(percent, text) {
    progress.hidden = false;
    bar.value = percent;
    bar.classList.toggle("is-complete", percent >= 100);
    label.textContent = text;
  }

  function finish(xhr) {
    var data = null;
    try {
      data = JSON.parse(xhr.responseText);
    } catch (err) {
      data = null;
    }
    if (xhr.status >= 200 && xhr.status < 300 && data && data.redirect) {
      setProgress(100, "Uploaded · opening the results…");
      window.location.assign(data.redirect);
      return;
    }
    busy = false;
    button.disabled = false;
    progress.hidden = true;
    if (!data) {
      showErrors(["The upload was refused (HTTP " + xhr.status + "). Please try again."]);
      return;
    }
    var lines = (data.errors || []).slice();
    (data.refused || []).forEach(function (item) {
      if (lines.indexOf(item.error) === -1) {
        lines.push(item.error);
      }
    });
    markRefused(data.refused || []);
    showErrors(lines.length ? lines : ["The upload was refused."]);
  }

  function send() {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    picked.forEach(function (entry) {
      data.append(input.name, entry.file, entry.file.name);
    });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        var percent = Math.round((100 * event.loaded) / event.total);
        setProgress(percent, percent + "% · " + megabytes(event.loaded) + " of " + megabytes(event.total));
      }
    });
    xhr.upload.addEventListener("load", function () {
      setProgress(100, "Checking the photos…");
    });
    xhr.addEventListener("load", function () {
      finish(xhr);
    });
    xhr.addEventListener("error", function () {
      busy = false;
      button.disabled = false;
      progress.hidden = true;
      showErrors(["The connection failed during the upload. Please try again."]);
    });
    busy = true;
    button.disabled = true;
    showErrors([]);
    setProgress(0, "Starting the upload…");
    xhr.send(data);
  }

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files);
    addFiles(files);
  });

  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      dropzone.classList.add("is-dragging");
    });
  });
  ["dragleave", "dragend"].forEach(function (type) {
    dropzone.addEventListener(type, function () {
      dropzone.classList.remove("is-dragging");
    });
  });
  dropzone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropzone.classList.remove("is-dragging");
    if (!busy && event.dataTransfer) {
      addFiles(event.dataTransfer.files);
    }
  });
  // A photo dropped next to the zone must not replace the page.
  window.addEventListener("dragover", function (event) {
    event.preventDefault();
  });
  window.addEventListener("drop", function (event) {
    event.preventDefault();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) {
      return;
    }
    if (!picked.length) {
      showErrors(["Choose at least one photo."]);
      return;
    }
    send();
  });
})();
