// The quote box on the upload page: a file dropped on it (or chosen) is sent at once.
// Without the script the button sends it.
(function () {
  "use strict";
  var form = document.getElementById("quote-form");
  if (!form) return;
  var input = document.getElementById("quote-file");
  var zone = form.closest(".quote-drop") || form;
  var send = function () { if (input.files && input.files.length) form.requestSubmit(); };
  input.addEventListener("change", send);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      send();
    }
  });
})();
