/* The inbox page's behaviour: live list and thread, load more, shortcuts,
 * notifications. Listens to "inbox:event" from live.js; opens no socket itself.
 * Rendering stays on the server: rows and messages are fetched as HTML partials.
 */
(function () {
  "use strict";
  var body = document.body;
  var list = document.getElementById("conversation-list");
  var thread = document.getElementById("thread");
  var scroller = document.getElementById("thread-scroll");
  var filterQuery = body.dataset.filterQuery || "";
  var currentId = body.dataset.conversationId ? Number(body.dataset.conversationId) : null;
  var userId = Number(body.dataset.userId);
  var baseTitle = document.title;
  var hiddenNew = 0;

  function urlFor(template, id) { return template.replace("/0/", "/" + Number(id) + "/"); }

  function fetchHTML(url) {
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true", "X-Requested-With": "fetch" } })
      .then(function (r) {
        if (r.status === 204 || r.status === 404) return null;
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      });
  }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content;
  }

  function process(node) { if (window.htmx && node) window.htmx.process(node); }

  // --- The list --------------------------------------------------------------------

  function rows() { return list ? Array.prototype.slice.call(list.querySelectorAll("li.conversation-row")) : []; }

  function updateTitle() {
    var unread = 0;
    rows().forEach(function (row) { unread += Number(row.dataset.unread || 0); });
    unread = Math.max(unread, hiddenNew);
    document.title = unread ? "(" + unread + ") " + baseTitle : baseTitle;
  }

  function placeRow(row) {
    // In another order than "newest" (oldest, waiting longest, priority) a row that is
    // shown stays where it is, and a new one goes last (or with a later page).
    var sort = list.dataset.sort || "newest";
    if (sort !== "newest") {
      if (row.parentNode === list) return;
      var last = list.querySelector("[data-load-more]");
      if (!last) list.appendChild(row);
      var none = list.querySelector("[data-empty]");
      if (none && !last) none.remove();
      return;
    }
    // Sorted by last activity, newest first; a row with no activity goes last.
    var activity = row.dataset.activity || "";
    var before = null;
    rows().some(function (other) {
      if (other === row) return false;
      var a = other.dataset.activity || "";
      if (activity && (!a || a < activity || (a === activity && Number(other.dataset.conversationId) < Number(row.dataset.conversationId)))) {
        before = other;
        return true;
      }
      return false;
    });
    var more = list.querySelector("[data-load-more]");
    if (!before && more) {
      // Older than everything shown and more pages exist: the row comes with a later page.
      if (row.parentNode) row.remove();
      return;
    }
    list.insertBefore(row, before || more || null);
    var empty = list.querySelector("[data-empty]");
    if (empty) empty.remove();
  }

  var pendingRows = {};
  function refreshRow(id) {
    // Resolves once the row shows the conversation as it is now (or is gone).
    if (!list || !id) return Promise.resolve();
    if (pendingRows[id]) { pendingRows[id].again = true; return pendingRows[id].promise; }
    var entry = { again: false };
    pendingRows[id] = entry;
    var url = urlFor(body.dataset.rowUrl, id) + "?" + filterQuery;
    entry.promise = fetchHTML(url).then(function (html) {
      var existing = document.getElementById("row-" + id);
      if (!html) {
        if (existing) existing.remove();  // no longer in this view (or no longer ours)
      } else {
        var row = fragment(html).firstElementChild;
        if (id === currentId) row.classList.add("current");
        if (existing) existing.replaceWith(row);
        placeRow(row);
      }
      updateTitle();
    }).catch(function () {}).then(function () {
      delete pendingRows[id];
      if (entry.again) return refreshRow(id);
    });
    return entry.promise;
  }

  function loadMore(link) {
    if (!link || link.dataset.loading) return;
    link.dataset.loading = "1";
    fetchHTML(link.getAttribute("href")).then(function (html) {
      var item = link.closest("[data-load-more]");
      var content = fragment(html || "");
      content.querySelectorAll("li.conversation-row").forEach(function (row) {
        var existing = document.getElementById(row.id);
        if (existing) existing.remove();
      });
      item.replaceWith(content);
      observeMore();
    }).catch(function () { delete link.dataset.loading; });
  }

  var moreObserver = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) loadMore(e.target.querySelector("a")); });
  }, { root: list, rootMargin: "200px" }) : null;

  function observeMore() {
    if (!list || !moreObserver) return;
    var more = list.querySelector("[data-load-more]");
    if (more) moreObserver.observe(more);
  }

  if (list) {
    list.addEventListener("click", function (event) {
      var link = event.target.closest("[data-load-more] a");
      if (link) { event.preventDefault(); loadMore(link); }
    });
    observeMore();
  }

  // --- The thread ------------------------------------------------------------------

  // The thread opens at the newest message and stays there while the agent has not
  // scrolled away ("pinned"): whatever grows afterwards (an image getting its size, a
  // video's poster, a message arriving) scrolls it back down. Scrolled up, new messages
  // are counted and a button jumps to the newest.
  var PINNED_WITHIN = 80;  // px from the bottom that still count as "at the newest"
  var pinned = true;
  var pinnedTop = 0;  // where the thread was last at the newest: only scrolling above it unpins
  var unseen = 0;
  var jump = document.querySelector("[data-jump-newest]");

  function nearBottom() {
    return !scroller || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < PINNED_WITHIN;
  }

  function showJump() {
    if (!jump) return;
    jump.hidden = pinned;
    var label = unseen ? jump.dataset.labelNew : jump.dataset.labelJump;
    jump.querySelector("[data-jump-label]").textContent = label;
    jump.classList.toggle("has-new", unseen > 0);
  }

  function scrollToBottom() {
    if (scroller) {
      scroller.scrollTop = scroller.scrollHeight;
      pinnedTop = scroller.scrollTop;
    }
    pinned = true;
    unseen = 0;
    showJump();
  }

  if (scroller) {
    scroller.addEventListener("scroll", function () {
      // The scroll event of our own scroll may come after the thread grew again (an
      // image got its size meanwhile): away from the bottom, but not scrolled up, it
      // stays pinned and the ResizeObserver follows. The agent scrolling up unpins it.
      if (nearBottom()) {
        pinned = true;
        pinnedTop = scroller.scrollTop;
        unseen = 0;
      } else if (scroller.scrollTop < pinnedTop - 2) {
        pinned = false;
      }
      showJump();
    }, { passive: true });
    if ("ResizeObserver" in window && thread) {
      new ResizeObserver(function () { if (pinned) scrollToBottom(); }).observe(thread);
    }
    // Before ResizeObserver reports it, a loaded image may already have been painted.
    scroller.addEventListener("load", function () { if (pinned) scrollToBottom(); }, true);
  }
  if (jump) jump.addEventListener("click", function () { scrollToBottom(); });

  // The list's order applies as soon as it is chosen (the form's button is for pages without scripts).
  document.querySelectorAll("[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // The agent's own message: WhatsApp takes them to it.
  document.addEventListener("composer:sent", function () { pinned = true; });

  function lastDay() {
    var items = thread.querySelectorAll("[data-day]");
    return items.length ? items[items.length - 1].dataset.day : null;
  }

  function insertThreadItem(node) {
    var stick = pinned;
    var empty = thread.querySelector(".thread-empty");
    if (empty) empty.remove();
    var day = node.dataset.day;
    if (day && day !== lastDay()) {
      var sep = document.createElement("li");
      sep.className = "day-separator";
      sep.dataset.day = day;
      var span = document.createElement("span");
      span.textContent = node.dataset.dayLabel || day;
      sep.appendChild(span);
      thread.appendChild(sep);
    }
    thread.appendChild(node);
    process(node);
    if (stick) scrollToBottom();
    else if (node.dataset.messageId) { unseen += 1; showJump(); }
  }

  var pendingMessages = {};
  function refreshMessage(id, isNew) {
    if (pendingMessages[id]) { pendingMessages[id].again = true; return; }
    pendingMessages[id] = { again: false };
    fetchHTML(urlFor(body.dataset.messageUrl, id)).then(function (html) {
      if (!html) {  // no longer shown in the thread (or no longer visible to this agent)
        var gone = document.getElementById("m" + id);
        if (gone) gone.remove();
        return;
      }
      var node = fragment(html).firstElementChild;
      var existing = document.getElementById("m" + id);
      if (existing) { existing.replaceWith(node); process(node); }
      else if (isNew) insertThreadItem(node);
    }).catch(function () {}).then(function () {
      var again = pendingMessages[id] && pendingMessages[id].again;
      delete pendingMessages[id];
      if (again) refreshMessage(id, false);
    });
  }

  // The thread's title (name, status, window) follows the conversation and its contact.
  var titleTimer = null;
  function refreshTitle() {
    if (!currentId || !document.getElementById("thread-title")) return;
    clearTimeout(titleTimer);  // a burst of events (a batch) fetches it once
    titleTimer = setTimeout(function () {
      fetchHTML(urlFor(body.dataset.titleUrl, currentId)).then(function (html) {
        var existing = document.getElementById("thread-title");
        if (!html || !existing) return;
        var node = fragment(html).firstElementChild;
        existing.replaceWith(node);
        baseTitle = node.dataset.pageTitle || baseTitle;
        updateTitle();
      }).catch(function () {});
    }, 100);
  }

  function currentContactId() {
    var title = document.getElementById("thread-title");
    return title ? Number(title.dataset.contactId) : null;
  }

  function insertNote(id) {
    if (document.getElementById("n" + id)) return;
    fetchHTML(urlFor(body.dataset.noteUrl, id)).then(function (html) {
      if (!html || document.getElementById("n" + id)) return;
      insertThreadItem(fragment(html).firstElementChild);
    }).catch(function () {});
  }

  function loadOlder(link) {
    if (!link || link.dataset.loading) return;
    link.dataset.loading = "1";
    fetchHTML(link.getAttribute("href")).then(function (html) {
      var item = link.closest("[data-load-older]");
      var height = scroller.scrollHeight;
      var content = fragment(html || "");
      // The first day separator of the current page repeats when the older page ends that day.
      var firstSep = item.nextElementSibling;
      var seps = content.querySelectorAll(".day-separator");
      var lastNewSep = seps.length ? seps[seps.length - 1] : null;
      if (firstSep && firstSep.classList.contains("day-separator") && lastNewSep && lastNewSep.dataset.day === firstSep.dataset.day) firstSep.remove();
      content.querySelectorAll("[data-message-id],[data-note-id]").forEach(function (n) {
        if (n.id && document.getElementById(n.id)) n.remove();
      });
      item.replaceWith(content);
      process(thread);
      scroller.scrollTop += scroller.scrollHeight - height;  // keep what the agent was reading in place
      observeOlder();
    }).catch(function () { delete link.dataset.loading; });
  }

  var olderObserver = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) loadOlder(e.target.querySelector("a")); });
  }, { root: scroller, rootMargin: "150px" }) : null;

  function observeOlder() {
    if (!thread || !olderObserver) return;
    var older = thread.querySelector("[data-load-older]");
    if (older) olderObserver.observe(older);
  }

  if (thread) {
    thread.addEventListener("click", function (event) {
      var link = event.target.closest("[data-load-older] a");
      if (link) { event.preventDefault(); loadOlder(link); }
    });
    scrollToBottom();
    observeOlder();
  }

  // --- Notifications ----------------------------------------------------------------

  var notifyButton = document.getElementById("notify-button");
  if (notifyButton && "Notification" in window && Notification.permission === "default") {
    notifyButton.hidden = false;
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function () { notifyButton.hidden = true; });
    });
  }

  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.3);
    } catch (e) { /* no audio: the notification is enough */ }
  }

  function isMine(conversationId) {
    // The agent's conversations: assigned to them, or unassigned ones they may take.
    var row = document.getElementById("row-" + conversationId);
    if (!row) return true;  // the socket only carries conversations the user may see
    var assignee = row.dataset.assignee;
    return !assignee || Number(assignee) === userId;
  }

  var readTimer = null;
  function markCurrentRead() {
    // A customer message in the conversation the agent is looking at is read at once.
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      var token = document.querySelector("input[name=csrfmiddlewaretoken]");
      fetch(urlFor(body.dataset.readUrl, currentId), {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "" },
      }).catch(function () {});
    }, 300);
  }

  function notifyCustomerMessage(data) {
    if (!document.hidden || data.direction !== "in" || !isMine(data.conversation_id)) return;
    hiddenNew += 1;
    updateTitle();
    beep();
    var row = document.getElementById("row-" + data.conversation_id);
    var name = row ? row.querySelector(".row-name").textContent : "";
    desktopNotification(name, data.text, "conversation-" + data.conversation_id, data.conversation_id);
  }

  function conversationUrl(id) { return urlFor(body.dataset.rowUrl, id).replace(/row\/$/, ""); }

  function desktopNotification(title, text, tag, conversationId) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(title || document.title, { body: text || "", tag: tag });
      n.onclick = function () { window.focus(); window.location.href = conversationUrl(conversationId); };
    } catch (e) { /* some browsers only notify from a service worker */ }
  }

  // --- Mentions: the count on the Mentions view, a notification for each new one -------
  // The server sends the count with each mention and each reading: set, never added to,
  // so an event replayed by a catch-up counts nothing twice.

  var mentionsBadge = document.querySelector("[data-mentions-badge]");

  function setMentions(count) {
    if (!mentionsBadge) return;
    count = Math.max(0, count);
    mentionsBadge.querySelector("[data-mentions-count]").textContent = String(count);
    mentionsBadge.hidden = count === 0;
  }

  function notifyMention(data) {
    refreshRow(data.conversation_id);
    if (data.conversation_id === currentId && !document.hidden) {
      markCurrentRead();  // read at once: the agent is looking at it
      return;
    }
    if (typeof data.unread_mentions === "number") setMentions(data.unread_mentions);
    if (document.hidden) { hiddenNew += 1; updateTitle(); }
    beep();
    var title = (body.dataset.i18nMentioned || "%(name)s").replace("%(name)s", data.author_name || "");
    desktopNotification(title, data.body, "mention-" + data.id, data.conversation_id);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      hiddenNew = 0;
      updateTitle();
      var current = currentId && document.getElementById("row-" + currentId);
      if (current && Number(current.dataset.unread) > 0) markCurrentRead();
    }
  });

  // --- Live events ------------------------------------------------------------------

  var reloadScheduled = false;
  document.addEventListener("inbox:event", function (event) {
    var frame = event.detail || {};
    var data = frame.data || {};
    switch (frame.event) {
      case "conversation.created":
      case "conversation.updated":
        refreshRow(data.id);
        if (data.id === currentId && !data.removed) refreshTitle();
        break;
      case "contact.updated":
        // A renamed contact: every row of theirs, and the title when it is the open one.
        rows().forEach(function (row) {
          if (Number(row.dataset.contactId) === data.id) refreshRow(Number(row.dataset.conversationId));
        });
        if (currentContactId() === data.id) refreshTitle();
        break;
      case "message.created":
        refreshRow(data.conversation_id).then(function () { notifyCustomerMessage(data); });
        if (thread && data.conversation_id === currentId) {
          refreshMessage(data.id, true);
          if (data.direction === "in" && !document.hidden) markCurrentRead();
        }
        break;
      case "message.updated":
        // A reaction of the business enters the thread when it fails (it is shown under
        // its message otherwise): the partial answers 204 for the ones the thread leaves out.
        if (thread && data.conversation_id === currentId) refreshMessage(data.id, data.type === "reaction");
        break;
      case "note.created":
        if (data.mentioned && (data.mentions || []).indexOf(userId) !== -1) notifyMention(data);
        if (thread && data.conversation_id === currentId) insertNote(data.id);
        break;
      case "mentions.read":
        setMentions(data.unread_mentions);
        refreshRow(data.conversation_id);
        break;
      case "typing":
        if (data.conversation_id === currentId && data.user_id !== userId) showTyping(data);
        break;
      case "catch_up.reset":
        // The server no longer has the gap: reload list and thread over HTTP.
        if (!reloadScheduled) { reloadScheduled = true; window.location.reload(); }
        break;
    }
  });

  var typingTimer = null;
  function showTyping(data) {
    var el = document.getElementById("typing");
    if (!el) return;
    el.textContent = (data.name || "") + " …";
    el.classList.add("visible");
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { el.textContent = ""; el.classList.remove("visible"); }, 6000);
  }

  // --- Keyboard shortcuts -----------------------------------------------------------

  var help = document.getElementById("shortcut-help");
  function openHelp() { if (help && !help.open) help.showModal(); }
  document.querySelectorAll("[data-shortcut-help]").forEach(function (b) { b.addEventListener("click", openHelp); });

  function typingInField(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.findIndex(function (r) { return r.classList.contains("current") || r.contains(document.activeElement); });
    var next = all[Math.max(0, Math.min(all.length - 1, index + step))];
    if (index === -1) next = all[0];
    var link = next.querySelector("a");
    if (link) window.location.href = link.href;
  }

  function shortcut(action) {
    // Other modules (the composer's actions) hook on this event or on [data-shortcut].
    var event = new CustomEvent("inbox:shortcut", { detail: { action: action }, cancelable: true });
    if (!document.dispatchEvent(event)) return;
    var target = document.querySelector('[data-shortcut="' + action + '"]');
    if (target) {
      if (/^(INPUT|TEXTAREA)$/.test(target.tagName)) target.focus(); else target.click();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typingInField(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "/": {
        var search = document.getElementById("search-input");
        if (search) { event.preventDefault(); search.focus(); search.select(); }
        break;
      }
      case "?": event.preventDefault(); openHelp(); break;
      case "e": shortcut("resolve"); break;
      case "r": event.preventDefault(); shortcut("reply"); break;
      case "u": shortcut("back"); break;
      default: return;
    }
  });

  // --- Narrow screens: the side panel opens over the thread --------------------------
  //
  // Below the desktop width the panel is an overlay: its own close button, Escape and a
  // tap on the backdrop close it, and the focus goes back to the button that opened it.

  var panelToggle = document.querySelector("[data-panel-toggle]");
  var panel = document.getElementById("side-panel");
  var backdrop = document.querySelector("[data-panel-backdrop]");

  function panelIsOverlay() { return panelToggle && panelToggle.offsetParent !== null; }

  function setPanel(open) {
    if (!panelToggle || !panel) return;
    body.classList.toggle("panel-open", open);
    panelToggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (backdrop) backdrop.hidden = !open;
    if (open) {
      var close = panel.querySelector("[data-panel-close]");
      if (close) close.focus();
    } else {
      panelToggle.focus();
    }
  }

  if (panelToggle && panel) {
    panelToggle.addEventListener("click", function () { setPanel(!body.classList.contains("panel-open")); });
    panel.querySelector("[data-panel-close]").addEventListener("click", function () { setPanel(false); });
    if (backdrop) backdrop.addEventListener("click", function () { setPanel(false); });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !body.classList.contains("panel-open") || !panelIsOverlay()) return;
      // A suggestion list or a popup inside the panel closes first (their own Escape).
      if (event.defaultPrevented) return;
      event.preventDefault();
      setPanel(false);
    });
  }

  updateTitle();
})();
