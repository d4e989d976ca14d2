// A location typed or scanned by its code (`<input data-location-for="location_id"
// list="...">`) fills the hidden id field the API wants. Codes resolve against the page's
// datalist: the option value exactly, or a bare code that exists in one warehouse only.
// A datalist marked `data-truncated` holds only some locations (location-search.js fills it
// as a person types): a code it lacks is looked up through the API, and a submit waits for
// that answer.

const MAX_OPTIONS_LOOKUP = 50;

function listOf(input) {
  return input.list ?? document.getElementById(input.getAttribute("list"));
}

function options(input) {
  const list = listOf(input);
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

async function lookUp(text) {
  const query = new URLSearchParams({ q: text, active: "true", limit: String(MAX_OPTIONS_LOOKUP) });
  try {
    const response = await fetch(`/api/v1/locations?${query}`, {
      headers: { accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) return [];
    const page = await response.json();
    return (page.items ?? []).filter((item) => item.code.toUpperCase() === text.toUpperCase());
  } catch {
    return [];
  }
}

function bind(input) {
  const form = input.form;
  const name = input.dataset.locationFor;
  const hidden = form?.querySelector(`input[type=hidden][name="${CSS.escape(name)}"]`);
  const slot = form?.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  if (!hidden) return;
  let pending = null; // the text being looked up through the API
  let submitWanted = false;

  const show = (problem, report) => {
    input.setCustomValidity(problem);
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (slot && (report || !problem)) slot.textContent = problem;
  };

  const remote = async (text) => {
    pending = text;
    const found = await lookUp(text);
    if (input.value.trim() !== text) return; // typed on meanwhile
    pending = null;
    if (found.length === 1) {
      const option = document.createElement("option");
      option.value = found[0].code;
      option.dataset.id = String(found[0].id);
      option.dataset.code = found[0].code;
      listOf(input)?.append(option);
      hidden.value = option.dataset.id;
      show("", true);
      if (submitWanted) form.requestSubmit();
    } else {
      show(found.length > 1 ? "This code exists in several warehouses: type WAREHOUSE/CODE." : `No location ${text}.`, true);
    }
    submitWanted = false;
  };

  const update = (report) => {
    const text = input.value.trim();
    const match = resolveLocation(input);
    hidden.value = match ? match.dataset.id : "";
    if (match || !text) {
      show("", report);
      return;
    }
    const ambiguous = options(input).some((option) => (option.dataset.code ?? "").toUpperCase() === text.toUpperCase());
    if (ambiguous) {
      show("This code exists in several warehouses: type WAREHOUSE/CODE.", report);
    } else if (listOf(input)?.hasAttribute("data-truncated")) {
      show("Checking the location…", false);
      if (pending !== text) remote(text);
    } else {
      show(`No location ${text}.`, report);
    }
  };

  input.addEventListener("input", () => update(false));
  // location-search.js added the locations matching what was typed: resolve again.
  input.addEventListener("kosh:location-options", () => update(false));
  input.addEventListener("change", () => update(true));
  input.addEventListener("invalid", () => {
    if (pending) submitWanted = true;
    else update(true);
  });
  // After a reset the visible field shows its default again; recompute the id from it.
  form.addEventListener("reset", () => window.setTimeout(() => update(false), 0));
  update(false);
}

for (const input of document.querySelectorAll("input[data-location-for]")) bind(input);
