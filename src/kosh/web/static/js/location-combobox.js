// Location fields (`<input role="combobox" data-location-search="/api/v1/locations/search?...">`,
// locations/_field.html) search as a person types and resolve what a scanner types: the
// page ships no list of bins. The ARIA 1.2 combobox pattern: the input controls a listbox
// of at most 20 suggestions (aria-expanded, aria-activedescendant); ArrowDown/ArrowUp move,
// Enter or a tap picks, Escape closes. A code typed or scanned in full resolves to its
// location by asking the same endpoint (exact codes come first), and the hidden id field
// named by `data-location-for` is filled; a submit made meanwhile waits for that answer.
// Without `data-location-for` the field submits the code itself (the stocktake's count page).

const LIMIT = 20;
const PAUSE_MS = 150;
const AMBIGUOUS = "This code exists in several warehouses: type WAREHOUSE/CODE.";

async function ask(base, text, signal) {
  const url = new URL(base, window.location.origin);
  url.searchParams.set("q", text);
  url.searchParams.set("limit", String(LIMIT));
  const response = await fetch(url, {
    headers: { accept: "application/json" },
    credentials: "same-origin",
    signal,
  });
  if (!response.ok) throw new Error(String(response.status));
  return (await response.json()).items ?? [];
}

// The one location `text` names: its value (WAREHOUSE/CODE or a unique code), or a code
// that only one of the answers has. `null` for none, "ambiguous" for several.
function exactMatch(items, text) {
  const wanted = text.toUpperCase();
  const byValue = items.find((item) => item.value.toUpperCase() === wanted);
  if (byValue) return byValue;
  const byCode = items.filter((item) => item.code.toUpperCase() === wanted);
  if (byCode.length > 1) return "ambiguous";
  return byCode[0] ?? null;
}

function bind(input) {
  const base = input.dataset.locationSearch;
  const list = document.getElementById(input.getAttribute("aria-controls"));
  const form = input.form;
  if (!base || !list || !form) return;
  const hiddenName = input.dataset.locationFor;
  const hidden = hiddenName
    ? form.querySelector(`input[type=hidden][name="${CSS.escape(hiddenName)}"]`)
    : null;
  const slot = form.querySelector(`[data-error-for="${CSS.escape(hiddenName || input.name)}"]`);
  let items = [];
  let active = -1;
  let timer = null;
  let controller = null;
  let resolved = hidden?.value ? input.value.trim().toUpperCase() : ""; // text the id is for
  let pending = null; // text being resolved through the API
  let submitWanted = false;

  const show = (problem, report) => {
    input.setCustomValidity(problem);
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (slot && (report || !problem)) slot.textContent = problem;
  };

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };

  const highlight = (index) => {
    active = index;
    [...list.children].forEach((node, at) => node.setAttribute("aria-selected", String(at === index)));
    const node = list.children[index];
    if (node) {
      input.setAttribute("aria-activedescendant", node.id);
      node.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };

  const render = () => {
    list.replaceChildren(
      ...items.map((item, at) => {
        const node = document.createElement("li");
        node.id = `${list.id}-${at}`;
        node.setAttribute("role", "option");
        node.setAttribute("aria-selected", "false");
        node.dataset.id = String(item.id);
        node.textContent = item.label;
        return node;
      }),
    );
    const open = items.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    active = -1;
  };

  const accept = (item) => {
    input.value = hidden ? item.value : item.code; // the count page looks the code up itself
    resolved = input.value.toUpperCase();
    if (hidden) hidden.value = String(item.id);
    show("", true);
    close();
  };

  // Resolve the text exactly (after a scan, a change, or before a submit).
  const resolve = async (text, report) => {
    if (!text) {
      if (hidden) hidden.value = "";
      resolved = "";
      show("", report);
      return;
    }
    const known = exactMatch(items, text);
    if (known && known !== "ambiguous") {
      accept(known);
      return;
    }
    pending = text;
    show("Checking the location…", false);
    let found;
    try {
      found = exactMatch(await ask(base, text), text);
    } catch {
      found = undefined; // offline: the server checks the id anyway
    }
    if (input.value.trim() !== text) return; // typed on meanwhile
    pending = null;
    if (found && found !== "ambiguous") {
      accept(found);
      if (submitWanted) form.requestSubmit();
    } else {
      if (hidden) hidden.value = "";
      show(found === "ambiguous" ? AMBIGUOUS : `No location ${text}.`, true);
    }
    submitWanted = false;
  };

  const suggest = async (text) => {
    controller?.abort();
    controller = new AbortController();
    try {
      const answer = await ask(base, text, controller.signal);
      if (input.value.trim() !== text) return;
      items = answer;
      render();
      const exact = exactMatch(items, text);
      if (exact && exact !== "ambiguous") {
        resolved = text.toUpperCase();
        if (hidden) hidden.value = String(exact.id);
        show("", false);
      }
    } catch {
      // aborted by newer text, or offline: the value is resolved on change and submit
    }
  };

  input.addEventListener("input", () => {
    const text = input.value.trim();
    window.clearTimeout(timer);
    if (text.toUpperCase() !== resolved && hidden) hidden.value = "";
    if (!text) {
      items = [];
      close();
      show("", false);
      return;
    }
    if (hidden && text.toUpperCase() !== resolved) input.setCustomValidity("Checking the location…");
    timer = window.setTimeout(() => suggest(text), PAUSE_MS);
  });

  input.addEventListener("keydown", (event) => {
    const open = !list.hidden && items.length > 0;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) {
        if (items.length) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
        }
        return;
      }
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + items.length) % items.length);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      close();
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault(); // a pick is not a submit; scan-fields.js moves on
      accept(items[active]);
    } else if (event.key === "Enter") {
      close();
      const text = input.value.trim();
      if (text.toUpperCase() !== resolved || (hidden && !hidden.value)) {
        window.clearTimeout(timer);
        resolve(text, true);
      }
    }
  });

  // A tap or click picks; mousedown keeps the focus in the field.
  list.addEventListener("mousedown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => {
    const node = event.target.closest("[role=option]");
    if (!node) return;
    accept(items[[...list.children].indexOf(node)]);
    input.focus();
  });

  input.addEventListener("change", () => {
    const text = input.value.trim();
    if (text.toUpperCase() !== resolved || (hidden && !hidden.value && text)) resolve(text, true);
  });
  input.addEventListener("blur", () => window.setTimeout(close, 0));
  input.addEventListener("invalid", () => {
    if (pending) submitWanted = true;
    else resolve(input.value.trim(), true).then(() => {
      if (!input.validationMessage) form.requestSubmit();
    });
  });
  form.addEventListener("reset", () =>
    window.setTimeout(() => {
      items = [];
      close();
      resolved = hidden?.value ? input.value.trim().toUpperCase() : "";
      show("", false);
    }, 0),
  );
}

for (const input of document.querySelectorAll("input[role=combobox][data-location-search]")) bind(input);
