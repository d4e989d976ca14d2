// Starts Swagger UI on /api/docs without inline script (the CSP forbids it), and keeps what
// it draws accessible: its operation groups are h3 under its h1 title (a skipped level),
// its operations' and models' titles h4, and its example blocks scroll without being reachable by keyboard.
const root = document.getElementById("swagger-ui");

function mendAccessibility(scope) {
  for (const tag of scope.querySelectorAll("h3.opblock-tag:not([aria-level])")) {
    tag.setAttribute("aria-level", "2");
  }
  for (const title of scope.querySelectorAll(".opblock h4:not([aria-level])")) {
    title.setAttribute("aria-level", "3");
  }
  for (const title of scope.querySelectorAll(".models > h4:not([aria-level])")) {
    title.setAttribute("aria-level", "2");
  }
  for (const block of scope.querySelectorAll(".highlight-code > .microlight:not([tabindex])")) {
    block.setAttribute("tabindex", "0");
  }
}

if (root && window.SwaggerUIBundle) {
  new MutationObserver(() => mendAccessibility(root)).observe(root, {
    childList: true,
    subtree: true,
  });
  window.SwaggerUIBundle({ url: root.dataset.spec, dom_id: "#swagger-ui" });
}
