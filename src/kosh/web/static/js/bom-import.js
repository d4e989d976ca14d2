// BOM import: upload the file (dry run first), follow the background import with a
// progress bar, show the recognised columns (changeable), the preview with problem rows
// marked and the problem list, then import for real with the same choices.

const POLL_MS = 400;
const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

const form = document.querySelector("[data-bom-import]");
const preview = document.querySelector("[data-preview]");

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function setup() {
  if (!form || !preview) return;
  const fileInput = form.querySelector("#file");
  const checkButton = form.querySelector("[data-check]");
  const commitButton = form.querySelector("[data-commit]");
  const progressBox = form.querySelector("[data-progress]");
  const progress = progressBox.querySelector("progress");
  const progressText = form.querySelector("[data-progress-text]");
  const result = form.querySelector("[data-result]");
  const sheetBox = form.querySelector("[data-sheet-choice]");
  const sheetSelect = form.querySelector("#sheet");
  const headerBox = form.querySelector("[data-header-choice]");
  const headerInput = form.querySelector("#header_row");
  const mapSelects = [...preview.querySelectorAll("[data-map-field]")];
  let mapping = {};
  let busy = false;

  fileInput.addEventListener("change", () => {
    // A new file: forget the choices made for the previous one.
    mapping = {};
    sheetSelect.replaceChildren();
    sheetBox.hidden = true;
    headerInput.value = "";
    headerBox.hidden = true;
    preview.hidden = true;
    commitButton.disabled = true;
  });
  for (const select of mapSelects) {
    select.addEventListener("change", () => {
      mapping[select.dataset.mapField] = select.value === "" ? null : select.value;
      commitButton.disabled = true;
      showResult("Column changed: check the file again.", false);
    });
  }
  sheetSelect.addEventListener("change", () => {
    mapping = {};
    headerInput.value = "";
    commitButton.disabled = true;
  });

  function showResult(message, isError) {
    result.textContent = message;
    result.classList.toggle("error", Boolean(isError));
  }

  function clearErrors() {
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    showResult("", false);
  }

  function placeErrors(problem) {
    for (const error of problem.errors ?? []) {
      const loc = (error.loc ?? []).filter((part) => typeof part === "string");
      const slot = form.querySelector(`[data-error-for="${CSS.escape(loc[loc.length - 1] ?? "")}"]`);
      if (slot) slot.textContent = error.msg;
    }
    showResult(problem.detail ?? "The upload was refused.", true);
  }

  function setBusy(value) {
    busy = value;
    checkButton.disabled = value;
    if (value) commitButton.disabled = true;
  }

  function body(dryRun) {
    const data = new FormData();
    data.append("file", fileInput.files[0]);
    data.append("dry_run", dryRun ? "true" : "false");
    for (const name of ["assembly_part_number", "revision"]) {
      const value = form.elements[name].value.trim();
      if (value) data.append(name, value);
    }
    if (form.elements.create_missing_parts.checked) data.append("create_missing_parts", "true");
    if (!sheetBox.hidden && sheetSelect.value) data.append("sheet", sheetSelect.value);
    if (!headerBox.hidden && headerInput.value) data.append("header_row", headerInput.value);
    if (Object.keys(mapping).length) data.append("mapping", JSON.stringify(mapping));
    return data;
  }

  async function start(dryRun) {
    if (busy) return;
    clearErrors();
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
      response = await fetch("/api/v1/boms/imports", {
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
      setBusy(false);
      progressBox.hidden = true;
      showResult("Network problem: nothing was uploaded. Check the connection and try again.", true);
      return;
    }
    const payload = await response.json().catch(() => ({}));
    if (response.status !== 202) {
      setBusy(false);
      progressBox.hidden = true;
      placeErrors(payload);
      return;
    }
    follow(payload.id, dryRun);
  }

  async function follow(id, dryRun) {
    let state;
    try {
      const response = await fetch(`/api/v1/boms/imports/${id}`, {
        headers: { accept: "application/json" },
        credentials: "same-origin",
      });
      state = await response.json();
      if (!response.ok) throw new Error(state.detail ?? "refused");
    } catch (error) {
      window.setTimeout(() => follow(id, dryRun), POLL_MS * 3);
      progressText.textContent = "Waiting for the server…";
      return;
    }
    updateProgress(state);
    if (state.status === "queued" || state.status === "running") {
      window.setTimeout(() => follow(id, dryRun), POLL_MS);
      return;
    }
    setBusy(false);
    if (state.preview) renderPreview(state);
    if (state.status === "failed") {
      showResult(state.message ?? "The import failed.", true);
      return;
    }
    if (!dryRun && state.bom_id) {
      showResult(`Imported ${state.lines_count} lines. Opening the BOM…`, false);
      window.location.assign(`/boms/${state.bom_id}`);
      return;
    }
    const ok = state.error_count === 0;
    commitButton.disabled = !ok;
    showResult(
      ok
        ? `Checked: ${state.lines_count} lines, ${state.warning_count} warning(s), no errors. Import when ready.`
        : `${state.error_count} error(s) to fix before importing (see the marked rows).`,
      !ok,
    );
  }

  function updateProgress(state) {
    const total = state.rows_total ?? 0;
    if (total > 0) {
      progress.max = total;
      progress.value = Math.min(state.rows_done, total);
    } else {
      progress.removeAttribute("value");
    }
    const phase = { queued: "Waiting", waiting: "Waiting for another import", reading: "Reading", checking: "Checking", saving: "Saving", done: "Done" };
    if (state.phase === "waiting" && state.message) {
      progressText.textContent = state.message; // how many imports are ahead of this one
      return;
    }
    progressText.textContent = `${phase[state.phase] ?? state.phase}: ${state.rows_done.toLocaleString()}` +
      (total ? ` of ${total.toLocaleString()} rows` : " rows");
  }

  function renderPreview(state) {
    const data = state.preview;
    preview.hidden = false;
    // Sheets
    if (data.sheets?.length) {
      sheetBox.hidden = false;
      sheetSelect.replaceChildren(...data.sheets.map((name) => {
        const option = el("option", { value: name }, name);
        option.selected = name === data.sheet;
        return option;
      }));
    }
    headerBox.hidden = false;
    if (data.header_row) headerInput.value = data.header_row;
    // Mapping
    for (const select of mapSelects) {
      const field = select.dataset.mapField;
      const chosen = data.mapping?.[field] ?? null;
      const options = [el("option", { value: "" }, "(not used)")];
      for (const column of data.columns ?? []) {
        const option = el("option", { value: column.letter }, `${column.letter}: ${column.header || "(no header)"}`);
        option.selected = chosen !== null && (chosen === column.header || chosen === column.letter);
        options.push(option);
      }
      select.replaceChildren(...options);
      if (chosen === null) select.value = "";
    }
    // Summary
    const counts = data.counts ?? {};
    preview.querySelector("[data-summary]").textContent =
      `Sheet ${data.sheet ?? "(CSV)"}, header on row ${data.header_row ?? "?"}: ` +
      `${counts.rows_read ?? 0} rows read, ${counts.lines ?? 0} lines, ${counts.rows_merged ?? 0} merged, ` +
      `${counts.rows_skipped ?? 0} skipped, ${counts.rows_blank ?? 0} blank` +
      (counts.parts_to_create ? `, ${counts.parts_to_create} new parts to create` : "") + ".";
    // Rows
    const fields = Object.keys(data.mapping ?? {}).filter((f) => data.mapping[f] !== null);
    const table = preview.querySelector("[data-preview-rows]");
    const head = el("thead");
    const headRow = el("tr");
    headRow.append(el("th", {}, "Row"), ...fields.map((f) => el("th", {}, data.mapping[f])), el("th", {}, "Problems"));
    head.append(headRow);
    const tbody = el("tbody");
    for (const row of data.rows ?? []) {
      const tr = el("tr", { class: `row-${row.status}${row.skipped ? " row-skipped" : ""}`, "data-row": row.row });
      tr.append(el("td", { class: "num" }, row.row));
      for (const f of fields) tr.append(el("td", {}, row.values?.[f] ?? ""));
      tr.append(el("td", { class: "messages" }, (row.messages ?? []).join(" · ")));
      tbody.append(tr);
    }
    table.replaceChildren(head, tbody);
    // Problems
    const list = preview.querySelector("[data-problems]");
    list.replaceChildren(...(state.errors ?? []).slice(0, 200).map((p) =>
      el("li", { class: `problem-${p.severity}` },
        `${p.row ? `Row ${p.row}` : "File"}${p.column ? `, ${p.column}` : ""}: ${p.message}`)));
    preview.querySelector("[data-problems-title]").textContent =
      `Problems: ${state.error_count} error(s), ${state.warning_count} warning(s)`;
    preview.querySelector("[data-errors-csv]").href = state.errors_csv;
  }

  checkButton.addEventListener("click", () => start(true));
  commitButton.addEventListener("click", () => start(false));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start(true);
  });
}

setup();
