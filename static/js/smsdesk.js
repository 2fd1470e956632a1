// smsdesk: small progressive enhancements. Every page works without them.
(function () {
  "use strict";

  // Copy buttons: <button class="copy" data-copy="text">, or data-copy-from="id" for
  // the text of the element with that id (a block of example code).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    event.preventDefault();
    var source = button.hasAttribute("data-copy-from") && document.getElementById(button.getAttribute("data-copy-from"));
    var text = source ? source.textContent : button.getAttribute("data-copy");
    var done = function () {
      var label = button.textContent;
      button.classList.add("copied");
      button.textContent = "Copied";
      setTimeout(function () { button.classList.remove("copied"); button.textContent = label; }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    }
  });

  // Polls only while the page is visible: htmx requests of elements marked
  // data-poll-visible are skipped while the tab is hidden. (An htmx trigger
  // filter such as [document.visibilityState === 'visible'] would need eval,
  // which the Content-Security-Policy forbids.)
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (document.visibilityState !== "visible" && elt && elt.hasAttribute("data-poll-visible")) {
      event.preventDefault();
    }
  });

  // Auto-submit forms marked data-autosubmit when a field changes (team switcher, filters).
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (form) form.requestSubmit ? form.requestSubmit() : form.submit();
  });

  // Countdowns: <span data-until="ISO time" data-done="text" data-prefix="in "
  // data-suffix=" left">. Durations read as durations ("19 min left"), never as a
  // clock time ("19:28"); seconds show only in the last minutes.
  function format(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
    var m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    if (d > 0) return d + (d === 1 ? " day " : " days ") + h + " h";
    if (h > 0) return h + " h " + m + " min";
    if (m >= 10) return m + " min";
    if (m > 0) return m + " min " + s + " s";
    return s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-until")) - now) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) {
        el.textContent = el.getAttribute("data-done") || "now";
        el.classList.remove("soon");
        return;
      }
      var prefix = el.getAttribute("data-prefix") || "";
      el.textContent = prefix + format(left) + (el.getAttribute("data-suffix") || "");
      el.classList.toggle("soon", left < 120 && !el.hasAttribute("data-calm"));
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);

  // Code arrival: rows carry data-code-arrived="<order>:<code>". Alerts (when on)
  // are for codes that arrive while the page is open: whatever the page showed
  // when it opened is known already, however many codes that is.
  var seen = null;
  function alertsOn() { return localStorage.getItem("smsdesk-notify") === "on"; }
  function announce(root) {
    var rows = (root || document).querySelectorAll("[data-code-arrived]");
    var opening = seen === null;
    if (opening) seen = new Set();
    rows.forEach(function (el) {
      var key = el.getAttribute("data-code-arrived");
      if (seen.has(key)) return;
      seen.add(key);
      if (!opening && alertsOn()) notifyArrival(el.getAttribute("data-code-summary") || "");
    });
  }
  function notifyArrival(summary) {
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification("Code received", { body: summary });
    }
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator();
      osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.15);
    } catch (e) { /* sound is optional */ }
  }
  document.addEventListener("DOMContentLoaded", function () { announce(); });
  document.addEventListener("htmx:afterSettle", function (e) { announce(e.target); });

  // A scheduled cancel dropped because a code arrived: its "smsdesk will cancel it
  // then" notice (tagged cancel-<order>) no longer holds, so it goes.
  function dropStaleNotices(root) {
    (root || document).querySelectorAll("[data-cancel-dropped]").forEach(function (el) {
      var code = el.getAttribute("data-cancel-dropped");
      document.querySelectorAll("#flash li.cancel-" + code).forEach(function (li) {
        var list = li.parentNode;
        li.remove();
        if (list && !list.children.length) list.remove();
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { dropStaleNotices(); });
  document.addEventListener("htmx:afterSettle", function (e) { dropStaleNotices(e.target); });

  // Alerts toggle: <button data-notify-toggle aria-pressed>. Shows its state in
  // words, in aria-pressed (styled), and says when the browser blocks notifications.
  function showToggle(toggle) {
    var on = alertsOn();
    var blocked = "Notification" in window && Notification.permission === "denied";
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? (blocked ? "Alerts on (sound only)" : "Alerts on") : "Alerts off";
    toggle.title = on
      ? "A notification and a beep for each code that arrives while this page is open. Click to turn off."
      : "Click for a notification and a beep when a code arrives while this page is open.";
  }
  function showToggles() { document.querySelectorAll("[data-notify-toggle]").forEach(showToggle); }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-notify-toggle]");
    if (!toggle) return;
    var on = alertsOn();
    localStorage.setItem("smsdesk-notify", on ? "off" : "on");
    if (!on && "Notification" in window && Notification.permission === "default") {
      var asked = Notification.requestPermission();
      if (asked && asked.then) asked.then(showToggles, showToggles);
    }
    showToggles();
  });
  document.addEventListener("DOMContentLoaded", showToggles);
  window.addEventListener("storage", function (e) { if (e.key === "smsdesk-notify") showToggles(); });
})();

// The phone menu (a disclosure button in the top bar), keyboard shortcuts ("n" new
// order, "c" copy the latest code, "?" the list of them), and the order form's
// favourite and recent picks. None fires while the member types in a field.
(function () {
  "use strict";
  function topbar() { return document.querySelector("[data-topbar]"); }
  function menuToggle() { return document.querySelector("[data-menu-toggle]"); }
  function setMenu(open, focusToggle) {
    var bar = topbar(), toggle = menuToggle();
    if (!bar || !toggle) return;
    bar.classList.toggle("menu-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open && focusToggle) toggle.focus();
  }
  function menuOpen() { var bar = topbar(); return !!bar && bar.classList.contains("menu-open"); }
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest("[data-menu-toggle]");
    if (toggle) { setMenu(toggle.getAttribute("aria-expanded") !== "true"); return; }
    if (menuOpen() && !e.target.closest("[data-topbar]")) setMenu(false);
  });
  // Tabbing out of the open menu closes it, as a click elsewhere does.
  document.addEventListener("focusin", function (e) {
    if (menuOpen() && !e.target.closest("[data-topbar]")) setMenu(false);
  });

  // Codes on the page, newest known first: one that arrived while the page is open,
  // else the one with the latest data-code-at, else the first shown (boards and
  // detail pages list the newest first).
  var arrivals = null, latestArrival = null;
  function noteArrivals() {
    var keys = new Set();
    document.querySelectorAll("[data-code-arrived]").forEach(function (el) {
      var key = el.getAttribute("data-code-arrived");
      keys.add(key);
      if (arrivals !== null && !arrivals.has(key)) latestArrival = key;
    });
    arrivals = keys;
  }
  document.addEventListener("DOMContentLoaded", noteArrivals);
  document.addEventListener("htmx:afterSettle", noteArrivals);

  // A code shown with its copy button: <span class="code-value">X</span> <button data-copy="X">.
  function codeOf(el) {
    var text = el.textContent.trim();
    var scope = el.parentNode;
    var button = scope && Array.prototype.find.call(scope.querySelectorAll("[data-copy]"), function (b) {
      return b.getAttribute("data-copy") === text;
    });
    return text && button ? { text: text, button: button } : null;
  }
  function latestCode() {
    var row = latestArrival && document.querySelector('[data-code-arrived="' + CSS.escape(latestArrival) + '"]');
    var found = row && row.querySelector(".code-value") && codeOf(row.querySelector(".code-value"));
    if (found) return found;
    var dated = Array.prototype.slice.call(document.querySelectorAll("[data-code-at] .code-value, .code-value[data-code-at]"));
    dated.sort(function (a, b) {
      var at = function (el) { var d = el.closest("[data-code-at]"); return d ? d.getAttribute("data-code-at") : ""; };
      return at(b) < at(a) ? -1 : at(b) > at(a) ? 1 : 0;
    });
    var all = dated.concat(Array.prototype.slice.call(document.querySelectorAll("main .code-value")));
    for (var i = 0; i < all.length; i++) {
      found = codeOf(all[i]);
      if (found) return found;
    }
    return null;
  }

  var statusTimer = null;
  function say(text) {
    var status = document.querySelector("[data-shortcut-status]");
    if (!status) return;
    status.textContent = text;
    status.hidden = false;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(function () { status.hidden = true; }, 2500);
  }
  function openHelp() {
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && !dialog.open) {
      setMenu(false);
      dialog.showModal();
    }
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-shortcuts-open]")) openHelp();
  });

  function typing(target) {
    return !!(target && target.closest && (target.closest("input, textarea, select, [contenteditable]") || target.isContentEditable));
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && menuOpen()) { setMenu(false, true); return; }
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing || typing(e.target)) return;
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && dialog.open) return;
    if (e.key === "n") {
      var url = document.body.getAttribute("data-new-order-url");
      if (!url) return;
      e.preventDefault();
      location.assign(url);
    } else if (e.key === "c") {
      var code = latestCode();
      e.preventDefault();
      if (!code) { say("No code on this page yet."); return; }
      code.button.click();
      say("Copied code " + code.text);
    } else if (e.key === "?") {
      e.preventDefault();
      openHelp();
    }
  });
})();

// Order form: show only the options the selected offer's provider supports,
// keep the member's pick when the offers table is fetched again, and never send
// the same form twice from a double click.
(function () {
  "use strict";
  // The offer the member picked last. A table fetched by a request sent before the
  // pick (leaving the Country field by clicking a radio sends one) comes back with
  // the old choice checked: the pick is put back, and the confirmation re-read.
  var picked = null;
  function restorePick(event) {
    var offers = document.getElementById("offers");
    if (!picked || !offers || event.detail.target !== offers) return;
    var radios = offers.querySelectorAll("input[name=offer]");
    var radio = Array.prototype.find.call(radios, function (r) { return r.value === picked; });
    if (radio && !radio.checked) {
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
  function syncOptions() {
    var form = document.getElementById("order-form");
    if (!form) return;
    var picked = form.querySelector("input[name=offer]:checked");
    var caps = picked && picked.dataset.capabilities;
    form.querySelectorAll("[data-needs]").forEach(function (el) {
      el.hidden = !!caps && caps.split(" ").indexOf(el.dataset.needs) === -1;
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target.name !== "offer") return;
    if (e.isTrusted) picked = e.target.value;
    syncOptions();
  });
  document.addEventListener("htmx:afterSettle", restorePick);
  document.addEventListener("htmx:afterSettle", syncOptions);
  document.addEventListener("DOMContentLoaded", syncOptions);
  document.addEventListener("submit", function (e) {
    var button = e.target.querySelector("[data-disable-on-submit]");
    if (!button || e.submitter !== button) return;
    setTimeout(function () { button.disabled = true; button.textContent = "Ordering…"; }, 0);
  });
})();

// The live board (orders/board.py): it polls with the version it shows; the answer
// holds only the rows that changed, entered or left, which are swapped, placed by
// their sort key, or removed here. The member's selection of rows survives it.
(function () {
  "use strict";
  var selected = new Set();
  function board() { return document.getElementById("board"); }

  // The poll carries the version the board shows now, not the one it loaded with.
  document.addEventListener("htmx:configRequest", function (e) {
    var el = board();
    if (!el || e.detail.elt.id !== "board-poll") return;
    var url = new URL(e.detail.path, location.href);
    url.searchParams.set("v", el.getAttribute("data-version"));
    e.detail.path = url.pathname + url.search;
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.target || e.target.id !== "board-poll") return;
    e.detail.shouldSwap = false;
    if (e.detail.xhr.status === 200) apply(e.detail.xhr.responseText);
  });

  function apply(text) {
    var holder = document.createElement("template");
    holder.innerHTML = text;
    var changes = holder.content.querySelector("template[data-board-changes]");
    var el = board();
    if (!changes) {  // the whole board
      var fresh = holder.content.querySelector("#board");
      if (!fresh || !el) return;
      el.replaceWith(fresh);
      htmx.process(fresh);
      fresh.querySelectorAll("[data-bulk-select]").forEach(keep);
      refresh(fresh, null);
      return;
    }
    var tbody = document.getElementById("board-rows");
    var hiddenBefore = hiddenCount(el);
    (changes.getAttribute("data-remove") || "").split(" ").forEach(function (code) {
      var row = code && document.getElementById("order-" + code);
      if (row) row.remove();
      selected.delete(code);
    });
    Array.prototype.slice.call(changes.content.querySelectorAll("tr.order-row")).forEach(function (row) {
      var old = document.getElementById(row.id);
      if (old) old.replaceWith(row);
      else if (!place(tbody, row, hiddenBefore)) return;
      htmx.process(row);
      row.querySelectorAll("[data-bulk-select]").forEach(keep);
    });
    el.setAttribute("data-version", changes.getAttribute("data-version"));
    var total = changes.getAttribute("data-total");  // absent: the same rows as before
    if (total !== null) set(el, "[data-board-total]", changes.getAttribute("data-total-text"));
    refresh(el, total);
  }

  // A row that enters the board goes where it sorts; past the last shown row only
  // when no row is hidden beyond it (the board shows its first rows only).
  function place(tbody, row, hidden) {
    var key = row.getAttribute("data-sort-key") || "";
    var rows = tbody.children;
    for (var i = 0; i < rows.length; i++) {
      var other = rows[i].getAttribute("data-sort-key");
      if (other && key < other) { tbody.insertBefore(row, rows[i]); return true; }
    }
    if (hidden > 0) return false;
    tbody.appendChild(row);
    return true;
  }
  function hiddenCount(el) {
    var hidden = el && el.querySelector("[data-board-hidden]");
    return hidden ? parseInt(hidden.textContent, 10) || 0 : 0;
  }

  // Counts, the empty state, the selection; then the page's usual after-swap work
  // (countdowns, code alerts, stale notices) on the rows.
  function refresh(el, total) {
    var tbody = el.querySelector("#board-rows");
    var shown = tbody ? tbody.children.length : 0;
    if (total !== null) {
      var hidden = Math.max(0, parseInt(total, 10) - shown);
      set(el, "[data-board-shown]", shown);
      set(el, "[data-board-hidden]", hidden);
      var note = el.querySelector("[data-board-hidden-note]");
      if (note) note.hidden = hidden === 0;
    }
    var table = el.querySelector("[data-board-table]");
    var empty = el.querySelector("[data-board-empty]");
    if (table) table.hidden = shown === 0;
    if (empty) empty.hidden = shown > 0;
    showSelection();
    var target = tbody || el;
    target.dispatchEvent(new CustomEvent("htmx:afterSettle", { bubbles: true, detail: { elt: target, target: target } }));
  }
  function set(el, selector, value) {
    var node = el.querySelector(selector);
    if (node) node.textContent = value;
  }

  function keep(box) { box.checked = selected.has(box.value); }
  function showSelection() {
    var boxes = document.querySelectorAll("#board-rows [data-bulk-select]");
    var count = document.querySelector("[data-bulk-count]");
    var all = document.querySelector("[data-select-all]");
    var n = 0;
    boxes.forEach(function (box) { if (box.checked) n++; });
    if (count) count.textContent = n ? n + " selected" : "Select rows to act on several at once.";
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  }
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (box.matches("[data-bulk-select]")) {
      if (box.checked) selected.add(box.value); else selected.delete(box.value);
    } else if (box.matches("[data-select-all]")) {
      document.querySelectorAll("#board-rows [data-bulk-select]").forEach(function (row) {
        row.checked = box.checked;
        if (box.checked) selected.add(row.value); else selected.delete(row.value);
      });
    } else {
      return;
    }
    showSelection();
  });
  // A row swapped by its own button (Cancel, Done…) keeps its tick too, and its sort
  // key (that answer does not know the board's sort).
  var sortKeys = {};
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (target && target.classList && target.classList.contains("order-row")) {
      sortKeys[target.id] = target.getAttribute("data-sort-key");
    }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    var row = e.target && e.target.id && document.getElementById(e.target.id);
    if (row && row.classList && row.classList.contains("order-row")) {
      if (!row.getAttribute("data-sort-key") && sortKeys[row.id]) {
        row.setAttribute("data-sort-key", sortKeys[row.id]);
      }
      row.querySelectorAll("[data-bulk-select]").forEach(keep);
      showSelection();
    }
  });
})();
