/* Light or dark pages as the system is set (Bootstrap 5.3 colour modes).
 *
 * Loaded in <head>, before the body is drawn, so a dark-mode reader never sees a
 * white flash; a file rather than inline code, which the Content-Security-Policy
 * forbids. Without JavaScript the pages stay light.
 */
(function () {
  "use strict";
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    document.documentElement.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  }
  apply();
  if (dark.addEventListener) dark.addEventListener("change", apply);
})();
