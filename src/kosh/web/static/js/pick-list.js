// A job's pick list: after a confirmed scan the line shows what is still to pick (and
// from which PCN and bin), and the focus goes where the next scan belongs: the same line
// while it lacks something, else the next open line's scan field. The result is announced
// by the form's aria-live region (kosh forms.js).

const numberFormat = new Intl.NumberFormat("en-US");

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function showLine(item, line) {
  item.querySelector("[data-outstanding]").textContent = numberFormat.format(line.outstanding);
  item.querySelector("[data-short]")?.remove();
  const rows = item.querySelector("[data-suggestions]");
  if (rows) {
    rows.replaceChildren(
      ...line.suggestions.map((s) => {
        const tr = document.createElement("tr");
        const pcn = document.createElement("code");
        pcn.textContent = s.pcn;
        const first = document.createElement("td");
        first.append(pcn);
        tr.append(first, cell(s.location_code), cell(numberFormat.format(s.qty), "num"));
        return tr;
      }),
    );
  }
}

function nextOpenField(after) {
  const items = [...document.querySelectorAll("[data-pick-line]")];
  const start = items.indexOf(after);
  const ordered = [...items.slice(start + 1), ...items.slice(0, start)];
  for (const item of ordered) {
    const field = item.querySelector("form[data-pick-scan] input[name=scanned]:not([disabled])");
    if (field) return field;
  }
  return null;
}

function moveTo(field) {
  field.focus({ preventScroll: true });
  const box = field.getBoundingClientRect();
  if (box.bottom > window.innerHeight || box.top < 0) field.scrollIntoView({ block: "nearest" });
}

for (const form of document.querySelectorAll("form[data-pick-scan]")) {
  const item = form.closest("[data-pick-line]");
  const scanned = form.querySelector("input[name=scanned]");
  const reason = form.querySelector("input[name=reason]");
  form.addEventListener("kosh:success", (event) => {
    const line = event.detail.line;
    showLine(item, line);
    scanned.value = "";
    if (reason) reason.value = "";
    if (line.outstanding > 0) {
      // after forms.js has shown and revealed the result
      window.setTimeout(() => moveTo(scanned), 0);
      return;
    }
    item.classList.add("pick-done");
    scanned.disabled = true;
    if (reason) reason.disabled = true;
    form.querySelector("button[type=submit]").hidden = true;
    window.setTimeout(() => {
      const next = nextOpenField(item);
      if (next) {
        moveTo(next);
        return;
      }
      const done = document.querySelector("[data-all-done]");
      if (done) {
        done.hidden = false;
        done.focus({ preventScroll: true });
        done.scrollIntoView({ block: "nearest" });
      }
    }, 0);
  });
  form.addEventListener("kosh:error", () => {
    // a refused scan is scanned again at once (the not_fifo offer takes the focus itself)
    window.setTimeout(() => {
      const offer = form.querySelector("[data-offer-on]");
      if (offer && !offer.hidden && document.activeElement === reason) return;
      scanned.select();
      scanned.focus({ preventScroll: true });
    }, 0);
  });
}
