// `<table data-sortable>`: each column heading becomes a button that sorts the rows on this
// page, ascending then descending, and says so (`aria-sort`). Cells may carry the value to
// sort by in `data-value`; headings marked `data-sort="number"` compare numerically.
// Headings that already link to a whole-list order (`a.sort`, kosh.web.sorting) are left alone.

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function cellValue(row, index) {
  const cell = row.cells[index];
  return cell ? (cell.dataset.value ?? cell.textContent.trim()) : "";
}

function sortBy(table, th, index) {
  const descending = th.getAttribute("aria-sort") === "ascending";
  const numeric = th.dataset.sort === "number";
  const body = table.tBodies[0];
  const rows = [...body.rows];
  rows.sort((a, b) => {
    const x = cellValue(a, index);
    const y = cellValue(b, index);
    const order = numeric ? Number(x) - Number(y) : collator.compare(x, y);
    return descending ? -order : order;
  });
  body.append(...rows);
  for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", descending ? "descending" : "ascending");
}

for (const table of document.querySelectorAll("table[data-sortable]")) {
  if (!table.tHead || !table.tBodies[0]) continue;
  [...table.tHead.rows[0].cells].forEach((th, index) => {
    if (th.querySelector("a.sort")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.append(...th.childNodes);
    th.append(button);
    button.addEventListener("click", () => sortBy(table, th, index));
  });
}
