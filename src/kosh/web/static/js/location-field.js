// A location typed or scanned by its code (`<input data-location-for="location_id"
// list="...">`) fills the hidden id field the API wants. Codes resolve against the page's
// datalist: the option value exactly, or a bare code that exists in one warehouse only.

function options(input) {
  const list = input.list ?? document.getElementById(input.getAttribute("list"));
  return list ? [...list.options] : [];
}

function resolveLocation(input) {
  const text = input.value.trim().toUpperCase();
  if (!text) return null;
  const all = options(input);
  const exact = all.find((option) => option.value.toUpperCase() === text);
  if (exact) return exact;
  const byCode = all.filter((option) => (option.dataset.code ?? "").toUpperCase() === text);
  return byCode.length === 1 ? byCode[0] : null;
}

function bind(input) {
  const form = input.form;
  const name = input.dataset.locationFor;
  const hidden = form?.querySelector(`input[type=hidden][name="${CSS.escape(name)}"]`);
  const slot = form?.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  if (!hidden) return;
  const update = (report) => {
    const match = resolveLocation(input);
    hidden.value = match ? match.dataset.id : "";
    let problem = "";
    if (!match && input.value.trim()) {
      const ambiguous = options(input).some(
        (option) => (option.dataset.code ?? "").toUpperCase() === input.value.trim().toUpperCase(),
      );
      problem = ambiguous
        ? "This code exists in several warehouses: type WAREHOUSE/CODE."
        : `No location ${input.value.trim()}.`;
    }
    input.setCustomValidity(problem);
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (slot && (report || !problem)) slot.textContent = problem;
  };
  input.addEventListener("input", () => update(false));
  input.addEventListener("change", () => update(true));
  input.addEventListener("invalid", () => update(true));
  // After a reset the visible field shows its default again; recompute the id from it.
  form.addEventListener("reset", () => window.setTimeout(() => update(false), 0));
  update(false);
}

for (const input of document.querySelectorAll("input[data-location-for]")) bind(input);

