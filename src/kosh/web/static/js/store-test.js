// The store setup page's "Test connection": list each check the API answered.
for (const form of document.querySelectorAll("form[data-connection-test]")) {
  form.addEventListener("kosh:success", (event) => {
    const list = document.querySelector("[data-connection-checks]");
    if (!list) return;
    list.replaceChildren();
    for (const check of event.detail.checks ?? []) {
      const item = document.createElement("li");
      item.textContent = `${check.ok ? "OK" : "FAILED"} · ${check.name}${check.detail ? `: ${check.detail}` : ""}`;
      item.classList.toggle("error", !check.ok);
      item.dataset.testid = check.ok ? "check-ok" : "check-failed";
      list.append(item);
    }
    const result = form.querySelector("[data-result]");
    if (result) {
      result.textContent = event.detail.ok ? "The shop answers: everything works." : "Something does not work: see below.";
      result.classList.toggle("error", !event.detail.ok);
    }
  });
}
