/* Task pages without a page reload, in plain JavaScript (no build, works offline).
 *
 * - /tasks/: every 5 s, fetch /api/tasks/status/ and redraw each row's status cells
 *   and the scheduler banner.
 * - /tasks/<name>/: every 3 s, fetch this task's status (?task=NAME) and redraw the
 *   badges and the "Runs" figures; when a run started or ended, and while a run in the
 *   history is queued or running, re-fetch the history fragment (django-htmx answers
 *   HX-Request with the partial).
 * - A run's page: every second while it is queued or running, fetch its /log/ and
 *   redraw its status, times, log (kept scrolled to the end if it was there), result,
 *   error and the runs it started.
 * - The schedule form and /tasks/new/: show only the fields of the chosen trigger, and
 *   preview a cron expression (description, next runs, or the error) as it is typed;
 *   on /tasks/new/, show the chosen function's description and default schedule and
 *   fill the fields still empty from them.
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
    if (task.trigger_type === "after" && task.after_task) {
      setCell(row, "next-run", '<span class="text-secondary">after</span> <a href="' +
        esc(task.after_task_url) + '" class="upstream">' + esc(task.after_task) + "</a>");
    } else {
      setCell(row, "next-run", task.next_run_at
        ? timeTag(task.next_run_at) + '<div class="small text-secondary">' +
          esc(task.next_run_local) + "</div>"
        : '<span class="text-secondary">—</span>');
    }
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

  function getJSON(url) {
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  // --- the task page: badges, "Runs" figures, and the history when runs start or end ---
  function setLive(root, name, text) {
    var node = root.querySelector('[data-live="' + name + '"]');
    if (node && node.textContent !== text) {
      node.textContent = text;
      node.classList.remove("flash"); void node.offsetWidth; node.classList.add("flash");
    }
    return node;
  }

  function followTask(header) {
    var seen = null;
    function draw(task) {
      var page = document;
      setLive(page, "run_count", task.run_count.toLocaleString("en-US"));
      setLive(page, "success_count", task.success_count.toLocaleString("en-US"));
      setLive(page, "failure_count", task.failure_count.toLocaleString("en-US"));
      var rate = task.last_7_days.success_rate;
      setLive(page, "rate", rate == null ? "—" : Math.round(rate * 100) + "%");
      var streak = page.querySelector('[data-live="consecutive_failures"]');
      if (streak) {
        streak.hidden = !task.consecutive_failures;
        streak.textContent = task.consecutive_failures + " consecutive failure" +
          (task.consecutive_failures === 1 ? "" : "s") + ".";
      }
      var running = page.querySelector('[data-live="running"]');
      if (running) running.hidden = !task.running;
      var enabled = page.querySelector('[data-live="enabled"]');
      if (enabled) {
        enabled.innerHTML = task.enabled
          ? '<span class="badge rounded-pill text-bg-success align-middle fs-6">Enabled</span>'
          : '<span class="badge rounded-pill text-bg-secondary align-middle fs-6">Paused</span>';
      }
      var now = [task.run_count, task.running, task.last_run_at, task.last_status].join("|");
      if (seen !== null && now !== seen) refreshHistory(true);
      seen = now;
    }
    function tick() {
      getJSON(header.getAttribute("data-status-url")).then(function (data) {
        if (data && data.tasks.length) draw(data.tasks[0]);
      }).catch(function () {});
    }
    setInterval(tick, 3000);
  }

  // --- a run's page: status, times, log, result, error, the runs it started ---
  function followRun(header) {
    var log = document.getElementById("run-log");
    var finishedSeen = 0;
    function draw(run) {
      var badge = header.querySelector('[data-live="badge"]');
      if (badge && !badge.querySelector('[data-status="' + CSS.escape(run.status) + '"]')) {
        badge.innerHTML = statusBadge(run.status, run.status_label);
      }
      setLive(document, "status_label", run.status_label);
      setLive(document, "started", run.started || "—");
      setLive(document, "finished_at", run.finished_at || "—");
      setLive(document, "duration", run.duration || "—");
      if (run.host !== undefined) setLive(document, "host", run.host || "—");
      if (log && run.log !== undefined && log.textContent !== run.log) {
        var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
        log.textContent = run.log;
        if (atEnd) log.scrollTop = log.scrollHeight;
        var empty = document.getElementById("run-log-empty");
        if (empty) empty.hidden = run.log !== "";
      }
      if (run.finished && run.result !== undefined) {
        var result = document.querySelector('[data-live="result"]');
        if (result) result.innerHTML = run.result
          ? '<pre class="card-body small mb-0 json" id="result">' + esc(run.result) + "</pre>"
          : '<div class="card-body small text-secondary">No result.</div>';
        var error = document.querySelector('[data-live="error"]');
        if (error) error.innerHTML = run.error
          ? '<pre class="card-body small mb-0 text-danger traceback" id="traceback">' +
            esc(run.error) + "</pre>"
          : '<div class="card-body small text-secondary">No error.</div>';
      }
      drawChildren(run);
      var following = document.getElementById("log-following");
      if (following && run.finished) following.hidden = true;
    }
    function drawChildren(run) {
      var list = document.getElementById("child-runs");
      if (!list || !run.children.length) return;
      var html = run.children.map(function (child) {
        return '<li><a href="' + esc(child.url) + '">' + esc(child.task) + " #" + child.id +
          "</a> " + statusBadge(child.status, LABELS[child.status]) + "</li>";
      }).join("");
      if (list.innerHTML !== html) list.innerHTML = html;
      document.getElementById("run-chain").hidden = false;
    }
    var timer = setInterval(function () {
      getJSON(header.getAttribute("data-url")).then(function (run) {
        if (!run) return;
        draw(run);
        // One more look after the end: the runs it starts are queued right after it.
        if (run.finished && ++finishedSeen >= 2) clearInterval(timer);
      }).catch(function () {});
    }, 1000);
  }

  function statusBadge(status, label) {
    return '<span class="badge text-bg-' + (COLOURS[status] || "light") + '" data-status="' +
      esc(status) + '">' + esc(label || status) + "</span>";
  }

  function refreshHistory(force) {
    var box = document.getElementById("history");
    if (!box || (force !== true && box.getAttribute("data-pending") !== "true")) return;
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

  // --- /tasks/new/: what the chosen function is, and its defaults in the empty fields ---
  function describeFunction(form) {
    var select = form.querySelector('select[name="func"]');
    var info = document.getElementById("func-info");
    if (!select || !info) return;
    var ours = {};  // field name -> the value we filled in (a person's own value is kept)
    function field(name) { return form.querySelector('[name="' + name + '"]'); }
    function free(name) {
      var input = field(name);
      return input && (!input.value || input.value === "{}" || input.value === ours[name]);
    }
    function fill(name, value) {
      var input = field(name);
      if (!input || value == null) return;
      input.value = ours[name] = value;
      input.dispatchEvent(new Event(input.tagName === "SELECT" ? "change" : "input"));
    }
    function update() {
      var option = select.options[select.selectedIndex];
      if (!option || !option.value) { info.innerHTML = ""; return; }
      var schedule = option.getAttribute("data-schedule");
      info.innerHTML = '<div class="border rounded p-2 bg-body-tertiary func-description">' +
        esc(option.getAttribute("data-description") || "No description.") +
        '<div class="text-secondary mt-1 func-default">' + (schedule
          ? "Default schedule: " + esc(option.getAttribute("data-schedule-words")) +
            " (<code>" + esc(schedule) + "</code>)"
          : "No default schedule.") + "</div></div>";
      if (free("name")) fill("name", option.value);
      if (free("description")) fill("description", option.getAttribute("data-description"));
      if (free("kwargs")) fill("kwargs", option.getAttribute("data-kwargs"));
      if (schedule && free("cron_expression") && free("interval_seconds")) {
        var trigger = option.getAttribute("data-trigger");
        fill("trigger_type", trigger);
        fill(trigger === "interval" ? "interval_seconds" : "cron_expression", schedule);
      }
    }
    select.addEventListener("change", update);
    if (select.value) update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("task-table");
    if (table) setInterval(function () { refreshList(table); }, 5000);
    if (document.getElementById("history")) setInterval(refreshHistory, 2000);
    var header = document.getElementById("task-live");
    if (header) followTask(header);
    var run = document.getElementById("run-live");
    if (run && run.getAttribute("data-finished") !== "true") followRun(run);
    ["schedule-form", "create-form"].forEach(function (id) {
      var form = document.getElementById(id);
      if (form) { showTriggerFields(form); previewCron(form); }
    });
    var create = document.getElementById("create-form");
    if (create) describeFunction(create);
  });
})();
