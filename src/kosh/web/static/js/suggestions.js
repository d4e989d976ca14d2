// Suggested purchases: the ticked rows become the `part_ids` of the "create draft POs"
// request (a JSON list in a hidden field, which forms.js sends as JSON).

for (const form of document.querySelectorAll("form[data-suggestions]")) {
  const chosen = form.querySelector("[data-chosen-parts]");
  const boxes = [...form.querySelectorAll("[data-part-choice]")];
  const sync = () => {
    chosen.value = JSON.stringify(boxes.filter((b) => b.checked).map((b) => Number(b.dataset.partChoice)));
  };
  for (const box of boxes) box.addEventListener("change", sync);
  sync();
}
