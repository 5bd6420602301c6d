// The colour theme before the first paint: the stored choice (light or dark), else the
// system's (prefers-color-scheme). A classic script in <head>, like lang.js: it must run
// before the body is drawn (no flash of the other theme), and the Content-Security-Policy
// allows no inline script. theme.js (a module) holds the toggle and follows the system.
(function () {
  var choice = null;
  try { choice = localStorage.getItem("stepgrad:theme"); } catch { /* no storage: the system's */ }
  if (choice !== "light" && choice !== "dark") choice = "system";
  var dark = choice === "dark" || (choice === "system" && window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
  document.documentElement.setAttribute("data-theme-choice", choice);
})();
