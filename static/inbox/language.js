// The language picker submits itself when a language is chosen (the page's
// Content-Security-Policy allows no inline handler). Without JavaScript the
// <noscript> button does it.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select && select.matches && select.matches("form.language select[name=language]")) {
      select.form.requestSubmit();
    }
  });
})();
