// The account alerts strip (admins): reloaded when an account.alert event arrives.
(function () {
  "use strict";
  document.addEventListener("inbox:event", function (event) {
    var frame = event.detail || {};
    if (frame.event !== "account.alert") return;
    var strip = document.getElementById("account-alerts");
    if (strip && window.htmx) window.htmx.trigger(strip, "account:alert");
  });
})();
