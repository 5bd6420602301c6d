// The language before the first paint: the stored choice, else the browser's. A classic
// script in <head> (not a module, not inline): it must run before the body is drawn, and
// the Content-Security-Policy allows no inline script.
(function () {
  var lang = null;
  try { lang = localStorage.getItem("stepgrad:lang"); } catch { /* no storage: the browser's language */ }
  if (!lang) lang = /^zh/i.test(navigator.language || "") ? "zh" : "en";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
})();
