/* The inbox's one websocket (contract: /ws/inbox/, frames {id, event, data}).
 *
 * Opens the socket, reconnects with exponential backoff and jitter, asks for what
 * it missed with {"action": "catch_up", "since": <last id>} on every reconnect,
 * drops frames it has already seen (catch-up may repeat one), and re-dispatches
 * every frame as document "inbox:event" (detail: the frame). Other modules listen
 * to that event and send through window.Inbox.send(obj); none opens its own socket.
 */
(function () {
  "use strict";
  var body = document.body;
  var path = (body && body.dataset.wsPath) || "/ws/inbox/";
  // WEBSOCKET_URL when set (the demo: daphne on its own port); else the page's origin.
  var fixedUrl = (body && body.dataset.wsUrl) || "";
  var socket = null;
  var attempt = 0;
  // The page's own cursor (rendered with it): the first catch-up brings what happened
  // between the render and the socket's opening.
  var lastId = (body && body.dataset.liveCursor) || null;
  var paused = false;
  var seen = [];          // recent frame ids, to drop a repeat after catch-up
  var SEEN_MAX = 500;
  var queue = [];         // client frames waiting for the socket to open
  var timer = null;
  var everOpened = false;
  var BASE_DELAY = 500, MAX_DELAY = 30000;

  function indicator(state) {
    var el = document.getElementById("connection");
    if (!el) return;
    el.dataset.state = state;
    var label = el.querySelector(".connection-label");
    if (label) {
      var text = label.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)];
      if (text) label.textContent = text;
    }
  }

  function url() {
    if (fixedUrl) return fixedUrl;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path;
  }

  function delay() {
    // Full jitter: a random delay up to the exponential bound, so a server restart
    // is not met by every browser at the same instant.
    var bound = Math.min(MAX_DELAY, BASE_DELAY * Math.pow(2, attempt));
    return Math.round(bound / 2 + Math.random() * bound / 2);
  }

  function dispatch(frame) {
    document.dispatchEvent(new CustomEvent("inbox:event", { detail: frame }));
  }

  function remember(id) {
    seen.push(id);
    if (seen.length > SEEN_MAX) seen.splice(0, seen.length - SEEN_MAX);
  }

  function onMessage(message) {
    var frame;
    try { frame = JSON.parse(message.data); } catch (e) { return; }
    if (!frame || typeof frame !== "object") return;
    var control = typeof frame.event === "string" && frame.event.indexOf("catch_up.") === 0;
    if (frame.id && !control) {
      // A replayed event may also arrive live: the id tells them apart.
      if (seen.indexOf(frame.id) !== -1) return;
      remember(frame.id);
      lastId = frame.id;
    }
    if (control && frame.data && frame.data.cursor) lastId = frame.data.cursor;
    dispatch(frame);
  }

  function connect() {
    timer = null;
    indicator(everOpened ? "offline" : "connecting");
    try {
      socket = new WebSocket(url());
    } catch (e) {
      schedule();
      return;
    }
    socket.addEventListener("open", function () {
      var reconnect = everOpened;
      everOpened = true;
      attempt = 0;
      indicator("online");
      // Always ask: the server holds live events until the first catch_up, so that
      // replayed ones come first and ids never go backwards.
      socket.send(JSON.stringify({ action: "catch_up", since: lastId }));
      while (queue.length) socket.send(JSON.stringify(queue.shift()));
      document.dispatchEvent(new CustomEvent("inbox:connection", { detail: { state: "online", reconnect: reconnect } }));
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", function (event) {
      socket = null;
      indicator("offline");
      document.dispatchEvent(new CustomEvent("inbox:connection", { detail: { state: "offline", code: event.code } }));
      if (event.code === 4401 || event.code === 4403) {
        // Signed out or refused: a reconnect cannot help; the next page load will ask to sign in.
        return;
      }
      schedule();
    });
    socket.addEventListener("error", function () { /* close follows */ });
  }

  function schedule() {
    if (timer || paused) return;
    var wait = delay();
    attempt += 1;
    timer = setTimeout(connect, wait);
  }

  function send(obj) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(obj));
      return true;
    }
    // Typing indicators are worthless later; everything else waits for the socket.
    if (!obj || obj.action !== "typing") queue.push(obj);
    return false;
  }

  // Back online after the laptop slept: do not wait for the backoff timer.
  window.addEventListener("online", function () {
    if (!socket && timer) { clearTimeout(timer); timer = null; attempt = 0; connect(); }
  });

  window.Inbox = window.Inbox || {};
  window.Inbox.send = send;
  window.Inbox.lastId = function () { return lastId; };
  window.Inbox.state = function () { return socket && socket.readyState === WebSocket.OPEN ? "online" : "offline"; };
  // For tests and diagnostics: drop the connection as a network failure would, or
  // stay disconnected until resumed (what a sleeping laptop does).
  window.Inbox._drop = function () { if (socket) socket.close(4000, "dropped"); };
  window.Inbox._pause = function () { paused = true; if (timer) { clearTimeout(timer); timer = null; } if (socket) socket.close(4000, "paused"); };
  window.Inbox._resume = function () { paused = false; attempt = 0; if (!socket && !timer) connect(); };

  connect();
})();
