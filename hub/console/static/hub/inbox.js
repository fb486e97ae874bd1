/*
 * The console's inbox, live: an email.created event puts its thread where it belongs (a new
 * message: at the top) at once, from the event's data; then the page asks the server for the
 * thread's row as it renders it (message count, links to the CRM) and swaps it in.
 * Loaded after console.js (defer), which made window.hub and connects it.
 */
(function () {
  "use strict";

  var hub = window.hub;
  var body = document.querySelector("#threads tbody");
  var settingsNode = document.getElementById("inbox-settings");
  if (!hub || !body || !settingsNode) return;
  var settings = JSON.parse(settingsNode.textContent);
  var cursor = JSON.parse(document.getElementById("hub-cursor").textContent);
  var notice = document.getElementById("inbox-notice");
  var empty = document.querySelector(".empty");
  var unreadBadge = document.getElementById("inbox-unread");

  var wanted = {}; // thread ids whose server-rendered row is to be fetched
  var fetching = false;
  var timer = null;

  function rowOf(id) {
    return body.querySelector('tr[data-thread-id="' + id + '"]');
  }

  function when(tr) {
    var t = Date.parse(tr.dataset.last);
    return isNaN(t) ? 0 : t;
  }

  /** True when row a belongs above row b: newer last message first, then the newer thread. */
  function above(a, b) {
    var ta = when(a);
    var tb = when(b);
    if (ta !== tb) return ta > tb;
    return Number(a.dataset.threadId) > Number(b.dataset.threadId);
  }

  /** Put the row in its place; on a full first page, a row that sorts below the last drops off. */
  function place(tr) {
    if (tr.parentNode === body) body.removeChild(tr);
    var next = null;
    for (var r = body.firstElementChild; r; r = r.nextElementSibling) {
      if (above(tr, r)) {
        next = r;
        break;
      }
    }
    body.insertBefore(tr, next);
    while (body.children.length > settings.per_page) body.removeChild(body.lastElementChild);
    if (empty) empty.hidden = body.children.length > 0;
  }

  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }

  /** "Y-m-d H:i ZONE" in the page's time zone, as the server writes it. */
  var timeFormat = null;
  try {
    timeFormat = new Intl.DateTimeFormat("en-US", {
      timeZone: settings.time_zone || "UTC",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
  } catch (e) {
    timeFormat = null;
  }

  function shortTime(iso) {
    var date = new Date(iso);
    if (timeFormat === null) return date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    var p = {};
    timeFormat.formatToParts(date).forEach(function (part) {
      p[part.type] = part.value;
    });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + " " + p.timeZoneName;
  }

  /** The count of unread conversations in the heading: moved at once by new mail, then set
   * to the server's count when rows come back. */
  function unreadSet(count) {
    if (!unreadBadge || isNaN(count)) return;
    count = Math.max(0, count);
    unreadBadge.dataset.count = String(count);
    unreadBadge.textContent = count + " unread";
    unreadBadge.hidden = count === 0;
  }

  function unreadAdd(delta) {
    if (unreadBadge && delta !== 0) unreadSet(Number(unreadBadge.dataset.count || 0) + delta);
  }

  function field(tr, name) {
    return tr.querySelector('[data-field="' + name + '"]');
  }

  function newRow(email) {
    var tr = document.createElement("tr");
    tr.dataset.threadId = email.thread_id;
    tr.dataset.accountId = email.email_account_id;
    var cells = [
      '<td class="from" data-field="from"></td>',
      '<td class="subject"><a data-field="subject"></a> <span class="snippet" data-field="snippet"></span></td>',
      '<td class="count" data-field="count"></td>',
      '<td class="chips" data-field="links"></td>',
      '<td class="time"><time data-field="time"></time></td>',
    ];
    tr.innerHTML = cells.join(""); // static markup: the data goes in as text below
    field(tr, "subject").href = settings.url + email.thread_id + "/";
    return tr;
  }

  /** Show the message at once, from the event alone. */
  function apply(email) {
    var tr = rowOf(email.thread_id);
    var iso = email.sent_at || new Date().toISOString();
    if (tr === null) {
      tr = newRow(email);
      tr.dataset.last = iso;
    } else if (Date.parse(iso) > when(tr)) {
      tr.dataset.last = iso;
    }
    if (tr.dataset.last === iso) {
      var from = field(tr, "from");
      from.textContent = email.direction === "outbound" ? "me" : email.from_name || email.from_email;
      from.title = email.from_email;
      field(tr, "subject").textContent = email.subject || "(no subject)";
      field(tr, "snippet").textContent = email.snippet || "";
      var time = field(tr, "time");
      time.dateTime = iso;
      time.textContent = shortTime(iso);
    }
    if (email.direction === "inbound") {
      if (tr.dataset.unread !== "true") unreadAdd(1);
      tr.dataset.unread = "true";
    }
    place(tr);
    if (tr.parentNode === body) flash(tr);
  }

  /** Replace rows with the server's rendering; ask for at most one batch at a time. */
  function refresh() {
    timer = null;
    var ids = Object.keys(wanted).slice(0, settings.per_page);
    if (ids.length === 0 || fetching) return;
    ids.forEach(function (id) {
      delete wanted[id];
    });
    fetching = true;
    var url = settings.url + "?rows=" + ids.join(",") + (settings.account ? "&account=" + settings.account : "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        var unread = response.headers.get("X-Inbox-Unread");
        if (unread !== null) unreadSet(Number(unread));
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html;
        template.content.querySelectorAll("tr[data-thread-id]").forEach(function (fresh) {
          var old = rowOf(fresh.dataset.threadId);
          // A row the page dropped (below the first page) stays dropped.
          if (old === null) return;
          if (old.classList.contains("flash")) fresh.classList.add("flash");
          if (when(old) > when(fresh)) {
            // The thread's row was read before its last message time was (a writer that
            // stores the message first): the message's own time is the newer truth.
            fresh.dataset.last = old.dataset.last;
            field(fresh, "time").replaceWith(field(old, "time"));
          }
          body.replaceChild(fresh, old);
          place(fresh);
        });
      })
      .catch(function () {
        /* the row keeps what the event said; the next event or a reload brings the rest */
      })
      .then(function () {
        fetching = false;
        if (Object.keys(wanted).length) schedule();
      });
  }

  function schedule() {
    if (timer === null) timer = setTimeout(refresh, 150);
  }

  function onEmail(event) {
    var email = event.data;
    if (email.thread_id === null || email.thread_id === undefined) return;
    if (settings.account !== null && email.email_account_id !== settings.account) return;
    if (settings.page > 1) {
      // Newer mail belongs on the first page; this page's rows shift by it.
      var old = rowOf(email.thread_id);
      if (old) body.removeChild(old);
      notice.innerHTML = 'New mail has arrived: <a href="' + settings.url + (settings.account ? "?account=" + settings.account : "") + '">see the newest</a>.';
      return;
    }
    apply(email);
    if (rowOf(email.thread_id)) {
      wanted[email.thread_id] = true;
      schedule();
    }
  }

  hub.on("email.created", onEmail);

  // Back from a conversation, a page the browser kept in memory would still show it unread:
  // read the page again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  // Events hub.js delivered before this script ran (it is deferred) are not lost: the page's
  // rows are read again from the server.
  if (typeof hub.lastId === "number" && hub.lastId > cursor) {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(new Error("HTTP " + response.status));
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var badge = doc.getElementById("inbox-unread");
        if (badge) unreadSet(Number(badge.dataset.count));
        var fresh = doc.querySelector("#threads tbody");
        if (!fresh) return;
        fresh.querySelectorAll("tr[data-thread-id]").forEach(function (tr) {
          var old = rowOf(tr.dataset.threadId);
          if (old) body.removeChild(old);
          place(tr);
        });
      })
      .catch(function () {});
  }
})();
