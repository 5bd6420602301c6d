// Starts Swagger UI on /docs. A file rather than the inline script of FastAPI's own page,
// so that the page runs under a Content-Security-Policy allowing scripts from this origin
// only. The description's URL comes from the page (it honours the app's root path).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // no badge from the public online validator: the page must work offline
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
