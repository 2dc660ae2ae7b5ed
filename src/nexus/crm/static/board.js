// The pipeline board: drag a deal card to another stage's column, by mouse or touch (pointer
// events). Dropping submits the card's own "Move to" form, which works without this script.
(function () {
  "use strict";

  var drag = null;
  var THRESHOLD = 6;

  function columnAt(x, y) {
    var element = document.elementFromPoint(x, y);
    return element ? element.closest("[data-stage-id]") : null;
  }

  function clearTargets() {
    document.querySelectorAll(".board-column.drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  }

  function reset() {
    if (drag && drag.card) {
      drag.card.classList.remove("dragging");
      drag.card.style.transform = "";
    }
    clearTargets();
    drag = null;
  }

  document.addEventListener("pointerdown", function (event) {
    var card = event.target.closest("[data-deal-card]");
    if (!card || event.button !== 0 || event.target.closest("form")) {
      return;
    }
    drag = { card: card, x: event.clientX, y: event.clientY, moved: false };
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag) {
      return;
    }
    var dx = event.clientX - drag.x;
    var dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < THRESHOLD) {
      return;
    }
    drag.moved = true;
    event.preventDefault();
    drag.card.classList.add("dragging");
    drag.card.style.transform = "translate(" + dx + "px, " + dy + "px)";
    clearTargets();
    var column = columnAt(event.clientX, event.clientY);
    if (column) {
      column.classList.add("drop-target");
    }
  });

  document.addEventListener("pointerup", function (event) {
    if (!drag) {
      return;
    }
    var card = drag.card;
    var moved = drag.moved;
    reset();
    if (!moved) {
      return;
    }
    var column = columnAt(event.clientX, event.clientY);
    var home = card.closest("[data-stage-id]");
    if (!column || column === home) {
      return;
    }
    var form = card.querySelector("form.move-form");
    var select = form ? form.querySelector("select[name=stage_id]") : null;
    if (!select) {
      return;
    }
    select.value = column.getAttribute("data-stage-id");
    card.classList.add("moving");
    column.appendChild(card);
    form.requestSubmit();
  });

  document.addEventListener("pointercancel", reset);
})();
