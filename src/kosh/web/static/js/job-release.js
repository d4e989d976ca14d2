// Job release: when KOSH answers 409 over_planning, list the short parts and offer the
// manager's confirmation (operators are told a manager must confirm).

function cell(text, numeric) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (numeric) td.className = "num";
  return td;
}

for (const form of document.querySelectorAll("form[data-release]")) {
  form.addEventListener("kosh:error", (event) => {
    const problem = event.detail ?? {};
    if (problem.code !== "over_planning") return;
    const rows = document.querySelector("[data-shortage-rows]");
    rows.replaceChildren(...(problem.shortages ?? []).map((line) => {
      const tr = document.createElement("tr");
      tr.append(
        cell(line.part_number),
        cell(line.outstanding, true),
        cell(line.available, true),
        cell(line.shortage, true),
        cell(line.reason),
      );
      return tr;
    }));
    document.querySelector("[data-over-planning]").hidden = false;
    const confirm = document.querySelector("form[data-confirm-release]");
    if (confirm) {
      confirm.hidden = false;
      confirm.querySelector("button")?.focus();
    }
    const notice = document.querySelector("[data-needs-manager]");
    if (notice) notice.hidden = false;
  });
}
