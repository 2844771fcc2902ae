// The NOC screen reloads itself every data-refresh-seconds (on <body>) so that the wall shows the cases as
// they stand. A person at the page can pause it (WCAG 2.2.1: a timing the user can turn off); the choice
// lasts for the browser tab. Without script the page stays as loaded and says when it was.
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh-seconds"));
  var toggle = document.getElementById("noc-pause");
  if (!seconds || !toggle) {
    return;
  }
  var timer = null;
  function paused() {
    return window.sessionStorage.getItem("noc-paused") === "1";
  }
  function show() {
    window.clearTimeout(timer);
    if (!paused()) {
      timer = window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
    }
    toggle.setAttribute("aria-pressed", paused() ? "true" : "false");
    toggle.textContent = paused() ? toggle.getAttribute("data-resume") : toggle.getAttribute("data-pause");
  }
  toggle.addEventListener("click", function () {
    window.sessionStorage.setItem("noc-paused", paused() ? "0" : "1");
    show();
  });
  toggle.hidden = false;
  show();
})();
