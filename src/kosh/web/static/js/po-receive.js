// Goods in against a purchase order (`<form data-po-receive="ORDER_ID">`), for a scanner:
// 1. the clerk scans a distributor label into [data-scan-label]; the scanner's Enter asks
//    the API what the label says (POST /api/v1/purchasing/decode) and shows it, choosing
//    the line and filling the quantity;
// 2. "Book bag" posts the receipt (one Idempotency-Key per bag, kept for a retry after a
//    network failure, so a bag is never booked twice), then shows the PCN and its label
//    and gets ready for the next scan. Unknown labels fall back to typing the quantity.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const number = new Intl.NumberFormat("en-US"); // as the server writes numbers (kosh.core.messages)

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function post(url, body, key) {
  const headers = {
    "content-type": "application/json",
    accept: "application/json",
    "x-csrf-token": csrfToken(),
  };
  if (key) headers["idempotency-key"] = key;
  const response = await fetch(url, {
    method: "POST",
    headers,
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, payload };
}

function setup(form) {
  const orderId = Number(form.dataset.poReceive);
  const scan = form.querySelector("[data-scan-label]");
  const read = form.querySelector("[data-label-read]");
  const line = form.querySelector('[name="line_id"]');
  const qty = form.querySelector('[name="qty"]');
  const result = form.querySelector("[data-result]");
  const detail = form.querySelector("[data-result-detail]");
  const button = form.querySelector("button[type=submit]");
  let key = null;

  const clearErrors = () => {
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    result.textContent = "";
    result.classList.remove("error");
  };
  const showProblem = (problem) => {
    for (const error of problem.errors ?? []) {
      const name = (error.loc ?? []).filter((p) => typeof p === "string").pop();
      const slot = name && form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) slot.textContent = error.msg;
    }
    result.textContent = problem.detail ?? "Refused.";
    result.classList.add("error");
  };

  const decode = async () => {
    clearErrors();
    read.replaceChildren();
    const text = scan.value;
    if (!text.trim()) return;
    const answer = await post("/api/v1/purchasing/decode", { barcode: text, order_id: orderId });
    if (!answer.ok) {
      showProblem(answer.payload);
      qty.focus();
      return;
    }
    const label = answer.payload;
    const facts = el("dl", undefined, "facts");
    for (const [title, value] of [
      ["Format", label.format.toUpperCase()],
      ["Part", label.supplier_sku ?? label.customer_part],
      ["MPN", label.mpn],
      ["Quantity", label.qty === null ? null : number.format(label.qty)],
      ["PO", label.po],
      ["Lot", label.lot],
      ["Date code", label.date_code],
      ["Country", label.country],
    ]) {
      if (value === null || value === undefined) continue;
      facts.append(el("dt", title), el("dd", value));
    }
    read.append(el("p", "Read from the label:"), facts);
    if (label.line_id) line.value = String(label.line_id);
    if (label.qty) qty.value = String(label.qty);
    for (const [name, value] of [["lot_code", label.lot], ["date_code", label.date_code], ["country", label.country]]) {
      const input = form.querySelector(`[name="${name}"]`);
      if (input && value) input.value = value;
    }
    button.focus();
  };

  scan.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    decode();
  });

  const body = () => {
    const data = { location_id: Number(form.querySelector('[name="location_id"]').value) || null };
    if (scan.value.trim()) data.barcode = scan.value;
    if (line.value) data.line_id = Number(line.value);
    if (qty.value) data.qty = /^\d+$/.test(qty.value) ? Number(qty.value) : qty.value;
    for (const name of ["lot_code", "date_code", "country"]) {
      const value = form.querySelector(`[name="${name}"]`)?.value.trim();
      if (value) data[name] = value;
    }
    const over = form.querySelector('[name="allow_over_receipt"]');
    if (over?.checked) data.allow_over_receipt = true;
    return data;
  };

  const book = async () => {
    clearErrors();
    button.disabled = true;
    key = key ?? crypto.randomUUID();
    let answer;
    try {
      answer = await post(`/api/v1/purchase-orders/${orderId}/receive`, body(), key);
    } catch {
      button.disabled = false;
      result.textContent = "Network problem: nothing was confirmed. Book again to retry (it cannot book twice).";
      result.classList.add("error");
      return;
    }
    button.disabled = false;
    if (!answer.ok) {
      if (answer.status < 500) key = null;
      showProblem(answer.payload);
      return;
    }
    key = null;
    const { receipts, order } = answer.payload;
    const total = receipts.reduce((sum, r) => sum + r.qty, 0);
    result.textContent = `Received ${number.format(total)} as ${receipts.map((r) => r.pcn).join(", ")}; ${order.number} is ${order.status.replace("_", " ")}.`;
    const badge = document.querySelector('[data-testid="po-status"]');
    if (badge) badge.textContent = order.status.replace("_", " ");
    for (const receipt of receipts) {
      const figure = el("figure", undefined, "label-preview");
      const img = document.createElement("img");
      img.src = `/api/v1/pcns/${encodeURIComponent(receipt.pcn)}/label.svg`;
      img.alt = `Label for PCN ${receipt.pcn}`;
      img.className = "label";
      img.width = 454;
      img.height = 227;
      const print = el("a", `Print label ${receipt.pcn}`, "button");
      print.href = `/pcns/${encodeURIComponent(receipt.pcn)}/label`;
      print.dataset.testid = "print-label";
      figure.append(img);
      detail.prepend(figure, print);
    }
    scan.value = "";
    qty.value = "";
    line.value = "";
    read.replaceChildren();
    for (const name of ["lot_code", "date_code", "country"]) {
      const input = form.querySelector(`[name="${name}"]`);
      if (input) input.value = "";
    }
    scan.focus();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!button.disabled) book();
  });
}

for (const form of document.querySelectorAll("form[data-po-receive]")) setup(form);
