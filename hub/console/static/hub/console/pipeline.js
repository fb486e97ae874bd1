/*
 * The pipeline board (/console/deals/): the server renders the columns and cards; deal.*
 * events move, add and remove cards, whoever changed the deal (the CRM, Slack, the admin,
 * psql). A manager drags a card (or picks a stage in its "Move to" list): the card moves at
 * once, the server's answer confirms it, or it goes back to its stage with the reason shown.
 *
 * A card's data-stage-id is the stage the server last said the deal is in; while a move is on
 * its way the card may sit in another column, and goes back to data-stage-id if refused.
 */
(function () {
  "use strict";

  var board = document.getElementById("board");
  var hub = window.hub;
  if (!board || !hub) return;

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var config = data("board-config");
  var people = data("board-people") || {};
  var cursor = data("hub-cursor");
  var template = document.getElementById("deal-card");
  var notice = document.getElementById("board-notice");
  var stages = {};
  config.stages.forEach(function (stage) {
    stages[stage.id] = stage;
  });

  // --- money: decimal strings summed in cents, written as the server writes them -------------
  function cents(text) {
    var match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
    if (!match) return 0;
    var value = Number(match[2]) * 100 + Number(((match[3] || "") + "00").slice(0, 2));
    return match[1] ? -value : value;
  }

  function money(amount, currency) {
    var sign = amount < 0 ? "-" : "";
    var abs = Math.abs(amount);
    var whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var fraction = String(abs % 100).padStart(2, "0");
    return sign + whole + "." + fraction + " " + currency;
  }

  // --- columns -----------------------------------------------------------------------------
  function column(stageId) {
    return board.querySelector('.column[data-stage-id="' + stageId + '"]');
  }

  function cardOf(dealId) {
    return board.querySelector('.card[data-deal-id="' + dealId + '"]');
  }

  function refresh(col) {
    if (!col) return;
    var cards = col.querySelectorAll(".card");
    var sums = {};
    cards.forEach(function (card) {
      var currency = card.dataset.currency;
      sums[currency] = (sums[currency] || 0) + cents(card.dataset.value);
    });
    var text = Object.keys(sums)
      .sort()
      .map(function (currency) {
        return money(sums[currency], currency);
      })
      .join(" · ");
    col.querySelector('[data-field="count"]').textContent = String(cards.length);
    col.querySelector('[data-field="total"]').textContent = text || "—";
    // A closing stage shows only while an open deal sits in it.
    if (col.hasAttribute("data-closing")) col.hidden = cards.length === 0;
  }

  /** Put the card in the column, where the server would list it: largest value first, then id. */
  function place(card, col) {
    var from = card.closest(".column");
    var list = col.querySelector(".cards");
    var value = cents(card.dataset.value);
    var id = Number(card.dataset.dealId);
    var before = null;
    var siblings = list.querySelectorAll(".card");
    for (var i = 0; i < siblings.length; i++) {
      var other = siblings[i];
      if (other === card) continue;
      var otherValue = cents(other.dataset.value);
      if (otherValue < value || (otherValue === value && Number(other.dataset.dealId) > id)) {
        before = other;
        break;
      }
    }
    if (card.parentNode !== list || card.nextElementSibling !== before) list.insertBefore(card, before);
    refresh(col);
    if (from && from !== col) refresh(from);
  }

  function remove(card) {
    var from = card.closest(".column");
    card.remove();
    refresh(from);
  }

  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }

  function say(text, isError) {
    notice.textContent = text;
    notice.classList.toggle("error", Boolean(isError));
  }

  // --- cards -------------------------------------------------------------------------------
  function moveOptions(select, stageId) {
    select.textContent = "";
    config.stages.forEach(function (stage) {
      if ((stage.closing || !stage.active) && stage.id !== stageId) return;
      var option = document.createElement("option");
      option.value = String(stage.id);
      option.textContent = stage.name;
      select.appendChild(option);
    });
  }

  function newCard(deal) {
    var card = template.content.firstElementChild.cloneNode(true);
    card.dataset.dealId = String(deal.id);
    card.querySelector('[data-field="title"]').href = config.change_url.replace("{id}", String(deal.id));
    return card;
  }

  /** Write the deal (an event's data or the move's answer) on its card. */
  function fill(card, deal) {
    var title = card.querySelector('[data-field="title"]');
    title.textContent = deal.title;
    title.title = deal.title;
    card.dataset.value = deal.value;
    card.dataset.currency = deal.currency;
    card.dataset.stageId = String(deal.stage_id);
    card.querySelector('[data-field="value"]').textContent = money(cents(deal.value), deal.currency);
    var assignee = deal.assigned_to_id;
    card.querySelector('[data-field="assignee"]').textContent =
      assignee === null ? "Unassigned" : people[assignee] || "#" + assignee;
    var select = card.querySelector('[data-field="move"]');
    if (select) {
      moveOptions(select, deal.stage_id);
      select.value = String(deal.stage_id);
    }
  }

  function onBoard(deal) {
    if (deal.status !== "open" || deal.pipeline_id !== config.pipeline_id) return false;
    if (config.only_user_id !== null && deal.assigned_to_id !== config.only_user_id) return false;
    return true;
  }

  /** Show the deal as the server says it is now; return its card (null: not on the board). */
  function show(deal) {
    var card = cardOf(deal.id);
    if (!onBoard(deal)) {
      if (card) remove(card);
      return null;
    }
    var col = column(deal.stage_id);
    if (!col) {
      // An inactive stage the page did not render: the reloaded page shows it.
      if (card) remove(card);
      say("“" + deal.title + "” moved to a stage not on this board: reload to see it.");
      return null;
    }
    card = card || newCard(deal);
    fill(card, deal);
    place(card, col);
    flash(card);
    return card;
  }

  function apply(event) {
    var card = show(event.data);
    if (card) card.dataset.eventId = String(event.id);
  }

  hub.on("deal.created", apply);
  hub.on("deal.updated", apply);
  hub.on("deal.deleted", function (event) {
    var card = cardOf(event.data.id);
    if (card) remove(card);
  });
  // console.js connected before this script ran: an event it delivered in between reached no
  // handler of this board, so follow the stream again from the cursor the page was rendered at.
  if (typeof cursor === "number" && hub.lastId !== null && hub.lastId > cursor) {
    hub.close();
    hub.lastId = cursor;
    hub.connect();
  }

  if (!board.hasAttribute("data-can-move")) return;

  // --- moving a card -----------------------------------------------------------------------
  function move(card, stageId) {
    var target = column(stageId);
    if (!target || String(stageId) === card.dataset.stageId || card.dataset.pending) return;
    var title = card.querySelector('[data-field="title"]').textContent;
    say("");
    place(card, target);
    card.dataset.pending = "true";
    var body = new URLSearchParams({ stage: String(stageId) });
    fetch(config.move_url.replace("{id}", card.dataset.dealId), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": config.csrf_token, Accept: "application/json" },
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") < 0) throw new Error("the server did not answer (signed out?)");
        return response.json().then(function (answer) {
          return { ok: response.ok, answer: answer };
        });
      })
      .then(function (result) {
        delete card.dataset.pending;
        if (!result.ok) {
          back(card);
          say("Could not move “" + title + "”: " + result.answer.error, true);
          return;
        }
        show(result.answer.deal);
        say("Moved “" + title + "” to " + result.answer.stage + ".");
      })
      .catch(function (error) {
        delete card.dataset.pending;
        back(card);
        say("Could not move “" + title + "”: " + error.message, true);
      });
  }

  /** Snap the card back to the stage the server last said it is in. */
  function back(card) {
    var col = column(card.dataset.stageId);
    if (col) place(card, col);
    var select = card.querySelector('[data-field="move"]');
    if (select) select.value = card.dataset.stageId;
    flash(card);
  }

  var dragged = null;

  board.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest(".card");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.dealId);
  });

  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    board.querySelectorAll(".drop-target").forEach(function (col) {
      col.classList.remove("drop-target");
    });
  });

  function dropColumn(e) {
    var col = e.target.closest && e.target.closest(".column");
    return dragged && col && !col.hasAttribute("data-closing") ? col : null;
  }

  board.addEventListener("dragover", function (e) {
    var col = dropColumn(e);
    if (!col) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    col.classList.add("drop-target");
  });

  board.addEventListener("dragleave", function (e) {
    var col = e.target.closest && e.target.closest(".column");
    if (col && !col.contains(e.relatedTarget)) col.classList.remove("drop-target");
  });

  board.addEventListener("drop", function (e) {
    var col = dropColumn(e);
    if (!col) return;
    e.preventDefault();
    col.classList.remove("drop-target");
    move(dragged, col.dataset.stageId);
  });

  board.addEventListener("change", function (e) {
    if (e.target.dataset.field !== "move") return;
    move(e.target.closest(".card"), e.target.value);
  });
})();
