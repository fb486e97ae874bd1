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

  // --- unread notifications: the badge in the nav of every page ---------------------------
  // A set of ids, not a count: an event the rendered page already counted may be replayed.
  function unreadBadges(hub) {
    var ids = new Set(data("hub-unread-ids") || []);

    function show() {
      var text = String(ids.size);
      document.querySelectorAll("[data-unread-badge], #unread-count").forEach(function (badge) {
        badge.textContent = text;
        badge.dataset.count = text;
      });
    }

    hub.on("notification.*", function (event) {
      var n = event.data;
      if (n.is_read || event.type === "notification.deleted") ids.delete(n.id);
      else ids.add(n.id);
      show();
    });
    show();
    return { ids: ids, show: show };
  }

  // --- call board ------------------------------------------------------------------------
  function callBoard(hub) {
    var body = document.querySelector("#calls tbody");
    var members = data("hub-members") || {};
    var labels = data("hub-status-labels") || {};
    // several: a Company column; chosen: the company filter (null: every company shown);
    // companies: id → name. Each event frame names its company (company_id).
    var board = data("hub-board") || { several: false, chosen: null, companies: {} };

    function companyOf(event) {
      return typeof event.company_id === "number" ? event.company_id : null;
    }

    function row(call, companyId) {
      var tr = document.createElement("tr");
      tr.dataset.callId = call.id;
      if (companyId !== null) tr.dataset.companyId = companyId;
      var status = document.createElement("span");
      status.className = "status";
      status.dataset.field = "status";
      var statusCell = document.createElement("td");
      statusCell.appendChild(status);
      var cells = [cell("#" + call.id), cell(utc(call.created_at), "created_at")];
      if (board.several) {
        var name = companyId === null ? "" : board.companies[companyId] || "Company #" + companyId;
        var company = cell(name, "company");
        company.title = name;
        cells.push(company);
      }
      cells.push(
        cell(call.direction, "direction"),
        cell(call.from_number, "from_number"),
        cell(call.to_number, "to_number"),
        cell("", "user"),
        cell("", "duration"),
        statusCell
      );
      cells.forEach(function (td) {
        tr.appendChild(td);
      });
      body.insertBefore(tr, body.firstChild);
      setEmpty(body);
      return tr;
    }

    function update(event) {
      var call = event.data;
      var tr = body.querySelector('tr[data-call-id="' + call.id + '"]');
      if (!tr) {
        var companyId = companyOf(event);
        // Filtered to one company: another company's call (or one of no known company) is not
        // for this page.
        if (board.chosen !== null && companyId !== board.chosen) return;
        tr = row(call, companyId);
      }
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
  // Marking read shows at once (the item and every badge), then the server's answer settles
  // it: the notification.read events confirm it, a refusal puts it back and says why.
  function notificationsPage(hub, unread) {
    var list = document.getElementById("notifications");
    var notice = document.getElementById("notice");
    // Ids shown read before the server answered → the click that did it.
    var pending = new Map();
    var clicks = 0;

    function say(text) {
      notice.textContent = text;
    }

    function why(error) {
      if (error.code === "not_found") return "it no longer exists.";
      if (error.message === "not connected" || error.message === "disconnected") {
        return "not connected to the hub; try again once it is live.";
      }
      return error.message || String(error);
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

    function itemOf(id) {
      return list.querySelector('li[data-notification-id="' + id + '"]');
    }

    function show(id, isRead) {
      var li = itemOf(id);
      if (li) li.dataset.read = isRead ? "true" : "false";
      if (isRead) unread.ids.delete(id);
      else unread.ids.add(id);
    }

    // Shown before the server answered (data-pending on its item), or settled.
    function guess(id, click) {
      pending.set(id, click);
      var li = itemOf(id);
      if (li) li.dataset.pending = "";
    }

    function settle(id) {
      pending.delete(id);
      var li = itemOf(id);
      if (li) delete li.dataset.pending;
    }

    function apply(event) {
      var n = event.data;
      settle(n.id); // the server's word on it, whatever this page guessed
      if (event.type === "notification.deleted") {
        var gone = itemOf(n.id);
        if (gone) gone.remove();
        setEmpty(list);
        return;
      }
      var li = item(n);
      li.dataset.read = n.is_read ? "true" : "false";
      flash(li);
    }

    function markRead(id) {
      say("");
      var click = ++clicks;
      var ids = id === "all" ? Array.from(unread.ids) : [id];
      var changed = ids.filter(function (each) {
        return unread.ids.has(each);
      });
      changed.forEach(function (each) {
        show(each, true);
        guess(each, click);
      });
      unread.show();
      hub.markRead(id).then(
        function () {
          // Done: its notification.read events follow and are the server's word.
          changed.forEach(function (each) {
            if (pending.get(each) === click) settle(each);
          });
        },
        function (error) {
          // Put back only what no event (or later click) has settled since.
          changed.forEach(function (each) {
            if (pending.get(each) !== click) return;
            settle(each);
            show(each, false);
          });
          unread.show();
          say("Could not mark read: " + why(error));
        }
      );
    }

    hub.on("notification.*", apply);
    list.addEventListener("click", function (e) {
      var button = e.target.closest("button.mark-read");
      if (button) markRead(button.closest("li").dataset.notificationId);
    });
    document.getElementById("mark-all-read").addEventListener("click", function () {
      markRead("all");
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

  var unread = unreadBadges(hub);
  var pages = { calls: callBoard, notifications: notificationsPage };
  var setUp = pages[document.body.dataset.page];
  if (setUp) setUp(hub, unread);
  hub.connect();
})();
