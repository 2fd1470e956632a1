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

  // Countdowns: <span class="countdown" data-until="ISO time" data-done="text">.
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function format(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
    var m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + pad(m) + "m";
    return m + ":" + pad(s);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-until")) - now) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) {
        el.textContent = el.getAttribute("data-done") || "0:00";
        el.classList.remove("soon");
        return;
      }
      var prefix = el.getAttribute("data-prefix") || "";
      el.textContent = prefix + format(left);
      el.classList.toggle("soon", left < 120 && !el.hasAttribute("data-calm"));
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);

  // Code arrival: rows carry data-code-arrived; notify once per order when enabled.
  var seen = new Set();
  function announce(root) {
    (root || document).querySelectorAll("[data-code-arrived]").forEach(function (el) {
      var key = el.getAttribute("data-code-arrived");
      if (seen.has(key)) return;
      var first = seen.size === 0 && !document.body.dataset.announced;
      seen.add(key);
      if (first || localStorage.getItem("smsdesk-notify") !== "on") return;
      if ("Notification" in window && Notification.permission === "granted") {
        new Notification("Code received", { body: el.getAttribute("data-code-summary") || "" });
      }
      try {
        var ctx = new (window.AudioContext || window.webkitAudioContext)();
        var osc = ctx.createOscillator();
        osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.15);
      } catch (e) { /* sound is optional */ }
    });
    document.body.dataset.announced = "1";
  }
  document.addEventListener("DOMContentLoaded", function () { announce(); });
  document.addEventListener("htmx:afterSettle", function (e) { announce(e.target); });

  // Notification toggle: <button data-notify-toggle>.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-notify-toggle]");
    if (!toggle) return;
    var on = localStorage.getItem("smsdesk-notify") === "on";
    if (!on && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
    localStorage.setItem("smsdesk-notify", on ? "off" : "on");
    toggle.textContent = on ? "Alerts off" : "Alerts on";
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-notify-toggle]").forEach(function (t) {
      t.textContent = localStorage.getItem("smsdesk-notify") === "on" ? "Alerts on" : "Alerts off";
    });
  });
})();

// Order form: show only the options the selected offer's provider supports,
// and never send the same form twice from a double click.
(function () {
  "use strict";
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
    if (e.target.name === "offer") syncOptions();
  });
  document.addEventListener("htmx:afterSettle", syncOptions);
  document.addEventListener("DOMContentLoaded", syncOptions);
  document.addEventListener("submit", function (e) {
    var button = e.target.querySelector("[data-disable-on-submit]");
    if (!button || e.submitter !== button) return;
    setTimeout(function () { button.disabled = true; button.textContent = "Ordering…"; }, 0);
  });
})();
