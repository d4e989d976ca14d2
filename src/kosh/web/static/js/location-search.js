// Location fields search as a person types (`<input data-location-for list="...">` whose
// datalist has `data-search="/api/v1/locations/search?..."`): a short pause after typing
// asks the API for at most 20 locations whose code starts with the text, and fills the
// datalist with them, so the browser offers them and location-field.js can resolve the
// code. The page itself ships no list of bins. A scanner's fast input is answered once,
// after it stops; a slower answer to older text is dropped.

const LIMIT = 20;
const PAUSE_MS = 150;

function listOf(input) {
  return input.list ?? document.getElementById(input.getAttribute("list"));
}

function option(item) {
  const node = document.createElement("option");
  node.value = item.value;
  node.textContent = item.label;
  node.dataset.id = String(item.id);
  node.dataset.code = item.code;
  node.dataset.warehouseId = String(item.warehouse_id);
  return node;
}

function bind(input) {
  const list = listOf(input);
  const base = list?.dataset.search;
  if (!list || !base) return;
  let timer = null;
  let asked = "";
  let controller = null;

  const search = async (text) => {
    asked = text;
    controller?.abort();
    controller = new AbortController();
    const url = new URL(base, window.location.origin);
    url.searchParams.set("q", text);
    url.searchParams.set("limit", String(LIMIT));
    let page;
    try {
      const response = await fetch(url, {
        headers: { accept: "application/json" },
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (!response.ok) return;
      page = await response.json();
    } catch {
      return; // aborted by newer text, or offline: location-field.js still checks on submit
    }
    if (asked !== text || input.value.trim() !== text) return;
    const known = new Set([...list.options].map((node) => node.dataset.id));
    for (const item of page.items ?? []) {
      if (!known.has(String(item.id))) list.append(option(item));
    }
    input.dispatchEvent(new CustomEvent("kosh:location-options"));
  };

  input.addEventListener("input", () => {
    const text = input.value.trim();
    window.clearTimeout(timer);
    if (!text || text === asked) return;
    timer = window.setTimeout(() => search(text), PAUSE_MS);
  });
}

for (const input of document.querySelectorAll("input[data-location-for]")) bind(input);
