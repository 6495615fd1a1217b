/* The composer, the actions panel and the contact panel of a conversation.
 *
 * Forms post with htmx to apps/inbox/actions.py; a refusal answers 422 with the
 * reason, which is swapped in next to the form (the typed text stays). Live
 * updates come from live.js as document "inbox:event"; typing is sent through
 * window.Inbox.send. No socket of its own, no dependency but htmx.
 */
(function () {
  "use strict";
  if (window.InboxComposer) return;
  window.InboxComposer = {};

  var REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
  var TYPING_EVERY_MS = 5000;

  var root, conversationId, body, form, lastTyping = 0, openPopup = null, openTrigger = null, sentText = "";

  function $(selector, scope) { return (scope || document).querySelector(selector); }
  function $all(selector, scope) { return Array.prototype.slice.call((scope || document).querySelectorAll(selector)); }
  function t(key) { return root ? root.getAttribute("data-i18n-" + key) || "" : ""; }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (form && event.detail.elt === form) sentText = body.value;
  });

  // htmx: let 422 answers (refusals with their reason) swap into their target.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function postForm(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: data,
      headers: { "X-CSRFToken": root.getAttribute("data-csrf"), "Accept": "application/json" },
    });
  }

  // --- Popups: one open at a time, Esc closes and gives the focus back ----------------

  function closePopup() {
    if (!openPopup) return;
    openPopup.hidden = true;
    if (openTrigger) { openTrigger.setAttribute("aria-expanded", "false"); openTrigger.focus(); }
    openPopup = openTrigger = null;
  }

  function togglePopup(name, trigger) {
    var popup = $('[data-composer-popup="' + name + '"]', root);
    if (!popup) return;
    if (openPopup === popup) { closePopup(); return; }
    closePopup();
    popup.hidden = false;
    openPopup = popup;
    openTrigger = trigger || null;
    if (trigger) trigger.setAttribute("aria-expanded", "true");
    var first = popup.querySelector("input:not([type=hidden]), textarea, button, select");
    if (first) first.focus();
    if (name === "interactive" && window.htmx) {
      var fields = $("[data-composer-interactive-fields]", popup);
      if (fields) window.htmx.trigger(fields, "composer:preview");
      // The account's Flows and catalog, read when the pop-up first opens.
      $all("[data-composer-load]", popup).forEach(function (part) { window.htmx.trigger(part, "composer:open"); });
    }
    if (name === "templates") {
      var search = $("[data-composer-template-search]", popup);
      if (search && window.htmx) window.htmx.trigger(search, "composer:open");
    }
  }

  // --- Reply-to state --------------------------------------------------------------

  function setReplyTo(messageId) {
    var box = $("[data-composer-replying]", root);
    $all("[data-composer-reply-to]", root).forEach(function (input) { input.value = messageId || ""; });
    if (!messageId) { box.hidden = true; return; }
    var message = document.querySelector('.message[data-message-id="' + messageId + '"], [data-message-id="' + messageId + '"]');
    var text = message ? (message.querySelector(".text, .body, p") || message).textContent.trim() : "";
    $("q", box).textContent = text.slice(0, 120);
    box.hidden = false;
    if (!body.disabled) body.focus();
  }

  // --- Sent: clear what was sent, keep the rest -------------------------------------

  document.addEventListener("composer:sent", function () {
    if (!root) return;
    if (openPopup && openPopup.tagName === "FORM") {
      openPopup.reset();
      // The builder shows the fields of the kind the reset checked again.
      var kind = $("[data-composer-itype]:checked", openPopup);
      if (kind) kind.dispatchEvent(new Event("change", { bubbles: true }));
    }
    if (!openPopup || openPopup === $("#composer-emoji", root)) {
      // Keep whatever was typed while the message was on its way.
      body.value = body.value.indexOf(sentText) === 0 ? body.value.slice(sentText.length).replace(/^\s+/, "") : body.value;
      autoGrow();
    }
    if (openPopup) {
      var templateForm = $("#composer-template-form", root);
      if (templateForm) templateForm.innerHTML = "";
      closePopup();
    }
    setReplyTo("");
    if (!body.disabled) body.focus();
  });

  function autoGrow() {
    body.style.height = "auto";
    body.style.height = Math.min(body.scrollHeight, 240) + "px";
  }

  // --- Canned responses: "/shortcut" ------------------------------------------------

  function Suggest(input, list, urlAttr, trigger, render, apply) {
    var items = [], active = -1, timer = null, token = null;

    function hide() { list.hidden = true; items = []; active = -1; input.removeAttribute("aria-activedescendant"); }
    function show(results) {
      items = results;
      list.innerHTML = "";
      results.forEach(function (item, index) {
        var li = document.createElement("li");
        li.id = list.id + "-" + index;
        li.setAttribute("role", "option");
        li.textContent = render(item);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
        list.appendChild(li);
      });
      list.hidden = !results.length;
      move(results.length ? 0 : -1);
    }
    function move(index) {
      active = index;
      $all("li", list).forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      if (index >= 0) input.setAttribute("aria-activedescendant", list.id + "-" + index);
    }
    function choose(index) {
      var item = items[index];
      if (!item) return;
      apply(item, token);
      hide();
      input.focus();
    }
    function query() {
      var before = input.value.slice(0, input.selectionStart);
      var match = before.match(trigger);
      if (!match) { hide(); return; }
      token = { start: before.length - match[0].length + (match[0].length - match[1].length - 1), end: before.length, text: match[1] };
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(root.getAttribute(urlAttr) + "?q=" + encodeURIComponent(match[1]), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (data) { show(data.results || []); })
          .catch(hide);
      }, 120);
    }
    input.addEventListener("input", query);
    input.addEventListener("blur", function () { setTimeout(hide, 150); });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); move((active + 1) % items.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); move((active - 1 + items.length) % items.length); }
      else if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); event.stopImmediatePropagation(); choose(active); }
      else if (event.key === "Escape") { event.preventDefault(); event.stopImmediatePropagation(); hide(); }
    });
    return { hide: hide, isOpen: function () { return !list.hidden; } };
  }

  function replaceToken(input, token, text) {
    input.value = input.value.slice(0, token.start) + text + input.value.slice(token.end);
    var at = token.start + text.length;
    input.setSelectionRange(at, at);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // --- Attachments: button, drop on the thread, paste -----------------------------------

  function attachFile(file) {
    if (!file || body.disabled) return;
    var attach = $("#composer-attach", root);
    var input = $("[data-composer-file]", attach);
    var transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    if (openPopup !== attach) togglePopup("attach", $('[data-composer-toggle="attach"]', root));
    var caption = attach.querySelector('input[name="caption"]');
    if (caption) caption.focus();
  }

  // --- Window countdown -------------------------------------------------------------------

  // The window opens when the customer writes and closes 24 hours later. The page starts
  // with the server's state; a conversation.updated moves it (the customer wrote again),
  // with no reload, so nothing typed is lost.

  var WINDOW_CONTROLS = '[data-composer-toggle]:not([data-composer-toggle="templates"]), [data-composer-send], [data-composer-assist="suggest"]';
  var countdownTimer = null;

  function windowControls(open) {
    // Only what the window closed is opened again: a control disabled for another
    // reason stays as it is.
    $all(WINDOW_CONTROLS, root).forEach(function (b) {
      if (!open && !b.disabled) { b.disabled = true; b.setAttribute("data-window-disabled", ""); }
      if (open && b.hasAttribute("data-window-disabled")) { b.disabled = false; b.removeAttribute("data-window-disabled"); }
    });
    body.disabled = !open;
    body.placeholder = t(open ? "placeholder-open" : "placeholder-closed");
    if (open) body.removeAttribute("aria-describedby"); else body.setAttribute("aria-describedby", "composer-closed-reason");
  }

  function countdown() {
    clearTimeout(countdownTimer);
    var closes = root.getAttribute("data-window-closes-at");
    var line = $("[data-composer-window]", root);
    var end = closes ? new Date(closes).getTime() : 0;
    function tick() {
      var left = end - Date.now();
      if (!(left > 0)) {
        line.textContent = t("closed");
        line.classList.add("is-closed");
        line.classList.remove("is-soon");
        root.setAttribute("data-window-open", "false");
        windowControls(false);
        return;
      }
      root.setAttribute("data-window-open", "true");
      line.classList.remove("is-closed");
      var h = Math.floor(left / 3600000), m = Math.floor((left % 3600000) / 60000);
      line.textContent = t("left").replace("%(time)s", h + " h " + (m < 10 ? "0" : "") + m + " min");
      line.classList.toggle("is-soon", left < 3600000);
      countdownTimer = setTimeout(tick, Math.min(30000, left));
    }
    tick();
  }

  function windowMoved(closesAt) {
    var was = root.getAttribute("data-window-open") === "true";
    root.setAttribute("data-window-closes-at", closesAt || "");
    countdown();
    if (!was && root.getAttribute("data-window-open") === "true") windowControls(true);
  }

  // --- Agent assist -------------------------------------------------------------------------

  function assistError(result, detail) {
    result.innerHTML = "";
    var div = document.createElement("div");
    div.className = "composer-error";
    div.setAttribute("role", "alert");
    div.textContent = t("assist-error") + ": " + detail;
    result.appendChild(div);
  }

  function assist(kind, button) {
    var url = root.getAttribute(kind === "suggest" ? "data-suggest-url" : "data-summary-url");
    var result = $("#composer-result", root);
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    // No body: the assist takes no input, and an empty multipart form (what an empty
    // FormData sends) is refused by HTTP servers before the application sees it.
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": root.getAttribute("data-csrf"), "Accept": "application/json" },
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { ok: response.ok, status: response.status, statusText: response.statusText, data: data };
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          // The server's reason, else its HTTP status: never a message cut short.
          var detail = answer.data && answer.data.detail;
          if (Array.isArray(detail)) detail = detail.join(" ");
          assistError(result, detail || (t("http-error") + " " + answer.status + (answer.statusText ? " " + answer.statusText : "")));
          return;
        }
        result.innerHTML = "";
        if (kind === "suggest") {
          body.value = answer.data.text || "";
          autoGrow();
          body.focus();
        } else {
          var box = $("[data-composer-summary]", root);
          $("p", box).textContent = answer.data.summary || "";
          box.hidden = false;
        }
      })
      .catch(function () { assistError(result, t("network-error")); })
      .finally(function () { button.disabled = false; button.removeAttribute("aria-busy"); });
  }

  // --- Reactions: a small picker next to the message -----------------------------------------
  //
  // The picker floats (position: fixed, composer.css) and is placed here, inside the
  // visible part of the thread's message column: its bubble may sit at either edge of the
  // column and the emoji font decides how wide the buttons are, so neither the bubble nor
  // the message's action buttons can hold it. Too wide for the column, it wraps. It follows
  // its message when the thread scrolls and stays open (the message's "is-reacting" keeps
  // the buttons it belongs to shown) until an emoji is chosen, Esc, or a click or the focus
  // goes elsewhere.

  var REACT_GAP = 6;  // px between the picker and the column's edges or the message's buttons
  var reaction = null;  // the open picker: { picker, button, message, bubble, column }

  function closeReactPicker(giveFocusBack) {
    if (!reaction) return;
    var open = reaction;
    reaction = null;
    open.column.removeEventListener("scroll", followReactPicker);
    window.removeEventListener("resize", followReactPicker);
    document.removeEventListener("pointerdown", reactPickerOutside, true);
    open.message.classList.remove("is-reacting");
    open.picker.remove();
    if (giveFocusBack && open.button.isConnected) open.button.focus();
  }

  function placeReactPicker() {
    var picker = reaction.picker, bubble = reaction.bubble.getBoundingClientRect();
    var anchor = reaction.button.getBoundingClientRect(), area = reaction.column.getBoundingClientRect();
    var left = Math.max(area.left, 0) + REACT_GAP, right = Math.min(area.right, window.innerWidth) - REACT_GAP;
    var top = Math.max(area.top, 0) + REACT_GAP, bottom = Math.min(area.bottom, window.innerHeight) - REACT_GAP;
    if (bubble.bottom < top || bubble.top > bottom) return false;  // its message scrolled out of sight
    picker.style.maxWidth = Math.max(right - left, 0) + "px";
    var box = picker.getBoundingClientRect();
    // Along the bubble's outer edge (left for the customer's messages, right for the
    // business's), then moved back inside the column if it sticks out.
    var x = reaction.bubble.closest(".message.out") ? bubble.right - box.width : bubble.left;
    x = Math.max(Math.min(x, right - box.width), left);
    var y = anchor.top - REACT_GAP - box.height;  // above the message's buttons,
    if (y < top) y = anchor.bottom + REACT_GAP;  // or below them when there is no room above
    y = Math.max(Math.min(y, bottom - box.height), top);
    picker.style.left = x + "px";
    picker.style.top = y + "px";
    // Should an ancestor ever become the containing block of fixed boxes (a transform,
    // a filter), correct by what actually landed.
    box = picker.getBoundingClientRect();
    if (Math.abs(box.left - x) > 0.5) picker.style.left = (2 * x - box.left) + "px";
    if (Math.abs(box.top - y) > 0.5) picker.style.top = (2 * y - box.top) + "px";
    return true;
  }

  function followReactPicker() {
    if (!reaction) return;
    if (!reaction.picker.isConnected || !placeReactPicker()) closeReactPicker(false);
  }

  function reactPickerOutside(event) {
    if (reaction && !reaction.picker.contains(event.target) && event.target !== reaction.button) closeReactPicker(false);
  }

  function reactPicker(button, messageId) {
    closeReactPicker(false);
    var picker = document.createElement("div");
    picker.className = "composer-react-picker";
    picker.setAttribute("role", "dialog");
    picker.setAttribute("aria-label", t("react"));
    REACTIONS.concat([""]).forEach(function (emoji) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = emoji || "✕";
      if (!emoji) b.setAttribute("aria-label", t("remove-reaction"));
      b.addEventListener("click", function () {
        var data = new FormData();
        data.append("message", messageId);
        data.append("emoji", emoji);
        postForm(root.getAttribute("data-react-url"), data).then(function (response) {
          return response.text().then(function (html) {
            $("#composer-result", root).innerHTML = response.ok ? "" : html;
          });
        });
        closeReactPicker(true);
      });
      picker.appendChild(b);
    });
    picker.addEventListener("keydown", function (event) {
      if (event.key === "Escape") closeReactPicker(true);
    });
    picker.addEventListener("focusout", function (event) {
      if (event.relatedTarget && !picker.contains(event.relatedTarget)) closeReactPicker(false);
    });
    // In the message, after its React button: the focus order and the message's
    // :focus-within (which keeps its buttons shown) stay as they were.
    button.insertAdjacentElement("afterend", picker);
    reaction = {
      picker: picker, button: button,
      message: button.closest(".message") || picker,
      bubble: button.closest(".bubble") || button,
      column: document.getElementById("thread-scroll") || document.documentElement,
    };
    reaction.message.classList.add("is-reacting");
    placeReactPicker();
    reaction.column.addEventListener("scroll", followReactPicker, { passive: true });
    window.addEventListener("resize", followReactPicker);
    document.addEventListener("pointerdown", reactPickerOutside, true);
    picker.querySelector("button").focus({ preventScroll: true });
  }

  // --- Panels: live refresh for other agents' changes ------------------------------------------

  function refresh(id, eventName) {
    var target = document.getElementById(id);
    if (!target || !window.htmx) return;
    if (target.contains(document.activeElement) && /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) return;
    window.htmx.trigger(target, eventName);
  }

  document.addEventListener("inbox:event", function (event) {
    var frame = event.detail || {}, data = frame.data || {};
    if (!root) return;
    if (frame.event === "conversation.updated" && String(data.id) === conversationId) {
      refresh("panel-actions-body", "composer:refresh-actions");
      if (data.window_expires_at !== undefined && data.window_expires_at !== root.getAttribute("data-window-closes-at")) {
        windowMoved(data.window_expires_at);
      }
    }
    if (frame.event === "number.sending_paused" || frame.event === "number.sending_resumed") {
      // The number's sending paused (Meta refused it as a whole) or resumed: the banner.
      var banner = root.querySelector("[data-composer-paused]");
      if (banner && String(data.number_id) === banner.getAttribute("data-number-id")) {
        banner.querySelector("[data-composer-paused-reason]").textContent = data.reason || "";
        // A pause scoped to marketing templates says so (pause.py): the rest still goes out.
        banner.querySelector("[data-composer-paused-all]").hidden = data.scope === "marketing";
        banner.querySelector("[data-composer-paused-marketing]").hidden = data.scope !== "marketing";
        banner.hidden = frame.event === "number.sending_resumed";
      }
    }
    if (frame.event === "contact.updated") {
      var panel = document.getElementById("panel-contact");
      if (panel && String(data.id) === panel.getAttribute("data-contact-id")) refresh("panel-contact-body", "composer:refresh-contact");
    }
  });

  // Snooze: the datetime-local value is sent with the browser's offset.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.matches || !elt.matches("[data-panel-snooze]")) return;
    var local = elt.querySelector("[data-panel-snooze-local]");
    if (!local || !local.value) return;
    var date = new Date(local.value);
    if (isNaN(date.getTime())) return;
    var offset = -date.getTimezoneOffset(), sign = offset >= 0 ? "+" : "-", abs = Math.abs(offset);
    event.detail.parameters.snoozed_until = local.value + ":00" + sign +
      String(Math.floor(abs / 60)).padStart(2, "0") + ":" + String(abs % 60).padStart(2, "0");
  });

  // --- Notes: @mentions ------------------------------------------------------------------------

  function initNote() {
    var note = document.querySelector("[data-note-body]");
    if (!note || note.dataset.composerReady) return;
    note.dataset.composerReady = "1";
    Suggest(note, document.getElementById("panel-note-mentions"), "data-mentions-url", /(?:^|\s)@([\w.@+-]*)$/,
      function (user) { return "@" + user.username + (user.name && user.name !== user.username ? " — " + user.name : ""); },
      function (user, token) { replaceToken(note, { start: token.start, end: token.end }, "@" + user.username + " "); });
  }

  // --- The composer's Note tab: a private note instead of a reply ---------------------------

  function setMode(mode, focus) {
    var note = mode === "note";
    $all("[data-composer-mode]", root).forEach(function (tab) {
      var on = tab.getAttribute("data-composer-mode") === mode;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    });
    closePopup();
    form.hidden = note;
    $("[data-composer-note]", root).hidden = !note;
    root.classList.toggle("is-note", note);
    if (note) setReplyTo("");
    if (!focus) return;
    var input = note ? $("[data-composer-note-body]", root) : body;
    if (input && !input.disabled) input.focus();
  }

  function initComposerNote() {
    var note = $("[data-composer-note-body]", root);
    if (!note || note.dataset.composerReady) return;
    note.dataset.composerReady = "1";
    var mentions = Suggest(note, $("#composer-note-mentions", root), "data-mentions-url", /(?:^|\s)@([\w.@+-]*)$/,
      function (user) { return "@" + user.username + (user.name && user.name !== user.username ? " — " + user.name : ""); },
      function (user, token) { replaceToken(note, { start: token.start, end: token.end }, "@" + user.username + " "); });
    // As in the reply: Enter saves, Shift+Enter a new line (Enter picks a colleague while the list is open).
    note.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !mentions.isOpen()) {
        event.preventDefault();
        if (note.value.trim()) note.form.requestSubmit();
      }
    });
  }

  function initModes() {
    var tabs = $all("[data-composer-mode]", root);
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function () { setMode(tab.getAttribute("data-composer-mode"), true); });
      tab.addEventListener("keydown", function (event) {
        if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
        event.preventDefault();
        var next = tabs[(index + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
        setMode(next.getAttribute("data-composer-mode"), false);
        next.focus();
      });
    });
    initComposerNote();
  }

  // --- Setup -----------------------------------------------------------------------------------

  function init() {
    root = document.getElementById("composer");
    if (!root) { initNote(); return; }
    conversationId = root.getAttribute("data-conversation-id");
    body = $("[data-composer-body]", root);
    form = $("#composer-form", root);

    var emoji = $("#composer-emoji", root);
    // Search by name (the server's list, in the agent's language and English).
    var emojiSearch = $("[data-composer-emoji-search]", emoji), emojiResults = $("[data-composer-emoji-results]", emoji);
    var emojiTimer = null, emojiAsked = 0;
    emojiSearch.addEventListener("input", function () {
      clearTimeout(emojiTimer);
      emojiTimer = setTimeout(function () {
        var asked = ++emojiAsked;
        fetch(emoji.getAttribute("data-emoji-url") + "?q=" + encodeURIComponent(emojiSearch.value.trim()),
              { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) { if (asked === emojiAsked) emojiResults.innerHTML = html; })
          .catch(function () {});
      }, 150);
    });
    emojiSearch.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var first = emojiResults.querySelector("[data-emoji]");
      if (first) first.click();
    });
    emoji.addEventListener("click", function (event) {
      var b = event.target.closest("[data-emoji]");
      if (!b) return;
      var start = body.selectionStart || body.value.length, end = body.selectionEnd || body.value.length;
      body.value = body.value.slice(0, start) + b.getAttribute("data-emoji") + body.value.slice(end);
      body.setSelectionRange(start + b.textContent.length, start + b.textContent.length);
      closePopup();
      body.focus();
    });

    var canned = Suggest(body, $("#composer-canned", root), "data-canned-url", /(?:^|\s)\/([\w-]*)$/,
      function (item) { return "/" + item.shortcut + " — " + item.body.slice(0, 60); },
      function (item, token) { replaceToken(body, { start: token.start, end: token.end }, item.body); });

    // Enter sends, Shift+Enter a new line; Ctrl/Cmd+Enter sends from any composer form.
    body.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !canned.isOpen()) {
        event.preventDefault();
        if (body.value.trim()) form.requestSubmit();
      }
    });
    root.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        var target = event.target.closest("form");
        if (target) { event.preventDefault(); target.requestSubmit(); }
      }
    });
    body.addEventListener("input", function () {
      autoGrow();
      var now = Date.now();
      if (body.value && now - lastTyping >= TYPING_EVERY_MS && window.Inbox && window.Inbox.send) {
        lastTyping = now;
        window.Inbox.send({ action: "typing", conversation_id: Number(conversationId) });
      }
    });

    root.addEventListener("click", function (event) {
      var toggle = event.target.closest("[data-composer-toggle]");
      if (toggle) { togglePopup(toggle.getAttribute("data-composer-toggle"), toggle); return; }
      var assistButton = event.target.closest("[data-composer-assist]");
      if (assistButton) { assist(assistButton.getAttribute("data-composer-assist"), assistButton); return; }
      if (event.target.closest("[data-composer-cancel-reply]")) { setReplyTo(""); return; }
      if (event.target.closest("[data-composer-close]")) { $("[data-composer-summary]", root).hidden = true; return; }
      if (event.target.closest("[data-composer-add-row]")) {
        var section = event.target.closest(".composer-section");
        var row = $(".composer-row", section).cloneNode(true);
        $all("input[type=text]", row).forEach(function (i) { i.value = ""; });
        event.target.insertAdjacentElement("beforebegin", row);
        return;
      }
      if (event.target.closest("[data-composer-add-psection]")) {
        var psections = $("[data-composer-psections]", root);
        if ($all(".composer-psection", psections).length >= 10) return;
        var psection = $(".composer-psection", psections).cloneNode(true);
        $all("input, textarea", psection).forEach(function (i) { i.value = ""; });
        psections.appendChild(psection);
        return;
      }
      if (event.target.closest("[data-composer-add-section]")) {
        var sections = $("[data-composer-sections]", root);
        var copy = $(".composer-section", sections).cloneNode(true);
        var index = $all(".composer-section", sections).length;
        copy.setAttribute("data-section", index);
        $("legend", copy).textContent = $("legend", copy).textContent.replace(/\d+$/, index + 1);
        $all(".composer-row", copy).slice(1).forEach(function (r) { r.remove(); });
        $all("input[type=text]", copy).forEach(function (i) { i.value = ""; });
        $("input[name=row_section]", copy).value = index;
        sections.appendChild(copy);
      }
    });
    // The builder's fields shown by kind (the product kinds arrive with the pop-up's
    // catalog read, so the change is caught on the root).
    root.addEventListener("change", function (event) {
      var radio = event.target.closest("[data-composer-itype]");
      if (!radio || !radio.checked) return;
      $("[data-composer-ibuttons]", root).hidden = radio.value !== "button";
      $("[data-composer-ilist]", root).hidden = radio.value !== "list";
      var link = $("[data-composer-ilink]", root);
      if (link) link.hidden = radio.value !== "cta_url";
      $all("[data-composer-ikind]", root).forEach(function (panel) {
        panel.hidden = panel.getAttribute("data-composer-ikind") !== radio.value;
      });
    });

    // Reply and react buttons on messages (rendered by the thread's partial).
    document.addEventListener("click", function (event) {
      var action = event.target.closest('[data-action="reply"], [data-action="react"]');
      if (!action) return;
      var holder = action.closest("[data-message-id]");
      var id = action.getAttribute("data-message-id") || (holder && holder.getAttribute("data-message-id"));
      if (!id) return;
      if (action.getAttribute("data-action") === "reply") { setMode("reply", false); setReplyTo(id); } else reactPicker(action, id);
    });

    var thread = document.getElementById("thread-scroll") || document.getElementById("thread");
    var dropZone = thread || root;
    ["dragenter", "dragover"].forEach(function (name) {
      dropZone.addEventListener(name, function (event) {
        if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
          event.preventDefault();
          dropZone.classList.add("composer-dropping");
        }
      });
    });
    dropZone.addEventListener("dragleave", function () { dropZone.classList.remove("composer-dropping"); });
    dropZone.addEventListener("drop", function (event) {
      dropZone.classList.remove("composer-dropping");
      if (event.dataTransfer && event.dataTransfer.files.length) { event.preventDefault(); attachFile(event.dataTransfer.files[0]); }
    });
    body.addEventListener("paste", function (event) {
      var files = event.clipboardData && event.clipboardData.files;
      if (files && files.length) { event.preventDefault(); attachFile(files[0]); }
    });

    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && openPopup) { event.preventDefault(); closePopup(); }
    });
    document.addEventListener("inbox:shortcut", function (event) {
      if (event.detail && event.detail.action === "reply" && !body.disabled) { event.preventDefault(); setMode("reply", true); }
    });

    countdown();
    initNote();
    initModes();
  }

  // The note form is re-rendered after each note: hook the new textarea.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "panel-note") initNote();
    if (event.detail.target && event.detail.target.id === "composer-note") {
      initComposerNote();
      var note = $("[data-composer-note-body]", root);
      if (note) note.focus();
    }
    var result = event.detail.target && event.detail.target.id === "composer-result" ? event.detail.target : null;
    if (result && result.querySelector(".composer-error") && openPopup === null && body) body.focus();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
