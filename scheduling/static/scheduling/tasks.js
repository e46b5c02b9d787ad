/* Task pages without a page reload, in plain JavaScript (no build, works offline).
 *
 * - /tasks/: every 5 s, fetch /api/tasks/status/ and redraw each row's status cells
 *   and the scheduler banner.
 * - /tasks/<name>/: while a run in the history is queued or running, re-fetch the
 *   history fragment (django-htmx answers HX-Request with the partial) every 2 s.
 * - The schedule form: show only the fields of the chosen trigger, and preview a
 *   cron expression (description, next runs, or the error) as it is typed.
 * - A filter <select data-autosubmit> submits its form when changed (here, not in an
 *   inline onchange, which the Content-Security-Policy forbids).
 */
(function () {
  "use strict";

  var LABELS = {queued: "Queued", running: "Running", success: "Success", failed: "Failed",
                skipped: "Skipped", abandoned: "Abandoned"};
  var COLOURS = {queued: "secondary", running: "primary", success: "success", failed: "danger",
                 skipped: "warning", abandoned: "dark"};

  function esc(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function ago(iso) {
    var seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    var future = seconds < 0, n = Math.abs(seconds), unit = "second";
    if (n < 10) return "now";
    if (n >= 86400) { n = Math.floor(n / 86400); unit = "day"; }
    else if (n >= 3600) { n = Math.floor(n / 3600); unit = "hour"; }
    else if (n >= 60) { n = Math.floor(n / 60); unit = "minute"; }
    var text = n + " " + unit + (n === 1 ? "" : "s");
    return future ? text + " from now" : text + " ago";
  }

  function duration(ms) {
    if (ms == null) return "";
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return Math.floor(ms / 60000) + " min " + Math.floor((ms % 60000) / 1000) + " s";
  }

  function badge(status) {
    if (!status) return '<span class="badge text-bg-light border">Never run</span>';
    return '<span class="badge text-bg-' + (COLOURS[status] || "light") + '" data-status="' +
      esc(status) + '">' + esc(LABELS[status] || status) + "</span>";
  }

  function timeTag(iso) {
    return '<time datetime="' + esc(iso) + '" title="' + esc(new Date(iso).toString()) + '">' +
      esc(ago(iso)) + "</time>";
  }

  function setCell(row, field, html) {
    var cell = row.querySelector('[data-field="' + field + '"]');
    if (cell && cell.innerHTML !== html) {
      var changed = cell.getAttribute("data-html") !== null;
      cell.innerHTML = html;
      cell.setAttribute("data-html", "1");
      if (changed) { cell.classList.remove("flash"); void cell.offsetWidth; cell.classList.add("flash"); }
    }
  }

  function drawTask(row, task) {
    setCell(row, "enabled", task.enabled
      ? '<span class="badge rounded-pill text-bg-success">Enabled</span>'
      : '<span class="badge rounded-pill text-bg-secondary">Paused</span>');
    var last = badge(task.last_status) +
      (task.running ? ' <span class="badge text-bg-primary running-badge">Running now</span>' : "");
    if (task.last_run_at) {
      last += '<div class="small text-secondary">' + timeTag(task.last_run_at) +
        (task.last_duration_ms != null ? " · " + duration(task.last_duration_ms) : "") + "</div>";
    }
    setCell(row, "last-run", last);
    setCell(row, "next-run", task.next_run_at
      ? timeTag(task.next_run_at) + '<div class="small text-secondary">' +
        esc(task.next_run_local) + "</div>"
      : '<span class="text-secondary">—</span>');
    var week = task.last_7_days, rate = week.success_rate;
    setCell(row, "rate", '<span class="fw-semibold">' +
      (rate == null ? "—" : Math.round(rate * 100) + "%") + '</span><div class="small text-secondary">' +
      week.runs + " run" + (week.runs === 1 ? "" : "s") + "</div>");
  }

  function drawBanner(state) {
    var banner = document.getElementById("scheduler-banner");
    if (!banner || banner.getAttribute("data-state") === state.state) return;
    window.location.reload();  // rare: the scheduler started or stopped; redraw everything
  }

  function refreshList(table) {
    fetch(table.getAttribute("data-status-url"), {
      headers: {Accept: "application/json"}, credentials: "same-origin"
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data) return;
      data.tasks.forEach(function (task) {
        var row = table.querySelector('tr[data-task="' + CSS.escape(task.name) + '"]');
        if (row) drawTask(row, task);
      });
      drawBanner(data.scheduler);
    }).catch(function () { /* offline for a moment: try again next tick */ });
  }

  function refreshHistory() {
    var box = document.getElementById("history");
    if (!box || box.getAttribute("data-pending") !== "true") return;
    fetch(window.location.href, {
      headers: {"HX-Request": "true", "HX-Target": "history"}, credentials: "same-origin"
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html) box.outerHTML = html;
    }).catch(function () {});
  }

  function showTriggerFields(form) {
    var select = form.querySelector('[name="trigger_type"]');
    if (!select) return;
    function update() {
      form.querySelectorAll(".trigger-fields").forEach(function (group) {
        group.hidden = group.getAttribute("data-trigger") !== select.value;
      });
    }
    select.addEventListener("change", update);
    update();
  }

  function previewCron(form) {
    var input = form.querySelector('[name="cron_expression"]');
    var zone = form.querySelector('[name="timezone"]');
    var out = document.getElementById("cron-preview");
    if (!input || !out) return;
    var timer = null, asked = 0;
    function draw(data) {
      if (data.valid) {
        input.classList.remove("is-invalid");
        out.innerHTML = '<div class="text-success fw-semibold cron-description">' +
          esc(data.description) + '</div><div class="text-secondary">Next runs:</div><ol class="next-runs">' +
          data.next_runs_display.map(function (t) { return "<li>" + esc(t) + "</li>"; }).join("") + "</ol>";
      } else {
        input.classList.add("is-invalid");
        out.innerHTML = '<div class="text-danger cron-error">' + esc(data.error) + "</div>";
      }
    }
    function ask() {
      var mine = ++asked;
      var url = out.getAttribute("data-url") + "?expression=" + encodeURIComponent(input.value) +
        "&timezone=" + encodeURIComponent(zone ? zone.value : "");
      fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (data) { if (mine === asked) draw(data); })
        .catch(function () {});
    }
    function later() { clearTimeout(timer); timer = setTimeout(ask, 250); }
    input.addEventListener("input", later);
    if (zone) zone.addEventListener("change", later);
    if (input.value) ask();
  }

  // Delegated, so it also works for filters inside a fragment that was redrawn.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("task-table");
    if (table) setInterval(function () { refreshList(table); }, 5000);
    if (document.getElementById("history")) setInterval(refreshHistory, 2000);
    var form = document.getElementById("schedule-form");
    if (form) { showTriggerFields(form); previewCron(form); }
  });
})();
