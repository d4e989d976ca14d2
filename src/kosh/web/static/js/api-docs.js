// Starts Swagger UI on /api/docs without inline script (the CSP forbids it).
const root = document.getElementById("swagger-ui");
if (root && window.SwaggerUIBundle) {
  window.SwaggerUIBundle({ url: root.dataset.spec, dom_id: "#swagger-ui" });
}
