/*
 * The live console pages: the server renders the rows and the event id they are current at
 * (#hub-cursor); hub.js resumes from that id and these handlers apply each event to the page.
 */
(function () {
  "use strict";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function cell(text, field) {
    var td = document.createElement("td");
    if (field) td.dataset.field = field;
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function utc(iso) {
    // The server renders times in UTC as "Y-m-d H:i:s"; show live ones the same way.
    var date = iso ? new Date(iso) : new Date();
    return date.toISOString().slice(0, 19).replace("T", " ");
  }

  function setEmpty(list) {
    var empty = document.querySelector(".empty");
    if (empty) empty.hidden = list.children.length > 0;
  }

  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }

  // --- call board ------------------------------------------------------------------------
  function callBoard(hub) {
    var body = document.querySelector("#calls tbody");
    var members = data("hub-members") || {};
    var labels = data("hub-status-labels") || {};

    function row(call) {
      var tr = body.querySelector('tr[data-call-id="' + call.id + '"]');
      if (tr) return tr;
      tr = document.createElement("tr");
      tr.dataset.callId = call.id;
      var status = document.createElement("span");
      status.className = "status";
      status.dataset.field = "status";
      var statusCell = document.createElement("td");
      statusCell.appendChild(status);
      [
        cell("#" + call.id),
        cell(utc(call.created_at), "created_at"),
        cell(call.direction, "direction"),
        cell(call.from_number, "from_number"),
        cell(call.to_number, "to_number"),
        cell("", "user"),
        cell("", "duration"),
        statusCell,
      ].forEach(function (td) {
        tr.appendChild(td);
      });
      body.insertBefore(tr, body.firstChild);
      setEmpty(body);
      return tr;
    }

    function update(event) {
      var call = event.data;
      var tr = row(call);
      var status = tr.querySelector('[data-field="status"]');
      status.dataset.status = call.status;
      status.textContent = labels[call.status] || call.status;
      tr.querySelector('[data-field="duration"]').textContent = call.duration === null ? "" : call.duration + " s";
      if (call.user_id !== null) tr.querySelector('[data-field="user"]').textContent = members[call.user_id] || "#" + call.user_id;
      tr.dataset.eventId = event.id;
      flash(tr);
    }

    hub.on("call.created", update);
    hub.on("call.updated", update);
  }

  // --- notifications -----------------------------------------------------------------------
  function notificationsPage(hub) {
    var list = document.getElementById("notifications");
    var counter = document.getElementById("unread-count");
    var notice = document.getElementById("notice");
    var unread = new Set(data("hub-unread-ids") || []);

    function show() {
      counter.textContent = String(unread.size);
      counter.dataset.count = String(unread.size);
    }

    function say(text) {
      notice.textContent = text;
    }

    function item(n) {
      var li = list.querySelector('li[data-notification-id="' + n.id + '"]');
      if (li) return li;
      li = document.createElement("li");
      li.dataset.notificationId = n.id;
      li.className = "type-" + n.type;
      var time = document.createElement("time");
      time.textContent = utc(n.created_at);
      var title = document.createElement("strong");
      title.dataset.field = "title";
      title.textContent = n.title;
      var message = document.createElement("span");
      message.dataset.field = "message";
      message.textContent = n.message;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "mark-read";
      button.textContent = "Mark read";
      [time, title, message, button].forEach(function (node) {
        li.appendChild(node);
        li.appendChild(document.createTextNode(" "));
      });
      list.insertBefore(li, list.firstChild);
      setEmpty(list);
      return li;
    }

    function apply(event) {
      var n = event.data;
      var li = item(n);
      li.dataset.read = n.is_read ? "true" : "false";
      if (n.is_read) unread.delete(n.id);
      else unread.add(n.id);
      show();
      flash(li);
    }

    function markRead(id) {
      say("");
      // The page changes when the notification.read event arrives, not on the ack.
      hub.markRead(id).catch(function (error) {
        say("Could not mark read: " + (error.code || error.message));
      });
    }

    hub.on("notification.*", apply);
    list.addEventListener("click", function (e) {
      var button = e.target.closest("button.mark-read");
      if (button) markRead(button.closest("li").dataset.notificationId);
    });
    document.getElementById("mark-all-read").addEventListener("click", function () {
      markRead("all");
    });
    show();
  }

  // --- event log ---------------------------------------------------------------------------
  function eventLog(hub) {
    var body = document.querySelector("#events tbody");
    var keep = 200;

    hub.on("*", function (event) {
      if (body.querySelector('tr[data-event-id="' + event.id + '"]')) return; // rendered already
      var tr = document.createElement("tr");
      tr.dataset.eventId = event.id;
      [cell("#" + event.id), cell(utc()), cell(event.topic), cell(event.type)].forEach(function (td) {
        tr.appendChild(td);
      });
      var payload = document.createElement("td");
      var code = document.createElement("code");
      code.textContent = JSON.stringify(event.data);
      payload.appendChild(code);
      tr.appendChild(payload);
      body.insertBefore(tr, body.firstChild);
      while (body.children.length > keep) body.removeChild(body.lastChild);
      setEmpty(body);
      flash(tr);
    });
  }

  // --- the connection ------------------------------------------------------------------------
  var status = document.getElementById("hub-status");
  var lastId = document.getElementById("hub-last-id");

  function showStatus(state, info) {
    var text = state;
    if (state === "reconnecting") text = "reconnecting in " + Math.ceil(info.delay / 1000) + " s";
    if (state === "auth_error") text = "signed out: log in again";
    status.dataset.status = state;
    status.textContent = text;
  }

  var hub = new window.Hub({
    lastId: data("hub-cursor"),
    autoConnect: false,
    onStatus: showStatus,
    onEvent: function (event) {
      lastId.textContent = "#" + event.id;
    },
    // Too much was missed to replay: the server-rendered page is the way to catch up.
    onReset: function () {
      window.location.reload();
    },
    onAuthError: function () {
      var next = encodeURIComponent(window.location.pathname);
      status.innerHTML = 'signed out: <a href="/admin/login/?next=' + next + '">log in again</a>';
    },
  });
  window.hub = hub;

  var pages = { calls: callBoard, notifications: notificationsPage, events: eventLog };
  var setUp = pages[document.body.dataset.page];
  if (setUp) setUp(hub);
  hub.connect();
})();
