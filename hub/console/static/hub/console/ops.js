/*
 * The operations page: the server renders the figures; once the console's websocket (hub.js,
 * window.hub) is live, this subscribes to them ({"type": "ops.subscribe"}) and redraws the page
 * from every {"type": "ops", "data": …} frame (docs/PROTOCOL.md), again after each reconnect.
 */
(function () {
  "use strict";

  var hub = window.hub;
  var adminUrls = JSON.parse(document.getElementById("ops-admin-urls").textContent);
  var box = JSON.parse(document.getElementById("ops-chart-box").textContent);
  var feed = document.getElementById("ops-feed");
  var SVG = "http://www.w3.org/2000/svg";

  // --- drawing -------------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) {
      if (attrs[key] !== null && attrs[key] !== undefined) node.setAttribute(key, attrs[key]);
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function when(iso) {
    // The same as the server renders: UTC, "Y-m-d H:i:s".
    return iso ? new Date(iso).toISOString().slice(0, 19).replace("T", " ") : "";
  }

  function time(iso) {
    return el("time", { datetime: iso }, when(iso));
  }

  function cut(text, attrs) {
    var value = text === null || text === undefined || text === "" ? "–" : String(text);
    var td = el("td", attrs || {}, value);
    td.classList.add("cut");
    td.title = value === "–" ? "" : value;
    return td;
  }

  function num(value, field, bad) {
    // null: the figure could not be read (the broker did not answer).
    var text = value === null || value === undefined ? "–" : value;
    return el("td", { "data-field": field, class: bad && value ? "num bad" : "num" }, text);
  }

  function link(url, id, text) {
    var a = el("a", { href: url.replace("/0/", "/" + id + "/") }, text);
    var td = el("td", { title: text, class: "cut" });
    td.appendChild(a);
    return td;
  }

  function fill(tableId, rows, columns, emptyText, build) {
    var body = document.querySelector("#" + tableId + " tbody");
    body.textContent = "";
    if (!rows.length) {
      var tr = el("tr", { class: "ops-empty" });
      tr.appendChild(el("td", { colspan: columns }, emptyText));
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      body.appendChild(build(row));
    });
  }

  function setFigure(name, value) {
    var node = document.querySelector('[data-figure="' + name + '"]');
    if (node && node.textContent !== String(value)) node.textContent = String(value);
    return node;
  }

  function isLate(job, now) {
    if (!job.last_run) return false;
    return now - new Date(job.last_run).getTime() > 2 * job.every_seconds * 1000;
  }

  function drawChart(series) {
    var svg = document.getElementById("ops-chart");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var top = 1;
    series.forEach(function (b) {
      top = Math.max(top, b.count);
    });
    var step = box.width / Math.max(series.length, 1);
    series.forEach(function (b, i) {
      var height = (b.count / top) * box.height;
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", (i * step).toFixed(2));
      rect.setAttribute("y", (box.height - height).toFixed(2));
      rect.setAttribute("width", Math.max(step - 1, 1).toFixed(2));
      rect.setAttribute("height", height.toFixed(2));
      var title = document.createElementNS(SVG, "title");
      title.textContent = b.at + ": " + b.count;
      rect.appendChild(title);
      svg.appendChild(rect);
    });
    svg.dataset.total = series
      .map(function (b) {
        return b.count;
      })
      .join(",");
  }

  function render(ops) {
    var updated = setFigure("generated_at", when(ops.generated_at).slice(11) + " UTC");
    updated.setAttribute("datetime", ops.generated_at);

    setFigure("clients-total", ops.clients.total);
    setFigure("clients-processes", ops.clients.processes);
    setFigure("clients-processes-word", ops.clients.processes === 1 ? "process" : "processes");
    fill("ops-clients-table", ops.clients.by_company, 2, "Nobody is connected.", function (row) {
      var tr = el("tr", { "data-company-id": row.company_id === null ? "" : row.company_id });
      var name = el("td");
      if (row.company_id === null) {
        name.appendChild(el("em", {}, "no single company"));
        name.appendChild(document.createTextNode(" "));
        name.appendChild(el("small", {}, "(superusers, customers, members of several)"));
      } else {
        name.textContent = row.company;
      }
      tr.appendChild(name);
      tr.appendChild(num(row.count, "count"));
      return tr;
    });

    setFigure("events-per-second", ops.events.per_second.toFixed(2));
    drawChart(ops.events.series);

    setFigure("relay-lag", ops.relay.lag_seconds.toFixed(1));
    setFigure("relay-backlog", ops.relay.backlog);
    setFigure("relay-last", ops.relay.last_event_id);
    var inbox = ops.twilio_inbox;
    setFigure("twilio-backlog", inbox.backlog);
    var oldest = inbox.oldest_backlog_seconds;
    setFigure("twilio-oldest", oldest === null ? "–" : oldest.toFixed(1) + " s");
    setFigure("twilio-failed", inbox.failed).className = inbox.failed ? "bad" : "";

    fill("ops-queues-table", ops.queues, 8, "No queues declared.", function (q) {
      var tr = el("tr", { "data-queue": q.name });
      tr.appendChild(el("td", {}, q.name));
      tr.appendChild(num(q.depth, "depth"));
      tr.appendChild(num(q.delayed, "delayed"));
      tr.appendChild(num(q.dead, "dead", true));
      tr.appendChild(num(q.failed, "failed", true));
      tr.appendChild(num(q.retried, "retried"));
      tr.appendChild(num(q.processed, "processed"));
      var error = cut(q.last_error ? when(q.last_error_at) + " " + q.last_error : null);
      tr.appendChild(error);
      return tr;
    });

    var now = new Date(ops.generated_at).getTime();
    fill("ops-scheduler-table", ops.scheduler, 4, "No jobs.", function (job) {
      var late = isLate(job, now);
      var tr = el("tr", { "data-job": job.job, class: late ? "late" : null });
      tr.appendChild(el("td", {}, job.job));
      tr.appendChild(el("td", { class: "num" }, job.every_seconds + " s"));
      var last = el("td", { "data-field": "last_run" }, job.last_run ? null : "never");
      if (job.last_run) last.appendChild(time(job.last_run));
      if (late) {
        last.appendChild(document.createTextNode(" "));
        last.appendChild(el("strong", {}, "late"));
      }
      tr.appendChild(last);
      tr.appendChild(cut(job.last_outcome));
      return tr;
    });

    fill("ops-mailboxes-table", ops.mailboxes, 5, "No mailboxes.", function (m) {
      var tr = el("tr", { "data-mailbox-id": m.id, class: m.last_error ? "failing" : null });
      tr.appendChild(link(adminUrls.mailbox, m.id, m.email));
      tr.appendChild(cut(m.company));
      var sync = el("td", {}, m.last_sync ? null : "never");
      if (m.last_sync) sync.appendChild(time(m.last_sync));
      tr.appendChild(sync);
      var backoff = el("td", {}, m.backing_off_until ? null : "–");
      if (m.backing_off_until) backoff.appendChild(time(m.backing_off_until));
      tr.appendChild(backoff);
      tr.appendChild(cut(m.last_error));
      return tr;
    });

    fill("ops-slack-table", ops.slack, 4, "No Slack workspaces.", function (s) {
      var failing = s.last_error || !s.active;
      var tr = el("tr", { "data-slack-id": s.id, class: failing ? "failing" : null });
      tr.appendChild(link(adminUrls.slack, s.id, s.team));
      tr.appendChild(cut(s.company));
      tr.appendChild(el("td", {}, s.active ? "yes" : "no"));
      tr.appendChild(cut(s.last_error));
      return tr;
    });
  }

  // --- the feed ------------------------------------------------------------------------------
  function showFeed(state, text) {
    feed.dataset.state = state;
    feed.textContent = text;
  }

  var listening = null; // the socket whose frames are read here

  function onFrame(message) {
    var frame;
    try {
      frame = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    if (frame.type !== "ops") return;
    render(frame.data);
    showFeed("live", "(live)");
  }

  function subscribe() {
    var ws = hub.socket;
    if (ws === null || ws === listening) return;
    // hub.js hands on events only: read this socket's "ops" frames beside it.
    listening = ws;
    ws.addEventListener("message", onFrame);
    hub.request({ type: "ops.subscribe" }).catch(function (error) {
      showFeed("refused", "(not live: " + (error.code || error.message) + ")");
    });
  }

  var onStatus = hub.options.onStatus;
  hub.options.onStatus = function (status, info) {
    if (typeof onStatus === "function") onStatus(status, info);
    if (status === "live") subscribe();
    else if (feed.dataset.state === "live") showFeed("waiting", "(waiting for the connection)");
  };
  if (hub.status === "live") subscribe();
})();
