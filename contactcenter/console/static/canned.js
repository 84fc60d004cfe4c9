// Fills the reply box with the chosen canned response in place. Without script, the form's
// GET reloads the case page with the box already filled, so this is only a shortcut.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("canned-form");
  const box = document.getElementById("reply-body");
  if (!form || !box) {
    return;
  }
  form.addEventListener("submit", (event) => {
    const option = form.elements.namedItem("canned").selectedOptions[0];
    if (!option || option.dataset.body === undefined) {
      return;
    }
    event.preventDefault();
    box.value = option.dataset.body;
    box.focus();
  });
});
