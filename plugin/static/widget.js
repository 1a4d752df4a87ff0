/* ShopNudge opt-in widget: an unticked WhatsApp consent box; shop text only as textContent. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var src = new URL(script.src, location.href);
  var found = src.pathname.match(/\/widget\/([^\/]+)\.js$/);
  if (!found) return;
  var api = script.getAttribute("data-api") || src.origin + "/api/v1/stores/" + found[1];
  var host = document.querySelector("[data-shopnudge-optin]");
  if (!host) {
    host = document.createElement("div");
    script.parentNode.insertBefore(host, script);
  }
  var uid = "shopnudge-" + found[1].replace(/[^A-Za-z0-9]/g, "");
  var data = function (name) { return host.getAttribute("data-" + name) || null; };
  var storeApi = data("store-api") || "/wp-json/wc/store/v1";
  var locale = data("locale") || document.documentElement.lang || navigator.language || "";
  var form, ui, box, phone, button, message, submitted = null, lastCart = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs) node.setAttribute(name, attrs[name]);
    if (text) node.textContent = text;
    return node;
  }

  function say(text, reason, isError) {
    message.textContent = text;
    message.setAttribute("data-reason", reason || "");
    message.className = "shopnudge-message" + (isError ? " shopnudge-error" : "");
  }

  function knownPhone() {
    if (data("phone")) return data("phone");
    var field = document.querySelector("#billing_phone, #shipping-phone, #billing-phone, input[type=tel][name*=phone]");
    return field && field !== phone ? field.value : "";
  }

  /* Defaults of no specificity (:where): the theme's own rules win; --shopnudge-gap, -accent,
     -border, -radius and -error override them. Font and colours are the theme's. */
  var CSS = ":where(.shopnudge-optin){display:grid;gap:var(--shopnudge-gap,.6em);max-width:34em;margin:1em 0}:where(.shopnudge-consent){display:flex;gap:var(--shopnudge-gap,.6em);align-items:flex-start}:where(.shopnudge-consent input){flex:none;width:1.2em;height:1.2em;margin:.15em 0 0;accent-color:var(--shopnudge-accent,auto)}:where(.shopnudge-phone){display:grid;gap:.3em}:where(.shopnudge-phone input,.shopnudge-optin button){font:inherit;padding:.5em .8em;border-radius:var(--shopnudge-radius,4px)}:where(.shopnudge-phone input){border:1px solid var(--shopnudge-border,currentColor);max-width:100%}:where(.shopnudge-optin button){justify-self:start}:where(.shopnudge-optin a){color:var(--shopnudge-accent,inherit)}:where(.shopnudge-error){color:var(--shopnudge-error,#b3261e)}";

  /* The text, with its mention of the privacy policy as the link; else the link after it. */
  function consentRow(text, url) {
    var row = el("div", { "class": "shopnudge-consent" }), label = el("label", { "for": box.id });
    var at = text.toLowerCase().indexOf(ui.privacy.toLowerCase()), n = ui.privacy.length;
    var link = /^https?:\/\//.test(url || "") && el("a", { href: url, target: "_blank", rel: "noopener" }, at < 0 ? ui.privacy : text.substr(at, n));
    row.appendChild(box);
    row.appendChild(label);
    if (link && at >= 0) {
      label.appendChild(document.createTextNode(text.slice(0, at)));
      label.appendChild(link);
      label.appendChild(document.createTextNode(text.slice(at + n)));
    } else {
      label.textContent = text;
      if (link) row.appendChild(document.createTextNode(" ")), row.appendChild(link);
    }
    return row;
  }

  function render(loaded) {
    form = loaded;
    ui = loaded.ui;
    if (!document.getElementById("shopnudge-css")) document.head.appendChild(el("style", { id: "shopnudge-css" }, CSS));
    var root = el("form", { "class": "shopnudge-optin", novalidate: "", lang: loaded.locale });
    root.setAttribute("data-wording-version", String(loaded.wording_version));
    box = el("input", { type: "checkbox", id: uid + "-consent", name: "shopnudge-consent" });
    box.checked = false;
    var phoneRow = el("div", { "class": "shopnudge-phone" });
    phone = el("input", { type: "tel", id: uid + "-phone", name: "shopnudge-phone", autocomplete: "tel", inputmode: "tel" });
    phone.value = knownPhone();
    phoneRow.appendChild(el("label", { "for": phone.id }, ui.phone_label));
    phoneRow.appendChild(phone);
    button = el("button", { type: "submit" }, ui.submit);
    message = el("p", { id: uid + "-message", "class": "shopnudge-message", role: "status", "aria-live": "assertive" });
    phone.setAttribute("aria-describedby", message.id);
    box.setAttribute("aria-describedby", message.id);
    root.appendChild(consentRow(loaded.text, loaded.privacy_url));
    root.appendChild(phoneRow);
    root.appendChild(button);
    root.appendChild(message);
    root.addEventListener("submit", submit);
    host.textContent = "";
    host.appendChild(root);
    if (loaded.platform === "woocommerce") restoreCart().then(watchCart);
  }

  function fail(reason, fallback) {
    say(ui[reason] || fallback || ui.error, reason, true);
    var onPhone = reason.indexOf("phone_") === 0;
    phone.setAttribute("aria-invalid", onPhone ? "true" : "false");
    (onPhone ? phone : box).focus();
  }

  function submit(event) {
    event.preventDefault();
    if (!box.checked) return fail("consent_missing");
    if (!phone.value.trim()) return fail("phone_missing");
    button.disabled = true;
    say("", "", false);
    fetch(api + "/optins", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        phone: phone.value.trim(),
        consent: true,
        wording_version: form.wording_version,
        locale: form.locale,
        source: data("source") || "widget",
        customer_id: data("customer-id"),
        cart_token: data("cart-token") || saved()[1] || null
      })
    }).then(function (response) {
      return response.json().then(function (body) { return [response.status, body]; });
    }).then(function (answer) {
      var body = answer[1];
      if (answer[0] !== 202) {
        button.disabled = false;
        return fail(body.reason || "error", body.message);
      }
      submitted = phone.value.trim();
      phone.setAttribute("aria-invalid", "false");
      say(body.state === "confirmed" ? ui.confirmed : ui.pending, body.state, false);
      var step = body.confirmation || {};
      if (step.mode === "link" && /^https:\/\/wa\.me\//.test(step.url || "")) {
        var link = el("a", { href: step.url, "class": "shopnudge-confirm", target: "_blank", rel: "noopener" }, ui.confirm_link);
        message.parentNode.appendChild(link);
      }
      if (form.platform === "woocommerce") sendCart();
    }).catch(function () {
      button.disabled = false;
      fail("error");
    });
  }

  /* WooCommerce: post snapshots of the Store API cart. */
  function storeCart() {
    return fetch(storeApi + "/cart", { credentials: "include" })
      .then(function (response) {
        if (!response.ok) throw response.status;
        var token = response.headers.get("Cart-Token");
        return response.json().then(function (cart) { return [token, cart]; });
      });
  }

  /* Cart-Token is signed anew on every answer (iat); its user_id is the cart session. We keep
     [session, cart id]: a restore visit binds its session to the restored cart. */
  function sessionOf(token) {
    try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).user_id || null; } catch (e) { return null; }
  }
  function saved(pair) {
    try {
      if (pair) localStorage.setItem("shopnudge-cart", JSON.stringify(pair));
      return JSON.parse(localStorage.getItem("shopnudge-cart")) || [];
    } catch (e) { return pair || []; }
  }
  function cartId(token) {
    var session = sessionOf(token), pair = saved();
    if (pair[0] !== session || !pair[1]) pair = saved([session, session || Math.random().toString(36).slice(2)]);
    return pair[1];
  }

  /* A variation's product is the `parent` of Store API GET /products/{id} (items have none). */
  var parents = {};
  function productOf(item) {
    var id = String(item.id);
    if (item.type !== "variation") return Promise.resolve(id);
    return parents[id] = parents[id] || fetch(storeApi + "/products/" + id, { credentials: "include" })
      .then(function (response) { return response.json(); })
      .then(function (product) { if (!product.parent) throw id; return String(product.parent); })
      .catch(function (e) { delete parents[id]; throw e; });
  }

  function lineName(item) {
    var values = (item.variation || []).map(function (c) { return c.value; }).join(", ");
    return String(item.name || "") + (values ? " - " + values : "");
  }

  function snapshot(token, cart, productIds) {
    var totals = cart.totals || {};
    return {
      cart_token: cartId(token),
      items: (cart.items || []).map(function (item, index) {
        return {
          product_id: productIds[index],
          variation_id: item.type === "variation" ? String(item.id) : null,
          quantity: parseInt(item.quantity, 10) || 0,
          name: lineName(item),
          price_minor: parseInt((item.prices || {}).price, 10) || 0
        };
      }),
      total_minor: parseInt(totals.total_price, 10) || 0,
      currency: String(totals.currency_code || ""),
      country: (cart.billing_address || {}).country || null,
      phone: submitted,
      email: null,
      locale: form.locale || null
    };
  }

  function sendCart() {
    storeCart().then(function (answer) {
      return Promise.all((answer[1].items || []).map(productOf)).then(function (productIds) {
        return snapshot(answer[0], answer[1], productIds);
      });
    }).then(function (body) {
      var json = JSON.stringify(body);
      if (!body.items.length || !body.cart_token || json === lastCart) return;
      lastCart = json;
      return fetch(api + "/carts", { method: "POST", headers: { "Content-Type": "application/json" }, body: json });
    }).catch(function () {});
  }

  /* A recovery link adds one line (?add-to-cart) and names the cart: add the rest, reload once. */
  function restoreCart() {
    var found = /[?&]shopnudge_cart=([^&#]+)/.exec(location.search);
    if (!found) return Promise.resolve();
    var token = decodeURIComponent(found[1]);
    var clean = new URL(location.href), back = function () { location.replace(clean); };
    ["shopnudge_cart", "add-to-cart", "quantity"].forEach(function (k) { clean.searchParams.delete(k); });
    return Promise.all([
      fetch(api + "/carts/" + encodeURIComponent(token)).then(function (r) { return r.ok ? r.json() : null; }),
      fetch(storeApi + "/cart", { credentials: "include" })
    ]).then(function (answers) {
      var items = answers[0] && answers[0].cart ? answers[0].cart.remaining_items : [];
      var nonce = answers[1].headers.get("Nonce") || "";
      saved([sessionOf(answers[1].headers.get("Cart-Token")), token]);
      return items.reduce(function (done, item) {
        return done.then(function () {
          return fetch(storeApi + "/cart/add-item", {
            method: "POST", credentials: "include",
            headers: { "Content-Type": "application/json", "Nonce": nonce },
            body: JSON.stringify(item)
          });
        });
      }, Promise.resolve());
    }).then(back, back);
  }

  function watchCart() {
    sendCart();
    ["wc-blocks_added_to_cart", "wc-blocks_removed_from_cart"].forEach(function (name) {
      document.body.addEventListener(name, sendCart);
    });
  }

  fetch(api + "/optin-form?locale=" + encodeURIComponent(locale))
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (loaded) { if (loaded) render(loaded); })
    .catch(function () {});
})();
