// One-line forms for APIs that take `lines: [...]`: inside a form, a hidden
// `<input name="lines" data-type="json" data-json-line>` is kept equal to
// `[{<data-line field>: value, ...}]` as the visible fields marked `data-line="<field>"`
// change (those have no name, so forms.js sends only the packed list).

function pack(form, target) {
  const line = {};
  for (const field of form.querySelectorAll("[data-line]")) {
    if (field.value === "") continue;
    line[field.dataset.line] =
      field.dataset.type === "int" || field.type === "number"
        ? (/^\d+$/.test(field.value) ? Number(field.value) : field.value)
        : field.value;
  }
  target.value = JSON.stringify([line]);
}

for (const target of document.querySelectorAll("input[data-json-line]")) {
  const form = target.form;
  if (!form) continue;
  form.addEventListener("input", () => pack(form, target));
  form.addEventListener("change", () => pack(form, target));
  pack(form, target);
}
