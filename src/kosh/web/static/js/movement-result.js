// Stock forms (`<form data-movement="pick" ...>`): after a success, say what moved where in
// the form's live region and show the details (the PCNs to pull, the label to print); after
// a 409 "not enough", say next to the quantity what is available and where.
//
// forms.js announces `detail.message` of its kosh:success event when there is one, so this
// listener, which runs first, writes the sentence there.

const number = new Intl.NumberFormat("en-US"); // as the server writes numbers (kosh.core.messages)
const n = (value) => number.format(value);

// The API names the locations it answers with (`*_location_code`); the datalists, which
// hold only what was searched, are the fallback.
function locationName(id, code) {
  if (code) return code;
  if (id === null || id === undefined) return "nowhere";
  const option = document.querySelector(`datalist option[data-id="${CSS.escape(String(id))}"]`);
  return option ? option.dataset.code : `location ${id}`;
}

const pcnHref = (pcn) => `/pcns/${encodeURIComponent(pcn)}`;

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

const SENTENCES = {
  receive: (r) => `Received ${n(r.qty)} of ${r.part_number} as ${r.pcn} into ${r.location_code}.`,
  pick: (r) =>
    `Picked ${n(r.qty)} of ${r.part_number} for ${r.reference}: ` +
    r.lines.map((l) => `${l.pcn} ×${n(l.qty)} from ${locationName(l.from_location_id, l.from_location_code)}`).join(", ") +
    ` → ${locationName(r.to_location_id, r.to_location_code)}.`,
  restock: (r) =>
    `Restocked ${n(r.qty)} of ${r.pcn}: ${locationName(r.from_location_id, r.from_location_code)} → ${locationName(r.to_location_id, r.to_location_code)}.`,
  transfer: (r) =>
    `Moved ${n(r.qty)} of ${r.pcn}: ${locationName(r.from_location_id, r.from_location_code)} → ${locationName(r.to_location_id, r.to_location_code)}.`,
  adjust: (r) =>
    r.difference === 0
      ? `Count of ${r.pcn} at ${locationName(r.location_id, r.location_code)} confirmed at ${n(r.counted_qty)}; nothing changed.`
      : `Count of ${r.pcn} at ${locationName(r.location_id, r.location_code)}: ${n(r.previous_qty)} → ${n(r.counted_qty)} ` +
        `(${r.difference > 0 ? "+" : "−"}${n(Math.abs(r.difference))}).`,
  consume: (r) =>
    `${r.kind === "scrap" ? "Scrapped" : "Consumed"} ${n(r.qty)} of ${r.pcn} from ${locationName(r.from_location_id, r.from_location_code)}.`,
};

function pickTable(result) {
  const table = element("table", undefined, "list pick-lines");
  const caption = element("caption", `Pull these for ${result.reference}`);
  table.append(caption);
  const head = table.createTHead().insertRow();
  for (const [title, cls] of [["PCN"], ["From"], ["Qty", "num"]]) {
    const th = element("th", title, cls);
    th.scope = "col";
    head.append(th);
  }
  const body = table.createTBody();
  for (const line of result.lines) {
    const row = body.insertRow();
    row.insertCell().append(link(pcnHref(line.pcn), line.pcn));
    row.insertCell().textContent = locationName(line.from_location_id, line.from_location_code);
    const qty = row.insertCell();
    qty.className = "num";
    qty.textContent = n(line.qty);
  }
  return table;
}

function receiptLabel(result) {
  const figure = element("figure", undefined, "label-preview");
  const img = document.createElement("img");
  img.src = `/api/v1/pcns/${encodeURIComponent(result.pcn)}/label.svg`;
  img.alt = `Label for PCN ${result.pcn}`;
  img.className = "label";
  img.width = 454;
  img.height = 227;
  figure.append(img);
  const actions = element("p", undefined, "links");
  const print = link(`${pcnHref(result.pcn)}/label`, "Print label");
  print.className = "button";
  print.dataset.testid = "print-label";
  const page = link(pcnHref(result.pcn), `Open ${result.pcn}`);
  page.className = "button secondary";
  actions.append(print, " ", page);
  return [figure, actions];
}

function details(kind, result) {
  if (kind === "receive") return receiptLabel(result);
  if (kind === "pick") return [pickTable(result)];
  if (!result.pcn) return [];
  const p = element("p", undefined, "links");
  p.append(link(pcnHref(result.pcn), `History of ${result.pcn}`));
  return [p];
}

function notEnough(form, problem) {
  const field = form.querySelector("[name=qty], [name=counted_qty]");
  const slot = field && form.querySelector(`[data-error-for="${CSS.escape(field.name)}"]`);
  if (!slot) return;
  const lots = (problem.lots ?? [])
    .filter((lot) => lot.qty > 0)
    .slice(0, 8)
    .map((lot) => `${lot.pcn} ×${n(lot.qty)} at ${locationName(lot.location_id, lot.location_code)}`);
  slot.textContent =
    `Only ${n(problem.available ?? 0)} available` + (lots.length ? `: ${lots.join(", ")}.` : ".");
  field.setAttribute("aria-invalid", "true");
  field.focus();
  field.select?.();
}

for (const form of document.querySelectorAll("form[data-movement]")) {
  const kind = form.dataset.movement;
  const area = form.querySelector("[data-result-detail]");
  // The answer goes above the fields: after a scan it shows at the top of the screen with
  // the field for the next scan right below it (forms.js scrolls it there).
  const result = form.querySelector("[data-result]");
  if (result) form.prepend(...[result, area].filter(Boolean));
  form.addEventListener("submit", () => area?.replaceChildren());
  form.addEventListener("kosh:success", (event) => {
    const result = event.detail;
    const sentence = SENTENCES[kind];
    if (sentence) result.message = sentence(result);
    area?.replaceChildren(...details(kind, result));
  });
  form.addEventListener("kosh:error", (event) => {
    const problem = event.detail ?? {};
    if (problem.code === "insufficient_stock") notEnough(form, problem);
  });
}
