// Staff queue: ask each machine how it is, after the page has loaded (never blocks it).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "fr";
  document.querySelectorAll(".machine-state[data-status-url]").forEach(function (badge) {
    fetch(badge.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s || !s.state) return;
        var text = s.message ? s.message[lang] || s.message.fr : s.state;
        if (s.progress !== null && s.progress !== undefined) text += " · " + Math.round(s.progress * 100) + " %";
        badge.textContent = text;
        badge.className = "machine-state tag state-" + s.state;
      })
      .catch(function () {});
  });
})();
