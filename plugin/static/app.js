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
    // After a refused save, put the keyboard where the first problem is.
    const invalid = document.querySelector('[aria-invalid="true"], .invalid textarea');
    if (invalid) invalid.focus();
  });
})();

// Inside the Shopify admin our cookies are withheld, so every page load and form post carries
// a fresh App Bridge session token (valid for a minute) as `id_token`.
(function () {
  function embedded() {
    return window.shopify && typeof window.shopify.idToken === "function";
  }

  async function withToken(url) {
    const target = new URL(url, window.location.href);
    target.searchParams.set("id_token", await window.shopify.idToken());
    return target.toString();
  }

  document.addEventListener("DOMContentLoaded", async function () {
    if (!embedded()) return;
    const reload = document.body.dataset.reload;
    if (reload) {
      window.location.replace(await withToken(reload));
      return;
    }
    document.addEventListener("click", async function (event) {
      const link = event.target.closest("a[href]");
      if (!link || link.origin !== window.location.origin || event.defaultPrevented) return;
      if (link.target === "_blank" || event.metaKey || event.ctrlKey) return;
      event.preventDefault();
      window.location.assign(await withToken(link.href));
    });
    document.addEventListener("submit", async function (event) {
      const form = event.target;
      event.preventDefault();
      let field = form.querySelector('input[name="id_token"]');
      if (!field) {
        field = document.createElement("input");
        field.type = "hidden";
        field.name = "id_token";
        form.append(field);
      }
      field.value = await window.shopify.idToken();
      if ((form.method || "get").toLowerCase() === "get") {
        const params = new URLSearchParams(new FormData(form));
        window.location.assign(form.action.split("?")[0] + "?" + params.toString());
      } else {
        form.submit();
      }
    });
  });
})();
