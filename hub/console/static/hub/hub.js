/*
 * hub.js: a small, dependency-free browser client of the hub's websocket (docs/PROTOCOL.md).
 *
 *   const hub = new Hub({
 *     // url: defaults to ws(s)://<this host>/ws/
 *     // token: "eyJ…" or getToken: () => fetch(…).then(r => r.text())  (omit both for the
 *     //   session cookie of a console page)
 *     lastId: 1234,                        // resume after this event id (e.g. rendered by the page)
 *     onEvent: (event) => {},              // every event: {id, topic, type, data}, and
 *                                          //   company_id when the frame has it
 *     onReset: (frame) => location.reload(), // the gap cannot be replayed (frame.reason): refetch
 *     onAuthError: ({code, reason, error}) => {},  // 4401/4403: no automatic reconnect
 *                                                   // (but "token expired" with getToken reconnects)
 *     onStatus: (status, info) => {},      // connecting, resuming, live, reconnecting, ...
 *   });
 *   hub.on("call.updated", (event) => {}); // one type, "call.*" for a prefix, "*" for all
 *   hub.markRead(notificationId);          // or hub.markRead("all"); returns a Promise of the ack
 *
 * It reconnects with exponential backoff and full jitter, resumes after the last event id it
 * delivered (so nothing is missed and nothing is delivered twice), and pings so the server's
 * idle timeout never closes a healthy connection. Every close but 4401/4403 is retried that
 * way, 1011 (server error) and 1013 (try again later: e.g. the database is unreachable) included.
 */
(function (root) {
  "use strict";

  // Close codes after which reconnecting with the same credentials cannot help.
  var AUTH_CLOSE_CODES = { 4401: true, 4403: true };
  // The server's transient failures: its error (1011), a restart (1012), an outage of what it
  // depends on, such as the database (1013). Never treated as an auth error, even while
  // authenticating: reconnect with backoff, then resume.
  var RETRY_CLOSE_CODES = { 1011: true, 1012: true, 1013: true };

  function defaultUrl() {
    var loc = root.location;
    return (loc.protocol === "https:" ? "wss://" : "ws://") + loc.host + "/ws/";
  }

  function storedId(key) {
    try {
      var value = key ? root.sessionStorage.getItem(key) : null;
      return value === null || value === undefined || value === "" ? null : Number(value);
    } catch (e) {
      return null;
    }
  }

  /** Full-jitter backoff: a random delay in [0, min(max, base * 2^attempt)) milliseconds. */
  function backoffDelay(attempt, base, max) {
    return Math.random() * Math.min(max, base * Math.pow(2, attempt));
  }

  function Hub(options) {
    options = options || {};
    this.options = options;
    this.url = options.url || defaultUrl();
    this.minDelay = options.minDelay || 500;
    this.maxDelay = options.maxDelay || 30000;
    this.requestTimeout = options.requestTimeout || 10000;
    this.storageKey = options.storageKey || null;
    this.lastId = options.lastId !== undefined && options.lastId !== null ? Number(options.lastId) : storedId(this.storageKey);
    this.socket = null;
    this.status = "idle";
    this.hello = null;
    this.attempt = 0;
    this._WebSocket = options.WebSocket || root.WebSocket;
    this._handlers = {};
    this._requests = {};
    this._nextRef = 0;
    this._buffer = null;
    this._stopped = true;
    this._retryTimer = null;
    this._heartbeatTimer = null;
    this._pingSentAt = 0;
    this._lastFrameAt = 0;
    this._lastError = null;
    var self = this;
    if (root.addEventListener) {
      // Back online: do not wait for the rest of the backoff.
      root.addEventListener("online", function () {
        if (self._retryTimer !== null) self._open();
      });
    }
    if (options.autoConnect !== false) this.connect();
  }

  Hub.backoffDelay = backoffDelay;

  // --- public API ----------------------------------------------------------------------
  Hub.prototype.connect = function () {
    this._stopped = false;
    if (this.socket === null) this._open();
    return this;
  };

  Hub.prototype.close = function () {
    this._stopped = true;
    this._clearRetry();
    var ws = this.socket;
    if (ws !== null) {
      this._detach(ws);
      this.socket = null;
      try {
        ws.close(1000, "client closed");
      } catch (e) {
        /* already closed */
      }
      this._lost();
    }
    this._setStatus("closed", {});
  };

  /** Call ``callback(event)`` for events of ``type`` ("call.updated", "call.*" or "*"). */
  Hub.prototype.on = function (type, callback) {
    (this._handlers[type] = this._handlers[type] || []).push(callback);
    var self = this;
    return function () {
      self.off(type, callback);
    };
  };

  Hub.prototype.off = function (type, callback) {
    var list = this._handlers[type] || [];
    var index = list.indexOf(callback);
    if (index >= 0) list.splice(index, 1);
  };

  /** Mark one notification (its id) or every notification ("all") read; resolves with the ack. */
  Hub.prototype.markRead = function (id) {
    var frame = id === "all" ? { type: "notification.read", all: true } : { type: "notification.read", id: String(id) };
    return this.request(frame);
  };

  Hub.prototype.ping = function () {
    return this.request({ type: "ping" });
  };

  /** Send a frame with a fresh "ref"; resolve with the reply carrying it, reject on an error frame. */
  Hub.prototype.request = function (frame) {
    var self = this;
    return new Promise(function (resolve, reject) {
      var ws = self.socket;
      if (ws === null || ws.readyState !== 1 || self.hello === null) {
        reject(new Error("not connected"));
        return;
      }
      var ref = "r" + ++self._nextRef;
      var timer = setTimeout(function () {
        delete self._requests[ref];
        reject(new Error("no reply within " + self.requestTimeout + " ms"));
      }, self.requestTimeout);
      self._requests[ref] = { resolve: resolve, reject: reject, timer: timer };
      var out = {};
      for (var key in frame) out[key] = frame[key];
      out.ref = ref;
      ws.send(JSON.stringify(out));
    });
  };

  // --- connection life cycle -----------------------------------------------------------
  Hub.prototype._open = function () {
    this._clearRetry();
    if (this._stopped || this.socket !== null) return;
    this._setStatus("connecting", { attempt: this.attempt });
    var ws;
    try {
      ws = new this._WebSocket(this.url);
    } catch (e) {
      this._scheduleReconnect(1006, String(e));
      return;
    }
    var self = this;
    this.socket = ws;
    this.hello = null;
    this._lastError = null;
    // Events are held until the stream is in order: until hello, and during a resume.
    this._buffer = [];
    ws.onopen = function () {
      self._onOpen(ws);
    };
    ws.onmessage = function (message) {
      if (ws === self.socket) self._onMessage(message.data);
    };
    ws.onclose = function (event) {
      if (ws !== self.socket) return;
      self.socket = null;
      self._onClose(event.code, event.reason);
    };
    ws.onerror = function () {
      /* a close event follows */
    };
  };

  Hub.prototype._onOpen = function (ws) {
    var self = this;
    this._lastFrameAt = Date.now();
    var opts = this.options;
    if (!opts.token && !opts.getToken) return; // the session cookie authenticates
    Promise.resolve(opts.getToken ? opts.getToken() : opts.token).then(
      function (token) {
        if (ws === self.socket && ws.readyState === 1) ws.send(JSON.stringify({ type: "auth", token: token }));
      },
      function (error) {
        if (ws !== self.socket) return;
        self._lastError = error;
        self._drop(ws, 4401, "getToken failed");
      }
    );
  };

  Hub.prototype._onClose = function (code, reason) {
    this._lost();
    if (this._stopped) {
      this._setStatus("closed", { code: code, reason: reason });
    } else if (RETRY_CLOSE_CODES[code]) {
      this._scheduleReconnect(code, reason);
    } else if (code === 4401 && reason === "token expired" && this.options.getToken) {
      // The access token ran out mid-session: getToken supplies a fresh one on reconnect,
      // and the client resumes from the last event it saw. A token refused at sign-in
      // closes with another reason and stops below.
      this._scheduleReconnect(code, reason);
    } else if (AUTH_CLOSE_CODES[code]) {
      this._stopped = true;
      this._authError({ code: code, reason: reason, error: this._lastError });
    } else {
      this._scheduleReconnect(code, reason);
    }
  };

  Hub.prototype._authError = function (info) {
    this._setStatus("auth_error", info);
    this._call(this.options.onAuthError, info);
  };

  Hub.prototype._lost = function () {
    this._stopHeartbeat();
    this._buffer = null;
    this.hello = null;
    var pending = this._requests;
    this._requests = {};
    for (var ref in pending) {
      clearTimeout(pending[ref].timer);
      pending[ref].reject(new Error("disconnected"));
    }
  };

  Hub.prototype._scheduleReconnect = function (code, reason) {
    var delay = backoffDelay(this.attempt, this.minDelay, this.maxDelay);
    this.attempt += 1;
    var self = this;
    this._retryTimer = setTimeout(function () {
      self._retryTimer = null;
      self._open();
    }, delay);
    this._setStatus("reconnecting", { code: code, reason: reason, delay: delay, attempt: this.attempt });
  };

  Hub.prototype._clearRetry = function () {
    if (this._retryTimer !== null) clearTimeout(this._retryTimer);
    this._retryTimer = null;
  };

  Hub.prototype._detach = function (ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  };

  /** Abandon a socket at once (a half-open connection may take minutes to report its close). */
  Hub.prototype._drop = function (ws, code, reason) {
    this._detach(ws);
    try {
      ws.close(4000, reason);
    } catch (e) {
      /* already closed */
    }
    if (ws === this.socket) {
      this.socket = null;
      this._onClose(code, reason);
    }
  };

  // --- heartbeats ----------------------------------------------------------------------
  Hub.prototype._startHeartbeat = function (seconds) {
    this._stopHeartbeat();
    // The server closes a connection that sent nothing for 3 heartbeats (4408).
    var interval = (seconds > 0 ? seconds : 30) * 1000;
    var self = this;
    var ws = this.socket;
    this._pingSentAt = 0;
    this._heartbeatTimer = setInterval(function () {
      if (ws !== self.socket) return;
      if (self._pingSentAt && self._lastFrameAt < self._pingSentAt) {
        // No pong (nor anything else) for a whole interval: the connection is dead.
        self._drop(ws, 1006, "no pong");
        return;
      }
      self._pingSentAt = Date.now();
      if (ws.readyState === 1) ws.send('{"type":"ping"}');
    }, interval);
  };

  Hub.prototype._stopHeartbeat = function () {
    if (this._heartbeatTimer !== null) clearInterval(this._heartbeatTimer);
    this._heartbeatTimer = null;
  };

  // --- incoming frames -----------------------------------------------------------------
  Hub.prototype._onMessage = function (text) {
    this._lastFrameAt = Date.now();
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      return;
    }
    switch (frame.type) {
      case "event":
        var event = { id: frame.id, topic: frame.topic, type: frame.event, data: frame.data };
        // The event's company, when the server's frames carry it (null: none).
        if (frame.company_id !== undefined) event.company_id = frame.company_id;
        this._onEvent(event);
        break;
      case "hello":
        this._onHello(frame);
        break;
      case "resumed":
        this._endResume(frame, false);
        break;
      case "reset":
        this._endResume(frame, true);
        break;
      case "error":
        if (!this._settle(frame, false)) {
          this._lastError = frame;
          this._call(this.options.onError, frame);
        }
        break;
      default: // pong, ack
        this._settle(frame, true);
    }
  };

  Hub.prototype._settle = function (frame, ok) {
    var request = frame.ref !== undefined ? this._requests[frame.ref] : undefined;
    if (request === undefined) return false;
    delete this._requests[frame.ref];
    clearTimeout(request.timer);
    if (ok) {
      request.resolve(frame);
    } else {
      var error = new Error(frame.message);
      error.code = frame.code;
      request.reject(error);
    }
    return true;
  };

  Hub.prototype._onHello = function (frame) {
    this.hello = frame;
    this.attempt = 0;
    this._startHeartbeat(frame.heartbeat_seconds);
    this._call(this.options.onHello, frame);
    if (this.lastId === null || isNaN(this.lastId)) {
      // A first connection with nothing to resume: follow the stream from here.
      this._setLastId(frame.latest_event_id);
      this._flush();
      this._setStatus("live", { hello: frame });
    } else {
      this.socket.send(JSON.stringify({ type: "resume", after: this.lastId }));
      this._setStatus("resuming", { after: this.lastId });
    }
  };

  Hub.prototype._endResume = function (frame, isReset) {
    if (isReset) {
      // The server cannot replay the gap (too old, too long, or an id it has not reached,
      // e.g. after a database restore): the page refetches its state, and the cursor becomes
      // the server's, even when that is lower than ours.
      this._setLastId(frame.latest_event_id);
      this._call(this.options.onReset, frame);
    }
    this._flush();
    if (!isReset) this._call(this.options.onResumed, frame);
    this._setStatus("live", { resumed: frame });
  };

  Hub.prototype._onEvent = function (event) {
    if (this._buffer !== null) {
      this._buffer.push(event);
    } else {
      this._deliver(event);
    }
  };

  /** Deliver held events in id order: live events may overtake the replay of a resume. */
  Hub.prototype._flush = function () {
    var held = this._buffer || [];
    this._buffer = null;
    held.sort(function (a, b) {
      return a.id - b.id;
    });
    for (var i = 0; i < held.length; i++) this._deliver(held[i]);
  };

  Hub.prototype._deliver = function (event) {
    // Ids only grow along the stream, so anything at or below the cursor is a repeat.
    if (this.lastId !== null && event.id <= this.lastId) return;
    this._setLastId(event.id);
    this._call(this.options.onEvent, event);
    var type = event.type;
    var dot = type.indexOf(".");
    var keys = [type, dot >= 0 ? type.slice(0, dot) + ".*" : null, "*"];
    for (var k = 0; k < keys.length; k++) {
      var list = keys[k] && this._handlers[keys[k]];
      if (!list) continue;
      list = list.slice();
      for (var i = 0; i < list.length; i++) this._call(list[i], event);
    }
  };

  // --- helpers -------------------------------------------------------------------------
  Hub.prototype._setLastId = function (id) {
    if (typeof id !== "number") return;
    this.lastId = id;
    if (this.storageKey) {
      try {
        root.sessionStorage.setItem(this.storageKey, String(id));
      } catch (e) {
        /* storage unavailable: memory is enough */
      }
    }
  };

  Hub.prototype._setStatus = function (status, info) {
    this.status = status;
    this._call(this.options.onStatus, status, info || {});
  };

  Hub.prototype._call = function (callback) {
    if (typeof callback !== "function") return;
    try {
      callback.apply(null, Array.prototype.slice.call(arguments, 1));
    } catch (e) {
      // One failing callback must not stop the stream.
      if (root.console) root.console.error(e);
    }
  };

  root.Hub = Hub;
  if (typeof module === "object" && module.exports) module.exports = Hub;
})(typeof window !== "undefined" ? window : globalThis);
