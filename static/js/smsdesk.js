// smsdesk: small progressive enhancements. Every page works without them.
(function () {
  "use strict";

  // Copy buttons: <button class="copy" data-copy="text">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    var text = button.getAttribute("data-copy");
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
