// Live progress while planning (polling the JSON endpoint) and the layer slider for prints.
// Without it the page refreshes itself while planning (a <noscript> meta refresh).
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (box) {
    var state = box.dataset.state;
    var bar = document.getElementById("progress");
    var stage = document.getElementById("stage");
    var delay = 800;
    var poll = function () {
      fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          if (s.state !== state) { window.location.reload(); return; }
          if (bar) { bar.value = s.progress; }
          // The figure is read aloud (aria-live): in steps of 10 %, not at every poll.
          var step = Math.floor(s.progress * 10) * 10 + " %";
          if (stage && stage.textContent !== step) { stage.textContent = step; }
        })
        .catch(function () {})
        .then(function () {
          // Fast while planning, calmer once a person has to act.
          delay = (state === "queued" || state === "planning") ? 800 : 3000;
          setTimeout(poll, delay);
        });
    };
    if (state !== "done" && state !== "rejected" && state !== "cancelled") setTimeout(poll, delay);
  }

  var layers = document.querySelector(".layers[data-layers-url]");
  if (!layers) return;
  var slider = document.getElementById("layer");
  var out = document.getElementById("layer-out");
  var view = document.getElementById("layer-view");
  var NS = "http://www.w3.org/2000/svg";
  var lang = document.documentElement.lang || "fr";
  fetch(layers.dataset.layersUrl).then(function (r) { return r.json(); }).then(function (data) {
    if (!data.layers || data.layers.length < 2) return;
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    data.layers.forEach(function (layer) {
      layer.paths.forEach(function (p) {
        var xy = p[1];
        for (var i = 0; i < xy.length; i += 2) {
          if (xy[i] < minX) minX = xy[i]; if (xy[i] > maxX) maxX = xy[i];
          if (xy[i + 1] < minY) minY = xy[i + 1]; if (xy[i + 1] > maxY) maxY = xy[i + 1];
        }
      });
    });
    var pad = Math.max(1, 0.03 * Math.max(maxX - minX, maxY - minY));
    view.setAttribute("viewBox", (minX - pad) + " " + (-maxY - pad) + " " +
      (maxX - minX + 2 * pad) + " " + (maxY - minY + 2 * pad));
    var stroke = Math.max(0.2, (maxX - minX) / 300);
    function draw(index) {
      while (view.firstChild) view.removeChild(view.firstChild);
      var layer = data.layers[index];
      layer.paths.forEach(function (p) {
        var xy = p[1], d = "";
        for (var i = 0; i < xy.length; i += 2) d += (i ? "L" : "M") + xy[i] + " " + (-xy[i + 1]);
        var path = document.createElementNS(NS, "path");
        path.setAttribute("d", d);
        path.setAttribute("fill", "none");
        path.setAttribute("stroke", data.colours[p[0]] || "#333");
        path.setAttribute("stroke-width", stroke);
        view.appendChild(path);
      });
      out.textContent = (index + 1) + " / " + data.layers.length +
        (layer.z !== null && layer.z !== undefined ? " — z = " + Number(layer.z).toLocaleString(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " mm" : "");
    }
    slider.max = data.layers.length - 1;
    slider.value = data.layers.length - 1;
    slider.addEventListener("input", function () { draw(Number(slider.value)); });
    layers.hidden = false;
    draw(data.layers.length - 1);
  });
})();
