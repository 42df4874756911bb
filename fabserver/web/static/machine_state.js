// Staff pages: ask each machine how it is, after the page has loaded (never blocks it):
// its state, the job's progress and time left (ours beside the host's), its own words.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "fr";
  var QUIET = { idle: true, printing: true };  // the label says it all
  function words(text) { return text ? text[lang] || text.fr : ""; }
  document.querySelectorAll(".machine-state[data-status-url]").forEach(function (badge) {
    fetch(badge.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s || !s.state) { badge.textContent = ""; return; }
        var parts = [words(s.label) || s.state];
        if (s.progress !== null && s.progress !== undefined) parts.push(Math.round(s.progress * 100) + " %");
        if (s.remaining_text) parts.push(words(s.remaining_text));
        var detail = badge.parentNode.querySelector(".machine-message");
        if (s.message && !QUIET[s.state]) {
          if (detail) detail.textContent = words(s.message); else parts.push(words(s.message));
        }
        badge.textContent = parts.join(" · ");
        badge.title = words(s.message);
        badge.dataset.state = s.state;
        badge.className = "machine-state tag state-" + s.state;
      })
      .catch(function () {});
  });
})();
