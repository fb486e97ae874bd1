/*
 * The event log, live: when hub.js hears of an event this page would show, the page asks the
 * server for the lines after the newest one it has (the same view, "?after=<id>" with the
 * page's filters) and puts them on top. The server writes every line, so a line that arrived
 * live reads exactly as it does after a reload, and the company filter holds for live lines
 * (an event frame does not say its company). Loaded after console.js, which made window.hub.
 */
(function () {
  "use strict";

  var hub = window.hub;
  var list = document.getElementById("events");
  var settingsNode = document.getElementById("events-settings");
  if (!hub || !list || !settingsNode) return;
  var settings = JSON.parse(settingsNode.textContent);
  if (!settings.live) return; // an older page stays as it is
  var cursor = JSON.parse(document.getElementById("hub-cursor").textContent) || 0;
  var form = document.getElementById("event-filters");
  var empty = document.querySelector(".empty");
  var notice = document.getElementById("events-notice");
  var keep = settings.per_page * 2;
  var chosenType = (form.elements.type && form.elements.type.value) || "";

  var fetching = false;
  var again = false;

  function wanted(event) {
    if (!chosenType) return true;
    return event.type === chosenType || event.topic === chosenType;
  }

  function newestId() {
    var top = list.querySelector("li[data-event-id]");
    return Math.max(cursor, top ? Number(top.dataset.eventId) : 0);
  }

  function linesUrl(after) {
    var params = new URLSearchParams();
    var company = form.elements.company ? form.elements.company.value : new URLSearchParams(location.search).get("company");
    if (company) params.set("company", company);
    if (chosenType) params.set("type", chosenType);
    params.set("after", String(after));
    return location.pathname + "?" + params.toString();
  }

  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }

  function insert(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var lines = template.content.querySelectorAll("li[data-event-id]");
    // The server answers oldest first: each goes on top of the one before.
    Array.prototype.forEach.call(lines, function (li) {
      if (list.querySelector('li[data-event-id="' + li.dataset.eventId + '"]')) return;
      list.insertBefore(li, list.firstElementChild);
      flash(li);
    });
    while (list.children.length > keep) list.removeChild(list.lastElementChild);
    if (empty) empty.hidden = list.children.length > 0;
    return lines.length;
  }

  function load() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    again = false;
    fetch(linesUrl(newestId()), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        notice.hidden = true;
        if (insert(html) >= settings.per_page) again = true; // more are waiting
      })
      .catch(function (error) {
        notice.textContent = "Could not load the new events (" + error.message + "); they show on reload.";
        notice.hidden = false;
      })
      .then(function () {
        fetching = false;
        if (again) load();
      });
  }

  hub.on("*", function (event) {
    if (wanted(event)) load();
  });
  // Events hub.js delivered before this script ran (it connects in console.js).
  if (hub.lastId !== null && hub.lastId > cursor) load();
})();
