// Starts Swagger UI on /docs. Kept in its own file so the page needs no inline script.
"use strict";

window.addEventListener("load", function () {
  var mount = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: mount.getAttribute("data-openapi-url") || "/openapi.json",
    domNode: mount,
    deepLinking: true,
    // The base layout: the standalone preset (top bar) would inject an inline <style>.
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No call to the public validator: the page talks only to this server.
    validatorUrl: null,
    persistAuthorization: false,
    displayOperationId: false,
    tryItOutEnabled: false,
  });
});
