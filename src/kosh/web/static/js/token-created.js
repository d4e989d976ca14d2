// The token form: after a success, show the new token's secret (the API returns it once).
for (const form of document.querySelectorAll("form[data-token-form]")) {
  const box = form.querySelector("[data-token-secret]");
  form.addEventListener("kosh:success", (event) => {
    if (!box || !event.detail?.token) return;
    box.querySelector("code").textContent = event.detail.token;
    box.hidden = false;
  });
}
