// ShopNudge owner pages: live preview and lint of the opt-in wording. No build step.
"use strict";

(function () {
  function renderLint(list, messages, okText) {
    list.replaceChildren();
    if (!messages.length) {
      const item = document.createElement("li");
      item.className = "lint-ok";
      item.textContent = okText;
      list.append(item);
      return;
    }
    for (const message of messages) {
      const item = document.createElement("li");
      item.className = "lint-" + message.level;
      item.dataset.code = message.code;
      item.textContent = message.message;
      list.append(item);
    }
  }

  function wire(form) {
    const textarea = form.querySelector("textarea[data-preview]");
    if (!textarea) return;
    const preview = document.getElementById(textarea.dataset.preview);
    const list = document.getElementById(textarea.dataset.lint);
    const target = preview.querySelector("[data-preview-text]");
    const okItem = list.querySelector(".lint-ok");
    const okText = okItem ? okItem.textContent : "OK";
    let timer = null;
    let sequence = 0;
    textarea.addEventListener("input", function () {
      target.textContent = textarea.value;  // text, never HTML: the widget does the same
      clearTimeout(timer);
      timer = setTimeout(async function () {
        const mine = ++sequence;
        const url = form.dataset.lintUrl + "?text=" + encodeURIComponent(textarea.value);
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok || mine !== sequence) return;
        const body = await response.json();
        renderLint(list, body.messages, okText);
      }, 250);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.wording").forEach(wire);
  });
})();
