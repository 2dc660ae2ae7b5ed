// NEXUS console behaviour. Loaded as a file (the CSP forbids inline script).
(function () {
  "use strict";

  // Every htmx request carries the page's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });

  // <button data-confirm="…"> asks in a dialog before its form is submitted.
  var pending = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (!button || !button.form) { return; }
    if (button.dataset.confirmed === "yes") { button.dataset.confirmed = ""; return; }
    event.preventDefault();
    var dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-message").textContent = button.dataset.confirm;
    pending = button;
    dialog.showModal();
  });
  document.addEventListener("click", function (event) {
    var dialog = document.getElementById("confirm-dialog");
    if (event.target.closest("[data-confirm-cancel]")) { pending = null; dialog.close(); }
    if (event.target.closest("[data-confirm-ok]") && pending) {
      var button = pending;
      pending = null;
      dialog.close();
      button.dataset.confirmed = "yes";
      button.click();
    }
  });

  // <select data-autosubmit> submits its form on change (the language picker).
  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-autosubmit]");
    if (select && select.form) { select.form.requestSubmit(); }
  });

  // <button data-copy="#id"> copies the text of an element (a new API key).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.dataset.copy);
    if (source && navigator.clipboard) { navigator.clipboard.writeText(source.textContent.trim()); }
  });
})();
