// Improves the upload form; the form works without it (the server re-checks everything).
// Machines are filtered by the file's type (and the site), materials and settings by the machine.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var kinds = JSON.parse(form.dataset.suffixKinds || "{}");
  var file = document.getElementById("file");
  var machine = document.getElementById("machine");
  var material = document.getElementById("material");
  var hint = document.getElementById("machine-hint");
  var kept = document.getElementById("kept-design");
  var site = document.getElementById("site");  // only when the lab has several sites

  function designKind() {
    if (file.files && file.files.length) {
      var name = file.files[0].name.toLowerCase();
      var dot = name.lastIndexOf(".");
      return dot >= 0 ? kinds[name.slice(dot)] || null : null;
    }
    return kept ? kept.dataset.kind : null;
  }

  function showOption(option, visible) {
    option.hidden = !visible;
    option.disabled = !visible;
    if (!visible && option.selected) option.selected = false;
  }

  function filterMachines() {
    var kind = designKind();
    Array.prototype.forEach.call(machine.options, function (o) {
      if (!o.value) return;
      var atSite = !site || !site.value || o.dataset.site === site.value;
      showOption(o, atSite && (!kind || o.dataset.accepts.split(" ").indexOf(kind) >= 0));
    });
    hint.hidden = !kind;
    filterMaterials();
  }

  function filterMaterials() {
    var id = machine.value;
    Array.prototype.forEach.call(material.options, function (o) {
      if (!o.value) return;
      showOption(o, !id || o.dataset.machines.split(" ").indexOf(id) >= 0);
    });
    var chosen = machine.selectedOptions[0];
    var plugin = chosen && chosen.value ? chosen.dataset.plugin : null;
    document.querySelectorAll("fieldset.plugin-options").forEach(function (fs) {
      var on = fs.dataset.plugin === plugin;
      fs.hidden = !on;
      fs.disabled = !on;
    });
    var visible = Array.prototype.filter.call(material.options, function (o) { return o.value && !o.hidden; });
    if (visible.length === 1) visible[0].selected = true;
  }

  file.addEventListener("change", filterMachines);
  machine.addEventListener("change", filterMaterials);
  if (site) site.addEventListener("change", filterMachines);
  filterMachines();
})();
