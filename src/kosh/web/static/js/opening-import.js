// Opening-stock import: upload the file (check first), follow a background import with a
// progress bar (rows done / total), show the report (rows, units, row problems, parts to
// create, the first rows), then receive for real with the same choices.

const POLL_MS = 500;
const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const form = document.querySelector("[data-opening-import]");
const report = document.querySelector("[data-report]");

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function setup() {
  if (!form || !report) return;
  const fileInput = form.querySelector("#file");
  const checkButton = form.querySelector("[data-check]");
  const commitButton = form.querySelector("[data-commit]");
  const progressBox = form.querySelector("[data-progress]");
  const progress = progressBox.querySelector("progress");
  const progressText = form.querySelector("[data-progress-text]");
  const result = form.querySelector("[data-result]");
  let busy = false;

  for (const name of ["file", "warehouse_id", "create_parts", "sheet", "mapping"]) {
    form.elements[name].addEventListener("change", () => {
      commitButton.disabled = true;
    });
  }

  function show(message, isError) {
    result.textContent = message;
    result.classList.toggle("error", Boolean(isError));
  }

  function setBusy(value) {
    busy = value;
    checkButton.disabled = value;
    if (value) commitButton.disabled = true;
  }

  function problem(payload) {
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    const rows = [];
    for (const error of payload.errors ?? []) {
      const loc = error.loc ?? [];
      if (loc[0] === "rows") {
        rows.push({ row: loc[1], column: loc[2], message: error.msg });
        continue;
      }
      const slot = form.querySelector(`[data-error-for="${CSS.escape(String(loc[loc.length - 1] ?? ""))}"]`);
      if (slot) slot.textContent = error.msg;
    }
    if (rows.length) renderErrors(rows, payload.details?.error_count ?? rows.length);
    show(payload.detail ?? "The import was refused; nothing was received.", true);
  }

  function body(dryRun) {
    const data = new FormData();
    data.append("file", fileInput.files[0]);
    data.append("warehouse_id", form.elements.warehouse_id.value);
    data.append("dry_run", dryRun ? "true" : "false");
    if (form.elements.create_parts.checked) data.append("create_parts", "true");
    for (const name of ["sheet", "mapping"]) {
      const value = form.elements[name].value.trim();
      if (value) data.append(name, value);
    }
    return data;
  }

  async function start(dryRun) {
    if (busy) return;
    show("", false);
    if (!fileInput.files.length) {
      form.querySelector('[data-error-for="file"]').textContent = "Choose a file.";
      fileInput.focus();
      return;
    }
    setBusy(true);
    progressBox.hidden = false;
    progress.removeAttribute("value");
    progressText.textContent = "Uploading…";
    let response;
    try {
      response = await fetch("/api/v1/documents/imports", {
        method: "POST",
        headers: {
          accept: "application/json",
          "x-csrf-token": csrfToken(),
          "idempotency-key": crypto.randomUUID(),
        },
        credentials: "same-origin",
        body: body(dryRun),
      });
    } catch {
      done();
      show("Network problem: nothing was uploaded. Check the connection and try again.", true);
      return;
    }
    const payload = await response.json().catch(() => ({}));
    if (response.status === 202) {
      follow(payload.url);
      return;
    }
    done();
    if (response.ok) finished(payload);
    else problem(payload);
  }

  function done() {
    setBusy(false);
    progressBox.hidden = true;
  }

  async function follow(url) {
    let state;
    try {
      const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
      state = await response.json();
      if (!response.ok) throw new Error(state.detail ?? "refused");
    } catch {
      progressText.textContent = "Waiting for the server…";
      window.setTimeout(() => follow(url), POLL_MS * 3);
      return;
    }
    const total = state.rows_total ?? 0;
    if (total > 0) {
      progress.max = total;
      progress.value = Math.min(state.rows_done, total);
    } else {
      progress.removeAttribute("value");
    }
    const phase = { queued: "Waiting", reading: "Reading", checking: "Checking", receiving: "Receiving", done: "Done" };
    progressText.textContent = `${phase[state.phase] ?? state.phase}: ${state.rows_done.toLocaleString()}` +
      (total ? ` of ${total.toLocaleString()} rows` : " rows");
    if (state.status === "queued" || state.status === "running") {
      window.setTimeout(() => follow(url), POLL_MS);
      return;
    }
    done();
    if (state.status === "succeeded" && state.report) finished(state.report);
    else if (state.problem) problem(state.problem);
    else show(state.message ?? "The import failed; nothing was received.", true);
  }

  function renderErrors(errors, count) {
    report.hidden = false;
    report.querySelector("[data-errors-title]").textContent = `Row problems: ${count.toLocaleString()}`;
    report.querySelector("[data-errors]").replaceChildren(
      ...errors.map((e) => el("li", `Row ${e.row}, ${e.column}: ${e.message ?? e.msg}`)),
    );
  }

  function finished(data) {
    report.hidden = false;
    report.querySelector("[data-summary]").textContent =
      `Sheet ${data.sheet ?? "(CSV)"}, header on row ${data.header_row ?? "?"}: ` +
      `${data.rows.toLocaleString()} rows, ${data.units.toLocaleString()} units, ` +
      `${data.error_count.toLocaleString()} row problem(s).`;
    report.querySelector("[data-parts-to-create]").textContent = data.parts_to_create.length
      ? `New parts to create: ${data.parts_to_create.join(", ")}`
      : "";
    renderErrors(data.errors, data.error_count);
    report.querySelector("[data-by-part]").replaceChildren(...(data.by_part ?? []).map((part) => {
      const tr = el("tr");
      const isNew = data.parts_to_create.includes(part.part_number);
      tr.append(el("td", part.part_number + (isNew ? " (new part)" : "")), el("td", part.lots.toLocaleString()), el("td", part.units.toLocaleString()));
      for (const cell of [...tr.children].slice(1)) cell.className = "num";
      return tr;
    }));
    report.querySelector("[data-preview]").replaceChildren(...data.preview.map((row) => {
      const tr = el("tr");
      for (const value of [row.row, row.part_number, row.location, row.qty, row.pcn, row.date_code, row.supplier, row.received_at?.slice(0, 10)]) {
        tr.append(el("td", value ?? ""));
      }
      return tr;
    }));
    if (data.document) {
      show(`Received ${data.rows.toLocaleString()} rows as ${data.document.number}. Opening it…`, false);
      window.location.assign(`/documents/${data.document.id}`);
      return;
    }
    const ok = data.error_count === 0 && data.rows > 0;
    commitButton.disabled = !ok;
    show(ok ? "Checked: no problems. Receive the stock when ready." : "Fix the rows listed, then check again.", !ok);
  }

  checkButton.addEventListener("click", () => start(true));
  commitButton.addEventListener("click", () => start(false));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start(true);
  });
}

setup();
