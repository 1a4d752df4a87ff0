/* ShopNudge loader: the widget comes from ShopNudge through the app proxy on the shop's own
   domain, so it always matches the server; it finds its API beside it (data-api). */
(function () {
  "use strict";
  var widget = document.createElement("script");
  widget.src = "/apps/shopnudge/widget/embed.js";
  widget.async = true;
  widget.setAttribute("data-api", "/apps/shopnudge/api");
  document.body.appendChild(widget);
})();
